"""Checking a candidate delivery against the store, in memory, before it is accepted.

The page and ``python -m huinong deliver`` run this in a child process with a memory limit
(huinong.intake.isolated), never in the dashboard's own process.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from huinong.intake.errors import IntakeError
from huinong.intake.limits import DEFAULT_LIMITS, Limits
from huinong.intake.run import IntakeChecks, run_intake
from huinong.intake.sources import Source
from huinong.intake.store import (
    active_deliveries,
    describe_files,
    gather,
    identity,
    list_deliveries,
    store_sources,
)
from huinong.intake.summary import IntakeSummary
from huinong.schema import PREVIEW_DELIVERY_ID, RAW_FILES
from huinong.workspace import work_folder


def preview_delivery(
    store: Path | None,
    candidate: Path,
    *,
    limits: Limits = DEFAULT_LIMITS,
    memory_limit: str | None = None,
) -> IntakeSummary:
    """Validate the store's deliveries plus a candidate, in memory, without touching the store.

    The summary carries every quarantined row (``quarantine``) and the
    reasons counted (``reason_counts``), for review before publishing.
    ``memory_limit`` bounds DuckDB's buffers (it spills to a temporary folder beyond them).
    """
    candidate = Path(candidate)
    deliveries = active_deliveries(list_deliveries(Path(store))) if store is not None else []
    work = work_folder("preview")
    config = {"temp_directory": str(work / "spill")}
    if memory_limit:
        config["memory_limit"] = memory_limit
    con = duckdb.connect(config=config)
    try:
        folder = work / "candidate"
        gather(candidate, folder, limits)
        files = describe_files(folder)
        if not files:
            raise IntakeError(f"{candidate.name} 中没有可识别的报送文件")
        same = next(
            (d.delivery_id for d in deliveries if identity(d.files) == identity(files)), None
        )
        sources = store_sources(deliveries)
        if same is None:
            seq = len(deliveries) + 1
            sources += [
                Source(
                    RAW_FILES[item.source_file],
                    folder / item.name,
                    seq,
                    PREVIEW_DELIVERY_ID,
                    item.name,
                )
                for item in files
            ]
        checks = IntakeChecks.from_policy(limits=limits)
        summary = run_intake(con, sources, deliveries, None, keep_quarantine=True, checks=checks)
        summary.already_accepted = same
        if same is None:
            summary.delivery_ids.append(PREVIEW_DELIVERY_ID)
        return summary
    finally:
        con.close()
        shutil.rmtree(work, ignore_errors=True)
