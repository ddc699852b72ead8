"""Train page: configure a run, watch the live one, compare and manage past runs."""
import streamlit as st

from alexnet_explorer import devices, estimate, launcher, ui
from alexnet_explorer.config import (
    EXPERIMENTS,
    PRESETS,
    RunConfig,
    config_or_problem,
    preset_already_does,
    run_label,
    starting_config,
)
from alexnet_explorer.history import duration
from app_pages.sections.run_history import run_history
from app_pages.sections.run_panel import latest_run_panel, live_panel

LONG_RUN_SECONDS = 3600  # past this, point to the classroom preset


def fill_form() -> None:
    """Put the chosen preset's values, with the chosen experiment's change, into the form's fields."""
    ui.fill_settings(starting_config(st.session_state.preset, st.session_state.get("experiment")))


@st.cache_data(show_spinner="Timing two training steps on this device…", max_entries=32)
def images_per_second(resize: int, batch_size: int, device: str) -> float:
    """Measured training throughput, cached per (input size, timed batch, device)."""
    return estimate.measure_throughput(RunConfig(resize=resize, device=device), batch_size)


@ui.guarded
def new_run_form() -> None:
    """Every setting of RunConfig, filled from a preset, with a time estimate and the Start button."""
    st.subheader("New run")
    if "preset" not in st.session_state:
        st.session_state.preset = "classroom"
    if ui.settings_missing():
        fill_form()
    st.segmented_control("Preset", list(PRESETS), key="preset", required=True, on_change=fill_form,
                         help="book: the chapter exactly (224 px, 10 epochs); classroom: minutes on a CPU; "
                              "smoke: seconds, shows the machinery")
    experiment = st.pills("The chapter's choices, undone one at a time", list(EXPERIMENTS), key="experiment",
                          format_func=lambda name: EXPERIMENTS[name].title, on_change=fill_form,
                          help="Train the preset as it is, then with one of these changes, and overlay the two "
                               "runs in the run history.")
    preset = st.session_state.preset
    if experiment and preset_already_does(preset, experiment):
        st.caption(f"The **{preset}** preset already does this: choose another preset to compare.")
    elif experiment:
        st.caption(f"{EXPERIMENTS[experiment].claim} Train the plain **{preset}** run too, then "
                   "select both in the run history to compare their curves.")
    config, problem = config_or_problem(ui.settings_form())
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
        st.caption(f"**Estimate:** about {duration(per_epoch)} per epoch, {duration(per_epoch * config.epochs)}"
                   f" for {config.epochs} epochs on {devices.device_key(config.device)}, from timing a training "
                   f"step of this network at {config.resize} px (batch {batch}) here: {speed:.1f} images/sec.")
        if per_epoch * config.epochs > LONG_RUN_SECONDS:
            st.warning(f"This run would take about {duration(per_epoch * config.epochs)} here. The **classroom** "
                       "preset trains the same network at 67 px in a few minutes on a CPU; the book setting is meant "
                       "for a GPU.", icon=":material/schedule:")

    if st.button("Start training", type="primary", icon=":material/play_arrow:", key="start"):
        if config is None:
            st.error(f"Nothing was started: {problem}", icon=":material/error:")
            return
        try:
            launcher.launch(config, label=run_label(preset, experiment))
        except launcher.RunRefused as refusal:
            st.warning(f"Nothing was started: {refusal}. The running one is shown under "
                       "[Live run](#live-run).", icon=":material/hourglass:")
            return
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
