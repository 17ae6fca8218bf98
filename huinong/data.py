"""Every query the dashboard makes: parameterised SQL over the marts, returning polars.

Rules this module keeps, so that the same app serves 20,000 households or 1,000,000:
- The app reads only marts (never staging or the dbt project): the contract marts, the
  drill-down marts (household_register, loan_book, loan_instalments, loan_payments),
  policy_profile, quarantine and load_report.
- Every query takes the scope (district, township or village) as a parameter and filters on
  ``as_of`` first, then ``township_code`` / ``village_code``: household_scores and loan_status
  are sorted by (as_of, village_code, household / borrower) within each year, the drill-down
  marts by (village_code, borrower), so DuckDB's zone maps skip everything else. The scope's
  filter is one of three fixed SQL fragments; values always travel as parameters.
- Aggregation happens in SQL; a household list never returns more than ``MAX_ROWS`` rows
  (downloads stream the full result from SQL with ``stream_report``).
- Results are cached with ``st.cache_data``; every argument, including the warehouse token
  (path, inode, mtime), is part of the key, so a newly published warehouse (``os.replace``)
  gets a new connection and fresh results without a restart.
- The connection is read-only and locked down: no file or network access, no extensions.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal, NamedTuple

import duckdb
import polars as pl
import streamlit as st

from huinong import REPO_ROOT

MAX_ROWS = 10_000
HISTORY_MONTHS = 36  # a household's or a village's history: the months a loan can run
CACHE_TTL_SECONDS = 3600
STREAM_BATCH_ROWS = 50_000
GRADE_ORDER = ("AAA+", "AAA", "AA", "A", "无信用")

# The engine's settings; external access is switched off and the configuration locked once the
# warehouse is attached (see open_connection).
DUCKDB_CONFIG = {
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "threads": 2,
    "memory_limit": "4GB",
}
WAREHOUSE_CATALOG = "warehouse"


class WarehouseMissing(Exception):
    """The warehouse file does not exist (yet)."""


class Warehouse(NamedTuple):
    """Identity of one published warehouse file: a rebuild replaces the file (new inode)."""

    path: str
    inode: int
    mtime_ns: int


@dataclass(frozen=True)
class Scope:
    """Which part of the district a query covers: the whole district, a township or a village.

    Township codes have 9 digits and village codes 12, the first 9 being the township's
    (DATA_CONTRACT.md, villages), so a village scope knows its township.
    """

    level: Literal["district", "township", "village"] = "district"
    code: str | None = None

    def __post_init__(self) -> None:
        if self.level not in ("district", "township", "village"):
            raise ValueError(f"unknown scope level: {self.level}")
        if (self.level == "district") != (self.code is None):
            raise ValueError("a district scope has no code; a township or village scope needs one")

    @classmethod
    def district(cls) -> Scope:
        return cls("district", None)

    @classmethod
    def township(cls, code: str) -> Scope:
        return cls("township", code)

    @classmethod
    def village(cls, code: str) -> Scope:
        return cls("village", code)

    @property
    def township_code(self) -> str | None:
        if self.level == "village":
            return self.code[:9]
        return self.code if self.level == "township" else None

    @property
    def village_code(self) -> str | None:
        return self.code if self.level == "village" else None

    def parent(self) -> Scope:
        if self.level == "village":
            return Scope.township(self.township_code)
        return Scope.district()

    def params(self) -> dict[str, str]:
        """The SQL parameters of ``where_sql``."""
        values = {}
        if self.township_code is not None:
            values["township"] = self.township_code
        if self.village_code is not None:
            values["village"] = self.village_code
        return values

    def township_where_sql(self, alias: str = "") -> str:
        """The filter for a table with townships only (township_breaker)."""
        prefix = f"{alias}." if alias else ""
        return "" if self.level == "district" else f" and {prefix}township_code = $township"

    def where_sql(self, alias: str = "") -> str:
        """The scope's filter, to follow an ``as_of`` condition: one of three fixed fragments."""
        prefix = f"{alias}." if alias else ""
        if self.level == "district":
            return ""
        if self.level == "township":
            return f" and {prefix}township_code = $township"
        return f" and {prefix}township_code = $township and {prefix}village_code = $village"


# ── connection ──────────────────────────────────────────────────────────────────────────────


def warehouse_path() -> Path:
    """The published warehouse: $HUINONG_DB, or data/warehouse.duckdb in the repository."""
    configured = os.environ.get("HUINONG_DB")
    return Path(configured) if configured else REPO_ROOT / "data" / "warehouse.duckdb"


def current_warehouse() -> Warehouse | None:
    """The token of the warehouse published now, or None when there is none."""
    path = warehouse_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return Warehouse(str(path.resolve()), stat.st_ino, stat.st_mtime_ns)


# No on_release=close: closing a connection closes its cursors, and another session may be in
# the middle of a query on the warehouse a rebuild just replaced. Dropped from the cache, the
# connection closes by itself once its last cursor is gone (and with it the replaced file).
@st.cache_resource(max_entries=2, show_spinner=False)
def _database(token: Warehouse) -> duckdb.DuckDBPyConnection:
    """One read-only connection per published file; queries use a cursor each."""
    if not Path(token.path).exists():
        raise WarehouseMissing(token.path)
    return open_connection(token)


