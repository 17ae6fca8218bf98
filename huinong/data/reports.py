"""报表导出: the standard reports and the full lists a page offers for download, as a preview,
a row count, and every row streamed from SQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import polars as pl

from huinong.auth.scope import AccessDenied
from huinong.data.connection import MAX_ROWS, STREAM_BATCH_ROWS, Warehouse, cached, frame, stream
from huinong.data.household_lists import (
    CREDIT_STOPPED,
    credit_stops_sql,
    first_rows_params,
    households_sql,
)
from huinong.data.scope import Scope

REPORTS = ("township_summary", "village_breaker", "credit_households", "grade_notice")
DOWNLOADS = (*REPORTS, "households", "credit_stops")
# Lists that name households: only for view_named_households (the others are aggregates).
NAMED_REPORTS = frozenset({"credit_households", "grade_notice", "households", "credit_stops"})
# Lists with the head's ID number.
ID_REPORTS = frozenset({"credit_households", "grade_notice"})
# The household_scores rows each named list holds (all in household order).
_LIST_FILTERS = {
    "credit_households": "and credit_limit > 0",
    "grade_notice": "",
    "households": "",
    "credit_stops": CREDIT_STOPPED,
}


def _check(report: str, scope: Scope) -> None:
    if report not in DOWNLOADS:
        raise ValueError(report)
    if report in NAMED_REPORTS:
        scope.require("view_named_households", "查看或导出农户名单（只能查看汇总数）")


def _report_sql(
    report: str, scope: Scope, limited: bool = False, village_range: bool = False
) -> str:
    """The SQL of a report or full list; ``limited``: the first $limit households only;
    ``village_range``: a list's marts read between $first_village and $last_village only
    (households_sql)."""
    if report == "township_summary":
        return f"""
            select
                kpi.scope_code as township_code,
                kpi.scope_name as township_name,
                breaker.villages_total,
                kpi.households_rated,
                kpi.households_aaa_plus,
                kpi.households_aaa,
                kpi.households_aa,
                kpi.households_a,
                kpi.households_no_credit,
                kpi.households_credit,
                kpi.credit_granted,
                kpi.poor_households_rated,
                kpi.poor_borrowing_households,
                kpi.poor_loan_access_rate,
                kpi.borrowing_households,
                kpi.outstanding_balance,
                kpi.npl_balance,
                kpi.npl_rate,
                breaker.villages_tripped,
                breaker.tripped_share,
                breaker.status,
            from main.kpi_monthly as kpi
            inner join main.township_breaker as breaker
                on breaker.as_of = kpi.as_of and breaker.township_code = kpi.scope_code
            where kpi.as_of = $as_of and kpi.scope_level = 'township'
                {"and kpi.scope_code = $township" if scope.level != "district" else ""}
            order by township_code
        """
    if report == "village_breaker":
        return f"""
            select
                township_name, village_code, village_name, borrowing_households, loans_on_book,
                outstanding_balance, overdue_balance, npl_balance, npl_rate, status,
            from main.village_breaker
            where as_of = $as_of {scope.where_sql()}
            order by township_code, village_code
        """
    if report == "credit_households":
        return f"""
            select township_name, village_name, household_id, head_name, head_id_number,
                registered_poor, score, grade, credit_limit, available_credit,
                outstanding_principal,
            from ({_households_sql_with_id(scope, report, limited, village_range)})
        """
    if report == "grade_notice":
        return f"""
            select village_name, household_id, head_name, head_id_number, score, grade,
                credit_limit,
            from ({_households_sql_with_id(scope, report, limited, village_range, always_masked=True)})
        """
    if report == "households":
        return households_sql(scope, limited=limited, village_range=village_range)
    if report == "credit_stops":
        return credit_stops_sql(scope, limited=limited, village_range=village_range)
    raise ValueError(report)


def _households_sql_with_id(
    scope: Scope,
    report: str,
    limited: bool = False,
    village_range: bool = False,
    always_masked: bool = False,
) -> str:
    """The household list of ``report`` with the head's ID number as the user may read it; a
    public notice (公示表) always masked."""
    id_number = scope.id_number_sql("register.head_id_number", always_masked=always_masked)
    sql = households_sql(
        scope, where=_LIST_FILTERS[report], limited=limited, village_range=village_range
    )
    return sql.replace(
        "register.head_name,", f"register.head_name, {id_number} as head_id_number,", 1
    )


def stream_report(
    token: Warehouse, report: str, as_of: date, scope: Scope, batch_rows: int = STREAM_BATCH_ROWS
) -> Iterator[pl.DataFrame]:
    """The full rows of a report or download, streamed from SQL in batches (not cached); the
    scope must be one issued for a file (``authorize(…, purpose="export")``)."""
    if scope.purpose != "export":
        raise AccessDenied("导出须按导出权限授权（authorize(purpose='export')）")
    _check(report, scope)
    sql = _report_sql(report, scope)
    yield from stream(token, scope, sql, {"as_of": as_of}, batch_rows)


@cached
def report_preview(token: Warehouse, report: str, as_of: date, scope: Scope, rows: int = 200):
    """The first rows of a report or download (at most MAX_ROWS)."""
    _check(report, scope)
    if report in _LIST_FILTERS:
        sql = _report_sql(report, scope, limited=True, village_range=True)
        params = first_rows_params(token, scope, as_of, rows, where=_LIST_FILTERS[report])
        return frame(token, scope, sql, params)
    sql = f"select * from ({_report_sql(report, scope)}) limit $limit"
    return frame(token, scope, sql, {"as_of": as_of, "limit": min(rows, MAX_ROWS)})


_ROW_COUNTS = {
    "township_summary": "select count(*) from main.township_breaker where as_of = $as_of {township}",
    "village_breaker": "select count(*) from main.village_breaker where as_of = $as_of {scope}",
    "credit_households": (
        "select count(*) from main.household_scores where as_of = $as_of {scope}"
        " and credit_limit > 0"
    ),
    "grade_notice": "select count(*) from main.household_scores where as_of = $as_of {scope}",
    "households": "select count(*) from main.household_scores where as_of = $as_of {scope}",
    "credit_stops": (
        "select count(*) from main.household_scores where as_of = $as_of {scope} and credit_stopped"
    ),
}


@cached
def report_row_count(token: Warehouse, report: str, as_of: date, scope: Scope) -> int:
    """How many rows a report or download has (counted on the mart, without the joins)."""
    sql = _ROW_COUNTS[report].format(scope=scope.where_sql(), township=scope.township_where_sql())
    return frame(token, scope, sql, {"as_of": as_of}).item()
