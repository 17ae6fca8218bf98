"""How borrowers repay: on time, late, prepaid or defaulted, with shocks clustered in time
and place (the dashboard's breaker history needs them)."""

from __future__ import annotations

from datetime import date

import numpy as np

from huinong.demo.dates import NO_DATE, Span, day_number, workday
from huinong.demo.draws import KEY
from huinong.demo.geography import Villages
from huinong.demo.schedules import DAY_COUNT_BASIS, plan
from huinong.schema import INCOME_PROJECTS

ONTIME, LATE, DEFAULT, PREPAY = range(4)

# Credit shocks: (name, first and last due date hit, scope, default probability for an
# exposed loan, before the village risk factor).
SHOCKS = (
    ("2018年倒春寒", date(2018, 6, 1), date(2018, 12, 31), "果", 0.02),
    ("2019年非洲猪瘟", date(2019, 4, 1), date(2019, 12, 31), "牧", 0.03),
    ("2020年新冠疫情", date(2020, 2, 1), date(2020, 6, 30), "all", 0.005),
    ("2021年秋汛", date(2021, 9, 1), date(2022, 3, 31), "flood", 0.07),
    ("2024年香菇滞销", date(2024, 3, 1), date(2024, 12, 31), "菌", 0.02),
)
LOCAL_SHOCK_PROBABILITY = 0.012  # default probability of an exposed loan in a local bad spell
FLOOD_TOWNSHIP_SHARE = 0.2
LOCAL_SPELL_TOWNSHIP_SHARE = 0.25
LOCAL_SPELL_DAYS = 270
DEFAULT_AT_MATURITY = 0.45  # a defaulting loan often stops when the principal falls due
EARLY_PAYMENT_SHARE = 0.3  # instalments paid 1-5 days before the due date
LATE_INSTALMENT_SHARE = 0.35  # of a late payer's instalments
PENALTY_RATE_FACTOR = 1.5  # 罚息: late instalments pay the contract rate x 1.5
WRITE_OFF_AFTER_DAYS = 365  # a bad loan is written off a year or more after the first miss
NOT_WRITTEN_OFF_SHARE = 0.05
RECOVERY_SHARE = 0.3  # defaulted loans that recover part of the principal afterwards


def village_risk(villages: Villages, span: Span, rng: np.random.Generator) -> dict:
    """Where bad luck strikes: a risk factor per village and bad spells per township."""
    factor = np.clip(rng.lognormal(-0.1, 0.45, villages.n), 0.25, 3.0)
    flood = rng.random(villages.n_townships) < FLOOD_TOWNSHIP_SHARE
    if not flood.any():
        flood[rng.integers(0, villages.n_townships)] = True
    local = rng.random(villages.n_townships) < LOCAL_SPELL_TOWNSHIP_SHARE
    earliest, latest = span.start + 300, max(span.end - 540, span.start + 301)
    local_from = np.where(local, rng.integers(earliest, latest, villages.n_townships), NO_DATE)
    local_to = np.where(local, local_from + LOCAL_SPELL_DAYS, NO_DATE)
    return {"factor": factor, "flood": flood, "local_from": local_from, "local_to": local_to}


