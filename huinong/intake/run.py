"""One intake run: every file parsed on its own → combined → rules across files → publish.

A raw folder is either one delivery (``NAME.csv`` / ``NAME.xlsx``) or a
delivery store (``deliveries/NNNN/`` each with a ``manifest.json``), read in
acceptance order, withdrawn deliveries left out: a later delivery's row that
passes validation supersedes an earlier one with the same key; one that fails
is quarantined and the earlier row stays (huinong.intake.keys). Every row read
ends up loaded, quarantined with every reason, or superseded, and
``raw.load_report`` says how many of each, per file.

What a row is on its own (typed cells, its own reasons, its key repeated in its file) is
decided once per file (huinong.intake.parse): a store's deliveries keep it as parquet
(huinong.intake.parsed_deliveries), so a run parses only what is new — a delivery not yet
parsed, a plain folder, a candidate — and settles the rest, which depends on every delivery,
anew each time.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb

from huinong.intake.checks import IntakeChecks
from huinong.intake.combined import IntakeRun
from huinong.intake.errors import IntakeError
from huinong.intake.parse import fingerprint, session
from huinong.intake.parsed_deliveries import parsed_deliveries
from huinong.intake.patch import changed_rows, patch_raw
from huinong.intake.publish import read_summary
from huinong.intake.sources import Source, complete_sources, folder_sources
from huinong.intake.store import (
    Delivery,
    active_deliveries,
    is_store,
    list_deliveries,
    store_sources,
)
from huinong.intake.summary import IntakeSummary
from huinong.schema import RAW_FILES
from huinong.workspace import work_folder

__all__ = ["IntakeChecks", "load_raw", "run_intake"]

Progress = Callable[[str], None]


def load_raw(
    raw_dir: Path,
    con: duckdb.DuckDBPyConnection,
    progress: Progress | None = None,
    checks: IntakeChecks | None = None,
    loaded_from: dict | None = None,
) -> IntakeSummary:
    """Read a raw folder or delivery store into ``raw.*`` on ``con``.

    Raises IntakeError when a file cannot be read at all; bad rows go to
    ``raw.quarantine`` instead. A store's deliveries not yet parsed are parsed and kept.
    ``loaded_from``: the store state of the raw tables already on ``con`` (run_intake).
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise IntakeError(f"原始数据文件夹不存在：{raw_dir}")
    deliveries: list[Delivery] = []
    if is_store(raw_dir):
        every = list_deliveries(raw_dir)
        if not every:
            raise IntakeError(f"数据接收库 {raw_dir} 中还没有任何已接收的报送")
        deliveries = active_deliveries(every)
        if not deliveries:
            raise IntakeError(
                f"数据接收库 {raw_dir} 中的报送已全部撤回，没有可用的数据；请先报送新的数据"
            )
        sources = store_sources(deliveries)
    else:
        sources = folder_sources(raw_dir, 1, None)
    summary = run_intake(con, sources, deliveries, progress, checks=checks, loaded_from=loaded_from)
    if is_store(raw_dir):
        summary.withdrawn_ids = [item.delivery_id for item in every if item.withdrawn]
    return summary


def run_intake(
    con: duckdb.DuckDBPyConnection,
    sources: list[Source],
    deliveries: list[Delivery],
    progress: Progress | None,
    *,
    keep_quarantine: bool = False,
    checks: IntakeChecks | None = None,
    keep_parsed: bool = True,
    loaded_from: dict | None = None,
) -> IntakeSummary:
    """Load ``sources`` into ``raw.*`` on ``con``; the connection's settings are left as found.

    The files of ``deliveries`` (the store's, in ``sources``) are read from their parsed form,
    parsing those without one — kept in the store unless ``keep_parsed`` is false (a preview
    leaves the store as it is); every other source is parsed for this run only.
    ``loaded_from`` is the store state the raw tables already on ``con`` were loaded from (a
    copy of the published warehouse): they are patched where the deliveries since reach
    (huinong.intake.patch), or all loaded anew when that cannot be done.
    """
    checks = checks or IntakeChecks.from_policy()
    sources, default_villages = complete_sources(sources)
    work_dir = work_folder("intake")
    try:
        with session(con):
            stored = parsed_deliveries(
                con, deliveries, checks, work_dir, progress or _quiet, keep=keep_parsed
            )
            run, full_read_reason = None, ""
            if loaded_from is not None:
                run, full_read_reason = patch_raw(
                    con, sources, deliveries, stored, checks, work_dir, progress, loaded_from
                )
            patched = run is not None
            if run is None:
                run = IntakeRun(con, sources, deliveries, progress, work_dir, checks, stored)
                try:
                    run.execute()
                finally:
                    run.drop_temporaries()
            summary = read_summary(con, run.missing_columns(), keep_quarantine=keep_quarantine)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    summary.default_villages = default_villages
    if patched:
        summary.changes = {name: changed_rows(name) for name in RAW_FILES}
    summary.full_read_reason = full_read_reason
    summary.delivery_ids = [delivery.delivery_id for delivery in deliveries]
    summary.notes = [note for index in sorted(run.parsed) for note in run.parsed[index].notes]
    summary.parse_fingerprint = fingerprint(checks)
    summary.delivery_digests = {delivery.delivery_id: delivery.digest for delivery in deliveries}
    return summary


def _quiet(_message: str) -> None:
    pass
