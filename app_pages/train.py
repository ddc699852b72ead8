"""Train page: configure a run, watch the live one and the queue, compare and manage past runs."""
import streamlit as st

from alexnet_explorer import classroom, devices, estimate, history, launcher
from alexnet_explorer.config import (
    EXPERIMENTS,
    PRESETS,
    RunConfig,
    config_or_problem,
    preset_already_does,
    run_label,
    settings,
    starting_config,
)
from alexnet_explorer.data import missing_data
from alexnet_explorer.history import duration
from alexnet_explorer.pipelines import PIPELINES
from alexnet_explorer.runs import list_runs, runs_root
from app_pages.sections.classroom_controls import classroom_sidebar
from app_pages.sections.run_actions import forecast, queue_now
from app_pages.sections.run_history import run_history
from app_pages.sections.run_panel import run_panel
from app_pages.widgets import identity
from app_pages.widgets.guard import guarded
from app_pages.widgets.session import keep_for_session
from app_pages.widgets.settings_form import fill_settings, setting_key, settings_form, settings_missing

LONG_RUN_SECONDS = 3600  # past this, point to the classroom preset
PIPELINE_MINUTES = "1 to 3 minutes"  # the fits of docs/experiments.md on two CPU cores, evaluation included
ESTIMATE_TTL_SECONDS = 900
# The form's choices, kept for the session while another page is shown.
FORM_KEYS = ("preset", "experiment", *(setting_key(name) for name in settings()))


def fill_form() -> None:
    """Put the chosen preset's values, with the chosen experiment's change, into the form's fields."""
    fill_settings(starting_config(st.session_state.preset, st.session_state.get("experiment")))


# Timed again after a while: a timing taken while the machine was busy with other work would otherwise stand.
@st.cache_data(show_spinner="Timing a few training steps on this device…", max_entries=32, ttl=ESTIMATE_TTL_SECONDS)
def images_per_second(network: str, resize: int, batch_size: int, device: str) -> float:
    """Measured training throughput, cached per (network, input size, timed batch, device) for
    ESTIMATE_TTL_SECONDS."""
    return estimate.measure_throughput(RunConfig(network=network, resize=resize, device=device), batch_size)


@guarded
def new_run_form(me: classroom.Person) -> None:
    """Every setting of RunConfig, filled from a preset, with a time estimate and the Start button."""
    st.subheader("New run")
    missing = missing_data()
    if missing:
        st.warning(f"Training needs Fashion-MNIST, and this machine does not have it yet, so nothing can start. "
                   f"{missing}", icon=":material/database:")
    caps = classroom.Caps() if me.instructor else classroom.read_settings(runs_root()).caps
    if caps.describe():
        st.caption(caps.describe())
    if "preset" not in st.session_state:
        st.session_state.preset = "classroom"
    if settings_missing():
        fill_form()
    st.segmented_control("Preset", list(PRESETS), key="preset", required=True, on_change=fill_form,
                         help="book: the chapter exactly (224 px, 10 epochs); classroom: minutes on a CPU; "
                              "smoke: seconds, shows the machinery")
    experiment = st.pills("The chapter's choices, undone one at a time", list(EXPERIMENTS), key="experiment",
                          format_func=lambda name: EXPERIMENTS[name].title, on_change=fill_form,
                          help="Train the preset as it is, then with one of these changes, and overlay the two "
                               "runs in the run history.")
    preset = st.session_state.preset
    experiment_note = st.empty()  # said once the form tells which network the run is
    st.button("Back to the preset's values", key="reset_form", on_click=fill_form, icon=":material/restart_alt:",
              disabled=caps.presets_only, help="Undo every change made to the settings below since the preset (and "
              "the chapter's choice, if one is picked) filled them.")
    values = settings_form(disabled=caps.presets_only)
    network = values.get("network", PRESETS[preset].network)
    if experiment and network in PIPELINES:
        experiment_note.caption(f"**{PIPELINES[network].title}** is a hand-made pipeline: this choice changes a "
                                "network's settings, which it does not use, so its run would be the same. Choose a "
                                "network's preset (classroom, lenet, …) to compare.")
    elif experiment and preset_already_does(preset, experiment):
        experiment_note.caption(f"The **{preset}** preset already does this: choose another preset to compare.")
    elif experiment:
        experiment_note.caption(f"{EXPERIMENTS[experiment].claim} Train the plain **{preset}** run too, then "
                                "select both in the run history to compare their curves.")
    if values.get("network") in PIPELINES:
        st.caption(f"**{PIPELINES[values['network']].title}** is a hand-made pipeline: of these settings it uses only "
                   "the training images, the test images and the seed (its input size must be 28 and its epochs 1); "
                   "the optimisation and network settings are a network's.")
    config, problem = config_or_problem(values)
    refused = launcher.start_refusal(config, me) if config is not None else None
    if config is None:
        st.caption(f"These settings cannot run: {problem}")
    elif refused:  # said before Start, and nothing timed for a run that may not start
        st.warning(f"This run cannot start: {refused}.", icon=":material/block:")
    elif not missing:
        show_estimate(config)

    if st.button("Start training", type="primary", icon=":material/play_arrow:", key="start",
                 disabled=bool(missing or refused)):
        if config is None:
            st.error(f"Nothing was started: {problem}", icon=":material/error:")
            return
        try:
            run = launcher.launch(config, label=run_label(preset, experiment), by=me)
        except launcher.RunRefused as refusal:
            st.warning(f"Nothing was started: {refusal}.", icon=":material/block:")
            return
        forecast.clear()
        st.session_state.started = run.name
        st.rerun()
    started_note()


