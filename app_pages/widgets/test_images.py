"""Fashion-MNIST's test images as a picture source: picked by class and index within it, or at random."""
from __future__ import annotations

import random

import numpy as np
import streamlit as st

from alexnet_explorer import exports
from alexnet_explorer.data import CLASSES, CorruptDataError, DataUnavailableError, FashionMNIST
from app_pages.widgets.loaders import dataset
from app_pages.widgets.pictures import PICK, RANDOM, Picture, PictureChoice, PictureSources, picture_columns


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
    st.caption("Test images are already 28×28 and light on black: they are answered as they are.")


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
