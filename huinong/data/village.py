"""村级钻取: the areas one level down with their headline figures, one household (its score,
its grade history, its loans) and one loan (status history, plan, repayments)."""

from __future__ import annotations

from datetime import date

import polars as pl

from huinong.data.connection import HISTORY_MONTHS, Warehouse, cached, frame
from huinong.data.scope import Scope


@cached
def area_table(token: Warehouse, as_of: date, scope: Scope) -> pl.DataFrame:
    """The areas one level below the scope, with their headline figures: townships of the
    district (kpi_monthly, township_breaker's status) or villages of a township
    (kpi_village_monthly)."""
    columns = """
        kpi.scope_code as area_code,
        kpi.scope_name as area_name,
        kpi.households_rated,
        kpi.households_credit,
        kpi.credit_granted,
        kpi.borrowing_households,
        kpi.outstanding_balance,
        kpi.npl_balance,
        kpi.npl_rate,
        kpi.villages_total,
        kpi.villages_tripped,
    """
    if scope.level == "district":
        return frame(
            token,
            scope,
            f"""
            select {columns} breaker.status,
            from main.kpi_monthly as kpi
            inner join main.township_breaker as breaker
                on breaker.as_of = kpi.as_of and breaker.township_code = kpi.scope_code
            where kpi.as_of = $as_of and kpi.scope_level = 'township'
            order by area_code
            """,
            {"as_of": as_of},
        )
    return frame(
        token,
        scope,
        f"""
        select {columns} kpi.breaker_status as status,
        from main.kpi_village_monthly as kpi
        where kpi.as_of = $as_of {scope.where_sql("kpi")}
        order by area_code
        """,
        {"as_of": as_of},
    )


@cached
def household(token: Warehouse, as_of: date, scope: Scope, household_id: str) -> pl.DataFrame:
    """One household's household_scores row at as_of with its name and ID number (0 or 1 row);
    max_dpd is the largest DPD of its loans on the book that day. The ID number and the vetoes
    as the user may read them (masked, V1/V2 folded into VS)."""
    scope.require("view_named_households", "查看单户信息")
    return frame(
        token,
        scope,
        f"""
        with

        scores as (
            {
            _scores_sql(
                scope,
                "{t}as_of = $as_of",
                "and household_id = $household",
                "and borrower_id = $household",
            )
        }
        ),

        register as (
            select household_id, collected_on, head_name, head_id_number
            from main.household_register
            where household_id = $household {scope.where_sql()}
        )

        select
            scores.* replace ({scope.vetoes_sql("scores.vetoes")} as vetoes),
            register.head_name,
            {scope.id_number_sql("register.head_id_number")} as head_id_number,
        from scores
        left join register
            on scores.household_id = register.household_id
            and scores.collected_on = register.collected_on
        """,
        {"as_of": as_of, "household": household_id},
    )


@cached
def household_history(
    token: Warehouse, until: date, scope: Scope, household_id: str, months: int = HISTORY_MONTHS
) -> pl.DataFrame:
    """One household's score and grade at every snapshot of the ``months`` months up to
    ``until`` (a household's rows are spread over the whole mart: the window bounds the scan)."""
    scope.require("view_named_households", "查看单户信息")
    return frame(
        token,
        scope,
        f"""
        select
            as_of, is_month_end, score, raw_score, grade, credit_limit, available_credit,
            outstanding_principal, max_dpd, {scope.vetoes_sql("vetoes")} as vetoes, credit_stopped,
        from ({
            _scores_sql(
                scope,
                "{t}as_of <= $until and {t}as_of > $until - to_months($months)",
                "and household_id = $household",
                "and borrower_id = $household",
            )
        })
        order by as_of
        """,
        {"until": until, "months": months, "household": household_id},
    )


