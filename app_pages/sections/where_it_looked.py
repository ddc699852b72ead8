"""Where the network looked: saliency, SmoothGrad, integrated gradients, Grad-CAM at a chosen layer or occlusion over
the picture (Captum's, through prediction.py), with a sanity check against a network with random top layers, beside
test images of the class it answered."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st

from alexnet_explorer import exports, pipelines, plots, prediction
from alexnet_explorer.classifier import Classifier
from alexnet_explorer.data import CLASSES, data_root_from_env
from alexnet_explorer.model import layers_top_down
from app_pages.widgets import test_images
from app_pages.widgets.figures import PLOTLY_CONFIG_NO_TOOLBAR
from app_pages.widgets.guard import guarded
from app_pages.widgets.session import choices_kept

EXPLANATIONS = ("Saliency", "SmoothGrad", "Integrated gradients", "Grad-CAM", "Occlusion")
# What the occluding square is painted with: grey, as in the method's paper, or Fashion-MNIST's black background.
COVERS = {"grey": prediction.OCCLUSION_GREY, "black": 0}
EXAMPLES = 5
# What a map that lies mostly on the empty black means, for this network.
OUTLINE_COUNTS = ("Most of this map lies on the empty black around the garment. For this {noun} the black is "
                  "evidence too: it learned from garments centred on black, where the shape of the empty space — "
                  "above a sneaker's low sole, between a pair of trousers' legs — tells one class from another as "
                  "much as the garment's own pixels do.")
GREY_ON_BLACK = ("Most of this map lies on the empty black: there the grey square is a shape of its own, which the "
                 "{noun} reads as part of a garment. Cover with black to hide only parts of the garment.")


def grad_cam_layer_key(model: Classifier) -> str:
    """The Grad-CAM layer widget's key, one per network and input size: it starts at the finest meaningful layer for
    that size. Its value is written back on every run, so that the choice survives runs that do not draw the widget."""
    key = f"classify_cam_layer_{model.config.network}_{model.size}"
    st.session_state[key] = st.session_state.get(key, prediction.default_grad_cam_layer(model))
    return key


def grad_cam_layer(model: Classifier) -> str:
    """The layer Grad-CAM reads, shown with the size of its grid."""
    key = grad_cam_layer_key(model)
    layers = prediction.grad_cam_layers(model)
    sides = {layer: prediction.feature_grid_side(model, layer) for layer in layers}
    return st.selectbox("Grad-CAM's layer", layers, key=key,
                        format_func=lambda layer: f"{layer} ({sides[layer]}×{sides[layer]} cells)",
                        help="Deeper layers see larger parts, on a coarser grid; at a small input size the deep "
                             "layers' grid is too coarse to point at a part of the garment.")


def number(score: float) -> str:
    """A score as a reader takes it in: one decimal for a network's, a whole number with thousands separators for a
    linear classifier's margins (they run into thousands)."""
    return f"{score:,.0f}" if abs(score) >= 100 else f"{score:.1f}"


def score_meaning(model: Classifier, name: str) -> str:
    """For a hand-made pipeline, what its score is (a linear classifier's raw margin, not a network's logit)."""
    if model.config.network not in pipelines.PIPELINES:
        return ""
    return (f" (a raw score of the pipeline's linear classifier, {pipelines.PIPELINES[model.config.network].title}: "
            f"above 0 the picture lies on *{name}*'s side of its boundary against the other classes, and the answer is "
            "the class scored highest; not a probability)")


# A method's map of one class, remade for the sanity check's randomised network.
Explain = Callable[[Classifier, np.ndarray, int], np.ndarray]


def explanation(model: Classifier, image28: np.ndarray, top: int, how: str) -> tuple[np.ndarray, str, Explain]:
    """The chosen map over the picture, in [0, 1], one line on how to read it, and how to make it again."""
    name = CLASSES[top]
    if how == "Saliency":
        return prediction.saliency(model, image28, top), (
            f"Saliency: how much each pixel would sway the score of *{name}* if it were a little brighter or darker "
            "(the size of the gradient). Red to yellow: more sway."), prediction.saliency
    if how == "SmoothGrad":
        return prediction.smooth_grad(model, image28, top), (
            f"SmoothGrad: saliency averaged over {prediction.SMOOTHGRAD_SAMPLES} copies of the picture with a little "
            f"noise added. What stays is the sway on the score of *{name}* that the copies agree on, without the "
            "speckle of a single gradient. Red to yellow: more sway."), prediction.smooth_grad
    if how == "Integrated gradients":
        found = prediction.integrated_gradients(model, image28, top)
        change = f"{number(found.black_score)} → {number(found.score)}{score_meaning(model, name)}"
        text = (f"Integrated gradients: what each pixel added to the score of *{name}* on the way from an all-black "
                f"picture to this one; all the pixels' shares add up to the score's change, {change}. Black pixels "
                "add nothing (black is where the way starts). Red to yellow: more added.")
        return found.heat, text, lambda m, image, target: prediction.integrated_gradients(m, image, target).heat
    if how == "Grad-CAM":
        layer = grad_cam_layer(model)
        side = prediction.feature_grid_side(model, layer)
        coarse = (f"; coarse, because {layer} sees the {model.size}-pixel input as only {side}×{side} cells"
                  if side < prediction.MEANINGFUL_GRID else "")
        return prediction.grad_cam(model, image28, top, layer), (
            f"Grad-CAM: the parts of {layer}'s {side}×{side} grid of features that raised the score of *{name}*"
            f"{coarse}. Red to yellow: more."), lambda m, image, target: prediction.grad_cam(m, image, target, layer)
    cover = st.radio("Cover with", list(COVERS), horizontal=True, key="classify_cover",
                     help="Grey, as in the method's paper; on Fashion-MNIST's black background a grey square is a "
                          "shape of its own. Black erases that part of the garment.")
    hidden = prediction.occlusion(model, image28, top, fill=COVERS[cover])

    def remake(m: Classifier, image: np.ndarray, target: int) -> np.ndarray:
        return prediction.occlusion(m, image, target, fill=COVERS[cover]).heat

    square = f"{cover} {hidden.patch}×{hidden.patch}-pixel square"
    if hidden.changes_nothing:
        return hidden.heat, (
            f"Occlusion: no {square} changes the answer. Wherever it covers the picture, the probability of "
            f"*{name}* ({hidden.probability:.0%}) falls by less than one percentage point, so nothing is marked: no "
            "part of the picture alone carries the answer."), remake
    return hidden.heat, (
        f"Occlusion: a {square} slid over the picture; red to yellow where covering that part lowers the probability "
        f"of *{name}* ({hidden.probability:.0%}) most — by up to {100 * hidden.largest_drop:.0f} percentage points. "
        "It only asks the network for answers, so it works at any size."), remake


