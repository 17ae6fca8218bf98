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

import contextlib
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb

from huinong.intake import keys
from huinong.intake.checks import IntakeChecks
from huinong.intake.cross_file import cross_file_rules
from huinong.intake.errors import IntakeError
from huinong.intake.limits import MAX_AMOUNT_TOTAL, amount_text
from huinong.intake.parse import ParsedFile, fingerprint, parse_file, session
from huinong.intake.parsed_deliveries import parsed_deliveries
from huinong.intake.publish import create_outputs, publish_file, read_summary
from huinong.intake.rules import message_texts
from huinong.intake.sources import Source, complete_sources, folder_sources
from huinong.intake.store import (
    Delivery,
    active_deliveries,
    is_store,
    list_deliveries,
    store_sources,
)
from huinong.intake.summary import IntakeSummary
from huinong.intake.tables import FOUND_REASONS, KEPT_REASONS, validated
from huinong.schema import RAW_FILES, RawFile
from huinong.workspace import work_folder

__all__ = ["IntakeChecks", "load_raw", "run_intake"]

Progress = Callable[[str], None]

# Rounds of settling which corrections stand (huinong.intake.keys): each round a correction that
# broke a rule across files gives its place back; chains longer than this are not expected.
MAX_SETTLE_ROUNDS = 10


