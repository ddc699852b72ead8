"""Why the learned features separate the classes: projections of raw pixels and fc7, and a linear probe on each."""
from __future__ import annotations

import streamlit as st

from alexnet_explorer import plots, ui
from alexnet_explorer.data import CLASSES
from alexnet_explorer.inspection import FEATURE_KINDS, PROJECTIONS

SAMPLE_SIZES = (250, 500, 1000, 2000, 5000)


@ui.guarded
def separability_section(network: ui.TrainedNetwork, data_source: str | None) -> None:
    """Projections of raw pixels and fc7 features coloured by class, with a linear probe on each, on request."""
    st.markdown("Do the learned features make the classes easier to tell apart? Project a sample of test images "
                "to 2-D from their raw pixels and from fc7 (the last hidden layer), and train a linear classifier "
                "(a *linear probe*) on 70% of them, tested on the other 30%.")
    left, middle, right = st.columns([2, 2, 1], vertical_alignment="bottom")
    count = left.select_slider("Test images", SAMPLE_SIZES, value=1000, key="sep_count",
                               help="t-SNE is the slow part: all of it takes about 15 s for 1000 images on two CPU "
                                    "cores, and t-SNE grows faster than the number of images.")
    methods = middle.pills("Projections", list(PROJECTIONS), default=list(PROJECTIONS), selection_mode="multi",
                           format_func=lambda method: PROJECTIONS[method].display, key="sep_methods")
    request = (network.path, network.mtime, count, tuple(methods))
    if right.button("Compute", type="primary", icon=":material/play_arrow:", disabled=not methods):
        st.session_state.sep_request = request
    if st.session_state.get("sep_request") != request:
        st.info("Press **Compute** (the results are kept for this checkpoint).", icon=":material/touch_app:")
        return
    results, bar = {}, st.progress(0.0)
    for done, (kind, label) in enumerate(FEATURE_KINDS.items()):
        bar.progress(done / len(FEATURE_KINDS), text=f"Linear probe and projections of {label}…")
        checkpoint = () if kind == "raw" else (network.path, network.mtime)  # raw pixels do not depend on the network
        results[kind] = ui.separability(data_source, count, kind, tuple(methods), *checkpoint)
    bar.empty()
    raw, learned = results["raw"].probe, results["fc7"].probe
    left, right = st.columns(2)
    left.metric("Linear probe on raw pixels", f"{raw:.1%}")
    right.metric("Linear probe on fc7 features", f"{learned:.1%}", delta=f"{100 * (learned - raw):+.1f} points")
    if learned <= raw:
        st.caption("fc7 does not beat raw pixels yet: this network has not learned much so far. Train it longer.")
    labels = ui.labelled_sample(data_source, count)[1]
    panels = {f"{FEATURE_KINDS[kind]} · {PROJECTIONS[method].display}": result.projections[method]
              for kind, result in results.items() for method in methods}
    st.plotly_chart(plots.projections_figure(panels, labels, CLASSES), key="projections",
                    config={"displaylogo": False})
    st.caption(f"{len(labels)} test images. PCA keeps the two directions of largest variance; t-SNE keeps "
               "neighbours together. Click a class in the legend to hide it.")