@cached
def household_loans(token: Warehouse, as_of: date, scope: Scope, household_id: str) -> pl.DataFrame:
    """Every loan of the household disbursed up to as_of (loan_book), on the book or not: terms,
    state at as_of (在贷/已结清/已核销), instalments missed by as_of, the first NPL date and the
    write-off as known at as_of, the worst DPD while on the book, and (on the book at as_of)
    outstanding, DPD and five-tier (loan_status)."""
    scope.require("view_loans", "查看贷款明细")
    return frame(
        token,
        scope,
        f"""
        with

        book as (
            select
                loan_id, amount, disbursed_on, maturity_on, written_off_on, fully_covered_on,
                first_npl_on,
            from main.loan_book
            where borrower_type = '农户' and borrower_id = $household and disbursed_on <= $as_of
                {scope.where_sql()}
        ),

        status as (
            select
                loan_id,
                max(dpd) as worst_dpd,
                any_value(outstanding_principal) filter (where as_of = $as_of)
                    as outstanding_principal,
                any_value(dpd) filter (where as_of = $as_of) as dpd,
                any_value(five_tier) filter (where as_of = $as_of) as five_tier,
                bool_or(as_of = $as_of) as on_book,
            from main.loan_status
            where as_of <= $as_of {scope.where_sql()}
                and borrower_type = '农户' and borrower_id = $household
            group by loan_id
        ),

        missed as (
            select loan_id, count(*) filter (where was_missed and due_on < $as_of) as missed,
            from main.loan_instalments
            where borrower_id = $household {scope.village_code_where_sql()}
            group by loan_id
        )

        select
            book.loan_id,
            book.amount,
            book.disbursed_on,
            book.maturity_on,
            case
                when coalesce(status.on_book, false) then '在贷'
                when book.written_off_on <= $as_of then '已核销'
                when book.fully_covered_on <= $as_of then '已结清'
                else '不在贷'
            end as loan_state,
            coalesce(status.on_book, false) as on_book,
            status.outstanding_principal,
            status.dpd,
            status.five_tier,
            coalesce(status.worst_dpd, 0) as worst_dpd,
            coalesce(missed.missed, 0) as missed_instalments,
            case when book.first_npl_on <= $as_of then book.first_npl_on end as first_npl_on,
            case when book.written_off_on <= $as_of then book.written_off_on end
                as written_off_on,
            case when book.fully_covered_on <= $as_of then book.fully_covered_on end
                as fully_covered_on,
        from book
        left join status on book.loan_id = status.loan_id
        left join missed on book.loan_id = missed.loan_id
        order by book.disbursed_on desc, book.loan_id
        """,
        {"as_of": as_of, "household": household_id},
    )


@cached
def loan_history(token: Warehouse, until: date, scope: Scope, loan_id: str) -> pl.DataFrame:
    """One loan at every snapshot on the book up to ``until``: outstanding, DPD, five-tier."""
    scope.require("view_loans", "查看贷款明细")
    return frame(
        token,
        scope,
        f"""
        select as_of, is_month_end, outstanding_principal, dpd, five_tier, is_overdue, is_npl,
            oldest_unpaid_due_on,
        from main.loan_status
        where as_of <= $until {scope.where_sql()} and loan_id = $loan
        order by as_of
        """,
        {"until": until, "loan": loan_id},
    )


@cached
def loan_instalments(token: Warehouse, until: date, scope: Scope, loan_id: str) -> pl.DataFrame:
    """A loan's repayment plan (loan_instalments) as known at ``until``: each instalment, its
    cumulative amount due, the day it was covered (when on or before ``until``) and whether it
    was missed (not covered by the end of its due date, for those due before ``until``)."""
    scope.require("view_loans", "查看贷款明细")
    return frame(
        token,
        scope,
        f"""
        select
            installment_no,
            due_on,
            principal_due,
            interest_due,
            amount_due,
            cumulative_due,
            case when covered_on <= $until then covered_on end as covered_on,
            case when due_on < $until then was_missed end as was_missed,
        from main.loan_instalments
        where loan_id = $loan {scope.village_code_where_sql()}
        order by due_on, installment_no
        """,
        {"until": until, "loan": loan_id},
    )


@cached
def loan_repayments(token: Warehouse, until: date, scope: Scope, loan_id: str) -> pl.DataFrame:
    """A loan of the scope: its repayment plan against its payments up to ``until``, as two
    cumulative step series (on_day, kind 计划应还/实际还款, amount, cumulative), from
    loan_instalments and loan_payments."""
    scope.require("view_loans", "查看贷款明细")
    return frame(
        token,
        scope,
        f"""
        with

        due as (
            select due_on as on_day, '计划应还' as kind, amount_due as amount
            from main.loan_instalments
            where loan_id = $loan {scope.village_code_where_sql()}
        ),

        paid as (
            select paid_on as on_day, '实际还款' as kind, total_paid as amount
            from main.loan_payments
            where loan_id = $loan and paid_on <= $until {scope.village_code_where_sql()}
        ),

        events as (
            select * from due
            union all
            select * from paid
        )

        select
            on_day,
            kind,
            sum(amount) as amount,
            sum(sum(amount)) over (partition by kind order by on_day) as cumulative,
        from events
        group by on_day, kind
        order by kind, on_day
        """,
        {"until": until, "loan": loan_id},
    )


def _scores_sql(scope: Scope, dates: str, where: str = "", loans_where: str = "") -> str:
    """household_scores rows of the scope on the given dates ("{t}as_of = $as_of") with
    max_dpd: the largest DPD of the household's loans on the book that day (loan_status).

    household_scores carries no DPD: a household's DPD changes within a period, so the mart
    would need a join per row; the few rows a page shows get it here instead.
    """
    return f"""
        select scores.*, coalesce(dpd.max_dpd, 0) as max_dpd,
        from main.household_scores as scores
        left join (
            select as_of, borrower_id, max(dpd) as max_dpd
            from main.loan_status
            where {dates.format(t="")} {scope.where_sql()} and borrower_type = '农户' {loans_where}
            group by all
        ) as dpd on scores.as_of = dpd.as_of and scores.household_id = dpd.borrower_id
        where {dates.format(t="scores.")} {scope.where_sql("scores")} {where}
    """
