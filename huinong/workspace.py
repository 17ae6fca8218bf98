"""Temporary folders of one process, named with its pid (``huinong-<kind>-<pid>-…`` in the
system's temporary folder), so that a later build can remove those of processes that died — a
build killed or out of memory never gets to clean up — and never those of one still running."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

_NAME = re.compile(r"huinong-([a-z]+)-(\d+)-")


def work_folder(kind: str) -> Path:
    """A fresh temporary folder of this process for ``kind`` (intake, dbt, preview …)."""
    return Path(tempfile.mkdtemp(prefix=f"huinong-{kind}-{os.getpid()}-"))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def remove_dead_work_folders(root: Path | None = None) -> list[str]:
    """Remove the temporary folders of processes no longer alive; returns their names."""
    root = Path(root or tempfile.gettempdir())
    removed = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    for path in entries:
        match = _NAME.match(path.name)
        if match is None or not path.is_dir() or pid_alive(int(match.group(2))):
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path.name)
    return removed