def _stops(
    loans: dict[str, np.ndarray],
    context: dict[str, np.ndarray],
    plan_rows: dict[str, np.ndarray],
    count: np.ndarray,
    first: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """The instalment at which each loan stops paying (``1 << 30`` if it never does).

    A background chance (often at maturity, when the principal falls due) plus the shocks,
    which hit loans already out when they start, not new ones.
    """
    n_loans = count.size
    s_loan, due = plan_rows["s_loan"], plan_rows["s_due"]
    never = 1 << 30
    stop = np.full(n_loans, never)
    at_maturity = rng.random(n_loans) < DEFAULT_AT_MATURITY
    background = np.where(at_maturity, count - 1, (rng.random(n_loans) * count).astype(np.int64))
    stop = np.where(rng.random(n_loans) < context["p_default"], background, stop)
    keys = s_loan * KEY + due
    loan_index = np.arange(n_loans)
    windows = []
    for _, first_day, last_day, scope, probability in SHOCKS:
        if scope == "all":
            exposed = np.ones(n_loans, bool)
        elif scope == "flood":
            exposed = context["flood"]
        else:
            exposed = context["project"] == INCOME_PROJECTS.index(scope)
        windows.append(
            (
                np.full(n_loans, day_number(first_day)),
                np.full(n_loans, day_number(last_day)),
                exposed,
                probability,
            )
        )
    windows.append(
        (
            context["local_from"],
            context["local_to"],
            context["local_from"] != NO_DATE,
            LOCAL_SHOCK_PROBABILITY,
        )
    )
    for window_from, window_to, exposed, probability in windows:
        at = np.minimum(np.searchsorted(keys, loan_index * KEY + window_from), keys.size - 1)
        hit = (
            exposed
            & (loans["disbursed"] < window_from)
            & (s_loan[at] == loan_index)
            & (due[at] >= window_from)
            & (due[at] <= window_to)
            & (rng.random(n_loans) < probability * context["risk"])
        )
        stop = np.where(hit, np.minimum(stop, at - first), stop)
    return stop


def simulate(
    loans: dict[str, np.ndarray],
    context: dict[str, np.ndarray],
    span: Span,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Plan and repay a batch of loans: on time, late, defaulted or prepaid."""
    plan_rows = plan(loans)
    n_loans = loans["disbursed"].size
    s_loan, due = plan_rows["s_loan"], plan_rows["s_due"]
    count = np.bincount(s_loan, minlength=n_loans)
    first = np.cumsum(count) - count
    k = plan_rows["s_no"] - 1
    loan_index = np.arange(n_loans)

    stop = _stops(loans, context, plan_rows, count, first, rng)
    behaviour_draw = rng.random(n_loans)
    kind = np.select(
        [
            stop < count,
            behaviour_draw < context["p_late"],
            behaviour_draw < context["p_late"] + context["p_prepay"],
        ],
        [DEFAULT, LATE, PREPAY],
        ONTIME,
    )

    # One payment per instalment: on the due date or a few days early, some late.
    size = due.size
    loan_kind = kind[s_loan]
    total_due = plan_rows["s_principal"] + plan_rows["s_interest"]
    pay = due - np.where(rng.random(size) < EARLY_PAYMENT_SHARE, rng.integers(1, 6, size), 0)
    lateness_draw = rng.random(size)
    lateness = np.select(
        [lateness_draw < 0.70, lateness_draw < 0.92, lateness_draw < 0.95],
        [rng.integers(1, 31, size), rng.integers(31, 61, size), rng.integers(61, 91, size)],
        rng.integers(91, 201, size),
    )
    late = (loan_kind == LATE) & (rng.random(size) < LATE_INSTALMENT_SHARE)
    pay = np.where(late, due + lateness, pay)
    pay = np.maximum(pay, loans["disbursed"][s_loan])
    # Payments are applied first in, first out: a late instalment holds up the next.
    pay = np.maximum.accumulate(s_loan * KEY + pay) - s_loan * KEY
    paid = ~((loan_kind == DEFAULT) & (k >= stop[s_loan]))
    rate = loans["rate"][s_loan]
    penalty = np.where(
        pay > due,
        np.floor(
            total_due * rate / 1e6 * PENALTY_RATE_FACTOR * (pay - due) / DAY_COUNT_BASIS + 0.5
        ),
        0,
    ).astype(np.int64)

    # Prepayment settles everything still due in one payment (the plan is then covered).
    length = loans["maturity"] - loans["disbursed"]
    prepay_day = loans["disbursed"] + (rng.uniform(0.15, 0.9, n_loans) * length).astype(np.int64)
    prepay_day = np.maximum(workday(prepay_day, span.end), loans["disbursed"])
    lumped = (loan_kind == PREPAY) & (due > prepay_day[s_loan])
    single = paid & ~lumped
    lump_principal = np.bincount(s_loan[lumped], plan_rows["s_principal"][lumped], n_loans).astype(
        np.int64
    )
    lump_interest = np.bincount(s_loan[lumped], plan_rows["s_interest"][lumped], n_loans).astype(
        np.int64
    )
    has_lump = np.bincount(s_loan[lumped], minlength=n_loans) > 0

    # Defaults: written off a year or more after the first missed instalment; a few
    # recover part of the principal afterwards.
    first_miss = due[np.minimum(first + np.minimum(stop, count - 1), size - 1)]
    defaulted = kind == DEFAULT
    written_off = workday(
        first_miss + WRITE_OFF_AFTER_DAYS + rng.integers(0, 300, n_loans), span.end
    )
    written_off = np.where(
        defaulted & (rng.random(n_loans) >= NOT_WRITTEN_OFF_SHARE) & (written_off <= span.end),
        written_off,
        NO_DATE,
    )
    repaid_principal = np.bincount(s_loan[single], plan_rows["s_principal"][single], n_loans)
    outstanding = loans["amount"] - repaid_principal.astype(np.int64)
    recovers = defaulted & (rng.random(n_loans) < RECOVERY_SHARE)
    recovery_day = np.where(
        written_off != NO_DATE,
        written_off + rng.integers(30, 600, n_loans),
        first_miss + rng.integers(120, 600, n_loans),
    )
    recovery = np.floor(outstanding * rng.uniform(0.1, 0.5, n_loans) / 10_000).astype(np.int64)
    recovery = np.minimum(np.maximum(recovery, 1) * 10_000, outstanding)

    p_loan = np.r_[s_loan[single], loan_index[has_lump], loan_index[recovers]]
    p_day = np.r_[pay[single], prepay_day[has_lump], workday(recovery_day[recovers], 1 << 30)]
    p_principal = np.r_[
        plan_rows["s_principal"][single], lump_principal[has_lump], recovery[recovers]
    ]
    p_interest = np.r_[
        plan_rows["s_interest"][single] + penalty[single],
        lump_interest[has_lump],
        np.zeros(int(recovers.sum()), np.int64),
    ]
    last_day = np.full(n_loans, -1)
    np.maximum.at(last_day, p_loan, p_day)
    payoff = np.where(~defaulted & (last_day <= span.end), last_day, NO_DATE)
    inside = p_day <= span.end
    order = np.lexsort((p_day[inside], p_loan[inside]))
    simulated = dict(loans)
    simulated.update(plan_rows)
    simulated.update(
        {
            "written_off": written_off,
            "first_miss": np.where(defaulted, first_miss, NO_DATE),
            "payoff": payoff,
            "clean": ((kind == ONTIME) | (kind == PREPAY)) & (payoff != NO_DATE),
            "p_loan": p_loan[inside][order],
            "p_day": p_day[inside][order],
            "p_principal": p_principal[inside][order],
            "p_interest": p_interest[inside][order],
        }
    )
    return simulated
