"""Small Streamlit pieces the pages share; the only module of the package that imports streamlit."""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import random
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec

import numpy as np
import streamlit as st
import torch
from streamlit.delta_generator import DeltaGenerator
from streamlit.errors import StreamlitSecretNotFoundError

from . import class_test_set, classroom, evaluation, exports, inspection
from .config import GROUPS, RunConfig, Setting, setting_type, settings
from .data import (
    CLASSES,
    DATA_ENV,
    CorruptDataError,
    DataUnavailableError,
    FashionMNIST,
    load_fashion_mnist,
    locate,
    subset,
)
from .classifier import Classifier, load_classifier
from .prediction import answer_uploads
from .preprocess import (
    FILE_TYPES,
    MAX_UPLOAD_BYTES,
    PictureError,
    Preprocessed,
    PreprocessOptions,
    Upload,
    canvas_to_image,
    prepare_uploads,
    preprocess,
)
from .runs import RunDir, load_weights
from .unfamiliar import FamiliarityFit

log = logging.getLogger(__name__)
P = ParamSpec("P")


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: its script, title, URL path, icon and the line the home page says about it."""

    path: str
    title: str
    url_path: str
    icon: str
    blurb: str


# Page scripts' folder, relative to streamlit_app.py. Not "pages": Streamlit treats a folder of that name as its
# legacy multipage app, and a fresh server opened at /train would then run the page without st.navigation.
PAGES_DIR = "app_pages"
HOME = PageSpec(f"{PAGES_DIR}/home.py", "Home", "", ":material/home:", "The chapter's story in a few lines.")
# Adding a page to the app (navigation and home page) is one line here.
PAGES = (
    PageSpec(f"{PAGES_DIR}/train.py", "Train", "train", ":material/model_training:",
             "Train the chapter's AlexNet on Fashion-MNIST and watch its loss and accuracy live; undo the "
             "chapter's choices one at a time (sigmoid, average pooling, no dropout) and compare the runs."),
    PageSpec(f"{PAGES_DIR}/filters.py", "Filters", "filters", ":material/grid_view:",
             "See what the first layer learned, what the network sees in an image, and why its features separate "
             "the classes."),
    PageSpec(f"{PAGES_DIR}/classify.py", "Classify", "classify", ":material/checkroom:",
             "Draw, upload or pick a garment: the trained network answers, and shows where it looked."),
)

STATE_COLORS = {"queued": "gray", "starting": "blue", "running": "blue", "finished": "green", "stopped": "orange",
                "failed": "red"}


def plain_message(error: BaseException) -> str:
    """What went wrong, in words for the screen (the traceback goes to the server log only)."""
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename} cannot be read or written ({error.strerror or error})"
    return str(error) or type(error).__name__


def guarded(render: Callable[P, None]) -> Callable[P, None]:
    """Wrap a page section so that any error shows as one plain st.error instead of a traceback."""
    @functools.wraps(render)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            render(*args, **kwargs)
        except Exception as error:  # the page boundary: st.rerun/st.stop are BaseExceptions and pass through
            log.exception("error in %s", render.__name__)
            st.error(f"Something went wrong: {plain_message(error)}", icon=":material/error:")
    return wrapper


def status_badge(state: str, stopping: bool = False) -> None:
    """A coloured badge for a run's state ('stopping' while a stop is pending)."""
    label = "stopping…" if stopping and state == "running" else state
    st.badge(label, color=STATE_COLORS.get(state, "gray"))


def run_picker(runs: Sequence[RunDir], key: str, label: str = "Run") -> RunDir | None:
    """A select box of runs by their short names (folder names underneath), which moves to the class run once each
    time the instructor pins another; None when there are none."""
    if not runs:
        return None
    by_name = {run.name: run for run in runs}
    pinned = classroom.read_settings(runs[0].path.parent).class_run
    if pinned in by_name and st.session_state.get(f"{key}_pin_seen") != pinned:
        st.session_state[key] = pinned
    st.session_state[f"{key}_pin_seen"] = pinned
    name = st.selectbox(label, list(by_name), key=key, format_func=lambda name: by_name[name].title)
    return by_name.get(name)


