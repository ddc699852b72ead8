"""Filters page: what AlexNet's first layer learns, what it sees in an image, and why its features separate classes."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import streamlit as st
import torch
from streamlit.delta_generator import DeltaGenerator
from torch import nn

from alexnet_explorer import exports, handcrafted, inspection, plots, processes, ui
from alexnet_explorer.config import PRESETS, RunConfig
from alexnet_explorer.data import (
    CLASSES,
    DATA_ENV,
    CorruptDataError,
    DataUnavailableError,
    FashionMNIST,
    subset,
    to_model_input,
)
from alexnet_explorer.model import CONV_LAYERS, build_model
from alexnet_explorer.preprocess import (
    FILE_TYPES,
    PictureError,
    open_picture,
    preprocess,
    to_tensor,
)
from alexnet_explorer.runs import (
    CheckpointError,
    RunDir,
    list_runs,
    load_weights,
    runs_root,
)

STORY = (
    "Before 2012, vision systems used features **designed by hand** — edge and orientation detectors such as "
    "Sobel and Gabor filters, pooled into descriptors like SIFT or HOG — and learned only a linear classifier "
    "on top. AlexNet **learned its features** from the data, and its first layer rediscovered much the same "
    "thing: edge, stripe and blob detectors."
)
SAMPLE_SIZES = (250, 500, 1000, 2000, 5000)
PROJECTIONS = {"PCA": "pca", "t-SNE": "tsne"}
SOURCES = {"raw pixels": "raw", "fc7 features": "fc7"}
LEARNED_SHOWN = 8  # learned filters beside the eight hand-made kernels
HOG_SIDE, HOG_CELLS = 128, 8
ACTIVATION_NAMES = {"relu": "ReLU", "sigmoid": "sigmoid"}
FOLLOW_SECONDS = 2  # how often the page looks for a new epoch of a run still training
NOISE_HIDES_BELOW = 0.5  # relative change of conv1 since its random start under which the grid still looks random


# --- cached loading (keyed by file and modification time: a run still training keeps replacing them) ----------

@st.cache_data(show_spinner=False, max_entries=1024)
def weights_file(path: str, mtime: float) -> torch.Tensor:
    """conv1's weights from a snapshot or frame file."""
    return load_weights(Path(path))


@st.cache_data(show_spinner=False)
def random_filters(seed: int = 0) -> torch.Tensor:
    """conv1 of a freshly initialised classroom network, without disturbing the global random state."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return build_model(PRESETS["classroom"]).conv1.weight.detach().clone()


@st.cache_data(show_spinner=False, max_entries=8)
def sample(source: str | None, count: int) -> tuple[torch.Tensor, np.ndarray]:
    """A seeded random sample of test images and their labels."""
    data = ui.dataset(source)
    images, labels = subset(data.test_images, data.test_labels, count, seed=0)
    return images, labels.numpy()


@st.cache_data(show_spinner=False, max_entries=16)
def features(source: str | None, count: int, kind: str, path: str = "", mtime: float = 0.0) -> np.ndarray:
    """Raw pixels (no network needed) or fc7 features of the sample, one row per image."""
    images, _ = sample(source, count)
    if kind == "raw":
        return inspection.raw_pixels(images)
    model = ui.classifier(path, mtime)
    net, config = model.net, model.config
    return inspection.extract_features(net, images, config.resize, "fc7")


@st.cache_data(show_spinner=False, max_entries=32)
def embedding(source: str | None, count: int, kind: str, method: str, path: str = "", mtime: float = 0.0) -> np.ndarray:
    """2-D projection of the sample's features."""
    return inspection.project(features(source, count, kind, path, mtime), method)


@st.cache_data(show_spinner=False, max_entries=16)
def probe(source: str | None, count: int, kind: str, path: str = "", mtime: float = 0.0) -> float:
    """Linear-probe test accuracy on the sample's features."""
    return inspection.holdout_probe(features(source, count, kind, path, mtime), sample(source, count)[1])