def open_connection(token: Warehouse) -> duckdb.DuckDBPyConnection:
    """A read-only, locked-down connection to the warehouse file of ``token``.

    The file is ATTACHed to an in-memory database rather than opened with
    ``duckdb.connect(path)``: DuckDB keeps one database instance per path in a process, so after
    a rebuild replaced the file (os.replace) a new connect(path) would get the old, still open
    instance and its old data. Once attached: no file or network access (enable_external_access
    off), no extensions, and the configuration is locked.
    """
    connection = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
    try:
        quoted = token.path.replace("'", "''")
        connection.execute(f"attach '{quoted}' as {WAREHOUSE_CATALOG} (read_only)")
        connection.execute(f"use {WAREHOUSE_CATALOG}")
        connection.execute("set enable_external_access = false")
        connection.execute("set lock_configuration = true")
    except Exception:
        connection.close()
        raise
    return connection


def _cursor(token: Warehouse) -> duckdb.DuckDBPyConnection:
    cursor = _database(token).cursor()
    cursor.execute(f"use {WAREHOUSE_CATALOG}")
    return cursor


def _used(sql: str, params: dict | None) -> dict | None:
    """The parameters the statement names: DuckDB refuses extra ones, and a scope brings a
    township and a village that a township-level table does not need."""
    if not params:
        return None
    used = {name: value for name, value in params.items() if re.search(rf"\${name}(?!\w)", sql)}
    return used or None


def _frame(token: Warehouse, sql: str, params: dict | None = None) -> pl.DataFrame:
    cursor = _cursor(token)
    try:
        return cursor.sql(sql, params=_used(sql, params)).pl()
    finally:
        cursor.close()


_UNCACHED: dict[str, Callable] = {}


def _cached(func: Callable) -> Callable:
    """st.cache_data with every argument in the key; the plain function is kept for benchmarks."""
    _UNCACHED[func.__name__] = func
    return st.cache_data(ttl=CACHE_TTL_SECONDS, max_entries=256, show_spinner=False)(func)


# ── the warehouse and its divisions ─────────────────────────────────────────────────────────


@_cached
def build_info(token: Warehouse) -> dict:
    """The build's as-of date, when it was built, the district's code and name, the policy overrides."""
    frame = _frame(
        token,
        """
        select
            build_info.as_of,
            build_info.built_at,
            build_info.policy_overrides,
            district.scope_code as district_code,
            district.scope_name as district_name,
        from main.build_info as build_info
        left join main.kpi_monthly as district
            on district.as_of = build_info.as_of and district.scope_level = 'district'
        """,
    )
    row = frame.row(0, named=True)
    row["policy_overrides"] = json.loads(row["policy_overrides"] or "{}")
    return row


@_cached
def policy(token: Warehouse) -> dict:
    """The policy profile the warehouse was built with (policy_profile): every parameter by name,
    as a number where it is one, and ``grades``: the bands [{grade, min_score, credit_limit}]
    from the highest grade down. The dashboard draws its lines (3%, 2%, 30%, cut-offs) from it.
    """
    frame = _frame(
        token,
        """
        select parameter, parameter_value, grade, min_score, credit_limit, grade_rank,
        from main.policy_profile
        order by grade_rank nulls first, parameter
        """,
    )
    values: dict = {}
    grades = []
    for row in frame.iter_rows(named=True):
        if row["grade"] is not None:
            grades.append(
                {
                    "grade": row["grade"],
                    "min_score": row["min_score"],
                    "credit_limit": row["credit_limit"],
                }
            )
        else:
            name = row["parameter"]
            text = row["parameter_value"]
            # Codes and names stay text: 411202 is a district code, not a number.
            values[name] = text if name.endswith(("_code", "_name")) else _parameter(text)
    values["grades"] = grades
    return values


def _parameter(text: str | None) -> int | float | str | None:
    """A parameter as written by dbt ('3', '1.0', '湖滨区'): a number when it reads as one."""
    if text is None:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


@_cached
def snapshot_dates(token: Warehouse) -> pl.DataFrame:
    """Every snapshot date (as_of, is_month_end), latest first."""
    return _frame(
        token,
        """
        select as_of, is_month_end
        from main.kpi_monthly
        where scope_level = 'district'
        order by as_of desc
        """,
    )


@_cached
def previous_month_end(token: Warehouse, as_of: date) -> date | None:
    """The month-end the KPI cards compare with: the last one before as_of's month."""
    frame = _frame(
        token,
        """
        select max(as_of) as previous
        from main.kpi_monthly
        where scope_level = 'district' and is_month_end and as_of < date_trunc('month', $as_of)
        """,
        {"as_of": as_of},
    )
    return frame.item()


@_cached
def townships(token: Warehouse) -> pl.DataFrame:
    """Townships of the division list (code, name, number of villages)."""
    return _frame(
        token,
        """
        select township_code, township_name, villages_total
        from main.township_breaker
        where as_of = (select max(as_of) from main.township_breaker)
        order by township_code
        """,
    )


@_cached
def villages(token: Warehouse, township_code: str) -> pl.DataFrame:
    """Villages of one township (code, name)."""
    return _frame(
        token,
        """
        select village_code, village_name
        from main.village_breaker
        where as_of = (select max(as_of) from main.village_breaker) and township_code = $township
        order by village_code
        """,
        {"township": township_code},
    )


@_cached
def place_names(token: Warehouse, scope: Scope) -> dict:
    """Names for a scope: district_name, township_name, village_name (None above the level)."""
    names = {
        "district_name": build_info(token)["district_name"],
        "township_name": None,
        "village_name": None,
    }
    if scope.level == "district":
        return names
    frame = _frame(
        token,
        """
        select any_value(township_name) as township_name,
            any_value(village_name) filter (where village_code = $village) as village_name,
        from main.village_breaker
        where as_of = (select max(as_of) from main.village_breaker) and township_code = $township
        """,
        {"township": scope.township_code, "village": scope.village_code or ""},
    )
    names.update(frame.row(0, named=True))
    return names