# --- roles ---

def instructor_passcode() -> str | None:
    """The instructor's passcode: $ALEXNET_EXPLORER_INSTRUCTOR_PASSCODE, else .streamlit/secrets.toml's
    instructor_passcode; None (no roles, everyone may do everything) when neither is set."""
    passcode = os.environ.get(classroom.PASSCODE_ENV)
    if not passcode:
        try:
            passcode = st.secrets.get(classroom.PASSCODE_SECRET)
        except (FileNotFoundError, StreamlitSecretNotFoundError):  # no secrets file at all
            passcode = None
    return str(passcode) if passcode else None


def person() -> classroom.Person:
    """This session as the package sees it: its id (the browser's, so a reload keeps its runs) and whether it acts
    as the instructor (every session does when no passcode is set)."""
    if "seat" not in st.session_state:
        token = _browser_token(st.context.cookies.get("_streamlit_xsrf"))
        st.session_state.seat = hashlib.sha256(token).hexdigest()[:16] if token else secrets.token_hex(8)
    instructor = instructor_passcode() is None or st.session_state.get("instructor", False)
    return classroom.Person(st.session_state.seat, instructor)


def _browser_token(cookie: object) -> bytes | None:
    """The secret of Streamlit's XSRF cookie, which lasts as long as the browser session (so it names the browser,
    not the tab); None without one (AppTest). The cookie holds it masked afresh on every page load, in Tornado's
    format '2|mask|masked token|time': unmasked by XOR with the repeated 4-byte mask."""
    if not isinstance(cookie, str) or not cookie.startswith("2|"):
        return None
    try:
        _, mask, masked, _ = cookie.split("|")
        mask, masked = bytes.fromhex(mask), bytes.fromhex(masked)
    except ValueError:
        return None
    return bytes(byte ^ mask[i % len(mask)] for i, byte in enumerate(masked)) if mask else None


def instructor_sign_in() -> None:
    """The instructor's passcode field, or a sign-out button once it was entered; nothing without a passcode."""
    expected = instructor_passcode()
    if expected is None:
        return
    if st.session_state.get("instructor"):
        st.success("Signed in as the instructor.", icon=":material/school:")
        if st.button("Sign out", key="instructor_sign_out", icon=":material/logout:"):
            st.session_state.instructor = False
            st.rerun()
        return
    with st.form("instructor_form", border=False, clear_on_submit=True):  # the typed passcode is not kept
        typed = st.text_input("Instructor's passcode", type="password", key="instructor_passcode",
                              help="The instructor can stop, resume or delete any run, order the queue, limit what "
                                   "students start and pin the class run.")
        if st.form_submit_button("Sign in", icon=":material/login:"):
            if classroom.try_passcode(typed, expected):
                st.session_state.instructor = True
                st.rerun()
            st.error("That is not the instructor's passcode.", icon=":material/lock:")


def missing_data() -> str | None:
    """Why training cannot find Fashion-MNIST here (the paragraph the command line prints), or None when it can."""
    try:
        locate(os.environ.get(DATA_ENV), allow_download=False)
    except DataUnavailableError as error:
        return str(error)
    return None


def keep_for_session(keys: Sequence[str]) -> None:
    """Keep these widgets' values while another page is shown: Streamlit drops the state of a widget a page does
    not draw, so a copy is kept beside it and put back on return. Call before the widgets are drawn."""
    for key in keys:
        if key in st.session_state:
            st.session_state[f"kept_{key}"] = st.session_state[key]
        elif f"kept_{key}" in st.session_state:
            st.session_state[key] = st.session_state[f"kept_{key}"]


@st.cache_resource(show_spinner="Loading the network…", max_entries=4)
def classifier(path: str, mtime: float) -> Classifier:
    """A run's trained network, shared by the pages and reloaded whenever its checkpoint changes (``mtime``)."""
    return load_classifier(path)