def sanity_sentence(check: prediction.SanityCheck, how: str, noun: str = "network") -> str:
    """What the two maps' likeness says about the map, with the number."""
    layers = (f"its top {len(check.randomised)} layers ({', '.join(check.randomised)})" if len(check.randomised) > 1
              else f"its top layer ({check.randomised[0]})")
    if np.isnan(check.correlation):
        return (f"With random weights in {layers} the {how} map is empty, unlike the trained {noun}'s: this map "
                f"depends on what the {noun} learned.")
    said = f"Rank correlation between the two maps: **{check.correlation:.2f}**"
    if check.alike:
        return (f"{said}. With random weights in {layers}, a {noun} that has learned nothing there, the {how} map "
                f"looks much the same: it shows the picture's own edges and shape more than what the {noun} "
                "learned. Read it with care.")
    if check.unalike:
        return (f"{said}. With random weights in {layers} the {how} map changes: it depends on what the {noun} "
                f"learned, as an explanation of the {noun} should.")
    return (f"{said}. With random weights in {layers} the {how} map is partly alike: some of it comes from the picture "
            f"itself, some from what the {noun} learned.")


@guarded
def show_sanity_check(model: Classifier, image28: np.ndarray, top: int, how: str, heat: np.ndarray,
                      remake: Explain) -> None:
    """Adebayo et al.'s sanity check: the same map from the network with its top layers randomised."""
    top_down = layers_top_down(model.net)
    if st.session_state.get("classify_sanity_layers", 1) > len(top_down):  # set on a deeper network
        del st.session_state["classify_sanity_layers"]
    layers = 1 if len(top_down) == 1 else st.slider(
                       "Layers given random weights, from the top", 1, len(top_down), key="classify_sanity_layers",
                       help=f"The layers are replaced from {top_down[0]} down by random weights of the same spread: "
                            "a network that has learned nothing in them. A map that stays the same does not show "
                            "what the network learned.")
    check = prediction.sanity_check(model, image28, top, heat, remake, layers)
    randomised, sentence = st.columns([2, 3], gap="large")
    randomised.plotly_chart(plots.saliency_figure(image28, check.heat, height=240), key="classify_sanity_map",
                            config=PLOTLY_CONFIG_NO_TOOLBAR)
    sentence.markdown(sanity_sentence(check, how, model.noun))


@guarded
def show_where_it_looked(model: Classifier, image28: np.ndarray, top: int) -> None:
    """Saliency, Grad-CAM or occlusion over the input, beside real test images of the predicted class."""
    methods = EXPLANATIONS if prediction.grad_cam_layers(model) else tuple(m for m in EXPLANATIONS if m != "Grad-CAM")
    if "Grad-CAM" in methods:
        grad_cam_layer_key(model)
    choices_kept(methods, "classify_explain")  # Grad-CAM, chosen on a network, is not offered by a pipeline
    st.session_state.classify_explain = st.session_state.get("classify_explain", methods[0])
    st.session_state.classify_cover = st.session_state.get("classify_cover", next(iter(COVERS)))
    # kept while the sanity check is off, when its slider is not drawn
    st.session_state.classify_sanity_layers = st.session_state.get("classify_sanity_layers", 1)
    # Above the columns: in the map's column the five methods overflow, and the last ones scroll out of sight.
    how = st.segmented_control("Where it looked", methods, required=True, key="classify_explain")
    overlay, examples = st.columns([2, 3], gap="large")
    with overlay:
        heat, note, remake = explanation(model, image28, top, how)
        st.plotly_chart(plots.saliency_figure(image28, heat), key="classify_saliency", config=PLOTLY_CONFIG_NO_TOOLBAR)
        st.caption(note)
        if prediction.share_on_background(heat, image28) > prediction.MOSTLY_BACKGROUND:
            grey = how == "Occlusion" and st.session_state.classify_cover == "grey"
            st.info((GREY_ON_BLACK if grey else OUTLINE_COUNTS).format(noun=model.noun), icon=":material/lightbulb:")
        checking = st.toggle(f"Sanity check: is the map about the {model.noun}?", key="classify_sanity",
                             help=f"Adebayo et al. (2018): the same map from the {model.noun} with random weights in "
                                  "its top layers.")
    with examples:
        st.markdown(f"**Test images of {CLASSES[top]}**, for comparison")
        data = test_images.load_test_set(data_root_from_env())
        if data is not None:
            chosen = prediction.class_examples(data.test_labels, top, EXAMPLES)
            st.image([exports.fitted(data.test_images[i, 0].numpy(), 84) for i in chosen],
                     caption=[f"#{i}" for i in chosen])
    if checking:
        show_sanity_check(model, image28, top, how, heat, remake)


