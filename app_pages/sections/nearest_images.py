"""What the network compares the picture with: the training images nearest to it in fc7 space."""
from __future__ import annotations

from collections import Counter

import numpy as np
import streamlit as st

from alexnet_explorer import exports, neighbours, pipelines
from alexnet_explorer.classifier import Classifier
from alexnet_explorer.data import CLASSES, CorruptDataError, DataUnavailableError, data_root_from_env
from alexnet_explorer.model import last_hidden_layer, layer_units
from alexnet_explorer.runs import RunDir
from app_pages.widgets import loaders
from app_pages.widgets.guard import guarded
from app_pages.widgets.progress import time_left_bar


def compared_features(model: Classifier) -> str:
    """What the nearest images are measured in, for people: a network's last hidden layer, or what a pipeline's
    classifier reads."""
    layer = last_hidden_layer(model.net)
    if pipelines.is_pipeline(model.net):
        return f"the {layer_units(model.net, layer):,} numbers its linear classifier reads"
    return f"the {layer_units(model.net, layer):,} numbers of its last hidden layer, {layer}"


def find_with_progress(run: RunDir, model: Classifier) -> None:
    """Compute and keep the training images' fc7 features under a progress bar that says how long is left."""
    data = loaders.dataset(data_root_from_env(), allow_download=False)
    with time_left_bar(lambda done, total: f"Putting the training images through the network: {done:,} of "
                       f"{total:,}") as report:
        neighbours.features_for(run, model, data, report)


@guarded
def show_nearest_images(run: RunDir, model: Classifier, image28: np.ndarray) -> None:
    """The NEAREST training images to the picture in the space of the network's last hidden layer (AlexNet's fc7),
    with their classes and distances."""
    st.subheader("What it compares your picture with")
    pool = loaders.training_features(run)
    if pool is None:
        st.info(f"Which training images does the {model.noun} find most like this picture? It compares "
                f"them by {compared_features(model)}: that takes one pass over "
                f"{neighbours.POOL:,} of its training "
                f"images at {model.size} px, once for this network; they are then kept with the run.",
                icon=":material/touch_app:")
        if st.button("Find the nearest training images", key="classify_neighbours", icon=":material/play_arrow:"):
            try:
                find_with_progress(run, model)
            except (DataUnavailableError, CorruptDataError) as error:
                st.warning(f"The training images are not available: {error}", icon=":material/warning:")
                return
            st.rerun()
        return
    data = loaders.dataset(data_root_from_env(), allow_download=False)
    nearest = neighbours.nearest(model, pool, image28)
    for column, n in zip(st.columns(len(nearest)), nearest):  # a column each: tiles of one size whatever the caption
        column.image(exports.fitted(data.train_images[n.position, 0].numpy(), 84),
                     caption=f"{CLASSES[n.label]} · {n.distance:.1f}")
    (common, count), = Counter(CLASSES[n.label] for n in nearest).most_common(1)
    st.caption(f"Of {len(pool.labels):,} of its training images, the {model.noun} finds your picture most like these "
               f"{len(nearest)}: the nearest by {compared_features(model)}, nearest "
               f"first, each with its class and its distance from your picture. {count} of the {len(nearest)} are "
               f"{common}.")
