"""Who borrows what, when: household and entity loans, renewed by those who repay.

Terms, rate caps and the score that earns credit come from the policy profile (R-C1,
R-M1, R-M2); how many borrow, how much and how often is the demo's own realism.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from huinong.demo.book import concat, subset
from huinong.demo.collection_rows import latest_row
from huinong.demo.dates import NO_DATE, Span, add_months, day_number, workday
from huinong.demo.draws import choice
from huinong.demo.entities import Entities
from huinong.demo.geography import Villages
from huinong.demo.households import People
from huinong.demo.repayments import simulate, village_risk
from huinong.demo.schedules import ANNUITY, BULLET, MONTHLY, QUARTERLY
from huinong.demo.scoring import scores
from huinong.demo.units import lowest_credit_limit, lowest_credit_score
from huinong.policy import Policy

PRODUCTS = ("扶贫小额信贷", "农户小额信用贷款", "产业扶贫贷款")  # poor, other households, entities
POOR, HOUSEHOLD, ENTITY = range(3)

# 1-5 year PBOC benchmark until the LPR reform of 2019-08-20, then LPR-like steps.
# (effective from, annual rate in millionths)
BENCHMARK_RATES = (
    (date(2015, 10, 24), 47_500),
    (date(2019, 8, 20), 43_500),
    (date(2019, 11, 20), 41_500),
    (date(2020, 4, 20), 38_500),
    (date(2022, 8, 22), 36_500),
    (date(2023, 8, 21), 34_500),
    (date(2024, 10, 21), 31_000),
    (date(2025, 5, 20), 30_000),
)
AT_BENCHMARK = 10_000  # rates are set as ten-thousandths of the benchmark

POOR_BORROWER_SHARE = 0.62
OTHER_BORROWER_SHARE = 0.22
UNRATED_SLIP_SHARE = 0.03  # loans to households below the credit score (R-X1 flags them)
HOUSEHOLD_BORROWING_ROUNDS = 4
HOUSEHOLD_COMES_BACK = 0.75  # a clean payer often comes back for the next loan
ENTITY_BORROWING_ROUNDS = 6
ENTITY_COMES_BACK = 0.85
LOCAL_BANK_SHARE = 0.92  # household loans of the county's rural commercial bank
ENTITY_LOCAL_BANK_SHARE = 0.9
# Amounts in thousands of yuan (households) and tens of thousands (entities, by kind).
POOR_AMOUNTS = {50: 50, 30: 15, 20: 12, 40: 10, 10: 6, 35: 3, 25: 3, 15: 1}
OTHER_AMOUNTS = {50: 35, 30: 20, 20: 18, 40: 10, 10: 10, 35: 3, 25: 3, 45: 1}
ODD_AMOUNT_SHARE = 0.015  # amounts to the hundred yuan
COMPANY_AMOUNTS = {100: 3, 150: 2, 200: 2, 300: 1}
COOPERATIVE_AMOUNTS = {20: 2, 30: 3, 50: 3, 80: 1, 100: 1}
FARM_AMOUNTS = {10: 2, 15: 2, 20: 3, 30: 2, 50: 1}
# Terms in months: most take the longest the policy allows (R-M1, R-M2), the others two or
# one year (cut to the policy's maximum too).
LONGEST_TERM = 0  # stands for the policy's max_term_months
POOR_TERMS = {LONGEST_TERM: 0.80, 24: 0.08, 12: 0.12}
OTHER_TERMS = {LONGEST_TERM: 0.60, 24: 0.15, 12: 0.25}
ENTITY_TERMS = {LONGEST_TERM: 0.5, 24: 0.2, 12: 0.3}
POOR_ABOVE_BENCHMARK_SHARE = 0.004  # R-X5 flags them
OTHER_MARKUPS = {10_000: 0.6, 11_000: 0.3, 12_000: 0.1}


def benchmark_rate(days: np.ndarray) -> np.ndarray:
    """The benchmark rate (millionths) in force on each day."""
    starts = np.array([day_number(since) for since, _ in BENCHMARK_RATES])
    rates = np.array([rate for _, rate in BENCHMARK_RATES], dtype=np.int64)
    return rates[np.clip(np.searchsorted(starts, days, side="right") - 1, 0, None)]


def make_book(
    villages: Villages,
    people: People,
    rows: dict[str, np.ndarray],
    entities: Entities,
    span: Span,
    policy: Policy,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Loans with their repayment plans and payments, as one dict of arrays."""
    risk = village_risk(villages, span, rng)
    batches = []

    # Households: most registered-poor households borrow (扶贫小额信贷), fewer others.
    wants = rng.random(people.n) < np.where(people.poor, POOR_BORROWER_SHARE, OTHER_BORROWER_SHARE)
    hh = np.flatnonzero(wants)
    # Part of the demand comes in the first wave after collection, the rest any time later.
    early = rng.random(hh.size) < np.where(people.poor[hh], 0.65, 0.3)
    later = rng.uniform(0, 1, hh.size) * np.maximum(span.end - people.first[hh] - 20, 0)
    wave = rng.exponential(np.where(people.poor[hh], 180, 300))
    day = people.first[hh] + 20 + np.where(early, wave, later).astype(np.int64)
    for _ in range(HOUSEHOLD_BORROWING_ROUNDS):
        day = workday(day, span.end)
        inside = day <= span.end
        loans, context = _household_loans(
            hh[inside], day[inside], people, rows, villages, risk, policy, rng
        )
        simulated = simulate(loans, context, span, rng)
        batches.append(simulated)
        again = simulated["clean"] & (rng.random(simulated["clean"].size) < HOUSEHOLD_COMES_BACK)
        hh = loans["borrower"][again]
        day = (
            simulated["payoff"][again] + 7 + rng.exponential(100, int(again.sum())).astype(np.int64)
        )

    # Entities borrow larger sums, renewed when repaid, through the 过渡期 after 2020.
    borrower = np.arange(entities.n)
    day = span.start + 60 + rng.integers(0, 600, entities.n)
    for _ in range(ENTITY_BORROWING_ROUNDS):
        day = workday(day, span.end)
        inside = day <= span.end
        loans, context = _entity_loans(
            borrower[inside], day[inside], entities, villages, policy, rng
        )
        simulated = simulate(loans, context, span, rng)
        batches.append(simulated)
        again = simulated["clean"] & (rng.random(simulated["clean"].size) < ENTITY_COMES_BACK)
        borrower = loans["borrower"][again]
        day = (
            simulated["payoff"][again] + 15 + rng.exponential(60, int(again.sum())).astype(np.int64)
        )

    book = concat(batches)
    order = np.lexsort((book["borrower"], book["borrower_type"], book["disbursed"]))
    return subset(book, order)


