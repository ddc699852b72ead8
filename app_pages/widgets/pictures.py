"""What a page gets a picture as: the sources it offers in tabs, the picture for the network, and the open tab's
choice with room for the page's answer."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from alexnet_explorer.preprocess import Preprocessed

DRAW, UPLOAD, PICK, RANDOM = "draw", "upload", "pick", "random"


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


def picture_columns(sources: PictureSources) -> tuple[DeltaGenerator, DeltaGenerator | None]:
    """The tab's area for its picture, and the column beside it for the page's answer (answer_beside only)."""
    if sources.answer_beside:
        picture, answer = st.columns([5, 6], gap="large")
        return picture, answer
    return st.container(), None
