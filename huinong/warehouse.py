"""Build the warehouse: raw folder -> intake -> dbt build -> atomic publish.

The build writes a new DuckDB file next to the published one and swaps it in with
``os.replace`` only when the intake, every model and every data test passed. Readers that
have the old file open keep reading it; a failed build never touches it.

Whatever starts it (the command line, cron, the 数据管理 page), a build holds the warehouse's
one-writer lock from start to finish (huinong.writer), cleans up what dead builds left, and
publishes only a warehouse that is whole (huinong.publication), not built from an older store
state than the published one, with every required file giving rows, and whose headline figures
did not jump beyond the profile's bounds unless a person confirmed it (huinong.plausibility).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from huinong import writer
from huinong.dbt_run import DbtFailed, explain_failure, run_dbt
from huinong.publication import (
    PublicationError,
    building_path,
    check_writable,
    clean_dead_builds,
    put_in_place,
    refuse_if_older,
    remove_build_files,
    set_aside_stray_wal,
    spill_path,
)

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

# DuckDB settings for the build process. The dashboard runs beside it on the same 24 GiB, and the
# whole build process stays within 6 GiB: DuckDB's buffers at 5 GB (4.66 GiB) plus dbt and Python
# (at 6 GB the 1M-household build peaked at 6.23 GiB); beyond it DuckDB spills to disk rather than
# failing for lack of memory.
BUILD_MEMORY_LIMIT = os.environ.get("HUINONG_BUILD_MEMORY", "5GB")
BUILD_THREADS = int(os.environ.get("HUINONG_BUILD_THREADS", str(os.cpu_count() or 2)))

CONTRACT_MARTS = (
    "household_scores",
    "loan_status",
    "village_breaker",
    "township_breaker",
    "kpi_monthly",
)


# A test hook (tests/test_build_faults.py): the build kills itself (SIGKILL) when it reaches the
# stage this names — intake, dbt, build_info, publish (just before the swap) or published (just
# after it) — as the OOM killer or a power cut would.
FAULT_ENV = "HUINONG_BUILD_FAULT"
# With it, the build first waits at that stage (holding the writer lock) until the file this names
# exists, so that a test can race another build against it at a known moment, however loaded the
# machine is.
FAULT_GATE_ENV = "HUINONG_BUILD_FAULT_GATE"


class BuildError(Exception):
    """A build that did not publish; the message says what failed, in Chinese."""


class JumpRefused(BuildError):
    """Headline figures moved beyond their bounds; publishing needs a person's confirmation."""


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _lap(
    stages: dict[str, float], stages_cpu: dict[str, float], name: str, since: tuple[float, float]
) -> None:
    """Record a stage's wall and CPU seconds since ``since`` (a _clock())."""
    stages[name] = time.perf_counter() - since[0]
    stages_cpu[name] = time.process_time() - since[1]


def _fault_point(name: str) -> None:
    if os.environ.get(FAULT_ENV) == name:
        gate = os.environ.get(FAULT_GATE_ENV)
        while gate and not Path(gate).exists():
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class BuildResult:
    db_path: Path
    as_of: date
    mode: str = "full"
    full_build_reason: str = ""
    stages: dict[str, float] = field(default_factory=dict)
    models: dict[str, float] = field(default_factory=dict)
    # CPU seconds (user + system, every thread of this process, DuckDB's included) by stage and
    # by dbt model (shared out among the nodes running at the same time; exact with one dbt thread).
    stages_cpu: dict[str, float] = field(default_factory=dict)
    models_cpu: dict[str, float] = field(default_factory=dict)
    tests_cpu: dict[str, float] = field(default_factory=dict)
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
                "stages_cpu": {name: round(cpu, 2) for name, cpu in self.stages_cpu.items()},
                "models_cpu": {name: round(cpu, 2) for name, cpu in self.models_cpu.items()},
                "tests_cpu": {name: round(cpu, 2) for name, cpu in self.tests_cpu.items()},
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
    temp_dir = spill_path(path)
    temp_dir.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(
        str(path),
        config={
            "memory_limit": BUILD_MEMORY_LIMIT,
            "threads": BUILD_THREADS,
            "temp_directory": str(temp_dir),
        },
    )


