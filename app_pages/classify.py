"""Classify page: draw, upload or pick a garment; see how it is prepared, what the network answers and whether the
picture is unlike what it learned from, where it looked, and where it errs on its test set and on ours."""
from __future__ import annotations

import streamlit as st

from alexnet_explorer import class_test_set, processes
from alexnet_explorer.classifier import Classifier, describe_progress
from alexnet_explorer.data import data_root_from_env
from alexnet_explorer.history import learned_nothing
from alexnet_explorer.pipelines import PIPELINES
from alexnet_explorer.preprocess import PreprocessOptions
from alexnet_explorer.runs import CheckpointError, RunDir, list_runs
from app_pages.sections.answer import show_answer
from app_pages.sections.class_test_set import offer_to_keep
from app_pages.sections.first_network import TRAIN_PAGE, offer_training
from app_pages.sections.nearest_images import show_nearest_images
from app_pages.sections.preprocessing import keep_switches, show_stages
from app_pages.sections.where_it_errs import where_it_errs_section
from app_pages.sections.where_it_looked import EXPLANATIONS, show_where_it_looked
from app_pages.widgets import loaders, picture_tabs
from app_pages.widgets.guard import guarded, plain_message
from app_pages.widgets.pictures import DRAW, PICK, UPLOAD, PictureSources
from app_pages.widgets.run_picker import run_picker

PICTURE_TABS = PictureSources("classify", {DRAW: "Draw", UPLOAD: "Upload", PICK: "Pick a test image"},
                              answer_beside=True)


def choose_classifier() -> tuple[RunDir, Classifier] | None:
    """The run picker (the class run, this browser's last choice or the best finished run first), the run and its
    network; None, after saying why, if there is none."""
    runs = [run for run in list_runs() if run.has_checkpoint()]
    if not runs:
        offer_training()
        return None
    picker, about = st.columns([1, 2], vertical_alignment="bottom")
    with picker:
        opening = run_picker(runs, key="classify_run", label="Trained network (run)")
    run = opening.run
    try:
        model = loaders.classifier(str(run.checkpoint_path), run.checkpoint_path.stat().st_mtime)
    except (CheckpointError, OSError) as error:
        st.error(f"The network of run `{run.title}` cannot be used: {plain_message(error)}. "
                 "Choose another run, or train a new one on the Train page.", icon=":material/error:")
        st.page_link(TRAIN_PAGE, label="Go to the Train page", icon=":material/model_training:")
        return None
    state = processes.refresh_status(run).get("state", "failed")
    training = " — replaced after each epoch while it trains" if state in processes.ACTIVE_STATES else ""
    if model.config.network in PIPELINES:
        about.caption(f"{opening.why.capitalize()}, **{state}** — {model.config.summary()}: a hand-made pipeline, "
                      "its features computed by a fixed recipe and its linear classifier fitted in one go.")
    else:
        about.caption(f"{opening.why.capitalize()}, **{state}** — {model.config.summary()}. Its network as saved "
                      f"{describe_progress(model)}. A run keeps only its latest network (earlier epochs keep just "
                      f"conv1's filters, for the Filters page), so this is the one epoch that can answer{training}.")
    nothing = learned_nothing(run)
    if nothing:
        st.info(nothing, icon=":material/trending_flat:")
    return run, model


def keep_settings() -> PreprocessOptions:
    """Keep the preprocessing switches and the explanation chosen while a tab without them is open; the switches'
    options."""
    # The explanation's default is set here, not on the widget: a widget given both warns on every run.
    st.session_state.classify_explain = st.session_state.get("classify_explain", EXPLANATIONS[0])
    return keep_switches()


@guarded
def classify_page() -> None:
    """Network; a tab per way to get a picture; the open tab's answer, where it looked and how it was prepared;
    where the network errs."""
    chosen = choose_classifier()
    if chosen is None:
        return
    run, model = chosen
    source = data_root_from_env()
    evaluation = loaders.run_evaluation(run, source)
    familiarity = evaluation.familiarity if evaluation is not None else None
    choice = picture_tabs.choose_picture(PICTURE_TABS, source, keep_settings(), model, familiarity)
    picture = choice.picture
    if choice.problem:
        choice.area.warning(choice.problem, icon=":material/warning:")
    if picture is not None:
        for note in picture.prepared.notes if picture.prepared else []:
            choice.area.info(note, icon=":material/info:")
        with choice.beside:
            top = show_answer(model, picture, familiarity)
            if picture.prepared is not None:  # a drawing or an upload: it may join the class's test set
                offer_to_keep(picture)
        show_where_it_looked(model, picture.image28, top)
        show_nearest_images(run, model, picture.image28)
    if choice.source != PICK and picture is not None:  # test images go to the network as they are
        st.subheader("How the picture was prepared")
        show_stages(picture.prepared)
    if evaluation is not None:
        kept = tuple((str(p.path), p.label) for p in class_test_set.kept())
        network = loaders.trained_network(run)
        ours = loaders.class_test_answers(network.path, network.mtime, kept) if kept else None
        where_it_errs_section(evaluation, loaders.dataset(source, allow_download=False), ours, model.noun)


st.title("Classify a garment")
st.caption("Draw a garment, upload a picture or pick one of Fashion-MNIST's test images: the trained network "
           "(AlexNet or LeNet), or a hand-made pipeline on a pipeline's run, answers, and shows where it looked.")
classify_page()
