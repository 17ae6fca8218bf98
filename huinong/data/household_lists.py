"""Household lists of a scope (village drill-down, downloads) and the households under a credit
stop with its reason (熔断监测, R-C2 / R-B3)."""

from __future__ import annotations

from datetime import date

import polars as pl

from huinong.data.connection import MAX_ROWS, Warehouse, cached, frame
from huinong.data.scope import Scope

_HOUSEHOLD_COLUMNS = """
    scores.township_code,
    names.township_name,
    scores.village_code,
    names.village_name,
    scores.household_id,
    register.head_name,
    scores.registered_poor,
    scores.grade,
    scores.score,
    scores.credit_limit,
    scores.available_credit,
    scores.outstanding_principal,
    scores.loans_on_book,
    {max_dpd},
    {vetoes} as vetoes,
    scores.credit_stopped,
"""
# The household_scores columns a list needs: a narrow scan is what keeps 1M rows fast.
_LIST_SCORE_COLUMNS = (
    "household_id, village_code, township_code, collected_on, registered_poor, grade, score, "
    "credit_limit, available_credit, outstanding_principal, loans_on_book, vetoes, credit_stopped, "
    "credit_stop_reason"
)

# Column names common to household_scores and the household lists, so the same ordering picks
# the rows (before the joins, with the limit) and orders the list.
_ORDERINGS = {
    "household": "village_code, household_id",
    "score_desc": "score desc, household_id",
    "score_asc": "score asc, household_id",
    "dpd_desc": "max_dpd desc, outstanding_principal desc, household_id",
    "outstanding_desc": "outstanding_principal desc, household_id",
}
HOUSEHOLD_ORDERINGS = tuple(_ORDERINGS)

# The households of the credit-stop list (R-C2 / R-B3), as a filter on household_scores.
CREDIT_STOPPED = "and credit_stopped"


def households_sql(
    scope: Scope,
    where: str = "",
    order: str = "household",
    limited: bool = False,
    extra_columns: str = "",
    village_range: bool = False,
) -> str:
    """Households of the scope with names. ``limited``: only the first $limit rows in this
    order, picked before the joins (a page shows at most MAX_ROWS; a download streams all).

    max_dpd is the largest DPD of the household's loans on the book (loan_status), looked up
    for the picked households only, unless the list is ordered by it. ``extra_columns``: more
    columns of the picked household_scores rows (``scores.…``), after the usual ones.
    ``village_range``: a district's marts read only from $first_village to $last_village (the
    villages the list's rows lie in, from ``first_rows_params``); a township's or a village's
    list is narrowed by its scope already.
    """
    first_rows = f"order by {_ORDERINGS[order]} limit $limit" if limited else ""
    # A constant range of the column the marts are sorted by: their zone maps skip the rest.
    # The marts' village_code is the household's home village in each (R-B1).
    within = ""
    if village_range and scope.level == "district":
        within = " and village_code between $first_village and $last_village"
    late_dpd = order != "dpd_desc"
    if late_dpd:
        picked = f"""
            select {_LIST_SCORE_COLUMNS} from main.household_scores
            where as_of = $as_of {scope.where_sql()} {where} {within}
        """
    else:
        picked = f"""
            select {_LIST_SCORE_COLUMNS}, coalesce(dpd.max_dpd, 0) as max_dpd,
            from main.household_scores
            left join (
                select borrower_id, max(dpd) as max_dpd
                from main.loan_status
                where as_of = $as_of {scope.where_sql()} and borrower_type = '农户' {within}
                group by borrower_id
            ) as dpd on household_id = dpd.borrower_id
            where as_of = $as_of {scope.where_sql()} {where} {within}
        """
    dpd_cte = f"""
        dpd as (
            select borrower_id, max(dpd) as max_dpd
            from main.loan_status
            where as_of = $as_of {scope.where_sql()} and borrower_type = '农户' {within}
                and borrower_id in (select household_id from scores)
            group by borrower_id
        ),
    """
    columns = _HOUSEHOLD_COLUMNS.format(
        max_dpd="coalesce(dpd.max_dpd, 0) as max_dpd" if late_dpd else "scores.max_dpd",
        vetoes=scope.vetoes_sql("scores.vetoes"),
    ) + (f"{extra_columns}," if extra_columns else "")
    return f"""
        with

        scores as (
            {picked}
            {first_rows}
        ),

        {dpd_cte if late_dpd else ""}

        names as (
            select village_code, village_name, township_name
            from main.village_breaker
            where as_of = $as_of {scope.where_sql()} {within}
        ),

        register as (
            select household_id, collected_on, head_name, head_id_number
            from main.household_register
            where household_id in (select household_id from scores) {scope.where_sql()} {within}
        )

        select {columns}
        from scores
        left join names on scores.village_code = names.village_code
        left join register
            on scores.household_id = register.household_id
            and scores.collected_on = register.collected_on
        {"left join dpd on scores.household_id = dpd.borrower_id" if late_dpd else ""}
        order by {_ORDERINGS[order]}
    """


