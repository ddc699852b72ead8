"""Who is at the browser: the instructor's passcode and sign-in, and this session as the package's Person."""
from __future__ import annotations

import os
import secrets

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from alexnet_explorer import classroom


def instructor_passcode() -> str | None:
    """The instructor's passcode: $ALEXNET_EXPLORER_INSTRUCTOR_PASSCODE, else .streamlit/secrets.toml's
    instructor_passcode; None (no roles, everyone may do everything) when neither is set."""
    passcode = os.environ.get(classroom.PASSCODE_ENV)
    if not passcode:
        try:
            passcode = st.secrets.get(classroom.PASSCODE_SECRET)
        except (FileNotFoundError, StreamlitSecretNotFoundError):  # no secrets file at all
            passcode = None
    return str(passcode) if passcode else None


@st.cache_resource
def sign_ins() -> classroom.SignIns:
    """The browsers signed in as the instructor, one registry for the whole server."""
    return classroom.SignIns()


def seat() -> str:
    """This session's id: its browser's (so a reload keeps its runs and its sign-in), else one of its own."""
    if "seat" not in st.session_state:
        cookie = st.context.cookies.get("_streamlit_xsrf")
        st.session_state.seat = classroom.browser_id(cookie) or secrets.token_hex(8)
    return st.session_state.seat


def person() -> classroom.Person:
    """This session as the package sees it: its id and whether it acts as the instructor (every session does when no
    passcode is set)."""
    passcode = instructor_passcode()
    address = st.context.ip_address  # None, or a stand-in object under AppTest, when there is no real connection
    return classroom.Person(seat(), passcode is None or sign_ins().signed_in(seat(), passcode),
                            address if isinstance(address, str) else None)


def instructor_sign_in() -> None:
    """The instructor's passcode field, or a sign-out button once it was entered; nothing without a passcode."""
    expected = instructor_passcode()
    if expected is None:
        return
    if sign_ins().signed_in(seat(), expected):
        st.success("Signed in as the instructor.", icon=":material/school:")
        if st.button("Sign out", key="instructor_sign_out", icon=":material/logout:"):
            sign_ins().sign_out(seat())
            st.rerun()
        return
    with st.form("instructor_form", border=False, clear_on_submit=True):  # the typed passcode is not kept
        typed = st.text_input("Instructor's passcode", type="password", key="instructor_passcode",
                              help="The instructor can stop, resume or delete any run, order the queue, limit what "
                                   "students start and pin the class run.")
        if st.form_submit_button("Sign in", icon=":material/login:"):
            if classroom.try_passcode(typed, expected):
                sign_ins().sign_in(seat(), expected)
                st.rerun()
            st.error("That is not the instructor's passcode.", icon=":material/lock:")
