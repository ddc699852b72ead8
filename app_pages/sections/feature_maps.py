"""What the network sees in one picture: the picture's choice, its feature maps, and hand-crafted vs learned filters."""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch
from torch import nn

from alexnet_explorer import exports, handcrafted, inspection, plots
from alexnet_explorer.activations import peak_scaled
from alexnet_explorer.config import RunConfig, display_names
from alexnet_explorer.data import to_model_input
from alexnet_explorer.classifier import Classifier
from alexnet_explorer.model import ACTIVATIONS, NETWORKS, conv_layers, layer_units
from alexnet_explorer.prediction import MEANINGFUL_GRID
from alexnet_explorer.preprocess import to_tensor
from app_pages.widgets import picture_tabs
from app_pages.widgets.figures import PLOTLY_CONFIG, PLOTLY_CONFIG_NO_TOOLBAR
from app_pages.widgets.guard import guarded
from app_pages.widgets.pictures import PICK, RANDOM, UPLOAD, PictureSources
from app_pages.widgets.session import choices_kept

STORY = (
    "Before 2012, vision systems used features **designed by hand** — edge and orientation detectors such as "
    "Sobel and Gabor filters, pooled into descriptors like SIFT or HOG — and learned only a linear classifier "
    "on top. AlexNet **learned its features** from the data, and its first layer rediscovered much the same "
    "thing: edge, stripe and blob detectors."
)

OVERLAID = 12  # a deep layer's strongest maps laid over the picture
PICTURE_TABS = PictureSources("maps", {PICK: "Test image", RANDOM: "Random test image", UPLOAD: "Upload"},
                              download=True)


def choose_image(data_source: str | None) -> np.ndarray | None:
    """A 28×28 uint8 image from the open tab: a test image by class and index, a random one, or an upload."""
    choice = picture_tabs.choose_picture(PICTURE_TABS, data_source)
    if choice.problem:
        choice.area.warning(choice.problem, icon=":material/warning:")  # as Classify says it
    if choice.picture is None:
        return None
    for note in choice.picture.prepared.notes if choice.picture.prepared else []:
        choice.area.caption(note)
    return choice.picture.image28


def model_input(config: RunConfig, data_source: str | None) -> torch.Tensor | None:
    """The chosen image as the network sees it (1×1×S×S), or None until there is one."""
    image28 = choose_image(data_source)
    if image28 is None:
        return None
    return to_model_input(to_tensor(image28), config.resize)


@guarded
def feature_maps_section(net: nn.Sequential, config: RunConfig, x: torch.Tensor, name: str,
                         dead: int = 0) -> None:
    """The input as the network sees it and its activation maps at a chosen layer, strongest first; ``dead``: how
    many of conv1's filters no test image excites."""
    left, right = st.columns([1, 3])
    with left:
        layer = st.selectbox("Layer", choices_kept(conv_layers(net), "maps_layer"), key="maps_layer")
        maps = inspection.feature_maps(net, x, layer)
        channels, height, width = maps.shape
        st.caption(f"{layer}: {channels} channels of {height}×{width} at input {config.resize}")
        st.plotly_chart(plots.image_figure(x[0, 0].numpy(), "the input", height=220), key="maps_input")
        st.caption(f"What the network sees: the image resized to {config.resize}×{config.resize}.")
        coarse = height < MEANINGFUL_GRID  # dots as tiles: drawn over the picture instead
        shown = channels if channels <= 96 or coarse else st.slider("Strongest channels shown", 12, channels, 48,
                                                                    step=12, key=f"maps_shown_{layer}")
    order = inspection.strongest_first(maps)[:shown]
    with right:
        if coarse:
            maps_over_the_picture(maps, order, x, layer)
        else:
            st.plotly_chart(plots.feature_maps_figure(maps, order), key="maps_grid", width="content",
                            config=PLOTLY_CONFIG)
            st.caption(f"The {shown} {'strongest ' if shown < channels else ''}activation maps after the "
                       f"{display_names(ACTIVATIONS)[config.activation]}, strongest "
                       "(highest mean) first, each scaled to its own maximum; dark tiles are filters this image does "
                       f"not excite{dead_maps(dead) if layer == 'conv1' else ''}. Hover a map for its channel.")
        st.download_button("Download the maps as PNG",
                           exports.grid_png(inspection.activation_grid(maps, order), exports.SEQUENTIAL, 0.0, 1.0),
                           file_name=f"{name}-{layer}-maps.png", mime="image/png", icon=":material/download:")


