"""Plotly figures, by topic: training curves (d2l's Animator) first."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from .data import CHANCE_ACC, CHANCE_LOSS
from .events import TRACES, Curves
from .evaluation import row_shares
from .exports import DIVERGING, SEQUENTIAL
from .inspection import activation_grid, filter_grid, filter_norms, map_gap

# --- training curves ------------------------------------------------------------------------------------------

# The three lines of d2l's Animator in train_ch6 (events.TRACES), with its colours and line styles (b-, m--, g-.).
TRACE_STYLES = {
    "train loss": {"color": "#1f77b4", "dash": "solid"},
    "train acc": {"color": "#c837ab", "dash": "dash"},
    "test acc": {"color": "#2ca02c", "dash": "dashdot"},
}
RUN_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
LOSS_TOP = 2.5  # the loss axis starts at 0…2.5 (chance is 2.30) and grows only if a loss goes above
TOOLBAR_ROOM = 56  # pixels above the panels: the toolbar's 22 and the titles' line
CURVES_NOTE = ("Train loss and train acc: the mean over each fifth of an epoch; test acc: after each epoch. Dotted: "
               f"chance, what guessing scores — loss ln 10 ≈ {CHANCE_LOSS:.2f}, accuracy {CHANCE_ACC:.2f}.")
def _curves_layout(curves: list[Curves], epochs: int, height: int) -> go.Figure:
    """Loss (left) and accuracy (right) panels with their axes fixed from the start, and a dotted chance line in
    each: an empty chart already says what will appear."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"), horizontal_spacing=0.1)
    losses = [y for run in curves for y in run["train loss"][1] if math.isfinite(y)]
    figure.update_xaxes(title="epoch", range=[0, epochs])
    figure.update_yaxes(title="cross-entropy loss", range=[0, max([LOSS_TOP, *losses]) * 1.02], row=1, col=1)
    figure.update_yaxes(title="accuracy", range=[0, 1.02], row=1, col=2)
    for value, col in ((CHANCE_LOSS, 1), (CHANCE_ACC, 2)):
        figure.add_hline(y=value, line={"dash": "dot", "color": "#6b7280", "width": 1.5}, row=1, col=col,
                         annotation={"text": "chance", "font": {"color": "#6b7280"}},
                         annotation_position="top right", exclude_empty_subplots=False)
    # The top margin leaves the panels' titles below Plotly's toolbar, which shows over the chart's top right corner.
    figure.update_layout(margin={"l": 10, "r": 10, "t": TOOLBAR_ROOM, "b": 10}, height=height,
                         legend={"orientation": "h", "y": -0.2}, uirevision="keep")  # keeps zoom across updates
    return figure


def training_figure(curves: Curves, epochs: int) -> go.Figure:
    """One run's curves, loss and accuracy in panels of their own, x from 0 to ``epochs``."""
    figure = _curves_layout([curves], epochs, height=380)
    for name in TRACES:
        xs, ys = curves[name]
        # Plotly leaves a trace without points out of the legend; one empty point keeps "test acc" listed
        # during the first epoch, so that the class knows which line is still to come.
        figure.add_scatter(x=xs or [None], y=ys or [None], name=name, mode="lines+markers", line=TRACE_STYLES[name],
                           marker={"size": 5}, row=1, col=1 if name == "train loss" else 2)
    return figure


def comparison_figure(runs: dict[str, Curves], epochs: int) -> go.Figure:
    """Several runs' curves in the two panels: one colour per run, the Animator's line style per trace."""
    figure = _curves_layout(list(runs.values()), epochs, height=460)
    for i, (label, curves) in enumerate(runs.items()):
        color = RUN_COLORS[i % len(RUN_COLORS)]
        for name in TRACES:
            xs, ys = curves[name]
            figure.add_scatter(x=xs, y=ys, name=f"{label}: {name}", legendgroup=label, mode="lines+markers",
                               line={"color": color, "dash": TRACE_STYLES[name]["dash"]}, marker={"size": 4},
                               row=1, col=1 if name == "train loss" else 2)
    return figure


