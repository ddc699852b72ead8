"""Train page: configure a run, watch the live one, compare and manage past runs."""
import time
from collections.abc import Callable

import streamlit as st

from alexnet_explorer import devices, estimate, history, launcher, plots, processes, ui
from alexnet_explorer.config import EXPERIMENTS, PRESETS, SCHEDULES, RunConfig
from alexnet_explorer.devices import available_devices
from alexnet_explorer.events import Ended, summary_lines
from alexnet_explorer.model import ACTIVATIONS, INITS, POOLINGS
from alexnet_explorer.runs import RunDir, list_runs

LIVE_REFRESH_SECONDS = 1.5
LONG_RUN_SECONDS = 3600  # past this, point to the classroom preset
IDLE_CHECK_SECONDS = 5  # with nothing training, how often to look for a run started elsewhere
NO_RUN_YET = "No run yet: configure one below and press **Start training**."
FLOAT_FIELDS = ("lr", "momentum", "weight_decay", "dropout", "label_smoothing", "warmup_epochs")


def fill_form() -> None:
    """Put the chosen preset's values, with the chosen experiment's change, into the form's fields."""
    config = PRESETS[st.session_state.preset]
    experiment = EXPERIMENTS.get(st.session_state.get("experiment"))
    if experiment is not None:
        config = config.replace(**experiment.changes)
    for name, value in config.to_dict().items():
        st.session_state[f"cfg_{name}"] = float(value) if name in FLOAT_FIELDS else value


def run_label() -> str:
    """The new run's name after its preset and experiment, e.g. 'classroom-sigmoid'."""
    return "-".join(filter(None, (st.session_state.preset, st.session_state.get("experiment"))))


@st.cache_data(show_spinner="Timing two training steps on this device…", max_entries=32)
def images_per_second(resize: int, batch_size: int, device: str) -> float:
    """Measured training throughput, cached per (input size, timed batch, device)."""
    return estimate.measure_throughput(RunConfig(resize=resize, device=device), batch_size)


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
    elapsed.metric("elapsed", ui.duration(done.elapsed))
    remaining.metric("remaining", ui.duration(done.remaining) if active else "–")
    st.plotly_chart(plots.training_figure(plots.training_curves(events), config.epochs),
                    key=f"live_chart_{run.name}", config={"displaylogo": False})

    ended = [e for e in events if e["kind"] == "ended"]
    if state in ("finished", "stopped") and ended:
        record = {k: v for k, v in ended[-1].items() if k != "kind"}
        st.code("\n".join(summary_lines(Ended(**record))), language=None)
    if state == "failed":
        st.error(f"Training failed: {status.get('error') or 'no reason was recorded'}", icon=":material/error:")
    stoppable = state == "running" and not launcher.is_stopping(run)
    if stoppable and st.button("Stop", key=f"stop_{run.name}", icon=":material/stop_circle:"):
        act(launcher.stop, run)
    if state in launcher.RESUMABLE_STATES:
        resume_note = "from its last checkpoint" if run.has_checkpoint() else "from the start (no checkpoint yet)"
        if st.button(f"Resume {resume_note}", key=f"resume_{run.name}", icon=":material/play_arrow:"):
            act(launcher.resume, run)
    return state


def act(action: Callable[[RunDir], None], run: RunDir) -> None:
    """Do a launcher action on a run, then redraw the page; a refusal is shown as a warning."""
    try:
        action(run)
    except launcher.RunRefused as refusal:
        st.warning(str(refusal))
        return
    st.rerun()