@cached
def household_count(token: Warehouse, as_of: date, scope: Scope) -> int:
    """Rated households of the scope at as_of."""
    return frame(
        token,
        scope,
        f"select count(*) from main.household_scores where as_of = $as_of {scope.where_sql()}",
        {"as_of": as_of},
    ).item()


@cached
def households(
    token: Warehouse, as_of: date, scope: Scope, order: str = "household", limit: int = MAX_ROWS
) -> pl.DataFrame:
    """The rated households of the scope (grade, score, limit, available credit, outstanding,
    DPD, vetoes), at most ``limit`` (≤ MAX_ROWS) rows in the given order."""
    scope.require("view_named_households", "查看农户名单")
    if order not in _ORDERINGS:
        raise ValueError(order)
    if order == "household":
        sql = households_sql(scope, limited=True, village_range=True)
        return frame(token, scope, sql, first_rows_params(token, scope, as_of, limit))
    sql = households_sql(scope, order=order, limited=True)
    return frame(token, scope, sql, {"as_of": as_of, "limit": min(limit, MAX_ROWS)})


@cached
def credit_stops(
    token: Warehouse, as_of: date, scope: Scope, limit: int = MAX_ROWS
) -> pl.DataFrame:
    """Households under a credit stop (R-C2 / R-B3) with the reason, at most ``limit`` rows."""
    scope.require("view_named_households", "查看停止授信农户名单")
    sql = credit_stops_sql(scope, limited=True, village_range=True)
    params = first_rows_params(token, scope, as_of, limit, where=CREDIT_STOPPED)
    return frame(token, scope, sql, params)


def credit_stops_sql(scope: Scope, limited: bool = False, village_range: bool = False) -> str:
    """Households under a credit stop with household_scores' reason (R-B3: 本村熔断 /
    所在乡镇熔断 / 本村及所在乡镇熔断)."""
    return households_sql(
        scope,
        where=CREDIT_STOPPED,
        limited=limited,
        extra_columns="scores.credit_stop_reason as stop_reason",
        village_range=village_range,
    )


def first_rows_params(
    token: Warehouse, scope: Scope, as_of: date, limit: int, where: str = ""
) -> dict:
    """The parameters of a list's first ``limit`` (≤ MAX_ROWS) households in household order
    (``households_sql(…, limited=True, village_range=True)`` with the same ``where``): as_of,
    limit, and for the district the first and last village those households live in.

    The villages come from a narrow pick on household_scores alone (two columns, no joins): at
    1,000,000 households a district list's joins then read a few villages of household_register
    and loan_status instead of all of them. Exact: the list's first rows lie in that range, so
    the same rows come first within it. A township's or a village's list needs no pick.
    """
    params = {"as_of": as_of, "limit": min(limit, MAX_ROWS)}
    if scope.level != "district":
        return params
    villages = frame(
        token,
        scope,
        f"""
        select min(village_code) as first_village, max(village_code) as last_village,
        from (
            select village_code from main.household_scores
            where as_of = $as_of {scope.where_sql()} {where}
            order by {_ORDERINGS["household"]}
            limit $limit
        )
        """,
        params,
    ).row(0, named=True)
    return {**params, **villages}


@cached
def credit_stop_count(token: Warehouse, as_of: date, scope: Scope) -> int:
    """Households under a credit stop at as_of."""
    return frame(
        token,
        scope,
        f"""
        select count(*) from main.household_scores
        where as_of = $as_of {scope.where_sql()} and credit_stopped
        """,
        {"as_of": as_of},
    ).item()
