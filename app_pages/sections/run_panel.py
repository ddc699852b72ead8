"""The run panel: the run training now, redrawn as it goes, or else the latest run, with its Stop and Resume."""
import time
from collections.abc import Callable

import streamlit as st

from alexnet_explorer import history, launcher, plots, processes, ui
from alexnet_explorer.history import duration
from alexnet_explorer.runs import RunDir, list_runs

LIVE_REFRESH_SECONDS = 1.5
IDLE_CHECK_SECONDS = 5  # with nothing training, how often to look for a run started elsewhere
NO_RUN_YET = "No run yet: configure one below and press **Start training**."


@st.fragment(run_every=LIVE_REFRESH_SECONDS)
@ui.guarded
def live_panel() -> None:
    """The run training now (found from the run folders, so every viewer sees it), redrawn as it goes."""
    active = launcher.active_runs()
    if len(active) > 1:
        run = ui.run_picker(active, key="live_pick", label="Runs training now")
    else:
        run = next(iter(active or list_runs()), None)
    if run is None:
        st.info(NO_RUN_YET)
        return
    state = show_run(run)
    # When the watched run ends, redraw the whole page so that the history and the form catch up.
    previous = st.session_state.get("live_seen")
    st.session_state.live_seen = (run.name, state)
    if previous and previous != (run.name, state) and previous[1] in processes.ACTIVE_STATES:
        st.rerun()


@ui.guarded
def latest_run_panel() -> None:
    """With nothing training, the latest run as it ended, drawn once; and a watch for a run started elsewhere."""
    run = next(iter(list_runs()), None)
    if run is None:
        st.info(NO_RUN_YET)
    else:
        show_run(run)
    watch_for_a_new_run()


@st.fragment(run_every=IDLE_CHECK_SECONDS)
def watch_for_a_new_run() -> None:
    """Redraw the page when a run starts in another browser or a terminal, so that it is shown live here too."""
    if launcher.active_runs():
        st.rerun()


def show_run(run: RunDir) -> str:
    """Status, progress, curves and controls of one run; returns its state."""
    status = processes.refresh_status(run)
    state = status["state"]
    config = run.read_config()
    events = run.read_events()
    title, badge = st.columns([6, 1], vertical_alignment="center")
    title.markdown(f"**Run `{run.name}`** — {config.summary()}")
    with badge:
        ui.status_badge(state, launcher.is_stopping(run))

    active = state in processes.ACTIVE_STATES
    done = history.progress_so_far(events, now=time.time() if state == "running" else None)
    st.progress(min(1.0, done.epoch / config.epochs),
                text=f"epoch {done.epoch:.1f} of {config.epochs}" if state != "queued" else "starting…")
    speed, device, elapsed, remaining = st.columns(4)
    speed.metric("examples/sec", f"{done.examples_per_sec:.1f}" if done.examples_per_sec else "–")
    device.metric("device", done.device or status.get("device") or config.device)
    elapsed.metric("elapsed", duration(done.elapsed))
    remaining.metric("remaining", duration(done.remaining) if active else "–")
    st.plotly_chart(plots.training_figure(plots.training_curves(events), config.epochs),
                    key=f"live_chart_{run.name}", config={"displaylogo": False})

    closing = history.closing_lines(events)
    if state in ("finished", "stopped") and closing:
        st.code("\n".join(closing), language=None)
    if state == "failed":
        st.error(f"Training failed: {status.get('error') or 'no reason was recorded'}", icon=":material/error:")
    stoppable = state == "running" and not launcher.is_stopping(run)
    if stoppable and st.button("Stop", key=f"stop_{run.name}", icon=":material/stop_circle:"):
        do_then_redraw(launcher.stop, run)
    if state in launcher.RESUMABLE_STATES:
        resume_note = "from its last checkpoint" if run.has_checkpoint() else "from the start (no checkpoint yet)"
        if st.button(f"Resume {resume_note}", key=f"resume_{run.name}", icon=":material/play_arrow:"):
            do_then_redraw(launcher.resume, run)
    return state


def do_then_redraw(action: Callable[[RunDir], None], run: RunDir) -> None:
    """Do a launcher action on a run, then redraw the page; a refusal is shown as a warning."""
    try:
        action(run)
    except launcher.RunRefused as refusal:
        st.warning(str(refusal))
        return
    st.rerun()
