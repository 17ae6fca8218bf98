"""熔断原因: why a village or a township is tripped (or on watch) at one snapshot date, read from
the breaker marts — the rate arithmetic as village_breaker computes it, since when the village is
tripped, how much NPL principal must be recovered or written off to fall back under the line, and
the NPL loans that make up the NPL balance."""

from __future__ import annotations

from datetime import date

import polars as pl

from huinong.data.connection import Warehouse, cached, frame
from huinong.data.lines import policy_numbers_sql
from huinong.data.scope import Scope

# The lines the breaker was computed against (policy_profile), in %.
_LINES_SQL = policy_numbers_sql(
    breaker_line_pct="village_breaker_rate_pct",
    watch_line_pct="watch_rate_pct",
    share_line_pct="township_breaker_share_pct",
)


@cached
def village_trip(token: Warehouse, as_of: date, scope: Scope, village_code: str) -> pl.DataFrame:
    """Why one village of the scope has its breaker status at ``as_of`` (0 or 1 row).

    Columns: the village's names and codes, is_month_end (false: a provisional reading),
    outstanding_balance, npl_balance and npl_rate (npl_balance / outstanding_balance, rounded to
    10 decimals; the status is decided exactly: npl * 100 > line * outstanding), status,
    tripped, watch, breaker_line_pct and watch_line_pct (the lines of the build's policy, in %),
    tripped_since (first reading of the current run of tripped readings; NULL when not tripped),
    previous_month_end / previous_status / previous_npl_rate / status_change, npl_to_clear_breaker
    and npl_to_clear_watch (NPL principal to recover or write off to fall back to each line, both
    balances falling by it), loans_on_book, borrowing_households, npl_loans and npl_households
    (household loans with DPD > 90 and their borrowers). Aggregates only: no household is named.
    """
    return frame(
        token,
        scope,
        f"""
        with

        breaker as (
            select
                village_code, village_name, township_code, township_name, as_of, is_month_end,
                outstanding_balance, npl_balance, npl_rate, status, tripped, watch, tripped_since,
                previous_month_end, previous_status, previous_npl_rate, status_change,
                npl_to_clear_breaker, npl_to_clear_watch, loans_on_book, borrowing_households,
            from main.village_breaker
            where as_of = $as_of {scope.where_sql()} and village_code = $code
        ),

        npl as (
            select
                count(*) as npl_loans,
                count(distinct borrower_id) as npl_households,
            from main.loan_status
            where as_of = $as_of {scope.where_sql()} and village_code = $code
                and borrower_type = '农户' and is_npl
        ),

        lines as ({_LINES_SQL})

        select breaker.*, lines.*, npl.*,
        from breaker
        cross join lines
        cross join npl
        """,
        {"as_of": as_of, "code": village_code},
    )


@cached
def village_npl_loans(
    token: Warehouse, as_of: date, scope: Scope, village_code: str
) -> pl.DataFrame:
    """The NPL loans (DPD > 90, R-L3) that make up a village's NPL balance at ``as_of``, largest
    outstanding first: household_id, head_name (NULL for a user who may not see names), loan_id,
    amount, disbursed_on, outstanding_principal, dpd, five_tier, first_npl_on (R-L4: since when).
    Their outstanding principal adds up to village_breaker's npl_balance."""
    scope.require("view_loans", "查看贷款明细")
    named = scope.may("view_named_households")
    return frame(
        token,
        scope,
        f"""
        with

        loans as (
            select
                borrower_id as household_id, loan_id, amount, disbursed_on,
                outstanding_principal, dpd, five_tier,
            from main.loan_status
            where as_of = $as_of {scope.where_sql()} and village_code = $code
                and borrower_type = '农户' and is_npl
        ),

        book as (
            select loan_id, first_npl_on,
            from main.loan_book
            where village_code = $code {scope.where_sql()} and borrower_type = '农户'
        ),

        names as (
            select household_id, head_name,
            from main.household_directory
            where village_code = $code {scope.where_sql()}
        )

        select
            loans.household_id,
            {"names.head_name" if named else "cast(null as varchar) as head_name"},
            loans.loan_id,
            loans.amount,
            loans.disbursed_on,
            loans.outstanding_principal,
            loans.dpd,
            loans.five_tier,
            book.first_npl_on,
        from loans
        left join book on loans.loan_id = book.loan_id
        left join names on loans.household_id = names.household_id
        order by loans.outstanding_principal desc, loans.loan_id
        """,
        {"as_of": as_of, "code": village_code},
    )


@cached
def township_trip(token: Warehouse, as_of: date, scope: Scope, township_code: str) -> pl.DataFrame:
    """Why one township has its breaker status at ``as_of`` (0 or 1 row): villages_total,
    villages_tripped, tripped_share against share_line_pct (R-B2: tripped when tripped * 100 >=
    30 * total), tripped, villages_to_trip, line_note, and the names of its tripped villages
    (tripped_villages) and 预警 villages (watch_villages), highest NPL rate first, as far as the
    user's scope reaches."""
    return frame(
        token,
        scope,
        f"""
        with

        township as (
            select
                township_code, township_name, as_of, is_month_end, villages_total,
                villages_tripped, villages_watch, villages_without_loans, tripped_share, tripped,
                villages_to_trip, line_note, status, outstanding_balance, npl_balance, npl_rate,
            from main.township_breaker
            where as_of = $as_of {scope.township_where_sql()} and township_code = $code
        ),

        villages as (
            select
                list(village_name order by npl_rate desc, village_code) filter (where tripped)
                    as tripped_villages,
                list(village_name order by npl_rate desc, village_code) filter (where watch)
                    as watch_villages,
            from main.village_breaker
            where as_of = $as_of {scope.where_sql()} and township_code = $code
        ),

        lines as ({_LINES_SQL})

        select
            township.*,
            lines.share_line_pct,
            coalesce(villages.tripped_villages, []) as tripped_villages,
            coalesce(villages.watch_villages, []) as watch_villages,
        from township
        cross join lines
        cross join villages
        """,
        {"as_of": as_of, "code": township_code},
    )
