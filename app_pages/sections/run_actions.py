"""What the run sections share: the queue's forecast, worked out once for every viewer, and acting on a run."""
from collections.abc import Callable

import streamlit as st

from alexnet_explorer import classroom, history, launcher
from alexnet_explorer.runs import RunDir, runs_root

# Every viewer's panel asks for the queue every few seconds: it is worked out once for all of them per interval.
FORECAST_SECONDS = 2
DONE_KEY = "run_action_done"


@st.cache_resource(ttl=FORECAST_SECONDS, show_spinner=False)
def forecast(root: str) -> tuple[history.QueueEntry, ...]:
    """The queue of the runs folder, with places and waits, shared by every session for a moment (frozen entries:
    nobody can change them)."""
    return tuple(history.queue_forecast(root))


def queue_now() -> tuple[history.QueueEntry, ...]:
    """The queue of this app's runs folder, first in line first."""
    return forecast(str(runs_root()))


def do_then_redraw(action: Callable[[RunDir, classroom.Person], None], run: RunDir, me: classroom.Person,
                   done: str) -> None:
    """Do a launcher action on a run as this person, then redraw the page and say ``done``; a refusal is shown as a
    warning."""
    try:
        action(run, me)
    except launcher.RunRefused as refusal:
        st.warning(str(refusal), icon=":material/block:")
        return
    forecast.clear()
    redraw_saying(done)


def redraw_saying(done: str) -> None:
    """Redraw the page, and say what was done once it is drawn (a toast made before the redraw would be lost)."""
    st.session_state[DONE_KEY] = done
    st.rerun()


def say_what_was_done() -> None:
    """The last action's outcome, once, as a toast."""
    done = st.session_state.pop(DONE_KEY, None)
    if done:
        st.toast(done, icon=":material/check_circle:")