# --- filters and features (the Filters page) ------------------------------------------------------------------

CLASS_COLORS = qualitative.D3  # ten distinct colours, one per Fashion-MNIST class
COLORBAR_PX = 70  # room the colour bar and its labels take beside a tile grid
GREYED = "rgba(110, 110, 110, 0.9)"  # over a dead filter's tile: its random start is not something it learned


def _image_axes(figure: go.Figure, height: int) -> go.Figure:
    """Square pixels, no axes, first row on top, the image pushed to the top left of its box."""
    figure.update_xaxes(visible=False, constrain="domain", constraintoward="left")
    figure.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain",
                        constraintoward="top")
    figure.update_layout(height=height, margin={"l": 0, "r": 0, "t": 30, "b": 0}, plot_bgcolor="white")
    return figure


def _unit(array: np.ndarray) -> np.ndarray:
    """Scale by the largest magnitude into [-1, 1] (zeros stay zeros)."""
    peak = np.abs(array).max()
    return array / peak if peak > 0 else array


def _colours(diverging: bool) -> dict:
    """Heatmap colour settings: filters diverge around zero in [-1, 1], activations run from 0 to 1."""
    if diverging:
        return {"colorscale": DIVERGING, "zmin": -1, "zmax": 1, "zmid": 0,
                "colorbar": {"thickness": 12, "tickvals": [-1, 0, 1], "ticktext": ["−max", "0", "+max"]}}
    return {"colorscale": SEQUENTIAL, "zmin": 0, "zmax": 1,
            "colorbar": {"thickness": 12, "tickvals": [0, 1], "ticktext": ["0", "max"]}}


