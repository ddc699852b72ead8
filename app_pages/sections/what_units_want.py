"""What a unit or a class wants to see: the input that excites it most, found by gradient ascent from noise, for the
ten classes and for the strongest units of the layer chosen in "What units respond to" above."""
from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from alexnet_explorer import feature_visualisation, plots, top_images
from alexnet_explorer.classifier import Classifier
from alexnet_explorer.data import CLASSES
from alexnet_explorer.feature_visualisation import DamagedPictures, UnitPictures
from alexnet_explorer.model import conv_layers, inspectable_layers, output_layer
from alexnet_explorer.runs import RunDir
from app_pages.widgets import loaders, test_images
from app_pages.widgets.figures import PLOTLY_CONFIG_NO_TOOLBAR
from app_pages.widgets.guard import guarded
from app_pages.widgets.progress import time_left_bar

GRID = 10  # pictures of a layer's units: the chosen one and the strongest others
STORY = ("Instead of searching the test set, ask the network itself: starting from noise, change the picture step by "
         "step so that one unit, or one class's score, rises as high as it can. The picture is a 28-pixel one on "
         "black, like the garments it learned from, shifted a little at random at every step and built from smooth "
         "waves first, so that what grows is a pattern the unit answers to wherever it lies, not pixel noise.")
NOTE = ("Read these with care: each shows what excites its unit *most*, not what the unit *is* or does on real "
        "garments. It exaggerates: strokes brighter and more of them than any garment has, and for some units a "
        "texture — stripes, a grid of dots — repeated over the picture rather than a sleeve or a sole.")


def picture_with_progress(run: RunDir, classifier: Classifier, wanted: list[tuple[str, int]], what: str) -> None:
    """Compute and keep the missing pictures under a progress bar that says how long is left."""
    with time_left_bar(lambda done, total: f"Picturing {what}: step {done} of {total}") as report:
        feature_visualisation.pictures_for(run, classifier.net, classifier.size, classifier.epoch, classifier.batch,
                                           wanted, report)


def picture_grid(run: RunDir, classifier: Classifier, kept: UnitPictures, layer: str, units: Sequence[int],
                 titles: Sequence[str], what: str, how_to_read: str) -> None:
    """The kept pictures of a layer's units in a grid, each titled with its strength; else the offer to compute them."""
    wanted = [(layer, unit) for unit in units]
    missing = [pair for pair in wanted if pair not in kept.pictures]
    if missing:
        st.info(f"Picturing {what} takes {feature_visualisation.STEPS} steps of gradient ascent at "
                f"{classifier.size} px for {len(missing)} picture{'s' if len(missing) > 1 else ''}, computed "
                "together (a few seconds each on a CPU); they are then kept with the run.", icon=":material/touch_app:")
        if st.button(f"Picture {what}", icon=":material/play_arrow:", key=f"wants_{layer}"):
            picture_with_progress(run, classifier, wanted, what)
            st.rerun()  # drawn again from the kept pictures
        return
    pictures = [kept.pictures[pair] for pair in wanted]
    st.plotly_chart(plots.top_images_figure([p.pixels for p in pictures], None,
                                            [f"{title} · {p.strength:.2f}" for title, p in zip(titles, pictures)],
                                            columns=5, tile_px=130),
                    key=f"wants_{layer}_figure", width="content", config=PLOTLY_CONFIG_NO_TOOLBAR)
    st.caption(how_to_read)


@guarded
def what_units_want_section(run: RunDir, network: loaders.TrainedNetwork, data_source: str | None) -> None:
    """The input each class and each of the chosen layer's strongest units wants to see, kept with the run."""
    st.subheader("What a unit or a class wants to see")
    st.markdown(STORY)
    classifier = network.classifier
    try:
        kept = feature_visualisation.load(run.unit_pictures_path, classifier.epoch, classifier.batch, classifier.size)
    except DamagedPictures as error:
        st.warning(str(error), icon=":material/warning:")
        kept = UnitPictures(classifier.epoch, classifier.batch, classifier.size, {})
    st.caption(NOTE)
    size = f"28×28 (enlarged to {classifier.size} px as the training pictures are)"
    classes_layer = output_layer(classifier.net)
    picture_grid(run, classifier, kept, classes_layer, range(len(CLASSES)), CLASSES, "the ten classes",
                 f"How to read it: the {size} input that raises each class's score (its {classes_layer} logit, the "
                 "number above "
                 "the picture) most; light is bright, and a pattern repeated all over means the class answers to the "
                 "texture, not to a place.")
    layers = inspectable_layers(classifier.net)
    layer = st.session_state.get("responses_layer", layers[0])
    layer = layer if layer in layers else layers[0]
    kind = "channel" if layer in conv_layers(classifier.net) else "unit"
    data = test_images.load_test_set(data_source)
    if data is None:
        return
    ranking = top_images.load_ranking(run.top_images_path(classifier.epoch, classifier.batch), len(data.test_labels))
    if ranking is None:
        st.info(f"{layer}'s strongest {kind}s are those the test images excite most: rank the test images above "
                "first, and their pictures can be made here.", icon=":material/touch_app:")
        return
    chosen = int(st.session_state.get(f"responses_unit_{layer}", 0))
    units = [chosen] + [unit for unit in top_images.strongest_units(ranking, layer, GRID) if unit != chosen]
    titles = [f"{kind} {unit}{' (chosen)' if unit == chosen else ''}" for unit in units[:GRID]]
    mean = "mean activation over the whole picture" if layer in conv_layers(classifier.net) else "activation"
    picture_grid(run, classifier, kept, layer, units[:GRID], titles, f"{layer}'s strongest {kind}s",
                 f"How to read it: the {size} input that raises each {kind}'s {mean} (the number above the picture) "
                 f"most — the {kind} chosen above first, then those the test images excite most. Compare each with "
                 "its top test images above: the picture exaggerates what they share.")
