"""Running dbt in-process against a building warehouse, and what its failures mean for a clerk.

dbt reports every finished node as an event: the build turns them into progress lines and
events (huinong.warehouse.BuildEvents) and, when a node fails, into a Chinese message that says
which model or check failed and, where the data explain it, which delivery, file and row to
look at. dbt's own (English) words go to the build's log only.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from huinong import REPO_ROOT
from huinong.publication import spill_path
from huinong.workspace import work_folder

Progress = Callable[[str], None]
# For profiling a build: dbt's target folder (the SQL each model and test ran) and its log are
# copied there.
KEEP_TARGET_ENV = "HUINONG_DBT_KEEP_TARGET"
Events = Callable[[dict], None]


def _quiet(_message: str) -> None:
    pass


def _no_events(_event: dict) -> None:
    pass


class _DbtProgress:
    """Turns dbt's events into one line per finished model and an event per finished node."""

    def __init__(self, progress: Progress, events: Events = _no_events):
        self.progress = progress
        self.events = events
        # dbt runs models on several threads; keep each progress line and event whole.
        self.lock = threading.Lock()
        self.model_seconds: dict[str, float] = {}
        self.test_seconds = 0.0
        # CPU of this process (DuckDB's threads included) between node events, shared out equally
        # among the nodes running then.
        self.model_cpu: dict[str, float] = {}
        self.test_cpu = 0.0
        self.tests_cpu: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.cpu_mark = time.process_time()
        self.tests = 0
        # (node, resource type, dbt's own message) of every node that failed.
        self.failures: list[tuple[str, str, str]] = []
        self.nodes_total = 0
        self.nodes_done = 0

    def __call__(self, event) -> None:
        name = event.info.name
        if name == "ConcurrencyLine":
            # Fired once before the first node: how many nodes this run executes.
            self.nodes_total = int(event.data.node_count)
            return
        if name == "NodeStart":
            with self.lock:
                self._share_cpu()
                self.running[event.data.node_info.unique_id] = 0.0
            return
        if name != "NodeFinished":
            return
        with self.lock:
            self._share_cpu()
            self._record(event)

    def _share_cpu(self) -> None:
        now = time.process_time()
        if self.running:
            share = (now - self.cpu_mark) / len(self.running)
            for unique_id in self.running:
                self.running[unique_id] += share
        self.cpu_mark = now

    def _record(self, event) -> None:
        node = event.data.node_info
        result = event.data.run_result
        seconds = float(result.execution_time or 0.0)
        cpu = self.running.pop(node.unique_id, 0.0)
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
            self.model_cpu[node.node_name] = cpu
            mark = "完成" if status == "success" else "失败"
            self.progress(f"  模型 {node.node_name} {mark}（{seconds:.1f} 秒）")
            self.events({"event": "model", **progress})
        elif node.resource_type in ("test", "unit_test"):
            self.tests += 1
            self.test_seconds += seconds
            self.test_cpu += cpu
            self.tests_cpu[node.node_name] = cpu
            self.events({"event": "test", **progress})
        if status in ("error", "fail", "runtime error"):
            message = (result.message or str(status)).strip()
            self.failures.append((node.node_name, str(node.resource_type), message))


def run_dbt(
    db_path: Path,
    args: list[str],
    dbt_vars: dict,
    progress: Progress = _quiet,
    events: Events = _no_events,
) -> _DbtProgress:
    """Run one dbt command in-process against ``db_path``; raise DbtFailed on failure."""
    from dbt.cli.main import dbtRunner

    listener = _DbtProgress(progress, events)
    work_dir = work_folder("dbt")
    env_before = {key: os.environ.get(key) for key in ("HUINONG_BUILD_DB", "HUINONG_BUILD_TMP")}
    os.environ["HUINONG_BUILD_DB"] = str(db_path)
    os.environ["HUINONG_BUILD_TMP"] = str(spill_path(db_path))
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
        keep = os.environ.get(KEEP_TARGET_ENV)
        if keep:
            shutil.copytree(work_dir / "target", keep, dirs_exist_ok=True)
            shutil.copytree(work_dir / "logs", Path(keep) / "logs", dirs_exist_ok=True)
        shutil.rmtree(work_dir, ignore_errors=True)
    if not result.success:
        raise DbtFailed(listener.failures, str(result.exception or ""))
    return listener


class DbtFailed(Exception):
    """dbt did not pass: its failed nodes with dbt's own (English) messages, for the log."""

    def __init__(self, failures: list[tuple[str, str, str]], exception: str) -> None:
        self.failures = failures
        self.exception = exception
        details = [f"{name}：{message}" for name, _, message in failures] or [exception]
        super().__init__("dbt 未通过：\n  " + "\n  ".join(details))


# What dbt's messages say about the data, in words for a clerk (checked in this order).
_DBT_DATA_PROBLEMS = (
    (("out of range", "overflow"), "有金额超出可计算的范围"),
    (("conversion error", "could not convert"), "有数值无法换算"),
    (("out of memory", "could not allocate"), "内存不足"),
)


def explain_failure(building: Path, error: DbtFailed, log: Progress) -> str:
    """A dbt failure in Chinese: which model or check failed and, where the data explain it,
    which delivery, file and row to look at. dbt's own words go to the log only."""
    for line in str(error).splitlines():
        log(f"  详情：{line.strip()}")
    models = [name for name, kind, _ in error.failures if kind not in ("test", "unit_test")]
    tests = [name for name, kind, _ in error.failures if kind in ("test", "unit_test")]
    text = " ".join(message.lower() for _, _, message in error.failures) + error.exception.lower()
    problem = next(
        (words for needles, words in _DBT_DATA_PROBLEMS if any(n in text for n in needles)), ""
    )
    parts = []
    if models:
        parts.append(f"计算 {'、'.join(models[:5])} 时出错" + (f"：{problem}" if problem else ""))
    if tests:
        parts.append(f"数据检验未通过：{'、'.join(tests[:5])}")
    if not parts:
        parts.append("计算模型运行出错" + (f"：{problem}" if problem else ""))
    message = "；".join(parts) + "。数据仓库没有改动，看板仍显示原有数据。"
    if problem == "有金额超出可计算的范围":
        largest = _largest_loans(building)
        if largest:
            message += f"金额最大的贷款：{largest}。请核对这些行后更正或撤回所在的报送。"
    return message + "详情见构建日志。"


def _largest_loans(building: Path) -> str:
    """The largest loans and where they came from (raw.row_origins), for an overflow message."""
    try:
        con = duckdb.connect(str(building), read_only=True)
    except duckdb.Error:
        return ""
    try:
        rows = con.execute(
            """select loans.loan_id, loans.amount, origins.delivery_id, origins.file_name,
                origins.row_number
            from raw.loans as loans
            left join raw.row_origins as origins
                on origins.source_file = 'loans' and origins.record_id = loans.loan_id
            order by loans.amount desc limit 3"""
        ).fetchall()
    except duckdb.Error:
        return ""
    finally:
        con.close()
    return "；".join(
        (f"第 {delivery} 批报送 " if delivery else "")
        + f"{file_name or 'loans'} 第 {row or '?'} 行（{loan_id}，{amount:,.2f} 元）"
        for loan_id, amount, delivery, file_name, row in rows
    )


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