def load_weights_files(paths: dict[float, Path], what: str) -> dict[float, torch.Tensor]:
    """The readable files' conv1 weights by epoch; an unreadable one is reported and skipped."""
    loaded = {}
    for epoch, path in paths.items():
        try:
            loaded[epoch] = weights_file(str(path), path.stat().st_mtime)
        except (CheckpointError, OSError) as error:
            st.warning(f"{what} of epoch {epoch:g} skipped: {ui.plain_message(error)}", icon=":material/warning:")
    return loaded


def load_network(run: RunDir) -> tuple[nn.Sequential | None, RunConfig | None, str, float, str | None]:
    """The run's network, configuration, checkpoint path and mtime, or Nones and why there is none."""
    if not run.has_checkpoint():
        return None, None, "", 0.0, (f"Run `{run.name}` has no checkpoint yet: it is saved at the end of the first "
                                     "epoch. The filter tabs already work from the saved snapshots.")
    path = str(run.checkpoint_path)
    mtime = run.checkpoint_path.stat().st_mtime
    try:
        model = ui.classifier(path, mtime)
        net, config = model.net, model.config
    except CheckpointError as error:
        return None, None, "", 0.0, f"The checkpoint cannot be used: {error}"
    return net, config, path, mtime, None


# --- sections ---------------------------------------------------------------------------------------------------

def pick_tile() -> None:
    """Clicking a tile of the grid selects that filter (the tile's marker index is the filter's)."""
    indices = st.session_state.filter_grid.selection.point_indices
    if indices:
        st.session_state.filter_index = indices[0]


