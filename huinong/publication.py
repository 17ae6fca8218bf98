"""The files of a build beside the published warehouse, and putting a new warehouse in place.

A build writes ``.<db>.building-<pid>`` (with its WAL and spill folder) next to ``<db>`` and
swaps it in with ``os.replace``. Everything here runs under the warehouse's one-writer lock
(huinong.writer), which is also what makes cleaning up safe: while a build holds the lock, any
other build's files beside the warehouse belong to a build that died.

A DuckDB file is only ever published whole and alone: checkpointed, without a WAL beside it.
A ``<db>.wal`` found beside the published file was left by some other writer that crashed; a
reader opening the file would replay it (DuckDB does so even read-only, and refuses the file
when the WAL belongs to another one), so it is moved aside — kept, with a timestamp, never
deleted — before anything reads or replaces the published file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from datetime import datetime
from pathlib import Path

import duckdb

from huinong.workspace import remove_dead_work_folders


class PublicationError(Exception):
    """The build cannot (or must not) put its warehouse in place; the message is in Chinese."""


def building_path(db: Path) -> Path:
    return db.with_name(f".{db.name}.building-{os.getpid()}")


def wal_path(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def spill_path(path: Path) -> Path:
    return path.parent / f".{path.name}.spill"


def remove_build_files(path: Path) -> None:
    for leftover in (path, wal_path(path)):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(spill_path(path), ignore_errors=True)


def check_writable(folder: Path) -> None:
    """A build needs to write beside the warehouse; say so plainly when it cannot."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PublicationError(
            f"无法创建数据仓库所在的文件夹 {folder}（{error.strerror}）。"
            "请检查路径和权限后重试；已发布的数据仓库没有改动"
        ) from error
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PublicationError(
            f"数据仓库所在的文件夹 {folder} 不允许写入，无法构建。"
            "请让管理员给运行构建的账户开放该文件夹的写权限后重试；已发布的数据仓库没有改动"
        )


_BUILDING = re.compile(r"\.(?P<db>.+)\.building-(?P<pid>\d+)(?P<rest>.*)")


def clean_dead_builds(db: Path) -> list[str]:
    """Remove what builds that died left beside the warehouse (their half-built files, WALs and
    spill folders) and in the temporary folder; returns the names removed. Call with the lock
    held: then no other build is alive to own them."""
    removed = []
    for path in db.parent.iterdir():
        # .<db>.building-<pid>[-full][.wal], and their spill folders ..<db>.building-<pid>….spill
        match = _BUILDING.fullmatch(path.name)
        if match is None or match["db"].removeprefix(".") != db.name:
            continue
        if int(match["pid"]) == os.getpid():
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path.name)
    removed.extend(remove_dead_work_folders())
    return sorted(removed)


def set_aside_stray_wal(db: Path) -> Path | None:
    """Move a WAL left beside the published warehouse out of the way (kept, timestamped)."""
    stray = wal_path(db)
    if not stray.exists():
        return None
    kept = stray.with_name(f"{stray.name}.stray-{datetime.now():%Y%m%d-%H%M%S}")
    os.replace(stray, kept)
    return kept


def published_info(db: Path) -> dict | None:
    """build_info of the published warehouse (None without one), read without touching it."""
    if not db.exists():
        return None
    con = duckdb.connect()
    try:
        quoted = str(db).replace("'", "''")
        con.execute(f"attach '{quoted}' as published (read_only)")
        columns = {
            name
            for (name,) in con.execute(
                "select column_name from information_schema.columns "
                "where table_catalog = 'published' and table_name = 'build_info'"
            ).fetchall()
        }
        if not columns:
            return None
        wanted = [name for name in ("as_of", "built_at", "store_state") if name in columns]
        row = con.execute(f"select {', '.join(wanted)} from published.main.build_info").fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    if row is None:
        return None
    info = dict(zip(wanted, row, strict=True))
    info["store_state"] = json.loads(info.get("store_state") or "null")
    return info


def newer_in_published(ours: dict | None, published: dict | None) -> list[str]:
    """What the published warehouse's store state holds that ours does not: deliveries or
    withdrawals it read and this build did not (this build started from an older state)."""
    if not ours or not published:
        return []
    missing = [
        f"第 {delivery_id} 批报送"
        for delivery_id in published.get("deliveries", [])
        if delivery_id not in ours.get("deliveries", [])
    ]
    missing += [
        f"第 {delivery_id} 批报送的撤回"
        for delivery_id in published.get("withdrawn", [])
        if delivery_id not in ours.get("withdrawn", [])
    ]
    return missing


def settle_file(path: Path) -> None:
    """Make sure a built file holds everything itself: no WAL may travel beside it."""
    if not wal_path(path).exists():
        return
    con = duckdb.connect(str(path))
    try:
        con.execute("checkpoint")
    finally:
        con.close()
    if wal_path(path).exists():
        raise PublicationError("新建的数据仓库未能写完整（日志文件无法合并），未发布")


def refuse_if_older(db: Path, store_state: dict | None) -> None:
    """Refuse a build that read an older state of the store than the published warehouse did."""
    newer = newer_in_published(store_state, (published_info(db) or {}).get("store_state"))
    if newer:
        raise PublicationError(
            "已发布的数据仓库读取过本次构建没有读到的数据（"
            + "、".join(newer[:5])
            + ("等" if len(newer) > 5 else "")
            + "），说明本次构建读取的接收库较旧。为免覆盖较新的数据，本次未发布；请重新构建"
        )


def put_in_place(building: Path, db: Path, store_state: dict | None) -> Path | None:
    """Swap the built file in as ``db``; returns where a stray WAL was set aside, if any.

    Refuses when the published warehouse was built from a newer store state than this build.
    """
    settle_file(building)
    refuse_if_older(db, store_state)
    kept = set_aside_stray_wal(db)
    os.replace(building, db)
    with contextlib.suppress(OSError):
        shutil.rmtree(spill_path(building), ignore_errors=True)
    return kept