@_cached
def household_home(token: Warehouse, as_of: date, household_id: str) -> dict | None:
    """The home village and township of a household rated at as_of, or None."""
    frame = _frame(
        token,
        """
        select village_code, township_code
        from main.household_scores
        where as_of = $as_of and household_id = $household
        """,
        {"as_of": as_of, "household": household_id},
    )
    return frame.row(0, named=True) if frame.height else None


# ── KPIs and trends (总览) ──────────────────────────────────────────────────────────────────

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


@_cached
def kpi(token: Warehouse, as_of: date, scope: Scope) -> pl.DataFrame:
    """The leading-group figures of one scope at one snapshot date (one row, KPI_COLUMNS).

    District and township rows are kpi_monthly's; a village's are computed the same way from
    household_scores, village_breaker and loan_status (kpi_monthly stops at townships).
    """
    if scope.level == "village":
        params = {"as_of": as_of, **scope.params(), "title_pct": policy(token)["title_rate_pct"]}
        return _frame(token, _VILLAGE_KPI_SQL, params)
    columns = ", ".join(KPI_COLUMNS)
    return _frame(
        token,
        f"""
        select {columns}
        from main.kpi_monthly
        where as_of = $as_of and scope_level = $level and scope_code = $code
        """,
        {"as_of": as_of, "level": scope.level, "code": scope.code or _district_code(token)},
    )


def _district_code(token: Warehouse) -> str:
    return build_info(token)["district_code"]


@_cached
def kpi_trend(token: Warehouse, until: date, scope: Scope) -> pl.DataFrame:
    """Month by month up to ``until``: outstanding, NPL balance and rate, households by grade.

    Every month for the district and a township (kpi_monthly); the last HISTORY_MONTHS months
    for a village, computed from household_scores (a village's rows lie all over the mart)."""
    if scope.level != "village":
        return _frame(
            token,
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
            {"until": until, "level": scope.level, "code": scope.code or _district_code(token)},
        )
    return _frame(
        token,
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
        {"until": until, "months": HISTORY_MONTHS, **scope.params()},
    )


@_cached
def village_changes(token: Warehouse, as_of: date, scope: Scope) -> pl.DataFrame:
    """Villages whose breaker status changed since the previous month-end: newly 熔断, newly
    预警, or lifted (熔断 before, not now). Columns: change, township, village, rates, statuses."""
    previous = previous_month_end(token, as_of)
    if previous is None:
        return pl.DataFrame()
    return _frame(
        token,
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
        {"as_of": as_of, "previous": previous, **scope.params()},
    )


@_cached
def townships_near_line(token: Warehouse, as_of: date, scope: Scope) -> pl.DataFrame:
    """Townships tripped, or one tripped village away from the 30% line (R-B2)."""
    share = policy(token)["township_breaker_share_pct"]
    return _frame(
        token,
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
        {"as_of": as_of, "share": share, **scope.params()},
    )


# ── grades (信用评级) ────────────────────────────────────────────────────────────────────────


def _child_level(scope: Scope) -> str:
    return "township" if scope.level == "district" else "village"


@_cached
def grade_distribution(token: Warehouse, as_of: date, scope: Scope, by: str) -> pl.DataFrame:
    """Rated households by grade for each township or village of the scope (long format:
    area_code, area_name, grade, households), plus registered-poor coverage columns."""
    if by not in ("township", "village"):
        raise ValueError(by)
    if by == "township":
        return _frame(
            token,
            f"""
            with areas as (
                select
                    scope_code as area_code,
                    scope_name as area_name,
                    households_aaa_plus, households_aaa, households_aa, households_a,
                    households_no_credit,
                from main.kpi_monthly
                where as_of = $as_of and scope_level = 'township'
                    {"and scope_code = $township" if scope.level != "district" else ""}
            )
            unpivot areas on
                households_aaa_plus as 'AAA+',
                households_aaa as 'AAA',
                households_aa as 'AA',
                households_a as 'A',
                households_no_credit as '无信用'
            into name grade value households
            order by area_code
            """,
            {"as_of": as_of, **({"township": scope.township_code} if scope.township_code else {})},
        )
    return _frame(
        token,
        f"""
        with

        areas as (
            select village_code as area_code, village_name as area_name
            from main.village_breaker
            where as_of = $as_of {scope.where_sql()}
        ),

        counts as (
            select village_code as area_code, grade, count(*) as households
            from main.household_scores
            where as_of = $as_of {scope.where_sql()}
            group by all
        ),

        grades as (
            select unnest(['AAA+', 'AAA', 'AA', 'A', '无信用']) as grade
        )

        select areas.area_code, areas.area_name, grades.grade,
            coalesce(counts.households, 0) as households,
        from areas
        cross join grades
        left join counts on areas.area_code = counts.area_code and grades.grade = counts.grade
        order by areas.area_code
        """,
        {"as_of": as_of, **scope.params()},
    )