@st.cache_resource(show_spinner="Loading Fashion-MNIST…")
def dataset(source: str | None, allow_download: bool = True) -> FashionMNIST:
    """Fashion-MNIST from the folder named in the environment (``source``), else the usual places."""
    return load_fashion_mnist(source, allow_download)


# --- the settings form ---
def setting_key(name: str) -> str:
    """The session-state key of a RunConfig setting's widget in the settings form."""
    return f"cfg_{name}"


def fill_settings(config: RunConfig) -> None:
    """Put a configuration's values into the settings form's widgets."""
    for name, value in config.to_dict().items():
        # number_input takes its type from its value: a float setting must hold 0.0, not 0
        st.session_state[setting_key(name)] = float(value) if setting_type(name) is float else value


def settings_missing() -> bool:
    """Whether some setting's widget has no value: a first visit, or Streamlit dropped them while another page
    was shown."""
    return any(setting_key(name) not in st.session_state for name in settings())


def settings_form(disabled: bool = False) -> dict[str, object]:
    """Every RunConfig setting as a widget in its group's column, in a box; the values by setting name (``disabled``:
    shown but not editable)."""
    values = {}
    with st.container(border=True):
        for column, (group, note) in zip(st.columns(len(GROUPS)), GROUPS.items()):
            with column:
                st.markdown(f"**{group}**" + f" ({note})" * bool(note))
                for name, described in settings().items():
                    if described.group == group:
                        values[name] = _setting_widget(name, described, disabled)
    return values


def _setting_widget(name: str, described: Setting, disabled: bool) -> object:
    key, kind = setting_key(name), setting_type(name)
    if described.choices is not None:
        names = described.choices()
        return st.radio(described.label, list(names), format_func=names.get, horizontal=True, key=key,
                        help=described.help, disabled=disabled)
    if described.offered is not None:
        return st.selectbox(described.label, described.offered(), key=key, help=described.help, disabled=disabled)
    if kind is bool:
        return st.toggle(described.label, key=key, help=described.help, disabled=disabled)
    return st.number_input(described.label, step=described.step, format=described.format,
                           placeholder=described.placeholder, key=key, help=described.help, disabled=disabled)


# --- cached loading for the Filters page ---
# Keyed by file path and modification time where a run's file is read: a run still training keeps replacing them.

@st.cache_data(show_spinner=False, max_entries=1024)
def conv1_weights(path: str, mtime: float) -> torch.Tensor:
    """conv1's weights from a snapshot or frame file."""
    return load_weights(Path(path))


def filter_history(run: RunDir) -> inspection.FilterHistory:
    """The run's conv1 snapshots and frames, each file read once per version of it."""
    return inspection.filter_history(run, lambda path: conv1_weights(str(path), path.stat().st_mtime))


@st.cache_data(show_spinner=False)
def random_filters(seed: int = 0) -> torch.Tensor:
    """conv1 of a freshly initialised classroom network."""
    return inspection.random_filters(seed)


@dataclass(frozen=True)
class TrainedNetwork:
    """A run's trained network, and its checkpoint's path and modification time that key what is cached about it."""

    classifier: Classifier
    path: str
    mtime: float


def trained_network(run: RunDir) -> TrainedNetwork:
    """The network of the run's checkpoint, loaded once per version of the file; CheckpointError if unusable."""
    path = run.checkpoint_path
    mtime = path.stat().st_mtime
    return TrainedNetwork(classifier(str(path), mtime), str(path), mtime)


@st.cache_resource(show_spinner=False, max_entries=8)
def _evaluation(path: str, mtime: float, saved: str, source: str | None) -> evaluation.Evaluation:
    return evaluation.cached(Path(saved), classifier(path, mtime), dataset(source, allow_download=False))


