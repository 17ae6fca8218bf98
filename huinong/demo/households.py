"""Households: who they are, where they live, when they are first collected."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from huinong.demo.collection_rows import collections
from huinong.demo.dates import Span, day_number, workday
from huinong.demo.draws import choice, split
from huinong.demo.geography import Villages
from huinong.demo.names import id_numbers, person_names
from huinong.policy import Policy

VILLAGE_SIZE_SPREAD = 0.25  # sigma of the lognormal village sizes
POOR_SHARE_RANGE = (0.08, 0.34)  # registered-poor share of a village
CAMPAIGN = (date(2017, 9, 1), date(2018, 6, 30))  # the initial collection campaign
CAMPAIGN_DAYS_PER_VILLAGE = 26
LATE_JOINER_SHARE = 0.06
MALE_HEAD_SHARE = 0.86
HEAD_BIRTH = (date(1950, 1, 1), date(1966, 6, 1), date(1995, 12, 31))  # min, mode, max
# Prosperity: 0 ordinary, 1 well-off, 2 prosperous.
TIERS = {0: 0.75, 1: 0.15, 2: 0.10}
POOR_WELL_OFF_SHARE = 0.03
# Credit report history before the programme (D3): past overdue and NPL events.
PAST_OVERDUE = {0: 0.86, 1: 0.085, 2: 0.035, 3: 0.012, 4: 0.005, 5: 0.003}
PAST_OVERDUE_WELL_OFF = {0: 0.95, 1: 0.04, 2: 0.01}
PAST_NPL = {0: 0.975, 1: 0.02, 2: 0.005}


@dataclass
class People:
    """One entry per household: what does not change between collections."""

    home: np.ndarray  # village index of the first collection (and of the household id)
    seq: np.ndarray  # sequence number within the home village
    poor: np.ndarray  # 建档立卡 (registered poor)
    first: np.ndarray  # day of the first collection
    head_name: pl.Series
    head_id: pl.Series
    latest: np.ndarray  # village index of the latest collection (R-B1)
    tier: np.ndarray  # prosperity: 0 ordinary, 1 well-off, 2 prosperous
    base_overdue: np.ndarray  # credit report history before the programme
    base_npl: np.ndarray

    @property
    def n(self) -> int:
        return self.home.size


def make_households(
    villages: Villages, households: int, span: Span, policy: Policy, rng: np.random.Generator
) -> tuple[People, dict[str, np.ndarray]]:
    """The households and their collection rows (one per household and collection day)."""
    n = households
    n_villages = villages.n
    sizes = split(n, rng.lognormal(0.0, VILLAGE_SIZE_SPREAD, n_villages))
    home = np.repeat(np.arange(n_villages), sizes)
    village_start = np.cumsum(sizes) - sizes

    # Registered-poor share varies by village; an exact quota keeps every village in range.
    poor_share = np.clip(rng.beta(4.0, 14.0, n_villages), *POOR_SHARE_RANGE)
    order = np.lexsort((rng.random(n), home))
    rank_in_village = np.empty(n, np.int64)
    rank_in_village[order] = np.arange(n) - village_start[home[order]]
    poor = rank_in_village < np.round(poor_share * sizes)[home]

    # Most households are collected in the initial campaign, village by village; a few
    # new households join later.
    campaign_days = min(day_number(CAMPAIGN[1]) - day_number(CAMPAIGN[0]), span.end - span.start)
    per_village = CAMPAIGN_DAYS_PER_VILLAGE
    village_open = span.start + rng.integers(0, max(campaign_days - per_village + 1, 1), n_villages)
    first = village_open[home] + rng.integers(0, per_village, n)
    late = rng.random(n) < LATE_JOINER_SHARE
    late_window = max(span.end - (span.start + campaign_days), 1)
    first = np.where(late, span.start + campaign_days + 1 + rng.integers(0, late_window, n), first)
    first = np.maximum(workday(np.minimum(first, span.end), span.end), span.start)

    # Sequence numbers follow the order of first collection within the village.
    order = np.lexsort((rng.random(n), first, home))
    seq = np.empty(n, np.int64)
    seq[order] = np.arange(n) - village_start[home[order]] + 1

    male = rng.random(n) < MALE_HEAD_SHARE
    birth = np.round(rng.triangular(*(day_number(day) for day in HEAD_BIRTH), n)).astype(np.int64)
    head_name = person_names(male, rng)
    county = np.array([int(code[:6]) for code in villages.frame["village_code"].to_list()])
    head_id = id_numbers(county[home], birth, male, rng)

    # Prosperity tiers make scores spread out as in real villages: a few well-off and
    # prosperous households (cadres, entrepreneurs) collect many add items at once.
    tier = np.where(
        poor, (rng.random(n) < POOR_WELL_OFF_SHARE).astype(np.int64), choice(rng, n, TIERS)
    )
    # The well-off mostly have no credit report history before the programme.
    base_overdue = np.where(
        tier == 0, choice(rng, n, PAST_OVERDUE), choice(rng, n, PAST_OVERDUE_WELL_OFF)
    )
    base_npl = np.where(tier == 0, choice(rng, n, PAST_NPL), 0)
    people = People(
        home, seq, poor, first, head_name, head_id, home.copy(), tier, base_overdue, base_npl
    )
    rows = collections(villages, people, birth, span, policy, rng)
    last_row = np.r_[np.flatnonzero(np.diff(rows["hh"])), rows["hh"].size - 1]
    people.latest = rows["village"][last_row]
    return people, rows
