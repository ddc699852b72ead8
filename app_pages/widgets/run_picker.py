"""Choosing a run: the run picker, which opens on the class run, this browser's last choice or the best finished run,
and a run's state as a coloured badge."""
from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from alexnet_explorer import classroom, history
from alexnet_explorer.history import Choice, Opening
from alexnet_explorer.runs import RunDir

STATE_COLORS = {"queued": "gray", "starting": "blue", "running": "blue", "finished": "green", "stopped": "orange",
                "failed": "red"}
CHOICE_KEY = "chosen_run"  # this browser's last choice of a run, on any page: every picker opens on it


def status_badge(state: str, stopping: bool = False) -> None:
    """A coloured badge for a run's state ('stopping' while a stop is pending)."""
    label = "stopping…" if stopping and state == "running" else state
    st.badge(label, color=STATE_COLORS.get(state, "gray"))


def remember_choice(key: str, class_run: str | None) -> None:
    """Keep the run just chosen in a picker for the session's other pages and visits."""
    st.session_state[CHOICE_KEY] = Choice(st.session_state[key], class_run)


def run_picker(runs: Sequence[RunDir], key: str, label: str = "Run") -> Opening | None:
    """A select box of runs by their short names (folder names underneath), open on history.run_to_open's run: the
    class run (again whenever the instructor pins another), this browser's last choice on any page, else the best
    finished run; None when there are none."""
    class_run = classroom.read_settings(runs[0].path.parent).class_run if runs else None
    opening = history.run_to_open(runs, class_run, st.session_state.get(CHOICE_KEY))
    if opening is None:
        return None
    by_name = {run.name: run for run in runs}
    # Written on every run: Streamlit forgets a picker's value while another page is shown.
    st.session_state[key] = opening.run.name
    st.selectbox(label, list(by_name), key=key, format_func=lambda name: by_name[name].title,
                 on_change=remember_choice, args=(key, class_run))
    return opening