def run_evaluation(run: RunDir, source: str | None) -> evaluation.Evaluation | None:
    """The run's network on its test set and the unlike-the-training-data fit: read from the run's folder, or
    measured once per saved network (a long measurement only when asked); None, after saying why, without one."""
    network = trained_network(run)
    try:
        data = dataset(source, allow_download=False)
    except (DataUnavailableError, CorruptDataError) as error:
        st.warning(f"Where the network errs and whether a picture is unlike its training garments need "
                   f"Fashion-MNIST: {error}", icon=":material/warning:")
        return None
    asked = f"classify_measure_{network.path}_{network.mtime}"
    config = network.classifier.config
    if not (evaluation.quick(config, data) or st.session_state.get(asked)
            or evaluation.is_saved_for(run.evaluation_path, network.classifier)):
        st.info(f"Where this network errs, and whether a picture is unlike its training garments, are measured at "
                f"the end of its training, on its own device. This network ({run.title}, after epoch "
                f"{network.classifier.epoch}) has not been measured yet: doing it here means "
                f"{evaluation.measured_pictures(config, data):,} pictures at {config.resize} px on this computer's "
                "processor, which takes minutes.", icon=":material/speed:")
        if st.button("Measure it now", key="classify_measure", icon=":material/play_arrow:"):
            st.session_state[asked] = True
            st.rerun()
        return None
    try:
        with st.spinner("Measuring the network on its test images (once for each saved network)…"):
            return _evaluation(network.path, network.mtime, str(run.evaluation_path), source)
    except ValueError as error:  # e.g. a run of a single training image: nothing to measure a spread on
        st.warning(f"Where this network errs cannot be measured: {error}.", icon=":material/warning:")
        return None


@st.cache_data(show_spinner=False, max_entries=16)
def class_test_answers(path: str, mtime: float, pictures: tuple[tuple[str, int], ...]
                       ) -> tuple[class_test_set.Prepared, evaluation.Answers]:
    """The class's kept pictures (path, label), prepared, and the network's answers to them."""
    prepared = class_test_set.prepare([class_test_set.KeptPicture(Path(file), label) for file, label in pictures])
    return prepared, class_test_set.answers(classifier(path, mtime), prepared)


@st.cache_data(show_spinner=False, max_entries=8)
def labelled_sample(source: str | None, count: int) -> tuple[torch.Tensor, np.ndarray]:
    """A seeded random sample of test images and their labels."""
    data = dataset(source)
    images, labels = subset(data.test_images, data.test_labels, count, seed=0)
    return images, labels.numpy()


@st.cache_data(show_spinner=False, max_entries=16)
def sample_features(source: str | None, count: int, kind: str, path: str = "", mtime: float = 0.0) -> np.ndarray:
    """One of ``inspection.FEATURE_KINDS`` of the test sample; raw pixels need no checkpoint (``path`` empty)."""
    images = labelled_sample(source, count)[0]
    if not path:
        return inspection.sample_features(images, kind)
    network = classifier(path, mtime)
    return inspection.sample_features(images, kind, network.net, network.size)


@st.cache_data(show_spinner=False, max_entries=32)
def probe(source: str | None, count: int, kind: str, path: str = "", mtime: float = 0.0) -> float:
    """The linear probe's test accuracy on one kind of features of the test sample."""
    labels = labelled_sample(source, count)[1]
    return inspection.holdout_probe(sample_features(source, count, kind, path, mtime), labels)


@st.cache_data(show_spinner=False, max_entries=32)
def projection(source: str | None, count: int, kind: str, method: str, path: str = "",
               mtime: float = 0.0) -> np.ndarray:
    """One 2-D projection of one kind of features of the test sample."""
    return inspection.project(sample_features(source, count, kind, path, mtime), method)


# --- picture sources ---

DRAW, UPLOAD, PICK, RANDOM = "draw", "upload", "pick", "random"
DRAWING_TOOLS = {"Brush": "freedraw", "Polygon": "polygon", "Rectangle": "rect", "Circle": "circle"}
CANVAS_SIDE = 280
THUMBNAIL = 56  # pixels, in the table of several uploads