@ui.guarded
def new_run_form() -> None:
    """Every setting of RunConfig, filled from a preset, with a time estimate and the Start button."""
    st.subheader("New run")
    if "preset" not in st.session_state:
        st.session_state.preset = "classroom"
    if any(f"cfg_{name}" not in st.session_state for name in RunConfig.__dataclass_fields__):
        fill_form()  # first visit, or Streamlit dropped the fields while another page was shown
    st.segmented_control("Preset", list(PRESETS), key="preset", required=True, on_change=fill_form,
                         help="book: the chapter exactly (224 px, 10 epochs); classroom: minutes on a CPU; "
                              "smoke: seconds, shows the machinery")
    experiment = st.pills("The chapter's choices, undone one at a time", list(EXPERIMENTS), key="experiment",
                          format_func=lambda name: EXPERIMENTS[name].title, on_change=fill_form,
                          help="Train the preset as it is, then with one of these changes, and overlay the two "
                               "runs in the run history.")
    preset = PRESETS[st.session_state.preset]
    if experiment and preset.replace(**EXPERIMENTS[experiment].changes) == preset:
        st.caption(f"The **{st.session_state.preset}** preset already does this: choose another preset to compare.")
    elif experiment:
        st.caption(f"{EXPERIMENTS[experiment].claim} Train the plain **{st.session_state.preset}** run too, then "
                   "select both in the run history to compare their curves.")
    values = {}
    with st.container(border=True):
        schedule, network, data = st.columns(3)
        with schedule:
            st.markdown("**Optimisation**")
            values["epochs"] = st.number_input("epochs", step=1, key="cfg_epochs")
            values["batch_size"] = st.number_input("batch size", step=1, key="cfg_batch_size")
            values["lr"] = st.number_input("learning rate", step=0.005, format="%g", key="cfg_lr")
            values["momentum"] = st.number_input("momentum", step=0.05, format="%g", key="cfg_momentum")
            values["weight_decay"] = st.number_input("weight decay", step=1e-4, format="%g", key="cfg_weight_decay")
            values["schedule"] = st.radio("learning-rate schedule", SCHEDULES, horizontal=True, key="cfg_schedule")
            values["warmup_epochs"] = st.number_input("warm-up (epochs)", step=0.1, format="%g",
                                                      key="cfg_warmup_epochs")
        with network:
            st.markdown("**Network** (the chapter's ablations)")
            values["resize"] = st.number_input("input size (px)", step=1, key="cfg_resize",
                                               help="Fashion-MNIST's 28 px images are resized to this; "
                                                    "the chapter uses 224, the network takes 65 to 448")
            values["activation"] = st.radio("activation", ACTIVATIONS, horizontal=True, key="cfg_activation")
            values["pooling"] = st.radio("pooling", POOLINGS, horizontal=True, key="cfg_pooling")
            values["dropout"] = st.number_input("dropout", step=0.05, format="%g", key="cfg_dropout")
            values["init"] = st.radio("weight init", INITS, horizontal=True, key="cfg_init")
        with data:
            st.markdown("**Data and device**")
            values["augment"] = st.toggle("augmentation (flips and shifts)", key="cfg_augment")
            values["label_smoothing"] = st.number_input("label smoothing", step=0.05, format="%g",
                                                        key="cfg_label_smoothing")
            values["limit_train"] = st.number_input("training images", step=1000, key="cfg_limit_train",
                                                    placeholder="all 60,000")
            values["limit_test"] = st.number_input("test images", step=1000, key="cfg_limit_test",
                                                   placeholder="all 10,000")
            values["seed"] = st.number_input("seed", step=1, key="cfg_seed")
            values["device"] = st.selectbox("device", ["auto", *available_devices()], key="cfg_device")

    try:
        config = RunConfig(**values)
    except (TypeError, ValueError) as error:
        config, problem = None, str(error)
    busy = config and launcher.run_on_device(config.device)
    if config is None:
        st.caption(f"These settings cannot run: {problem}")
    elif busy:
        st.caption(f"Run `{busy.name}` is training on {devices.device_key(config.device)}; the estimate "
                   "waits until it ends (timing now would slow it down).")
    else:
        batch = estimate.timing_batch(config)
        speed = images_per_second(config.resize, batch, config.device)
        per_epoch = estimate.epoch_seconds(config, speed)
        st.caption(f"**Estimate:** about {ui.duration(per_epoch)} per epoch, {ui.duration(per_epoch * config.epochs)}"
                   f" for {config.epochs} epochs on {devices.device_key(config.device)}, from timing a training "
                   f"step of this network at {config.resize} px (batch {batch}) here: {speed:.1f} images/sec.")
        if per_epoch * config.epochs > LONG_RUN_SECONDS:
            st.warning(f"This run would take about {ui.duration(per_epoch * config.epochs)} here. The **classroom** "
                       "preset trains the same network at 67 px in a few minutes on a CPU; the book setting is meant "
                       "for a GPU.", icon=":material/schedule:")

    if st.button("Start training", type="primary", icon=":material/play_arrow:", key="start"):
        if config is None:
            st.error(f"Nothing was started: {problem}", icon=":material/error:")
            return
        try:
            launcher.launch(config, label=run_label())
        except launcher.RunRefused as refusal:
            st.warning(f"Nothing was started: {refusal}. The running one is shown under "
                       "[Live run](#live-run).", icon=":material/hourglass:")
            return
        st.rerun()


