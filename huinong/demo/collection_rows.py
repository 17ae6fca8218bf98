"""Information collections (信用信息采集): one row per household and collection day.

Rows are arrays in a dict, sorted by household then day; a re-collection carries most
answers over from the one before. Round appraisals land exactly on the policy's thresholds
now and then, so that the warehouse's boundaries (A2, A4, A6, D4, D5) get exercised.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from huinong.demo.book import cover_days
from huinong.demo.dates import NO_DATE, Span, day_number, workday
from huinong.demo.draws import KEY, choice, first_per_group, group_starts
from huinong.demo.geography import Villages
from huinong.demo.units import fen
from huinong.policy import Policy

if TYPE_CHECKING:
    from huinong.demo.households import People

UPDATER_SHARE = 0.55  # households re-collected every year or two, around the anniversary
YEARLY_UPDATE_CHANCE = 0.45
MOVE_CHANCE = 0.0012  # per re-collection: the household now lives in another village
MOVE_WITHIN_TOWNSHIP = 0.7
EXACT_APPRAISAL_SHARE = 0.25  # round equipment appraisals that land on an A6 threshold
EXACT_HOUSE_SHARE = 0.05  # houses appraised at exactly the A2 threshold
# Poverty exits came mostly in 2019-2020; the exit shows on the next collection.
POVERTY_EXIT_YEARS = {2017: 0.10, 2018: 0.20, 2019: 0.35, 2020: 0.33, 2021: 0.02}


def collections(
    villages: Villages,
    people: People,
    birth: np.ndarray,
    span: Span,
    policy: Policy,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Information collections: one row per (household, collected_on), sorted so."""
    n = people.n
    years = max((span.end - span.start) // 365 + 1, 1)
    updater = rng.random(n) < UPDATER_SHARE
    hits = updater[:, None] & (rng.random((n, years)) < YEARLY_UPDATE_CHANCE)
    offset = np.round(np.arange(1, years + 1) * 365.25).astype(np.int64)
    when = people.first[:, None] + offset[None, :] + rng.integers(-25, 26, (n, years))
    hits &= when <= span.end
    hh_extra, year_extra = np.nonzero(hits)
    day_extra = workday(when[hh_extra, year_extra], span.end)
    hh = np.r_[np.arange(n), hh_extra]
    day = np.r_[people.first, day_extra]
    order = np.lexsort((day, hh))
    hh, day = hh[order], day[order]
    size = hh.size
    starts = group_starts(hh, n)
    rank = np.arange(size) - starts[hh]
    by_rank = [np.flatnonzero(rank == r) for r in range(1, int(rank.max()) + 1)]

    def carried(fresh: np.ndarray, change: float) -> np.ndarray:
        """Re-collections keep the previous answer unless it changed (prob. `change`)."""
        out = fresh.copy()
        for rows in by_rank:
            keep = rows[rng.random(rows.size) >= change]
            out[keep] = out[keep - 1]
        return out

    def acquired(fresh: np.ndarray, gain: float) -> np.ndarray:
        """Certificates and the like are only ever gained."""
        out = fresh.copy()
        for rows in by_rank:
            out[rows] = out[rows - 1] | (rng.random(rows.size) < gain)
        return out

    def flags(p_yes: np.ndarray | float, p_empty: float = 0.0) -> np.ndarray:
        u = rng.random(size)
        answer = np.where(u < p_empty, -1, u < p_empty + p_yes * (1 - p_empty))
        return answer.astype(np.int8)  # 1 是, 0 否, -1 empty; small, as there are many

    poor = people.poor[hh]
    n_villages = villages.n

    # Moves between villages are rare: the home village changes from one re-collection on.
    village = people.home[hh].copy()
    movers = np.flatnonzero((rank > 0) & (rng.random(size) < MOVE_CHANCE))
    movers = movers[np.r_[True, np.diff(hh[movers]) != 0]] if movers.size else movers
    same_township = rng.random(movers.size) < MOVE_WITHIN_TOWNSHIP
    for mover, near in zip(movers, same_township, strict=True):
        home = people.home[hh[mover]]
        pool = np.flatnonzero(villages.township == villages.township[home]) if near else None
        target = (
            int(rng.choice(pool))
            if pool is not None and pool.size > 1
            else int(rng.integers(0, n_villages))
        )
        if target == home:
            target = (home + 1) % n_villages
        village[mover : _household_end(hh, mover)] = target

    tier_hh = people.tier
    tier = tier_hh[hh]

    def by_tier(ordinary: float, well_off: float, prosperous: float) -> np.ndarray:
        return np.array([ordinary, well_off, prosperous])[tier]

    def tiered(thresholds: tuple[tuple[float, ...], ...]) -> np.ndarray:
        """Ordinal answer 0, 1, 2… from cumulative thresholds per tier."""
        cuts = np.array(thresholds)[tier]
        return (rng.random(size)[:, None] >= cuts).sum(axis=1)

    age = (day - birth[hh]) / 365.25
    edu_old = {0: 0.50, 1: 0.38, 2: 0.08, 3: 0.03, 4: 0.01}
    edu_young = {0: 0.14, 1: 0.47, 2: 0.17, 3: 0.10, 4: 0.075, 5: 0.04, 6: 0.005}
    edu_hh = np.where(
        birth < day_number(date(1966, 1, 1)),
        choice(rng, n, edu_old),
        choice(rng, n, edu_young),
    )
    edu_hh = np.where(people.poor & (rng.random(n) < 0.4), np.minimum(edu_hh, 1), edu_hh)
    educated = rng.random(n) < np.array([0.0, 0.25, 0.45])[tier_hh]
    edu_hh = np.where(educated, choice(rng, n, {4: 0.6, 5: 0.37, 6: 0.03}), edu_hh)

    # 一村一品: each village leans to one main industry.
    main = choice(rng, n_villages, {1: 3, 2: 2, 3: 1, 4: 2, 5: 1.5, 6: 2, 7: 1, 8: 0.7})
    none_share = np.clip(rng.normal(0.12, 0.04, n_villages), 0.03, 0.25)
    project = choice(rng, size, {1: 16, 2: 11, 3: 4, 4: 8, 5: 7, 6: 10, 7: 5, 8: 3, 9: 20, 10: 4})
    project = np.where(rng.random(size) < 0.35, main[village], project)
    none_factor = np.where(poor, 1.25, 1.0) * by_tier(1.0, 0.4, 0.1)
    project = np.where(rng.random(size) < none_share[village] * none_factor, 0, project)
    proof = np.where(project == 9, flags(0.9, 0.04), -1)
    change = rng.random(size) < 0.15
    project, proof = _carry_pair(project, proof, change, by_rank)

    median_house = np.where(poor, 90_000, by_tier(140_000, 260_000, 450_000))
    house = np.round(rng.lognormal(np.log(median_house), 0.45, size) / 1000).astype(np.int64)
    house = np.where(
        rng.random(size) < EXACT_HOUSE_SHARE,
        fen(policy["a2_house_value_min"]),
        np.clip(house * 1000, 20_000, 900_000) * 100,
    )
    rebuilt = rng.random(size) < 0.06
    growth = rng.uniform(1.15, 1.9, size)
    for rows in by_rank:
        prev = house[rows - 1]
        house[rows] = np.where(
            rebuilt[rows], np.round(prev * growth[rows] / 100_000) * 100_000, prev
        )

    registered = flags(np.where(poor, 0.02, by_tier(0.04, 0.2, 0.65)))
    scale = np.round(rng.lognormal(np.log(80_000), 0.6, size) / 1000).astype(np.int64) * 100_000
    scale = np.clip(scale, 1_000_000, 200_000_000)
    boundary = rng.random(size)
    scale = np.where(
        boundary < 0.15,
        fen(policy["a4_scale_min"]),
        np.where(boundary < 0.27, fen(policy["a4_scale_below"]), scale),
    )
    scale = np.where(registered == 1, scale, -1)
    registered, scale = _carry_pair(registered, scale, rng.random(size) < 0.1, by_rank)

    # Equipment below, between and above the two A6 thresholds, in steps of 100 元.
    low, high = fen(policy["a6_low_value_min"]), fen(policy["a6_high_value_min"])

    def appraised(least: int, below: int) -> np.ndarray:
        step = 10_000
        return rng.integers(least // step, max(below // step, least // step + 1), size) * step

    equipment_tier = tiered(((0.76, 0.88, 0.95), (0.5, 0.65, 0.85), (0.15, 0.3, 0.55)))
    exact = rng.random(size) < EXACT_APPRAISAL_SHARE
    equipment = np.choose(
        equipment_tier,
        [
            np.zeros(size, np.int64),
            appraised(low // 10, low),
            np.where(exact, low, appraised(low, high)),
            np.where(exact, high, appraised(high, 3 * high)),
        ],
    )
    guarantee_tier = rng.random(size)
    guarantee = np.select(
        [guarantee_tier < 0.90, guarantee_tier < 0.915, guarantee_tier < 0.925],
        [
            np.zeros(size, np.int64),
            np.full(size, fen(policy["d4_mid_min"])),
            np.full(size, fen(policy["d4_high_min"])),
        ],
        rng.integers(10, 400, size) * 100_000,
    )
    guarantee_overdue = np.where(guarantee > 0, flags(0.05), 0)
    guarantee, guarantee_overdue = _carry_pair(
        guarantee, guarantee_overdue, rng.random(size) < 0.25, by_rank
    )
    mortgage_tier = rng.random(size)
    mortgage = np.select(
        [mortgage_tier < 0.95, mortgage_tier < 0.963],
        [np.zeros(size, np.int64), np.full(size, fen(policy["d5_mortgage_min"]))],
        rng.integers(10, 150, size) * 100_000,
    )

    # Court and vice records are episodes in time; a collection reports what holds on its day.
    enforced = rng.random(n) < 0.045
    enforced_from = rng.integers(day_number(date(2012, 1, 1)), span.end + 1, n)
    enforced_to = enforced_from + 60 + rng.exponential(300, n).astype(np.int64)
    listed = rng.random(n) < 0.01
    listed_from = rng.integers(day_number(date(2014, 1, 1)), span.end + 1, n)
    listed_to = listed_from + 200 + rng.exponential(500, n).astype(np.int64)
    vice = rng.random(n) < 0.006
    vice_from = rng.integers(day_number(date(2005, 1, 1)), span.end + 1, n)

    exit_year = choice(rng, n, POVERTY_EXIT_YEARS)
    first_exit_year = min(POVERTY_EXIT_YEARS)
    year_starts = np.array([day_number(date(year, 1, 1)) for year in POVERTY_EXIT_YEARS])
    exit_day = year_starts[exit_year - first_exit_year] + rng.integers(0, 365, n)

    under = enforced[hh] & (enforced_from[hh] <= day) & (day < enforced_to[hh])
    ended = enforced[hh] & (enforced_to[hh] <= day)
    listed_now = listed[hh] & (listed_from[hh] <= day) & (day < listed_to[hh])
    return {
        "hh": hh,
        "day": day,
        "rank": rank,
        "village": village,
        "registered_poor": poor.astype(np.int8),
        "poverty_exited": (poor & (exit_day[hh] <= day)).astype(np.int8),
        "party_member": acquired(flags(np.where(poor, 0.03, by_tier(0.06, 0.2, 0.55))), 0.004),
        "education": edu_hh[hh],
        "healthy": carried(
            flags(np.clip(0.97 - 0.007 * (age - 35), 0.4, 0.97) - 0.2 * poor, 0.005), 0.12
        ),
        "military_member": carried(flags(by_tier(0.03, 0.05, 0.08), 0.02), 0.2),
        "homestead_house_value": house,
        "income_project": project,
        "work_proof": proof,
        "entity_registered": registered,
        "entity_scale": scale,
        "forest_cert": acquired(flags(by_tier(0.28, 0.5, 0.8)), 0.05),
        "land_cert": acquired(flags(by_tier(0.85, 0.9, 0.95)), 0.05),
        "homestead_cert": acquired(flags(by_tier(0.66, 0.85, 0.95)), 0.08),
        "equipment_value": carried(equipment, 0.15),
        "honor": carried(tiered(((0.87, 0.96, 0.99), (0.6, 0.82, 0.95), (0.15, 0.4, 0.75))), 0.2),
        "family_harmonious": carried(flags(0.965, 0.01), 0.08),
        "neighbor_harmonious": carried(flags(0.955, 0.01), 0.08),
        "petitions_12m": choice(rng, size, {0: 0.993, 1: 0.005, 2: 0.0015, 3: 0.0005}),
        "urban_property_75": carried(tiered(((0.975, 0.997), (0.75, 0.93), (0.3, 0.65))), 0.05),
        "urban_property_50": carried(tiered(((0.96, 0.997), (0.85, 0.97), (0.6, 0.85))), 0.05),
        "commercial_insurance": carried(
            flags(np.where(poor, 0.12, by_tier(0.2, 0.55, 0.85)), 0.015), 0.25
        ),
        "credit_overdue_count": people.base_overdue[hh].copy(),
        "credit_npl_count": people.base_npl[hh].copy(),
        "guarantee_amount": guarantee,
        "guarantee_overdue": guarantee_overdue,
        "mortgage_amount": carried(mortgage, 0.2),
        "enforcement_ended_on": np.where(ended, enforced_to[hh], NO_DATE),
        "under_enforcement": under.astype(np.int8),
        "dishonest_debtor": listed_now.astype(np.int8),
        "vice_record": (vice[hh] & (vice_from[hh] <= day)).astype(np.int8),
    }


def _household_end(hh: np.ndarray, row: int) -> int:
    """One past the last row of the household of `row` (rows are sorted by household)."""
    return int(np.searchsorted(hh, hh[row], side="right"))


def _carry_pair(
    first: np.ndarray, second: np.ndarray, change: np.ndarray, by_rank: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Carry two linked answers (project and its proof, entity and its scale) together."""
    first, second = first.copy(), second.copy()
    for rows in by_rank:
        keep = rows[~change[rows]]
        first[keep] = first[keep - 1]
        second[keep] = second[keep - 1]
    return first, second


def latest_row(rows: dict[str, np.ndarray], hh: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Index of the household's latest collection on or before `day` (-1 if none, R-S1)."""
    keys = rows["hh"] * KEY + rows["day"]
    found = np.searchsorted(keys, hh * KEY + day, side="right") - 1
    valid = (found >= 0) & (rows["hh"][np.maximum(found, 0)] == hh)
    return np.where(valid, found, -1)


def record_credit_events(
    book: dict[str, np.ndarray], rows: dict[str, np.ndarray], policy: Policy
) -> None:
    """Re-collections copy the credit report, which by then shows the loan book's events.

    Events up to a collection go into its counts (R-S7 counts the later ones from the
    book), so a household that defaulted does not come back with a clean record.
    """
    s_loan, due = book["s_loan"], book["s_due"]
    household = book["borrower_type"][s_loan] == 0
    cover = cover_days(book, policy)
    npl_after = int(policy["npl_dpd_threshold"]) + 1  # R-L3: DPD > threshold
    overdue = household & (cover > due)
    npl_loan, npl_row = first_per_group(s_loan, household & (cover > due + npl_after))
    for column, event_hh, event_day in (
        ("credit_overdue_count", book["borrower"][s_loan[overdue]], due[overdue]),
        ("credit_npl_count", book["borrower"][npl_loan], due[npl_row] + npl_after),
    ):
        keys = np.sort(event_hh * KEY + event_day)
        count = np.searchsorted(keys, rows["hh"] * KEY + rows["day"], side="right")
        count -= np.searchsorted(keys, rows["hh"] * KEY, side="left")
        rows[column] = rows[column] + count
