"""The error guard: a page section that fails shows one plain message instead of a traceback."""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec

import streamlit as st

log = logging.getLogger(__name__)
P = ParamSpec("P")


def plain_message(error: BaseException) -> str:
    """What went wrong, in words for the screen (the traceback goes to the server log only)."""
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename} cannot be read or written ({error.strerror or error})"
    return str(error) or type(error).__name__


def guarded(render: Callable[P, None]) -> Callable[P, None]:
    """Wrap a page section so that any error shows as one plain st.error instead of a traceback."""
    @functools.wraps(render)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            render(*args, **kwargs)
        except Exception as error:  # the page boundary: st.rerun/st.stop are BaseExceptions and pass through
            log.exception("error in %s", render.__name__)
            st.error(f"Something went wrong: {plain_message(error)}", icon=":material/error:")
    return wrapper
