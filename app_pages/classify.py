"""Classify page: draw, upload or pick a garment; see how it is prepared, what the network answers, where it looked."""
from __future__ import annotations

import os
import random

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit_drawable_canvas import st_canvas

from alexnet_explorer import exports, launcher, plots, prediction, processes, ui
from alexnet_explorer.config import PRESETS
from alexnet_explorer.data import (
    CLASSES,
    DATA_ENV,
    CorruptDataError,
    DataUnavailableError,
    FashionMNIST,
)
from alexnet_explorer.model import layer_output_shapes
from alexnet_explorer.preprocess import (
    FILE_TYPES,
    MAX_UPLOAD_BYTES,
    PictureError,
    Preprocessed,
    PreprocessOptions,
    canvas_to_image,
    open_picture,
    preprocess,
)
from alexnet_explorer.runs import CheckpointError, list_runs

SOURCES = ("Draw", "Upload", "Pick a test image")
TOOLS = {"Brush": "freedraw", "Polygon": "polygon", "Rectangle": "rect", "Circle": "circle"}
CANVAS_SIDE = 280
STEP_SWITCHES = {"exif_transpose": "Upright", "composite_alpha": "Remove transparency", "auto_invert": "Light on black",
                 "crop_to_object": "Crop to the garment", "pad_to_square": "Pad to a square"}
EXPLANATIONS = ("Saliency", "Grad-CAM (conv5)")
EXAMPLES = 5
THUMBNAIL = 56  # pixels, in the table of several uploads
PLOT_CONFIG = {"displaylogo": False, "displayModeBar": False}
TRAIN_PAGE = f"{ui.PAGES_DIR}/train.py"


# --- cached loading ---------------------------------------------------------------------------------------------

def fashion_mnist() -> FashionMNIST | None:
    """The dataset for test images, or None after saying why it is missing."""
    try:
        return ui.dataset(os.environ.get(DATA_ENV), allow_download=False)
    except (DataUnavailableError, CorruptDataError) as error:
        st.warning(f"Fashion-MNIST's test images are not available: {error}", icon=":material/warning:")
        return None


# --- the network --------------------------------------------------------------------------------------------------

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
    saved = f"after epoch {model.epoch} of {model.config.epochs}"
    if model.batch:
        saved += f" and {model.batch} batches of the next (it was stopped mid-epoch)"
    accuracy = f", test accuracy {model.test_acc:.1%}" if model.test_acc is not None else ""
    training = " — replaced after each epoch while it trains" if state in processes.ACTIVE_STATES else ""
    about.caption(f"Run **{state}** — {model.config.summary()}. Its network as saved {saved}{accuracy}. A run keeps "
                  "only its latest network (earlier epochs keep just conv1's filters, for the Filters page), so this "
                  f"is the one epoch that can answer{training}.")
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


# --- the three ways to get a picture ------------------------------------------------------------------------------

def drawn(options: PreprocessOptions) -> Preprocessed | None:
    """The canvas, drawn light on black like Fashion-MNIST, preprocessed; None while it is empty."""
    tool = st.segmented_control("Tool", list(TOOLS), default="Brush", required=True, key="classify_tool")
    width_col, eraser_col = st.columns(2, vertical_alignment="bottom")
    width = width_col.slider("Brush width", 4, 60, 24, key="classify_brush")
    eraser = eraser_col.toggle("Eraser (paints black)", key="classify_eraser")
    st.caption("Draw the garment light on black, as in Fashion-MNIST: paint it with a wide brush, or fill its outline "
               "with the polygon (click the corners, then the first one again), rectangle or circle. Undo, redo and "
               "clear (the bin) are on the canvas's toolbar.")
    st.space("small")  # the canvas's toolbar floats above it and would cover a widget here
    ink = "#000000" if eraser else "#ffffff"
    canvas = st_canvas(fill_color=ink, stroke_color=ink, stroke_width=width, background_color="#000000",
                       height=CANVAS_SIDE, width=CANVAS_SIDE, drawing_mode=TOOLS[tool], return_image_data=True,
                       key="classify_canvas")
    if canvas.image_data is None:
        st.info("Draw a garment on the canvas: a sneaker, a bag, a pair of trousers…", icon=":material/draw:")
        return None
    try:
        return preprocess(canvas_to_image(canvas.image_data), options)
    except PictureError as error:
        st.info(str(error), icon=":material/draw:")
        return None