def load_raw(
    raw_dir: Path,
    con: duckdb.DuckDBPyConnection,
    progress: Progress | None = None,
    checks: IntakeChecks | None = None,
) -> IntakeSummary:
    """Read a raw folder or delivery store into ``raw.*`` on ``con``.

    Raises IntakeError when a file cannot be read at all; bad rows go to
    ``raw.quarantine`` instead. A store's deliveries not yet parsed are parsed and kept.
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
    summary = run_intake(con, sources, deliveries, progress, checks=checks)
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
) -> IntakeSummary:
    """Load ``sources`` into ``raw.*`` on ``con``; the connection's settings are left as found.

    The files of ``deliveries`` (the store's, in ``sources``) are read from their parsed form,
    parsing those without one — kept in the store unless ``keep_parsed`` is false (a preview
    leaves the store as it is); every other source is parsed for this run only.
    """
    checks = checks or IntakeChecks.from_policy()
    sources, default_villages = complete_sources(sources)
    work_dir = work_folder("intake")
    try:
        with session(con):
            stored = parsed_deliveries(
                con, deliveries, checks, work_dir, progress or _quiet, keep=keep_parsed
            )
            run = IntakeRun(con, sources, deliveries, progress, work_dir, checks, stored)
            try:
                summary = run.execute(keep_quarantine=keep_quarantine)
            finally:
                run.drop_temporaries()
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    summary.default_villages = default_villages
    summary.delivery_ids = [delivery.delivery_id for delivery in deliveries]
    summary.notes = [note for index in sorted(run.parsed) for note in run.parsed[index].notes]
    summary.parse_fingerprint = fingerprint(checks)
    summary.delivery_digests = {delivery.delivery_id: delivery.digest for delivery in deliveries}
    summary.parsed_files = {
        delivery_id: {name: str(parsed.path) for name, parsed in files.items()}
        for delivery_id, (files, kept) in stored.items()
        if kept
    }
    return summary


def _quiet(_message: str) -> None:
    pass


class IntakeRun:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        sources: list[Source],
        deliveries: list[Delivery],
        progress: Progress | None,
        work_dir: Path,
        checks: IntakeChecks,
        stored: dict[str, tuple[dict[str, ParsedFile], bool]],
    ) -> None:
        self.con = con
        self.sources = sources
        self.deliveries = deliveries
        self.progress = progress
        self.work_dir = work_dir
        self.checks = checks
        self.stored = stored
        self.parsed: dict[int, ParsedFile] = {}
        self.temporaries: list[str] = []
        self.multi = len({source.seq for source in sources if source.seq > 0}) > 1

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)

    def _temp(self, name: str) -> str:
        self.temporaries.append(name)
        return name

    def drop_temporaries(self) -> None:
        for name in reversed(self.temporaries):
            with contextlib.suppress(duckdb.Error):
                self.con.execute(f"drop table if exists {name}")

    def execute(self, *, keep_quarantine: bool) -> IntakeSummary:
        con = self.con
        create_outputs(con, self.deliveries)
        for name in (FOUND_REASONS, KEPT_REASONS):
            self._temp(name)
            con.execute(
                f"create or replace temp table {name} "
                "(source_file varchar, _seq integer, _row integer, reason varchar)"
            )
        for index, source in enumerate(self.sources):
            self.parsed[index] = self._parse(index, source)
        for raw_file in RAW_FILES.values():
            self._combine(raw_file)
        self.say("核对各表之间的对应关系…")
        self._settle()
        self._check_totals()
        self.say("写入 raw 表…")
        for raw_file in RAW_FILES.values():
            instances = [(source, parsed) for _, source, parsed in self._instances(raw_file)]
            publish_file(con, raw_file, instances, self.say)
        missing = [
            (source.raw_file.name, source.file_name, source.raw_file.column(name).label)
            for index, source in enumerate(self.sources)
            for name in self.parsed[index].layout.missing_optional
        ]
        return read_summary(con, missing, keep_quarantine=keep_quarantine)

    # Reading ------------------------------------------------------------------------------

    def _parse(self, index: int, source: Source) -> ParsedFile:
        """The source's rows validated on their own: a store delivery's parsed form, or parsed now."""
        stored = self.stored.get(source.delivery_id) if source.delivery_id else None
        if stored is not None:
            return stored[0][source.raw_file.name]
        target = self.work_dir / f"{index}-{source.raw_file.name}.parquet"
        return parse_file(self.con, source, target, self.work_dir, self.checks, self.say)

    def _instances(self, raw_file: RawFile) -> list[tuple[int, Source, ParsedFile]]:
        return [
            (index, source, self.parsed[index])
            for index, source in enumerate(self.sources)
            if source.raw_file.name == raw_file.name
        ]

    def _combine(self, raw_file: RawFile) -> None:
        """Every row of every delivery of one file, as parsed, in delivery and file order."""
        columns = ", ".join(raw_file.column_names)
        kept = "".join(f", _text_{column}" for column in message_texts(raw_file))
        parts = []
        for _, source, parsed in self._instances(raw_file):
            quoted = str(parsed.path).replace("'", "''")
            parts.append(
                f"select {source.seq} as _seq, _row, {columns}{kept}, _key, _reasons, _duplicate "
                f"from read_parquet('{quoted}')"
            )
        if not parts:
            # An optional file not delivered (entities): no rows, but the same columns, so that
            # the rules across files read it like any other.
            typed = ", ".join(
                f"null::{column.sql_type} as {column.name}" for column in raw_file.columns
            )
            texts = "".join(
                f", null::varchar as _text_{column}" for column in message_texts(raw_file)
            )
            parts.append(
                f"select null::integer as _seq, null::integer as _row, {typed}{texts}, "
                "null::varchar as _key, []::varchar[] as _reasons, null::varchar as _duplicate "
                "where false"
            )
        table = self._temp(validated(raw_file.name))
        con = self.con
        con.execute(
            f"""create or replace temp table {table} as
            select *, len(_reasons) = 0 and _duplicate is null as _own_ok, false as _superseded,
                false as _rejected, false as _earlier_ok, false as _disqualified
            from ({" union all ".join(parts)})"""
        )

    # Across files -------------------------------------------------------------------------

    def _settle(self) -> None:
        """Which row of each key is in force, and the rules across files on those rows.

        A correction in force that breaks a rule across files gives its place back to the
        earlier row of its key, and everything is checked again, until nothing changes.
        """
        con = self.con
        for round_ in range(MAX_SETTLE_ROUNDS + 1):
            if self.multi:
                for raw_file in RAW_FILES.values():
                    keys.settle(con, validated(raw_file.name))
            con.execute(f"delete from {FOUND_REASONS}")
            cross_file_rules(con)
            if not self.multi or round_ == MAX_SETTLE_ROUNDS:
                break
            lost = sum(
                keys.disqualify(
                    con,
                    raw_file,
                    validated(raw_file.name),
                    FOUND_REASONS,
                    KEPT_REASONS,
                )
                for raw_file in RAW_FILES.values()
            )
            if not lost:
                break
        # A correction that lost its place is quarantined with the reasons that cost it.
        for raw_file in RAW_FILES.values():
            con.execute(
                f"""insert into {FOUND_REASONS}
                select kept.* from {KEPT_REASONS} kept
                join {validated(raw_file.name)} v using (_seq, _row)
                where kept.source_file = '{raw_file.name}' and v._rejected
                order by kept.rowid"""
            )

    def _check_totals(self) -> None:
        """Refuse rows whose amounts, loaded together, would sum beyond what the warehouse's
        amount type holds (huinong.intake.limits): naming the largest rows."""
        con = self.con
        for raw_file in RAW_FILES.values():
            amounts = [column.name for column in raw_file.columns if column.kind == "amount"]
            if not amounts:
                continue
            row_total = " + ".join(f"coalesce(abs({name}), 0)" for name in amounts)
            # Rows in force that pass on their own bound the loaded ones: only a file over the
            # limit pays for the exact count without the rows found wrong across files.
            passing = (
                f"(select * from {validated(raw_file.name)} "
                f"where not _superseded and not _rejected and _own_ok)"
            )
            bound = con.execute(f"select sum({row_total}) from {passing}").fetchone()[0]
            if bound is None or bound < MAX_AMOUNT_TOTAL:
                continue
            loaded = (
                f"(select v.* from {passing} v "
                f"anti join (select _seq, _row from {FOUND_REASONS} "
                f"where source_file = '{raw_file.name}') x using (_seq, _row))"
            )
            total = con.execute(f"select sum({row_total}) from {loaded}").fetchone()[0]
            if total is None or total < MAX_AMOUNT_TOTAL:
                continue
            largest = con.execute(
                f"select _seq, _row, {row_total} as amount from {loaded} "
                f"order by amount desc, _seq, _row limit 3"
            ).fetchall()
            names = {
                source.seq: source.display_name
                for source in self.sources
                if source.raw_file.name == raw_file.name
            }
            rows = "；".join(
                f"{names.get(seq, '')} 第 {row:,} 行（{amount_text(amount)}）"
                for seq, row, amount in largest
            )
            raise IntakeError(
                f"{raw_file.label}（{raw_file.name}）的金额合计 {amount_text(total)}，"
                f"超过数据仓库可以计算的上限 {amount_text(MAX_AMOUNT_TOTAL)}。金额最大的行：{rows}。"
                "请核对这些金额，改正后重新报送（或撤回有误的报送）"
            )
