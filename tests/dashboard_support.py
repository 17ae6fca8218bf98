"""Helpers for the dashboard's tests: run the app in AppTest or as a real server, signed in as
one of the test accounts (one per role, in a temporary account store), and ask the marts
directly (never through huinong.data) for the values a user should see."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from huinong import REPO_ROOT
from huinong.audit import AuditTrail
from huinong.auth import Accounts, User
from huinong.format import WORD_JOINER
from huinong.pagebench import free_port, streamlit_server  # noqa: F401 - used by the tests

APP = REPO_ROOT / "app.py"

# The app hides error details from users (.streamlit/config.toml); a failing test shows them.
st.config.set_option("client.showErrorDetails", "full")
PAGE_FILES = {
    "overview": None,
    "grades": "pages/grades.py",
    "breaker": "pages/breaker.py",
    "village": "pages/village.py",
    "exports": "pages/exports.py",
    "data": "pages/data.py",
    "audit": "pages/audit.py",
    "users": "pages/users.py",
    "help": "pages/help.py",
}


@pytest.fixture(scope="session")
def dashboard_db(warehouse_path, tmp_path_factory) -> Iterator[Path]:
    """The session's demo warehouse, copied, so that nothing the dashboard's tests do (a
    republished file, a connection the app keeps open) touches the other tests' warehouse."""
    copy = tmp_path_factory.mktemp("dashboard") / "warehouse.duckdb"
    shutil.copyfile(warehouse_path, copy)
    yield copy
    st.cache_resource.clear()
    st.cache_data.clear()


# Test accounts only, in a temporary store: no deployment has them.
PASSWORD = "Lianxi-2024-test"


@dataclass(frozen=True)
class RoleAccounts:
    """The session's account store and audit trail, one signed-in account per role."""

    accounts: Path
    audit: Path
    users: dict[str, User]  # role → user
    township: str
    village: str
    other_township: str

    def env(self) -> dict[str, str]:
        return {"HUINONG_ACCOUNTS": str(self.accounts), "HUINONG_AUDIT": str(self.audit)}

    def trail(self) -> AuditTrail:
        return AuditTrail(self.audit)

    def store(self) -> Accounts:
        return Accounts(self.accounts, audit=self.trail())


def create_accounts(folder: Path, db_path: Path) -> RoleAccounts:
    """One account per role (password PASSWORD, no forced change); the 乡镇 account on the
    demo's first township, the 村 account on its first village."""
    townships = [
        row[0]
        for row in query(
            db_path, "select distinct township_code from main.township_breaker order by 1"
        )
    ]
    village = scalar(
        db_path,
        "select min(village_code) from main.village_breaker where township_code = ?",
        [townships[0]],
    )
    users = {
        "office": User("jrb", "金融办甲", "office"),
        "leader": User("ld", "领导乙", "leader"),
        "township": User("xz", "乡镇丙", "township", township_code=townships[0]),
        "village": User("cun", "村干部丁", "village", village_code=village),
        "bank": User("yh", "信贷员戊", "bank"),
        "auditor": User("sj", "审计员己", "auditor"),
    }
    made = RoleAccounts(
        folder / "accounts.sqlite",
        folder / "audit.sqlite",
        users,
        townships[0],
        village,
        townships[1],
    )
    store = made.store()
    for user in users.values():
        store.add(user, actor="test", password=PASSWORD, must_change_password=False)
    return made


@pytest.fixture(scope="session")
def test_accounts(dashboard_db, tmp_path_factory) -> RoleAccounts:
    return create_accounts(tmp_path_factory.mktemp("accounts"), dashboard_db)


@pytest.fixture
def accounts_env(test_accounts, monkeypatch) -> RoleAccounts:
    """HUINONG_ACCOUNTS and HUINONG_AUDIT pointing at the session's test accounts."""
    for name, value in test_accounts.env().items():
        monkeypatch.setenv(name, value)
    return test_accounts


@pytest.fixture
def app_db(dashboard_db, accounts_env, monkeypatch) -> Path:
    """HUINONG_DB pointing at the dashboard's copy of the demo warehouse (and the accounts)."""
    monkeypatch.setenv("HUINONG_DB", str(dashboard_db))
    return dashboard_db


def query(db_path: Path, sql: str, params: dict | list | None = None) -> list[tuple]:
    """Rows of a query on the warehouse, on a connection of the test's own."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(sql, params or {}).fetchall()


def scalar(db_path: Path, sql: str, params: dict | list | None = None):
    return query(db_path, sql, params)[0][0]


def latest_as_of(db_path: Path) -> date:
    return scalar(db_path, "select max(as_of) from main.kpi_monthly")


def sign_in(at: AppTest, username: str, password: str = PASSWORD) -> AppTest:
    """Type the user name and password into the sign-in form and press 登录."""
    at.text_input(key="sign_in_username").input(username)
    at.text_input(key="sign_in_password").input(password)
    next(button for button in at.button if button.label == "登录").click()
    at.run()
    return at


def open_app(
    page: str = "overview",
    params: dict[str, str] | None = None,
    timeout: float = 120,
    user: str = "jrb",
) -> AppTest:
    """The app on one page, like a browser opening /<page>?<params>: the sign-in form (as
    ``user``) on that page's URL, then the page itself; the URL is read on the first run after
    the sign-in, as a new session reads it."""
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.run()
    if PAGE_FILES[page]:
        at.switch_page(PAGE_FILES[page])
        at.run()
    assert not at.exception, [item.value for item in at.exception]
    assert [item.label for item in at.button][:1] == ["登录"], "no sign-in form"
    sign_in(at, user)
    assert not at.exception, [item.value for item in at.exception]
    return at


def rendered(markdown: str) -> str:
    """Markdown source as a person reads it: escaped punctuation (``\\.``) as the character,
    without the invisible word joiners that keep http:// from becoming a link."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace(WORD_JOINER, "")


