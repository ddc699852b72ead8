"""The classroom in the sidebar, when the instructor has set a passcode: signing in, and the limits on what
students may start (set by the instructor, read by the students)."""
import streamlit as st

from alexnet_explorer import classroom, history
from alexnet_explorer.model import MAX_INPUT_SIZE, MIN_INPUT_SIZE
from alexnet_explorer.runs import runs_root
from app_pages.widgets import identity
from app_pages.widgets.guard import guarded


@guarded
def classroom_sidebar(me: classroom.Person) -> None:
    """Sign in as the instructor, and the students' limits; nothing at all without a passcode."""
    if identity.instructor_passcode() is None:
        return
    with st.sidebar:
        st.subheader("Classroom")
        identity.instructor_sign_in()
        settings = classroom.read_settings(runs_root())
        if settings.damaged:
            st.warning(f"The class's settings are damaged ({settings.damaged}): students cannot start runs until "
                       "the instructor saves the limits again.", icon=":material/warning:")
        if me.instructor:
            limits_form(settings, me)
            disk_use()
        else:
            st.caption("You can watch every run, start your own (they wait in the queue when the device is busy), "
                       "and stop, resume or delete the runs you started. " + (settings.caps.describe() or ""))


def disk_use() -> None:
    """How much disk the runs take and how much is left, for the instructor to free it in time."""
    use = history.disk_use(runs_root())
    st.caption(f"The runs take {use.runs / 2**30:.2f} GB on disk ({use.free / 2**30:.1f} GB free). A finished run "
               "keeps about half of what a training one does; delete runs in the run history to free the rest.")


def limits_form(settings: classroom.Settings, me: classroom.Person) -> None:
    """What students may start: presets only, runs at a time, the input size on a CPU."""
    caps = settings.caps
    with st.form("limits", border=True):
        st.markdown("**What students may start**")
        presets_only = st.toggle("Only the presets and experiments", value=caps.presets_only, key="cap_presets")
        max_active = st.number_input("Runs per student at a time", min_value=1, value=caps.max_active, step=1,
                                     placeholder="no limit", key="cap_active",
                                     help="Queued or training; empty: no limit.")
        max_resize = st.number_input("Largest input on a CPU (px)", min_value=MIN_INPUT_SIZE,
                                     max_value=MAX_INPUT_SIZE, value=caps.max_cpu_resize, step=1,
                                     placeholder="no limit", key="cap_resize",
                                     help="The classroom preset uses 67 px; 224 px takes hours on a CPU.")
        if st.form_submit_button("Save the limits", icon=":material/save:"):
            caps = classroom.Caps(presets_only, max_active, max_resize)
            classroom.write_settings(runs_root(), classroom.Settings(caps, settings.class_run), me)
            st.success("Saved: they apply to the next run a student starts.", icon=":material/check:")
