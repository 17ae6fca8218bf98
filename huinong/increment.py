"""Monthly incremental builds: may this build reuse the published warehouse?

A monthly delivery normally only adds what happened since the last build: new collections, new
loans with their plans, new payments, write-offs. Then every snapshot up to the last month-end the
published warehouse had is unchanged, and the build only needs to recompute the loans and
households the delivery touched and the snapshot dates after that month-end — plus, when a
household moved village, every date of the townships it moved between (macros/incremental.sql).
Anything else — a correction of the past, a new division list, another policy profile — needs a
full build, and the plan says why in words.

What changed is found by key, by the intake: it patches the published raw tables where the
deliveries added to the store since reach, and says which rows it added and removed
(huinong.intake.patch). When it had to read everything instead — a plain folder, a withdrawal,
other parsing rules — the build is a full one, for the intake's reason.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb

from huinong import REPO_ROOT
from huinong.mart_columns import missing_mart_columns
from huinong.schema import LOANS

PUBLISHED = "published"
# R-B1's one home (models/intermediate/int_households_homed.sql), a view over the raw tables.
HOMES = "intermediate.int_households_homed"


@dataclass
class IncrementPlan:
    possible: bool
    reason: str = ""
    incremental_from: date | None = None
    touched_loans: int = 0
    touched_households: int = 0
    moved_households: int = 0
    touched_townships: int = 0
    changes: dict[str, int] = field(default_factory=dict)


def last_month_end(day: date) -> date:
    """The latest month-end on or before ``day``."""
    following = day + timedelta(days=1)
    if following.day == 1:
        return day
    return day.replace(day=1) - timedelta(days=1)


def models_digest() -> str:
    """A digest of the dbt project (models, macros, generic tests, dbt_project.yml). A monthly build
    appends to the published warehouse's tables, so only to tables the same models wrote."""
    digest = hashlib.sha256()
    paths = [REPO_ROOT / "dbt_project.yml"]
    for folder in ("models", "macros", "tests/dbt"):
        paths += sorted((REPO_ROOT / folder).rglob("*.sql")) + sorted(
            (REPO_ROOT / folder).rglob("*.yml")
        )
    for path in paths:
        digest.update(str(path.relative_to(REPO_ROOT)).encode("utf-8"))
        digest.update(path.read_bytes())
    return digest.hexdigest()


def previous_build(con: duckdb.DuckDBPyConnection) -> dict | None:
    """build_info of the published warehouse attached as ``published``, or None."""
    try:
        row = con.execute(
            f"select as_of, data_start, policy_overrides, models_digest"
            f" from {PUBLISHED}.main.build_info"
        ).fetchone()
    except duckdb.Error:
        return None
    if row is None:
        return None
    return {
        "as_of": row[0],
        "data_start": row[1],
        "policy": json.loads(row[2] or "{}"),
        "models_digest": row[3],
    }


