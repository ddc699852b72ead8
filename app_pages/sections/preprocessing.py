"""How a drawn or uploaded picture was prepared: a switch per preprocessing step, and each step's picture."""
from __future__ import annotations

import streamlit as st

from alexnet_explorer import exports
from alexnet_explorer.preprocess import Preprocessed, PreprocessOptions
from app_pages.widgets.guard import guarded

STAGE_SWITCHES = {"exif_transpose": "Upright", "composite_alpha": "Remove transparency",
                  "auto_invert": "Light on black", "crop_to_object": "Crop to the garment",
                  "pad_to_square": "Pad to a square"}
STAGE_SIDE = 140  # pixels: every step's picture is framed in a square this big, so they line up


def switch_key(field: str) -> str:
    return f"classify_{field}"


def keep_switches() -> PreprocessOptions:
    """Keep the switches' values while a tab without them is open; the options they choose."""
    # Streamlit forgets a widget's value on a run that does not draw it; writing the value back keeps it. The
    # defaults are set here, not on the widgets: a widget given both warns on every run.
    for field in STAGE_SWITCHES:
        st.session_state[switch_key(field)] = st.session_state.get(switch_key(field), True)
    # Read before the switches are drawn (under the tabs): the pictures are prepared first.
    return PreprocessOptions(**{field: st.session_state[switch_key(field)] for field in STAGE_SWITCHES})


def show_switches() -> None:
    """A checkbox per preprocessing stage, to switch it off."""
    st.markdown("**Preprocessing steps** — switch one off to see why it matters")
    for column, (field, label) in zip(st.columns(len(STAGE_SWITCHES)), STAGE_SWITCHES.items()):
        column.checkbox(label, key=switch_key(field))


@guarded
def show_stages(prepared: Preprocessed) -> None:
    """Each step that changed the picture, left to right, at one size with its name and explanation under it."""
    for column, stage in zip(st.columns(len(prepared.stages)), prepared.stages):
        column.image(exports.framed(stage.image, STAGE_SIDE), caption=stage.name)
        column.caption(stage.explanation)
