"""月度简报's own facts: which snapshot a month means, the month-end it is compared with, the
names and the policy lines the briefing prints. Everything else the briefing shows comes from the
dashboard's own queries (kpi, kpi_trend, township_breaker, attention_list, village_trip,
early_warning, rating_freshness)."""

from __future__ import annotations

from datetime import date

from huinong.data.connection import Warehouse, cached, frame
from huinong.data.lines import policy_numbers_sql
from huinong.data.scope import Scope

# The policy parameters a briefing prints (policy_profile), as numbers.
BRIEFING_LINES = (
    "village_breaker_rate_pct",
    "watch_rate_pct",
    "township_breaker_share_pct",
    "npl_dpd_threshold",
    "stale_collection_months",
)


@cached
def briefing_facts(token: Warehouse, month: date, scope: Scope) -> dict | None:
    """The snapshot of ``month`` (any day of it) and what a briefing needs around it, or None
    when the warehouse has no snapshot in that month.

    as_of: the month's end, or the build's provisional date in the current month
    (is_month_end false); previous_month_end: the last month-end before that month (None for
    the first); district_name, scope_name (全区 or the township's or village's name), built_at,
    data_as_of (the build's as-of date), first_month_end, and the lines of BRIEFING_LINES."""
    result = frame(
        token,
        scope,
        f"""
        with

        snapshot as (
            select max(as_of) as as_of, bool_or(is_month_end) as is_month_end,
            from main.kpi_monthly
            where scope_level = 'district'
                and date_trunc('month', as_of) = date_trunc('month', cast($month as date))
        ),

        previous as (
            select max(as_of) as previous_month_end,
            from main.kpi_monthly
            where scope_level = 'district' and is_month_end
                and as_of < date_trunc('month', cast($month as date))
        ),

        first_month_end as (
            select min(as_of) as first_month_end,
            from main.kpi_monthly
            where scope_level = 'district' and is_month_end
        ),

        names as (
            select
                any_value(township_name) as township_name,
                any_value(village_name) filter (where $level = 'village') as village_name,
            from main.village_breaker
            where as_of = (select max(as_of) from main.village_breaker) {scope.where_sql()}
        ),

        lines as ({policy_numbers_sql(*BRIEFING_LINES)}),

        district as (
            select parameter_value as district_name,
            from main.policy_profile
            where parameter = 'district_name'
        )

        select
            snapshot.as_of, snapshot.is_month_end, previous.previous_month_end,
            first_month_end.first_month_end, names.township_name, names.village_name, lines.*,
            district.district_name,
            build_info.built_at, build_info.as_of as data_as_of,
        from snapshot
        cross join previous
        cross join first_month_end
        cross join names
        cross join lines
        cross join district
        cross join main.build_info as build_info
        """,
        {"month": month, "level": scope.level},
    )
    facts = result.row(0, named=True)
    if facts["as_of"] is None:
        return None
    if scope.level == "district":
        facts["scope_name"] = "全区"
    elif scope.level == "township":
        facts["scope_name"] = facts["township_name"]
    else:
        facts["scope_name"] = f"{facts['township_name']}{facts['village_name']}"
    return facts
