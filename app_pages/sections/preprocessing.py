"""How a drawn or uploaded picture was prepared: each step's picture, with the switch of a step that can be switched
off above its own picture."""
from __future__ import annotations

import dataclasses

import streamlit as st

from alexnet_explorer import exports
from alexnet_explorer.preprocess import Preprocessed, PreprocessOptions
from app_pages.widgets.guard import guarded

SWITCHES = tuple(field.name for field in dataclasses.fields(PreprocessOptions))
STAGE_SIDE = 140  # pixels: every step's picture is framed in a square this big, so they line up


def switch_key(field: str) -> str:
    return f"classify_{field}"


def keep_switches() -> PreprocessOptions:
    """Keep the switches' values while a tab without them is open; the options they choose."""
    # Streamlit forgets a widget's value on a run that does not draw it; writing the value back keeps it. The
    # defaults are set here, not on the widgets: a widget given both warns on every run.
    for field in SWITCHES:
        st.session_state[switch_key(field)] = st.session_state.get(switch_key(field), True)
    # Read before the switches are drawn (with the steps' pictures): the pictures are prepared first.
    return PreprocessOptions(**{field: st.session_state[switch_key(field)] for field in SWITCHES})


@guarded
def show_stages(prepared: Preprocessed) -> None:
    """Each step, left to right, at one size: its switch (a step always done: a box ticked for good), its picture
    and what it did."""
    st.markdown("**Preprocessing steps** — switch one off to see why it matters")
    for column, stage in zip(st.columns(len(prepared.stages)), prepared.stages):
        if stage.switch:
            column.checkbox(stage.name, key=switch_key(stage.switch))
        else:
            column.checkbox(stage.name, value=True, disabled=True, key=f"classify_always_{stage.name}",
                            help="Always done")
        column.image(exports.framed(stage.image, STAGE_SIDE))
        column.caption(stage.explanation)
