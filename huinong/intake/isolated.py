"""Validating a candidate delivery in a child process with a memory limit.

The 数据管理 page and ``python -m huinong deliver`` check every upload with the same preview
(huinong.intake.preview) — but never in their own process: a delivery from outside may be far
larger or stranger than expected, and running out of memory must end a child that can be
replaced, never the dashboard. The child caps its address space (RLIMIT_AS) and DuckDB's
buffers (it spills to disk beyond them); when it runs out all the same, the caller gets a
Chinese message saying so instead of a crash.

Parent and child talk through a work folder: ``request.json`` in; ``result.json`` and the
summary's two tables as Arrow IPC files out.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl

from huinong import REPO_ROOT
from huinong.intake.errors import IntakeError
from huinong.intake.limits import DEFAULT_LIMITS, Limits
from huinong.intake.summary import ExtraColumn, FileCounts, IntakeSummary, size_text
from huinong.workspace import work_folder

# The child's address space, and DuckDB's buffers within it. A 200 MB upload previews in about
# 1 GiB (python -m huinong.bench preview); the cap leaves room for a store of many deliveries.
PREVIEW_MEMORY_BYTES = int(os.environ.get("HUINONG_PREVIEW_MEMORY_BYTES", str(6 << 30)))
PREVIEW_DUCKDB_MEMORY = os.environ.get("HUINONG_PREVIEW_DUCKDB_MEMORY", "2GB")
# Signals a child dies of when memory runs out: killed by the kernel, or aborted by an allocation
# that failed where no exception could be raised.
_MEMORY_SIGNALS = (-9, -6, -11)


class PreviewFailed(IntakeError):
    """The preview could not finish (out of memory, or the child failed); message in Chinese."""


def _memory_message(name: str, memory_bytes: int) -> str:
    return (
        f"校验 {name} 时内存不足（上限 {size_text(memory_bytes)}），文件未被接收。"
        "请把数据分成几个较小的文件或几批报送；如确需一次报送，请联系管理员"
    )


def preview_isolated(
    store: Path | None,
    candidate: Path,
    *,
    limits: Limits = DEFAULT_LIMITS,
    memory_bytes: int = PREVIEW_MEMORY_BYTES,
    duckdb_memory: str = PREVIEW_DUCKDB_MEMORY,
) -> IntakeSummary:
    """huinong.intake.preview_delivery in a child process limited to ``memory_bytes``.

    Raises IntakeError as the preview would (a file that cannot be read), and PreviewFailed
    when the child ran out of memory or failed otherwise.
    """
    candidate = Path(candidate)
    folder = work_folder("isolated")
    try:
        request = {
            "store": str(store) if store is not None else None,
            "candidate": str(candidate),
            "limits": dataclasses.asdict(limits),
            "memory_bytes": memory_bytes,
            "duckdb_memory": duckdb_memory,
        }
        (folder / "request.json").write_text(json.dumps(request), encoding="utf-8")
        completed = subprocess.run(
            [sys.executable, "-m", "huinong.intake.isolated", str(folder)],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        result = _read_json(folder / "result.json")
        if result is None:
            if completed.returncode in _MEMORY_SIGNALS or b"MemoryError" in completed.stderr:
                raise PreviewFailed(_memory_message(candidate.name, memory_bytes))
            raise PreviewFailed(
                f"校验 {candidate.name} 时程序异常退出（代码 {completed.returncode}），"
                "文件未被接收。请检查文件后重试，或联系管理员"
            )
        if result["kind"] == "intake":
            raise IntakeError(result["message"])
        if result["kind"] == "memory":
            raise PreviewFailed(_memory_message(candidate.name, memory_bytes))
        if result["kind"] != "ok":
            raise PreviewFailed(
                f"校验 {candidate.name} 时发生程序错误（{result.get('error', '')}），"
                "文件未被接收。请检查文件后重试，或联系管理员"
            )
        return _read_summary(folder, result["summary"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _read_json(path: Path) -> dict | None:
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return values if isinstance(values, dict) else None


def _write_json(path: Path, values: dict) -> None:
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(values, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(partial, path)


def _read_summary(folder: Path, values: dict) -> IntakeSummary:
    quarantine = folder / "quarantine.arrow"
    return IntakeSummary(
        files=[FileCounts(**item) for item in values["files"]],
        extra_columns=[ExtraColumn(**item) for item in values["extra_columns"]],
        missing_columns=[tuple(item) for item in values["missing_columns"]],
        reason_counts=pl.read_ipc(folder / "reason_counts.arrow"),
        delivery_ids=values["delivery_ids"],
        default_villages=values["default_villages"],
        quarantine=pl.read_ipc(quarantine) if quarantine.exists() else None,
        already_accepted=values["already_accepted"],
        notes=values["notes"],
        withdrawn_ids=values["withdrawn_ids"],
    )


def _write_summary(folder: Path, summary: IntakeSummary) -> dict:
    summary.reason_counts.write_ipc(folder / "reason_counts.arrow")
    if summary.quarantine is not None:
        summary.quarantine.write_ipc(folder / "quarantine.arrow")
    return {
        "files": [dataclasses.asdict(item) for item in summary.files],
        "extra_columns": [dataclasses.asdict(item) for item in summary.extra_columns],
        "missing_columns": [list(item) for item in summary.missing_columns],
        "delivery_ids": summary.delivery_ids,
        "default_villages": summary.default_villages,
        "already_accepted": summary.already_accepted,
        "notes": summary.notes,
        "withdrawn_ids": summary.withdrawn_ids,
    }


def _child(folder: Path) -> int:
    import duckdb

    from huinong.intake.preview import preview_delivery

    request = json.loads((folder / "request.json").read_text(encoding="utf-8"))
    limit = int(request["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        summary = preview_delivery(
            Path(request["store"]) if request["store"] else None,
            Path(request["candidate"]),
            limits=Limits(**request["limits"]),
            memory_limit=request["duckdb_memory"],
        )
        result = {"kind": "ok", "summary": _write_summary(folder, summary)}
    except IntakeError as error:
        result = {"kind": "intake", "message": str(error)}
    except MemoryError:
        result = {"kind": "memory"}
    except duckdb.Error as error:
        text = str(error).lower()
        memory = isinstance(error, duckdb.OutOfMemoryException) or "memory" in text
        result = {"kind": "memory"} if memory else {"kind": "error", "error": type(error).__name__}
    _write_json(folder / "result.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(_child(Path(sys.argv[1])))
