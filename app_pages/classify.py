"""Classify page: draw, upload or pick a garment; see how it is prepared, what the network answers, where it looked."""
from __future__ import annotations

import os

import numpy as np
import streamlit as st

from alexnet_explorer import exports, launcher, plots, prediction, processes, ui
from alexnet_explorer.config import PRESETS
from alexnet_explorer.data import CLASSES, DATA_ENV
from alexnet_explorer.preprocess import Preprocessed, PreprocessOptions
from alexnet_explorer.runs import CheckpointError, list_runs

PICTURE_TABS = ui.PictureSources("classify", {ui.DRAW: "Draw", ui.UPLOAD: "Upload", ui.PICK: "Pick a test image"},
                                 answer_beside=True)
STAGE_SWITCHES = {"exif_transpose": "Upright", "composite_alpha": "Remove transparency",
                  "auto_invert": "Light on black", "crop_to_object": "Crop to the garment",
                  "pad_to_square": "Pad to a square"}
EXPLANATIONS = ("Saliency", "Grad-CAM (conv5)")
EXAMPLES = 5
PLOT_CONFIG = {"displaylogo": False, "displayModeBar": False}
TRAIN_PAGE = f"{ui.PAGES_DIR}/train.py"


def choose_classifier() -> prediction.Classifier | None:
    """The run picker (the latest finished run first) and its network; None, after saying why, if there is none."""
    runs = [run for run in list_runs() if run.has_checkpoint()]
    if not runs:
        offer_training()
        return None
    if st.session_state.get("classify_run") not in [run.name for run in runs]:
        st.session_state.classify_run = prediction.default_run(runs).name
    picker, about = st.columns([1, 2], vertical_alignment="bottom")
    with picker:
        run = ui.run_picker(runs, key="classify_run", label="Trained network (run)")
    try:
        model = ui.classifier(str(run.checkpoint_path), run.checkpoint_path.stat().st_mtime)
    except (CheckpointError, OSError) as error:
        st.error(f"The network of run `{run.name}` cannot be used: {ui.plain_message(error)}. "
                 "Choose another run, or train a new one on the Train page.", icon=":material/error:")
        st.page_link(TRAIN_PAGE, label="Go to the Train page", icon=":material/model_training:")
        return None
    state = processes.refresh_status(run).get("state", "failed")
    training = " — replaced after each epoch while it trains" if state in processes.ACTIVE_STATES else ""
    about.caption(f"Run **{state}** — {model.config.summary()}. Its network as saved "
                  f"{prediction.describe_progress(model)}. A run keeps only its latest network (earlier epochs keep "
                  f"just conv1's filters, for the Filters page), so this is the one epoch that can answer{training}.")
    return model


def offer_training() -> None:
    """No run has a network yet: say so, and offer to train the classroom preset."""
    active = launcher.active_runs()
    if active:
        st.info(f"Run `{active[0].name}` is training. Its network can answer once its first epoch ends; then "
                "reload this page.", icon=":material/hourglass_top:")
    else:
        st.info("There is no trained network yet. Train one first: the **classroom** preset learns in a few "
                "minutes on a laptop's CPU.", icon=":material/school:")
        if st.button("Train the classroom preset", type="primary", icon=":material/play_arrow:", key="classify_train"):
            try:
                run = launcher.launch(PRESETS["classroom"], label="classroom")
            except launcher.RunRefused as refusal:
                st.warning(f"Nothing was started: {refusal}", icon=":material/hourglass_top:")
            else:
                st.success(f"Training started (run `{run.name}`): follow it on the Train page.",
                           icon=":material/check_circle:")
    st.page_link(TRAIN_PAGE, label="Go to the Train page", icon=":material/model_training:")


def keep_settings() -> PreprocessOptions:
    """Keep the preprocessing switches and the explanation chosen while a tab without them is open; the switches'
    options."""
    # Streamlit forgets a widget's value on a run that does not draw it; writing the value back keeps it. The
    # defaults are set here, not on the widgets: a widget given both warns on every run.
    defaults = {f"classify_{field}": True for field in STAGE_SWITCHES} | {"classify_explain": EXPLANATIONS[0]}
    for key, default in defaults.items():
        st.session_state[key] = st.session_state.get(key, default)
    # Read before the switches are drawn (under the tabs): the pictures are prepared first.
    return PreprocessOptions(**{field: st.session_state[f"classify_{field}"] for field in STAGE_SWITCHES})


