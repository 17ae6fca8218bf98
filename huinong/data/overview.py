"""总览: the leading group's figures of one scope (KPI cards), their monthly trend, and what
changed since the previous month-end (villages newly tripped or on watch, townships near the
line)."""

from __future__ import annotations

from datetime import date

import polars as pl

from huinong.data.connection import HISTORY_MONTHS, Warehouse, cached, frame
from huinong.data.divisions import district_code
from huinong.data.scope import Scope

KPI_COLUMNS = (
    "as_of",
    "is_month_end",
    "households_rated",
    "households_aaa_plus",
    "households_aaa",
    "households_aa",
    "households_a",
    "households_no_credit",
    "households_credit",
    "households_vetoed",
    "households_credit_stopped",
    "poor_households_rated",
    "poor_households_credit",
    "poor_borrowing_households",
    "poor_loan_access_rate",
    "credit_granted",
    "available_credit",
    "borrowing_households",
    "household_loans_on_book",
    "outstanding_balance",
    "overdue_balance",
    "npl_balance",
    "overdue_rate",
    "npl_rate",
    "npl_above_line",
    "entity_outstanding_balance",
    "total_outstanding_balance",
    "fund_capacity",
    "fund_utilisation",
    "villages_total",
    "villages_tripped",
    "villages_watch",
    "townships_total",
    "townships_tripped",
    "title_year",
    "credit_villages",
    "credit_townships",
)


@cached
def kpi(token: Warehouse, as_of: date, scope: Scope) -> pl.DataFrame:
    """The leading-group figures of one scope at one snapshot date (one row, KPI_COLUMNS and
    the scope's breaker status): kpi_monthly's row for the district or a township,
    kpi_village_monthly's for a village."""
    columns = ", ".join(KPI_COLUMNS)
    if scope.level == "village":
        return frame(
            token,
            scope,
            f"""
            select {columns}, breaker_status
            from main.kpi_village_monthly
            where as_of = $as_of {scope.where_sql()}
            """,
            {"as_of": as_of},
        )
    return frame(
        token,
        scope,
        f"""
        select {columns}
        from main.kpi_monthly
        where as_of = $as_of and scope_level = $level and scope_code = $code
        """,
        {"as_of": as_of, "level": scope.level, "code": scope.code or district_code(token, scope)},
    )


_TREND_COLUMNS = """
    as_of,
    outstanding_balance,
    npl_balance,
    npl_rate,
    households_rated,
    households_aaa_plus as "AAA+",
    households_aaa as "AAA",
    households_aa as "AA",
    households_a as "A",
    households_no_credit as "无信用",
"""


@cached
def kpi_trend(token: Warehouse, until: date, scope: Scope) -> pl.DataFrame:
    """Month by month up to ``until``: outstanding, NPL balance and rate, households by grade.

    Every month for the district and a township (kpi_monthly); the last HISTORY_MONTHS months
    for a village (kpi_village_monthly)."""
    if scope.level != "village":
        return frame(
            token,
            scope,
            f"""
            select {_TREND_COLUMNS}
            from main.kpi_monthly
            where is_month_end and as_of <= $until and scope_level = $level and scope_code = $code
            order by as_of
            """,
            {
                "until": until,
                "level": scope.level,
                "code": scope.code or district_code(token, scope),
            },
        )
    return frame(
        token,
        scope,
        f"""
        select {_TREND_COLUMNS}
        from main.kpi_village_monthly
        where is_month_end and as_of <= $until and as_of > $until - to_months($months)
            {scope.where_sql()}
        order by as_of
        """,
        {"until": until, "months": HISTORY_MONTHS},
    )


@cached
def village_changes(token: Warehouse, as_of: date, scope: Scope) -> pl.DataFrame:
    """Villages whose breaker status changed since the previous month-end (village_breaker's
    status_change: 新增熔断, 新增预警, 解除熔断). Columns: change, township, village, rates,
    statuses."""
    return frame(
        token,
        scope,
        f"""
        select
            status_change as change,
            township_code,
            township_name,
            village_code,
            village_name,
            npl_rate,
            previous_npl_rate,
            status,
            previous_status,
            outstanding_balance,
            npl_balance,
        from main.village_breaker
        where as_of = $as_of {scope.where_sql()} and status_change is not null
        order by
            case status_change when '新增熔断' then 1 when '新增预警' then 2 else 3 end,
            npl_rate desc nulls last,
            village_code
        """,
        {"as_of": as_of},
    )


@cached
def townships_near_line(token: Warehouse, as_of: date, scope: Scope) -> pl.DataFrame:
    """Townships tripped, or one tripped village away from the share line (township_breaker's
    villages_to_trip and line_note, R-B2)."""
    return frame(
        token,
        scope,
        f"""
        select
            township_code,
            township_name,
            villages_total,
            villages_tripped,
            villages_watch,
            tripped_share,
            tripped,
            line_note as note,
        from main.township_breaker
        where as_of = $as_of {scope.township_where_sql()} and villages_to_trip <= 1
        order by tripped desc, tripped_share desc, township_code
        """,
        {"as_of": as_of},
    )
