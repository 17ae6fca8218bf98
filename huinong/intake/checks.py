"""What rows are checked against beyond the contract: the programme's start, the day files not
yet in the store are read, and the limits (huinong.intake.limits)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from huinong.intake.limits import DEFAULT_LIMITS, Limits


@dataclass(frozen=True)
class IntakeChecks:
    """What the rows are checked against beyond the contract: the programme's start (no event
    before it), the day files not yet in the store are read (no event after it) and the limits."""

    programme_start: dt.date
    today: dt.date = field(default_factory=dt.date.today)
    limits: Limits = DEFAULT_LIMITS

    @classmethod
    def from_policy(cls, policy=None, **values) -> IntakeChecks:
        from huinong.policy import default_policy

        profile = policy if policy is not None else default_policy()
        start = dt.date.fromisoformat(str(profile["programme_start"]))
        return cls(programme_start=start, **values)
