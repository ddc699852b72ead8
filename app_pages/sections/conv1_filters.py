"""The conv1 filters: the grid at a chosen epoch with one filter enlarged, and their evolution over training."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
import torch
from streamlit.delta_generator import DeltaGenerator

from alexnet_explorer import exports, inspection, plots
from alexnet_explorer.inspection import FilterHistory
from app_pages.widgets.figures import PLOTLY_CONFIG
from app_pages.widgets.guard import guarded


@dataclass(frozen=True)
class DeadFilters:
    """conv1's filters that no test image excites in the run's network after ``epoch``."""

    indices: list[int]
    epoch: int

    def caption(self, count: int) -> str:
        """One line under a grid: which tiles are grey, and why."""
        if not self.indices:
            return f" All {count} filters fire on some test image (the network after epoch {self.epoch})."
        if len(self.indices) == 1:
            return (f" Grey: the one dead filter of the network after epoch {self.epoch}. ReLU turns its output to 0 "
                    "on every test image, so it gets no gradient: it stopped learning, and keeps what it was when it "
                    "died.")
        return (f" Grey: the {len(self.indices)} dead filters of the network after epoch {self.epoch}. ReLU turns "
                "their output to 0 on every test image, so they get no gradient: they stopped learning, and keep what "
                "they were when they died.")


def pick_tile() -> None:
    """Clicking a tile of the grid selects the filter shown there (the tile's marker index is its place in the
    grid's order)."""
    indices = st.session_state.filter_grid.selection.point_indices
    if indices:
        st.session_state.filter_index = st.session_state.filter_grid_order[indices[0]]


def choose_epoch(column: DeltaGenerator, epochs: list[int], key: str) -> int:
    """A slider over the saved epochs that starts at the newest and keeps to the newest as a run still training
    adds epochs, unless an earlier one was chosen."""
    if len(epochs) == 1:
        return epochs[0]
    newest = f"{key}_newest"
    if st.session_state.get(key) not in epochs or st.session_state.get(key) == st.session_state.get(newest):
        st.session_state[key] = epochs[-1]
    st.session_state[newest] = epochs[-1]
    return column.select_slider("Epoch", epochs, key=key, format_func=lambda e: "0 (random init)" if e == 0 else str(e))


def suggest_what_training_added(snapshots: dict[int, torch.Tensor], epoch: int) -> None:
    """Point to the 'What training added' view while the random start still dominates the weights."""
    moved = inspection.relative_change(snapshots[0], snapshots[epoch])
    if moved < inspection.NOISE_HIDES_BELOW:
        st.info(f"By epoch {epoch} the filters moved only {moved:.1%} away from their random start, so the start's "
                "noise still hides what they learned. Switch on **What training added** to see it.",
                icon=":material/lightbulb:")


def scale_of(shown: inspection.FilterView, learned: bool, shared: bool) -> str:
    """The grid's colour scale: the toggle's, except that what training added to a network that learned nothing is
    drawn on one shared scale (each tile on its own would blow a trace of noise up into edges and blobs)."""
    return "shared" if shared or (shown.added and not learned) else "per_filter"


@guarded
def filters_section(history: FilterHistory, name: str, show_added: bool, learned: bool = True,
                    dead: DeadFilters | None = None) -> None:
    """The conv1 grid at a chosen epoch, one filter enlarged, and the PNG export; ``learned``: whether the network
    learned anything (not at chance); ``dead``: the filters to grey."""
    controls = st.columns([3, 2, 2, 2], vertical_alignment="bottom")
    # The page reads this toggle's state once and hands it to every section as show_added.
    controls[2].toggle(
        "What training added", key="filters_change", disabled=history.start is None,
        help="Each filter minus its random start (epoch 0), less the one amount by which training shifted all of "
             "its weights (which would paint the tile in one colour): the pattern training put in.")
    shown = inspection.filter_view(history.snapshots, show_added)  # the toggle may be on from another run
    view = "-change" if shown.added else ""
    epochs = sorted(shown.filters)
    epoch = choose_epoch(controls[0], epochs, key=f"filters_epoch_{name}{view}")
    normalization = scale_of(shown, learned, controls[1].toggle(
        "Shared scale", key="filters_shared",
        help="One colour scale for all the filters. Off: each filter uses its own range, to show its pattern. On: "
             "one range for all, to show which filters are strong."))
    weights = shown.filters[epoch]
    count, kernel = weights.shape[0], weights.shape[-1]
    st.session_state.filter_index = min(st.session_state.get("filter_index", 0), count - 1)
    dead_ones = dead.indices if dead else []
    order = inspection.filter_order(weights, controls[3].selectbox(
        "Order", list(inspection.FILTER_ORDERS), format_func=inspection.FILTER_ORDERS.get, key="filters_order",
        help="Put filters of one family together: edges of one angle, or blobs and wide stripes before fine ones "
             "(dead filters last)."), dead_ones)
    st.session_state.filter_grid_order = order
    st.plotly_chart(plots.filters_figure(weights, normalization, st.session_state.filter_index, order, dead_ones),
                    key="filter_grid", on_select=pick_tile, selection_mode="points", width="content",
                    config=PLOTLY_CONFIG)
    if shown.added:
        moved = inspection.relative_change(history.snapshots[0], history.snapshots[epoch])
        what = (f"What training added to the {count} filters of {kernel}×{kernel} pixels by epoch {epoch} (less "
                f"the shift of each filter's weights as a whole): a change {moved:.1%} the size of their random "
                "start" + ("; on one shared colour scale, as this network learned nothing" if not learned else ""))
    else:
        what = f"{count} filters of {kernel}×{kernel} pixels " + (f"after epoch {epoch}" if epoch else
                                                                 "at random initialisation")
    st.caption(f"{what}. Red: positive, blue: negative. Hover a tile for its norm; click it to enlarge it."
               + (dead.caption(count) if dead else ""))
    if history.start is not None and not shown.added and epoch and learned:
        suggest_what_training_added(history.snapshots, epoch)
    st.download_button("Download the grid as PNG", exports.grid_png(inspection.filter_grid(weights, normalization)),
                       file_name=f"{name}-conv1{view}-epoch{epoch:03d}.png", mime="image/png",
                       icon=":material/download:")

    big, past = st.columns([1, 2])
    index = big.number_input("Filter", min_value=0, max_value=count - 1, key="filter_index")
    big.plotly_chart(plots.filter_figure(weights, index, normalization), key="filter_big")
    strength = inspection.filter_strength(weights, index)
    big.caption(f"{'norm of its change' if shown.added else 'norm'} {strength.norm:.3f} "
                f"(rank {strength.rank} of {strength.count})"
                + ("; dead: no test image excites it" if index in dead_ones else ""))
    if len(epochs) > 1:
        past.plotly_chart(plots.filter_history_figure(shown.filters, index, normalization, epoch),
                          key="filter_history", width="content")
        past.caption(f"Filter {index} at every saved epoch, in reading order"
                     f"{'' if shown.added else ' (epoch 0: random init)'}.")


@guarded
def evolution_section(history: FilterHistory, show_added: bool, learned: bool = True,
                      dead: DeadFilters | None = None) -> None:
    """The grid animated over the saved epochs and the frames within them (``dead`` filters greyed), and how much it
    changed per epoch."""
    if len(history.timeline) < 2:
        st.info("Only the random initialisation is saved so far: the evolution appears as the run trains.",
                icon=":material/hourglass_top:")
        return
    shown = inspection.filter_view(history.timeline, show_added)
    if len(shown.filters) > 1:
        normalization = scale_of(shown, learned, st.session_state.get("filters_shared", False))
        st.plotly_chart(plots.filter_evolution_figure(shown.filters, normalization, dead=dead.indices if dead else ()),
                        key="filter_evolution", width="content", config=PLOTLY_CONFIG)
        watch = "what training added grow" if shown.added else "structure emerge from the random noise of epoch 0"
        steps = (", in steps of a fraction of an epoch (one at each point of the training curves)"
                 if history.frames else "")
        count = len(next(iter(shown.filters.values())))
        st.caption(f"Press ▶ Play to watch {watch}{steps}." + (dead.caption(count) if dead else ""))
    if len(history.snapshots) > 1:
        st.markdown("**How much the filters changed in each epoch**")
        st.plotly_chart(plots.filter_changes_figure(inspection.filter_changes(history.snapshots)),
                        key="filter_changes")
        st.caption("‖W after the epoch − W before‖ / ‖W before‖ for all of conv1.")
