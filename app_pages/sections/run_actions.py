"""What the run sections share: the queue's forecast, worked out once for every viewer, and acting on a run."""
from collections.abc import Callable

import streamlit as st

from alexnet_explorer import classroom, history, launcher
from alexnet_explorer.runs import RunDir, runs_root

# Every viewer's panel asks for the queue every few seconds: it is worked out once for all of them per interval.
FORECAST_SECONDS = 2


@st.cache_resource(ttl=FORECAST_SECONDS, show_spinner=False)
def forecast(root: str) -> tuple[history.QueueEntry, ...]:
    """The queue of the runs folder, with places and waits, shared by every session for a moment (frozen entries:
    nobody can change them)."""
    return tuple(history.queue_forecast(root))


def queue_now() -> tuple[history.QueueEntry, ...]:
    """The queue of this app's runs folder, first in line first."""
    return forecast(str(runs_root()))


def do_then_redraw(action: Callable[[RunDir, classroom.Person], None], run: RunDir, me: classroom.Person) -> None:
    """Do a launcher action on a run as this person, then redraw the page; a refusal is shown as a warning."""
    try:
        action(run, me)
    except launcher.RunRefused as refusal:
        st.warning(str(refusal), icon=":material/block:")
        return
    forecast.clear()
    st.rerun()
