"""Cached loaders: a run's network, Fashion-MNIST, conv1's snapshots, a network's measurement on its test set, the
fc7 features of its training images, and the features, probes and projections of the Filters page, each loaded once
and shared by every session.

Keyed by file path and modification time where a run's file is read: a run still training keeps replacing them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from alexnet_explorer import class_test_set, evaluation, inspection, neighbours, processes
from alexnet_explorer.data import CorruptDataError, DataUnavailableError, FashionMNIST, load_fashion_mnist, subset
from alexnet_explorer.classifier import Classifier, load_classifier
from alexnet_explorer.runs import RunDir, load_weights


@st.cache_resource(show_spinner="Loading the network…", max_entries=4)
def classifier(path: str, mtime: float) -> Classifier:
    """A run's trained network, shared by the pages and reloaded whenever its checkpoint changes (``mtime``)."""
    return load_classifier(path)


@st.cache_resource(show_spinner="Loading Fashion-MNIST…")
def dataset(source: str | None, allow_download: bool = True) -> FashionMNIST:
    """Fashion-MNIST from the folder named in the environment (``source``), else the usual places."""
    return load_fashion_mnist(source, allow_download)


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


@st.cache_data(show_spinner="Finding the filters no test image excites…", max_entries=8)
def _dead_filters(path: str, mtime: float, source: str | None) -> list[int]:
    net = classifier(path, mtime)
    return np.flatnonzero(inspection.filter_peaks(net.net, dataset(source, False).test_images, net.size) <= 0).tolist()


def dead_filters(network: TrainedNetwork, source: str | None) -> list[int] | None:
    """conv1's filters that no test image excites in this network (dead: they get no gradient, so they keep their
    random start); None when the test images cannot be read."""
    try:
        return _dead_filters(network.path, network.mtime, source)
    except (DataUnavailableError, CorruptDataError):
        return None


@st.cache_resource(show_spinner=False, max_entries=8)
def _evaluation(path: str, mtime: float, saved: str, source: str | None) -> evaluation.Evaluation:
    return evaluation.cached(Path(saved), classifier(path, mtime), dataset(source, allow_download=False))


@st.cache_resource(show_spinner=False, max_entries=4)
def _training_features(path: str, mtime: float, saved: str, saved_mtime: float) -> neighbours.TrainingFeatures | None:
    return neighbours.load(Path(saved), classifier(path, mtime))


def training_features(run: RunDir) -> neighbours.TrainingFeatures | None:
    """The fc7 features of the run's training images kept for its saved network, or None when there are none."""
    network, saved = trained_network(run), run.neighbours_path
    if not saved.is_file():
        return None
    return _training_features(network.path, network.mtime, str(saved), saved.stat().st_mtime)


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
    # A run still training replaces its network every epoch: measuring each one by itself would hold every page that
    # opens (the canvas included) for as long as the measurement takes, while the training shares the cores.
    training = processes.refresh_status(run).get("state") in processes.ACTIVE_STATES
    if not ((evaluation.quick(config, data) and not training) or st.session_state.get(asked)
            or evaluation.is_saved_for(run.evaluation_path, network.classifier)):
        cost = (f"doing it here means {evaluation.measured_pictures(config, data):,} pictures at {config.resize} px "
                "on this computer's processor")
        st.info(f"Where this network errs, and whether a picture is unlike its training garments, are measured at "
                f"the end of its training, on its own device. This network ({run.title}, after epoch "
                f"{network.classifier.epoch}) has not been measured yet: "
                + (f"it is still training, so the measurement waits for its end; {cost}, beside the training."
                   if training else f"{cost}, which takes minutes."), icon=":material/speed:")
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


@st.cache_data(show_spinner=False, max_entries=8)
def ladder(source: str | None, count: int, path: str, mtime: float) -> dict[str, float]:
    """The representation ladder's probe accuracies on the test sample, for this checkpoint."""
    images, labels = labelled_sample(source, count)
    network = classifier(path, mtime)
    return inspection.representation_ladder(network.net, images, labels, network.size)
