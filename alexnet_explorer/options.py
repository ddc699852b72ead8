"""A named choice of a setting that is not part of the network itself (an augmentation, a projection)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Option:
    """One named choice: the name a person reads, and what it builds or does."""

    display: str
    make: Callable
