"""熔断监测: every village and township against the breaker lines at one date, and the village
× month-end status strip."""

from __future__ import annotations

from datetime import date

import polars as pl

from huinong.data.connection import HISTORY_MONTHS, Warehouse, cached, frame
from huinong.data.scope import Scope


@cached
def village_breaker(token: Warehouse, as_of: date, scope: Scope) -> pl.DataFrame:
    """Every village of the scope with its NPL rate and status (熔断/预警/正常/无贷款)."""
    return frame(
        token,
        scope,
        f"""
        select
            township_code,
            township_name,
            village_code,
            village_name,
            borrowing_households,
            loans_on_book,
            outstanding_balance,
            overdue_balance,
            npl_balance,
            npl_rate,
            status,
            tripped,
            watch,
        from main.village_breaker
        where as_of = $as_of {scope.where_sql()}
        order by npl_rate desc nulls last, village_code
        """,
        {"as_of": as_of},
    )


@cached
def township_breaker(token: Warehouse, as_of: date, scope: Scope) -> pl.DataFrame:
    """Every township of the scope: villages tripped and their share against the 30% line."""
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
            villages_without_loans,
            tripped_share,
            tripped,
            outstanding_balance,
            npl_balance,
            npl_rate,
        from main.township_breaker
        where as_of = $as_of {scope.township_where_sql()}
        order by township_code
        """,
        {"as_of": as_of},
    )


@cached
def breaker_history(
    token: Warehouse, until: date, scope: Scope, months: int = HISTORY_MONTHS
) -> pl.DataFrame:
    """The village × month-end status strip for the last ``months`` month-ends up to ``until``.

    For the whole district only villages that were 熔断 or 预警 at some month-end of the window
    are listed (the others are green all along); at most 300 villages.
    """
    only_flagged = scope.level == "district"
    return frame(
        token,
        scope,
        f"""
        with

        window_dates as (
            select as_of
            from main.kpi_monthly
            where scope_level = 'district' and is_month_end and as_of <= $until
            order by as_of desc
            limit $months
        ),

        strip as (
            select
                village_code, village_name, township_code, township_name,
                as_of, status, npl_rate, tripped, watch,
            from main.village_breaker
            where as_of >= (select min(as_of) from window_dates) and as_of <= $until
                and is_month_end {scope.where_sql()}
        ),

        listed as (
            select village_code
            from strip
            group by village_code
            having {"bool_or(tripped or watch)" if only_flagged else "true"}
            order by count(*) filter (where tripped) desc, village_code
            limit 300
        )

        select strip.*
        from strip
        inner join listed on strip.village_code = listed.village_code
        order by strip.township_code, strip.village_code, strip.as_of
        """,
        {"until": until, "months": months},
    )
