"""总览: the leading group's figures of one scope (KPI cards), their monthly trend, and what
changed since the previous month-end (villages newly tripped or on watch, townships near the
line)."""

from __future__ import annotations

from datetime import date

import polars as pl

from huinong.data.connection import HISTORY_MONTHS, Warehouse, cached, frame
from huinong.data.divisions import district_code, policy, previous_month_end
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

# A village's KPI row is derived here from household_scores, village_breaker and loan_status
# because kpi_monthly stops at townships; it is to become a read of a mart at village grain.
_VILLAGE_KPI_SQL = """
with

scores as (
    select
        count(*) as households_rated,
        count(*) filter (where grade = 'AAA+') as households_aaa_plus,
        count(*) filter (where grade = 'AAA') as households_aaa,
        count(*) filter (where grade = 'AA') as households_aa,
        count(*) filter (where grade = 'A') as households_a,
        count(*) filter (where grade = '无信用') as households_no_credit,
        count(*) filter (where credit_limit > 0) as households_credit,
        count(*) filter (where len(vetoes) > 0) as households_vetoed,
        count(*) filter (where credit_stopped) as households_credit_stopped,
        count(*) filter (where registered_poor) as poor_households_rated,
        count(*) filter (where registered_poor and credit_limit > 0) as poor_households_credit,
        count(*) filter (where registered_poor and loans_on_book > 0) as poor_borrowing_households,
        coalesce(sum(credit_limit), 0) as credit_granted,
        coalesce(sum(available_credit), 0) as available_credit,
    from main.household_scores
    where as_of = $as_of and township_code = $township and village_code = $village
),

village as (
    select *
    from main.village_breaker
    where as_of = $as_of and township_code = $township and village_code = $village
),

township as (
    select tripped
    from main.township_breaker
    where as_of = $as_of and township_code = $township
),

entities as (
    select coalesce(sum(outstanding_principal), 0) as entity_outstanding_balance,
    from main.loan_status
    where as_of = $as_of and township_code = $township and village_code = $village
        and borrower_type = '经营主体'
),

district as (
    select fund_capacity, title_year
    from main.kpi_monthly
    where as_of = $as_of and scope_level = 'district'
),

-- R-T1 as known at the latest month-end on or before as_of (as kpi_monthly counts titles):
-- loans on the book at some month-end of the title year so far, and the latest reading not
-- above the line.
title as (
    select
        coalesce(bool_or(outstanding_balance > 0), false)
        and not coalesce(arg_max(npl_balance * 100 > $title_pct * outstanding_balance, as_of), false)
            as holds_title,
    from main.village_breaker
    where is_month_end and as_of <= $as_of
        and year(as_of) = (select title_year from district)
        and township_code = $township and village_code = $village
)

select
    village.as_of,
    village.is_month_end,
    scores.households_rated,
    scores.households_aaa_plus,
    scores.households_aaa,
    scores.households_aa,
    scores.households_a,
    scores.households_no_credit,
    scores.households_credit,
    scores.households_vetoed,
    scores.households_credit_stopped,
    scores.poor_households_rated,
    scores.poor_households_credit,
    scores.poor_borrowing_households,
    case when scores.poor_households_rated > 0 then
        cast(scores.poor_borrowing_households / scores.poor_households_rated as decimal(18, 10))
    end as poor_loan_access_rate,
    cast(scores.credit_granted as decimal(18, 2)) as credit_granted,
    cast(scores.available_credit as decimal(18, 2)) as available_credit,
    village.borrowing_households,
    village.loans_on_book as household_loans_on_book,
    village.outstanding_balance,
    village.overdue_balance,
    village.npl_balance,
    case when village.outstanding_balance > 0 then
        cast(village.overdue_balance / village.outstanding_balance as decimal(18, 10))
    end as overdue_rate,
    village.npl_rate,
    village.tripped as npl_above_line,
    cast(entities.entity_outstanding_balance as decimal(18, 2)) as entity_outstanding_balance,
    cast(village.outstanding_balance + entities.entity_outstanding_balance as decimal(18, 2))
        as total_outstanding_balance,
    district.fund_capacity,
    cast((village.outstanding_balance + entities.entity_outstanding_balance)
        / district.fund_capacity as decimal(18, 10)) as fund_utilisation,
    1 as villages_total,
    case when village.tripped then 1 else 0 end as villages_tripped,
    case when village.watch then 1 else 0 end as villages_watch,
    1 as townships_total,
    case when township.tripped then 1 else 0 end as townships_tripped,
    district.title_year,
    case when title.holds_title then 1 else 0 end as credit_villages,
    null::integer as credit_townships,
from village
cross join scores
cross join entities
cross join district
left join township on true
left join title on true
"""