def show_switches() -> None:
    """A checkbox per preprocessing stage, to switch it off."""
    st.markdown("**Preprocessing steps** — switch one off to see why it matters")
    for column, (field, label) in zip(st.columns(len(STAGE_SWITCHES)), STAGE_SWITCHES.items()):
        column.checkbox(label, key=f"classify_{field}")


@ui.guarded
def show_stages(prepared: Preprocessed) -> None:
    """Each preprocessing stage's picture with its explanation, left to right."""
    for column, stage in zip(st.columns(len(prepared.stages)), prepared.stages):
        column.image(exports.fitted(stage.image, 140), caption=stage.name)
        column.caption(stage.explanation)


def show_answer(model: prediction.Classifier, picture: ui.Picture) -> int:
    """The predicted class, its confidence and every class's probability; returns the predicted class."""
    probs = prediction.probabilities(model, [picture.image28])[0]
    top, true_label = int(probs.argmax()), picture.true_label
    st.markdown(f"### The network says: **{CLASSES[top]}** ({probs[top]:.0%} sure)")
    if true_label is not None:
        right = top == true_label
        st.badge("right" if right else f"wrong: it is a {CLASSES[true_label]}", color="green" if right else "red",
                 icon=":material/check:" if right else ":material/close:")
    st.plotly_chart(plots.probabilities_figure(probs, CLASSES, true_label), key="classify_probabilities",
                    config=PLOT_CONFIG)
    st.caption("The network always answers with one of its ten classes — even for a drawing of a cat.")
    return top


@ui.guarded
def show_where_it_looked(model: prediction.Classifier, image28: np.ndarray, top: int) -> None:
    """Saliency or Grad-CAM over the input, beside real test images of the predicted class."""
    overlay, examples = st.columns([2, 3], gap="large")
    with overlay:
        how = st.segmented_control("Where the network looked", EXPLANATIONS, required=True, key="classify_explain")
        if how == EXPLANATIONS[0]:
            heat = prediction.saliency(model, image28, top)
            note = (f"Saliency: how much each pixel would sway the score of *{CLASSES[top]}* if it were a little "
                    "brighter or darker (the size of the gradient). Red to yellow: more sway.")
        else:
            heat = prediction.grad_cam(model, image28, top)
            side = prediction.feature_grid_side(model, "conv5")
            note = (f"Grad-CAM: the parts of conv5's {side}×{side} grid of features that raised the score of "
                    f"*{CLASSES[top]}*; coarse, because conv5 sees the {model.size}-pixel input as only "
                    f"{side}×{side} cells. Red to yellow: more.")
        st.plotly_chart(plots.saliency_figure(image28, heat), key="classify_saliency", config=PLOT_CONFIG)
        st.caption(note)
    with examples:
        st.markdown(f"**Test images of {CLASSES[top]}**, for comparison")
        data = ui.load_test_set(os.environ.get(DATA_ENV))
        if data is not None:
            chosen = prediction.class_examples(data.test_labels, top, EXAMPLES)
            st.image([exports.fitted(data.test_images[i, 0].numpy(), 84) for i in chosen],
                     caption=[f"#{i}" for i in chosen])


@ui.guarded
def classify_page() -> None:
    """Network; a tab per way to get a picture; the open tab's answer, where it looked and how it was prepared."""
    model = choose_classifier()
    if model is None:
        return
    choice = ui.choose_picture(PICTURE_TABS, os.environ.get(DATA_ENV), keep_settings(), model)
    picture = choice.picture
    if choice.problem:
        choice.area.warning(choice.problem, icon=":material/warning:")
    if picture is not None:
        for note in picture.prepared.notes if picture.prepared else []:
            choice.area.info(note, icon=":material/info:")
        with choice.beside:
            top = show_answer(model, picture)
        show_where_it_looked(model, picture.image28, top)
    if choice.source != ui.PICK:  # test images go to the network as they are
        st.subheader("How the picture was prepared")
        show_switches()
        if picture is not None:
            show_stages(picture.prepared)


st.title("Classify a garment")
st.caption("Draw a garment, upload a picture or pick one of Fashion-MNIST's test images: the trained AlexNet "
           "answers, and shows where it looked.")
classify_page()
