"""单户原因: why one household has its score and its vetoes at one snapshot date — every
condition behind every score item, from the collection the score used (collection_conditions)
and the loan book since (household_scores' D3 events and D6), and every veto linked to its cause
(V1/V2/V4: the collected item and its collection date; V3: the loans overdue that day, on the
book or written off and unpaid, loan_arrears)."""

from __future__ import annotations

from datetime import date

import polars as pl

from huinong.auth.redact import HIDDEN_VETO_CODE, HIDDEN_VETO_WORDS, SENSITIVE_VETOES
from huinong.data.connection import Warehouse, cached, frame
from huinong.data.lines import policy_numbers_sql
from huinong.data.scope import Scope
from huinong.format import ITEM_NAMES, ITEMS, VETO_WORDS

# V1 (vice) and V2 (court enforcement): shown only to users with view_sensitive_vetoes.
_SENSITIVE = SENSITIVE_VETOES
_HIDDEN_CODE = HIDDEN_VETO_CODE
_HIDDEN_WORDS = HIDDEN_VETO_WORDS

# DATE as 2024年6月5日, in SQL.
_DAY = "strftime({column}, '%Y年%-m月%-d日')"


@cached
def veto_causes(token: Warehouse, as_of: date, scope: Scope, household_id: str) -> pl.DataFrame:
    """Every veto (R-S6) that holds for a household of the scope at ``as_of``, one row per cause:
    veto (V1…V4), veto_words, cause (words), collected_on (V1/V2/V4: the collection that recorded
    it), and for V3 the loan: loan_id, on_book, written_off_on, outstanding_principal, dpd,
    five_tier, first_npl_on. A written-off loan still unpaid reads 已核销贷款仍未还清. Without
    view_sensitive_vetoes V1/V2 become one row VS (一票否决（不宜公开事项）); without view_loans
    V3 is one row without its loans. Empty when no veto holds (or the household is not rated)."""
    scope.require("view_named_households", "查看单户信息")
    sensitive = scope.may("view_sensitive_vetoes")
    loans = scope.may("view_loans")
    collected_vetoes = "('V1', 'V2', 'V4')" if sensitive else "('V4')"
    hidden = (
        ""
        if sensitive
        else f"""
        union all
        select
            '{_HIDDEN_CODE}' as veto, '{_HIDDEN_WORDS}' as cause, cast(null as date) as collected_on,
            0 as condition_no,
        from scores
        where list_has_any(scores.vetoes, {list(_SENSITIVE)})
        """
    )
    arrears = (
        f"""
        select
            'V3' as veto,
            case
                when arrears.on_book then format(
                    '贷款 {{}} 逾期 {{}} 天（{{}}），尚欠本金 {{:,.2f}} 元',
                    arrears.loan_id, arrears.dpd, arrears.five_tier, arrears.outstanding_principal
                )
                when arrears.written_off_on is not null then format(
                    '已核销贷款仍未还清：贷款 {{}} 于 {{}} 核销，逾期 {{}} 天，尚欠本金 {{:,.2f}} 元',
                    arrears.loan_id, {_DAY.format(column="arrears.written_off_on")}, arrears.dpd,
                    arrears.outstanding_principal
                )
                else format(
                    '贷款 {{}} 本金已还清但仍有欠款未还，逾期 {{}} 天', arrears.loan_id, arrears.dpd
                )
            end as cause,
            arrears.loan_id, arrears.on_book, arrears.written_off_on,
            arrears.outstanding_principal, arrears.dpd, arrears.five_tier, arrears.first_npl_on,
        from main.loan_arrears as arrears
        where arrears.as_of = $as_of {scope.where_sql("arrears")}
            and arrears.borrower_id = $household
        """
        if loans
        else """
        select
            'V3' as veto, '有贷款逾期（本账号无权查看贷款明细）' as cause,
            cast(null as varchar) as loan_id, cast(null as boolean) as on_book,
            cast(null as date) as written_off_on, cast(null as decimal(18, 2)) as outstanding_principal,
            cast(null as integer) as dpd, cast(null as varchar) as five_tier,
            cast(null as date) as first_npl_on,
        from scores
        where list_contains(scores.vetoes, 'V3')
        """
    )
    result = frame(
        token,
        scope,
        f"""
        with

        scores as (
            select household_id, collected_on, vetoes,
            from main.household_scores
            where as_of = $as_of {scope.where_sql()} and household_id = $household
        ),

        collected as (
            select
                conditions.item as veto, conditions.condition as cause, conditions.collected_on,
                conditions.condition_no,
            from main.collection_conditions as conditions
            inner join scores
                on conditions.household_id = scores.household_id
                and conditions.collected_on = scores.collected_on
            where conditions.household_id = $household {scope.where_sql("conditions")}
                and conditions.item in {collected_vetoes}
            {hidden}
        ),

        arrears as ({arrears})

        select
            veto, cause, collected_on,
            cast(null as varchar) as loan_id, cast(null as boolean) as on_book,
            cast(null as date) as written_off_on,
            cast(null as decimal(18, 2)) as outstanding_principal, cast(null as integer) as dpd,
            cast(null as varchar) as five_tier, cast(null as date) as first_npl_on,
            condition_no as ordering,
        from collected
        union all by name
        select *, cast(null as date) as collected_on, - dpd as ordering,
        from arrears
        order by veto, ordering, loan_id
        """,
        {"as_of": as_of, "household": household_id},
    )
    words = {**VETO_WORDS, _HIDDEN_CODE: _HIDDEN_WORDS}
    return result.drop("ordering").with_columns(
        pl.col("veto").replace_strict(words, default=None).alias("veto_words")
    )


