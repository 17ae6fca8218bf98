"""Builds that cannot hurt the published warehouse: one writer at a time, never over a newer
store state, never without households, never with a stray WAL beside it, never a headline jump
nobody confirmed, and every refusal in one Chinese line that names what to fix.

The store is the hand-made contract folder (tests/contract_folder.py), built once per module.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from contract_folder import canonical, find_row, write_csv, write_folder

from huinong import REPO_ROOT, writer
from huinong.intake import accept_delivery
from huinong.warehouse import BuildError, JumpRefused, build

# The sign-in accounts (accounts_env) for the dashboard test below.
pytest_plugins = ("dashboard_support",)


@dataclass(frozen=True)
class Site:
    store: Path
    db: Path


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Site:
    root = tmp_path_factory.mktemp("publishing")
    store = root / "raw_store"
    accept_delivery(store, write_folder(root / "first", canonical()), "湖滨农商行")
    db = root / "warehouse.duckdb"
    build(raw_dir=store, db_path=db)
    return Site(store, db)


@pytest.fixture
def site(base, tmp_path) -> Site:
    shutil.copytree(base.store, tmp_path / "raw_store")
    shutil.copyfile(base.db, tmp_path / "warehouse.duckdb")
    return Site(tmp_path / "raw_store", tmp_path / "warehouse.duckdb")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _huinong(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "huinong", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _scalar(db: Path, sql: str):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchone()[0]


# --- 6. One writer, and never over a newer store state ------------------------------------------


def test_a_build_while_another_holds_the_lock_fails_at_once(site, tmp_path) -> None:
    before = _digest(site.db)
    with writer.hold(site.db):
        result = _huinong("build", "--raw-dir", str(site.store), "--db", str(site.db))
    assert result.returncode == 1
    assert result.stderr.strip() == f"构建失败：{writer.BUSY_MESSAGE}"
    assert _digest(site.db) == before


def test_a_build_from_an_older_store_state_does_not_publish_over_a_newer(site, tmp_path) -> None:
    older = tmp_path / "older_store"
    shutil.copytree(site.store, older)
    update = tmp_path / "update"
    update.mkdir()
    write_csv(
        update / "loans.csv", "loans", [dict(find_row(canonical(), "loans", "L002"), bank="新银行")]
    )
    accept_delivery(site.store, update, "银行更正")
    build(raw_dir=site.store, db_path=site.db)
    state = json.loads(_scalar(site.db, "select store_state from build_info"))
    assert (state["deliveries"], state["withdrawn"]) == (["0001", "0002"], [])
    assert sorted(state["digests"]) == ["0001", "0002"]
    published = _digest(site.db)
    with pytest.raises(BuildError) as refused:
        build(raw_dir=older, db_path=site.db)
    assert str(refused.value).startswith(
        "已发布的数据仓库读取过本次构建没有读到的数据（第 0002 批报送）"
    )
    assert _digest(site.db) == published


# --- 7. A required file without rows ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("households", "problem"),
    [
        (
            [],
            "农户信用信息采集表（households）没有任何数据行（只有表头或是空文件）：households.csv",
        ),
        (
            [dict(row, head_name="") for row in canonical()["households"]],
            "农户信用信息采集表（households）全部 5 行都被隔离：households.csv",
        ),
    ],
)
def test_a_households_file_without_usable_rows_refuses_the_publish(
    site, tmp_path, households, problem
) -> None:
    data = canonical()
    data["households"] = households
    folder = write_folder(tmp_path / "raw", data)
    before = _digest(site.db)
    result = _huinong("build", "--raw-dir", str(folder), "--db", str(site.db))
    assert result.returncode == 1
    assert result.stderr.strip().startswith(f"构建失败：{problem}。发布后看板将没有这部分数据")
    assert _digest(site.db) == before


# --- 9. Leftovers of dead builds, an unwritable folder, dbt's failures -------------------------


def test_the_next_build_removes_what_dead_builds_left(site, tmp_path) -> None:
    dead = 2**22 + 12345  # above the default pid_max: no such process
    folder = site.db.parent
    leftovers = [
        folder / f".warehouse.duckdb.building-{dead}",
        folder / f".warehouse.duckdb.building-{dead}.wal",
        folder / f".warehouse.duckdb.building-{dead}-full",
    ]
    for path in leftovers:
        path.write_bytes(b"half a warehouse")
    spill = folder / f"..warehouse.duckdb.building-{dead}.spill"
    spill.mkdir()
    (spill / "block.tmp").write_bytes(b"x")
    work = Path(tempfile.gettempdir()) / f"huinong-intake-{dead}-abc"
    work.mkdir()
    # Any build cleans up first, even one that then fails (no households here).
    data = canonical()
    data["households"] = []
    with pytest.raises(BuildError):
        build(raw_dir=write_folder(tmp_path / "raw", data), db_path=site.db)
    assert not any(path.exists() for path in [*leftovers, spill, work])
    assert {path.name for path in folder.iterdir()} - {"raw", "raw_store"} == {
        "warehouse.duckdb",
        "warehouse.duckdb.rebuild.lock",
    }


def test_an_unwritable_warehouse_folder_is_said_in_chinese(site) -> None:
    if os.geteuid() == 0:
        folder = Path("/proc/sys")  # read-only even for root
    else:
        folder = site.db.parent / "readonly"
        folder.mkdir()
        folder.chmod(0o555)
    result = _huinong("build", "--raw-dir", str(site.store), "--db", str(folder / "w.duckdb"))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"构建失败：数据仓库所在的文件夹 {folder} 不允许写入，无法构建。"
        "请让管理员给运行构建的账户开放该文件夹的写权限后重试；已发布的数据仓库没有改动"
    )


def test_a_model_that_fails_is_named_in_chinese_without_dbt_words(site, tmp_path) -> None:
    policy = tmp_path / "bad_policy.yml"
    policy.write_text("village_breaker_rate_pct: 三\n", encoding="utf-8")
    result = _huinong(
        "build", "--raw-dir", str(site.store), "--db", str(site.db), "--policy", str(policy)
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("构建失败：计算 ")
    # The model that computes the village breaker rate (R-B2) is named.
    assert "village" in lines[0] and "时出错" in lines[0] and "数据仓库没有改动" in lines[0]
    assert not any(word in lines[0] for word in ("Error", "Binder", "Catalog", "Traceback"))
    # dbt's own words are in the log (stdout) for whoever investigates.
    assert "详情：" in result.stdout


# --- 5. A stray WAL beside the published warehouse ---------------------------------------------


def _crash_a_writer(db: Path) -> None:
    """Open the published file for writing, change it, and die before a checkpoint: a WAL is
    left beside it, as an administrator's crashed session would leave it."""
    script = (
        "import duckdb, os, signal, sys\n"
        "con = duckdb.connect(sys.argv[1])\n"
        "con.execute(\"update build_info set built_at = timestamp '1999-01-01 00:00:00'\")\n"
        "con.execute('delete from household_scores')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    crashed = subprocess.run([sys.executable, "-c", script, str(db)], check=False)
    assert crashed.returncode == -signal.SIGKILL
    assert db.with_name(db.name + ".wal").exists()


def test_a_build_sets_a_stray_wal_aside_and_publishes_a_whole_file(site) -> None:
    _crash_a_writer(site.db)
    messages: list[str] = []
    build(raw_dir=site.store, db_path=site.db, progress=messages.append)
    folder = site.db.parent
    assert not (folder / "warehouse.duckdb.wal").exists()
    kept = [path.name for path in folder.iterdir() if ".wal.stray-" in path.name]
    assert len(kept) == 1
    assert any(f"已移到 {kept[0]} 保存" in message for message in messages)
    assert _scalar(site.db, "select year(built_at) from build_info") > 1999
    assert _scalar(site.db, "select count(*) from household_scores") > 0


def test_the_dashboard_never_replays_a_stray_wal(site, accounts_env, monkeypatch) -> None:
    pytest.register_assert_rewrite("dashboard_support")
    from dashboard_support import open_app

    from huinong import data

    _crash_a_writer(site.db)
    monkeypatch.setenv("HUINONG_DB", str(site.db))
    assert data.current_warehouse() is None
    problem = data.warehouse_problem()
    assert problem.startswith(
        "数据仓库文件旁有一个中断的写入留下的日志文件（warehouse.duckdb.wal）"
    )
    at = open_app("overview")
    assert problem in [item.value for item in at.error]
    # The file itself is as published: nothing replayed the WAL into it.
    os.replace(site.db.with_name("warehouse.duckdb.wal"), site.db.parent / "kept.wal")
    assert _scalar(site.db, "select year(built_at) from build_info") > 1999


# --- 8. Headline figures that jump ---------------------------------------------------------------


def _big_loan(folder: Path) -> Path:
    """A new household loan of 900,000 元 with its plan: the district's outstanding balance
    (35,000 元 on 2024-06-30) grows 26-fold."""
    folder.mkdir()
    loan = dict(
        find_row(canonical(), "loans", "L001"),
        loan_id="L005",
        amount="900000.00",
        disbursed_on="2024-06-25",
        maturity_on="2025-06-25",
    )
    write_csv(folder / "loans.csv", "loans", [loan])
    write_csv(
        folder / "schedule.csv",
        "schedule",
        [{"loan_id": "L005", "installment_no": "1", "due_on": "2025-06-25",
          "principal_due": "900000.00", "interest_due": "39150.00"}],
    )  # fmt: skip
    return folder


def test_a_headline_jump_is_refused_until_confirmed(site, tmp_path) -> None:
    accept_delivery(site.store, _big_loan(tmp_path / "big"), "某信用社")
    before = _digest(site.db)
    events = tmp_path / "events.jsonl"
    result = _huinong(
        "build", "--raw-dir", str(site.store), "--db", str(site.db), "--events", str(events)
    )
    assert result.returncode == 1
    message = result.stderr.strip()
    assert message.startswith(
        "构建失败：与已发布的数据（统计截止日 2024-06-30）相比，本次构建（统计截止日 2024-06-30）"
        "的主要指标变化超出合理范围，本次未发布："
    )
    assert "- 贷款余额：35,000.00 元 → 935,000.00 元（+2571.4%，允许 ±30%）" in message
    assert "第 0002 批报送 loans.csv：+900,000.00 元（1 条记录，如 L005 第 1 行）" in message
    assert "评级农户" not in message
    failed = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines()][-1]
    assert failed == {"event": "failed", "message": message, "reason": "jump"}
    assert _digest(site.db) == before

    with pytest.raises(JumpRefused):
        build(raw_dir=site.store, db_path=site.db)
    result = build(raw_dir=site.store, db_path=site.db, accept_jump=True)
    assert (
        _scalar(
            site.db,
            "select outstanding_balance from kpi_monthly where scope_level = 'district' "
            "and as_of = (select max(as_of) from kpi_monthly)",
        )
        == 935_000
    )
    assert result.as_of.isoformat() == "2024-06-30"
