"""What a browser's session keeps while another page is shown: Streamlit drops the state of every widget a page does
not draw, so the pages keep their widgets' values, uploads and drawings here for the whole session."""
from __future__ import annotations

from collections.abc import Sequence

import streamlit as st


def keep_for_session(keys: Sequence[str]) -> None:
    """Keep these widgets' values while another page is shown: a copy is kept beside each and put back on return.
    Call before the widgets are drawn, and give them no default of their own (a widget given both warns)."""
    for key in keys:
        if key in st.session_state:
            st.session_state[f"kept_{key}"] = st.session_state[key]
        elif f"kept_{key}" in st.session_state:
            st.session_state[key] = st.session_state[f"kept_{key}"]


def choices_kept(options: Sequence[str], key: str) -> Sequence[str]:
    """A choice widget's options, after forgetting the value its key holds when that is not one of them (a layer of
    the network shown before: AlexNet's conv5 on a LeNet run), so that the widget starts at its first option."""
    for held in (key, f"kept_{key}"):
        if held in st.session_state and st.session_state[held] not in options:
            del st.session_state[held]
    return options
