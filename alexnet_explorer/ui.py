"""Small Streamlit pieces the pages share; the only module of the package that imports streamlit."""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ParamSpec

import streamlit as st

from .data import FashionMNIST, load_fashion_mnist
from .prediction import Classifier, load_classifier
from .runs import RunDir

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

STATE_COLORS = {"queued": "gray", "running": "blue", "finished": "green", "stopped": "orange", "failed": "red"}


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
    """A select box of runs by folder name; None when there are none."""
    if not runs:
        return None
    by_name = {run.name: run for run in runs}
    name = st.selectbox(label, list(by_name), key=key)
    return by_name.get(name)


def duration(seconds: float | None) -> str:
    """A short human duration: '42 s', '3 min 05 s', '1 h 12 min'."""
    if seconds is None:
        return "–"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


@st.cache_resource(show_spinner="Loading the network…", max_entries=4)
def classifier(path: str, mtime: float) -> Classifier:
    """A run's trained network, shared by the pages and reloaded whenever its checkpoint changes (``mtime``)."""
    return load_classifier(path)


@st.cache_resource(show_spinner="Loading Fashion-MNIST…")
def dataset(source: str | None, allow_download: bool = True) -> FashionMNIST:
    """Fashion-MNIST from the folder named in the environment (``source``), else the usual places."""
    return load_fashion_mnist(source, allow_download)
