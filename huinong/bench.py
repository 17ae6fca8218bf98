"""python -m huinong bench: generation, build and dashboard-query timings at several sizes.

Each step runs as its own process so that its wall time, CPU time (user + system of the whole
process tree, from the kernel's accounting of waited-for children) and peak memory (RSS of the
whole process tree, sampled every 0.1 s) are what a user of that command would see. The machine is
shared, so wall time depends on what else runs: every step also records the load average at its
start and end, and builds are best compared by CPU seconds. Results are printed as a table and
saved as JSON, so two runs can be compared.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psutil

from huinong import REPO_ROOT

Progress = Callable[[str], None]

# Dashboard targets (issue: scale and speed), reported against each query.
WARM_P95_TARGET_MS = 150
COLD_TARGET_MS = 2000
WARM_REPEATS = 20


class BenchFailed(Exception):
    """A step of the bench failed; the message says which, with the end of its output."""


@dataclass
class Measured:
    seconds: float
    peak_rss_bytes: int
    returncode: int
    output: str
    # user + system CPU of the process and every descendant it waited for.
    cpu_seconds: float = 0.0
    # 1-minute load average of the machine when the step started and when it ended.
    load_start: float = 0.0
    load_end: float = 0.0

    def summary(self) -> dict:
        return {
            "seconds": round(self.seconds, 1),
            "cpu_seconds": round(self.cpu_seconds, 1),
            "load_start": round(self.load_start, 2),
            "load_end": round(self.load_end, 2),
            "peak_rss_gib": round(self.peak_rss_bytes / 2**30, 2),
        }


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += member.memory_info().rss
    return total


def measure(
    command: list[str], env: dict | None = None, progress: Progress | None = None
) -> Measured:
    """Run ``command``, streaming its output lines to ``progress``; time it, track peak RSS and
    count the CPU seconds of its process tree (steps run one at a time, so the growth of this
    process's terminated-children usage is the command's)."""
    load_start = os.getloadavg()[0]
    cpu_before = _children_cpu_seconds()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="huinong-measure-") as folder:
        log_path = Path(folder) / "output.log"
        with log_path.open("wb") as log:
            child = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env={**os.environ, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            watched = psutil.Process(child.pid)
            peak = 0
            shown = 0
            while child.poll() is None:
                peak = max(peak, _tree_rss(watched))
                if progress:
                    # Whole lines only: the child may be halfway through a multi-byte character.
                    lines = log_path.read_bytes().split(b"\n")[:-1]
                    for line in lines[shown:]:
                        progress(f"    {line.decode('utf-8', errors='replace')}")
                    shown = len(lines)
                time.sleep(0.1)
            seconds = time.perf_counter() - started
        output = log_path.read_bytes().decode("utf-8", errors="replace")
    cpu_seconds = _children_cpu_seconds() - cpu_before
    if progress:
        for line in output.splitlines()[shown:]:
            progress(f"    {line}")
    return Measured(
        seconds,
        peak,
        child.returncode,
        output,
        cpu_seconds=cpu_seconds,
        load_start=load_start,
        load_end=os.getloadavg()[0],
    )


def machine() -> dict:
    import duckdb

    memory = psutil.virtual_memory().total
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(memory / 2**30, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
    }


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def time_queries(db_path: Path, repeats: int = WARM_REPEATS) -> list[dict]:
    """Every dashboard query (huinong.data.bench_calls): the first call on a fresh connection
    (cold), then ``repeats`` more (warm), uncached by Streamlit so DuckDB does the work each time."""
    import logging

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    os.environ["HUINONG_DB"] = str(db_path)
    from huinong import data

    token = data.current_warehouse()
    results = []
    for name, call in data.bench_calls(token):
        clock = time.perf_counter()
        value = call()
        cold = (time.perf_counter() - clock) * 1000
        warm = []
        for _ in range(repeats):
            clock = time.perf_counter()
            call()
            warm.append((time.perf_counter() - clock) * 1000)
        rows = getattr(value, "height", None)
        results.append(
            {
                "query": name,
                "cold_ms": round(cold, 1),
                "warm_p50_ms": round(statistics.median(warm), 1),
                "warm_p95_ms": round(_percentile(warm, 0.95), 1),
                "rows": rows,
            }
        )
    return results


def bench_size(
    households: int, seed: int, work: Path, progress: Progress, keep: bool = False
) -> dict:
    python = sys.executable
    raw = work / "raw"
    db = work / "warehouse.duckdb"
    report = work / "build.json"
    result: dict = {"households": households}

    progress(f"[{households:,} 户] 生成原始数据…")
    generated = measure(
        [python, "-m", "huinong", "generate", "--households", str(households),
         "--seed", str(seed), "--out", str(raw)],
    )  # fmt: skip
    if generated.returncode != 0:
        raise BenchFailed(f"生成失败：\n{generated.output}")
    result["generate"] = {
        **generated.summary(),
        "raw_bytes": sum(path.stat().st_size for path in raw.iterdir()),
    }
    progress(
        f"  用时 {generated.seconds:.1f} 秒（CPU {generated.cpu_seconds:.1f} 秒），"
        f"峰值内存 {generated.peak_rss_bytes / 2**30:.2f} GiB"
    )

    # The same data twice: as a history plus its last month delivered on its own, and whole.
    from huinong.demo import split_last_month
    from huinong.intake import accept_delivery

    month = split_last_month(raw, work / "history", work / "last_month")
    store = work / "store"
    accept_delivery(store, work / "history", source_label="历史数据")

    def timed_build(target: Path, label: str, *flags: str) -> tuple[Measured, dict]:
        progress(f"[{households:,} 户] {label}…")
        measured = measure(
            [python, "-m", "huinong", "build", "--raw-dir", str(store), "--db", str(target),
             "--report", str(report), *flags],
            progress=progress,
        )  # fmt: skip
        if measured.returncode != 0:
            raise BenchFailed(f"构建失败：\n{measured.output[-4000:]}")
        progress(
            f"  用时 {measured.seconds:.1f} 秒，CPU {measured.cpu_seconds:.1f} 秒，"
            f"负载 {measured.load_start:.2f} → {measured.load_end:.2f}"
        )
        return measured, json.loads(report.read_text(encoding="utf-8"))

    history, _ = timed_build(db, "构建历史数据（全量）")
    # Kept so that the monthly build can be timed again (``python -m huinong.bench monthly``).
    shutil.copyfile(db, work / "history.duckdb")
    accept_delivery(store, work / "last_month", source_label=f"{month:%Y年%m月}报送")
    # The generated month may move more villages across the breaker line than the default bounds
    # of a month's change allow (at 1M households 16 villages fewer tripped, against ±5): the bench
    # confirms the change as the office would, so that the build itself is timed.
    increment, increment_report = timed_build(db, "当月报送：按月增量构建", "--accept-jump")
    built, build_report = timed_build(work / "full.duckdb", "同样数据全量构建", "--full")
    (work / "full_measured.json").write_text(json.dumps(built.summary()), encoding="utf-8")
    # The monthly build once more, after the full one: this machine is shared, and its speed
    # drifts by tens of percent within minutes. Two monthly builds bracketing the full build give
    # the share from their mean, and show the drift.
    again = work / "monthly_after_full.duckdb"
    shutil.copyfile(work / "history.duckdb", again)
    increment_again, _ = timed_build(again, "全量构建之后，再次按月增量构建", "--accept-jump")
    if not keep:
        again.unlink()
    monthly_seconds = (increment.seconds + increment_again.seconds) / 2
    monthly_cpu = (increment.cpu_seconds + increment_again.cpu_seconds) / 2
    db = work / "full.duckdb"
    result["build"] = {
        **built.summary(),
        "stages_seconds": build_report["stages"],
        "stages_cpu_seconds": build_report["stages_cpu"],
        "models_seconds": build_report["models"],
        "models_cpu_seconds": build_report["models_cpu"],
        "file_bytes": build_report["file_bytes"],
        "row_counts": build_report["row_counts"],
        "as_of": build_report["as_of"],
    }
    result["incremental_build"] = {
        "month": month.isoformat(),
        "mode": increment_report["mode"],
        "full_build_reason": increment_report["full_build_reason"],
        **increment.summary(),
        "share_of_full_build": round(increment.seconds / built.seconds, 3),
        "cpu_share_of_full_build": round(increment.cpu_seconds / built.cpu_seconds, 3),
        # The same monthly build timed again after the full build, and the mean of the two.
        "after_full_build": increment_again.summary(),
        "mean_seconds": round(monthly_seconds, 2),
        "mean_cpu_seconds": round(monthly_cpu, 2),
        "mean_share_of_full_build": round(monthly_seconds / built.seconds, 3),
        "mean_cpu_share_of_full_build": round(monthly_cpu / built.cpu_seconds, 3),
        "stages_seconds": increment_report["stages"],
        "stages_cpu_seconds": increment_report["stages_cpu"],
        "models_seconds": increment_report["models"],
        "models_cpu_seconds": increment_report["models_cpu"],
        "history_build": history.summary(),
    }

    progress(f"[{households:,} 户] 看板查询延迟…")
    queried = measure(
        [python, "-m", "huinong.bench", "queries", "--db", str(db), "--out", str(work / "q.json")],
    )  # fmt: skip
    if queried.returncode != 0:
        raise BenchFailed(f"查询测试失败：\n{queried.output[-4000:]}")
    queries = json.loads((work / "q.json").read_text(encoding="utf-8"))
    result["queries"] = queries
    result["queries_summary"] = {
        "count": len(queries),
        "max_warm_p95_ms": max(q["warm_p95_ms"] for q in queries),
        "max_cold_ms": max(q["cold_ms"] for q in queries),
        "over_warm_target": [q["query"] for q in queries if q["warm_p95_ms"] > WARM_P95_TARGET_MS],
        "over_cold_target": [q["query"] for q in queries if q["cold_ms"] > COLD_TARGET_MS],
        "max_rows": max((q["rows"] or 0) for q in queries),
        "query_process_peak_rss_gib": round(queried.peak_rss_bytes / 2**30, 2),
        "query_process": queried.summary(),
    }
    return result


def monthly_again(work: Path, progress: Progress = print) -> dict:
    """Time the monthly build again on a bench size's work folder kept with ``--keep``: the
    warehouse of its history (history.duckdb) and its store, which holds the last month too.
    CPU share against the full build recorded in full.json beside it, if any."""
    target = work / "monthly.duckdb"
    report = work / "monthly.json"
    shutil.copyfile(work / "history.duckdb", target)
    measured = measure(
        [sys.executable, "-m", "huinong", "build", "--raw-dir", str(work / "store"),
         "--db", str(target), "--report", str(report), "--accept-jump"],
        progress=progress,
    )  # fmt: skip
    if measured.returncode != 0:
        raise BenchFailed(f"构建失败：\n{measured.output[-4000:]}")
    built = json.loads(report.read_text(encoding="utf-8"))
    result = {
        **measured.summary(),
        "mode": built["mode"],
        "full_build_reason": built["full_build_reason"],
        "stages_seconds": built["stages"],
        "stages_cpu_seconds": built["stages_cpu"],
        "models_cpu_seconds": built["models_cpu"],
        "tests_cpu_seconds": built.get("tests_cpu", {}),
    }
    full = work / "full_measured.json"
    if full.exists():
        full_cpu = json.loads(full.read_text(encoding="utf-8"))["cpu_seconds"]
        result["cpu_share_of_full_build"] = round(measured.cpu_seconds / full_cpu, 3)
    return result


def format_table(results: list[dict]) -> str:
    """Wall and CPU seconds side by side (wall/CPU), with the load average over the full build;
    the monthly build's are the mean of its two timings, before and after the full build."""
    header = (
        f"{'households':>11} {'generate s':>10} {'build s wall/cpu':>17} {'intake s':>11} "
        f"{'dbt s':>13} {'monthly s':>13} {'load':>11} {'peak GiB':>8} {'file MB':>8} "
        f"{'scores rows':>12} {'p95 max ms':>10} {'cold max ms':>11}"
    )
    lines = [header, "-" * len(header)]
    for result in results:
        build = result["build"]
        stages = build["stages_seconds"]
        cpu = build.get("stages_cpu_seconds", {})
        monthly = result["incremental_build"]
        lines.append(
            f"{result['households']:>11,} {result['generate']['seconds']:>10.1f} "
            f"{build['seconds']:>8.1f}/{build['cpu_seconds']:<8.1f} "
            f"{stages.get('intake', 0):>5.1f}/{cpu.get('intake', 0):<5.1f} "
            f"{stages.get('dbt', 0):>6.1f}/{cpu.get('dbt', 0):<6.1f} "
            f"{monthly.get('mean_seconds', monthly['seconds']):>6.1f}/"
            f"{monthly.get('mean_cpu_seconds', monthly['cpu_seconds']):<6.1f} "
            f"{build['load_start']:>5.2f}-{build['load_end']:<5.2f} "
            f"{max(build['peak_rss_gib'], result['generate']['peak_rss_gib']):>8.2f} "
            f"{build['file_bytes'] / 1e6:>8,.0f} {build['row_counts']['household_scores']:>12,} "
            f"{result['queries_summary']['max_warm_p95_ms']:>10.0f} "
            f"{result['queries_summary']['max_cold_ms']:>11.0f}"
        )
    return "\n".join(lines)


