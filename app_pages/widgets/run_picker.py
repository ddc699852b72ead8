"""Choosing a run: the run picker, which opens on the class run, and a run's state as a coloured badge."""
from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from alexnet_explorer import classroom
from alexnet_explorer.runs import RunDir

STATE_COLORS = {"queued": "gray", "starting": "blue", "running": "blue", "finished": "green", "stopped": "orange",
                "failed": "red"}


def status_badge(state: str, stopping: bool = False) -> None:
    """A coloured badge for a run's state ('stopping' while a stop is pending)."""
    label = "stopping…" if stopping and state == "running" else state
    st.badge(label, color=STATE_COLORS.get(state, "gray"))


def run_picker(runs: Sequence[RunDir], key: str, label: str = "Run") -> RunDir | None:
    """A select box of runs by their short names (folder names underneath), which moves to the class run once each
    time the instructor pins another; None when there are none."""
    if not runs:
        return None
    by_name = {run.name: run for run in runs}
    pinned = classroom.read_settings(runs[0].path.parent).class_run
    if pinned in by_name and st.session_state.get(f"{key}_pin_seen") != pinned:
        st.session_state[key] = pinned
    st.session_state[f"{key}_pin_seen"] = pinned
    name = st.selectbox(label, list(by_name), key=key, format_func=lambda name: by_name[name].title)
    return by_name.get(name)