def _homes_are_a_view(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the copied warehouse holds R-B1's homes as a view over its raw tables (a warehouse
    built before that held them as a table: its homes would be the old ones)."""
    schema, name = HOMES.split(".")
    return (
        _count(
            con,
            "select count(*) from information_schema.tables where table_catalog = current_database()"
            " and table_schema = $schema and table_name = $name and table_type = 'VIEW'",
            {"schema": schema, "name": name},
        )
        == 1
    )


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> int:
    return con.execute(sql, params or {}).fetchone()[0]


def plan_increment(
    con: duckdb.DuckDBPyConnection,
    policy: dict,
    data_start: date,
    as_of: date,
    changes: dict[str, tuple[str, str]],
    unchanged_reason: str = "",
) -> IncrementPlan:
    """Whether the rows the intake changed in the published raw tables (``changes``:
    IntakeSummary.changes, the temporary tables of the rows added to and removed from each raw
    file) only add what happened after the published last month-end; if so, write
    raw.touched_loans and raw.touched_households and return the date to rebuild from. The
    published warehouse is attached as ``published``. Without ``changes`` the intake read
    everything, for ``unchanged_reason``.
    """
    previous = previous_build(con)
    if previous is None:
        return IncrementPlan(False, "已发布的数据仓库没有构建信息")
    if previous["models_digest"] != models_digest():
        return IncrementPlan(False, "已发布的数据仓库由其他版本的模型构建")
    if previous["policy"] != json.loads(json.dumps(policy, ensure_ascii=False, default=str)):
        return IncrementPlan(False, "政策参数与上次构建不同")
    if previous["data_start"] != data_start:
        return IncrementPlan(False, "数据的最早日期与上次构建不同")
    if as_of < previous["as_of"]:
        return IncrementPlan(False, "统计截止日早于上次构建")
    if not _homes_are_a_view(con):
        return IncrementPlan(False, "已发布的数据仓库由旧版本程序构建")
    missing = missing_mart_columns(con)
    if missing:
        return IncrementPlan(
            False, f"已发布的数据仓库由旧版本程序构建，缺少新版本的列（{'、'.join(missing[:3])}）"
        )
    if not changes:
        return IncrementPlan(False, unchanged_reason or "原始数据已全部重新读取")
    cutoff = last_month_end(previous["as_of"]) + timedelta(days=1)
    params = {"cutoff": cutoff}
    p = PUBLISHED
    for table, (added, removed) in changes.items():
        con.execute(f"create or replace temp view added_{table} as select * from {added}")
        con.execute(f"create or replace temp view removed_{table} as select * from {removed}")
    changes = {
        "households": _count(con, "select count(*) from added_households"),
        "loans": _count(con, "select count(*) from added_loans"),
        "schedule": _count(con, "select count(*) from added_schedule"),
        "repayments": _count(con, "select count(*) from added_repayments"),
    }
    for table in changes:
        # Every other row stayed as published: the counts must add up.
        new_rows = _count(con, f"select count(*) from raw.{table}")
        old_rows = _count(con, f"select count(*) from {p}.raw.{table}")
        added = _count(con, f"select count(*) from added_{table}")
        removed = _count(con, f"select count(*) from removed_{table}")
        if new_rows - old_rows != added - removed:
            return IncrementPlan(False, "无法确定本次报送改变了哪些数据", changes=changes)
    day = cutoff.isoformat()
    same_terms = " and ".join(
        f"new_loans.{name} is not distinct from old_loans.{name}"
        for name in LOANS.column_names
        if name != "written_off_on"
    )
    refusals = [
        ("select count(*) from added_villages", "行政区划有变化"),
        ("select count(*) from removed_villages", "行政区划有变化"),
        ("select count(*) from removed_entities", "带贫经营主体信息有修改"),
        ("select count(*) from removed_households", "有农户采集记录被修改或不再有效"),
        (
            "select count(*) from added_households where collected_on < $cutoff",
            f"补报或修改了 {day} 之前的农户采集",
        ),
        (
            # The only change allowed to a loan already published is its write-off in the new month.
            f"""
            select count(*) from removed_loans as old_loans
            where not exists (
                select 1 from raw.loans as new_loans
                where new_loans.loan_id = old_loans.loan_id
                and old_loans.written_off_on is null
                and new_loans.written_off_on >= $cutoff
                and {same_terms}
            )
            """,
            "贷款台账有修改",
        ),
        (
            f"""
            select count(*) from added_loans
            where disbursed_on < $cutoff
            and loan_id not in (select loan_id from {p}.raw.loans)
            """,
            f"补报了 {day} 之前发放的贷款",
        ),
        ("select count(*) from removed_schedule", "还款计划有修改"),
        (
            f"""
            select count(*) from added_schedule
            where loan_id in (select loan_id from {p}.raw.loans)
            """,
            "已发放贷款的还款计划有修改",
        ),
        ("select count(*) from removed_repayments", "还款流水有修改或不再有效"),
        (
            "select count(*) from added_repayments where paid_on < $cutoff",
            f"补报了 {day} 之前的还款",
        ),
    ]
    for sql, reason in refusals:
        uses_cutoff = "$cutoff" in sql
        if _count(con, sql, params if uses_cutoff else None) > 0:
            return IncrementPlan(False, reason, changes=changes)

    # A household whose home village (R-B1) is now another moves its whole history: its loans, and
    # every date of the old and the new village's townships, are rebuilt. R-B1 has one home, the
    # view intermediate.int_households_homed: in this copy of the published warehouse it reads the
    # raw tables just loaded, in the published warehouse the raw tables it was built from.
    con.execute(
        f"""
        create or replace temp table moves as
        select now.household_id, before.village_code as from_village, now.village_code as to_village
        from {HOMES} as now
        inner join {p}.{HOMES} as before on now.household_id = before.household_id
        where now.household_id in (select household_id from added_households)
            and now.village_code <> before.village_code
        """
    )
    con.execute("create or replace table raw.moved_households as select household_id from moves")
    con.execute(
        """
        create or replace table raw.touched_villages as
        select distinct village_code from (
            select from_village as village_code from moves
            union all select to_village from moves
        )
        """
    )
    con.execute(
        """
        create or replace table raw.touched_townships as
        select distinct villages.township_code
        from raw.touched_villages as touched
        inner join raw.villages as villages on touched.village_code = villages.village_code
        """
    )
    con.execute(
        f"""
        create or replace table raw.previous_credit_stops as
        select stops.village_code, stops.as_of, stops.credit_stopped, stops.stop_reason
        from {p}.intermediate.int_credit_stops as stops
        where stops.township_code in (select township_code from raw.touched_townships)
        """
    )
    con.execute(
        """
        create or replace table raw.touched_loans as
        select distinct loan_id from (
            select loan_id from added_loans
            union all select loan_id from added_schedule
            union all select loan_id from added_repayments
            union all
            select loans.loan_id from raw.loans as loans
            inner join moves on loans.borrower_id = moves.household_id
            where loans.borrower_type = '农户'
        )
        """
    )
    # Only a new collection changes what household_directory holds of a household (its latest
    # collection's head and village, its first and last collection dates).
    con.execute(
        "create or replace table raw.collected_households as "
        "select distinct household_id from added_households"
    )
    con.execute(
        """
        create or replace table raw.touched_households as
        select distinct household_id from (
            select household_id from added_households
            union all
            select loans.borrower_id as household_id
            from raw.loans as loans
            inner join raw.touched_loans as touched on loans.loan_id = touched.loan_id
            where loans.borrower_type = '农户'
        )
        """
    )
    return IncrementPlan(
        True,
        incremental_from=cutoff,
        touched_loans=_count(con, "select count(*) from raw.touched_loans"),
        touched_households=_count(con, "select count(*) from raw.touched_households"),
        moved_households=_count(con, "select count(*) from moves"),
        touched_townships=_count(con, "select count(*) from raw.touched_townships"),
        changes=changes,
    )


def create_empty_touched(con: duckdb.DuckDBPyConnection) -> None:
    """A full build touches nothing in particular; the tables exist so every model compiles."""
    con.execute("create or replace table raw.touched_loans (loan_id varchar)")
    con.execute("create or replace table raw.touched_households (household_id varchar)")
    con.execute("create or replace table raw.collected_households (household_id varchar)")
    con.execute("create or replace table raw.touched_townships (township_code varchar)")
    con.execute("create or replace table raw.touched_villages (village_code varchar)")
    con.execute("create or replace table raw.moved_households (household_id varchar)")
    con.execute(
        "create or replace table raw.previous_credit_stops "
        "(village_code varchar, as_of date, credit_stopped boolean, stop_reason varchar)"
    )
