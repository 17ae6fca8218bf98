"""Repayment plans (还款计划): the instalments of each loan by its repayment method."""

from __future__ import annotations

import numpy as np

from huinong.demo.dates import MONTH_20THS, QUARTER_20THS, add_months

# Indexes into huinong.schema.REPAYMENT_METHODS.
QUARTERLY, MONTHLY, ANNUITY, BULLET = range(4)
DAY_COUNT_BASIS = 360  # interest accrues actual/360


def plan(loans: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The repayment plan of every loan, sorted by loan and instalment.

    Interest-only methods pay interest on the 20th of each quarter's last month (or of each
    month) and the principal at maturity; 等额本息 pays equal monthly instalments; a bullet
    loan pays everything at maturity.
    """
    disbursed, maturity = loans["disbursed"], loans["maturity"]
    amount, rate, method, term = loans["amount"], loans["rate"], loans["method"], loans["term"]
    q_from = np.searchsorted(QUARTER_20THS, disbursed, side="right")
    q_to = np.searchsorted(QUARTER_20THS, maturity, side="left")
    m_from = np.searchsorted(MONTH_20THS, disbursed, side="right")
    m_to = np.searchsorted(MONTH_20THS, maturity, side="left")
    count = np.select(
        [method == QUARTERLY, method == MONTHLY, method == ANNUITY],
        [q_to - q_from + 1, m_to - m_from + 1, term],
        1,
    )
    loan = np.repeat(np.arange(disbursed.size), count)
    first = np.cumsum(count) - count
    k = np.arange(loan.size) - first[loan]
    last = k == count[loan] - 1
    kind = method[loan]
    due = np.zeros(loan.size, np.int64)
    for code, dates, start in ((QUARTERLY, QUARTER_20THS, q_from), (MONTHLY, MONTH_20THS, m_from)):
        pick = kind == code
        due[pick] = dates[np.minimum(start[loan[pick]] + k[pick], dates.size - 1)]
    pick = kind == ANNUITY
    due[pick] = add_months(disbursed[loan[pick]], k[pick] + 1)
    due[last] = maturity[loan[last]]

    previous = np.empty_like(due)
    previous[1:] = due[:-1]
    previous[first] = disbursed
    principal_amount = amount[loan].astype(float)
    annual = rate[loan] / 1e6
    # Interest-bearing periods accrue on the full principal.
    interest = np.floor(
        principal_amount * annual * (due - previous) / DAY_COUNT_BASIS + 0.5
    ).astype(np.int64)
    principal = np.where(last, amount[loan], 0)

    if pick.any():
        # 等额本息: equal monthly instalments; interest on the balance at the monthly rate.
        monthly = annual[pick] / 12
        periods = count[loan[pick]]
        growth = (1 + monthly) ** periods
        payment = np.floor(principal_amount[pick] * monthly * growth / (growth - 1) + 0.5)
        before = (1 + monthly) ** k[pick]
        balance = principal_amount[pick] * before - payment * (before - 1) / monthly
        annuity_interest = np.floor(balance * monthly + 0.5).astype(np.int64)
        annuity_principal = payment.astype(np.int64) - annuity_interest
        interest[pick] = annuity_interest
        rows = np.flatnonzero(pick)
        principal[rows] = annuity_principal
        paid_before_last = np.bincount(
            loan[rows[~last[rows]]],
            weights=annuity_principal[~last[rows]],
            minlength=disbursed.size,
        ).astype(np.int64)
        closing = rows[last[rows]]
        principal[closing] = amount[loan[closing]] - paid_before_last[loan[closing]]
    return {
        "s_loan": loan,
        "s_no": k + 1,
        "s_due": due,
        "s_principal": principal,
        "s_interest": interest,
    }
