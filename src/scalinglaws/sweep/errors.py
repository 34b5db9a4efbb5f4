"""The error the sweep runner raises for a problem the user can fix."""

from __future__ import annotations

from scalinglaws.errors import ScalingLawsError


class SweepError(ScalingLawsError, ValueError):
    """A sweep design, corpus, device or backend is unusable; the message says the fix."""
