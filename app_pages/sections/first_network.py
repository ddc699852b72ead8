"""An empty Classify page, before any run has a network: how the run on its way is doing, or why it failed, and a
button that trains the classroom preset."""
from __future__ import annotations

import streamlit as st

from alexnet_explorer import history, launcher, processes
from alexnet_explorer.config import PRESETS
from alexnet_explorer.runs import RunDir, list_runs
from app_pages.widgets import identity, pages

TRAIN_PAGE = f"{pages.PAGES_DIR}/train.py"
FOLLOW_SECONDS = 2  # how often the page looks whether the run it waits for has moved on


@st.fragment(run_every=FOLLOW_SECONDS)
def follow(run: RunDir, seen: str | None) -> None:
    """While a run is on its way, redraw the page when its state changes or its first network is saved."""
    if processes.refresh_status(run).get("state") != seen or run.has_checkpoint():
        st.rerun(scope="app")


def offer_training() -> None:
    """No run has a network yet: say how the run whose network comes first is doing, else the newest (its
    failure, if it failed), and offer to train the classroom preset."""
    runs = list_runs()
    latest = history.next_network(runs) or (runs[0] if runs else None)
    status = processes.refresh_status(latest) if latest is not None else {}
    state = status.get("state")
    if state in processes.ACTIVE_STATES:
        st.info(f"Run **{latest.title}** is {state}. Its network can answer once its first epoch ends: this page "
                "opens it then.", icon=":material/hourglass_top:")
        follow(latest, state)
    else:
        if state == "failed":
            st.error(f"The last run, **{latest.title}**, failed: {status.get('error') or 'no reason was recorded'}",
                     icon=":material/error:")
        st.info("There is no trained network yet. Train one first: the **classroom** preset learns in a few "
                "minutes on a laptop's CPU.", icon=":material/school:")
        if st.button("Train the classroom preset", type="primary", icon=":material/play_arrow:", key="classify_train"):
            try:
                run = launcher.launch(PRESETS["classroom"], label="classroom", by=identity.person())
            except launcher.RunRefused as refusal:
                st.warning(f"Nothing was started: {refusal}", icon=":material/hourglass_top:")
            else:
                st.success(f"Training started (run `{run.title}`): this page shows how it goes, the Train page "
                           "its curves.", icon=":material/check_circle:")
                follow(run, processes.refresh_status(run).get("state"))
    st.page_link(TRAIN_PAGE, label="Go to the Train page", icon=":material/model_training:")
