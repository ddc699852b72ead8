"""The run panel: the run training now, redrawn when it reports, and the queue behind it; or else the latest run.
Stop, Resume and Cancel are offered to whoever may use them (the instructor, or the browser that started the run);
a run the instructor stopped is theirs to resume."""
import time

import plotly.graph_objects as go
import streamlit as st

from alexnet_explorer import classroom, history, launcher, plots, processes
from alexnet_explorer.config import RunConfig
from alexnet_explorer.data import missing_data
from alexnet_explorer.events import training_curves
from alexnet_explorer.history import duration
from alexnet_explorer.pipelines import PIPELINES
from alexnet_explorer.runs import RunDir, list_runs
from app_pages.sections.run_actions import do_then_redraw, queue_now, say_what_was_done
from app_pages.sections.run_queue import queue_section
from app_pages.widgets import identity
from app_pages.widgets.figures import PLOTLY_CONFIG
from app_pages.widgets.guard import guarded
from app_pages.widgets.run_picker import run_picker, status_badge

# The panel looks at the run folder this often (a run reports five times an epoch); its chart is rebuilt only when
# the run has written a new event (once for every viewer), and a chart sent again unchanged is not redrawn by the
# browser. Every look costs the training run a little on a small machine (docs/benchmarks.md).
LIVE_REFRESH_SECONDS = 6
IDLE_CHECK_SECONDS = 5  # with nothing training, how often to look for a run started elsewhere
NO_RUN_YET = "No run yet: configure one below and press **Start training**."
MOVED_ON_KEY = "live_moved_on"  # the ended run this browser no longer wants beside the one training


@guarded
def run_panel() -> None:
    """The live panel while something trains or waits; else the latest run, drawn once (an idle page stays still,
    and only looks now and then for a new run)."""
    say_what_was_done()
    launcher.keep_queue_moving()  # after a restart of the app, or if the queue's keeper was killed
    if launcher.active_runs():
        live_panel()
    else:
        latest_run_panel()


@st.fragment(run_every=LIVE_REFRESH_SECONDS)
@guarded
def live_panel() -> None:
    """The run training now (found from the run folders, so every viewer sees it), redrawn as it goes, and the
    queue."""
    me = identity.person()
    training = launcher.training_runs()
    if len(training) > 1:
        run = run_picker(training, key="live_pick", label="Runs training now").run
    else:
        run = next(iter(training or list_runs()), None)
    if run is None:
        st.info(NO_RUN_YET)
        return
    ended = history.handed_over_from(run, list_runs())
    if ended is not None and st.session_state.get(MOVED_ON_KEY) != ended.name:
        before, now = st.columns(2, gap="large")
        with before:
            show_ended(ended, me)
        with now:
            state = show_run(run, me, narrow=True)
    else:
        state = show_run(run, me)
    queue_section(me)
    # When the watched run ends, redraw the whole page so that the history and the form catch up.
    previous = st.session_state.get("live_seen")
    st.session_state.live_seen = (run.name, state)
    if previous and previous != (run.name, state) and previous[1] in processes.ACTIVE_STATES:
        st.rerun()


def show_ended(run: RunDir, me: classroom.Person) -> None:
    """A run that ended as the next one started: its final curves and closing lines, until this browser moves on."""
    st.markdown("**Just ended**, shortly before the run beside it started:")
    show_run(run, me, narrow=True)
    if st.button("Done with it: show only the run training now", key="moved_on", icon=":material/done:"):
        st.session_state[MOVED_ON_KEY] = run.name
        st.rerun()


def latest_run_panel() -> None:
    """With nothing training, the latest run as it ended, drawn once; and a watch for a run started elsewhere."""
    run = next(iter(list_runs()), None)
    if run is None:
        st.info(NO_RUN_YET)
    else:
        show_run(run, identity.person())
    watch_for_a_new_run(run.name if run else None)


@st.fragment(run_every=IDLE_CHECK_SECONDS)
def watch_for_a_new_run(shown: str | None) -> None:
    """Redraw the page when a run starts in another browser or a terminal, so that it is shown live here too; also
    when such a run has already ended (a short one can start and end between two looks)."""
    newest = next(iter(list_runs()), None)
    if launcher.active_runs() or (newest.name if newest else None) != shown:
        st.rerun()