@cached
def score_conditions(
    token: Warehouse, as_of: date, scope: Scope, household_id: str
) -> pl.DataFrame:
    """Every score item of a household of the scope at ``as_of`` with the conditions that held,
    from the collection its score used (R-S1) and the loan book since: one row per condition,
    columns item (a1 … d6, poor_bonus: the household_scores column), item_name (A1 户主信息 …),
    item_points (the item's points that day), condition (words), points (what the condition
    earns or costs; the conditions of an item add up to item_points), source (采集 or 贷款台账),
    collected_on. Items that earn nothing have no row. D3 counts the credit report's events up to
    the collection (采集) and the loan book's after it (贷款台账, R-S7); D6 (R-C3) puts its points
    on the record that counts that day and says when an enforcement record no longer counts.
    Empty when the household is not rated at ``as_of``."""
    scope.require("view_named_households", "查看单户信息")
    columns = ", ".join(ITEMS)
    result = frame(
        token,
        scope,
        f"""
        with

        scores as (
            select household_id, collected_on, overdue_events, npl_events, {columns},
            from main.household_scores
            where as_of = $as_of {scope.where_sql()} and household_id = $household
        ),

        register as (
            select credit_overdue_count, credit_npl_count,
            from main.household_register
            where household_id = $household {scope.where_sql()}
                and collected_on = (select collected_on from scores)
        ),

        lines as ({policy_numbers_sql("d3_overdue_points", "d3_npl_points")}),

        -- The day's points of every item, one row per item (a1 … d6, poor_bonus).
        day_items as (
            unpivot (select {columns}, from scores)
            on {columns}
            into name item value item_points
        ),

        collected as (
            select
                conditions.item, conditions.condition_no, conditions.condition,
                conditions.points, conditions.collected_on,
            from main.collection_conditions as conditions
            inner join scores
                on conditions.household_id = scores.household_id
                and conditions.collected_on = scores.collected_on
            where conditions.household_id = $household {scope.where_sql("conditions")}
                and not starts_with(conditions.item, 'V')
        ),

        -- R-S7: the loan book's events after the collection are the day's counts less the
        -- credit report's.
        book_events as (
            select
                scores.overdue_events - coalesce(register.credit_overdue_count, 0) as overdue,
                scores.npl_events - coalesce(register.credit_npl_count, 0) as npl,
            from scores
            cross join register
        ),

        book as (
            select
                'd3' as item, 100 as condition_no,
                format('采集日后贷款逾期 {{}} 次', book_events.overdue) as condition,
                cast(- book_events.overdue * lines.d3_overdue_points as integer) as points,
            from book_events
            cross join lines
            where book_events.overdue > 0
            union all
            select
                'd3' as item, 101 as condition_no,
                format('采集日后贷款不良 {{}} 次', book_events.npl) as condition,
                cast(- book_events.npl * lines.d3_npl_points as integer) as points,
            from book_events
            cross join lines
            where book_events.npl > 0
        ),

        held as (
            select
                item, condition_no, condition, points, collected_on, '采集' as source,
            from collected
            union all
            select
                item, condition_no, condition, points, cast(null as date) as collected_on,
                '贷款台账' as source,
            from book
        )

        select held.*, cast(day_items.item_points as integer) as item_points,
        from held
        left join day_items on held.item = day_items.item
        order by held.item, held.condition_no
        """,
        {"as_of": as_of, "household": household_id},
    )
    rows = []
    for row in result.iter_rows(named=True):
        if row["item"] == "d6":
            row = _d6_on_the_day(row, rows)
        rows.append(row)
    order = {item: position for position, item in enumerate(ITEMS)}
    return (
        pl.DataFrame(rows, schema=result.schema)
        .with_columns(
            pl.col("item").replace_strict(ITEM_NAMES, default=None).alias("item_name"),
            pl.col("item").replace_strict(order, default=len(order)).alias("item_order"),
        )
        .sort("item_order", "condition_no")
        .drop("item_order", "condition_no")
    )


def _d6_on_the_day(row: dict, earlier: list[dict]) -> dict:
    """D6 costs its points once that day (R-C3): on the dishonest-debtor listing when there is
    one, else on the enforcement record; a record older than three years costs nothing."""
    already = any(other["item"] == "d6" and other["points"] for other in earlier)
    if row["item_points"] and not already:
        return {**row, "points": row["item_points"]}
    if not row["item_points"] and row["condition"].startswith("被执行记录"):
        return {**row, "condition": f"{row['condition']}（已超过三年，不再扣分）", "points": 0}
    return {**row, "points": 0}