@cached
def kpi(token: Warehouse, as_of: date, scope: Scope) -> pl.DataFrame:
    """The leading-group figures of one scope at one snapshot date (one row, KPI_COLUMNS).

    District and township rows are kpi_monthly's; a village's are computed the same way from
    household_scores, village_breaker and loan_status (kpi_monthly stops at townships).
    """
    if scope.level == "village":
        params = {"as_of": as_of, "title_pct": policy(token, scope)["title_rate_pct"]}
        return frame(token, scope, _VILLAGE_KPI_SQL, params)
    columns = ", ".join(KPI_COLUMNS)
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


@cached
def kpi_trend(token: Warehouse, until: date, scope: Scope) -> pl.DataFrame:
    """Month by month up to ``until``: outstanding, NPL balance and rate, households by grade.

    Every month for the district and a township (kpi_monthly); the last HISTORY_MONTHS months
    for a village, computed from household_scores (a village's rows lie all over the mart)."""
    if scope.level != "village":
        return frame(
            token,
            scope,
            """
            select
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
        with

        grades as (
            select
                as_of,
                count(*) as households_rated,
                count(*) filter (where grade = 'AAA+') as "AAA+",
                count(*) filter (where grade = 'AAA') as "AAA",
                count(*) filter (where grade = 'AA') as "AA",
                count(*) filter (where grade = 'A') as "A",
                count(*) filter (where grade = '无信用') as "无信用",
            from main.household_scores
            where is_month_end and as_of <= $until and as_of > $until - to_months($months)
                {scope.where_sql()}
            group by as_of
        ),

        breaker as (
            select as_of, outstanding_balance, npl_balance, npl_rate
            from main.village_breaker
            where is_month_end and as_of <= $until and as_of > $until - to_months($months)
                {scope.where_sql()}
        )

        select
            breaker.as_of,
            breaker.outstanding_balance,
            breaker.npl_balance,
            breaker.npl_rate,
            coalesce(grades.households_rated, 0) as households_rated,
            coalesce(grades."AAA+", 0) as "AAA+",
            coalesce(grades."AAA", 0) as "AAA",
            coalesce(grades."AA", 0) as "AA",
            coalesce(grades."A", 0) as "A",
            coalesce(grades."无信用", 0) as "无信用",
        from breaker
        left join grades on breaker.as_of = grades.as_of
        order by breaker.as_of
        """,
        {"until": until, "months": HISTORY_MONTHS},
    )


# The change labels (新增熔断 …) are derived here until a mart carries them.
@cached
def village_changes(token: Warehouse, as_of: date, scope: Scope) -> pl.DataFrame:
    """Villages whose breaker status changed since the previous month-end: newly 熔断, newly
    预警, or lifted (熔断 before, not now). Columns: change, township, village, rates, statuses."""
    previous = previous_month_end(token, as_of, scope)
    if previous is None:
        return pl.DataFrame()
    return frame(
        token,
        scope,
        f"""
        with

        now as (
            select * from main.village_breaker where as_of = $as_of {scope.where_sql()}
        ),

        before as (
            select * from main.village_breaker where as_of = $previous {scope.where_sql()}
        ),

        compared as (
            select
                case
                    when now.tripped and not before.tripped then '新增熔断'
                    when now.watch and before.status in ('正常', '无贷款') then '新增预警'
                    when before.tripped and not now.tripped then '解除熔断'
                end as change,
                now.township_code,
                now.township_name,
                now.village_code,
                now.village_name,
                now.npl_rate,
                before.npl_rate as previous_npl_rate,
                now.status,
                before.status as previous_status,
                now.outstanding_balance,
                now.npl_balance,
            from now
            inner join before on now.village_code = before.village_code
        )

        select * from compared
        where change is not null
        order by
            case change when '新增熔断' then 1 when '新增预警' then 2 else 3 end,
            npl_rate desc nulls last,
            village_code
        """,
        {"as_of": as_of, "previous": previous},
    )


# "One tripped village away from the line" is derived here until a mart carries it.
@cached
def townships_near_line(token: Warehouse, as_of: date, scope: Scope) -> pl.DataFrame:
    """Townships tripped, or one tripped village away from the 30% line (R-B2)."""
    share = policy(token, scope)["township_breaker_share_pct"]
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
            case when tripped then '乡镇已熔断' else '再有1个村熔断即触发乡镇熔断' end as note,
        from main.township_breaker
        where as_of = $as_of {scope.township_where_sql()}
            and (tripped or (villages_tripped + 1) * 100 >= $share * villages_total)
        order by tripped desc, tripped_share desc, township_code
        """,
        {"as_of": as_of, "share": share},
    )
