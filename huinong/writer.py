"""One writer per warehouse: the lock every build takes, from the command line, cron or the
数据管理 page's background rebuild (huinong.rebuild).

The lock is an flock on ``<db>.rebuild.lock`` beside the warehouse. A build holds it from before
it reads anything until it has published (or given up), so two builds never interleave and none
publishes over another's newer result. The kernel releases it when the holder dies, however it
dies: a killed build never leaves the warehouse locked.

The page's rebuild takes the lock in the dashboard's process and hands the locked descriptor to
its supervisor and build (``build --lock-fd``): the build then holds the very lock it inherited
instead of waiting for itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

BUSY_MESSAGE = (
    "另一个数据更新正在进行（数据管理页的发布、定时任务或命令行构建），"
    "本次未构建，已发布的数据仓库保持不变。请等它完成后再试"
)


class WriterBusy(Exception):
    """Another build holds the warehouse's lock."""


def lock_path(db: Path) -> Path:
    db = Path(db)
    return db.with_name(db.name + ".rebuild.lock")


def open_lock(db: Path) -> int:
    """A descriptor on the warehouse's lock file (created when missing), not yet locked."""
    return os.open(lock_path(db), os.O_RDWR | os.O_CREAT, 0o644)


def try_lock(descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def is_held(db: Path) -> bool:
    """Whether some process holds the warehouse's lock now."""
    if not lock_path(db).exists():
        return False
    descriptor = open_lock(db)
    try:
        if not try_lock(descriptor):
            return True
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return False
    finally:
        os.close(descriptor)


def _inherited(db: Path, descriptor: int) -> bool:
    """Whether ``descriptor`` is open on this warehouse's lock file (handed down by the page)."""
    try:
        held, wanted = os.fstat(descriptor), lock_path(db).stat()
    except OSError:
        return False
    return (held.st_dev, held.st_ino) == (wanted.st_dev, wanted.st_ino)


@contextlib.contextmanager
def hold(db: Path, inherited_fd: int | None = None) -> Iterator[None]:
    """Hold the warehouse's lock for the block; WriterBusy at once when another build has it.

    ``inherited_fd``: a descriptor of the same lock handed down already locked; locking it
    again only confirms it (flock locks belong to the open file, which this process shares).
    """
    db = Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    if inherited_fd is not None and _inherited(db, inherited_fd):
        if not try_lock(inherited_fd):
            raise WriterBusy(BUSY_MESSAGE)
        yield
        return
    descriptor = open_lock(db)
    try:
        if not try_lock(descriptor):
            raise WriterBusy(BUSY_MESSAGE)
        yield
    finally:
        os.close(descriptor)
