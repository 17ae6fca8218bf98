"""The loan book as arrays: loans, their plan rows (``s_*``) and payment rows (``p_*``).

Loans are indexed 0..n-1; plan and payment rows are grouped by loan, in loan order, and
point at their loan through ``s_loan`` / ``p_loan``.
"""

from __future__ import annotations

import numpy as np

from huinong.demo.dates import NO_DATE
from huinong.demo.draws import KEY, segment_cumsum
from huinong.demo.units import fen
from huinong.policy import Policy

LOAN_COLUMNS = (
    "borrower_type",  # 0 household, 1 entity
    "borrower",  # household or entity index
    "disbursed",
    "maturity",
    "term",
    "amount",
    "rate",
    "benchmark",
    "method",
    "product",
    "bank",
)
LOAN_KEYS = (*LOAN_COLUMNS, "written_off", "first_miss", "payoff", "clean")
PLAN_KEYS = ("s_loan", "s_no", "s_due", "s_principal", "s_interest")
PAYMENT_KEYS = ("p_loan", "p_day", "p_principal", "p_interest")


def concat(batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One book of several batches of loans, renumbering the loans of the later ones."""
    offsets = np.cumsum([0] + [batch["disbursed"].size for batch in batches])
    book = {}
    for key in LOAN_KEYS + PLAN_KEYS + PAYMENT_KEYS:
        parts = []
        for offset, batch in zip(offsets[:-1], batches, strict=True):
            parts.append(batch[key] + offset if key in ("s_loan", "p_loan") else batch[key])
        book[key] = np.concatenate(parts)
    return book


def subset(book: dict[str, np.ndarray], loans: np.ndarray) -> dict[str, np.ndarray]:
    """Keep (and reorder) the loans at `loans`, with their plans and payments."""
    out = {key: book[key][loans] for key in LOAN_KEYS}
    n_loans = book["disbursed"].size
    for keys, loan_key in ((PLAN_KEYS, "s_loan"), (PAYMENT_KEYS, "p_loan")):
        # Rows are grouped by loan, so each kept loan's rows move as one block.
        count = np.bincount(book[loan_key], minlength=n_loans)
        old_start = np.cumsum(count) - count
        kept_count = count[loans]
        new_start = np.cumsum(kept_count) - kept_count
        rows = np.repeat(old_start[loans] - new_start, kept_count) + np.arange(kept_count.sum())
        for key in keys:
            out[key] = book[key][rows]
        out[loan_key] = np.repeat(np.arange(loans.size), kept_count)
    return out


def cover_days(book: dict[str, np.ndarray], policy: Policy) -> np.ndarray:
    """The day each instalment becomes covered (R-L2), NO_DATE if never.

    Payments apply first in, first out whatever their split, so instalment k is covered
    from the first day the loan's running total paid reaches its cumulative amount due
    minus the tolerance.
    """
    s_loan, p_loan = book["s_loan"], book["p_loan"]
    cum_due = segment_cumsum(book["s_principal"] + book["s_interest"], s_loan)
    target = cum_due - fen(policy["cover_tolerance"])
    if p_loan.size == 0:
        return np.where(target <= 0, 0, NO_DATE)
    cum_paid = segment_cumsum(book["p_principal"] + book["p_interest"], p_loan)
    keys = p_loan * KEY + cum_paid
    at = np.minimum(np.searchsorted(keys, s_loan * KEY + np.maximum(target, 0)), keys.size - 1)
    day = np.where((p_loan[at] == s_loan) & (cum_paid[at] >= target), book["p_day"][at], NO_DATE)
    return np.where(target <= 0, 0, day)