def run_bench(
    sizes: list[int],
    out: Path | None = None,
    seed: int = 20170901,
    progress: Progress = print,
    work_dir: Path | None = None,
    keep: bool = False,
) -> dict:
    root = Path(work_dir or tempfile.mkdtemp(prefix="huinong-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": machine(),
        "started_at": datetime.now().isoformat(timespec="seconds"),
        # 1, 5 and 15-minute load averages: the machine may be shared (compare CPU seconds).
        "load_average_start": [round(load, 2) for load in os.getloadavg()],
    }
    results = []
    try:
        for households in sizes:
            work = root / f"households-{households}"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            results.append(bench_size(households, seed, work, progress, keep))
            if not keep:
                shutil.rmtree(work, ignore_errors=True)
            report["results"] = results
            if out:
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    finally:
        if not keep and work_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    report["finished_at"] = datetime.now().isoformat(timespec="seconds")
    report["load_average_end"] = [round(load, 2) for load in os.getloadavg()]
    if out:
        out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    progress(format_table(results))
    return report


def intake_throughput(
    rows: int, work_dir: Path, progress: Progress = print, duplicates: int = 1_000_000
) -> dict[str, dict]:
    """Rows per second, CPU seconds and peak memory of load_raw, each case in its own process:
    a generated raw folder as CSV, the same with households as xlsx, and the CSV folder with
    ``duplicates`` more copies of one payment (a careless office's paste: the duplicate check
    must stay linear).

    ``python -m huinong.bench intake --rows 500000 --work-dir /tmp/intake-bench`` writes
    about ``rows`` household rows (and the loans, schedule and repayments that go with them).
    """
    import csv
    import datetime as dt

    import xlsxwriter

    from huinong.demo import generate
    from huinong.schema import RAW_FILES

    work_dir = Path(work_dir)
    folder = work_dir / "csv"
    generate(folder, households=max(rows // 3, 100), seed=20170901)
    results: dict[str, dict] = {}

    def timed(raw_dir: Path, label: str) -> None:
        measured = subprocess.run(
            [sys.executable, "-m", "huinong.bench", "intake-once", "--raw-dir", str(raw_dir),
             "--db", str(work_dir / f"{label}.duckdb")],
            cwd=REPO_ROOT, capture_output=True, text=True, check=True,
        )  # fmt: skip
        result = json.loads(measured.stdout.strip().splitlines()[-1])
        results[label] = result
        progress(
            f"{label}：{result['rows']:,} 行 {result['seconds']:.1f} 秒"
            f"（{result['rows_per_second']:,.0f} 行/秒），CPU {result['cpu_seconds']:.1f} 秒，"
            f"峰值内存 {result['peak_rss_bytes'] / 2**30:.2f} GiB；"
            f"households {result['households_rows_per_second']:,.0f} 行/秒"
        )

    timed(folder, "csv")
    duplicated = work_dir / "duplicates"
    shutil.copytree(folder, duplicated, dirs_exist_ok=True)
    with (duplicated / "repayments.csv").open("rb") as handle:
        handle.readline()
        payment = handle.readline()
    with (duplicated / "repayments.csv").open("ab") as handle:
        for _ in range(duplicates // 10_000):
            handle.write(payment * 10_000)
    timed(duplicated, "duplicates")
    xlsx = work_dir / "xlsx"
    shutil.copytree(folder, xlsx, dirs_exist_ok=True)
    (xlsx / "households.csv").unlink()
    kinds = {column.name: column.kind for column in RAW_FILES["households"].columns}
    workbook = xlsxwriter.Workbook(str(xlsx / "households.xlsx"), {"constant_memory": True})
    sheet = workbook.add_worksheet()
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    with (folder / "households.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        sheet.write_row(0, 0, header)
        for row_index, record in enumerate(reader, start=1):
            for column_index, (name, value) in enumerate(zip(header, record, strict=True)):
                if value == "":
                    continue
                if kinds[name] == "date":
                    sheet.write_datetime(
                        row_index, column_index, dt.datetime.fromisoformat(value), date_format
                    )
                elif kinds[name] in ("amount", "int"):
                    sheet.write_number(row_index, column_index, float(value))
                else:
                    sheet.write_string(row_index, column_index, value)
    workbook.close()
    timed(xlsx, "xlsx")
    return results


def intake_once(raw_dir: Path, db: Path) -> dict:
    """One load_raw in this process: rows, wall and CPU seconds, peak RSS (for intake_throughput)."""
    import resource

    import duckdb

    from huinong.intake import load_raw

    con = duckdb.connect(str(db), config={"threads": 2})
    marks: list[tuple[float, str]] = []
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    summary = load_raw(raw_dir, con, lambda message: marks.append((time.perf_counter(), message)))
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    con.close()
    total = sum(counts.rows_read for counts in summary.files)

    def mark(prefix: str) -> float:
        return next(at for at, message in marks if message.startswith(prefix))

    # households alone: its reading plus its validation.
    households = (mark("读取 loans") - mark("读取 households")) + (
        mark("校验 loans") - mark("校验 households")
    )
    rows_households = sum(c.rows_read for c in summary.files if c.source_file == "households")
    return {
        "rows": total,
        "seconds": round(seconds, 2),
        "rows_per_second": round(total / seconds),
        "cpu_seconds": round(
            after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2
        ),
        "peak_rss_bytes": after.ru_maxrss * 1024,
        "households_rows_per_second": round(rows_households / households),
        "rows_quarantined": summary.rows_quarantined,
    }


def preview_memory(megabytes: int, work_dir: Path, progress: Progress = print) -> dict:
    """Peak memory of the 数据管理 page's preview (the child process huinong.intake.isolated
    starts) of an upload of about ``megabytes`` MB of CSV files, into an empty store."""
    import resource

    from huinong.demo import generate
    from huinong.intake import preview_isolated

    work_dir = Path(work_dir)
    upload = work_dir / "upload"
    # About 1,270 bytes of raw files per household (bench/results.json: 126.8 MB at 100,000).
    generate(upload, households=max(int(megabytes * 1e6 / 1270), 100), seed=20170901)
    size = sum(path.stat().st_size for path in upload.iterdir())
    started = time.perf_counter()
    summary = preview_isolated(None, upload)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    result = {
        "upload_bytes": size,
        "rows": sum(counts.rows_read for counts in summary.files),
        "seconds": round(seconds, 1),
        "child_peak_rss_bytes": peak,
    }
    progress(
        f"预览 {size / 1e6:,.0f} MB 上传（{result['rows']:,} 行）：{seconds:.1f} 秒，"
        f"校验子进程峰值内存 {peak / 2**30:.2f} GiB"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m huinong.bench")
    commands = parser.add_subparsers(dest="command", required=True)
    queries = commands.add_parser("queries", help="time every dashboard query on one warehouse")
    queries.add_argument("--db", required=True)
    queries.add_argument("--out", required=True)
    queries.add_argument("--repeat", type=int, default=WARM_REPEATS)
    intake = commands.add_parser("intake", help="rows per second of the intake alone")
    intake.add_argument("--rows", type=int, required=True)
    intake.add_argument("--work-dir", required=True)
    intake.add_argument("--duplicates", type=int, default=1_000_000)
    once = commands.add_parser("intake-once", help="one intake run, as JSON (used by intake)")
    once.add_argument("--raw-dir", required=True)
    once.add_argument("--db", required=True)
    monthly = commands.add_parser(
        "monthly", help="time the monthly build again on a size kept by `huinong bench --keep`"
    )
    monthly.add_argument("--work-dir", required=True, help="e.g. <work>/households-100000")
    preview = commands.add_parser("preview", help="peak memory of an upload's preview")
    preview.add_argument("--mb", type=int, default=200)
    preview.add_argument("--work-dir", required=True)
    args = parser.parse_args(argv)
    if args.command == "intake":
        intake_throughput(args.rows, Path(args.work_dir), duplicates=args.duplicates)
        return 0
    if args.command == "intake-once":
        print(json.dumps(intake_once(Path(args.raw_dir), Path(args.db))))
        return 0
    if args.command == "monthly":
        try:
            result = monthly_again(Path(args.work_dir))
        except BenchFailed as error:
            print(error, file=sys.stderr)
            return 1
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    if args.command == "preview":
        preview_memory(args.mb, Path(args.work_dir))
        return 0
    results = time_queries(Path(args.db), args.repeat)
    Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