def show_estimate(config: RunConfig) -> None:
    """How long the run will take here, from two timed training steps; while the device trains, that it waits."""
    busy = launcher.run_on_device(config.device)
    if busy:
        starts_in, takes = history.after_the_run_training(config, busy, list_runs())
        when = [f"starts in about {duration(starts_in)}" if starts_in is not None else "",
                f"then takes about {duration(takes)} at the speed runs reached here" if takes is not None else ""]
        done = (f" — done in about {duration(starts_in + takes)}" if None not in (starts_in, takes) else "")
        st.caption(f"Run `{busy.title}` is training on {devices.device_key(config.device)}: a run started now waits "
                   f"in the queue{': ' + ', '.join(filter(None, when)) if any(when) else ''}{done}. Timing it "
                   "here waits until the device is free (timing now would slow the run down).")
        return
    if config.network in PIPELINES:
        st.caption(f"**Estimate:** a hand-made pipeline is fitted on the CPU in one go: about {PIPELINE_MINUTES} on "
                   "two cores for all 60,000 pictures (measured with the project's benchmarks), less for fewer.")
        return
    batch = estimate.timing_batch(config)
    speed = images_per_second(config.network, config.resize, batch, config.device)
    per_epoch, total = estimate.epoch_seconds(config, speed), estimate.run_seconds(config, speed)
    st.caption(f"**Estimate:** about {duration(per_epoch)} per epoch with its evaluation, {duration(total)} for "
               f"{config.epochs} epochs on {devices.device_key(config.device)} (with the training process's start), "
               f"from timing a training step of this network at {config.resize} px (batch {batch}) here: "
               f"{speed:.1f} images/sec. It times the machine as it is now: work that starts meanwhile (other "
               "programs, the pages a class opens) shares its cores, and the run takes longer.")
    if total > LONG_RUN_SECONDS:
        st.warning(f"This run would take about {duration(total)} here. The **classroom** "
                   "preset trains the same network at 67 px in a few minutes on a CPU; the book setting is meant "
                   "for a GPU.", icon=":material/schedule:")


def started_note() -> None:
    """What became of the run this session just started: training, or its place in the queue."""
    name = st.session_state.get("started")
    entry = next((entry for entry in queue_now() if entry.run.name == name), None)
    if entry is not None:
        st.info(f"Run `{entry.run.title}` is queued: {entry.describe()}. It starts by itself; you can close this "
                "page meanwhile.", icon=":material/hourglass_top:")


st.title("Train AlexNet on Fashion-MNIST")
keep_for_session(FORM_KEYS)
person = identity.person()
classroom_sidebar(person)
st.subheader("Live run", anchor="live-run")
run_panel()
new_run_form(person)
run_history()