def shown_filters(snapshots: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
    """The snapshots, or what training added to them when that view is on (and there is an epoch after 0)."""
    changes = inspection.changes_since_init(snapshots)
    return changes if changes and st.session_state.get("filters_change") else snapshots


def choose_epoch(column: DeltaGenerator, epochs: list[int], key: str) -> int:
    """A slider over the saved epochs that starts at the newest and keeps to the newest as a run still training
    adds epochs, unless an earlier one was chosen."""
    if len(epochs) == 1:
        return epochs[0]
    newest = f"{key}_newest"
    if st.session_state.get(key) not in epochs or st.session_state.get(key) == st.session_state.get(newest):
        st.session_state[key] = epochs[-1]
    st.session_state[newest] = epochs[-1]
    return column.select_slider("Epoch", epochs, key=key, format_func=lambda e: "0 (random init)" if e == 0 else str(e))


def suggest_what_training_added(snapshots: dict[int, torch.Tensor], epoch: int) -> None:
    """Point to the 'What training added' view while the random start still dominates the weights."""
    moved = inspection.relative_change(snapshots[0], snapshots[epoch])
    if moved < NOISE_HIDES_BELOW:
        st.info(f"By epoch {epoch} the filters moved only {moved:.0%} away from their random start, so the start's "
                "noise still hides what they learned. Switch on **What training added** to see it.",
                icon=":material/lightbulb:")


@ui.guarded
def filters_section(snapshots: dict[int, torch.Tensor], name: str) -> None:
    """The conv1 grid at a chosen epoch, one filter enlarged, and the PNG export."""
    controls = st.columns([3, 2, 2], vertical_alignment="bottom")
    changes = inspection.changes_since_init(snapshots)
    added = controls[2].toggle(
        "What training added", key="filters_change", disabled=not changes,
        help="Each filter minus its random start (epoch 0): the structure training put in. On short runs it is "
             "hidden under the noise of the random start.") and bool(changes)  # may be on from another run
    shown = changes if added else snapshots
    view = "-change" if added else ""
    epochs = sorted(shown)
    epoch = choose_epoch(controls[0], epochs, key=f"filters_epoch_{name}{view}")
    normalization = "shared" if controls[1].toggle(
        "One shared colour scale", key="filters_shared",
        help="Off: each filter uses its own range, to show its pattern. On: one range for all, to show which "
             "filters are strong.") else "per_filter"
    weights = shown[epoch]
    count, kernel = weights.shape[0], weights.shape[-1]
    st.session_state.filter_index = min(st.session_state.get("filter_index", 0), count - 1)
    st.plotly_chart(plots.filters_figure(weights, normalization, st.session_state.filter_index), key="filter_grid",
                    on_select=pick_tile, selection_mode="points", width="content",
                    config={"displaylogo": False})
    if added:
        what = f"What training added to the {count} filters of {kernel}×{kernel} pixels by epoch {epoch}"
    else:
        what = f"{count} filters of {kernel}×{kernel} pixels " + (f"after epoch {epoch}" if epoch else
                                                                 "at random initialisation")
    st.caption(f"{what}. Red: positive, blue: negative. Hover a tile for its norm; click it to enlarge it.")
    if changes and not added and epoch:
        suggest_what_training_added(snapshots, epoch)
    st.download_button("Download the grid as PNG", exports.grid_png(inspection.filter_grid(weights, normalization)),
                       file_name=f"{name}-conv1{view}-epoch{epoch:03d}.png", mime="image/png",
                       icon=":material/download:")

    big, history = st.columns([1, 2])
    index = big.number_input("Filter", min_value=0, max_value=count - 1, key="filter_index")
    big.plotly_chart(plots.filter_figure(weights, index, normalization), key="filter_big")
    norms = inspection.filter_norms(weights)
    big.caption(f"{'norm of its change' if added else 'norm'} {norms[index]:.3f} "
                f"(rank {int((norms > norms[index]).sum()) + 1} of {count})")
    if len(epochs) > 1:
        history.plotly_chart(plots.filter_history_figure(shown, index, normalization, epoch), key="filter_history",
                             width="content")
        history.caption(f"Filter {index} at every saved epoch, in reading order"
                        f"{'' if added else ' (epoch 0: random init)'}.")


@ui.guarded
def evolution_section(snapshots: dict[int, torch.Tensor], frames: dict[float, torch.Tensor]) -> None:
    """The grid animated over the saved epochs and the frames within them, and how much it changed per epoch."""
    timeline = {**snapshots, **frames}
    if len(timeline) < 2:
        st.info("Only the random initialisation is saved so far: the evolution appears as the run trains.",
                icon=":material/hourglass_top:")
        return
    shared = st.session_state.get("filters_shared", False)
    shown = shown_filters(timeline)
    if len(shown) > 1:
        st.plotly_chart(plots.filter_evolution_figure(shown, "shared" if shared else "per_filter"),
                        key="filter_evolution", width="content", config={"displaylogo": False})
        watch = ("what training added grow" if shown is not timeline
                 else "structure emerge from the random noise of epoch 0")
        steps = ", in steps of a fraction of an epoch (one at each point of the training curves)" if frames else ""
        st.caption(f"Press ▶ Play to watch {watch}{steps}.")
    if len(snapshots) > 1:
        st.markdown("**How much the filters changed in each epoch**")
        st.plotly_chart(plots.filter_changes_figure(inspection.filter_changes(snapshots)), key="filter_changes")
        st.caption("‖W after the epoch − W before‖ / ‖W before‖ for all of conv1.")


def uploaded_image() -> np.ndarray | None:
    """An uploaded picture, preprocessed to 28×28 like the Classify page does."""
    upload = st.file_uploader("A picture of a garment", type=list(FILE_TYPES), key="maps_upload")
    if upload is None:
        st.info("Upload a picture, e.g. a photo of a shoe or a shirt.", icon=":material/upload:")
        return None
    try:
        result = preprocess(open_picture(upload.getvalue(), upload.name))
    except PictureError as error:
        st.error(str(error), icon=":material/error:")
        return None
    for note in result.notes:
        st.caption(note)
    return result.image28


def class_test_image(data: FashionMNIST) -> np.ndarray | None:
    """A test image chosen by class and index within it."""
    left, right = st.columns(2)
    label = left.selectbox("Class", range(len(CLASSES)), format_func=lambda c: CLASSES[c], key="maps_class")
    of_class = torch.nonzero(data.test_labels == label).flatten()
    if len(of_class) == 0:
        st.warning(f"The test set has no {CLASSES[label]} images.")
        return None
    k = right.number_input(f"Index among the {len(of_class)} test images of this class", 0, len(of_class) - 1,
                           key=f"maps_index_{label}")
    return data.test_images[int(of_class[k]), 0].numpy()


def random_test_image(data: FashionMNIST) -> np.ndarray:
    """A random test image, kept until the button asks for another."""
    if st.button("Another random image", icon=":material/casino:") or "maps_random" not in st.session_state:
        st.session_state.maps_random = int(np.random.default_rng().integers(len(data.test_images)))
    index = st.session_state.maps_random
    st.caption(f"Test image {index}: {CLASSES[int(data.test_labels[index])]}")
    return data.test_images[index, 0].numpy()


def choose_image(data_source: str | None) -> np.ndarray | None:
    """A 28×28 uint8 image from the open tab: a test image by class and index, a random one, or an upload."""
    # Every tab's widgets run on every rerun, so an upload survives a look at a test image.
    tabs = st.tabs(["Test image", "Random test image", "Upload"], key="maps_source", on_change="rerun")
    images = []
    try:
        data = ui.dataset(data_source)
    except (DataUnavailableError, CorruptDataError) as error:  # say so: the upload still works
        for tab in tabs[:2]:
            tab.error(f"Fashion-MNIST cannot be loaded: {error}", icon=":material/error:")
        images += [None, None]
    else:
        with tabs[0]:
            images.append(class_test_image(data))
        with tabs[1]:
            images.append(random_test_image(data))
    with tabs[2]:
        images.append(uploaded_image())
    return next(image for tab, image in zip(tabs, images) if tab.open)


def model_input(config: RunConfig, data_source: str | None) -> torch.Tensor | None:
    """The chosen image as the network sees it (1×1×S×S), or None until there is one."""
    image28 = choose_image(data_source)
    if image28 is None:
        return None
    return to_model_input(to_tensor(image28), config.resize)


@ui.guarded
def feature_maps_section(net: nn.Sequential, config: RunConfig, x: torch.Tensor, name: str) -> None:
    """The input as the network sees it and its activation maps at a chosen layer, strongest first."""
    left, right = st.columns([1, 3])
    with left:
        layer = st.selectbox("Layer", CONV_LAYERS, key="maps_layer")
        maps = inspection.feature_maps(net, x, layer)
        channels, height, width = maps.shape
        st.caption(f"{layer}: {channels} channels of {height}×{width} at input {config.resize}")
        st.plotly_chart(plots.image_figure(x[0, 0].numpy(), "the input", height=220), key="maps_input")
        st.caption(f"What the network sees: the image resized to {config.resize}×{config.resize}.")
        shown = channels if channels <= 96 else st.slider("Strongest channels shown", 12, channels, 48, step=12,
                                                           key=f"maps_shown_{layer}")
    order = inspection.strongest_first(maps)[:shown]
    with right:
        st.plotly_chart(plots.feature_maps_figure(maps, order), key="maps_grid", width="content",
                        config={"displaylogo": False})
        st.caption(f"The {shown} {'strongest ' if shown < channels else ''}activation maps after the "
                   f"{ACTIVATION_NAMES[config.activation]}, strongest "
                   "(highest mean) first, each scaled to its own maximum; dark tiles are filters this image does "
                   "not excite. Hover a map for its channel.")
        st.download_button("Download the maps as PNG",
                           exports.grid_png(inspection.activation_grid(maps, order), exports.SEQUENTIAL, 0.0, 1.0),
                           file_name=f"{name}-{layer}-maps.png", mime="image/png", icon=":material/download:")


@ui.guarded
def handcrafted_section(net: nn.Sequential, config: RunConfig, x: torch.Tensor, start: torch.Tensor | None) -> None:
    """The same image through hand-made kernels and HOG, beside the learned filters it excites most."""
    st.markdown(STORY)
    image = x[0, 0].double().numpy()
    bank = handcrafted.filter_bank()
    # HOG draws 1-pixel strokes per cell: at least 128 pixels keep them visible on a projector.
    hog_input = to_model_input(x, max(HOG_SIDE, config.resize))[0, 0].double().numpy()
    _, hog_picture = handcrafted.hog_image(hog_input, cell=hog_input.shape[0] // HOG_CELLS)
    st.markdown("**Designed by hand**: Sobel and Prewitt edge detectors and Gabor filters at four orientations")
    st.plotly_chart(plots.kernels_and_responses_figure(bank, handcrafted.apply_bank(image, bank)), key="handmade",
                    width="content", config={"displaylogo": False})
    picture, hog, words = st.columns([1, 1, 2], vertical_alignment="center")
    picture.plotly_chart(plots.image_figure(image, "the image", height=200), key="hog_input")
    hog.plotly_chart(plots.image_figure(np.sqrt(hog_picture), "its HOG", height=200), key="hog")  # sqrt: brighter
    words.markdown(f"**HOG** (histograms of oriented gradients) draws, for each of {HOG_CELLS}×{HOG_CELLS} cells, "
                   "how strong the edges of each direction are. A linear classifier on such descriptors was the "
                   "state of the art before AlexNet.")
    maps = inspection.feature_maps(net, x, "conv1")
    weights = net.conv1.weight.detach()
    added = start is not None and st.session_state.get("filters_change", False)
    st.markdown("**Learned by AlexNet**: " + ("what training added to the conv1 filters" if added else
                                              "conv1 filters") + ", at first the ones that respond most to this image")
    # No key: a new image resets the choice to its own strongest filters.
    top = st.multiselect("Learned filters shown", range(len(weights)), max_selections=LEARNED_SHOWN,
                         default=inspection.strongest_first(maps)[:LEARNED_SHOWN],
                         help="Pick filters you spotted in the grid, e.g. ones that look like edges.")
    if not top:
        return
    if added:
        # Filtered like the hand-made kernels above (full size, no bias or ReLU), so the two rows compare directly.
        kernels = {f"filter {i}": (weights[i, 0] - start[i, 0]).double().numpy() for i in top}
        responses = handcrafted.apply_bank(image, kernels)
        note = ("Top: what training added to each filter (its weights minus their random start); below: that "
                "kernel's response to the image, computed as for the hand-made kernels. Switch **What training "
                "added** off (First-layer filters tab) to see the network's own filters and maps.")
    else:
        kernels = {f"filter {i}": weights[i, 0].numpy() for i in top}
        responses = {f"filter {i}": maps[i].numpy() for i in top}
        note = ("Top: the kernel (red positive, blue negative); below: its response to the image, each scaled to "
                "its own largest value. The learned maps are smaller because conv1 moves 4 pixels at a time "
                "(stride 4), and after the ReLU they have no negative part.")
    st.plotly_chart(plots.kernels_and_responses_figure(kernels, responses), key="learned", width="content",
                    config={"displaylogo": False})
    st.caption(note)


@ui.guarded
def separability_section(path: str, mtime: float, data_source: str | None) -> None:
    """Projections of raw pixels and fc7 features coloured by class, with a linear probe on each, on request."""
    st.markdown("Do the learned features make the classes easier to tell apart? Project a sample of test images "
                "to 2-D from their raw pixels and from fc7 (the last hidden layer), and train a linear classifier "
                "(a *linear probe*) on 70% of them, tested on the other 30%.")
    left, middle, right = st.columns([2, 2, 1], vertical_alignment="bottom")
    count = left.select_slider("Test images", SAMPLE_SIZES, value=1000, key="sep_count",
                               help="t-SNE is the slow part: all of it takes about 15 s for 1000 images on two CPU "
                                    "cores, and t-SNE grows faster than the number of images.")
    methods = middle.pills("Projections", list(PROJECTIONS), default=list(PROJECTIONS), selection_mode="multi",
                           key="sep_methods")
    request = (path, mtime, count, tuple(methods))
    if right.button("Compute", type="primary", icon=":material/play_arrow:", disabled=not methods):
        st.session_state.sep_request = request
    if st.session_state.get("sep_request") != request:
        st.info("Press **Compute** (the results are kept for this checkpoint).", icon=":material/touch_app:")
        return
    accuracies, embeddings = {}, {}
    bar, steps = st.progress(0.0), len(SOURCES) * (1 + len(methods))
    for label, kind in SOURCES.items():
        checkpoint = (path, mtime) if kind == "fc7" else ()  # raw pixels do not depend on the network
        bar.progress((len(accuracies) + len(embeddings)) / steps, text=f"Linear probe on {label}…")
        accuracies[label] = probe(data_source, count, kind, *checkpoint)
        for method in methods:
            bar.progress((len(accuracies) + len(embeddings)) / steps, text=f"{method} of {label}…")
            embeddings[f"{label} · {method}"] = embedding(data_source, count, kind, PROJECTIONS[method], *checkpoint)
    bar.empty()
    raw, learned = accuracies["raw pixels"], accuracies["fc7 features"]
    left, right = st.columns(2)
    left.metric("Linear probe on raw pixels", f"{raw:.1%}")
    right.metric("Linear probe on fc7 features", f"{learned:.1%}", delta=f"{100 * (learned - raw):+.1f} points")
    if learned <= raw:
        st.caption("fc7 does not beat raw pixels yet: this network has not learned much so far. Train it longer.")
    labels = sample(data_source, count)[1]
    st.plotly_chart(plots.projections_figure(embeddings, labels, CLASSES), key="projections",
                    config={"displaylogo": False})
    st.caption(f"{len(labels)} test images. PCA keeps the two directions of largest variance; t-SNE keeps "
               "neighbours together. Click a class in the legend to hide it.")


@st.fragment(run_every=FOLLOW_SECONDS)
def follow_training(run: RunDir, seen: tuple[str, list[int]]) -> None:
    """While the run trains, redraw the whole page when it saves another epoch's filters or ends."""
    if (processes.refresh_status(run).get("state", "failed"), run.filter_epochs()) != seen:
        st.rerun()


# --- page ---------------------------------------------------------------------------------------------------------

@ui.guarded
def page() -> None:
    """The whole page; each section also guards itself, so one failure leaves the others working."""
    st.title("Filters and features")
    st.caption("What AlexNet's first layer learns, what the network sees in an image, and why its features "
               "separate the classes.")
    data_source = os.environ.get(DATA_ENV)
    with st.sidebar:  # keeps the main area for the figures, on one projector screen
        run = ui.run_picker(list_runs(), key="filters_run")
    if run is None:
        st.info("No training run yet, so these are the filters of a **randomly initialised** network (seed 0): "
                "pure noise. Train one on the **Train** page, or from a terminal:\n\n"
                f"`python -m alexnet_explorer train --preset classroom --run-dir {Path(runs_root()) / 'classroom'}`",
                icon=":material/info:")
        snapshots, frames, name = {0: random_filters()}, {}, "random-init"
        net, config, checkpoint_path, checkpoint_mtime, problem = (
            None, None, "", 0.0, "Feature maps and projections need a trained network: train a run first.")
    else:
        name = run.name
        state = processes.refresh_status(run).get("state", "failed")
        with st.sidebar:
            ui.status_badge(state)
            try:
                st.caption(run.read_config().summary())
            except ValueError as error:
                st.caption(str(error))
            if state in processes.ACTIVE_STATES:
                st.caption("Still training: the page is redrawn after each epoch.")
                follow_training(run, (state, run.filter_epochs()))
        snapshots = load_weights_files({e: run.filters_path(e) for e in run.filter_epochs()}, "Snapshot")
        frames = load_weights_files({e: run.frame_path(e) for e in run.frame_epochs()}, "Frame")
        net, config, checkpoint_path, checkpoint_mtime, problem = load_network(run)
        if not snapshots:
            st.warning(f"Run `{name}` has no readable filter snapshots yet; showing a random initialisation.",
                       icon=":material/warning:")
            snapshots, frames = {0: random_filters()}, {}  # frames without their run's start would mislead

    filters_tab, evolution_tab, maps_tab, handmade_tab, separable_tab = st.tabs(
        ["First-layer filters", "Evolution", "Feature maps", "Hand-crafted vs learned", "Separable features"])
    with filters_tab:
        filters_section(snapshots, name)
    with evolution_tab:
        evolution_section(snapshots, frames)
    with maps_tab:
        x = None
        if net is None:
            st.warning(problem, icon=":material/warning:")
        else:
            x = model_input(config, data_source)
            if x is not None:
                feature_maps_section(net, config, x, name)
    with handmade_tab:
        if net is None:
            st.markdown(STORY)
            st.warning(problem, icon=":material/warning:")
        elif x is None:
            st.info("Choose an image in the Feature maps tab.", icon=":material/image:")
        else:
            start = snapshots[0] if inspection.changes_since_init(snapshots) else None  # this run's own start
            handcrafted_section(net, config, x, start)
    with separable_tab:
        if net is None:
            st.warning(problem, icon=":material/warning:")
        else:
            separability_section(checkpoint_path, checkpoint_mtime, data_source)


page()