@ui.guarded
def run_history() -> None:
    """Every run with its outcome; overlay the curves of selected runs; download or delete one."""
    st.subheader("Run history")
    overviews = [history.overview(run) for run in list_runs()]
    if not overviews:
        st.caption("No runs yet.")
        return
    # This table is drawn with the page, not live: a run still training shows no duration yet (the live panel has it).
    table = [{"run": o.run.name, "status": o.state, "best test acc": o.best_test_acc,
              "duration": None if o.state in processes.ACTIVE_STATES else ui.duration(o.seconds),
              "configuration": o.config.summary() if o.config else "unreadable"}
             for o in overviews]
    picked = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="multi-row", key="history",
                          placeholder="–",
                          column_config={"best test acc": st.column_config.NumberColumn(format="%.3f")})
    chosen = [overviews[i] for i in picked.selection.rows]
    if chosen:
        curves = {o.run.name: plots.training_curves(o.run.read_events()) for o in chosen}
        epochs = max(o.config.epochs for o in chosen if o.config) if any(o.config for o in chosen) else 1
        st.plotly_chart(plots.comparison_figure(curves, epochs), key="comparison", config={"displaylogo": False})
    else:
        st.caption("Select rows to overlay their curves — for instance a ReLU run and a sigmoid run.")

    with st.expander("Download or delete a run"):
        run = ui.run_picker([o.run for o in overviews], key="manage_run")
        if run is not None:
            manage(run)


def manage(run: RunDir) -> None:
    """Downloads of a run's metrics and checkpoint, and deletion after a confirmation."""
    csv_col, checkpoint_col, delete_col = st.columns(3)
    csv_col.download_button("Metrics (CSV)", history.metrics_csv(run.read_events()), f"{run.name}-metrics.csv",
                            "text/csv", icon=":material/download:", on_click="ignore", key="download_csv")
    checkpoint_col.download_button("Checkpoint", run.checkpoint_path.read_bytes, f"{run.name}-checkpoint.pt",
                                   "application/octet-stream", icon=":material/download:", on_click="ignore",
                                   disabled=not run.has_checkpoint(), key="download_checkpoint")
    if delete_col.button("Delete…", icon=":material/delete:", key="delete"):
        st.session_state.confirm_delete = run.name
    if st.session_state.get("confirm_delete") == run.name:
        st.warning(f"Delete run `{run.name}` and its checkpoint? This cannot be undone.")
        yes, no = st.columns(2)
        if yes.button("Yes, delete it", type="primary", key="delete_yes"):
            del st.session_state.confirm_delete
            try:
                launcher.delete(run)
            except launcher.RunRefused as refusal:
                st.warning(str(refusal))
                return
            st.rerun()
        if no.button("Cancel", key="delete_no"):
            del st.session_state.confirm_delete
            st.rerun()


st.title("Train AlexNet on Fashion-MNIST")
st.subheader("Live run", anchor="live-run")
# Timed redraws only while something trains: an idle page stays still, and only looks now and then for a new run.
if launcher.active_runs():
    live_panel()
else:
    latest_run_panel()
new_run_form()
run_history()
