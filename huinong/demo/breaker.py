"""The breaker (熔断机制) played out on the simulated book, with the profile's thresholds."""

from __future__ import annotations

import numpy as np

from huinong.demo.book import cover_days, subset
from huinong.demo.dates import NO_DATE, Span, month_ends, workday
from huinong.demo.draws import first_per_group, segment_cumsum
from huinong.demo.geography import Villages
from huinong.demo.households import People
from huinong.demo.repayments import WRITE_OFF_AFTER_DAYS
from huinong.demo.units import exact_rate, fen
from huinong.policy import Policy

SLIP_SHARE = 0.04  # loans made in a stopped village anyway (R-X3 flags them)
BREAKER_PASSES = 3


def apply_breaker(
    book: dict[str, np.ndarray],
    villages: Villages,
    people: People,
    span: Span,
    policy: Policy,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Play the breaker (R-B3) out on the simulated book.

    The bank stops new credit in a tripped village or township, so loans disbursed there
    in the following month would not exist: they are dropped, but a few slip through
    anyway. To lift the breaker the bank writes off the bad loans there as soon as it may
    (a year after the first missed instalment); without that a tripped township, lending
    nothing, never recovers. Both change the book and can trip or lift others, hence up
    to three passes.
    """
    ends = month_ends(span)
    if ends.size == 0:
        return book
    npl_after = int(policy["npl_dpd_threshold"]) + 1  # R-L3: DPD > threshold
    slips = rng.random(book["disbursed"].size) < SLIP_SHARE
    for _ in range(BREAKER_PASSES):
        balance, npl_balance = _village_npl(book, villages, people, ends, policy)
        village_tripped, township_tripped = _tripped(balance, npl_balance, villages, policy)
        stopped = village_tripped | township_tripped[villages.township]
        household = book["borrower_type"] == 0
        village = people.latest[np.where(household, book["borrower"], 0)]

        # The first tripped month-end, per village, from each month-end on.
        months = np.arange(ends.size)
        next_stop = np.where(stopped, months, ends.size)
        next_stop = np.minimum.accumulate(next_stop[:, ::-1], axis=1)[:, ::-1]
        bad = household & (book["first_miss"] != NO_DATE)
        npl_month = np.minimum(np.searchsorted(ends, book["first_miss"] + npl_after), ends.size - 1)
        tripped_at = next_stop[village, npl_month]
        cleanup = np.maximum(
            book["first_miss"] + WRITE_OFF_AFTER_DAYS + rng.integers(0, 31, village.size),
            ends[np.minimum(tripped_at, ends.size - 1)] + rng.integers(15, 76, village.size),
        )
        cleanup = workday(cleanup, span.end)
        sooner = bad & (tripped_at < ends.size) & (cleanup <= span.end)
        sooner &= cleanup < book["written_off"]
        book["written_off"] = np.where(sooner, cleanup, book["written_off"])

        month = np.searchsorted(ends, book["disbursed"]) - 1  # the month-end before
        known = (month >= 0) & household
        drop = known & stopped[village, np.clip(month, 0, ends.size - 1)] & ~slips
        if not drop.any() and not sooner.any():
            break
        kept = np.flatnonzero(~drop)
        book = subset(book, kept)
        slips = slips[kept]
    return book


def _village_npl(
    book: dict[str, np.ndarray],
    villages: Villages,
    people: People,
    ends: np.ndarray,
    policy: Policy,
) -> tuple[np.ndarray, np.ndarray]:
    """Outstanding and NPL balance (fen) of household loans per village x month-end (R-B1).

    Works on (loan, month-end) cells while a household loan is on the book (R-L1): principal
    repaid and "some instalment uncovered more than 90 days after its due date" (R-L3)
    are both running totals over those cells, so no per-cell search is needed.
    """
    n_loans = book["disbursed"].size
    p_loan, p_day = book["p_loan"], book["p_day"]
    min_outstanding = fen(policy["book_min_outstanding"])
    npl_after = int(policy["npl_dpd_threshold"]) + 1
    cum_principal = segment_cumsum(book["p_principal"], p_loan)
    done = cum_principal >= book["amount"][p_loan] - min_outstanding
    done_loan, done_row = first_per_group(p_loan, done)
    repaid_day = np.full(n_loans, NO_DATE)
    repaid_day[done_loan] = p_day[done_row]

    household = book["borrower_type"] == 0
    first_end = np.searchsorted(ends, book["disbursed"])
    stop = np.minimum(np.searchsorted(ends, book["written_off"]), np.searchsorted(ends, repaid_day))
    months = np.where(household, np.maximum(stop - first_end, 0), 0)
    cell_start = np.cumsum(months) - months
    cell_loan = np.repeat(np.arange(n_loans), months)
    cells = cell_loan.size

    def cell_of(loan: np.ndarray, month: np.ndarray) -> np.ndarray:
        return cell_start[loan] + month - first_end[loan]

    # Only payments that fall into one of their loan's own cells: entity loans have none, and
    # letting theirs through would credit them to the next loans' cells (or past the last).
    paid_month = np.searchsorted(ends, p_day)
    inside = paid_month - first_end[p_loan] < months[p_loan]
    repaid = np.bincount(
        cell_of(p_loan[inside], paid_month[inside]),
        book["p_principal"][inside],
        cells,
    )
    outstanding = book["amount"][cell_loan] - segment_cumsum(repaid, cell_loan).astype(np.int64)

    # Instalment k makes its loan NPL from the month-end 91+ days after due_on (a) until
    # the month-end on or after it is covered (b): count open intervals per cell.
    s_loan = book["s_loan"]
    late_from = np.searchsorted(ends, book["s_due"] + npl_after)
    late_until = np.searchsorted(ends, cover_days(book, policy))
    opens = (late_from < late_until) & (late_from < stop[s_loan]) & (months[s_loan] > 0)
    closes = opens & (late_until < stop[s_loan])
    delta = np.bincount(cell_of(s_loan[opens], late_from[opens]), minlength=cells)
    delta -= np.bincount(cell_of(s_loan[closes], late_until[closes]), minlength=cells)
    npl = segment_cumsum(delta, cell_loan) > 0

    on_book = outstanding > min_outstanding
    month = np.arange(cells) - cell_start[cell_loan] + first_end[cell_loan]
    cell = people.latest[book["borrower"][cell_loan]] * ends.size + month
    size = villages.n * ends.size
    balance = np.bincount(cell[on_book], outstanding[on_book], size)
    npl_balance = np.bincount(cell[on_book & npl], outstanding[on_book & npl], size)
    shape = (villages.n, ends.size)
    return balance.astype(np.int64).reshape(shape), npl_balance.astype(np.int64).reshape(shape)


def _tripped(
    balance: np.ndarray, npl_balance: np.ndarray, villages: Villages, policy: Policy
) -> tuple[np.ndarray, np.ndarray]:
    """Village and township breakers per month-end (R-B2), compared exactly.

    A village trips when its NPL rate exceeds the breaker rate; a township when its
    tripped villages are at least the breaker share of all its villages.
    """
    rate = exact_rate(policy, "village_breaker_rate_pct")
    share = exact_rate(policy, "township_breaker_share_pct")
    village = (balance > 0) & (npl_balance * rate.denominator > rate.numerator * balance)
    tripped = np.zeros((villages.n_townships, balance.shape[1]), np.int64)
    np.add.at(tripped, villages.township, village.astype(np.int64))
    total = np.bincount(villages.township, minlength=villages.n_townships)
    township = tripped * share.denominator >= share.numerator * total[:, None]
    return village, township