def metric(at: AppTest, label: str) -> str:
    """The value shown on the KPI card with this label."""
    matches = [item for item in at.metric if item.label == label]
    assert matches, f"no card {label!r}: {[item.label for item in at.metric]}"
    return matches[0].value


def metric_delta(at: AppTest, label: str) -> str:
    return next(item for item in at.metric if item.label == label).proto.delta


def table(at: AppTest, title: str):
    """The rows of the table with this title (its accessible name), as pandas."""
    matches = [frame for frame in at.dataframe if frame.proto.alt == title]
    assert matches, f"no table {title!r}: {[frame.proto.alt for frame in at.dataframe]}"
    return matches[0].value


def select_row(at: AppTest, key: str, row: int) -> AppTest:
    """Click a row of a selectable table (its selection state), then rerun like a click does."""
    at.session_state[key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, [item.value for item in at.exception]
    return at


# ── small raw stores for publishing and rebuilding ────────────────────────────────────────────

TINY_HOUSEHOLDS = 200
NEW_HOUSEHOLDS = 5


@dataclass(frozen=True)
class TinyStore:
    """A raw store with one accepted delivery, its generated raw folder, and the warehouse
    published from it."""

    raw_dir: Path
    store: Path
    db: Path

    def copy(self, target: Path) -> TinyStore:
        """The same store and warehouse in ``target`` (each test publishes into its own)."""
        target.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.store, target / "raw_store")
        shutil.copyfile(self.db, target / "warehouse.duckdb")
        return TinyStore(self.raw_dir, target / "raw_store", target / "warehouse.duckdb")


def build_tiny_store(target: Path, seed: int = 20240601) -> TinyStore:
    """generate(200 households) → accept_delivery → build, in ``target``."""
    from huinong.demo import generate
    from huinong.intake import accept_delivery
    from huinong.warehouse import build

    raw_dir = target / "demo_raw"
    generate(out_dir=raw_dir, households=TINY_HOUSEHOLDS, seed=seed)
    store = target / "raw_store"
    accept_delivery(store, raw_dir, source_label="演示数据")
    db = target / "warehouse.duckdb"
    build(raw_dir=store, db_path=db)
    return TinyStore(raw_dir, store, db)


BAD_ROWS = {
    # record id → (column, value) that breaks a rule of DATA_CONTRACT.md, and the reason shown
    "HHBAD00001": ("head_id_number", "wrong check digit", "户主身份证号校验位错误"),
    "HHBAD00002": ("head_name", "", "缺少户主姓名"),
    "HHBAD00003": ("collected_on", "2024-13-45", "采集日期不是有效日期"),
}


# Head names a spreadsheet would run as formulas if a CSV carried them as they are.
HOSTILE_NAMES = ('=HYPERLINK("http://evil.example","点此")', "+1+1", "-2+3", "@SUM(A1)")


def write_next_delivery(
    raw_dir: Path,
    out_dir: Path,
    new: int = NEW_HOUSEHOLDS,
    head_names: Sequence[str] = (),
) -> Path:
    """A follow-up delivery: households.csv with ``new`` newly collected households (copies of
    existing ones under new ids, collected on the latest collection date; the first ones named
    ``head_names``) and one bad row per BAD_ROWS entry, plus an unknown column 备注. Returns the
    file's path."""
    import csv

    with (raw_dir / "households.csv").open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    latest = max(row["collected_on"] for row in rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "households.csv"
    with path.open("w", encoding="utf-8", newline="") as target:
        writer = csv.DictWriter(target, fieldnames=[*rows[0], "备注"])
        writer.writeheader()
        for index in range(new):
            row = {
                **rows[index],
                "household_id": f"HHNEW{index:05d}",
                "collected_on": latest,
                "备注": "新采集",
            }
            if index < len(head_names):
                row["head_name"] = head_names[index]
            writer.writerow(row)
        for offset, (household_id, (column, value, _reason)) in enumerate(BAD_ROWS.items()):
            row = {**rows[new + offset], "household_id": household_id, "备注": ""}
            if column == "head_id_number":
                last = row["head_id_number"][-1]
                value = row["head_id_number"][:-1] + ("1" if last != "1" else "2")
            row[column] = value
            writer.writerow(row)
    return path


def districts_rated(db_path: Path) -> int:
    """Rated households of the district at the latest snapshot (the overview's 评级农户)."""
    return scalar(
        db_path,
        """
        select households_rated from main.kpi_monthly
        where scope_level = 'district' and as_of = (select max(as_of) from main.kpi_monthly)
        """,
    )
