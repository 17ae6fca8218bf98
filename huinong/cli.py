"""python -m huinong generate | build | deliver | bench."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from datetime import date
from pathlib import Path


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"日期格式应为 YYYY-MM-DD：{text}") from error


def _say(message: str) -> None:
    print(message, flush=True)


def _generate(args: argparse.Namespace) -> int:
    from huinong.demo import generate

    try:
        counts = generate(
            out_dir=Path(args.out),
            households=args.households,
            seed=args.seed,
            start=args.start,
            end=args.end,
            progress=_say,
        )
    except ValueError as error:
        print(f"生成失败：{error}", file=sys.stderr, flush=True)
        return 1
    for name, rows in counts.items():
        _say(f"  {name}: {rows:,} 行")
    return 0


class _EventFile:
    """One JSON object a line, flushed as it happens, for a program to follow the build
    (huinong.rebuild). A reader may meet a last line cut short by a killed build."""

    def __init__(self, path: Path):
        self.file = path.open("w", encoding="utf-8")
        # dbt reports finished nodes from several threads.
        self.lock = threading.Lock()

    def __call__(self, event: dict) -> None:
        line = json.dumps(event, ensure_ascii=False, default=str)
        with self.lock:
            self.file.write(line + "\n")
            self.file.flush()

    def close(self) -> None:
        self.file.close()


def _no_events(_event: dict) -> None:
    pass


def _build(args: argparse.Namespace) -> int:
    from huinong.warehouse import BuildError, build

    with contextlib.ExitStack() as stack:
        events = _no_events
        if args.events:
            events = _EventFile(Path(args.events))
            stack.callback(events.close)
        try:
            result = build(
                raw_dir=Path(args.raw_dir),
                db_path=Path(args.db),
                as_of=args.as_of,
                policy_file=Path(args.policy) if args.policy else None,
                progress=_say,
                incremental=not args.full,
                events=events,
            )
        except BuildError as error:
            message = f"构建失败：{error}"
            print(message, file=sys.stderr, flush=True)
            events({"event": "failed", "message": message})
            return 1
    if args.report:
        Path(args.report).write_text(result.to_json(), encoding="utf-8")
    return 0


def _deliver(args: argparse.Namespace) -> int:
    from huinong.intake import IntakeError, accept_delivery

    try:
        delivery = accept_delivery(
            Path(args.store), Path(args.source), source_label=args.source_label
        )
    except IntakeError as error:
        print(f"接收失败：{error}", file=sys.stderr, flush=True)
        return 1
    _say(delivery.describe())
    return 0


def _bench(args: argparse.Namespace) -> int:
    from huinong.bench import run_bench

    sizes = [int(size) for size in args.households.split(",") if size.strip()]
    run_bench(
        sizes,
        out=Path(args.out) if args.out else None,
        seed=args.seed,
        progress=_say,
        work_dir=Path(args.work_dir) if args.work_dir else None,
        keep=args.keep,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m huinong", description="惠农信用看板 命令行")
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="生成演示用原始数据文件夹")
    generate.add_argument("--households", type=int, default=20000)
    generate.add_argument("--seed", type=int, default=20170901)
    generate.add_argument("--out", required=True)
    generate.add_argument("--start", type=_date, default=date(2017, 9, 1))
    generate.add_argument("--end", type=_date, default=date(2026, 10, 31))
    generate.set_defaults(run=_generate)

    build = commands.add_parser("build", help="由原始数据构建并发布数据仓库")
    build.add_argument(
        "--raw-dir", required=True, help="原始数据文件夹，或数据接收库（含 deliveries/）"
    )
    build.add_argument("--db", required=True, help="发布的 DuckDB 文件")
    build.add_argument(
        "--as-of", type=_date, default=None, help="统计截止日，默认取数据中的最晚日期"
    )
    build.add_argument("--policy", default=None, help="政策参数文件（YAML），默认湖滨区参数")
    build.add_argument("--report", default=None, help="把各阶段用时、行数写入此 JSON 文件")
    build.add_argument(
        "--full", action="store_true", help="全量构建（默认在只新增了当月数据时按月增量构建）"
    )
    build.add_argument(
        "--events", default=None, help="另把构建进度逐行写成 JSON 事件到此文件（供程序读取）"
    )
    build.set_defaults(run=_build)

    deliver = commands.add_parser("deliver", help="把一批报送文件接收进数据接收库")
    deliver.add_argument("--store", required=True)
    deliver.add_argument("--source", required=True, help="报送文件夹或 zip")
    deliver.add_argument("--source-label", default="命令行", help="报送单位或来源说明")
    deliver.set_defaults(run=_deliver)

    bench = commands.add_parser("bench", help="规模与速度测试")
    bench.add_argument("--households", default="10000,100000,1000000")
    bench.add_argument("--out", default=None)
    bench.add_argument("--seed", type=int, default=20170901)
    bench.add_argument("--work-dir", default=None, help="工作目录（默认临时目录）")
    bench.add_argument("--keep", action="store_true", help="保留生成的数据和仓库")
    bench.set_defaults(run=_bench)

    from huinong.auth.cli import add_users_command

    add_users_command(commands)

    args = parser.parse_args(argv)
    return args.run(args)