def _household_loans(
    hh: np.ndarray,
    day: np.ndarray,
    people: People,
    rows: dict[str, np.ndarray],
    villages: Villages,
    risk: dict,
    policy: Policy,
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    # Credit goes to households whose score earns a grade on the day (R-C1); a few
    # exceptions slip through (the warehouse flags them, R-X1).
    row = latest_row(rows, hh, day)
    score = scores(rows, np.maximum(row, 0), day, policy)
    credited = score >= lowest_credit_score(policy)
    keep = (row >= 0) & (credited | (rng.random(hh.size) < UNRATED_SLIP_SHARE))
    hh, day, row = hh[keep], day[keep], row[keep]
    n = hh.size
    poor = people.poor[hh]
    thousands = np.where(poor, choice(rng, n, POOR_AMOUNTS), choice(rng, n, OTHER_AMOUNTS))
    amount = thousands * 100_000
    odd = rng.random(n) < ODD_AMOUNT_SHARE
    amount = np.where(odd, rng.integers(100, 501, n) * 10_000, amount)
    # Within the smallest credit limit, so that no grade's limit is broken (R-X2).
    amount = np.minimum(amount, lowest_credit_limit(policy))
    term = _terms(np.where(poor, choice(rng, n, POOR_TERMS), choice(rng, n, OTHER_TERMS)), policy)
    method = _methods(term, rng)
    benchmark = benchmark_rate(day)
    # R-M1: the poor borrow at the benchmark rate; other households pay up to a fifth more.
    markup = np.where(
        poor,
        np.where(rng.random(n) < POOR_ABOVE_BENCHMARK_SHARE, 11_000, AT_BENCHMARK),
        choice(rng, n, OTHER_MARKUPS),
    )
    village = rows["village"][row]
    township = villages.township[village]
    bank = np.where(rng.random(n) < LOCAL_BANK_SHARE, township, len(villages.banks))
    loans = {
        "borrower_type": np.zeros(n, np.int64),
        "borrower": hh,
        "disbursed": day,
        "maturity": add_months(day, term),
        "term": term,
        "amount": amount,
        "rate": benchmark * markup // AT_BENCHMARK,
        "benchmark": benchmark,
        "method": method,
        "product": np.where(poor, POOR, HOUSEHOLD),
        "bank": bank,
    }
    factor = risk["factor"][village] * np.where(poor, 1.2, 1.0)
    context = {
        "p_default": 0.003 * factor,
        "p_late": np.minimum(0.07 * np.sqrt(factor), 0.3),
        "p_prepay": np.full(n, 0.06),
        "risk": factor,
        "project": rows["income_project"][row],
        "flood": risk["flood"][township],
        "local_from": risk["local_from"][township],
        "local_to": risk["local_to"][township],
    }
    return loans, context


def _entity_markups(policy: Policy) -> dict[int, float]:
    """Entity rates around the R-M2 cap: at the benchmark, between, at the cap, and a few
    above it (R-X5 flags them); in ten-thousandths of the benchmark."""
    cap = AT_BENCHMARK + int(policy.rate("entity_rate_markup_pct") * AT_BENCHMARK)
    weights: dict[int, float] = {}
    for markup, weight in (
        (AT_BENCHMARK, 0.35),
        ((AT_BENCHMARK + cap) // 2, 0.25),
        (cap, 0.33),
        (cap + 500, 0.04),
        (cap + 1_000, 0.03),
    ):
        weights[markup] = weights.get(markup, 0.0) + weight
    return weights


def _entity_loans(
    borrower: np.ndarray,
    day: np.ndarray,
    entities: Entities,
    villages: Villages,
    policy: Policy,
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    n = borrower.size
    kind = entities.kind[borrower]
    ten_thousands = np.select(
        [kind == 0, kind == 1],
        [choice(rng, n, COMPANY_AMOUNTS), choice(rng, n, COOPERATIVE_AMOUNTS)],
        choice(rng, n, FARM_AMOUNTS),
    )
    amount = ten_thousands * 1_000_000
    term = _terms(choice(rng, n, ENTITY_TERMS), policy)
    method = np.where(
        term == 12,
        choice(rng, n, {BULLET: 0.5, QUARTERLY: 0.5}),
        choice(rng, n, {QUARTERLY: 0.85, MONTHLY: 0.10, ANNUITY: 0.05}),
    )
    benchmark = benchmark_rate(day)
    markup = choice(rng, n, _entity_markups(policy))
    township = villages.township[entities.village[borrower]]
    loans = {
        "borrower_type": np.ones(n, np.int64),
        "borrower": borrower,
        "disbursed": day,
        "maturity": add_months(day, term),
        "term": term,
        "amount": amount,
        "rate": benchmark * markup // AT_BENCHMARK,
        "benchmark": benchmark,
        "method": method,
        "product": np.full(n, ENTITY),
        "bank": np.where(rng.random(n) < ENTITY_LOCAL_BANK_SHARE, township, len(villages.banks)),
    }
    context = {
        "p_default": np.full(n, 0.03),
        "p_late": np.full(n, 0.08),
        "p_prepay": np.full(n, 0.05),
        "risk": np.ones(n),
        "project": np.full(n, -1),
        "flood": np.zeros(n, bool),
        "local_from": np.full(n, NO_DATE),
        "local_to": np.full(n, NO_DATE),
    }
    return loans, context


def _terms(drawn: np.ndarray, policy: Policy) -> np.ndarray:
    longest = int(policy["max_term_months"])
    return np.where(drawn == LONGEST_TERM, longest, np.minimum(drawn, longest))


def _methods(term: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = term.size
    return np.where(
        term == 12,
        choice(rng, n, {BULLET: 0.55, QUARTERLY: 0.35, MONTHLY: 0.10}),
        choice(rng, n, {QUARTERLY: 0.74, ANNUITY: 0.16, MONTHLY: 0.10}),
    )
