"""Calendar arithmetic on whole arrays of dates, held as integer days since 1970-01-01."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

EPOCH = date(1970, 1, 1)
NO_DATE = 10**9  # sentinel day for "never" / empty date cells


def day_number(value: date) -> int:
    return (value - EPOCH).days


@dataclass(frozen=True)
class Span:
    """The demo's time span, as day numbers."""

    start: int
    end: int

    @classmethod
    def of(cls, start: date, end: date) -> Span:
        return cls(day_number(start), day_number(end))


def as_datetime(days: np.ndarray) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]")


def add_months(days: np.ndarray, months: np.ndarray | int) -> np.ndarray:
    """Same day-of-month `months` later, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    dt = as_datetime(days)
    month = dt.astype("datetime64[M]")
    day_of_month = (dt - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.asarray(months, dtype=np.int64)
    last = (target + 1).astype("datetime64[D]").astype(np.int64) - 1
    return np.minimum(target.astype("datetime64[D]").astype(np.int64) + day_of_month, last)


def workday(days: np.ndarray, latest: int) -> np.ndarray:
    """Move a Saturday or Sunday to the next Monday (or the Friday before, near `latest`)."""
    days = np.asarray(days, dtype=np.int64)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    later = days + np.where(weekday == 5, 2, np.where(weekday == 6, 1, 0))
    earlier = days - np.where(weekday == 5, 1, np.where(weekday == 6, 2, 0))
    return np.where(later <= latest, later, earlier)


def month_ends(span: Span) -> np.ndarray:
    """Every month-end of the span (the breaker's evaluation days, R-B2)."""
    first = as_datetime([span.start]).astype("datetime64[M]")[0]
    last = as_datetime([span.end]).astype("datetime64[M]")[0]
    months = np.arange(first, last + 1)
    ends = (months + 1).astype("datetime64[D]").astype(np.int64) - 1
    return ends[ends <= span.end]


def _twentieths(quarterly: bool) -> np.ndarray:
    """Every 20th (结息日) from 2000 to 2070: monthly, or March/June/September/December."""
    months = np.arange(np.datetime64("2000-01"), np.datetime64("2071-01"))
    if quarterly:
        months = months[(months.astype(np.int64) % 12 + 1) % 3 == 0]
    return months.astype("datetime64[D]").astype(np.int64) + 19


QUARTER_20THS = _twentieths(quarterly=True)
MONTH_20THS = _twentieths(quarterly=False)
