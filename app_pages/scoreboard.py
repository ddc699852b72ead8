"""Scoreboard page: the chapter's claim measured — hand-made pipelines, LeNet and AlexNet on one board."""
from __future__ import annotations

import streamlit as st

from alexnet_explorer import plots, scoreboard
from app_pages.widgets.figures import PLOTLY_CONFIG
from app_pages.widgets.guard import guarded

STORY = ("Before 2012, features were **made by hand** (SIFT, HOG, …) and only a classifier on top was learned; "
         "AlexNet showed that **learned features** can beat them, and LeNet was the network before it. Every "
         "finished run is here, whatever it is: train `hog-svm`, `hog-kernel-svm`, `raw-linear`, `lenet`, "
         "`lenet-modern` and `classroom` on the **Train** page and see which wins on this data.")


@guarded
def page() -> None:
    """The board: one sentence, the chart with the published figures, the table, and why."""
    st.title("Scoreboard")
    st.markdown(STORY)
    board = scoreboard.entries()
    if not board:
        st.info("No finished run yet. Train a hand-made pipeline (preset **hog-svm**, about two minutes on a CPU) "
                "and a network (**lenet-modern** takes a minute or two, **classroom** a few) on the **Train** page.",
                icon=":material/scoreboard:")
        return
    st.markdown(scoreboard.verdict(board))
    references = [(reference.label, reference.accuracy) for reference in scoreboard.REFERENCES]
    st.plotly_chart(plots.scoreboard_figure([e.run for e in board], [e.accuracy for e in board],
                                            [e.handmade for e in board], [e.full_test for e in board], references),
                    key="scoreboard", config=PLOTLY_CONFIG)
    st.caption("Orange: hand-made pipelines; blue: learned networks; grey: runs tested on fewer than all 10,000 "
               "test images (the *test images* setting), which the sentence above leaves out. Dotted: "
               + "; ".join(f"{r.label}, {r.accuracy:.1%} ({r.source})" for r in scoreboard.REFERENCES) + ".")
    st.dataframe(scoreboard.table(board), hide_index=True,
                 column_config={"test accuracy": st.column_config.NumberColumn(format="percent"),
                                "test images": st.column_config.NumberColumn(format="localized"),
                                "training images": st.column_config.NumberColumn(format="localized"),
                                "learned parameters": st.column_config.NumberColumn(format="localized"),
                                "settings": st.column_config.TextColumn(width="large")})
    st.caption("Test accuracy after the run's last epoch (the Train page's run history shows each run's best); "
               "training time is the wall time on the machine that trained the run, evaluation included; learned "
               "parameters are the numbers training sets (a hand-made pipeline learns only its classifier).")
    st.markdown(scoreboard.WHY)


page()