def uploaded(model: prediction.Classifier, options: PreprocessOptions) -> tuple[str, Preprocessed] | None:
    """Uploaded pictures preprocessed; several give a table of answers. Returns the one to explain, with its name."""
    files = st.file_uploader(
        "Pictures of garments", type=list(FILE_TYPES), accept_multiple_files=True, key="classify_upload",
        max_upload_size=MAX_UPLOAD_BYTES // 2**20,
        help="PNG, JPEG, WebP, BMP or GIF (its first frame). Several at once give a table of answers.")
    if not files:
        st.info("Drop pictures here or browse: a photo of a shoe, a drawing of a shirt…", icon=":material/upload:")
        return None
    results: list[tuple[str, Preprocessed | PictureError]] = []
    for file in files:
        try:
            results.append((file.name, preprocess(open_picture(file.getvalue(), file.name), options)))
        except PictureError as error:
            results.append((file.name, error))
    chosen = answers_table(model, results) if len(results) > 1 else 0
    name, result = results[chosen]
    if isinstance(result, PictureError):
        st.warning(str(result), icon=":material/warning:")
        return None
    return name, result


def answers_table(model: prediction.Classifier, results: list[tuple[str, Preprocessed | PictureError]]) -> int:
    """One row per file: thumbnails, answer and confidence, or the problem; returns the selected row (first: 0)."""
    good = [i for i, (_, result) in enumerate(results) if isinstance(result, Preprocessed)]
    answers = dict(zip(good, prediction.probabilities(model, [results[i][1].image28 for i in good]))) if good else {}
    rows = []
    for i, (name, result) in enumerate(results):
        probs = answers.get(i)
        rows.append({
            # The first step's picture: upright and 8-bit, whatever the file's mode was.
            "picture": exports.png_data_url(result.stages[0].image, THUMBNAIL) if probs is not None else None,
            "28×28": exports.png_data_url(result.image28, THUMBNAIL) if probs is not None else None,
            "file": name,
            "answer": CLASSES[int(probs.argmax())] if probs is not None else None,
            "confidence": float(probs.max()) if probs is not None else None,
            "problem": str(result) if probs is None else None,
        })
    table = st.dataframe(
        rows, hide_index=True, on_select="rerun", selection_mode="single-row", key="classify_table", row_height=60,
        height=min(len(rows), 8) * 60 + 40, placeholder="", column_config={
            "picture": st.column_config.ImageColumn("picture", width="small"),
            "28×28": st.column_config.ImageColumn("28×28", width="small", help="What the network sees"),
            "confidence": st.column_config.ProgressColumn("confidence", format="percent", min_value=0, max_value=1),
            "problem": st.column_config.TextColumn("problem", width="large")})
    chosen = table.selection.rows[0] if table.selection.rows else 0
    st.caption(f"Explained below: **{results[chosen][0]}** (select a row to explain another).")
    return chosen


def pick_random(labels: np.ndarray) -> None:
    """Choose any test image: set the class and the index within it."""
    index = random.randrange(len(labels))
    st.session_state.classify_pick_class = int(labels[index])
    st.session_state.classify_pick_index = int((labels[:index] == labels[index]).sum())  # its place in its class


def picked() -> tuple[np.ndarray, int] | None:
    """A Fashion-MNIST test image chosen by class and index (or at random), with its true label."""
    data = fashion_mnist()
    if data is None:
        return None
    labels = data.test_labels.numpy()
    st.button("Random test image", icon=":material/casino:", key="classify_random", on_click=pick_random,
              args=(labels,))
    label = st.selectbox("Class", range(len(CLASSES)), format_func=CLASSES.__getitem__, key="classify_pick_class")
    indices = np.flatnonzero(labels == label)
    if not len(indices):
        st.warning(f"The test set has no {CLASSES[label]}.", icon=":material/warning:")
        return None
    st.session_state.classify_pick_index = min(st.session_state.get("classify_pick_index", 0), len(indices) - 1)
    which = st.number_input(f"Which {CLASSES[label]} (0 to {len(indices) - 1})", 0, len(indices) - 1,
                            key="classify_pick_index")
    image = data.test_images[indices[which], 0].numpy()
    st.image(exports.fitted(image, 168), caption=f"Test image #{indices[which]}, true label: {CLASSES[label]}")
    st.caption("Test images are already 28×28 and light on black: they go to the network as they are.")
    return image, label


# --- the answer and its explanation ---------------------------------------------------------------------------------

def switches() -> PreprocessOptions:
    """A checkbox per preprocessing step, to switch it off."""
    st.markdown("**Preprocessing steps** — switch one off to see why it matters")
    columns = st.columns(len(STEP_SWITCHES))
    return PreprocessOptions(**{field: column.checkbox(label, key=f"classify_{field}")
                                for column, (field, label) in zip(columns, STEP_SWITCHES.items())})