@_cached
def poor_coverage(token: Warehouse, as_of: date, scope: Scope, by: str) -> pl.DataFrame:
    """Registered-poor households of each township or village: rated, credit (A and above),
    borrowing, and 获贷率 (borrowing / rated)."""
    if by not in ("township", "village"):
        raise ValueError(by)
    if by == "township":
        return _frame(
            token,
            f"""
            select
                scope_code as area_code,
                scope_name as area_name,
                poor_households_rated,
                poor_households_credit,
                poor_borrowing_households,
                poor_loan_access_rate,
            from main.kpi_monthly
            where as_of = $as_of and scope_level = 'township'
                {"and scope_code = $township" if scope.level != "district" else ""}
            order by area_code
            """,
            {"as_of": as_of, **({"township": scope.township_code} if scope.township_code else {})},
        )
    return _frame(
        token,
        f"""
        with

        areas as (
            select village_code as area_code, village_name as area_name
            from main.village_breaker
            where as_of = $as_of {scope.where_sql()}
        ),

        poor as (
            select
                village_code as area_code,
                count(*) as poor_households_rated,
                count(*) filter (where credit_limit > 0) as poor_households_credit,
                count(*) filter (where loans_on_book > 0) as poor_borrowing_households,
            from main.household_scores
            where as_of = $as_of {scope.where_sql()} and registered_poor
            group by all
        )

        select
            areas.area_code,
            areas.area_name,
            coalesce(poor.poor_households_rated, 0) as poor_households_rated,
            coalesce(poor.poor_households_credit, 0) as poor_households_credit,
            coalesce(poor.poor_borrowing_households, 0) as poor_borrowing_households,
            case when poor.poor_households_rated > 0 then
                cast(poor.poor_borrowing_households / poor.poor_households_rated
                    as decimal(18, 10))
            end as poor_loan_access_rate,
        from areas
        left join poor on areas.area_code = poor.area_code
        order by areas.area_code
        """,
        {"as_of": as_of, **scope.params()},
    )


@_cached
def score_distribution(token: Warehouse, as_of: date, scope: Scope) -> pl.DataFrame:
    """Households by score (score, vetoed, households); a vetoed household's score is 0."""
    return _frame(
        token,
        f"""
        select score, len(vetoes) > 0 as vetoed, count(*) as households
        from main.household_scores
        where as_of = $as_of {scope.where_sql()}
        group by all
        order by score, vetoed
        """,
        {"as_of": as_of, **scope.params()},
    )


@_cached
def item_contributions(token: Warehouse, as_of: date, scope: Scope) -> pl.DataFrame:
    """Each rule item's average points over the scope's rated households and how many it
    touches (item, average_points, households_affected, households)."""
    from huinong.format import ITEMS

    # Sums, not avg() and filtered counts: the same numbers, three times faster on 1M rows.
    aggregates = ",\n".join(
        f"sum({item}) as sum_{item}, sum(({item} <> 0)::integer) as n_{item}" for item in ITEMS
    )
    frame = _frame(
        token,
        f"""
        select count(*) as households, {aggregates}
        from main.household_scores
        where as_of = $as_of {scope.where_sql()}
        """,
        {"as_of": as_of, **scope.params()},
    )
    row = frame.row(0, named=True)
    rated = int(row["households"])
    return pl.DataFrame(
        {
            "item": list(ITEMS),
            "average_points": [
                float(row[f"sum_{item}"] or 0) / rated if rated else 0.0 for item in ITEMS
            ],
            "households_affected": [int(row[f"n_{item}"] or 0) for item in ITEMS],
            "households": [int(row["households"])] * len(ITEMS),
        }
    )


@_cached
def grade_migration(
    token: Warehouse, from_as_of: date, to_as_of: date, scope: Scope
) -> pl.DataFrame:
    """How many households moved from each grade at from_as_of to each grade at to_as_of
    (from_grade, to_grade, households); 未评级 for a household not rated on one of the dates."""
    return _frame(
        token,
        f"""
        with

        before as (
            select household_id, grade
            from main.household_scores
            where as_of = $from_as_of {scope.where_sql()}
        ),

        after as (
            select household_id, grade
            from main.household_scores
            where as_of = $to_as_of {scope.where_sql()}
        )

        select
            coalesce(before.grade, '未评级') as from_grade,
            coalesce(after.grade, '未评级') as to_grade,
            count(*) as households,
        from before
        full outer join after on before.household_id = after.household_id
        group by all
        """,
        {"from_as_of": from_as_of, "to_as_of": to_as_of, **scope.params()},
    )


# ── breaker (熔断监测) ───────────────────────────────────────────────────────────────────────


@_cached
def village_breaker(token: Warehouse, as_of: date, scope: Scope) -> pl.DataFrame:
    """Every village of the scope with its NPL rate and status (熔断/预警/正常/无贷款)."""
    return _frame(
        token,
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
        {"as_of": as_of, **scope.params()},
    )


@_cached
def township_breaker(token: Warehouse, as_of: date, scope: Scope) -> pl.DataFrame:
    """Every township of the scope: villages tripped and their share against the 30% line."""
    return _frame(
        token,
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
        {"as_of": as_of, **scope.params()},
    )