def show_run(run: RunDir, me: classroom.Person, narrow: bool = False) -> str:
    """Status, progress, curves and the controls this person may use of one run (``narrow``: in half the page's
    width, beside another); returns its state."""
    status = processes.refresh_status(run)
    state = status["state"]
    config = run.read_config()
    events = run.read_events()
    title, badge = st.columns([3, 1] if narrow else [6, 1], vertical_alignment="center")
    title.markdown(f"**Run `{run.title}`** — {config.summary()}")
    with badge:
        status_badge(state, launcher.is_stopping(run))

    active = state in processes.ACTIVE_STATES
    done = history.progress_so_far(events, now=time.time() if state == "running" else None)
    st.progress(min(1.0, done.epoch / config.epochs), text=progress_text(run, state, done.epoch, config))
    # Half a page holds two figures a row: four would cut "40 min 49 s" to "40 …".
    speed, device, elapsed, remaining = [*st.columns(2), *st.columns(2)] if narrow else st.columns(4)
    speed.metric("examples/sec", f"{done.examples_per_sec:.1f}" if done.examples_per_sec else "–")
    device.metric("device", done.device or status.get("device") or config.device)
    elapsed.metric("elapsed", duration(done.elapsed))
    remaining.metric("remaining", duration(done.remaining) if active else "–")
    st.plotly_chart(training_chart(str(run.path), len(events), config.epochs), key=f"live_chart_{run.name}",
                    config=PLOTLY_CONFIG)
    st.caption(plots.CURVES_NOTE)

    closing = history.closing_lines(events)
    if state in ("finished", "stopped") and closing:
        st.code("\n".join(closing), language=None)
    if state == "failed":
        st.error(f"Training failed: {status.get('error') or 'no reason was recorded'}", icon=":material/error:")
    in_class = identity.instructor_passcode() is not None  # without one, everybody is the instructor: nothing is held
    if in_class and run.held and state in processes.RESUMABLE_STATES:
        st.info("This student's run is held: they cannot resume it, you can." if me.instructor else
                "The instructor stopped this run: only the instructor can resume it.", icon=":material/front_hand:")
    who = classroom.started_by(run, me)
    if not classroom.may_manage(me, run):
        if active:
            st.caption(f"Started by {who}: only {'it or ' * (who == 'another browser')}the instructor can stop or "
                       "cancel it.")
        return state
    if who != "you" and in_class:
        st.caption(f"Started by {who}.")
    allowed = classroom.allowed_actions(me, run, state, launcher.is_stopping(run))
    if classroom.STOP in allowed:
        if st.button("Stop", key=f"stop_{run.name}", icon=":material/stop_circle:"):
            do_then_redraw(launcher.stop, run, me, f"Run {run.title} stops at its next batch, with a checkpoint.")
    if classroom.CANCEL in allowed and st.button("Cancel", key=f"cancel_{run.name}", icon=":material/cancel:"):
        do_then_redraw(launcher.cancel, run, me, f"Run {run.title} is out of the queue.")
    if classroom.RESUME in allowed:
        resume_button(run, status, me)
    return state


def progress_text(run: RunDir, state: str, epoch: float, config: RunConfig) -> str:
    """The progress bar's words: the epoch, or the run's place in the queue, or that its process is starting, or what
    a hand-made pipeline is doing (it has no epochs: one pass computes its features, then scikit-learn fits)."""
    if state == "queued":
        entry = next((entry for entry in queue_now() if entry.run.path == run.path), None)
        return f"queued: {entry.describe()}" if entry else "queued"
    if state == "starting":
        return "starting…"
    if state == "running" and config.network in PIPELINES and epoch < config.epochs:
        return "computing the training pictures' features, then fitting the classifier on them…"
    return f"epoch {epoch:.1f} of {config.epochs}"


@st.cache_resource(max_entries=32, show_spinner=False)
def training_chart(path: str, events_seen: int, epochs: int) -> go.Figure:
    """The curves of a run's first ``events_seen`` events: built once per new event for every viewer (a figure takes
    a tenth of a second to build), and only read by them."""
    return plots.training_figure(training_curves(RunDir(path).read_events()[:events_seen]), epochs)


def resume_button(run: RunDir, status: dict, me: classroom.Person) -> None:
    """Resume, unless the run failed for want of Fashion-MNIST and it is still missing (it would fail again)."""
    if status.get("cause") == "DataUnavailableError" and missing_data():
        st.caption("Resume is offered once Fashion-MNIST is on this machine: see **New run** below.")
        return
    resume_note = "from its last checkpoint" if run.has_checkpoint() else "from the start (no checkpoint yet)"
    if st.button(f"Resume {resume_note}", key=f"resume_{run.name}", icon=":material/play_arrow:"):
        do_then_redraw(launcher.resume, run, me, f"Run {run.title} resumes, or waits its turn in the queue.")

