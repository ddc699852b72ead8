"""Filters page: what AlexNet's first layer learns, what it sees in an image, and why its features separate classes."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from alexnet_explorer import inspection, processes
from alexnet_explorer.data import data_root_from_env
from alexnet_explorer.history import learned_nothing
from alexnet_explorer.inspection import FilterHistory
from alexnet_explorer.pipelines import PIPELINES, Pipeline
from alexnet_explorer.runs import CheckpointError, RunDir, list_runs, runs_root
from app_pages.sections.conv1_filters import DeadFilters, evolution_section, filters_section
from app_pages.sections.feature_maps import (
    STORY,
    feature_maps_section,
    handcrafted_section,
    model_input,
)
from app_pages.sections.layer_responses import STORY as LAYER_STORY
from app_pages.sections.layer_responses import layer_responses_section
from app_pages.sections.separability import ladder_section, separability_section
from app_pages.sections.what_units_want import what_units_want_section
from app_pages.widgets import loaders
from app_pages.widgets.guard import guarded, plain_message
from app_pages.widgets.run_picker import run_picker, status_badge
from app_pages.widgets.session import keep_for_session

FOLLOW_SECONDS = 2  # how often the page looks for a new epoch of a run still training
# The page's choices, kept for the session while another page is shown (the picture tabs keep their own).
KEPT = ("filters_change", "filters_shared", "filters_order", "maps_layer", "responses_layer", "sep_methods", "sep_count")


@st.fragment(run_every=FOLLOW_SECONDS)
def follow_training(run: RunDir, seen: tuple[str, list[int]]) -> None:
    """While the run trains, redraw the whole page when it saves another epoch's filters or ends."""
    if (processes.refresh_status(run).get("state", "failed"), run.filter_epochs()) != seen:
        st.rerun()


def pipeline_of(run: RunDir) -> Pipeline | None:
    """The hand-made pipeline a run fitted, or None for a network's run (or a configuration that cannot be read)."""
    try:
        return PIPELINES.get(run.read_config().network)
    except (OSError, ValueError):
        return None


def load_network(run: RunDir, status: dict) -> loaders.TrainedNetwork:
    """The run's trained network; CheckpointError says, in the page's words, why there is none."""
    if not run.has_checkpoint():
        raise CheckpointError(inspection.missing_network(run.title, status))
    try:
        return loaders.trained_network(run)
    except CheckpointError as error:
        raise CheckpointError(f"The checkpoint cannot be used: {error}") from error


@guarded
def page() -> None:
    """The whole page; each section also guards itself, so one failure leaves the others working."""
    st.title("Filters and features")
    st.caption("What the network's first layer learns (AlexNet's 96 filters, or LeNet's 6), what it sees in an "
               "image, and why its features separate the classes.")
    data_source = data_root_from_env()
    keep_for_session(KEPT)
    with st.sidebar:  # keeps the main area for the figures, on one projector screen
        opening = run_picker(list_runs(), key="filters_run")
    run = opening.run if opening else None
    dead = None  # a random start has no dead filters to mark; a run's network may
    network, problem = None, "Feature maps and projections need a trained network: train a run first."
    nothing = learned_nothing(run) if run is not None else None
    if run is None:
        st.info("No training run yet, so these are the filters of a **randomly initialised** network (seed 0): "
                "pure noise. Train one on the **Train** page, or from a terminal:\n\n"
                f"`python -m alexnet_explorer train --preset classroom --run-dir {Path(runs_root()) / 'classroom'}`",
                icon=":material/info:")
        history, name = FilterHistory({0: loaders.random_filters()}), "random-init"
    else:
        st.markdown(f"Run **{run.title}**, {opening.why} — choose another in the sidebar.")
        if nothing:
            st.info(nothing, icon=":material/trending_flat:")
        name = run.name
        status = processes.refresh_status(run)
        state = status.get("state", "failed")
        with st.sidebar:
            status_badge(state)
            if state == "failed":
                st.caption(f"It failed: {status.get('error') or 'no reason was recorded'}")
            try:
                st.caption(run.read_config().summary())
            except ValueError as error:
                st.caption(str(error))
            if state in processes.ACTIVE_STATES:
                st.caption("Still training: the page is redrawn after each epoch.")
                follow_training(run, (state, run.filter_epochs()))
        pipeline = pipeline_of(run)
        if pipeline is not None:
            kernel = (" (for a kernel SVM, on how alike a picture is to landmark training pictures, picked at "
                      "random)") if pipeline.kernel else ""
            st.info(f"**{pipeline.title}** is a hand-made pipeline, as before 2012: its features are computed by a "
                    f"fixed recipe, not learned, and only the linear classifier on top of them is fitted{kernel}. It "
                    "has no filters, feature maps or units to look at here: choose a network's run in the sidebar. On "
                    "**Classify** it answers drawings like a network; the **Scoreboard** compares it with them.",
                    icon=":material/construction:")
            return
        history = loaders.filter_history(run)
        for unread in history.unreadable:
            st.warning(f"{unread.what} of epoch {unread.epoch:g} skipped: {plain_message(unread.error)}",
                       icon=":material/warning:")
        try:
            network = load_network(run, status)
        except CheckpointError as error:
            problem = str(error)
        else:
            found = loaders.dead_filters(network, data_source)
            dead = DeadFilters(found, network.classifier.epoch) if found is not None else None
        if not history.snapshots:
            st.warning(f"Run `{name}` has no readable filter snapshots yet; showing a random initialisation.",
                       icon=":material/warning:")
            history = FilterHistory({0: loaders.random_filters()})  # frames without their run's start would mislead
    show_added = bool(st.session_state.get("filters_change"))

    filters_tab, evolution_tab, maps_tab, handmade_tab, units_tab, separable_tab = st.tabs(
        ["First-layer filters", "Evolution", "Feature maps", "Hand-crafted vs learned", "What units respond to",
         "Separable features"])
    with filters_tab:
        filters_section(history, name, show_added, learned=nothing is None, dead=dead)
    with evolution_tab:
        evolution_section(history, show_added, learned=nothing is None, dead=dead)
    with maps_tab:
        x = None
        if network is None:
            st.warning(problem, icon=":material/warning:")
        else:
            x = model_input(network.classifier.config, data_source)
            if x is not None:
                feature_maps_section(network.classifier.net, network.classifier.config, x, name,
                                     dead=len(dead.indices) if dead else 0)
    with handmade_tab:
        if network is None:
            st.markdown(STORY)
            st.warning(problem, icon=":material/warning:")
        elif x is None:
            st.info("Choose an image in the Feature maps tab.", icon=":material/image:")
        else:
            handcrafted_section(network.classifier, x, history.start, show_added)
    with units_tab:
        if network is None:
            st.markdown(LAYER_STORY)
            st.warning(problem, icon=":material/warning:")
        else:
            layer_responses_section(run, network, data_source)
            what_units_want_section(run, network, data_source)
    with separable_tab:
        if network is None:
            st.warning(problem, icon=":material/warning:")
        else:
            separability_section(network, data_source)
            ladder_section(network, data_source)


page()