_DATA_DATES = """
    select collected_on as data_on from raw.households
    union all select disbursed_on from raw.loans
    union all select written_off_on from raw.loans where written_off_on is not null
    union all select paid_on from raw.repayments
"""


def data_date_range(
    con: duckdb.DuckDBPyConnection, min_records: int = 1, latest_receipt: date | None = None
) -> tuple[date | None, date | None]:
    """The earliest data date, and the default as-of date.

    Data dates are those of something that happened: collections, disbursements, payments and
    write-offs; scheduled due dates and maturities lie in the future and are not "data dates"
    (see int_snapshot_dates). The default as-of date is the latest data date with at least
    ``min_records`` records dated within the 31 days up to it, and never after
    ``latest_receipt`` (the day the latest delivery was received): a lone record far beyond the
    rest cannot set it. Data too few to have such a date take their latest date.
    """
    row = con.execute(
        f"""with dates as (
            select data_on, count(*) as records from ({_DATA_DATES})
            where data_on <= $receipt group by data_on
        ),
        windowed as (
            select data_on, sum(records) over (
                order by data_on range between interval 30 days preceding and current row
            ) as recent
            from dates
        )
        select min(data_on), max(data_on) filter (where recent >= $k), max(data_on)
        from windowed""",
        {"k": max(int(min_records), 1), "receipt": latest_receipt or date(9999, 12, 31)},
    ).fetchone()
    first, supported, latest = row if row else (None, None, None)
    return first, supported or latest


def load_policy(policy_file: Path | None) -> dict:
    """Policy vars overriding the defaults in dbt_project.yml (another county's profile)."""
    from huinong.policy import PolicyError, read_overrides

    try:
        return read_overrides(policy_file)
    except PolicyError as error:
        raise BuildError(str(error)) from error


def _restart_from_raw(building: Path) -> None:
    """Replace the copied warehouse at ``building`` by a fresh file holding only its raw tables
    (already loaded and validated), for a full build after an increment was refused."""
    fresh = building.with_name(building.name + "-full")
    remove_build_files(fresh)
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
    remove_build_files(building)
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
    *,
    accept_jump: bool = False,
    lock_fd: int | None = None,
) -> BuildResult:
    """Build a warehouse from ``raw_dir`` and publish it atomically at ``db_path``.

    With ``incremental`` (the default) and a warehouse already published at ``db_path``, a monthly
    delivery that only adds what happened since that warehouse's last month-end is built by
    recomputing only what it touched (huinong.increment); otherwise everything is rebuilt.
    Progress goes to ``progress`` as lines for people and to ``events`` as data (BuildEvents).
    ``accept_jump`` publishes even when headline figures moved beyond their bounds;
    ``lock_fd`` is the one-writer lock already taken by the caller (huinong.rebuild).
    """
    report = BuildReport(progress, events)
    raw_dir = Path(raw_dir)
    db_path = Path(db_path).resolve()
    if not raw_dir.is_dir():
        raise BuildError(f"原始数据文件夹不存在：{raw_dir}")
    policy = load_policy(policy_file)
    try:
        check_writable(db_path.parent)
        with writer.hold(db_path, lock_fd):
            return _build_locked(raw_dir, db_path, as_of, policy, report, incremental, accept_jump)
    except writer.WriterBusy as error:
        raise BuildError(str(error)) from error
    except PublicationError as error:
        raise BuildError(str(error)) from error


