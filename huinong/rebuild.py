"""Publishing a delivery: the warehouse is rebuilt from the raw store in the background.

``start_rebuild`` starts ``python -m huinong build --raw-dir STORE --db DB`` in a detached
process (its own session: it outlives the dashboard's script run, and a dashboard restart) and
returns at once. Four files next to the published warehouse tell how it is going:

- ``<db>.rebuild.events.jsonl``: the build's progress as events, one JSON object a line
  (``build --events``, huinong.warehouse.BuildEvents): the page's progress bar, stage and
  failure message are read from these, never from the wording of the log;
- ``<db>.rebuild.log``: the build's progress lines (stdout and stderr) for people, as it prints
  them;
- ``<db>.rebuild.json``: when it started, the supervising process's pid, and once it is over its
  exit status and when it finished;
- ``<db>.rebuild.lock``: the warehouse's one-writer lock (huinong.writer), held by the
  supervising process and the build for as long as either lives. No two builds run at once —
  rebuilds, cron and command-line builds take the same lock — and a rebuild whose processes are
  gone without an exit status (killed, out of memory) reads as failed, not as running forever.

The build itself publishes atomically (huinong.warehouse): until it swaps the new file in, the
dashboard keeps reading the previous warehouse, and a failed build leaves it untouched. The
dashboard notices the new file by its inode and mtime and shows it without a restart.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from huinong import REPO_ROOT, writer

State = Literal["idle", "running", "succeeded", "failed"]

BUSY_MESSAGE = "已有更新在进行中，请等待其完成后再发布。"
DIED_MESSAGE = (
    "更新进程意外中止（可能是内存不足或进程被结束），没有完成构建。"
    "看板仍显示原有数据；可稍后重新更新。"
)
CRASH_MESSAGE = "更新过程中发生程序错误，没有完成构建。看板仍显示原有数据；详情见更新日志 {log}。"
FAILED_PREFIX = "构建失败："
SUCCEEDED_MESSAGE = "更新完成，新数据已发布。"
PREPARING = "准备中"
PROGRESS_LINES_KEPT = 400
# How far along the bar each of the build's four stages starts (huinong.warehouse): the dbt
# stage (2) takes most of the time and moves the bar node by node.
STAGE_STARTS = {1: 0.02, 2: 0.15, 3: 0.9, 4: 0.95}


class RebuildBusy(Exception):
    """A rebuild is already running for this warehouse."""


@dataclass(frozen=True)
class RebuildStatus:
    """Where the latest rebuild of a warehouse stands."""

    state: State
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress_lines: list[str] = field(default_factory=list)
    message: str = ""
    stage: str = ""
    fraction: float = 0.0
    pid: int | None = None
    exit_code: int | None = None
    log_path: Path | None = None
    # The build refused to publish because headline figures moved too far (build --accept-jump).
    jump: bool = False

    @property
    def running(self) -> bool:
        return self.state == "running"


def store_path() -> Path:
    """The raw store the dashboard accepts deliveries into: $HUINONG_STORE, or data/raw_store."""
    configured = os.environ.get("HUINONG_STORE")
    return Path(configured) if configured else REPO_ROOT / "data" / "raw_store"


def log_path(db: Path) -> Path:
    db = Path(db)
    return db.with_name(db.name + ".rebuild.log")


def status_path(db: Path) -> Path:
    db = Path(db)
    return db.with_name(db.name + ".rebuild.json")


def events_path(db: Path) -> Path:
    db = Path(db)
    return db.with_name(db.name + ".rebuild.events.jsonl")


def lock_path(db: Path) -> Path:
    return writer.lock_path(db)


def _now() -> datetime:
    return datetime.now().astimezone().replace(microsecond=0)


def _write_json(path: Path, values: dict) -> None:
    """Whole or not at all: a reader never sees half a status file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(values, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(partial, path)


def _read_json(path: Path) -> dict | None:
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return values if isinstance(values, dict) else None


def start_rebuild(
    store: Path, db: Path, *, accept_jump: bool = False, by: str | None = None
) -> RebuildStatus:
    """Start rebuilding ``db`` from the raw store ``store`` in the background; return at once.

    ``accept_jump`` publishes even when headline figures moved beyond their bounds (a person
    confirmed the change); ``by`` names who started it, for the audit trail.
    Raises RebuildBusy when a rebuild or any other build of ``db`` is running.
    """
    store, db = Path(store).resolve(), Path(db).resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    descriptor = writer.open_lock(db)
    try:
        if not writer.try_lock(descriptor):
            raise RebuildBusy(BUSY_MESSAGE)
        started_at = _now()
        _write_json(
            status_path(db),
            {"started_at": started_at.isoformat(), "store": str(store), "db": str(db)},
        )
        # A fresh events file: what the previous rebuild reported must not show as this one's.
        events_path(db).write_bytes(b"")
        with log_path(db).open("wb") as log:
            log.write(f"{started_at:%Y-%m-%d %H:%M:%S} 开始更新：{store} → {db}\n".encode())
            log.flush()
            # The supervisor inherits the locked descriptor: the lock lives as long as it does.
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "huinong.rebuild",
                    "--store",
                    str(store),
                    "--db",
                    str(db),
                    "--lock-fd",
                    str(descriptor),
                    *(["--accept-jump"] if accept_jump else []),
                    *(["--by", by] if by else []),
                ],
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(descriptor,),
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
    finally:
        os.close(descriptor)
    # Reap the supervisor when it exits, so that no zombie is left in the dashboard's process.
    threading.Thread(target=process.wait, name="huinong-rebuild-reaper", daemon=True).start()
    return RebuildStatus(state="running", started_at=started_at, pid=process.pid)


