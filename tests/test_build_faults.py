"""Fault injection: a build killed (SIGKILL) at each stage, started from the 数据管理 page while a
command-line build races it. Afterwards the published warehouse is the latest successful build,
whole, and the next build succeeds without anyone cleaning up.

The build kills itself where ``HUINONG_BUILD_FAULT`` names (huinong.warehouse.FAULT_ENV); the
data are the hand-made contract folder, so each build takes seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from contract_folder import canonical, write_folder

from huinong import REPO_ROOT, rebuild, writer
from huinong.intake import accept_delivery
from huinong.warehouse import FAULT_ENV, FAULT_GATE_ENV, build

TIMEOUT = 180


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _wait(db: Path) -> rebuild.RebuildStatus:
    deadline = time.monotonic() + TIMEOUT
    while (status := rebuild.rebuild_status(db)).running:
        assert time.monotonic() < deadline, status.progress_lines[-5:]
        time.sleep(0.2)
    return status


def _cli_build(store: Path, db: Path, report: Path | None = None) -> subprocess.Popen:
    env = {
        key: value for key, value in os.environ.items() if key not in (FAULT_ENV, FAULT_GATE_ENV)
    }
    command = [sys.executable, "-m", "huinong", "build", "--raw-dir", str(store), "--db", str(db)]
    if report is not None:
        command += ["--report", str(report)]
    return subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _whole(db: Path) -> dict:
    """The published file opens alone (no WAL beside it) and holds a finished build."""
    assert not db.with_name(db.name + ".wal").exists()
    with duckdb.connect(str(db), read_only=True) as con:
        info = con.execute("select as_of, built_at, row_counts from build_info").fetchone()
        scores = con.execute("select count(*) from household_scores").fetchone()[0]
    assert scores == json.loads(info[2])["household_scores"] > 0
    return {"as_of": info[0], "built_at": info[1], "row_counts": json.loads(info[2])}


def _leftovers(db: Path) -> list[str]:
    return sorted(path.name for path in db.parent.iterdir() if ".building-" in path.name)


def test_a_build_killed_at_any_stage_never_hurts_the_published_warehouse(tmp_path, monkeypatch):
    store = tmp_path / "raw_store"
    accept_delivery(store, write_folder(tmp_path / "raw", canonical()), "湖滨农商行")
    db = tmp_path / "warehouse.duckdb"
    build(raw_dir=store, db_path=db)
    published = _digest(db)

    left: list[str] = []
    for stage in ("intake", "dbt", "build_info", "publish", "published"):
        gate = tmp_path / f"kill-{stage}"
        monkeypatch.setenv(FAULT_ENV, stage)
        monkeypatch.setenv(FAULT_GATE_ENV, str(gate))
        rebuild.start_rebuild(store, db)
        monkeypatch.delenv(FAULT_ENV)
        monkeypatch.delenv(FAULT_GATE_ENV)
        # The page's build holds the lock (it waits at its fault point until the gate opens)
        # while the command line tries to build.
        deadline = time.monotonic() + TIMEOUT
        while not writer.is_held(db):
            assert time.monotonic() < deadline, stage
            time.sleep(0.05)
        racing = _cli_build(store, db)
        _, racing_err = racing.communicate(timeout=TIMEOUT)
        gate.touch()
        status = _wait(db)
        # One writer: the command line found the page's build running and left it alone.
        assert racing.returncode == 1, stage
        assert racing_err.strip() == f"构建失败：{writer.BUSY_MESSAGE}", stage
        assert status.state == "failed" and "意外中止" in status.message, stage
        if left:
            # This build began by removing what the one killed before it had left.
            assert any(
                line.startswith("清理了中断的构建留下的文件") for line in status.progress_lines
            )
            assert not set(left) & set(_leftovers(db)), stage
        if stage == "published":
            # Killed right after the swap: the new file is in place, whole.
            assert _digest(db) != published
            published = _digest(db)
        else:
            assert _digest(db) == published, stage
        _whole(db)
        left = _leftovers(db)
        if stage in ("build_info", "publish"):
            assert left, stage  # what the killed build left, until the next build

    # The next build needs no manual step: it cleans up, publishes, and is what is published.
    report = tmp_path / "report.json"
    after = _cli_build(store, db, report)
    out, err = after.communicate(timeout=TIMEOUT)
    assert after.returncode == 0, err
    assert "构建完成" in out
    result = json.loads(report.read_text(encoding="utf-8"))
    assert _whole(db)["row_counts"] == result["row_counts"]
    assert db.stat().st_size == result["file_bytes"]
    assert _leftovers(db) == []


@pytest.fixture(autouse=True)
def _no_fault_leaks(monkeypatch):
    monkeypatch.delenv(FAULT_ENV, raising=False)
    monkeypatch.delenv(FAULT_GATE_ENV, raising=False)