@dataclass(frozen=True)
class PictureSources:
    """A page's tabs for getting a picture: each source's tab label, in tab order, and its widget keys' prefix."""

    key_prefix: str
    tabs: Mapping[str, str]  # DRAW, UPLOAD, PICK or RANDOM: the label of its tab
    # Each tab shows its picture in a left column and leaves the right one for the page's answer; otherwise a tab
    # holds only its widgets and the page shows the picture its own way.
    answer_beside: bool = False
    download: bool = False  # fetch Fashion-MNIST when there is no copy, instead of saying the test images are missing


@dataclass(frozen=True)
class Picture:
    """A picture for the network: uint8 28×28, its name, its true label (test images) and its preprocessing (drawn
    and uploaded pictures)."""

    image28: np.ndarray
    name: str
    true_label: int | None = None
    prepared: Preprocessed | None = None


@dataclass(frozen=True)
class PictureChoice:
    """The open tab: its source, its picture (None until it has a usable one), why the chosen upload cannot be used,
    and where the page can add to the tab."""

    source: str
    picture: Picture | None
    problem: str | None
    area: DeltaGenerator  # under the tab's picture (the picture column with answer_beside)
    beside: DeltaGenerator | None  # the column for the page's answer (answer_beside only)


def choose_picture(sources: PictureSources, data_source: str | None, options: PreprocessOptions | None = None,
                   classifier: Classifier | None = None, familiarity: FamiliarityFit | None = None) -> PictureChoice:
    """A tab per source, each keeping its picture while another is open; returns the open tab's. With a classifier,
    several files can be uploaded at once and its answers to them are tabled (with ``familiarity``'s verdicts)."""
    tabs = st.tabs(list(sources.tabs.values()), key=f"{sources.key_prefix}_source", on_change="rerun")
    widgets = {DRAW: lambda: draw_picture(sources, options),
               UPLOAD: lambda: upload_pictures(sources, options, classifier, familiarity),
               PICK: lambda: pick_test_image(sources, data_source),
               RANDOM: lambda: show_random_test_image(sources, data_source)}
    opened = None
    for source, tab in zip(sources.tabs, tabs):
        # Every tab's widgets run on every rerun, so a drawing, an upload or a choice survives a visit to another tab.
        with tab:
            choice = widgets[source]()
        if tab.open:
            opened = choice
    return opened


def picture_columns(sources: PictureSources) -> tuple[DeltaGenerator, DeltaGenerator | None]:
    """The tab's area for its picture, and the column beside it for the page's answer (answer_beside only)."""
    if sources.answer_beside:
        picture, answer = st.columns([5, 6], gap="large")
        return picture, answer
    return st.container(), None


def draw_picture(sources: PictureSources, options: PreprocessOptions | None) -> PictureChoice:
    """A canvas to draw a garment on, light on black like Fashion-MNIST, and its preprocessed drawing."""
    # Imported here: the component registers itself on import, which fails outside a running Streamlit app.
    from streamlit_drawable_canvas import st_canvas

    area, beside = picture_columns(sources)
    with area:
        tool = st.segmented_control("Tool", list(DRAWING_TOOLS), default="Brush", required=True,
                                    key=f"{sources.key_prefix}_tool")
        width_col, eraser_col = st.columns(2, vertical_alignment="bottom")
        width = width_col.slider("Brush width", 4, 60, 24, key=f"{sources.key_prefix}_brush")
        eraser = eraser_col.toggle("Eraser (paints black)", key=f"{sources.key_prefix}_eraser")
        st.caption("Draw the garment light on black, as in Fashion-MNIST: paint it with a wide brush, or fill its "
                   "outline with the polygon (click the corners, then the first one again), rectangle or circle. "
                   "Undo, redo and clear (the bin) are on the canvas's toolbar.")
        st.space("small")  # the canvas's toolbar floats above it and would cover a widget here
        ink = "#000000" if eraser else "#ffffff"
        canvas = st_canvas(fill_color=ink, stroke_color=ink, stroke_width=width, background_color="#000000",
                           height=CANVAS_SIDE, width=CANVAS_SIDE, drawing_mode=DRAWING_TOOLS[tool],
                           return_image_data=True, key=f"{sources.key_prefix}_canvas")
        picture = None
        if canvas.image_data is None:
            st.info("Draw a garment on the canvas: a sneaker, a bag, a pair of trousers…", icon=":material/draw:")
        else:
            try:
                prepared = preprocess(canvas_to_image(canvas.image_data), options)
                picture = Picture(prepared.image28, "your drawing", prepared=prepared)
            except PictureError as error:
                st.info(str(error), icon=":material/draw:")
    return PictureChoice(DRAW, picture, None, area, beside)


