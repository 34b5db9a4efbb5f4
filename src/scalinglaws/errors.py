"""The exceptions and warnings scalinglaws raises.

Every problem a user can cause is a :class:`ScalingLawsError`; its message says what
was wrong, what was received and how to fix it, so the command line can print it as one
line and exit with status 2.
"""

from __future__ import annotations

from typing import Any


class ScalingLawsError(Exception):
    """Base class of every error scalinglaws raises on purpose."""


class DataError(ScalingLawsError, ValueError):
    """The runs table is unusable: a missing column, a bad value, an unreadable file."""


class LawError(ScalingLawsError, ValueError):
    """A law is unknown, or a formula string is malformed or unsafe."""


class FitError(ScalingLawsError, RuntimeError):
    """A fit could not be carried out; ``partial`` holds the best attempt, if any."""

    def __init__(self, message: str, partial: Any = None) -> None:
        super().__init__(message)
        self.partial = partial


class ScalingLawsWarning(UserWarning):
    """Something the user should look at, but not an error (duplicates, units, bounds)."""
