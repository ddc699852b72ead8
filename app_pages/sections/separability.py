"""Why the learned features separate the classes: projections of raw pixels and of the last hidden layer (AlexNet's
fc7), and a linear probe on each."""
from __future__ import annotations

import time

import streamlit as st

from alexnet_explorer import inspection, plots
from alexnet_explorer.data import CLASSES
from alexnet_explorer.history import duration
from alexnet_explorer.inspection import PROJECTIONS
from alexnet_explorer.model import inspectable_layers, last_hidden_layer
from app_pages.widgets import loaders
from app_pages.widgets.figures import PLOTLY_CONFIG
from app_pages.widgets.guard import guarded

SAMPLE_SIZES = (250, 500, 1000, 2000, 5000)
QUICK_SECONDS = 0.2  # all steps together, faster than this: no step's time is worth a number


def steps_for(network: loaders.TrainedNetwork, count: int, methods: list[str]) -> list[inspection.SeparabilityStep]:
    """The comparison's steps for this network: raw pixels against its last hidden layer."""
    classifier = network.classifier
    return inspection.separability_steps(count, methods, classifier.size, last_hidden_layer(classifier.net),
                                         classifier.config.network)


def expected_time(steps: list[inspection.SeparabilityStep]) -> str:
    """How long these steps should take here, in words."""
    return duration(max(1.0, sum(step.seconds for step in steps)))


def compute(network: loaders.TrainedNetwork, data_source: str | None, steps: list[inspection.SeparabilityStep],
            count: int) -> tuple[dict[str, float], dict[str, object], dict[str, float]]:
    """Every step in turn under a progress bar: the probes and projections by kind, and the seconds per step."""
    probes, projections, seconds = {}, {}, {}
    expected, done = sum(step.seconds for step in steps) or 1.0, 0.0
    bar = st.progress(0.0)
    for step in steps:
        bar.progress(min(1.0, done / expected), text=f"{step.label} (about {duration(step.seconds)})…")
        # raw pixels do not depend on the network
        checkpoint = () if step.kind == "raw" else (network.path, network.mtime)
        tic = time.perf_counter()
        if step.task == "features":
            loaders.sample_features(data_source, count, step.kind, *checkpoint)
        elif step.task == "probe":
            probes[step.kind] = loaders.probe(data_source, count, step.kind, *checkpoint)
        else:
            projections[f"{step.features} · {PROJECTIONS[step.task].display}"] = loaders.projection(
                data_source, count, step.kind, step.task, *checkpoint)
        seconds[step.label] = time.perf_counter() - tic
        done += step.seconds
    bar.empty()
    return probes, projections, seconds


@guarded
def separability_section(network: loaders.TrainedNetwork, data_source: str | None) -> None:
    """Projections of raw pixels and the last hidden layer's features coloured by class, with a linear probe on each,
    on request."""
    layer = last_hidden_layer(network.classifier.net)
    st.markdown("Do the learned features make the classes easier to tell apart? Project a sample of test images "
                f"to 2-D from their raw pixels and from {layer} (the last hidden layer), and train a linear classifier "
                "(a *linear probe*) on 70% of them, tested on the other 30%.")
    # Defaults set here, not on the widgets: the page keeps their values for the session, and a widget given both
    # warns.
    st.session_state.setdefault("sep_methods", list(PROJECTIONS))
    st.session_state.setdefault("sep_count", 1000)
    left, middle, right = st.columns([2, 2, 1], vertical_alignment="bottom")
    methods = middle.pills("Projections", list(PROJECTIONS), selection_mode="multi",
                           format_func=lambda method: PROJECTIONS[method].display, key="sep_methods")
    count = left.select_slider("Test images", SAMPLE_SIZES, key="sep_count",
                               format_func=lambda n: f"{n:,} (~{expected_time(steps_for(network, n, methods))})",
                               help="The expected time of each size was measured on two CPU cores; t-SNE is the "
                                    "slow part, and grows faster than the number of images.")
    request = (network.path, network.mtime, count, tuple(methods))
    if right.button("Compute", type="primary", icon=":material/play_arrow:", disabled=not methods):
        st.session_state.sep_request = request
    if st.session_state.get("sep_request") != request:
        st.info(f"Press **Compute** (about {expected_time(steps_for(network, count, methods))} here; the results are "
                "kept for this checkpoint).", icon=":material/touch_app:")
        return
    probes, panels, seconds = compute(network, data_source, steps_for(network, count, methods), count)
    raw, learned = probes["raw"], probes["learned"]
    left, right = st.columns(2)
    left.metric("Linear probe on raw pixels", f"{raw:.1%}")
    right.metric(f"Linear probe on {layer} features", f"{learned:.1%}", delta=f"{100 * (learned - raw):+.1f} points")
    if learned <= raw:
        st.caption(f"{layer} does not beat raw pixels yet: this network has not learned much so far. Train it "
                   "longer.")
    labels = loaders.labelled_sample(data_source, count)[1]
    st.plotly_chart(plots.projections_figure(panels, labels, CLASSES), key="projections",
                    config=PLOTLY_CONFIG)
    st.caption(f"{len(labels)} test images. PCA keeps the two directions of largest variance; t-SNE keeps "
               "neighbours together. Click a class in the legend to hide it.")
    if sum(seconds.values()) < QUICK_SECONDS:  # e.g. kept from an earlier Compute: not "computed in 0 s"
        st.caption("Done at once (kept for this checkpoint: asking again is instant).")
        return
    st.caption(f"Computed in {duration(sum(seconds.values()))}: "
               + ", ".join(f"{label} {value:.1f} s" for label, value in seconds.items())
               + " (kept for this checkpoint: asking again is instant).")


HANDMADE_RUNGS = ("raw pixels", "HOG")


@guarded
def ladder_section(network: loaders.TrainedNetwork, data_source: str | None) -> None:
    """The representation ladder: a linear probe on raw pixels, on HOG and on every layer, as one chart."""
    st.subheader("Layer by layer")
    count = st.session_state.get("sep_count", 1000)
    st.markdown("How separable do the classes become on the way up? The same linear probe on the raw pixels, on HOG "
                "(the hand-made features of before 2012) and on every layer of the network, on the same "
                f"{count:,} test images (the number chosen above).")
    request = (network.path, network.mtime, count)
    if st.button("Probe every layer", icon=":material/stacked_bar_chart:", key="ladder_compute"):
        st.session_state.ladder_request = request
    if st.session_state.get("ladder_request") != request:
        st.info("Press **Probe every layer**: a probe per layer, seconds each on a CPU (kept for this checkpoint).",
                icon=":material/touch_app:")
        return
    with st.spinner(f"Probing {len(HANDMADE_RUNGS) + len(inspectable_layers(network.classifier.net))} kinds of "
                    "features…"):
        accuracies = loaders.ladder(data_source, count, network.path, network.mtime)
    st.plotly_chart(plots.ladder_figure(accuracies, HANDMADE_RUNGS), key="ladder", config=PLOTLY_CONFIG)
    best = max(accuracies, key=accuracies.get)
    st.caption(f"Orange: hand-made features; blue: the network's layers (a conv layer's maps averaged down to at most "
               f"{inspection.LADDER_GRID}×{inspection.LADDER_GRID} places first). Each probe trains on 70% of the "
               f"images and is tested on the other 30%, so a few points either way are noise. Most separable here: "
               f"**{best}**, {accuracies[best]:.1%}.")
