"""The network's answer to one picture: the class, how sure it is, every class's probability, and whether the picture
is unlike the garments it learned from."""
from __future__ import annotations

import streamlit as st

from alexnet_explorer import plots, prediction
from alexnet_explorer.classifier import Classifier
from alexnet_explorer.data import CLASSES
from alexnet_explorer.pipelines import PIPELINES
from alexnet_explorer.unfamiliar import HINTS, FamiliarityFit, Verdict
from app_pages.widgets.figures import PLOTLY_CONFIG_NO_TOOLBAR
from app_pages.widgets.pictures import Picture


def show_answer(model: Classifier, picture: Picture, familiarity: FamiliarityFit | None) -> int:
    """The predicted class, its confidence, whether the answer is a guess, and every class's probability; returns
    the predicted class."""
    all_probs, verdicts = prediction.answer(model, [picture.image28], familiarity)
    probs = all_probs[0]
    top, true_label = int(probs.argmax()), picture.true_label
    if model.config.network in PIPELINES:  # its scores are a linear classifier's margins, not a network's logits
        st.markdown(f"### The pipeline says: **{CLASSES[top]}**")
        st.caption("A hand-made pipeline's ten scores are its linear classifier's margins; turned into "
                   "probabilities as a network's are, they look surer than they are (an SVM's margins are large).")
    else:
        st.markdown(f"### The network says: **{CLASSES[top]}** ({probs[top]:.0%} sure)")
    if true_label is not None:
        right = top == true_label
        st.badge("right" if right else f"wrong: it is a {CLASSES[true_label]}", color="green" if right else "red",
                 icon=":material/check:" if right else ":material/close:")
    if verdicts is not None:
        show_verdict(verdicts[0])
    st.plotly_chart(plots.probabilities_figure(probs, CLASSES, true_label), key="classify_probabilities",
                    config=PLOTLY_CONFIG_NO_TOOLBAR)
    st.caption(f"The {model.noun} always answers with one of its ten classes — even for a drawing of a cat"
               + (": the line above the chart says when the picture is unlike anything it learned from."
                  if familiarity is not None else "."))
    return top


def show_verdict(verdict: Verdict) -> None:
    """Whether the answer is a guess, why, and a hint for each cause the picture shows."""
    if verdict.flagged:  # a badge, not a warning box: the picture is fine, it is the answer that is unsure
        st.badge("a guess", icon=":material/help:", color="orange")
        st.markdown(f":orange[**{verdict.message()}**] {verdict.detail()}")
    else:
        st.caption(f"{verdict.message()} {verdict.detail()}")
    for hint in verdict.hints:
        st.info(HINTS[hint][1], icon=":material/lightbulb:")
