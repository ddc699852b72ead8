"""A progress bar that says how long is left, for the pages' one-off computations (kept with the run after)."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import streamlit as st

from alexnet_explorer.history import duration


@contextmanager
def time_left_bar(saying: Callable[[int, int], str]) -> Iterator[Callable[[int, int], None]]:
    """A progress bar, and the callback that moves it: it hears (done, total) and writes ``saying(done, total)`` and
    about how long is left at the pace so far; the bar goes when the work is done."""
    bar, started = st.progress(0.0), time.perf_counter()

    def report(done: int, total: int) -> None:
        left = (time.perf_counter() - started) / done * (total - done)
        bar.progress(done / total, text=f"{saying(done, total)}, about {duration(left)} left…")

    yield report
    bar.empty()