def upload_pictures(sources: PictureSources, options: PreprocessOptions | None, classifier: Classifier | None,
                    familiarity: FamiliarityFit | None = None) -> PictureChoice:
    """A file uploader and the preprocessed upload; with a classifier, several files, its answers in a table and
    the selected row's upload."""
    several = classifier is not None
    files = st.file_uploader(
        "Pictures of garments" if several else "A picture of a garment", type=list(FILE_TYPES),
        accept_multiple_files=several, key=f"{sources.key_prefix}_upload", max_upload_size=MAX_UPLOAD_BYTES // 2**20,
        help="PNG, JPEG, WebP, BMP or GIF (its first frame)." + (" Several at once give a table of answers."
                                                                  if several else ""))
    if not several:
        files = [files] if files else []
    uploads, duplicates = prepare_uploads([(file.name, file.getvalue()) for file in files], options)
    if not uploads:
        st.info(f"Drop {'pictures' if several else 'a picture'} here or browse: a photo of a shoe, a drawing of a "
                "shirt…", icon=":material/upload:")
    for note in duplicates:
        st.caption(note)
    chosen = answer_uploads_table(sources, classifier, uploads, familiarity) if len(uploads) > 1 else 0
    area, beside = picture_columns(sources)
    if not uploads:
        return PictureChoice(UPLOAD, None, None, area, beside)
    upload = uploads[chosen]
    if upload.prepared is None:
        return PictureChoice(UPLOAD, None, upload.problem, area, beside)
    if sources.answer_beside:
        area.image(exports.fitted(upload.prepared.picture, 280), caption=upload.name)
    return PictureChoice(UPLOAD, Picture(upload.prepared.image28, upload.name, prepared=upload.prepared), None,
                         area, beside)


def answer_uploads_table(sources: PictureSources, classifier: Classifier, uploads: Sequence[Upload],
                         familiarity: FamiliarityFit | None = None) -> int:
    """One row per file: thumbnails, the network's answer, confidence and whether it is a guess, or the problem
    (each problem also in full under the table: a cell cuts long text off); returns the selected row (first: 0)."""
    answers = answer_uploads(classifier, uploads, familiarity)
    rows = [{"picture": exports.png_data_url(upload.prepared.picture, THUMBNAIL) if upload.prepared else None,
             "28×28": exports.png_data_url(upload.prepared.image28, THUMBNAIL) if upload.prepared else None,
             "file": answer.name, "answer": answer.answer, "confidence": answer.confidence,
             "note": answer.verdict.summary() if answer.verdict else None, "problem": answer.problem}
            for upload, answer in zip(uploads, answers)]
    table = st.dataframe(
        rows, hide_index=True, on_select="rerun", selection_mode="single-row", key=f"{sources.key_prefix}_table",
        row_height=60, height=min(len(rows), 8) * 60 + 40, placeholder="", column_config={
            "picture": st.column_config.ImageColumn("picture", width="small"),
            "28×28": st.column_config.ImageColumn("28×28", width="small", help="What the network sees"),
            "confidence": st.column_config.ProgressColumn("confidence", format="percent", min_value=0, max_value=1),
            "note": st.column_config.TextColumn("note", help="“a guess”: the picture is unlike the garments the "
                                                             "network learned from; and what shows in it"),
            "problem": st.column_config.TextColumn("problem", width="large", help="In full under the table")})
    problems = [answer.problem for answer in answers if answer.problem]
    if problems:
        st.warning("\n".join(f"- {problem}" for problem in problems), icon=":material/warning:")
    chosen = table.selection.rows[0] if table.selection.rows else 0
    st.caption(f"Explained below: **{uploads[chosen].name}** (select a row to explain another).")
    return chosen


