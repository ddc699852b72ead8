"""The queue: the runs waiting for their device in order, each one's place and expected wait; Cancel for their
owners, and reordering and clearing for the instructor."""
import streamlit as st

from alexnet_explorer import classroom, history, launcher
from alexnet_explorer.runs import RunDir
from app_pages.sections.run_actions import do_then_redraw, queue_now


def queue_section(me: classroom.Person) -> None:
    """The queue as a table, and the actions this person may take on it."""
    entries = queue_now()
    if not entries:
        return
    st.markdown(f"**Queue** — {len(entries)} run{'s' * (len(entries) != 1)} waiting. Each starts by itself when "
                "its device frees, in this order, with or without a browser open.")
    st.dataframe([{"in line": entry.describe(), "run": entry.run.title, "started by": classroom.started_by(entry.run, me),
                   "configuration": config_summary(entry.run)} for entry in entries],
                 hide_index=True, key="queue_table")
    if me.instructor:
        instructor_controls(entries, me)
        return
    for entry in entries:
        if classroom.CANCEL in classroom.allowed_actions(me, entry.run, "queued") and st.button(
                f"Cancel {entry.run.title}", icon=":material/cancel:", key=f"queue_cancel_{entry.run.name}"):
            do_then_redraw(launcher.cancel, entry.run, me, f"Run {entry.run.title} is out of the queue.")


def config_summary(run: RunDir) -> str:
    try:
        return run.read_config().summary()
    except ValueError:
        return "unreadable"


def instructor_controls(entries: tuple[history.QueueEntry, ...], me: classroom.Person) -> None:
    """Move a queued run up or down, cancel it, or clear the whole queue."""
    by_name = {entry.run.name: entry.run for entry in entries}
    pick, up, down, cancel, clear = st.columns([3, 1, 1, 1, 1.4], vertical_alignment="bottom")
    name = pick.selectbox("Queued run", list(by_name), format_func=lambda name: by_name[name].title, key="queue_pick")
    run = by_name.get(name)
    if run is None:
        return
    if up.button("Up", icon=":material/arrow_upward:", key="queue_up"):
        do_then_redraw(lambda run, me: launcher.move_in_queue(run, -1, me), run, me, f"Run {run.title} moved up.")
    if down.button("Down", icon=":material/arrow_downward:", key="queue_down"):
        do_then_redraw(lambda run, me: launcher.move_in_queue(run, 1, me), run, me, f"Run {run.title} moved down.")
    if cancel.button("Cancel", icon=":material/cancel:", key="queue_cancel"):
        do_then_redraw(launcher.cancel, run, me, f"Run {run.title} is out of the queue.")
    if clear.button("Clear queue…", icon=":material/clear_all:", key="queue_clear"):
        st.session_state.confirm_clear = True
    if st.session_state.get("confirm_clear"):
        st.warning(f"Cancel all {len(entries)} queued runs? Runs that never started are removed.")
        yes, no = st.columns(2)
        if yes.button("Yes, clear the queue", type="primary", key="queue_clear_yes"):
            del st.session_state.confirm_clear
            do_then_redraw(lambda run, me: launcher.clear_queue(run.path.parent, me), run, me, "The queue is empty.")
        if no.button("Keep it", key="queue_clear_no"):
            del st.session_state.confirm_clear
            st.rerun()

