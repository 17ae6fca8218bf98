"""The one way the app reads the warehouse: a read-only, locked-down connection per published
file, one core function that runs every query within a scope, and the result cache.

Every query of huinong.data runs through ``_execute`` (via ``frame`` for a result, ``stream``
for a download in batches), with the scope it covers; the scope's parameters are added there.
``_execute`` refuses a statement without a Scope, and a Scope is only issued by
``huinong.data.scope.authorize`` for a signed-in user: a query cannot run outside the area the
user was given.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import duckdb
import polars as pl
import streamlit as st

from huinong import REPO_ROOT
from huinong.auth.scope import AccessDenied
from huinong.data.scope import Scope

# What one query may return or read: a page shows at most MAX_ROWS rows (a download streams the
# rest in batches of STREAM_BATCH_ROWS); a history spans HISTORY_MONTHS months up to the chosen
# date. The history window is a display choice (and bounds the scan of marts laid out by year),
# not a policy number.
MAX_ROWS = 10_000
STREAM_BATCH_ROWS = 50_000
HISTORY_MONTHS = 36
CACHE_TTL_SECONDS = 3600

# The engine's settings; external access is switched off and the configuration locked once the
# warehouse is attached (see open_connection).
DUCKDB_CONFIG = {
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "threads": 2,
    "memory_limit": "4GB",
}
WAREHOUSE_CATALOG = "warehouse"


class WarehouseMissing(Exception):
    """The warehouse file does not exist (yet)."""


class Warehouse(NamedTuple):
    """Identity of one published warehouse file: a rebuild replaces the file (new inode)."""

    path: str
    inode: int
    mtime_ns: int


def warehouse_path() -> Path:
    """The published warehouse: $HUINONG_DB, or data/warehouse.duckdb in the repository."""
    configured = os.environ.get("HUINONG_DB")
    return Path(configured) if configured else REPO_ROOT / "data" / "warehouse.duckdb"


# Warehouses this process opened (before any WAL appeared beside them): their connections may go
# on serving, since DuckDB read the file when it opened it and never reads a later WAL.
_OPENED: set[Warehouse] = set()
STRAY_WAL_MESSAGE = (
    "数据仓库文件旁有一个中断的写入留下的日志文件（{name}.wal），直接读取会显示不完整或错误的数据，"
    "看板暂停读取。请在“数据管理”页点击“重新更新”（或运行 python -m huinong build）重新发布："
    "构建会把这个日志文件移到一旁保存，看板随即恢复。"
)


def _stray_wal(path: Path) -> bool:
    return path.with_name(path.name + ".wal").exists()


def current_warehouse() -> Warehouse | None:
    """The token of the warehouse published now, or None when there is none — or when a WAL
    lies beside it (warehouse_problem says so) and this process has not opened it already."""
    path = warehouse_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    token = Warehouse(str(path.resolve()), stat.st_ino, stat.st_mtime_ns)
    if _stray_wal(path) and token not in _OPENED:
        return None
    return token


def warehouse_problem() -> str | None:
    """Why a published warehouse is not read, in words for the page (None when it is fine)."""
    path = warehouse_path()
    if path.exists() and _stray_wal(path):
        return STRAY_WAL_MESSAGE.format(name=path.name)
    return None


# No on_release=close: closing a connection closes its cursors, and another session may be in
# the middle of a query on the warehouse a rebuild just replaced. Dropped from the cache, the
# connection closes by itself once its last cursor is gone (and with it the replaced file).
@st.cache_resource(max_entries=2, show_spinner=False)
def _database(token: Warehouse) -> duckdb.DuckDBPyConnection:
    """One read-only connection per published file; queries use a cursor each."""
    if not Path(token.path).exists():
        raise WarehouseMissing(token.path)
    return open_connection(token)


def open_shared_connection(token: Warehouse) -> None:
    """Open the connection every session shares to ``token``'s file now (the server's warm-up,
    app.py) rather than in the first signed-in user's first query."""
    _database(token)


def open_connection(token: Warehouse) -> duckdb.DuckDBPyConnection:
    """A read-only, locked-down connection to the warehouse file of ``token``.

    The file is ATTACHed to an in-memory database rather than opened with
    ``duckdb.connect(path)``: DuckDB keeps one database instance per path in a process, so after
    a rebuild replaced the file (os.replace) a new connect(path) would get the old, still open
    instance and its old data. Once attached: no file or network access (enable_external_access
    off), no extensions, and the configuration is locked.
    """
    path = Path(token.path)
    if _stray_wal(path):
        # DuckDB replays a WAL even read-only, and refuses the file when the WAL is another's.
        raise WarehouseMissing(STRAY_WAL_MESSAGE.format(name=path.name))
    connection = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
    try:
        quoted = token.path.replace("'", "''")
        connection.execute(f"attach '{quoted}' as {WAREHOUSE_CATALOG} (read_only)")
        connection.execute(f"use {WAREHOUSE_CATALOG}")
        connection.execute("set enable_external_access = false")
        connection.execute("set lock_configuration = true")
    except Exception:
        connection.close()
        raise
    _OPENED.add(token)
    return connection


def _used(sql: str, params: dict) -> dict | None:
    """The parameters the statement names: DuckDB refuses extra ones, and a scope brings a
    township and a village that a township-level table does not need."""
    used = {name: value for name, value in params.items() if re.search(rf"\${name}(?!\w)", sql)}
    return used or None


@contextmanager
def _execute(
    token: Warehouse, scope: Scope, sql: str, params: dict | None
) -> Iterator[duckdb.DuckDBPyRelation]:
    """Run one statement on its own cursor: the core every query of huinong.data goes through.

    ``scope`` is the part of the district the statement covers for the signed-in user (its
    filter fragments come from the same Scope); what belongs to the warehouse as a whole (build
    info, policy, division lists, the intake's report) also runs for an authorised user, its
    SQL just not filtered. Anything that is not a Scope (None, a forged object) is refused.
    Its parameters are added here; a query's own parameters win (place_names passes an empty
    village for a township).
    """
    if type(scope) is not Scope:
        raise AccessDenied("查询须带有按登录用户权限给出的范围（huinong.data.authorize）")
    values = {**scope.params(), **(params or {})}
    cursor = _database(token).cursor()
    try:
        cursor.execute(f"use {WAREHOUSE_CATALOG}")
        yield cursor.sql(sql, params=_used(sql, values))
    finally:
        cursor.close()


def frame(token: Warehouse, scope: Scope, sql: str, params: dict | None = None) -> pl.DataFrame:
    """The whole result of a query within ``scope``."""
    with _execute(token, scope, sql, params) as result:
        return result.pl()


def stream(
    token: Warehouse,
    scope: Scope,
    sql: str,
    params: dict | None = None,
    batch_rows: int = STREAM_BATCH_ROWS,
) -> Iterator[pl.DataFrame]:
    """The result of a query within ``scope`` in batches, for downloads of any size."""
    with _execute(token, scope, sql, params) as result:
        for batch in result.to_arrow_reader(batch_rows):
            if batch.num_rows:
                yield pl.from_arrow(batch)


# The plain functions behind st.cache_data, by name: the benchmark times DuckDB, not the cache.
UNCACHED: dict[str, Callable] = {}


def cached(func: Callable) -> Callable:
    """st.cache_data with every argument in the key (the warehouse token, the dates, the scope
    with the user's own area and permissions, and every filter), so a newly published warehouse
    gets fresh results without a restart and one user's rows never answer another's query."""
    UNCACHED[func.__name__] = func
    return st.cache_data(ttl=CACHE_TTL_SECONDS, max_entries=256, show_spinner=False)(func)