def tile_grid_figure(grid: np.ndarray, kernel: int, ids: Sequence[int], values: Sequence[float] | None = None, *,
                     id_label: str = "filter", value_label: str = "norm", diverging: bool = True,
                     columns: int = 12, gap: int = 1, selected: int | None = None, max_width: int = 720,
                     max_pixel: float = 8, labels: Sequence[str] | None = None,
                     greyed: Sequence[int] = ()) -> go.Figure:
    """A ``filter_grid`` image in crisp pixels, ``selected`` outlined and the tiles at positions ``greyed`` covered
    in grey; hover names a tile, a click selects it. ``labels`` are written under the tiles, in the gaps (which must be
    a few pixels high for them)."""
    ids = list(ids)
    step = kernel + gap
    rows, cols = np.divmod(np.arange(len(ids)), columns)
    if labels is not None:  # room under the last row too
        grid = np.vstack([grid, np.full((gap, grid.shape[1]), np.nan)])
    template = f"{id_label} %{{customdata[0]:d}}"
    if values is not None:
        template += f"<br>{value_label} %{{customdata[1]:.3f}}"
    figure = go.Figure(go.Heatmap(z=grid.astype(np.float32), zsmooth=False, hoverinfo="skip", **_colours(diverging)))
    # Plotly cannot select a heatmap cell by clicking, but it can select a marker: an invisible one at each tile's
    # centre (trace 1, point index = tile position) carries the hover text, and a click selects the nearest one.
    invisible = {"marker": {"opacity": 0}}
    figure.add_scatter(x=cols * step + (kernel - 1) / 2, y=rows * step + (kernel - 1) / 2, mode="markers",
                       customdata=np.column_stack([ids, values if values is not None else np.zeros(len(ids))]),
                       hovertemplate=template + "<extra></extra>", showlegend=False, marker={"opacity": 0},
                       selected=invisible, unselected=invisible)
    figure.update_layout(hovermode="closest", hoverdistance=-1)
    for row, col, label in zip(rows, cols, labels or []):
        figure.add_annotation(x=col * step + (kernel - 1) / 2, y=row * step + kernel - 0.5 + gap / 2, text=label,
                              showarrow=False, font={"size": 11})
    for position in greyed:
        top, left = (position // columns) * step, (position % columns) * step
        figure.add_shape(type="rect", x0=left - 0.5, x1=left + kernel - 0.5, y0=top - 0.5, y1=top + kernel - 0.5,
                         fillcolor=GREYED, line={"width": 0}, layer="above")
    if selected is not None:
        top, left = (selected // columns) * step, (selected % columns) * step
        figure.add_shape(type="rect", x0=left - 1, x1=left + kernel, y0=top - 1, y1=top + kernel,
                         line={"color": "black", "width": 3})
    # A fixed size that fits the grid's aspect (shown with width="content"), so no blank band is left around it.
    pixel = min(max_pixel, max_width / grid.shape[1])
    figure.update_layout(width=round(grid.shape[1] * pixel) + COLORBAR_PX)
    return _image_axes(figure, height=round(grid.shape[0] * pixel) + 30)


def _filter_pixel(kernel: int) -> float:
    """Screen pixels per weight: 8 for AlexNet's 11×11 filters, more for smaller ones (LeNet's 5×5 would be specks),
    so that every tile is about 90 pixels wide at most."""
    return max(8.0, 90 / kernel)


def filters_figure(weights: torch.Tensor, normalization: str = "per_filter", selected: int | None = None,
                   order: Sequence[int] | None = None, dead: Sequence[int] = ()) -> go.Figure:
    """conv1's filters as one grid in ``order`` (as numbered without one), diverging colours centred on zero, the
    ``dead`` ones greyed; hover gives a filter's index and norm."""
    order = list(order) if order is not None else list(range(len(weights)))
    return tile_grid_figure(filter_grid(weights[order], normalization), weights.shape[-1], order,
                            filter_norms(weights)[order], selected=order.index(selected) if selected in order else None,
                            greyed=[order.index(index) for index in dead], max_pixel=_filter_pixel(weights.shape[-1]))


def filter_figure(weights: torch.Tensor, index: int, normalization: str = "per_filter") -> go.Figure:
    """One filter enlarged; its colours use the grid's scale, its hover the raw weights."""
    kernel = weights[index, 0].detach().double().numpy()
    scale = np.abs(kernel if normalization == "per_filter" else weights.detach().double().numpy()).max()
    figure = go.Figure(go.Heatmap(z=kernel / scale if scale > 0 else kernel, customdata=kernel, zsmooth=False,
                                  hovertemplate="row %{y}, column %{x}<br>weight %{customdata:.4f}<extra></extra>",
                                  **_colours(diverging=True)))
    figure.update_traces(showscale=False)
    figure.update_layout(title={"text": f"filter {index}", "x": 0.5, "xanchor": "center"})
    return _image_axes(figure, height=320)


def filter_history_figure(snapshots: dict[int, torch.Tensor], index: int, normalization: str = "per_filter",
                          epoch: int | None = None, columns: int = 8, max_width: int = 560) -> go.Figure:
    """One filter at every saved epoch in reading order, each tile labelled with its epoch, ``epoch`` outlined
    ("shared": one scale for all)."""
    epochs = sorted(snapshots)
    stack = torch.stack([snapshots[e][index] for e in epochs])
    columns, gap = min(columns, len(epochs)), 3  # gaps high enough for the labels
    return tile_grid_figure(filter_grid(stack, normalization, columns=columns, gap=gap), stack.shape[-1], epochs,
                            filter_norms(stack), id_label="epoch", columns=columns, gap=gap, max_width=max_width,
                            selected=epochs.index(epoch) if epoch in epochs else None,
                            labels=[f"epoch {e:g}" for e in epochs])


def filter_evolution_figure(snapshots: dict[float, torch.Tensor], normalization: str = "per_filter",
                            frame_ms: int = 500, dead: Sequence[int] = ()) -> go.Figure:
    """The filter grid animated over the saved (possibly fractional) epochs, with a play button and an epoch slider;
    the ``dead`` filters greyed in every frame."""
    epochs = sorted(snapshots)
    first = snapshots[epochs[0]]
    figure = tile_grid_figure(filter_grid(first, normalization), first.shape[-1], range(len(first)), greyed=dead,
                              max_pixel=_filter_pixel(first.shape[-1]))
    figure.frames = [go.Frame(name=f"{e:g}", traces=[0],
                              data=[go.Heatmap(z=filter_grid(snapshots[e], normalization).astype(np.float32))])
                     for e in epochs]
    still = {"mode": "immediate", "frame": {"duration": 0, "redraw": True}, "transition": {"duration": 0}}
    figure.update_layout(
        height=figure.layout.height + 90,
        margin={"b": 80},
        updatemenus=[{"type": "buttons", "direction": "left", "x": 0, "y": -0.02, "xanchor": "left", "yanchor": "top",
                      "buttons": [
                          {"label": "▶ Play", "method": "animate",
                           "args": [None, {"frame": {"duration": frame_ms, "redraw": True}, "fromcurrent": True,
                                           "transition": {"duration": 0}}]},
                          {"label": "❚❚ Pause", "method": "animate", "args": [[None], still]}]}],
        sliders=[{"active": 0, "x": 0.2, "len": 0.8, "y": -0.02, "yanchor": "top",
                  "currentvalue": {"prefix": "epoch "},
                  "steps": [{"label": "0 (random init)" if e == 0 else f"{round(e, 2):g}", "method": "animate",
                             "args": [[f"{e:g}"], still]} for e in epochs]}],
    )
    return figure


def filter_changes_figure(changes: list[tuple[int, float]]) -> go.Figure:
    """Bars of how much conv1 moved in each epoch, relative to its size before that epoch."""
    epochs, values = zip(*changes) if changes else ((), ())
    figure = go.Figure(go.Bar(x=list(epochs), y=[100 * v for v in values], marker_color="#4c72b0",
                              hovertemplate="epoch %{x}: changed by %{y:.1f}%<extra></extra>"))
    figure.update_xaxes(title="epoch", dtick=1)
    figure.update_yaxes(title="change of conv1 (%)", rangemode="tozero")
    figure.update_layout(height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return figure


def feature_maps_figure(maps: torch.Tensor, channels: list[int], normalization: str = "per_filter",
                        max_width: int = 600) -> go.Figure:
    """The chosen channels' activation maps in order; hover gives the channel and its mean activation."""
    means = maps[channels].flatten(1).mean(dim=1).tolist()
    return tile_grid_figure(activation_grid(maps, channels, normalization), maps.shape[-1], channels, means,
                            id_label="channel", value_label="mean activation", diverging=False,
                            gap=map_gap(maps.shape[-1]), max_width=max_width)


def image_figure(image: np.ndarray, title: str = "", height: int = 280) -> go.Figure:
    """A grayscale image in [0, 1] with crisp pixels."""
    figure = go.Figure(go.Heatmap(z=np.asarray(image, dtype=np.float32), colorscale="gray", zmin=0, zmax=1,
                                  showscale=False, zsmooth=False, hovertemplate="%{z:.2f}<extra></extra>"))
    figure.update_layout(title={"text": title, "x": 0.5, "xanchor": "center", "font": {"size": 14}})
    return _image_axes(figure, height)


def _square_panels(figure: go.Figure, panels: int) -> None:
    """Subplots as pictures: square pixels, no axes, first row on top."""
    for n in range(1, panels + 1):
        suffix = "" if n == 1 else str(n)
        figure.layout[f"yaxis{suffix}"].update(scaleanchor=f"x{suffix}", autorange="reversed", visible=False)
        figure.layout[f"xaxis{suffix}"].update(visible=False, constrain="domain")


def kernels_and_responses_figure(kernels: dict[str, np.ndarray], responses: dict[str, np.ndarray],
                                 tile_px: int = 88) -> go.Figure:
    """Top row each kernel, below it its response to an image; each scaled by its own largest magnitude."""
    names = list(kernels)
    figure = make_subplots(rows=2, cols=len(names), subplot_titles=names, vertical_spacing=0.04,
                           horizontal_spacing=0.01)
    for col, name in enumerate(names, start=1):
        for row, array in ((1, kernels[name]), (2, responses[name])):
            figure.add_heatmap(z=_unit(np.asarray(array, dtype=np.float64)), coloraxis="coloraxis", zsmooth=False,
                               row=row, col=col, hovertemplate="%{z:.2f}<extra></extra>")
    _square_panels(figure, 2 * len(names))
    colours = _colours(diverging=True)
    figure.update_layout(coloraxis={"colorscale": colours["colorscale"], "cmin": -1, "cmax": 1, "cmid": 0,
                                    "colorbar": colours["colorbar"]},
                         width=tile_px * len(names) + COLORBAR_PX, height=2 * tile_px + 40,
                         margin={"l": 0, "r": 0, "t": 30, "b": 0}, plot_bgcolor="white")
    figure.update_annotations(font={"size": 12})
    return figure


def projections_figure(embeddings: dict[str, np.ndarray], labels: np.ndarray, class_names: Sequence[str],
                       columns: int = 2) -> go.Figure:
    """One scatter panel per titled N×2 embedding, points coloured by class, one shared legend of class names."""
    titles = list(embeddings)
    rows = -(-len(titles) // columns)
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=titles, horizontal_spacing=0.05,
                           vertical_spacing=0.08)
    for k, title in enumerate(titles):
        points = embeddings[title]
        for label, name in enumerate(class_names):
            chosen = points[labels == label]
            figure.add_scatter(x=chosen[:, 0], y=chosen[:, 1], mode="markers", name=name, legendgroup=name,
                               showlegend=k == 0, marker={"size": 4, "color": CLASS_COLORS[label % len(CLASS_COLORS)]},
                               hovertemplate=f"{name}<extra></extra>", row=k // columns + 1, col=k % columns + 1)
    figure.update_xaxes(showticklabels=False)
    figure.update_yaxes(showticklabels=False)
    figure.update_layout(height=380 * rows, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         legend={"itemsizing": "constant"})
    return figure


# --- classification (the Classify page) ---------------------------------------------------------------------

PREDICTED_COLOR = "#c2410c"  # the app theme's primary colour
OTHER_COLOR = "#9ca3af"
# Transparent where the map is zero, so the garment shows through; opaque yellow where it peaks.
HEAT_SCALE = [[0.0, "rgba(255, 0, 0, 0)"], [0.25, "rgba(255, 40, 0, 0.35)"], [0.6, "rgba(255, 140, 0, 0.7)"],
              [1.0, "rgba(255, 255, 0, 0.9)"]]


def probabilities_figure(probabilities: Sequence[float], class_names: Sequence[str],
                         true_label: int | None = None) -> go.Figure:
    """Horizontal bars of every class's probability in class order, the top one coloured, the true one named."""
    percent = (100 * np.asarray(probabilities, dtype=np.float64)).tolist()
    top = int(np.argmax(percent))
    names = [f"{name} (true)" if i == true_label else name for i, name in enumerate(class_names)]
    figure = go.Figure(go.Bar(
        x=percent, y=names, orientation="h", text=[f"{p:.1f}%" for p in percent], textposition="outside",
        marker_color=[PREDICTED_COLOR if i == top else OTHER_COLOR for i in range(len(names))],
        hovertemplate="%{y}: %{x:.2f}%<extra></extra>", cliponaxis=False))
    figure.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=names)
    figure.update_xaxes(title="probability (%)", range=[0, 112], dtick=25)
    figure.update_layout(height=340, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return figure


def _overlay(image28: np.ndarray, heat: np.ndarray | None, what: str = "importance") -> list[go.Heatmap]:
    """A uint8 picture, dimmed, under a [0, 1] heat map (red to yellow) that is transparent where the map is zero."""
    # Dimmed so that the white garment does not wash out the map's colours.
    traces = [go.Heatmap(z=np.asarray(image28, dtype=np.float32) / 255, colorscale="gray", zmin=0,
                         zmax=1 if heat is None else 1.6, showscale=False, zsmooth=False, hoverinfo="skip")]
    if heat is not None:
        traces.append(go.Heatmap(z=np.asarray(heat, dtype=np.float32), colorscale=HEAT_SCALE, zmin=0, zmax=1,
                                 zsmooth=False, showscale=False,
                                 hovertemplate=f"row %{{y}}, column %{{x}}<br>{what} %{{z:.2f}}<extra></extra>"))
    return traces


def saliency_figure(image28: np.ndarray, heat: np.ndarray, height: int = 300) -> go.Figure:
    """A uint8 picture, dimmed, under a [0, 1] heat map (red to yellow) that is transparent where the map is zero."""
    return _image_axes(go.Figure(_overlay(image28, heat)), height)


def top_images_figure(images28: Sequence[np.ndarray], heats: Sequence[np.ndarray] | None, titles: Sequence[str],
                      columns: int = 3, tile_px: int = 150) -> go.Figure:
    """Pictures in a grid, each titled and, with ``heats``, under its own heat map (where a unit responds)."""
    rows = -(-len(images28) // columns)
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=list(titles), vertical_spacing=0.06,
                           horizontal_spacing=0.02)
    for k, image in enumerate(images28):
        for trace in _overlay(image, None if heats is None else heats[k], "response"):
            figure.add_trace(trace, row=k // columns + 1, col=k % columns + 1)
    _square_panels(figure, rows * columns)
    figure.update_layout(width=tile_px * columns, height=(tile_px + 30) * rows, plot_bgcolor="white",
                         margin={"l": 0, "r": 0, "t": 30, "b": 0})
    figure.update_annotations(font={"size": 12})
    return figure


# --- where the network errs (the Classify page) --------------------------------------------------------------

def _share_text(share: float, count: int) -> str:
    """A cell's share of its row as written in it: empty for none, '<1%' for a few."""
    percent = f"{share:.0%}"
    return "" if not count else "<1%" if percent == "0%" else percent  # 5 of 1,000 rounds to 0 %, as 4 does


def confusion_figure(confusion: np.ndarray, class_names: Sequence[str], selected: tuple[int, int] | None = None,
                     title: str = "", height: int = 520) -> go.Figure:
    """A confusion matrix, rows the true classes and columns the answers, coloured and labelled by the share of each
    row; hover gives the count, a click selects a cell (an invisible marker at each cell's centre, as in
    tile_grid_figure)."""
    counts = np.asarray(confusion)
    totals, shares = counts.sum(axis=1), row_shares(counts)
    n = len(class_names)
    figure = go.Figure(go.Heatmap(z=shares, x=list(range(n)), y=list(range(n)), zmin=0, zmax=1, colorscale="Blues",
                                  text=[[_share_text(share, count) for share, count in zip(row, counts_row)]
                                        for row, counts_row in zip(shares, counts)],
                                  texttemplate="%{text}", hoverinfo="skip", xgap=1, ygap=1, showscale=False))
    rows, cols = np.divmod(np.arange(n * n), n)
    names = np.asarray(class_names, dtype=object)
    invisible = {"marker": {"opacity": 0}}
    figure.add_scatter(x=cols, y=rows, mode="markers", showlegend=False, marker={"opacity": 0, "size": 30},
                       selected=invisible, unselected=invisible,
                       customdata=np.column_stack([names[rows], names[cols], counts.ravel(), totals[rows]]),
                       hovertemplate="%{customdata[0]} answered %{customdata[1]}:<br>%{customdata[2]} of "
                                     "%{customdata[3]}<extra></extra>")
    if selected is not None:
        true, answered = selected
        figure.add_shape(type="rect", x0=answered - 0.5, x1=answered + 0.5, y0=true - 0.5, y1=true + 0.5,
                         line={"color": PREDICTED_COLOR, "width": 3})
    axis = {"tickmode": "array", "tickvals": list(range(n)), "ticktext": list(class_names), "showgrid": False,
            "zeroline": False,
            "constrain": "domain"}
    figure.update_xaxes(title="the network's answer", side="bottom", tickangle=-40, **axis)
    figure.update_yaxes(title="what the picture is", autorange="reversed", scaleanchor="x", **axis)  # square cells
    figure.update_layout(title={"text": title, "x": 0, "font": {"size": 14}}, height=height, hovermode="closest",
                         hoverdistance=-1, margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
                         plot_bgcolor="white")
    return figure


# --- scoreboard ----------------------------------------------------------------------------------------------------

HANDMADE_COLOR, LEARNED_COLOR, SUBSET_COLOR = "#ff7f0e", "#1f77b4", "#c7c7c7"


LABEL_ROW = 16  # pixels between the scoreboard's reference labels, one above the other


def scoreboard_figure(runs: Sequence[str], accuracies: Sequence[float], handmade: Sequence[bool],
                      full_test: Sequence[bool], references: Sequence[tuple[str, float]]) -> go.Figure:
    """Horizontal bars of each run's test accuracy, best at the top: hand-made pipelines orange, networks blue, runs
    measured on fewer than all test images grey; the published figures as labelled vertical lines."""
    colours = [SUBSET_COLOR if not full else HANDMADE_COLOR if hand else LEARNED_COLOR
               for hand, full in zip(handmade, full_test)]
    percent = [100 * a for a in accuracies]
    figure = go.Figure(go.Bar(x=percent, y=list(runs), orientation="h", marker_color=colours,
                              text=[f"{p:.1f}%" for p in percent], textposition="inside", insidetextanchor="end",
                              hovertemplate="%{y}: %{x:.2f}%<extra></extra>"))
    # The lines' labels above the bars, each at a height of its own: however narrow the screen and however wide the
    # axis (a run at chance stretches it), no label covers another.
    for number, (label, accuracy) in enumerate(sorted(references, key=lambda reference: reference[1])):
        figure.add_vline(x=100 * accuracy, line_dash="dot", line_color="#555555",
                         annotation={"text": f"{label} {100 * accuracy:.1f}%", "yshift": LABEL_ROW * number,
                                     "font_size": 11}, annotation_position="top")
    low = min([*percent, *(100 * a for _, a in references)], default=80)
    figure.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=list(runs))
    figure.update_xaxes(title="test accuracy (%)", range=[max(0.0, math.floor(low / 5) * 5 - 5), 100])
    top = 28 + LABEL_ROW * len(references)
    figure.update_layout(height=max(260, 46 + top + 34 * len(runs)), margin={"l": 10, "r": 10, "t": top, "b": 10})
    return figure


def ladder_figure(accuracies: dict[str, float], handmade: Sequence[str]) -> go.Figure:
    """The linear probe's accuracy rung by rung, left to right: the hand-made features orange, the layers blue."""
    names, percent = list(accuracies), [100 * a for a in accuracies.values()]
    figure = go.Figure(go.Bar(x=names, y=percent, text=[f"{p:.1f}%" for p in percent], textposition="outside",
                              marker_color=[HANDMADE_COLOR if name in handmade else LEARNED_COLOR for name in names],
                              hovertemplate="%{x}: %{y:.1f}%<extra></extra>", cliponaxis=False))
    low = min(percent, default=50)
    figure.update_yaxes(title="linear probe accuracy (%)", range=[max(0.0, math.floor(low / 10) * 10 - 10), 100])
    figure.update_layout(height=320, margin={"l": 10, "r": 10, "t": 24, "b": 10})
    return figure