@_cached
def breaker_history(token: Warehouse, until: date, scope: Scope, months: int = 36) -> pl.DataFrame:
    """The village × month-end status strip for the last ``months`` month-ends up to ``until``.

    For the whole district only villages that were 熔断 or 预警 at some month-end of the window
    are listed (the others are green all along); at most 300 villages.
    """
    only_flagged = scope.level == "district"
    return _frame(
        token,
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
        {"until": until, "months": months, **scope.params()},
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


def _stop_reason_sql(scope: Scope) -> str:
    # R-B3: the reading of the latest month-end on or before as_of decides the stop.
    return f"""
        breaker_month as (
            select max(as_of) as month_end
            from main.kpi_monthly
            where scope_level = 'district' and is_month_end and as_of <= $as_of
        ),

        village_stops as (
            select village_code, tripped
            from main.village_breaker
            where as_of = (select month_end from breaker_month) {scope.where_sql()}
        ),

        township_stops as (
            select township_code, tripped
            from main.township_breaker
            where as_of = (select month_end from breaker_month) {scope.township_where_sql()}
        ),
    """


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
    scores.vetoes,
    scores.credit_stopped,
"""
# The household_scores columns a list needs: a narrow scan is what keeps 1M rows fast.
_LIST_SCORE_COLUMNS = (
    "household_id, village_code, township_code, collected_on, registered_poor, grade, score, "
    "credit_limit, available_credit, outstanding_principal, loans_on_book, vetoes, credit_stopped"
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


def _households_sql(
    scope: Scope,
    where: str = "",
    order: str = "household",
    limited: bool = False,
) -> str:
    """Households of the scope with names. ``limited``: only the first $limit rows in this
    order, picked before the joins (a page shows at most MAX_ROWS; a download streams all).

    max_dpd is the largest DPD of the household's loans on the book (loan_status), looked up
    for the picked households only, unless the list is ordered by it.
    """
    first_rows = f"order by {_ORDERINGS[order]} limit $limit" if limited else ""
    late_dpd = order != "dpd_desc"
    if late_dpd:
        picked = f"""
            select {_LIST_SCORE_COLUMNS} from main.household_scores
            where as_of = $as_of {scope.where_sql()} {where}
        """
    else:
        picked = f"""
            select {_LIST_SCORE_COLUMNS}, coalesce(dpd.max_dpd, 0) as max_dpd,
            from main.household_scores
            left join (
                select borrower_id, max(dpd) as max_dpd
                from main.loan_status
                where as_of = $as_of {scope.where_sql()} and borrower_type = '农户'
                group by borrower_id
            ) as dpd on household_id = dpd.borrower_id
            where as_of = $as_of {scope.where_sql()} {where}
        """
    dpd_cte = f"""
        dpd as (
            select borrower_id, max(dpd) as max_dpd
            from main.loan_status
            where as_of = $as_of {scope.where_sql()} and borrower_type = '农户'
                and borrower_id in (select household_id from scores)
            group by borrower_id
        ),
    """
    columns = _HOUSEHOLD_COLUMNS.format(
        max_dpd="coalesce(dpd.max_dpd, 0) as max_dpd" if late_dpd else "scores.max_dpd"
    )
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
            where as_of = $as_of {scope.where_sql()}
        ),

        register as (
            select household_id, collected_on, head_name, head_id_number
            from main.household_register
            where household_id in (select household_id from scores) {scope.where_sql()}
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


@_cached
def household_count(token: Warehouse, as_of: date, scope: Scope) -> int:
    """Rated households of the scope at as_of."""
    return _frame(
        token,
        f"select count(*) from main.household_scores where as_of = $as_of {scope.where_sql()}",
        {"as_of": as_of, **scope.params()},
    ).item()


@_cached
def households(
    token: Warehouse, as_of: date, scope: Scope, order: str = "household", limit: int = MAX_ROWS
) -> pl.DataFrame:
    """The rated households of the scope (grade, score, limit, available credit, outstanding,
    DPD, vetoes), at most ``limit`` (≤ MAX_ROWS) rows in the given order."""
    if order not in _ORDERINGS:
        raise ValueError(order)
    sql = _households_sql(scope, order=order, limited=True)
    return _frame(token, sql, {"as_of": as_of, "limit": min(limit, MAX_ROWS), **scope.params()})


@_cached
def credit_stops(
    token: Warehouse, as_of: date, scope: Scope, limit: int = MAX_ROWS
) -> pl.DataFrame:
    """Households under a credit stop (R-C2 / R-B3) with the reason, at most ``limit`` rows."""
    sql = _credit_stops_sql(scope, limited=True)
    return _frame(token, sql, {"as_of": as_of, "limit": min(limit, MAX_ROWS), **scope.params()})


def _credit_stops_sql(scope: Scope, limited: bool = False) -> str:
    return f"""
        with
        {_stop_reason_sql(scope)}
        stopped as (
            select *
            from ({_households_sql(scope, where="and credit_stopped", limited=limited)})
        )

        select
            stopped.*,
            case
                when village_stops.tripped and township_stops.tripped then '本村及所在乡镇熔断'
                when village_stops.tripped then '本村熔断'
                when township_stops.tripped then '所在乡镇熔断'
            end as stop_reason,
        from stopped
        left join village_stops on stopped.village_code = village_stops.village_code
        left join township_stops on stopped.township_code = township_stops.township_code
        order by stopped.village_code, stopped.household_id
    """


@_cached
def credit_stop_count(token: Warehouse, as_of: date, scope: Scope) -> int:
    """Households under a credit stop at as_of."""
    return _frame(
        token,
        f"""
        select count(*) from main.household_scores
        where as_of = $as_of {scope.where_sql()} and credit_stopped
        """,
        {"as_of": as_of, **scope.params()},
    ).item()


# ── drill-down (村级钻取) ─────────────────────────────────────────────────────────────────────


@_cached
def area_table(token: Warehouse, as_of: date, scope: Scope) -> pl.DataFrame:
    """The areas one level below the scope, with their headline figures: townships of the
    district (from kpi_monthly and township_breaker) or villages of a township."""
    if scope.level == "district":
        return _frame(
            token,
            """
            select
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
                case when breaker.tripped then '熔断' else '正常' end as status,
            from main.kpi_monthly as kpi
            inner join main.township_breaker as breaker
                on breaker.as_of = kpi.as_of and breaker.township_code = kpi.scope_code
            where kpi.as_of = $as_of and kpi.scope_level = 'township'
            order by area_code
            """,
            {"as_of": as_of},
        )
    return _frame(
        token,
        f"""
        with

        credit as (
            select
                village_code,
                count(*) as households_rated,
                count(*) filter (where credit_limit > 0) as households_credit,
                sum(credit_limit) as credit_granted,
            from main.household_scores
            where as_of = $as_of {scope.where_sql()}
            group by village_code
        )

        select
            breaker.village_code as area_code,
            breaker.village_name as area_name,
            coalesce(credit.households_rated, 0) as households_rated,
            coalesce(credit.households_credit, 0) as households_credit,
            cast(coalesce(credit.credit_granted, 0) as decimal(18, 2)) as credit_granted,
            breaker.borrowing_households,
            breaker.outstanding_balance,
            breaker.npl_balance,
            breaker.npl_rate,
            1 as villages_total,
            case when breaker.tripped then 1 else 0 end as villages_tripped,
            breaker.status,
        from main.village_breaker as breaker
        left join credit on breaker.village_code = credit.village_code
        where breaker.as_of = $as_of {scope.where_sql("breaker")}
        order by area_code
        """,
        {"as_of": as_of, **scope.params()},
    )


@_cached
def household(token: Warehouse, as_of: date, scope: Scope, household_id: str) -> pl.DataFrame:
    """One household's household_scores row at as_of with its name and ID number (0 or 1 row);
    max_dpd is the largest DPD of its loans on the book that day."""
    return _frame(
        token,
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

        select scores.*, register.head_name, register.head_id_number,
        from scores
        left join register
            on scores.household_id = register.household_id
            and scores.collected_on = register.collected_on
        """,
        {"as_of": as_of, "household": household_id, **scope.params()},
    )


