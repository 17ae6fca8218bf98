"""The audit trail: one row per action, append-only, a hash chain that shows tampering."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from huinong import audit
from huinong.audit import AuditTrail, audit_path
from huinong.auth import User

T0 = datetime(2024, 6, 15, 8, 0, tzinfo=UTC)
office = User("jrb", "金融办", "office")
township = User("xz", "乡镇干部", "township", township_code="411202100")


@pytest.fixture
def trail(tmp_path) -> AuditTrail:
    return AuditTrail(tmp_path / "audit.sqlite")


def _a_day_of_work(trail: AuditTrail) -> None:
    trail.record("sign_in", office, at=T0, source="local")
    trail.record("upload", office, at=T0 + timedelta(minutes=5), delivery="0007", rows=1234)
    trail.record("publish", office, at=T0 + timedelta(minutes=6), delivery="0007")
    trail.record("rebuild", office, at=T0 + timedelta(minutes=7), outcome="ok")
    trail.record(
        "export",
        township,
        at=T0 + timedelta(days=1),
        report="credit_households",
        file_format="xlsx",
        scope="411202100",
        rows=321,
        full_ids=False,
    )
    trail.record("withdraw", office, at=T0 + timedelta(days=2), delivery="0007", reason="重报")
    trail.record("sign_out", office, at=T0 + timedelta(days=2))


def test_one_row_per_action_newest_first_with_chinese_labels(trail):
    _a_day_of_work(trail)
    events = trail.query()
    assert events.height == 7
    assert events["event"].to_list() == [
        "sign_out",
        "withdraw",
        "export",
        "rebuild",
        "publish",
        "upload",
        "sign_in",
    ]
    export = events.row(2, named=True)
    assert export["event_label"] == "导出"
    assert (export["username"], export["display_name"], export["role"]) == (
        "xz",
        "乡镇干部",
        "township",
    )
    assert export["township_code"] == "411202100"
    assert json.loads(export["details"]) == {
        "file_format": "xlsx",
        "full_ids": False,
        "report": "credit_households",
        "rows": 321,
        "scope": "411202100",
    }
    # Shown in the machine's local time.
    assert export["at"] == (T0 + timedelta(days=1)).astimezone().replace(tzinfo=None)


def test_query_filters_by_time_user_and_kind(trail):
    _a_day_of_work(trail)
    first_day = T0.astimezone().date()
    assert trail.query(until=first_day).height == 4
    assert trail.query(since=first_day + timedelta(days=1)).height == 3
    assert trail.query(since=T0 + timedelta(minutes=5), until=T0 + timedelta(minutes=6)).height == 2
    assert trail.query(username="xz")["event"].to_list() == ["export"]
    assert trail.query(events=["upload", "publish", "withdraw"]).height == 3
    assert trail.query(limit=2)["event"].to_list() == ["sign_out", "withdraw"]
    with pytest.raises(ValueError, match="unknown audit event"):
        trail.query(events="exported")
    empty = trail.query(username="nobody")
    assert empty.height == 0 and "event_label" in empty.columns


def test_the_chain_verifies_and_its_head_can_be_noted(trail):
    assert trail.verify() is None
    _a_day_of_work(trail)
    assert trail.verify() is None
    head = trail.head()
    assert head.rows == 7 and len(head.last_hash) == 64


def test_update_and_delete_are_refused(trail):
    _a_day_of_work(trail)
    con = sqlite3.connect(trail.path)
    with pytest.raises(sqlite3.DatabaseError, match="只能追加，不能修改"):
        con.execute("update audit_log set username = 'someone' where id = 5")
    with pytest.raises(sqlite3.DatabaseError, match="只能追加，不能删除"):
        con.execute("delete from audit_log where id = 5")
    con.close()
    assert trail.query(events="export")["username"].to_list() == ["xz"]


def _tamper(path: Path, *statements: str) -> None:
    # Someone with the file and the sqlite3 tool: drops the triggers first.
    con = sqlite3.connect(path)
    con.execute("drop trigger audit_log_no_update")
    con.execute("drop trigger audit_log_no_delete")
    for statement in statements:
        con.execute(statement)
    con.commit()
    con.close()


def test_an_edited_row_is_found(trail):
    _a_day_of_work(trail)
    _tamper(trail.path, "update audit_log set details = '{\"rows\": 3}' where id = 5")
    assert trail.verify() == 5


def test_an_edited_row_with_its_hash_recomputed_breaks_the_next_link(trail):
    _a_day_of_work(trail)
    con = sqlite3.connect(trail.path)
    values = con.execute("select * from audit_log where id = 5").fetchone()
    con.close()
    row = dict(zip(audit._COLUMNS, values, strict=True))
    row["username"] = "someone-else"
    forged = audit._row_hash(row)
    _tamper(
        trail.path,
        f"update audit_log set username = 'someone-else', hash = '{forged}' where id = 5",
    )
    assert trail.verify() == 6


def test_a_removed_row_is_found(trail):
    _a_day_of_work(trail)
    _tamper(trail.path, "delete from audit_log where id = 3")
    assert trail.verify() == 4


def test_credentials_never_enter_the_trail(trail):
    for key in ("password", "new_password", "client_secret", "token"):
        with pytest.raises(ValueError, match="credentials"):
            trail.record("sign_in", "xz", **{key: "x"})
    with pytest.raises(ValueError, match="unknown audit event"):
        trail.record("login", "xz")
    assert trail.head().rows == 0


def _append_many(path: str, who: str) -> None:
    other = AuditTrail(Path(path))
    for number in range(40):
        other.record("export", who, report="households", rows=number)


def test_two_processes_appending_at_once_keep_one_chain(trail):
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_append_many, args=(str(trail.path), who)) for who in ("a", "b")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert trail.head().rows == 80
    assert trail.verify() is None


def test_the_trail_lives_beside_the_warehouse_not_in_it(tmp_path, monkeypatch):
    monkeypatch.delenv("HUINONG_AUDIT", raising=False)
    warehouse = tmp_path / "data" / "warehouse.duckdb"
    assert audit_path(warehouse) == tmp_path / "data" / "audit.sqlite"
    monkeypatch.setenv("HUINONG_DB", str(warehouse))
    assert audit_path() == tmp_path / "data" / "audit.sqlite"
    monkeypatch.setenv("HUINONG_AUDIT", str(tmp_path / "elsewhere.sqlite"))
    audit.record("rebuild", "cli:root", as_of=date(2024, 6, 30), outcome="ok")
    assert audit.query(events="rebuild")["username"].to_list() == ["cli:root"]
    assert audit.verify() is None
    assert (tmp_path / "elsewhere.sqlite").exists()
