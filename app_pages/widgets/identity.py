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


def person() -> classroom.Person:
    """This session as the package sees it: its id (the browser's, so a reload keeps its runs) and whether it acts
    as the instructor (every session does when no passcode is set)."""
    if "seat" not in st.session_state:
        cookie = st.context.cookies.get("_streamlit_xsrf")
        st.session_state.seat = classroom.browser_id(cookie) or secrets.token_hex(8)
    instructor = instructor_passcode() is None or st.session_state.get("instructor", False)
    address = st.context.ip_address  # None, or a stand-in object under AppTest, when there is no real connection
    return classroom.Person(st.session_state.seat, instructor, address if isinstance(address, str) else None)


def instructor_sign_in() -> None:
    """The instructor's passcode field, or a sign-out button once it was entered; nothing without a passcode."""
    expected = instructor_passcode()
    if expected is None:
        return
    if st.session_state.get("instructor"):
        st.success("Signed in as the instructor.", icon=":material/school:")
        if st.button("Sign out", key="instructor_sign_out", icon=":material/logout:"):
            st.session_state.instructor = False
            st.rerun()
        return
    with st.form("instructor_form", border=False, clear_on_submit=True):  # the typed passcode is not kept
        typed = st.text_input("Instructor's passcode", type="password", key="instructor_passcode",
                              help="The instructor can stop, resume or delete any run, order the queue, limit what "
                                   "students start and pin the class run.")
        if st.form_submit_button("Sign in", icon=":material/login:"):
            if classroom.try_passcode(typed, expected):
                st.session_state.instructor = True
                st.rerun()
            st.error("That is not the instructor's passcode.", icon=":material/lock:")
