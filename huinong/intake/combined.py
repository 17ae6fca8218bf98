"""One intake run over parsed files: combined per file, settled across deliveries and files, and
published.

Every file's rows come parsed on their own (huinong.intake.parse) — from the store's parsed form
of a delivery, or parsed for this run. The run combines them per file in delivery order
(huinong.intake.tables), settles which row of each key is in force and the rules across files
(huinong.intake.keys, cross_file), checks the amounts' totals and publishes the raw tables,
quarantine and load report (huinong.intake.publish). A run may be limited to part of the rows
(huinong.intake.patch).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import duckdb

from huinong.intake import keys
from huinong.intake.cells import sql_text
from huinong.intake.checks import IntakeChecks
from huinong.intake.cross_file import cross_file_rules
from huinong.intake.errors import IntakeError
from huinong.intake.limits import MAX_AMOUNT_TOTAL, amount_text
from huinong.intake.parse import ParsedFile, parse_file
from huinong.intake.publish import create_outputs, publish_file
from huinong.intake.rules import message_texts
from huinong.intake.sources import Source
from huinong.intake.store import Delivery
from huinong.intake.tables import FOUND_REASONS, KEPT_REASONS, validated
from huinong.schema import RAW_FILES, RawFile

Progress = Callable[[str], None]

# Rounds of settling which corrections stand (huinong.intake.keys): each round a correction that
# broke a rule across files gives its place back; chains longer than this are not expected.
MAX_SETTLE_ROUNDS = 10


def parsed_rows_sql(raw_file: RawFile, files: list[tuple[int, Path]], condition: str | None) -> str:
    """The rows of parsed files (``_seq``, parquet path) of one raw file, in that order, with
    the columns a run combines; only those ``condition`` holds for, if given."""
    columns = ", ".join(raw_file.column_names)
    kept = "".join(f", _text_{column}" for column in message_texts(raw_file))
    parts = []
    for seq, path in files:
        quoted = str(path).replace("'", "''")
        part = (
            f"select {seq} as _seq, _row, {columns}{kept}, _key, _reasons, _duplicate "
            f"from read_parquet('{quoted}')"
        )
        parts.append(part if condition is None else f"select * from ({part}) where {condition}")
    if not parts:
        # An optional file not delivered (entities): no rows, but the same columns, so that
        # the rules across files read it like any other.
        typed = ", ".join(
            f"null::{column.sql_type} as {column.name}" for column in raw_file.columns
        )
        texts = "".join(f", null::varchar as _text_{column}" for column in message_texts(raw_file))
        parts.append(
            f"select null::integer as _seq, null::integer as _row, {typed}{texts}, "
            "null::varchar as _key, []::varchar[] as _reasons, null::varchar as _duplicate "
            "where false"
        )
    return " union all ".join(parts)


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
        *,
        scope: dict[str, str] | None = None,
        preloaded: dict[str, str] | None = None,
        schema: str = "raw",
    ) -> None:
        """``scope`` limits the rows read to those a SQL condition per file holds for (on the
        parsed columns and ``_seq``; huinong.intake.patch), ``preloaded`` names a table per file
        holding the rows of the store's deliveries already (parsed_rows_sql, within the scope);
        the outputs go to ``schema``."""
        self.con = con
        self.sources = sources
        self.deliveries = deliveries
        self.progress = progress
        self.work_dir = work_dir
        self.checks = checks
        self.stored = stored
        self.scope = scope
        self.preloaded = preloaded
        self.schema = schema
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

    def execute(self) -> None:
        """Parse, combine, settle and publish into ``schema``."""
        con = self.con
        create_outputs(con, self.deliveries, self.schema)
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
        if self.scope is None:
            # A scoped run sees part of the rows: the totals are checked on what it patches.
            self._check_totals()
        else:
            self._record_scope()
        self.say("写入 raw 表…")
        for raw_file in RAW_FILES.values():
            instances = [(source, parsed) for _, source, parsed in self._instances(raw_file)]
            publish_file(con, raw_file, instances, self.say, self.schema)

    def missing_columns(self) -> list[tuple[str, str, str]]:
        """(source file, file name, column label) of every optional column a file lacks."""
        return [
            (source.raw_file.name, source.file_name, source.raw_file.column(name).label)
            for index, source in enumerate(self.sources)
            for name in self.parsed[index].layout.missing_optional
        ]

    def _record_scope(self) -> None:
        """``<schema>.scoped_rows``: every row this scoped run read (file, delivery, row number)."""
        ids = ", ".join(
            f"({seq}, {sql_text(delivery_id)})"
            for seq, delivery_id in sorted(
                {(source.seq, source.delivery_id or "") for source in self.sources}
            )
        )
        reads = " union all ".join(
            f"select '{raw_file.name}' as source_file, _seq, _row from {validated(raw_file.name)}"
            for raw_file in RAW_FILES.values()
        )
        self.con.execute(
            f"""create or replace table {self.schema}.scoped_rows as
            select rows.source_file, nullif(ids.delivery_id, '') as delivery_id,
                rows._row as row_number
            from ({reads}) rows join (values {ids}) ids(_seq, delivery_id) using (_seq)"""
        )

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
        name = raw_file.name
        instances = [(source, parsed) for _, source, parsed in self._instances(raw_file)]
        preloaded = [source.seq for source, _ in instances if self._preloaded(source)]
        read = [
            (source.seq, parsed.path) for source, parsed in instances if not self._preloaded(source)
        ]
        condition = self.scope[name] if self.scope is not None else None
        parts = [parsed_rows_sql(raw_file, read, condition)] if read else []
        if preloaded:
            seqs = ", ".join(map(str, preloaded))
            parts.append(f"select * from {self.preloaded[name]} where _seq in ({seqs})")
        if not parts:
            parts.append(parsed_rows_sql(raw_file, [], None))
        table = self._temp(validated(raw_file.name))
        con = self.con
        con.execute(
            f"""create or replace temp table {table} as
            select *, len(_reasons) = 0 and _duplicate is null as _own_ok, false as _superseded,
                false as _rejected, false as _earlier_ok, false as _disqualified
            from ({" union all ".join(parts)})"""
        )

    def _preloaded(self, source: Source) -> bool:
        return self.preloaded is not None and source.delivery_id in self.stored

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
