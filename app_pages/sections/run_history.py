"""The run history: every run with its outcome, their curves overlaid, and downloads and deletion of one."""
import streamlit as st

from alexnet_explorer import history, launcher, plots, ui
from alexnet_explorer.runs import RunDir, list_runs
from app_pages.sections.run_panel import do_then_redraw


@ui.guarded
def run_history() -> None:
    """Every run with its outcome; overlay the curves of selected runs; download or delete one."""
    st.subheader("Run history")
    overviews = [history.overview(run) for run in list_runs()]
    if not overviews:
        st.caption("No runs yet.")
        return
    # This table is drawn with the page, not live: the live panel has the running run's duration.
    picked = st.dataframe(history.table_rows(overviews), hide_index=True, on_select="rerun",
                          selection_mode="multi-row", key="history", placeholder="–",
                          column_config={"best test acc": st.column_config.NumberColumn(format="%.3f")})
    chosen = [overviews[i] for i in picked.selection.rows]
    if chosen:
        curves = {o.run.name: plots.training_curves(o.run.read_events()) for o in chosen}
        epochs = max((o.config.epochs for o in chosen if o.config), default=1)
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
            do_then_redraw(launcher.delete, run)
        if no.button("Cancel", key="delete_no"):
            del st.session_state.confirm_delete
            st.rerun()