def load_test_set(source: str | None, download: bool = False) -> FashionMNIST | None:
    """Fashion-MNIST for its test images, or None after a warning that says why it is missing."""
    try:
        return dataset(source, allow_download=download)
    except (DataUnavailableError, CorruptDataError) as error:
        st.warning(f"Fashion-MNIST's test images are not available: {error}", icon=":material/warning:")
        return None


def take_test_image(data: FashionMNIST, index: int) -> Picture:
    """The test image at this index of the test set, with its true label."""
    return Picture(data.test_images[index, 0].numpy(), f"Test image #{index}", int(data.test_labels[index]))


def show_test_image(picture: Picture, enlarged: bool) -> None:
    """Which test image it is and its true label: under the picture, enlarged, or alone."""
    caption = f"{picture.name}, true label: {CLASSES[picture.true_label]}"
    if not enlarged:
        st.caption(caption)
        return
    st.image(exports.fitted(picture.image28, 168), caption=caption)
    st.caption("Test images are already 28×28 and light on black: they go to the network as they are.")


def pick_at_random(labels: np.ndarray, key_prefix: str) -> None:
    """Choose any test image: set the class and the index within it."""
    index = random.randrange(len(labels))
    st.session_state[f"{key_prefix}_pick_class"] = int(labels[index])
    # Its place among the test images of its class:
    st.session_state[f"{key_prefix}_pick_index"] = int((labels[:index] == labels[index]).sum())


def pick_test_image(sources: PictureSources, data_source: str | None) -> PictureChoice:
    """A test image chosen by class and index within it, or at random (unless the page has a tab for that)."""
    area, beside = picture_columns(sources)
    with area:
        data = load_test_set(data_source, sources.download)
        picture = None if data is None else select_test_image(sources, data)
    return PictureChoice(PICK, picture, None, area, beside)


def select_test_image(sources: PictureSources, data: FashionMNIST) -> Picture | None:
    """The class and index widgets and the test image they choose; None for a class the test set lacks."""
    labels = data.test_labels.numpy()
    class_key, index_key = f"{sources.key_prefix}_pick_class", f"{sources.key_prefix}_pick_index"
    if RANDOM not in sources.tabs:  # else the random tab has the button
        st.button("Random test image", icon=":material/casino:", key=f"{sources.key_prefix}_random",
                  on_click=pick_at_random, args=(labels, sources.key_prefix))
    label = st.selectbox("Class", range(len(CLASSES)), format_func=CLASSES.__getitem__, key=class_key)
    indices = np.flatnonzero(labels == label)
    if not len(indices):
        st.warning(f"The test set has no {CLASSES[label]}.", icon=":material/warning:")
        return None
    st.session_state[index_key] = min(st.session_state.get(index_key, 0), len(indices) - 1)
    which = st.number_input(f"Which {CLASSES[label]} (0 to {len(indices) - 1})", 0, len(indices) - 1, key=index_key,
                            help=f"Its place among the test set's {len(indices)} {CLASSES[label]} pictures; its "
                                 f"number among all {len(labels):,} test images is shown with it.")
    picture = take_test_image(data, int(indices[which]))
    if sources.answer_beside:  # else the class and index above say which it is
        show_test_image(picture, enlarged=True)
    return picture


def show_random_test_image(sources: PictureSources, data_source: str | None) -> PictureChoice:
    """A random test image, kept until the button asks for another."""
    area, beside = picture_columns(sources)
    with area:
        data = load_test_set(data_source, sources.download)
        picture = None
        if data is not None:
            index_key = f"{sources.key_prefix}_random_index"
            another = st.button("Another random image", icon=":material/casino:", key=f"{sources.key_prefix}_another")
            if another or index_key not in st.session_state:
                st.session_state[index_key] = random.randrange(len(data.test_labels))
            picture = take_test_image(data, st.session_state[index_key])
            show_test_image(picture, enlarged=sources.answer_beside)
    return PictureChoice(RANDOM, picture, None, area, beside)