def _supervise(
    store: Path, db: Path, lock_fd: int, accept_jump: bool = False, by: str | None = None
) -> int:
    """The detached process: run the build, then record its exit status."""
    status = _read_json(status_path(db)) or {}
    status["pid"] = os.getpid()
    _write_json(status_path(db), status)
    command = [
        sys.executable, "-m", "huinong", "build", "--raw-dir", str(store), "--db", str(db),
        "--events", str(events_path(db)), "--lock-fd", str(lock_fd),
        *(["--accept-jump"] if accept_jump else []), *(["--by", by] if by else []),
    ]  # fmt: skip
    try:
        completed = subprocess.run(
            command,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            pass_fds=(lock_fd,),
            check=False,
        )
        exit_code = completed.returncode
    except OSError as error:
        message = f"{FAILED_PREFIX}无法启动构建进程：{error}"
        print(message, flush=True)
        _append_event(db, {"event": "failed", "message": message})
        exit_code = 127
    status = _read_json(status_path(db)) or status
    status.update({"exit_code": exit_code, "finished_at": _now().isoformat()})
    _write_json(status_path(db), status)
    return exit_code


def _append_event(db: Path, event: dict) -> None:
    with events_path(db).open("a", encoding="utf-8") as events:
        events.write(json.dumps(event, ensure_ascii=False) + "\n")


def _read_events(path: Path) -> list[dict]:
    """The events the build wrote so far. A line that is not a whole JSON object (the last one,
    cut short by a build killed mid-write, or being written right now) is passed over."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    events = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("event"), str):
            events.append(event)
    return events


def _progress(events: list[dict]) -> tuple[str, float]:
    """The current stage, as the page shows it ("[2/4] 计算评分…"), and how far along the whole
    build is (0…1): where the stage starts, plus the dbt nodes finished within stage 2."""
    stage, stages, text, done, total = 0, 0, "", 0, 0
    for event in events:
        kind = event["event"]
        try:
            if kind == "stage":
                stage, stages = int(event["stage"]), int(event["stages"])
                text = str(event.get("text", ""))
            elif kind in ("model", "test"):
                done, total = int(event["done"]), int(event["total"])
        except (KeyError, TypeError, ValueError):
            continue  # an event of another shape tells nothing about the progress
    if stage == 0:
        return PREPARING, 0.01
    fraction = STAGE_STARTS.get(stage, (stage - 1) / max(stages, 1))
    if stage == 2 and total:
        fraction += (STAGE_STARTS[3] - STAGE_STARTS[2]) * min(done / total, 1.0)
    return f"[{stage}/{stages}] {text}", min(fraction, 0.99)


def _last(events: list[dict], kind: str) -> dict | None:
    return next((event for event in reversed(events) if event["event"] == kind), None)


def _failure_message(events: list[dict], exit_code: int | None, log: Path) -> str:
    """What went wrong, in the build's own words (its "failed" event), or what became of it."""
    failed = _last(events, "failed")
    if failed is not None:
        return str(failed.get("message") or "").strip() or CRASH_MESSAGE.format(log=log)
    if exit_code is None or exit_code < 0:
        return DIED_MESSAGE
    return CRASH_MESSAGE.format(log=log)


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return text.splitlines()


def _timestamp(text: object) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


def rebuild_status(db: Path) -> RebuildStatus:
    """The state of the latest rebuild of ``db``: idle (never rebuilt here), running,
    succeeded or failed, with its progress lines and, when over, what happened."""
    db = Path(db).resolve()
    # The lock first, the status second: a rebuild that released the lock has already written
    # its exit status, so "no lock and no exit status" can only mean it died.
    held = writer.is_held(db)
    status = _read_json(status_path(db))
    if status is None:
        return RebuildStatus(state="idle")
    lines = _read_lines(log_path(db))
    events = _read_events(events_path(db))
    stage, fraction = _progress(events)
    common = {
        "started_at": _timestamp(status.get("started_at")),
        "finished_at": _timestamp(status.get("finished_at")),
        "progress_lines": lines[-PROGRESS_LINES_KEPT:],
        "pid": status.get("pid"),
        "log_path": log_path(db),
    }
    exit_code = status.get("exit_code")
    if exit_code is None:
        if held:
            return RebuildStatus(state="running", stage=stage, fraction=fraction, **common)
        return RebuildStatus(
            state="failed",
            message=_failure_message(events, None, log_path(db)),
            stage=stage,
            fraction=fraction,
            **common,
        )
    if exit_code == 0:
        published = _last(events, "published")
        return RebuildStatus(
            state="succeeded",
            message=str(published["text"]) if published else SUCCEEDED_MESSAGE,
            stage=stage,
            fraction=1.0,
            exit_code=0,
            **common,
        )
    failed = _last(events, "failed")
    return RebuildStatus(
        state="failed",
        message=_failure_message(events, int(exit_code), log_path(db)),
        stage=stage,
        fraction=fraction,
        exit_code=int(exit_code),
        jump=bool(failed and failed.get("reason") == "jump"),
        **common,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m huinong.rebuild")
    parser.add_argument("--store", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--lock-fd", type=int, required=True)
    parser.add_argument("--accept-jump", action="store_true")
    parser.add_argument("--by", default=None)
    args = parser.parse_args(argv)
    with contextlib.suppress(OSError):
        os.set_inheritable(args.lock_fd, True)
    return _supervise(Path(args.store), Path(args.db), args.lock_fd, args.accept_jump, args.by)


if __name__ == "__main__":
    sys.exit(main())
