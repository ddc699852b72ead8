"""The run history: every run with its outcome, the curves of the selected rows overlaid, and what can be done with
the selected rows — download, rename, delete, pin as the class run — for whoever may."""
import hashlib
from collections.abc import Callable

import streamlit as st

from alexnet_explorer import classroom, history, launcher, plots
from alexnet_explorer.events import training_curves
from alexnet_explorer.runs import RunDir, list_runs, runs_root, slug
from app_pages.sections.run_actions import do_then_redraw, redraw_saying
from app_pages.widgets import identity
from app_pages.widgets.figures import PLOTLY_CONFIG
from app_pages.widgets.guard import guarded


@guarded
def run_history() -> None:
    """Every run with its outcome; overlay the curves of the selected rows; act on them."""
    st.subheader("Run history")
    me = identity.person()
    for refusal in st.session_state.pop("delete_refusals", []):
        st.warning(refusal, icon=":material/block:")
    overviews = [history.overview(run) for run in list_runs()]
    if not overviews:
        st.caption("No runs yet.")
        return
    class_run = classroom.read_settings(runs_root()).class_run
    if class_run in [o.run.name for o in overviews]:
        st.caption(f"Class run: **{RunDir(runs_root() / class_run).title}** — every page opens on it.")
    # This table is drawn with the page, not live: the live panel has the running run's duration. Its key changes
    # with the list of runs, so a run added or deleted meanwhile clears the selection instead of shifting it onto
    # another run.
    names = hashlib.sha256("/".join(o.run.name for o in overviews).encode()).hexdigest()[:12]
    mine = me.id if identity.instructor_passcode() else None
    picked = st.dataframe(history.table_rows(overviews, mine), hide_index=True, on_select="rerun",
                          selection_mode="multi-row", key=f"history_{names}", placeholder="–",
                          column_config={"best test acc": st.column_config.NumberColumn(format="%.3f")})
    chosen = [overviews[i] for i in picked.selection.rows if i < len(overviews)]
    if chosen:
        curves = {o.run.title: training_curves(o.run.read_events()) for o in chosen}
        epochs = max((o.config.epochs for o in chosen if o.config), default=1)
        st.plotly_chart(plots.comparison_figure(curves, epochs), key="comparison", config=PLOTLY_CONFIG)
        st.markdown(history.comparison_line(chosen))
        st.caption(plots.CURVES_NOTE)
        manage([o.run for o in chosen], me, class_run)
    else:
        st.caption("Select rows to overlay their curves — for instance a ReLU run and a sigmoid run — and to "
                   "download, rename or delete them.")


def manage(runs: list[RunDir], me: classroom.Person, class_run: str | None) -> None:
    """What can be done with the selected runs: downloads and renaming of one, deletion of the ones this person
    may delete, after a confirmation that names them; pinning one as the class run (the instructor)."""
    with st.container(border=True):
        st.markdown("**Selected:** " + ", ".join(f"`{run.title}`" for run in runs))
        if len(runs) == 1:
            one_run(runs[0], me, class_run)
        settings = classroom.read_settings(runs_root())
        deletable = [run for run in runs if classroom.may_delete(me, run, settings)]
        if deletable:
            if len(deletable) < len(runs):
                st.caption("You may delete only " + ", ".join(f"`{run.title}`" for run in deletable)
                           + ": the others were started by another browser, or are the class run.")
            delete_runs(deletable, me)
        elif not me.instructor:
            st.caption("Only the instructor or the browser that started a run can rename or delete it.")


def one_run(run: RunDir, me: classroom.Person, class_run: str | None) -> None:
    """Downloads of a run's metrics and checkpoint, its new name, and the class-run pin."""
    csv_col, checkpoint_col, pin_col = st.columns(3)
    stem = slug(run.title)
    csv_col.download_button("Metrics (CSV)", history.metrics_csv(run.read_events()), f"{stem}-metrics.csv",
                            "text/csv", icon=":material/download:", on_click="ignore", key="download_csv")
    checkpoint_col.download_button("Checkpoint", run.checkpoint_path.read_bytes, f"{stem}-checkpoint.pt",
                                   "application/octet-stream", icon=":material/download:", on_click="ignore",
                                   disabled=not run.has_checkpoint(), key="download_checkpoint")
    if me.instructor:
        pinned = class_run == run.name
        if pin_col.button("Unpin the class run" if pinned else "Make it the class run", icon=":material/push_pin:",
                          key="pin", help="Every page (Train, Filters, Classify) opens on the class run."):
            settings = classroom.read_settings(runs_root())
            classroom.write_settings(runs_root(), classroom.Settings(settings.caps, None if pinned else run.name), me)
            redraw_saying("No class run now: every page opens on its own choice." if pinned else
                          f"Run {run.title} is the class run: every page opens on it.")
    if classroom.may_manage(me, run):
        with st.form(f"rename_{run.name}", border=False, enter_to_submit=True):
            name, button = st.columns([3, 1], vertical_alignment="bottom")
            title = name.text_input("Name", value=run.title, max_chars=40, key=f"rename_text_{run.name}")
            if button.form_submit_button("Rename", icon=":material/edit:"):
                do_then_redraw(lambda run, me: launcher.rename(run, title, me), run, me, "Renamed.")


def delete_runs(runs: list[RunDir], me: classroom.Person) -> None:
    """Delete these runs after a confirmation that names every one of them."""
    names = [run.name for run in runs]
    label = "Delete…" if len(runs) == 1 else f"Delete these {len(runs)} runs…"
    if st.button(label, icon=":material/delete:", key="delete"):
        st.session_state.confirm_delete = names
    if st.session_state.get("confirm_delete") == names:
        listed = ", ".join(f"`{run.title}`" for run in runs)
        st.warning(f"Delete run {listed} and its checkpoint? This cannot be undone." if len(runs) == 1 else
                   f"Delete the {len(runs)} runs {listed} and their checkpoints? This cannot be undone.")
        yes, no = st.columns(2)
        if yes.button("Yes, delete" + (" it" if len(runs) == 1 else " them"), type="primary", key="delete_yes"):
            del st.session_state.confirm_delete
            refused = st.session_state.delete_refusals = refusals(launcher.delete, runs, me)
            deleted = len(runs) - len(refused)
            redraw_saying(f"Deleted {deleted} run{'s' * (deleted != 1)}." if deleted else "")
        if no.button("Cancel", key="delete_no"):
            del st.session_state.confirm_delete
            st.rerun()


def refusals(action: Callable[[RunDir, classroom.Person], None], runs: list[RunDir], me: classroom.Person) -> list[str]:
    """Do an action on each run as this person; the reasons of those refused."""
    refused = []
    for run in runs:
        try:
            action(run, me)
        except launcher.RunRefused as refusal:
            refused.append(str(refusal))
    return refused