@_cached
def household_history(
    token: Warehouse, until: date, scope: Scope, household_id: str, months: int = HISTORY_MONTHS
) -> pl.DataFrame:
    """One household's score and grade at every snapshot of the ``months`` months up to
    ``until`` (a household's rows are spread over the whole mart: the window bounds the scan)."""
    return _frame(
        token,
        f"""
        select
            as_of, is_month_end, score, raw_score, grade, credit_limit, available_credit,
            outstanding_principal, max_dpd, vetoes, credit_stopped,
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
        {"until": until, "months": months, "household": household_id, **scope.params()},
    )


def _village_sql(scope: Scope) -> str:
    """The scope's filter for a mart with village codes but no township code (loan_instalments,
    loan_payments): a township's villages are the codes starting with its 9 digits."""
    if scope.level == "village":
        return " and village_code = $village"
    if scope.level == "township":
        return " and starts_with(village_code, $township)"
    return ""


@_cached
def household_loans(token: Warehouse, as_of: date, scope: Scope, household_id: str) -> pl.DataFrame:
    """Every loan of the household disbursed up to as_of (loan_book), on the book or not: terms,
    state at as_of (在贷/已结清/已核销), instalments missed by as_of, the first NPL date and the
    write-off as known at as_of, the worst DPD while on the book, and (on the book at as_of)
    outstanding, DPD and five-tier (loan_status)."""
    return _frame(
        token,
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
            where borrower_id = $household {_village_sql(scope)}
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
        {"as_of": as_of, "household": household_id, **scope.params()},
    )


@_cached
def loan_history(token: Warehouse, until: date, scope: Scope, loan_id: str) -> pl.DataFrame:
    """One loan at every snapshot on the book up to ``until``: outstanding, DPD, five-tier."""
    return _frame(
        token,
        f"""
        select as_of, is_month_end, outstanding_principal, dpd, five_tier, is_overdue, is_npl,
            oldest_unpaid_due_on,
        from main.loan_status
        where as_of <= $until {scope.where_sql()} and loan_id = $loan
        order by as_of
        """,
        {"until": until, "loan": loan_id, **scope.params()},
    )