@ui.guarded
def show_steps(prepared: Preprocessed) -> None:
    """Each preprocessing step's picture with its explanation, left to right."""
    for column, step in zip(st.columns(len(prepared.stages)), prepared.stages):
        column.image(exports.fitted(step.image, 140), caption=step.name)
        column.caption(step.explanation)


def show_answer(model: prediction.Classifier, image28: np.ndarray, true_label: int | None = None) -> int:
    """The predicted class, its confidence and every class's probability; returns the predicted class."""
    probs = prediction.probabilities(model, [image28])[0]
    top = int(probs.argmax())
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
            side = dict(layer_output_shapes(model.net, model.size))["conv5"][-1]
            note = (f"Grad-CAM: the parts of conv5's {side}×{side} grid of features that raised the score of "
                    f"*{CLASSES[top]}*; coarse, because conv5 sees the {model.size}-pixel input as only "
                    f"{side}×{side} cells. Red to yellow: more.")
        st.plotly_chart(plots.saliency_figure(image28, heat), key="classify_saliency", config=PLOT_CONFIG)
        st.caption(note)
    with examples:
        st.markdown(f"**Test images of {CLASSES[top]}**, for comparison")
        data = fashion_mnist()
        if data is not None:
            chosen = prediction.class_examples(data.test_labels, top, EXAMPLES)
            st.image([exports.fitted(data.test_images[i, 0].numpy(), 84) for i in chosen],
                     caption=[f"#{i}" for i in chosen])


# --- the page -----------------------------------------------------------------------------------------------------

def keep_settings() -> None:
    """Keep the preprocessing switches and the explanation chosen while a tab without them is open."""
    # Streamlit forgets a widget's value on a run that does not draw it; writing the value back keeps it. The
    # defaults are set here, not on the widgets: a widget given both warns on every run.
    defaults = {f"classify_{field}": True for field in STEP_SWITCHES} | {"classify_explain": EXPLANATIONS[0]}
    for key, default in defaults.items():
        st.session_state[key] = st.session_state.get(key, default)


def answer_and_explain(model: prediction.Classifier, image28: np.ndarray, true_label: int | None,
                       answer_col: DeltaGenerator, looked: DeltaGenerator) -> None:
    """The answer beside the picture, and where the network looked below."""
    with answer_col:
        top = show_answer(model, image28, true_label)
    with looked:
        show_where_it_looked(model, image28, top)


def answer_prepared(model: prediction.Classifier, prepared: Preprocessed, picture_col: DeltaGenerator,
                    answer_col: DeltaGenerator, looked: DeltaGenerator) -> None:
    """A drawn or uploaded picture's preprocessing notes under it, then the answer and where the network looked."""
    for note in prepared.notes:
        picture_col.info(note, icon=":material/info:")
    answer_and_explain(model, prepared.image28, None, answer_col, looked)


@ui.guarded
def classify_page() -> None:
    """Network; then a tab per way to get a picture, each keeping its picture while another is open."""
    model = choose_classifier()
    if model is None:
        return
    keep_settings()
    # Every tab's widgets run on every rerun, so a drawing or an upload survives a visit to another tab;
    # only the open tab's picture is answered.
    draw_tab, upload_tab, pick_tab = st.tabs(SOURCES, key="classify_source", on_change="rerun")
    looked, steps = st.container(), st.container()
    options = PreprocessOptions()
    if not pick_tab.open:
        with steps:
            st.subheader("How the picture was prepared")
            options = switches()
    prepared = None
    with draw_tab:
        picture_col, answer_col = st.columns([5, 6], gap="large")
        with picture_col:
            drawing = drawn(options)
        if draw_tab.open and drawing is not None:
            prepared = drawing
            answer_prepared(model, drawing, picture_col, answer_col, looked)
    with upload_tab:
        chosen = uploaded(model, options)
        picture_col, answer_col = st.columns([5, 6], gap="large")
        if chosen is not None:
            name, upload = chosen
            picture_col.image(exports.fitted(upload.stages[0].image, 280), caption=name)
            if upload_tab.open:
                prepared = upload
                answer_prepared(model, upload, picture_col, answer_col, looked)
    with pick_tab:
        picture_col, answer_col = st.columns([5, 6], gap="large")
        with picture_col:
            choice = picked()
        if pick_tab.open and choice is not None:
            answer_and_explain(model, *choice, answer_col, looked)
    if prepared is not None:
        with steps:
            show_steps(prepared)


st.title("Classify a garment")
st.caption("Draw a garment, upload a picture or pick one of Fashion-MNIST's test images: the trained AlexNet "
           "answers, and shows where it looked.")
classify_page()
