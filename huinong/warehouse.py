"""Build the warehouse: raw folder -> intake -> dbt build -> atomic publish.

The build writes a new DuckDB file next to the published one and swaps it in with
``os.replace`` only when the intake, every model and every data test passed. Readers that
have the old file open keep reading it; a failed build never touches it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from huinong import REPO_ROOT

Progress = Callable[[str], None]
# The same progress as data for a program to follow (huinong.rebuild reads it from the file
# ``python -m huinong build --events`` writes): one dict per step, "event" naming its kind —
#   {"event": "stage", "stage": 2, "stages": 4, "text": "计算评分…"}
#   {"event": "message", "text": "统计截止日：…"}            every other line a person reads
#   {"event": "model", "done": 17, "total": 180, "name": "household_scores",
#    "resource": "model", "status": "success", "seconds": 3.2}
#   {"event": "test", "done": 18, "total": 180, "name": "…", "status": "pass"}
#   {"event": "published", "db_path": "…", "as_of": "2026-10-31", "mode": "full",
#    "seconds": 41.0, "file_bytes": …, "row_counts": {…}, "text": "全量构建完成…"}
# done / total count every dbt node of the run (models, seeds and tests) as it finishes. A build
# that fails raises BuildError; the command line then adds {"event": "failed", "message": …}.
BuildEvents = Callable[[dict], None]
BUILD_STAGES = 4

# DuckDB settings for the build process. The dashboard runs beside it on the same 24 GiB, so the
# whole build stays under 8 GiB (DuckDB's buffers at 6 GB plus dbt and Python) and spills to disk
# rather than failing for lack of memory.
BUILD_MEMORY_LIMIT = os.environ.get("HUINONG_BUILD_MEMORY", "6GB")
BUILD_THREADS = int(os.environ.get("HUINONG_BUILD_THREADS", str(os.cpu_count() or 2)))

CONTRACT_MARTS = (
    "household_scores",
    "loan_status",
    "village_breaker",
    "township_breaker",
    "kpi_monthly",
)


class BuildError(Exception):
    """A build that did not publish; the message says what failed, in Chinese."""


@dataclass
class BuildResult:
    db_path: Path
    as_of: date
    mode: str = "full"
    full_build_reason: str = ""
    stages: dict[str, float] = field(default_factory=dict)
    models: dict[str, float] = field(default_factory=dict)
    row_counts: dict[str, int] = field(default_factory=dict)
    file_bytes: int = 0

    def to_json(self) -> str:
        return json.dumps(
            {
                "db_path": str(self.db_path),
                "as_of": self.as_of.isoformat(),
                "mode": self.mode,
                "full_build_reason": self.full_build_reason,
                "stages": {name: round(seconds, 2) for name, seconds in self.stages.items()},
                "models": {name: round(seconds, 2) for name, seconds in self.models.items()},
                "row_counts": self.row_counts,
                "file_bytes": self.file_bytes,
            },
            ensure_ascii=False,
            indent=2,
        )


def _quiet(_message: str) -> None:
    pass


def _no_events(_event: dict) -> None:
    pass


class BuildReport:
    """Says every step of a build twice: a line for people (``lines``), an event (``events``)."""

    def __init__(self, lines: Progress = _quiet, events: BuildEvents = _no_events):
        self.lines = lines
        self.events = events

    def say(self, text: str) -> None:
        self.lines(text)
        self.events({"event": "message", "text": text})

    def stage(self, number: int, text: str) -> None:
        self.lines(f"[{number}/{BUILD_STAGES}] {text}")
        self.events({"event": "stage", "stage": number, "stages": BUILD_STAGES, "text": text})


def connect_for_build(path: Path) -> duckdb.DuckDBPyConnection:
    temp_dir = path.parent / f".{path.name}.spill"
    temp_dir.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(
        str(path),
        config={
            "memory_limit": BUILD_MEMORY_LIMIT,
            "threads": BUILD_THREADS,
            "temp_directory": str(temp_dir),
        },
    )


def data_date_range(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    """The earliest and latest dates of something that happened in the data.

    Collections, disbursements, payments and write-offs count; scheduled due dates and maturities
    lie in the future and are not "data dates" (see int_snapshot_dates). The latest is the default
    as-of date.
    """
    row = con.execute(
        """
        select min(first_on), max(last_on) from (
            select min(collected_on) as first_on, max(collected_on) as last_on from raw.households
            union all select min(disbursed_on), max(disbursed_on) from raw.loans
            union all select min(written_off_on), max(written_off_on) from raw.loans
            union all select min(paid_on), max(paid_on) from raw.repayments
        )
        """
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


def load_policy(policy_file: Path | None) -> dict:
    """Policy vars overriding the defaults in dbt_project.yml (another county's profile)."""
    from huinong.policy import PolicyError, read_overrides

    try:
        return read_overrides(policy_file)
    except PolicyError as error:
        raise BuildError(str(error)) from error


class _DbtProgress:
    """Turns dbt's events into one line per finished model and an event per finished node."""

    def __init__(self, progress: Progress, events: BuildEvents = _no_events):
        self.progress = progress
        self.events = events
        # dbt runs models on several threads; keep each progress line and event whole.
        self.lock = threading.Lock()
        self.model_seconds: dict[str, float] = {}
        self.test_seconds = 0.0
        self.tests = 0
        self.failures: list[str] = []
        self.nodes_total = 0
        self.nodes_done = 0

    def __call__(self, event) -> None:
        name = event.info.name
        if name == "ConcurrencyLine":
            # Fired once before the first node: how many nodes this run executes.
            self.nodes_total = int(event.data.node_count)
            return
        if name != "NodeFinished":
            return
        with self.lock:
            self._record(event)

    def _record(self, event) -> None:
        node = event.data.node_info
        result = event.data.run_result
        seconds = float(result.execution_time or 0.0)
        status = result.status
        self.nodes_done += 1
        progress = {
            "done": self.nodes_done,
            "total": max(self.nodes_total, self.nodes_done),
            "name": node.node_name,
            "resource": node.resource_type,
            "status": str(status),
            "seconds": round(seconds, 2),
        }
        if node.resource_type in ("model", "seed", "snapshot"):
            self.model_seconds[node.node_name] = seconds
            mark = "完成" if status == "success" else "失败"
            self.progress(f"  模型 {node.node_name} {mark}（{seconds:.1f} 秒）")
            self.events({"event": "model", **progress})
        elif node.resource_type in ("test", "unit_test"):
            self.tests += 1
            self.test_seconds += seconds
            self.events({"event": "test", **progress})
        if status in ("error", "fail", "runtime error"):
            self.failures.append(f"{node.node_name}：{(result.message or status).strip()}")


def run_dbt(
    db_path: Path,
    args: list[str],
    dbt_vars: dict,
    progress: Progress = _quiet,
    events: BuildEvents = _no_events,
) -> _DbtProgress:
    """Run one dbt command in-process against ``db_path``; raise BuildError on failure."""
    from dbt.cli.main import dbtRunner

    listener = _DbtProgress(progress, events)
    work_dir = Path(tempfile.mkdtemp(prefix="huinong-dbt-"))
    env_before = {key: os.environ.get(key) for key in ("HUINONG_BUILD_DB", "HUINONG_BUILD_TMP")}
    os.environ["HUINONG_BUILD_DB"] = str(db_path)
    os.environ["HUINONG_BUILD_TMP"] = str(db_path.parent / f".{db_path.name}.spill")
    try:
        result = dbtRunner(callbacks=[listener]).invoke(
            [
                *args,
                "--project-dir",
                str(REPO_ROOT),
                "--profiles-dir",
                str(REPO_ROOT),
                "--target-path",
                str(work_dir / "target"),
                "--log-path",
                str(work_dir / "logs"),
                "--vars",
                json.dumps(dbt_vars, ensure_ascii=False, default=str),
                "--quiet",
                "--no-use-colors",
            ]
        )
    finally:
        _close_dbt_duckdb()
        for key, value in env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(work_dir, ignore_errors=True)
    if not result.success:
        if listener.failures:
            raise BuildError("dbt 未通过：\n  " + "\n  ".join(listener.failures))
        raise BuildError(f"dbt 运行出错：{result.exception}")
    return listener


def _close_dbt_duckdb() -> None:
    """Close the DuckDB instance dbt-duckdb keeps open in this process after a run.

    Otherwise the next connection to the same file (ours, with other settings, or the next dbt
    run's) fails with "different configuration than existing connections", and the file stays
    open while we try to publish it.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.adapters.factory import reset_adapters

    reset_adapters()
    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None


def _remove_build_files(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(path.parent / f".{path.name}.spill", ignore_errors=True)


def _restart_from_raw(building: Path) -> None:
    """Replace the copied warehouse at ``building`` by a fresh file holding only its raw tables
    (already loaded and validated), for a full build after an increment was refused."""
    fresh = building.with_name(building.name + "-full")
    _remove_build_files(fresh)
    con = connect_for_build(fresh)
    try:
        quoted = str(building).replace("'", "''")
        con.execute(f"attach '{quoted}' as loaded (read_only)")
        con.execute("create schema raw")
        tables = con.execute(
            "select table_name from information_schema.tables "
            "where table_catalog = 'loaded' and table_schema = 'raw' and table_type = 'BASE TABLE'"
        ).fetchall()
        for (table,) in tables:
            con.execute(f'create table raw."{table}" as select * from loaded.raw."{table}"')
        con.execute("detach loaded")
    finally:
        con.close()
    _remove_build_files(building)
    os.replace(fresh, building)
    shutil.rmtree(fresh.parent / f".{fresh.name}.spill", ignore_errors=True)


def build(
    raw_dir: Path,
    db_path: Path,
    as_of: date | None = None,
    policy_file: Path | None = None,
    progress: Progress = _quiet,
    incremental: bool = True,
    events: BuildEvents = _no_events,
) -> BuildResult:
    """Build a warehouse from ``raw_dir`` and publish it atomically at ``db_path``.

    With ``incremental`` (the default) and a warehouse already published at ``db_path``, a monthly
    delivery that only adds what happened since that warehouse's last month-end is built by
    recomputing only what it touched (huinong.increment); otherwise everything is rebuilt.
    Progress goes to ``progress`` as lines for people and to ``events`` as data (BuildEvents).
    """
    report = BuildReport(progress, events)
    # From here on every line a person reads (the intake's too) is also an event.
    progress = report.say
    from huinong.increment import create_empty_touched, plan_increment
    from huinong.intake import IntakeError, load_raw

    raw_dir = Path(raw_dir)
    db_path = Path(db_path).resolve()
    if not raw_dir.is_dir():
        raise BuildError(f"原始数据文件夹不存在：{raw_dir}")
    policy = load_policy(policy_file)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    building = db_path.with_name(f".{db_path.name}.building-{os.getpid()}")
    _remove_build_files(building)
    stages: dict[str, float] = {}
    started = time.perf_counter()
    plan = None
    try:
        reuse = incremental and db_path.exists()
        if reuse:
            clock = time.perf_counter()
            report.stage(1, "复制已发布的数据仓库，准备按月增量构建")
            shutil.copyfile(db_path, building)
            stages["copy"] = time.perf_counter() - clock
        report.stage(1, f"读取原始数据：{raw_dir}")
        clock = time.perf_counter()
        con = connect_for_build(building)
        try:
            summary = load_raw(raw_dir, con, progress=progress)
            data_start, data_as_of = data_date_range(con)
            stages["intake"] = time.perf_counter() - clock
            progress(summary.describe())
            if data_as_of is None:
                raise BuildError("原始数据中没有任何日期（采集、放款、还款），无法确定统计截止日")
            build_as_of = as_of or data_as_of
            progress(
                f"统计截止日：{build_as_of.isoformat()}" + ("" if as_of else "（数据中的最晚日期）")
            )
            if reuse:
                clock = time.perf_counter()
                quoted = str(db_path).replace("'", "''")
                con.execute(f"attach '{quoted}' as published (read_only)")
                plan = plan_increment(con, policy, data_start, build_as_of)
                con.execute("detach published")
                stages["plan"] = time.perf_counter() - clock
                if plan.possible:
                    progress(
                        f"按月增量构建：{plan.incremental_from.isoformat()} 起的数据重新计算，"
                        f"涉及贷款 {plan.touched_loans:,} 笔、农户 {plan.touched_households:,} 户"
                        + (
                            f"；{plan.moved_households:,} 户迁往其他行政村，"
                            f"重算其迁出、迁入的行政村及所在乡镇（{plan.touched_townships:,} 个）的历史熔断"
                            if plan.moved_households
                            else ""
                        )
                    )
                else:
                    progress(f"需要全量构建：{plan.reason}")
            if plan is None or not plan.possible:
                create_empty_touched(con)
        finally:
            con.close()
        if reuse and not plan.possible:
            clock = time.perf_counter()
            _restart_from_raw(building)
            stages["restart"] = time.perf_counter() - clock

        report.stage(2, "计算评分、贷款状态、熔断与汇总（dbt）")
        clock = time.perf_counter()
        dbt_vars = {
            **policy,
            "as_of": build_as_of.isoformat(),
            "data_start": data_start.isoformat(),
        }
        if plan is not None and plan.possible:
            dbt_vars["incremental_from"] = plan.incremental_from.isoformat()
            dbt_vars["incremental_townships"] = plan.touched_townships > 0
        listener = run_dbt(
            building,
            ["build", "--exclude-resource-type", "unit_test"],
            dbt_vars,
            report.lines,
            report.events,
        )
        stages["dbt"] = time.perf_counter() - clock
        stages["tests"] = listener.test_seconds
        progress(f"  数据检验 {listener.tests} 项全部通过")

        report.stage(3, "记录构建信息")
        clock = time.perf_counter()
        con = connect_for_build(building)
        try:
            row_counts = {
                mart: con.execute(f"select count(*) from main.{mart}").fetchone()[0]
                for mart in CONTRACT_MARTS
            }
            _write_build_info(con, raw_dir, build_as_of, data_start, policy, row_counts, plan)
            con.execute("checkpoint")
        finally:
            con.close()
        stages["build_info"] = time.perf_counter() - clock

        report.stage(4, f"发布：{db_path}")
        clock = time.perf_counter()
        os.replace(building, db_path)
        shutil.rmtree(building.parent / f".{building.name}.spill", ignore_errors=True)
        stages["publish"] = time.perf_counter() - clock
    except IntakeError as error:
        _remove_build_files(building)
        raise BuildError(str(error)) from error
    except BuildError:
        _remove_build_files(building)
        raise
    except Exception as error:
        _remove_build_files(building)
        raise BuildError(f"构建中断：{type(error).__name__}: {error}") from error

    stages["total"] = time.perf_counter() - started
    result = BuildResult(
        db_path=db_path,
        as_of=build_as_of,
        mode="incremental" if plan is not None and plan.possible else "full",
        full_build_reason=plan.reason if plan is not None and not plan.possible else "",
        stages=stages,
        models=listener.model_seconds,
        row_counts=row_counts,
        file_bytes=db_path.stat().st_size,
    )
    done = (
        ("按月增量" if result.mode == "incremental" else "全量")
        + f"构建完成，用时 {stages['total']:.1f} 秒；文件 {result.file_bytes / 1e6:,.1f} MB；"
        + "，".join(f"{mart} {rows:,} 行" for mart, rows in row_counts.items())
    )
    report.lines(done)
    report.events(
        {
            "event": "published",
            "db_path": str(db_path),
            "as_of": build_as_of.isoformat(),
            "mode": result.mode,
            "seconds": round(stages["total"], 2),
            "file_bytes": result.file_bytes,
            "row_counts": row_counts,
            "text": done,
        }
    )
    return result


def _write_build_info(
    con: duckdb.DuckDBPyConnection,
    raw_dir: Path,
    as_of: date,
    data_start: date,
    policy: dict,
    row_counts: dict[str, int],
    plan,
) -> None:
    incremental = plan is not None and plan.possible
    con.execute(
        """
        create or replace table main.build_info as
        select
            $as_of::date as as_of,
            $data_start::date as data_start,
            $built_at::timestamp as built_at,
            $raw_dir as raw_dir,
            $policy as policy_overrides,
            $row_counts as row_counts,
            $mode as build_mode,
            $incremental_from::date as incremental_from
        """,
        {
            "as_of": as_of,
            "data_start": data_start,
            "built_at": datetime.now().replace(microsecond=0),
            "raw_dir": str(raw_dir.resolve()),
            "policy": json.dumps(policy, ensure_ascii=False, default=str),
            "row_counts": json.dumps(row_counts),
            "mode": "incremental" if incremental else "full",
            "incremental_from": plan.incremental_from if incremental else None,
        },
    )