@_cached
def loan_instalments(token: Warehouse, until: date, scope: Scope, loan_id: str) -> pl.DataFrame:
    """A loan's repayment plan (loan_instalments) as known at ``until``: each instalment, its
    cumulative amount due, the day it was covered (when on or before ``until``) and whether it
    was missed (not covered by the end of its due date, for those due before ``until``)."""
    return _frame(
        token,
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
        where loan_id = $loan {_village_sql(scope)}
        order by due_on, installment_no
        """,
        {"until": until, "loan": loan_id, **scope.params()},
    )


@_cached
def loan_repayments(token: Warehouse, until: date, scope: Scope, loan_id: str) -> pl.DataFrame:
    """A loan of the scope: its repayment plan against its payments up to ``until``, as two
    cumulative step series (on_day, kind 计划应还/实际还款, amount, cumulative), from
    loan_instalments and loan_payments."""
    return _frame(
        token,
        f"""
        with

        due as (
            select due_on as on_day, '计划应还' as kind, amount_due as amount
            from main.loan_instalments
            where loan_id = $loan {_village_sql(scope)}
        ),

        paid as (
            select paid_on as on_day, '实际还款' as kind, total_paid as amount
            from main.loan_payments
            where loan_id = $loan and paid_on <= $until {_village_sql(scope)}
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
        {"until": until, "loan": loan_id, **scope.params()},
    )


# ── intake (数据管理): what the current warehouse read, loaded and quarantined ───────────────


@_cached
def load_report(token: Warehouse) -> pl.DataFrame:
    """Per raw file read by the build: rows read, loaded, quarantined, superseded by a later
    delivery (load_report), in delivery order."""
    return _frame(
        token,
        """
        select delivery_id, source_file, file_name, rows_read, rows_loaded, rows_quarantined,
            rows_superseded,
        from main.load_report
        order by delivery_id nulls first, source_file
        """,
    )


_QUARANTINE_SQL = """
    select source_file, file_name, delivery_id, row_number, record_key,
        cast(original as varchar) as original, reasons,
    from main.quarantine
    where $source_file = '' or source_file = $source_file
    order by source_file, delivery_id, row_number
"""


@_cached
def quarantine_count(token: Warehouse, source_file: str = "") -> int:
    """Rows in the quarantine, of one source file ('households' …) or of all ('')."""
    return _frame(
        token,
        "select count(*) from main.quarantine where $source_file = '' or source_file = $source_file",
        {"source_file": source_file},
    ).item()


@_cached
def quarantine(token: Warehouse, source_file: str = "", limit: int = MAX_ROWS) -> pl.DataFrame:
    """Quarantined rows (file, delivery, row number, key, the row as read, reasons) of one source
    file or of all (''), at most ``limit`` (≤ MAX_ROWS)."""
    return _frame(
        token,
        f"{_QUARANTINE_SQL} limit $limit",
        {"source_file": source_file, "limit": min(limit, MAX_ROWS)},
    )


def stream_quarantine(
    token: Warehouse, source_file: str = "", batch_rows: int = STREAM_BATCH_ROWS
) -> Iterator[pl.DataFrame]:
    """Every quarantined row of one source file or of all (''), in batches (not cached)."""
    cursor = _cursor(token)
    try:
        reader = cursor.sql(_QUARANTINE_SQL, params={"source_file": source_file}).to_arrow_reader(
            batch_rows
        )
        for batch in reader:
            if batch.num_rows:
                yield pl.from_arrow(batch)
    finally:
        cursor.close()


@_cached
def quarantine_reasons(token: Warehouse) -> pl.DataFrame:
    """Quarantined rows counted by source file and reason (the words before any "：detail")."""
    return _frame(
        token,
        """
        select source_file, split_part(reason, '：', 1) as reason, count(*) as rows,
        from (select source_file, unnest(reasons) as reason from main.quarantine)
        group by all
        order by rows desc, source_file, reason
        """,
    )


# ── exports (报表导出) and full downloads ───────────────────────────────────────────────────

REPORTS = ("township_summary", "village_breaker", "credit_households", "grade_notice")
DOWNLOADS = (*REPORTS, "households", "credit_stops")


def _report_sql(report: str, scope: Scope, limited: bool = False) -> str:
    """The SQL of a report or full list; ``limited``: the first $limit households only."""
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
                case when breaker.tripped then '熔断' else '正常' end as status,
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
            from ({_households_sql_with_id(scope, "and credit_limit > 0", limited)})
        """
    if report == "grade_notice":
        return f"""
            select village_name, household_id, head_name, head_id_number, score, grade,
                credit_limit,
            from ({_households_sql_with_id(scope, "", limited)})
        """
    if report == "households":
        return _households_sql(scope, limited=limited)
    if report == "credit_stops":
        return _credit_stops_sql(scope, limited=limited)
    raise ValueError(report)


def _households_sql_with_id(scope: Scope, where: str = "", limited: bool = False) -> str:
    return _households_sql(scope, where=where, limited=limited).replace(
        "register.head_name,", "register.head_name, register.head_id_number,", 1
    )


def _report_params(report: str, as_of: date, scope: Scope) -> dict:
    if report == "township_summary":
        return {
            "as_of": as_of,
            **({"township": scope.township_code} if scope.township_code else {}),
        }
    return {"as_of": as_of, **scope.params()}


def stream_report(
    token: Warehouse, report: str, as_of: date, scope: Scope, batch_rows: int = STREAM_BATCH_ROWS
) -> Iterator[pl.DataFrame]:
    """The full rows of a report or download, streamed from SQL in batches (not cached)."""
    sql = _report_sql(report, scope)
    cursor = _cursor(token)
    try:
        params = _used(sql, _report_params(report, as_of, scope))
        reader = cursor.sql(sql, params=params).to_arrow_reader(batch_rows)
        for batch in reader:
            if batch.num_rows:
                yield pl.from_arrow(batch)
    finally:
        cursor.close()


@_cached
def report_preview(token: Warehouse, report: str, as_of: date, scope: Scope, rows: int = 200):
    """The first rows of a report or download (at most MAX_ROWS)."""
    sql = _report_sql(report, scope, limited=True)
    if "$limit" not in sql:
        sql = f"select * from ({sql}) limit $limit"
    params = {**_report_params(report, as_of, scope), "limit": min(rows, MAX_ROWS)}
    return _frame(token, sql, params)


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


@_cached
def report_row_count(token: Warehouse, report: str, as_of: date, scope: Scope) -> int:
    """How many rows a report or download has (counted on the mart, without the joins)."""
    sql = _ROW_COUNTS[report].format(scope=scope.where_sql(), township=scope.township_where_sql())
    return _frame(token, sql, {"as_of": as_of, **scope.params()}).item()


# ── benchmark ───────────────────────────────────────────────────────────────────────────────


def bench_calls(token: Warehouse) -> list[tuple[str, Callable[[], object]]]:
    """Every query with realistic arguments, uncached, for ``python -m huinong bench`` to time:
    the latest as_of, the township and village with the most rated households, a household of
    that village with a loan, and one of its loans."""
    latest = snapshot_dates(token)["as_of"][0]
    month_ends = snapshot_dates(token).filter(pl.col("is_month_end"))["as_of"]
    year_before = month_ends[min(12, month_ends.len() - 1)]
    probe = _frame(
        token,
        """
        select scores.township_code, scores.village_code, scores.household_id,
            loans.loan_id,
        from main.household_scores as scores
        left join main.loan_status as loans
            on loans.as_of = scores.as_of and loans.borrower_id = scores.household_id
        where scores.as_of = $as_of
        order by count(*) over (partition by scores.village_code) desc,
            loans.loan_id is null, scores.household_id
        limit 1
        """,
        {"as_of": latest},
    ).row(0, named=True)
    district = Scope.district()
    township = Scope.township(probe["township_code"])
    village = Scope.village(probe["village_code"])
    household_id = probe["household_id"]
    loan_id = probe["loan_id"] or ""
    raw = _UNCACHED
    calls: list[tuple[str, Callable[[], object]]] = [
        ("build_info", lambda: raw["build_info"](token)),
        ("policy", lambda: raw["policy"](token)),
        ("snapshot_dates", lambda: raw["snapshot_dates"](token)),
        ("previous_month_end", lambda: raw["previous_month_end"](token, latest)),
        ("townships", lambda: raw["townships"](token)),
        ("villages", lambda: raw["villages"](token, township.code)),
        ("place_names", lambda: raw["place_names"](token, village)),
        ("household_home", lambda: raw["household_home"](token, latest, household_id)),
    ]
    for name, scope in (("district", district), ("township", township), ("village", village)):
        calls += [
            (f"kpi[{name}]", lambda scope=scope: raw["kpi"](token, latest, scope)),
            (f"kpi_trend[{name}]", lambda scope=scope: raw["kpi_trend"](token, latest, scope)),
            (f"village_changes[{name}]", lambda s=scope: raw["village_changes"](token, latest, s)),
            (
                f"townships_near_line[{name}]",
                lambda s=scope: raw["townships_near_line"](token, latest, s),
            ),
            (
                f"grade_distribution[{name}]",
                lambda s=scope: raw["grade_distribution"](token, latest, s, "village"),
            ),
            (
                f"poor_coverage[{name}]",
                lambda s=scope: raw["poor_coverage"](token, latest, s, "village"),
            ),
            (
                f"score_distribution[{name}]",
                lambda s=scope: raw["score_distribution"](token, latest, s),
            ),
            (
                f"item_contributions[{name}]",
                lambda s=scope: raw["item_contributions"](token, latest, s),
            ),
            (
                f"grade_migration[{name}]",
                lambda s=scope: raw["grade_migration"](token, year_before, latest, s),
            ),
            (f"village_breaker[{name}]", lambda s=scope: raw["village_breaker"](token, latest, s)),
            (
                f"township_breaker[{name}]",
                lambda s=scope: raw["township_breaker"](token, latest, s),
            ),
            (f"breaker_history[{name}]", lambda s=scope: raw["breaker_history"](token, latest, s)),
            (f"household_count[{name}]", lambda s=scope: raw["household_count"](token, latest, s)),
            # The UI lists households of one village; a 10,000-row list of a whole district or
            # township is what the download streams, so it is timed below as stream_report.
            *(
                [(f"households[{name}]", lambda s=scope: raw["households"](token, latest, s))]
                if name == "village"
                else []
            ),
            (f"credit_stops[{name}]", lambda s=scope: raw["credit_stops"](token, latest, s)),
            (
                f"credit_stop_count[{name}]",
                lambda s=scope: raw["credit_stop_count"](token, latest, s),
            ),
            (f"area_table[{name}]", lambda s=scope: raw["area_table"](token, latest, s)),
        ]
        for report in DOWNLOADS:
            calls.append(
                (
                    f"report_preview[{report},{name}]",
                    lambda r=report, s=scope: raw["report_preview"](token, r, latest, s),
                )
            )
            calls.append(
                (
                    f"report_row_count[{report},{name}]",
                    lambda r=report, s=scope: raw["report_row_count"](token, r, latest, s),
                )
            )
    calls += [
        (
            "grade_distribution[district,township]",
            lambda: raw["grade_distribution"](token, latest, district, "township"),
        ),
        (
            "poor_coverage[district,township]",
            lambda: raw["poor_coverage"](token, latest, district, "township"),
        ),
        ("household", lambda: raw["household"](token, latest, village, household_id)),
        (
            "household_history",
            lambda: raw["household_history"](token, latest, village, household_id),
        ),
        ("household_loans", lambda: raw["household_loans"](token, latest, village, household_id)),
        ("load_report", lambda: raw["load_report"](token)),
        ("quarantine_count", lambda: raw["quarantine_count"](token, "")),
        ("quarantine", lambda: raw["quarantine"](token, "")),
        ("quarantine_reasons", lambda: raw["quarantine_reasons"](token)),
        ("loan_history", lambda: raw["loan_history"](token, latest, village, loan_id)),
        (
            "loan_instalments",
            lambda: raw["loan_instalments"](token, latest, village, loan_id),
        ),
        ("loan_repayments", lambda: raw["loan_repayments"](token, latest, village, loan_id)),
        (
            "stream_report[credit_households,township]",
            lambda: sum(
                b.height for b in stream_report(token, "credit_households", latest, township)
            ),
        ),
    ]
    return calls


BENCH_CALLS = bench_calls
