"""Where the network errs: its confusion matrix on Fashion-MNIST's test set beside the one on the class's own test
set, the most confused pairs, and the pictures of a chosen cell with their probabilities."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st

from alexnet_explorer import exports, plots
from alexnet_explorer.class_test_set import Prepared
from alexnet_explorer.data import CLASSES, FashionMNIST
from alexnet_explorer.evaluation import Answers, Evaluation, most_confused
from app_pages.sections.class_test_set import manage_class_test_set
from app_pages.widgets.figures import PLOTLY_CONFIG_NO_TOOLBAR
from app_pages.widgets.guard import guarded

CELL_KEY = "classify_cell"  # (which set, true class, answer) of the cell whose pictures are shown
SHOWN = 24  # pictures of a cell at most
SETS = {"test": "Fashion-MNIST's test set", "class": "our class's test set"}


def pick_cell(which: str) -> None:
    """A click on a matrix's cell (its marker's index is true class × 10 + answer) or on a listed mistake."""
    chart = st.session_state.get(f"classify_confusion_{which}")
    indices = chart.selection.point_indices if chart is not None else []
    if indices:
        st.session_state[CELL_KEY] = (which, *divmod(indices[0], len(CLASSES)))
        st.session_state[f"classify_mistakes_{which}"] = None
    elif st.session_state.get(f"classify_mistakes_{which}"):
        st.session_state[CELL_KEY] = (which, *st.session_state[f"classify_mistakes_{which}"])


def show_matrix(which: str, answers: Answers) -> None:
    """One set's confusion matrix (a click shows a cell's pictures) and its most confused pairs."""
    cell = st.session_state.get(CELL_KEY)
    selected = tuple(cell[1:]) if cell and cell[0] == which else None
    st.plotly_chart(plots.confusion_figure(answers.confusion(), CLASSES, selected), key=f"classify_confusion_{which}",
                    on_select=lambda: pick_cell(which), selection_mode="points", config=PLOTLY_CONFIG_NO_TOOLBAR)
    mistakes = {(m.true, m.answered): m.describe() for m in most_confused(answers.confusion())}
    if mistakes:
        st.radio("Most confused: pick one, or click a cell, to see its pictures", list(mistakes), index=None,
                 format_func=mistakes.get, key=f"classify_mistakes_{which}", on_change=lambda: pick_cell(which))


def saved_when(evaluation: Evaluation, noun: str = "network") -> str:
    """Which network answered: the one after a whole epoch, or one saved partway through the next (a stopped run); a
    hand-made pipeline is fitted once."""
    if noun == "pipeline":
        return "the pipeline as fitted"
    if evaluation.batch:
        batches = "1 batch" if evaluation.batch == 1 else f"{evaluation.batch:,} batches"
        return f"network saved {batches} into epoch {evaluation.epoch + 1}"
    return f"network after epoch {evaluation.epoch}"


@guarded
def where_it_errs_section(evaluation: Evaluation, data: FashionMNIST, ours: tuple[Prepared, Answers] | None,
                          noun: str = "network") -> None:
    """The two confusion matrices side by side, then the chosen cell's pictures."""
    st.subheader("Where it errs")
    st.caption(f"Rows are what the pictures are, columns what the {noun} answered; each row's colours are the "
               "shares of that class's pictures, and hovering a cell gives the count. The diagonal is right.")
    official, own = st.columns([3, 2], gap="large")
    with official:
        st.markdown(f"**Fashion-MNIST's test set**: {len(evaluation.labels):,} images, accuracy "
                    f"**{evaluation.accuracy:.1%}** ({saved_when(evaluation, noun)})")
        show_matrix("test", evaluation)
    with own:
        if ours is not None and len(ours[1].labels):
            count = len(ours[1].labels)
            st.markdown(f"**Our class's test set**: {count} picture{'s' * (count != 1)}, accuracy "
                        f"**{ours[1].accuracy:.1%}** — how it does on our drawings and photos")
            show_matrix("class", ours[1])
        manage_class_test_set(ours[0] if ours is not None else None)
    cell = st.session_state.get(CELL_KEY)
    if cell and cell[0] == "test":
        indices = evaluation.test_indices
        show_cell(cell, evaluation, lambda i: data.test_images[indices[i], 0].numpy(), lambda i: f"#{indices[i]}")
    elif cell and cell[0] == "class" and ours is not None and len(ours[1].labels):
        show_cell(cell, ours[1], ours[0].images28.__getitem__, lambda i: f"kept picture {i + 1}")


def show_cell(cell: tuple[str, int, int], answers: Answers, picture: Callable[[int], np.ndarray],
              name: Callable[[int], str]) -> None:
    """The pictures of class ``true`` answered ``answered`` (each by its position in ``answers``), with both
    classes' probabilities."""
    which, true, answered = cell
    chosen = answers.cell(true, answered)
    verb = "answered rightly" if true == answered else f"taken for {CLASSES[answered]}"
    st.markdown(f"**{CLASSES[true]} {verb}** in {SETS[which]}: {len(chosen)} of {(answers.labels == true).sum()}"
                + (f" (the first {SHOWN} shown)" if len(chosen) > SHOWN else ""))
    if not len(chosen):
        st.caption("No picture here.")
        return
    captions = []
    for i in chosen[:SHOWN]:
        probs = answers.probabilities[i]
        both = f"{CLASSES[answered]} {probs[answered]:.0%}" + (
            f", {CLASSES[true]} {probs[true]:.0%}" if true != answered else "")
        captions.append(f"{name(i)}: {both}")
    st.image([exports.fitted(picture(i), 112) for i in chosen[:SHOWN]], caption=captions, width=112)
