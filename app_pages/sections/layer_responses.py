"""What each layer responds to: the test images that excite a chosen unit most, where in each image, and (guided
backpropagation) what in each made it fire."""
from __future__ import annotations

import random

import numpy as np
import streamlit as st

from alexnet_explorer import plots, top_images
from alexnet_explorer.data import CLASSES, FashionMNIST
from alexnet_explorer.history import duration, forward_seconds
from alexnet_explorer.model import conv_layers, inspectable_layers, layer_units
from alexnet_explorer.runs import RunDir, list_runs
from app_pages.widgets import loaders, test_images
from app_pages.widgets.figures import PLOTLY_CONFIG_NO_TOOLBAR
from app_pages.widgets.guard import guarded
from app_pages.widgets.progress import time_left_bar
from app_pages.widgets.session import choices_kept

STORY = ("Which test images excite one unit of the network most? Units of the low layers respond to edges and "
         "strokes wherever they are; units of the high layers to sleeves, soles, handles — and in the dense layers "
         "(AlexNet's fc6 and fc7, LeNet's fc3 and fc4) to whole classes.")


def pick_random_unit(layer: str, units: int) -> None:
    """Choose a unit of the layer at random (a button's callback, before the number input is drawn)."""
    st.session_state[f"responses_unit_{layer}"] = random.randrange(units)


def rank_with_progress(run: RunDir, network: loaders.TrainedNetwork, data: FashionMNIST) -> None:
    """Rank every test image for every unit and keep the ranking, under a progress bar that says how long is left."""
    classifier = network.classifier
    with time_left_bar(lambda done, total: f"Ranking the test images for every unit: {done:,} of {total:,}") as report:
        top_images.ranking_for(run, classifier.net, classifier.size, classifier.epoch, classifier.batch,
                               data.test_images, report)


@guarded
def layer_responses_section(run: RunDir, network: loaders.TrainedNetwork, data_source: str | None) -> None:
    """A layer and unit, and the nine test images that excite it most with where it responds in each."""
    st.markdown(STORY)
    data = test_images.load_test_set(data_source, download=True)
    if data is None:
        return
    classifier = network.classifier
    left, middle, right = st.columns([2, 2, 1], vertical_alignment="bottom")
    layer = left.selectbox("Layer", choices_kept(inspectable_layers(classifier.net), "responses_layer"),
                           key="responses_layer")
    units = layer_units(classifier.net, layer)
    kind = "channel" if layer in conv_layers(classifier.net) else "unit"
    right.button("Another at random", icon=":material/casino:", key="responses_random", on_click=pick_random_unit,
                 args=(layer, units))
    unit = middle.number_input(f"{kind.capitalize()} (0 to {units - 1})", 0, units - 1, key=f"responses_unit_{layer}")
    ranking = top_images.load_ranking(run.top_images_path(classifier.epoch, classifier.batch),
                                     len(data.test_labels))
    if ranking is None:
        seconds = forward_seconds(classifier.config, len(data.test_labels), list_runs())
        expected = (f"about {duration(max(1.0, seconds))} here, at the speed the last run of this network trained at"
                    if seconds is not None else "a bar says how long is left")
        st.info(f"Finding the test images that excite each unit most takes one pass over all "
                f"{len(data.test_labels):,} test images at {classifier.size} px ({expected}); it is then kept with "
                "the run.", icon=":material/touch_app:")
        if st.button("Rank the test images", type="primary", icon=":material/play_arrow:", key="responses_rank"):
            rank_with_progress(run, network, data)
            st.rerun()  # drawn again from the kept ranking, without the offer to compute it
        return
    chosen = ranking.indices[layer][unit].tolist()
    if not any(ranking.values[layer][unit]):
        st.info(f"No test image excites {layer} {kind} {unit}: its output is 0 for every one (a *dead* unit, which "
                "training switched off). Try another.", icon=":material/block:")
        return
    strengths = ranking.values[layer][unit].tolist()
    images = data.test_images[chosen]
    heats = top_images.unit_maps(classifier.net, images, classifier.size, layer, unit)
    titles = [f"#{i} {CLASSES[int(data.test_labels[i])]} · {value:.2f}" for i, value in zip(chosen, strengths)]
    guided = st.toggle("What made it fire: each image's guided backpropagation beside it", key="responses_guided",
                       help="Zeiler & Fergus (2014) looked inside AlexNet this way: the unit's response traced back "
                            "to the pixels, passing back only what raised it at each layer.")
    top, projected = st.columns(2) if guided else (st.container(), None)
    top.plotly_chart(plots.top_images_figure(images[:, 0].numpy(), heats, titles), key="responses_top",
                     width="content", config=PLOTLY_CONFIG_NO_TOOLBAR)
    if projected is not None:
        projections = top_images.unit_projections(classifier.net, images, classifier.size, layer, unit)
        greys = (127.5 + 127.5 * projections).round().astype(np.uint8)  # mid-grey: no effect
        projected.plotly_chart(plots.top_images_figure(greys, None, titles), key="responses_guided_figure",
                               width="content", config=PLOTLY_CONFIG_NO_TOOLBAR)
        projected.caption(f"Guided backpropagation (Captum) of {layer} {kind} {unit}'s response to each image back "
                          "to its pixels: the strokes, soles or handles it answers to. Light: a brighter pixel there "
                          "would raise the response; dark: lower it; mid-grey: no effect.")
    where = ("Red to yellow: where in each image it responds more than it does to an empty black picture (its map "
             "after the activation, less that of black, scaled to each image's strongest place)." if heats is not None
             else
             f"{layer} has no map: each unit sees the whole image at once.")
    st.caption(f"The {len(chosen)} of the {ranking.images:,} test images that excite {layer} {kind} {unit} most, "
               f"strongest first: test image number, its class, and the {kind}'s response "
               f"({'at its strongest place' if heats is not None else 'its activation'}). {where} Network as saved "
               f"after epoch {classifier.epoch}.")