def dead_maps(dead: int) -> str:
    """What the dark conv1 maps owe to dead filters, when the network has some."""
    if not dead:
        return ""
    if dead == 1:
        return " — one of them is conv1's dead filter, dark on every test image (greyed under *First-layer filters*)"
    return f" — {dead} of them are conv1's dead filters, dark on every test image (greyed under *First-layer filters*)"


def maps_over_the_picture(maps: torch.Tensor, order: list[int], x: torch.Tensor, layer: str) -> None:
    """A deep layer's coarse maps, the strongest few, enlarged over the picture the network sees."""
    overlaid, (height, width), side = order[:OVERLAID], maps.shape[-2:], x.shape[-1]
    picture = x[0, 0].numpy() * 255
    st.plotly_chart(plots.top_images_figure([picture] * len(overlaid), peak_scaled(maps[overlaid], side),
                                            [f"channel {channel}" for channel in overlaid], columns=6, tile_px=110),
                    key="maps_over", width="content", config=PLOTLY_CONFIG_NO_TOOLBAR)
    st.caption(f"At {layer} a map is only {height}×{width} cells for the {side}-pixel input, each cell seeing a large "
               f"part of the garment: as tiles they would be a grid of dots. Here the {len(overlaid)} strongest "
               "channels are laid over the picture, enlarged: red to yellow where each responds, to parts rather "
               "than strokes. Which pictures and parts a channel responds to most, over the whole test set: the tab "
               "**What units respond to**.")


@guarded
def handcrafted_section(classifier: Classifier, x: torch.Tensor, start: torch.Tensor | None, show_added: bool) -> None:
    """The same image through hand-made kernels and HOG, beside the learned filters it excites most."""
    net = classifier.net
    st.markdown(STORY)
    handmade = handcrafted.handmade_responses(x)
    st.markdown("**Designed by hand**: Sobel and Prewitt edge detectors and Gabor filters at four orientations")
    st.plotly_chart(plots.kernels_and_responses_figure(handmade.kernels, handmade.responses), key="handmade",
                    width="content", config=PLOTLY_CONFIG)
    picture, hog, words = st.columns([1, 1, 2], vertical_alignment="center")
    picture.plotly_chart(plots.image_figure(x[0, 0].numpy(), "the image", height=200), key="hog_input")
    hog.plotly_chart(plots.image_figure(handcrafted.hog_picture(x), "its HOG", height=200), key="hog")
    cells = handcrafted.HOG_CELLS
    words.markdown(f"**HOG** (histograms of oriented gradients) draws, for each of {cells}×{cells} cells, "
                   "how strong the edges of each direction are. A linear classifier on such descriptors was the "
                   "state of the art before AlexNet.")
    added = start is not None and show_added
    learned = "what training added to the conv1 filters" if added else "conv1 filters"
    st.markdown(f"**Learned by {NETWORKS[classifier.config.network].title}**: {learned}, at first the ones that "
                "respond most to this image")
    # No key: a new image resets the choice to its own strongest filters.
    top = st.multiselect("Learned filters shown", range(layer_units(net, "conv1")),
                         max_selections=handcrafted.LEARNED_SHOWN, default=handcrafted.strongest_learned(net, x),
                         help="Pick filters you spotted in the grid, e.g. ones that look like edges.")
    if not top:
        return
    learned = handcrafted.learned_responses(net, x, top, start if added else None)
    st.plotly_chart(plots.kernels_and_responses_figure(learned.kernels, learned.responses), key="learned",
                    width="content", config=PLOTLY_CONFIG)
    if added:
        st.caption("Top: what training added to each filter (its weights minus their random start); below: that "
                   "kernel's response to the image, computed as for the hand-made kernels. Switch **What training "
                   "added** off (First-layer filters tab) to see the network's own filters and maps.")
    else:
        st.caption("Top: the kernel (red positive, blue negative); below: its response to the image, each scaled to "
                   "its own largest value. After the activation the learned maps have no negative part; a conv1 that "
                   "moves several pixels at a time (AlexNet's stride 4) makes them smaller than the picture.")
