"""Checking a candidate delivery against the store, in memory, before it is accepted."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import duckdb

from huinong.intake.archive import ZipLimits
from huinong.intake.errors import IntakeError
from huinong.intake.run import run_intake
from huinong.intake.sources import Source
from huinong.intake.store import describe_files, gather, identity, list_deliveries, store_sources
from huinong.intake.summary import IntakeSummary
from huinong.schema import PREVIEW_DELIVERY_ID, RAW_FILES


def preview_delivery(
    store: Path | None, candidate: Path, *, limits: ZipLimits | None = None
) -> IntakeSummary:
    """Validate the store's deliveries plus a candidate, in memory, without touching the store.

    The summary carries every quarantined row (``quarantine``) and the
    reasons counted (``reason_counts``), for review before publishing.
    """
    candidate = Path(candidate)
    limits = limits or ZipLimits()
    deliveries = list_deliveries(Path(store)) if store is not None else []
    work = Path(tempfile.mkdtemp(prefix="huinong-preview-"))
    con = duckdb.connect()
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
        summary = run_intake(con, sources, deliveries, None, keep_quarantine=True)
        summary.already_accepted = same
        if same is None:
            summary.delivery_ids.append(PREVIEW_DELIVERY_ID)
        return summary
    finally:
        con.close()
        shutil.rmtree(work, ignore_errors=True)
