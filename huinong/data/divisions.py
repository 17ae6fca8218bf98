"""The warehouse and its divisions: build info, the policy profile it was built with, snapshot
dates, townships and villages, place names, a household's home village.

The warehouse-wide facts (build info, policy, snapshot dates) hold no personal data, but they
too are read for a signed-in user's Scope: the core runs nothing without one. Divisions are
those of the user's area."""

from __future__ import annotations

import json
from datetime import date

import polars as pl

from huinong.data.connection import Warehouse, cached, frame
from huinong.data.scope import Scope
from huinong.policy import default_policy


@cached
def build_info(token: Warehouse, scope: Scope) -> dict:
    """The build's as-of date, when it was built, the district's code and name, the policy overrides."""
    result = frame(
        token,
        scope,
        """
        select
            build_info.as_of,
            build_info.built_at,
            build_info.policy_overrides,
            district.scope_code as district_code,
            district.scope_name as district_name,
        from main.build_info as build_info
        left join main.kpi_monthly as district
            on district.as_of = build_info.as_of and district.scope_level = 'district'
        """,
    )
    row = result.row(0, named=True)
    row["policy_overrides"] = json.loads(row["policy_overrides"] or "{}")
    return row


@cached
def policy(token: Warehouse, scope: Scope) -> dict:
    """The policy profile the warehouse was built with: every parameter by name, as a number
    where it is one, and ``grades``: the bands [{grade, min_score, credit_limit}] from the
    highest grade down. The dashboard draws its lines and writes its policy texts from it.

    policy_profile (the mart) is the authority for the parameters it lists; the few it does not
    list (the amounts and levels a score item's words name: a2_house_value_min …) are the
    defaults with the overrides this build recorded (build_info), as the build itself read them.
    """
    result = frame(
        token,
        scope,
        """
        select parameter, parameter_value, grade, min_score, credit_limit, grade_rank,
        from main.policy_profile
        order by grade_rank nulls first, parameter
        """,
    )
    values: dict = dict(default_policy().overridden(build_info(token, scope)["policy_overrides"]))
    grades = []
    for row in result.iter_rows(named=True):
        if row["grade"] is not None:
            grades.append(
                {
                    "grade": row["grade"],
                    "min_score": row["min_score"],
                    "credit_limit": row["credit_limit"],
                }
            )
        else:
            name = row["parameter"]
            text = row["parameter_value"]
            # Codes and names stay text: 411202 is a district code, not a number.
            values[name] = text if name.endswith(("_code", "_name")) else _parameter(text)
    values["grades"] = grades
    return values


def _parameter(text: str | None) -> int | float | str | None:
    """A parameter as written by dbt ('3', '1.0', '湖滨区'): a number when it reads as one."""
    if text is None:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


@cached
def snapshot_dates(token: Warehouse, scope: Scope) -> pl.DataFrame:
    """Every snapshot date (as_of, is_month_end), latest first."""
    return frame(
        token,
        scope,
        """
        select as_of, is_month_end
        from main.kpi_monthly
        where scope_level = 'district'
        order by as_of desc
        """,
    )


@cached
def previous_month_end(token: Warehouse, as_of: date, scope: Scope) -> date | None:
    """The month-end the KPI cards compare with: the last one before as_of's month."""
    result = frame(
        token,
        scope,
        """
        select max(as_of) as previous
        from main.kpi_monthly
        where scope_level = 'district' and is_month_end and as_of < date_trunc('month', $as_of)
        """,
        {"as_of": as_of},
    )
    return result.item()


@cached
def townships(token: Warehouse, scope: Scope) -> pl.DataFrame:
    """Townships of the division list within the scope (code, name, number of villages)."""
    return frame(
        token,
        scope,
        f"""
        select township_code, township_name, villages_total
        from main.township_breaker
        where as_of = (select max(as_of) from main.township_breaker)
            {scope.township_where_sql()}
        order by township_code
        """,
    )


@cached
def villages(token: Warehouse, scope: Scope) -> pl.DataFrame:
    """Villages within the scope (code, name): those of its township, or the one village."""
    return frame(
        token,
        scope,
        f"""
        select village_code, village_name
        from main.village_breaker
        where as_of = (select max(as_of) from main.village_breaker) {scope.where_sql()}
        order by village_code
        """,
    )


@cached
def place_names(token: Warehouse, scope: Scope) -> dict:
    """Names for a scope: district_name, township_name, village_name (None above the level)."""
    names = {
        "district_name": build_info(token, scope)["district_name"],
        "township_name": None,
        "village_name": None,
    }
    if scope.level == "district":
        return names
    result = frame(
        token,
        scope,
        """
        select any_value(township_name) as township_name,
            any_value(village_name) filter (where village_code = $village) as village_name,
        from main.village_breaker
        where as_of = (select max(as_of) from main.village_breaker) and township_code = $township
        """,
        {"township": scope.township_code, "village": scope.village_code or ""},
    )
    names.update(result.row(0, named=True))
    return names


@cached
def household_home(token: Warehouse, as_of: date, scope: Scope, household_id: str) -> dict | None:
    """The home village and township of a household rated at as_of within the scope, or None
    (not rated that day, or outside the user's area: the same answer, so a link cannot probe
    which households exist elsewhere)."""
    scope.require("view_named_households", "查看单户信息")
    result = frame(
        token,
        scope,
        f"""
        select village_code, township_code
        from main.household_scores
        where as_of = $as_of {scope.where_sql()} and household_id = $household
        """,
        {"as_of": as_of, "household": household_id},
    )
    return result.row(0, named=True) if result.height else None


def district_code(token: Warehouse, scope: Scope) -> str:
    return build_info(token, scope)["district_code"]
