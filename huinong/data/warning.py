"""早期预警: each village's NPL rate at the next month-end if nothing is repaid (R-B4, a dashboard
convenience), the villages that would trip or enter 预警 then, and the loans that drive it — read
from village_npl_outlook and loan_npl_outlook, which project DPD forward by the days to the next
month-end with the outstanding balance unchanged."""

from __future__ import annotations

from datetime import date

import polars as pl

from huinong.data.connection import Warehouse, cached, frame
from huinong.data.scope import Scope


@cached
def early_warning(
    token: Warehouse, as_of: date, scope: Scope, only_changes: bool = True
) -> pl.DataFrame:
    """Villages of the scope whose NPL balance grows by the next month-end if nothing is repaid:
    next_month_end, status and npl_rate now, loans_turning_npl, npl_balance_turning,
    projected_npl_balance, projected_npl_rate, projected_status, would_trip (not tripped now,
    tripped then), would_watch (正常 now, 预警 then), outstanding_balance (unchanged). With
    ``only_changes`` only the villages that would trip or enter 预警; otherwise every village with
    a loan turning NPL. Those that would trip first, then by projected rate."""
    which = "(would_trip or would_watch)" if only_changes else "loans_turning_npl > 0"
    return frame(
        token,
        scope,
        f"""
        select
            township_code, township_name, village_code, village_name, as_of, next_month_end,
            outstanding_balance, npl_balance, npl_rate, status, loans_turning_npl,
            npl_balance_turning, projected_npl_balance, projected_npl_rate, projected_status,
            would_trip, would_watch,
        from main.village_npl_outlook
        where as_of = $as_of {scope.where_sql()} and {which}
        order by would_trip desc, projected_npl_rate desc nulls last, village_code
        """,
        {"as_of": as_of},
    )


@cached
def early_warning_loans(
    token: Warehouse, as_of: date, scope: Scope, village_code: str
) -> pl.DataFrame:
    """The loans of one village that would pass 90 days past due by the next month-end if nothing
    is repaid (loan_npl_outlook), largest outstanding first: household_id, head_name (NULL for a
    user who may not see names), loan_id, outstanding_principal, dpd, oldest_unpaid_due_on,
    next_month_end, projected_dpd."""
    scope.require("view_loans", "查看贷款明细")
    named = scope.may("view_named_households")
    return frame(
        token,
        scope,
        f"""
        with

        names as (
            select household_id, head_name,
            from main.household_directory
            where village_code = $code {scope.where_sql()}
        )

        select
            outlook.borrower_id as household_id,
            {"names.head_name" if named else "cast(null as varchar) as head_name"},
            outlook.loan_id, outlook.amount, outlook.outstanding_principal, outlook.dpd,
            outlook.oldest_unpaid_due_on, outlook.next_month_end, outlook.projected_dpd,
        from main.loan_npl_outlook as outlook
        left join names on outlook.borrower_id = names.household_id
        where outlook.as_of = $as_of {scope.where_sql("outlook")} and outlook.village_code = $code
        order by outlook.outstanding_principal desc, outlook.loan_id
        """,
        {"as_of": as_of, "code": village_code},
    )
