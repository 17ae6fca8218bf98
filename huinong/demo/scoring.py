"""A household's score on a day (R-S2..R-S6), as far as the generator needs it.

The generator only needs it to decide who gets a loan: loan-book events after the
collection (R-S7, V3) are left out, since households with a bad loan do not come back
for another one. The warehouse computes the real score; this one reads the same profile.
"""

from __future__ import annotations

import numpy as np

from huinong.demo.dates import NO_DATE, add_months
from huinong.demo.units import fen
from huinong.policy import Policy
from huinong.schema import EDUCATION_LEVELS, HONORS, INCOME_PROJECTS

WORK = INCOME_PROJECTS.index("务工")  # counts for A3 only with proof


def scores(
    rows: dict[str, np.ndarray], index: np.ndarray, day: np.ndarray, policy: Policy
) -> np.ndarray:
    """Score of collection rows `index` on `day`; -1 when a veto holds."""

    def col(name: str) -> np.ndarray:
        return rows[name][index]

    def yes(name: str) -> np.ndarray:
        return (col(name) == 1).astype(np.int64)

    def no(name: str) -> np.ndarray:
        return (col(name) == 0).astype(np.int64)

    def points(name: str) -> int:
        return int(policy[name])

    project = col("income_project")
    has_project = (project != 0) & ((project != WORK) | (col("work_proof") == 1))
    scale = col("entity_scale")
    equipment = col("equipment_value")
    guarantee = col("guarantee_amount")
    ended = col("enforcement_ended_on")
    lookback = add_months(day, -12 * int(policy["enforcement_lookback_years"]))
    recent_enforcement = (ended != NO_DATE) & (ended >= lookback)
    educated = np.isin(
        col("education"), [EDUCATION_LEVELS.index(level) for level in policy["a1_education_levels"]]
    )
    honor_points = np.zeros(len(HONORS), np.int64)
    honor_points[HONORS.index("村级")] = points("a7_village_points")
    honor_points[HONORS.index("乡级")] = points("a7_township_points")
    honor_points[HONORS.index("区级及以上")] = points("a7_district_points")
    a1 = yes("party_member") + educated + yes("healthy") + yes("military_member")
    a5 = yes("forest_cert") + yes("land_cert") + yes("homestead_cert")
    a8 = yes("family_harmonious") + yes("neighbor_harmonious")
    d2 = no("family_harmonious") + no("neighbor_harmonious") + col("petitions_12m")
    registered_scale = (
        (col("entity_registered") == 1)
        & (scale >= fen(policy["a4_scale_min"]))
        & (scale < fen(policy["a4_scale_below"]))
    )
    score = (
        points("base_score")
        + points("a1_points_each") * a1
        + points("a2_points") * (col("homestead_house_value") >= fen(policy["a2_house_value_min"]))
        + np.where(has_project, points("a3_points"), -points("d1_points"))
        + points("a4_points") * registered_scale
        + points("a5_points_each") * a5
        + np.select(
            [
                equipment >= fen(policy["a6_high_value_min"]),
                equipment >= fen(policy["a6_low_value_min"]),
            ],
            [points("a6_high_points"), points("a6_low_points")],
            0,
        )
        + honor_points[col("honor")]
        + points("a8_points_each") * a8
        - points("d2_points_each") * d2
        + points("a9_large_points_each") * col("urban_property_75")
        + points("a9_small_points_each") * col("urban_property_50")
        + points("a10_points") * yes("commercial_insurance")
        - points("d3_overdue_points") * col("credit_overdue_count")
        - points("d3_npl_points") * col("credit_npl_count")
        - np.select(
            [
                guarantee >= fen(policy["d4_high_min"]),
                guarantee >= fen(policy["d4_mid_min"]),
                guarantee > 0,
            ],
            [points("d4_high_points"), points("d4_mid_points"), points("d4_low_points")],
            0,
        )
        - points("d5_points") * (col("mortgage_amount") >= fen(policy["d5_mortgage_min"]))
        - points("d6_points") * (recent_enforcement | (col("dishonest_debtor") == 1))
        + points("poor_bonus") * col("registered_poor")
    )
    veto = (
        (col("vice_record") == 1)
        | (col("under_enforcement") == 1)
        | (col("dishonest_debtor") == 1)
        | (col("guarantee_overdue") == 1)
    )
    return np.where(veto, -1, score)
