"""python -m huinong generate | build | deliver | deliveries | bench | briefing.

Every failure a user can meet ends in one Chinese line on stderr and a non-zero exit code, never
a traceback (set HUINONG_DEBUG=1 to see one). Deliveries, withdrawals and builds are written to
the audit trail (huinong.audit) as done by ``--by NAME``, or ``cli:<operating-system user>``.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
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


def _fail(message: str) -> int:
    print(message, file=sys.stderr, flush=True)
    return 1


def _actor(args: argparse.Namespace) -> str:
    if getattr(args, "by", None):
        return args.by
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # a container user without a passwd entry
        return "cli"


def _audit(event: str, actor: str, warehouse: Path | None, **details) -> None:
    """Record in the audit trail; a trail that cannot be written never fails the command."""
    from huinong.audit import AuditTrail, audit_path

    try:
        AuditTrail(audit_path(warehouse)).record(event, actor, **details)
    except Exception as error:  # noqa: BLE001 - sqlite, permissions, a full disk …
        # On stdout, the log: stderr keeps the one line that says how the command ended.
        _say(f"注意：审计日志写入失败（{type(error).__name__}）")


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
    from huinong.warehouse import BuildError, JumpRefused, build

    db = Path(args.db)
    with contextlib.ExitStack() as stack:
        events = _no_events
        if args.events:
            events = _EventFile(Path(args.events))
            stack.callback(events.close)
        try:
            result = build(
                raw_dir=Path(args.raw_dir),
                db_path=db,
                as_of=args.as_of,
                policy_file=Path(args.policy) if args.policy else None,
                progress=_say,
                incremental=not args.full,
                events=events,
                accept_jump=args.accept_jump,
                lock_fd=args.lock_fd,
            )
        except BuildError as error:
            message = f"构建失败：{error}"
            failed = {"event": "failed", "message": message}
            if isinstance(error, JumpRefused):
                failed["reason"] = "jump"
            events(failed)
            _audit("rebuild", _actor(args), db, outcome="failed", message=message[:500])
            return _fail(message)
    _audit(
        "rebuild",
        _actor(args),
        db,
        outcome="published",
        as_of=result.as_of,
        mode=result.mode,
        accepted_jump=args.accept_jump,
    )
    if args.report:
        Path(args.report).write_text(result.to_json(), encoding="utf-8")
    return 0


def _deliver(args: argparse.Namespace) -> int:
    from huinong.intake import IntakeError, accept_delivery, parse_accepted, preview_isolated

    store, source = Path(args.store), Path(args.source)
    try:
        # The same check, limits and report as the 数据管理 page's preview, in a child process.
        summary = preview_isolated(store, source)
        _say(summary.describe())
        delivery = accept_delivery(store, source, source_label=args.source_label)
    except IntakeError as error:
        return _fail(f"接收失败：{error}")
    _say(delivery.describe())
    if not delivery.already_accepted:
        try:
            # Parsed once now, so that every build reads the delivery's rows already validated.
            parse_accepted(delivery)
        except IntakeError as error:
            _say(f"报送已接收；校验结果未能保存（{error}），将在下一次构建时重新校验。")
    if not delivery.already_accepted:
        mine = [counts for counts in summary.files if counts.delivery_id == "待接收"]
        _audit(
            "upload",
            _actor(args),
            None,
            delivery=delivery.delivery_id,
            files=[item.name for item in delivery.files],
            rows=sum(counts.rows_read for counts in mine),
            source=args.source_label,
        )
    return 0


def _deliveries(args: argparse.Namespace) -> int:
    from huinong.intake import IntakeError, find_delivery, list_deliveries, withdraw_delivery
    from huinong.intake.summary import size_text

    store = Path(args.store)
    try:
        if args.action == "list":
            deliveries = list_deliveries(store)
            if not deliveries:
                _say(f"接收库 {store} 中还没有报送。")
            for delivery in deliveries:
                files = "、".join(item.name for item in delivery.files)
                line = (
                    f"{delivery.delivery_id}  {delivery.accepted_at:%Y-%m-%d %H:%M}  "
                    f"{delivery.status}  {delivery.source_label}  {files}"
                )
                if delivery.withdrawn:
                    line += f"  （{delivery.withdrawal_text()}）"
                _say(line)
            return 0
        if args.action == "show":
            delivery = find_delivery(store, args.delivery_id)
            _say(f"第 {delivery.delivery_id} 批报送（{delivery.status}）")
            _say(f"  接收时间：{delivery.accepted_at:%Y-%m-%d %H:%M:%S}")
            _say(f"  来源：{delivery.source_label}（{delivery.source_name}）")
            for item in delivery.files:
                _say(f"  文件：{item.name}（{size_text(item.size)}，SHA-256 {item.sha256[:16]}…）")
            if delivery.ignored:
                _say(f"  未接收的文件：{'、'.join(delivery.ignored)}")
            if delivery.withdrawn:
                _say(f"  {delivery.withdrawal_text()}")
            _say(f"  存放位置：{delivery.path}")
            return 0
        actor = _actor(args)
        delivery = withdraw_delivery(store, args.delivery_id, args.reason, actor)
    except IntakeError as error:
        return _fail(f"操作失败：{error}")
    _audit("withdraw", actor, None, delivery=delivery.delivery_id, reason=args.reason)
    _say(
        f"已撤回第 {delivery.delivery_id} 批报送（{delivery.withdrawal_text()}）。"
        "它仍保存在接收库中，之后的构建不再读取它；请重新构建数据仓库使撤回生效。"
    )
    return 0


def _bench(args: argparse.Namespace) -> int:
    from huinong.bench import BenchFailed, run_bench

    sizes = [int(size) for size in args.households.split(",") if size.strip()]
    try:
        run_bench(
            sizes,
            out=Path(args.out) if args.out else None,
            seed=args.seed,
            progress=_say,
            work_dir=Path(args.work_dir) if args.work_dir else None,
            keep=args.keep,
        )
    except BenchFailed as error:
        _say(str(error))
        return 1
    return 0


def _month(text: str) -> date:
    try:
        return date.fromisoformat(f"{text}-01")
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"月份格式应为 YYYY-MM：{text}") from error


def _briefing(args: argparse.Namespace) -> int:
    import logging

    import streamlit  # noqa: F401 - its loggers exist once it is imported

    # The dashboard's queries cache per Streamlit session; here there is none, and that is fine.
    logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)
    from huinong.briefing import BriefingError, PrintError, write_briefing

    try:
        out = write_briefing(Path(args.db), args.as_of, args.scope, Path(args.out))
    except (BriefingError, PrintError) as error:
        print(f"简报生成失败：{error}", file=sys.stderr, flush=True)
        return 1
    _say(f"月度简报已生成：{out}")
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
    build.add_argument(
        "--accept-jump",
        action="store_true",
        help="主要指标变化超出合理范围时仍然发布（已核对、确认变化无误）",
    )
    build.add_argument("--by", default=None, help="操作人（记入审计日志），默认为操作系统用户")
    # The page's background rebuild hands down the lock it took (huinong.writer).
    build.add_argument("--lock-fd", type=int, default=None, help=argparse.SUPPRESS)
    build.set_defaults(run=_build)

    deliver = commands.add_parser("deliver", help="把一批报送文件接收进数据接收库")
    deliver.add_argument("--store", required=True)
    deliver.add_argument("--source", required=True, help="报送文件夹或 zip")
    deliver.add_argument("--source-label", default="命令行", help="报送单位或来源说明")
    deliver.add_argument("--by", default=None, help="操作人（记入审计日志），默认为操作系统用户")
    deliver.set_defaults(run=_deliver)

    deliveries = commands.add_parser("deliveries", help="查看、撤回接收库中的报送")
    actions = deliveries.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="列出全部报送（含已撤回的）")
    listing.add_argument("--store", required=True)
    show = actions.add_parser("show", help="查看一批报送")
    show.add_argument("delivery_id", help="批次号，如 0003")
    show.add_argument("--store", required=True)
    withdraw = actions.add_parser("withdraw", help="撤回一批报送（保留在接收库中，构建不再读取）")
    withdraw.add_argument("delivery_id", help="批次号，如 0003")
    withdraw.add_argument("--store", required=True)
    withdraw.add_argument("--reason", required=True, help="撤回原因")
    withdraw.add_argument("--by", default=None, help="操作人（记入审计日志），默认为操作系统用户")
    deliveries.set_defaults(run=_deliveries)

    bench = commands.add_parser("bench", help="规模与速度测试")
    bench.add_argument("--households", default="10000,100000,1000000")
    bench.add_argument("--out", default=None)
    bench.add_argument("--seed", type=int, default=20170901)
    bench.add_argument("--work-dir", default=None, help="工作目录（默认临时目录）")
    bench.add_argument("--keep", action="store_true", help="保留生成的数据和仓库")
    bench.set_defaults(run=_bench)

    briefing = commands.add_parser("briefing", help="生成领导小组月度简报（PDF）")
    briefing.add_argument("--as-of", type=_month, required=True, help="统计月份 YYYY-MM")
    briefing.add_argument(
        "--scope", default="district", help="district（全区，默认）或 9 位乡镇代码"
    )
    briefing.add_argument("--db", required=True, help="数据仓库 DuckDB 文件")
    briefing.add_argument("--out", required=True, help="输出的 PDF 文件")
    briefing.set_defaults(run=_briefing)

    from huinong.auth.cli import add_users_command

    add_users_command(commands)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return _fail("已中断")
    except Exception as error:
        if os.environ.get("HUINONG_DEBUG"):
            raise
        return _fail(
            f"命令执行失败：程序内部错误（{type(error).__name__}）。"
            "请联系管理员（设置 HUINONG_DEBUG=1 可查看详情）"
        )
