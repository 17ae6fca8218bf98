"""Publishing in the background (huinong.rebuild) on a tiny real store: a rebuild runs, reports
its progress, publishes a new warehouse file; never two at once; a failed or killed rebuild
says so and leaves the published warehouse as it was."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import time
from pathlib import Path

import pytest

pytest.register_assert_rewrite("dashboard_support")
from dashboard_support import (  # noqa: E402
    NEW_HOUSEHOLDS,
    build_tiny_store,
    districts_rated,
    write_next_delivery,
)

from huinong import rebuild  # noqa: E402
from huinong.intake import accept_delivery  # noqa: E402

pytest_plugins = ("dashboard_support",)

REBUILD_TIMEOUT = 300


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_store(tmp_path_factory.mktemp("rebuild_base"))


@pytest.fixture
def store(tiny, tmp_path):
    return tiny.copy(tmp_path / "site")


def wait_until_over(db: Path, timeout: float = REBUILD_TIMEOUT) -> rebuild.RebuildStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = rebuild.rebuild_status(db)
        if not status.running:
            return status
        assert time.monotonic() < deadline, status.progress_lines[-5:]
        time.sleep(0.3)


def fingerprint(path: Path) -> tuple[int, int, str]:
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_warehouse_never_rebuilt_here_is_idle(tmp_path):
    status = rebuild.rebuild_status(tmp_path / "warehouse.duckdb")
    assert status.state == "idle" and not status.running


def test_a_rebuild_runs_in_the_background_and_publishes_a_new_file(store, tmp_path):
    before_rated = districts_rated(store.db)
    before_inode = store.db.stat().st_ino
    accept_delivery(
        store.store, write_next_delivery(store.raw_dir, tmp_path / "next").parent, "上村村委会"
    )

    started = rebuild.start_rebuild(store.store, store.db)
    assert started.state == "running" and started.pid
    status = rebuild.rebuild_status(store.db)
    assert status.state == "running" and status.started_at is not None
    # While it runs, the dashboard's file is the previous one.
    assert store.db.stat().st_ino == before_inode
    with pytest.raises(rebuild.RebuildBusy, match="已有更新在进行中"):
        rebuild.start_rebuild(store.store, store.db)

    status = wait_until_over(store.db)
    assert status.state == "succeeded", status.message
    assert "构建完成" in status.message
    assert status.finished_at >= status.started_at
    assert status.fraction == 1.0
    # The log keeps the build's lines for people; the status was read from its events.
    assert any(line.startswith("[4/4] 发布") for line in status.progress_lines)
    events = [json.loads(line) for line in rebuild.events_path(store.db).read_text().splitlines()]
    assert [event["stage"] for event in events if event["event"] == "stage"] == [1, 1, 2, 3, 4]
    assert events[-1]["event"] == "published" and events[-1]["text"] == status.message
    nodes = [event for event in events if event["event"] in ("model", "test")]
    assert [event["done"] for event in nodes] == list(range(1, len(nodes) + 1))
    assert {event["total"] for event in nodes} == {len(nodes)}
    assert "household_scores" in {event["name"] for event in nodes if event["event"] == "model"}
    assert store.db.stat().st_ino != before_inode
    assert districts_rated(store.db) == before_rated + NEW_HOUSEHOLDS
    # The lock went with the processes: the next rebuild may start.
    rebuild.start_rebuild(store.store, store.db)
    assert wait_until_over(store.db).state == "succeeded"


def test_progress_is_read_from_the_build_stages(store):
    rebuild.start_rebuild(store.store, store.db)
    fractions = []
    deadline = time.monotonic() + REBUILD_TIMEOUT
    while (status := rebuild.rebuild_status(store.db)).running:
        fractions.append(status.fraction)
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert status.state == "succeeded"
    assert fractions and fractions == sorted(fractions)
    assert all(0 < fraction < 1 for fraction in fractions)


def test_a_cut_short_last_event_does_not_break_the_status(tmp_path):
    """A build killed mid-write leaves half a JSON line: the status reads the whole events
    before it, and never the log's wording."""
    db = tmp_path / "warehouse.duckdb"
    rebuild.status_path(db).write_text(
        json.dumps({"started_at": "2026-11-01T08:00:00+08:00"}), encoding="utf-8"
    )
    # The log says other things than the events: the page must follow the events.
    rebuild.log_path(db).write_text(
        "[3/4] 记录构建信息\n构建失败：这是日志里的话\n", encoding="utf-8"
    )
    whole = [
        {"event": "stage", "stage": 1, "stages": 4, "text": "读取原始数据：raw"},
        {"event": "message", "text": "统计截止日：2026-10-31"},
        {"event": "stage", "stage": 2, "stages": 4, "text": "计算评分、贷款状态、熔断与汇总（dbt）"},
        {"event": "model", "done": 30, "total": 120, "name": "household_scores",
         "resource": "model", "status": "success", "seconds": 2.0},
        {"event": "test", "done": 60, "total": 120, "name": "unique_x", "status": "pass"},
    ]  # fmt: skip
    text = "".join(json.dumps(event, ensure_ascii=False) + "\n" for event in whole)
    rebuild.events_path(db).write_text(text + '{"event": "model", "done": 6', encoding="utf-8")

    lock = os.open(rebuild.lock_path(db), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the build, still running
        status = rebuild.rebuild_status(db)
        assert status.state == "running"
        assert status.stage == "[2/4] 计算评分、贷款状态、熔断与汇总（dbt）"
        # Stage 2 runs from 15% to 90% of the bar; half its nodes are done.
        assert status.fraction == pytest.approx(0.15 + 0.75 * 60 / 120)
    finally:
        os.close(lock)

    # Killed: the lock went with it, and no exit status was written.
    status = rebuild.rebuild_status(db)
    assert status.state == "failed"
    assert status.message == rebuild.DIED_MESSAGE
    assert status.stage.startswith("[2/4]")

    # A build that failed says why in its last event, which the page shows as it is.
    failed = {"event": "failed", "message": "构建失败：第 3 批报送缺少文件 loans.csv"}
    rebuild.events_path(db).write_text(
        text + json.dumps(failed, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    rebuild.status_path(db).write_text(
        json.dumps({"started_at": "2026-11-01T08:00:00+08:00", "exit_code": 1}), encoding="utf-8"
    )
    status = rebuild.rebuild_status(db)
    assert status.state == "failed" and status.exit_code == 1
    assert status.message == "构建失败：第 3 批报送缺少文件 loans.csv"


def test_a_failed_rebuild_says_why_and_leaves_the_warehouse_unchanged(store, tmp_path):
    before = fingerprint(store.db)
    delivery = accept_delivery(
        store.store, write_next_delivery(store.raw_dir, tmp_path / "next").parent, "上村村委会"
    )
    # A file of the accepted delivery disappears from the store (a disk problem, a careless
    # clean-up): the build cannot read it.
    (delivery.path / "households.csv").unlink()

    rebuild.start_rebuild(store.store, store.db)
    status = wait_until_over(store.db)
    assert status.state == "failed"
    assert status.exit_code == 1
    assert status.message.startswith("构建失败：")
    assert f"第 {delivery.delivery_id} 批报送缺少文件 households.csv" in status.message
    assert "Traceback" not in status.message
    assert fingerprint(store.db) == before


def test_a_rebuild_whose_processes_died_reads_as_failed(store, tmp_path):
    before = fingerprint(store.db)
    started = rebuild.start_rebuild(store.store, store.db)
    # Wait until the build is under way, then kill the supervisor and the build (their own
    # process group, started by this test), as the kernel's OOM killer or a reboot would.
    deadline = time.monotonic() + REBUILD_TIMEOUT
    while not rebuild.rebuild_status(store.db).stage.startswith("[2/4]"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.killpg(started.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while (status := rebuild.rebuild_status(store.db)).running:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status.state == "failed"
    assert "意外中止" in status.message
    assert fingerprint(store.db) == before
    # The half-built file the build left is its own (.building-<pid>), never the published one;
    # the lock died with the processes, so the next rebuild starts and publishes.
    rebuild.start_rebuild(store.store, store.db)
    assert wait_until_over(store.db).state == "succeeded"
    assert fingerprint(store.db)[0] != before[0]