def _build_locked(
    raw_dir: Path,
    db_path: Path,
    as_of: date | None,
    policy: dict,
    report: BuildReport,
    incremental: bool,
    accept_jump: bool,
) -> BuildResult:
    # From here on every line a person reads (the intake's too) is also an event.
    progress = report.say
    from huinong.increment import create_empty_touched, plan_increment
    from huinong.intake import IntakeError, load_raw
    from huinong.intake.run import IntakeChecks
    from huinong.plausibility import check_jumps
    from huinong.policy import default_policy

    profile = default_policy().overridden(policy)
    removed = clean_dead_builds(db_path)
    if removed:
        progress(
            f"清理了中断的构建留下的文件：{'、'.join(removed[:5])}"
            + (" 等" if len(removed) > 5 else "")
        )
    kept = set_aside_stray_wal(db_path)
    if kept is not None:
        progress(f"数据仓库旁有中断的写入留下的日志文件，已移到 {kept.name} 保存（未使用其内容）")
    building = building_path(db_path)
    remove_build_files(building)
    stages: dict[str, float] = {}
    stages_cpu: dict[str, float] = {}
    started = _clock()
    plan = None
    try:
        reuse = incremental and db_path.exists()
        _fault_point("intake")
        if reuse:
            clock = _clock()
            report.stage(1, "复制已发布的数据仓库，准备按月增量构建")
            shutil.copyfile(db_path, building)
            _lap(stages, stages_cpu, "copy", clock)
        report.stage(1, f"读取原始数据：{raw_dir}")
        clock = _clock()
        con = connect_for_build(building)
        try:
            summary = load_raw(
                raw_dir,
                con,
                progress,
                IntakeChecks.from_policy(profile),
                loaded_from=_loaded_store_state(con) if reuse else None,
            )
            _lap(stages, stages_cpu, "intake", clock)
            progress(summary.describe())
            _refuse_empty_required(summary)
            store_state = summary.store_state()
            refuse_if_older(db_path, store_state)
            latest_receipt = _latest_receipt(con, summary)
            data_start, data_as_of = data_date_range(
                con, int(profile["as_of_min_records"]), latest_receipt
            )
            if data_as_of is None:
                raise BuildError("原始数据中没有任何日期（采集、放款、还款），无法确定统计截止日")
            build_as_of = as_of or data_as_of
            progress(
                f"统计截止日：{build_as_of.isoformat()}"
                + ("" if as_of else _as_of_rule_text(int(profile["as_of_min_records"])))
            )
            if reuse:
                clock = _clock()
                quoted = str(db_path).replace("'", "''")
                con.execute(f"attach '{quoted}' as published (read_only)")
                plan = plan_increment(
                    con,
                    policy,
                    data_start,
                    build_as_of,
                    summary.changes,
                    summary.full_read_reason,
                )
                con.execute("detach published")
                _lap(stages, stages_cpu, "plan", clock)
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
            clock = _clock()
            _restart_from_raw(building)
            _lap(stages, stages_cpu, "restart", clock)

        _fault_point("dbt")
        report.stage(2, "计算评分、贷款状态、熔断与汇总（dbt）")
        clock = _clock()
        dbt_vars = {
            **policy,
            "as_of": build_as_of.isoformat(),
            "data_start": data_start.isoformat(),
        }
        if plan is not None and plan.possible:
            dbt_vars["incremental_from"] = plan.incremental_from.isoformat()
            dbt_vars["incremental_townships"] = plan.touched_townships > 0
        try:
            listener = run_dbt(
                building,
                ["build", "--exclude-resource-type", "unit_test"],
                dbt_vars,
                report.lines,
                report.events,
            )
        except DbtFailed as error:
            raise BuildError(explain_failure(building, error, report.lines)) from error
        _lap(stages, stages_cpu, "dbt", clock)
        stages["tests"] = listener.test_seconds
        stages_cpu["tests"] = listener.test_cpu
        progress(f"  数据检验 {listener.tests} 项全部通过")

        _fault_point("build_info")
        report.stage(3, "记录构建信息")
        clock = _clock()
        con = connect_for_build(building)
        try:
            row_counts = {
                mart: con.execute(f"select count(*) from main.{mart}").fetchone()[0]
                for mart in CONTRACT_MARTS
            }
            _write_build_info(
                con, raw_dir, build_as_of, data_start, policy, row_counts, plan, store_state
            )
            if db_path.exists():
                quoted = str(db_path).replace("'", "''")
                con.execute(f"attach '{quoted}' as published (read_only)")
                check = check_jumps(con, profile)
                con.execute("detach published")
                if check.skipped:
                    progress(check.skipped)
                elif check.jumps and accept_jump:
                    progress("主要指标变化超出合理范围，已确认（--accept-jump），照常发布：")
                    progress("\n".join(jump.describe() for jump in check.jumps))
                elif check.jumps:
                    raise JumpRefused(check.describe())
            con.execute("checkpoint")
        finally:
            con.close()
        _lap(stages, stages_cpu, "build_info", clock)

        _fault_point("publish")
        report.stage(4, f"发布：{db_path}")
        clock = _clock()
        put_in_place(building, db_path, store_state)
        _fault_point("published")
        _lap(stages, stages_cpu, "publish", clock)
    except IntakeError as error:
        remove_build_files(building)
        raise BuildError(str(error)) from error
    except PublicationError as error:
        remove_build_files(building)
        raise BuildError(str(error)) from error
    except BuildError:
        remove_build_files(building)
        raise
    except (OSError, duckdb.Error) as error:
        remove_build_files(building)
        report.lines(f"  详情：{type(error).__name__}: {error}")
        raise BuildError(_os_error_text(error)) from error
    except Exception as error:
        remove_build_files(building)
        report.lines(f"  详情：{type(error).__name__}: {error}")
        raise BuildError(
            f"构建中断：程序内部错误（{type(error).__name__}），数据仓库没有改动。"
            "请把构建日志交给管理员"
        ) from error

    _lap(stages, stages_cpu, "total", started)
    result = BuildResult(
        db_path=db_path,
        as_of=build_as_of,
        mode="incremental" if plan is not None and plan.possible else "full",
        full_build_reason=plan.reason if plan is not None and not plan.possible else "",
        stages=stages,
        models=listener.model_seconds,
        stages_cpu=stages_cpu,
        models_cpu=listener.model_cpu,
        tests_cpu=listener.tests_cpu,
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


def _as_of_rule_text(min_records: int) -> str:
    return (
        f"（数据中的最晚日期，且此前 31 天内至少有 {min_records} 条采集、放款、还款或核销记录，"
        "不晚于最近一批报送的接收日）"
    )


def _latest_receipt(con: duckdb.DuckDBPyConnection, summary) -> date:
    """The day the latest delivery read was received; a plain folder is received today."""
    if not summary.delivery_ids:
        return date.today()
    latest = con.execute("select max(accepted_at)::date from raw.deliveries").fetchone()[0]
    return latest or date.today()


def _loaded_store_state(con: duckdb.DuckDBPyConnection) -> dict:
    """The store state the raw tables of a copied warehouse were loaded from (its build_info),
    empty when it does not say (built from a folder, or by an earlier version)."""
    try:
        row = con.execute("select store_state from main.build_info").fetchone()
    except duckdb.Error:
        return {}
    return json.loads(row[0]) if row and row[0] else {}


def _refuse_empty_required(summary) -> None:
    """A required file that gives no row at all would publish a warehouse without households
    (or loans …): refuse, naming the file."""
    from huinong.schema import RAW_FILES

    totals = summary.totals()
    for raw_file in RAW_FILES.values():
        if not raw_file.required:
            continue
        counts = totals.get(raw_file.name)
        if counts is not None and counts.rows_loaded > 0:
            continue
        files = counts.file_name if counts is not None else f"{raw_file.name}.csv"
        if counts is None or counts.rows_read == 0:
            problem = "没有任何数据行（只有表头或是空文件）"
        else:
            problem = f"全部 {counts.rows_read - counts.rows_superseded:,} 行都被隔离"
        raise BuildError(
            f"{raw_file.label}（{raw_file.name}）{problem}：{files}。"
            "发布后看板将没有这部分数据，因此本次未发布。"
            "请检查该文件（或撤回有误的报送）后重新报送"
        )


def _os_error_text(error: Exception) -> str:
    if isinstance(error, PermissionError):
        return (
            f"构建中断：没有权限读写 {error.filename or '所需的文件'}。"
            "请检查文件夹权限后重试；已发布的数据仓库没有改动"
        )
    if isinstance(error, OSError) and error.errno == 28:
        return "构建中断：磁盘空间不足。请清理磁盘后重试；已发布的数据仓库没有改动"
    if isinstance(error, duckdb.OutOfMemoryException):
        return "构建中断：内存不足。请在空闲时重试，或联系管理员调大内存；已发布的数据仓库没有改动"
    return "构建中断：读写数据仓库文件时出错，已发布的数据仓库没有改动。请把构建日志交给管理员"


def _write_build_info(
    con: duckdb.DuckDBPyConnection,
    raw_dir: Path,
    as_of: date,
    data_start: date,
    policy: dict,
    row_counts: dict[str, int],
    plan,
    store_state: dict | None,
) -> None:
    from huinong.increment import models_digest

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
            $incremental_from::date as incremental_from,
            $store_state as store_state,
            $models_digest as models_digest
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
            "store_state": json.dumps(store_state) if store_state is not None else None,
            "models_digest": models_digest(),
        },
    )
