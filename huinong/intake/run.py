"""One intake run: stage every file → validate each file's rows → rules across files → publish.

A raw folder is either one delivery (``NAME.csv`` / ``NAME.xlsx``) or a
delivery store (``deliveries/NNNN/`` each with a ``manifest.json``), read in
acceptance order: a later delivery's row supersedes an earlier one with the
same key. Every row read ends up loaded, quarantined with every reason, or
superseded, and ``raw.load_report`` says how many of each, per file.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import duckdb

from huinong.intake import keys, tables
from huinong.intake.cross_file import cross_file_rules
from huinong.intake.csv_reader import stage_csv
from huinong.intake.errors import IntakeError
from huinong.intake.publish import create_outputs, publish_file, read_summary
from huinong.intake.rules import column_specs, message_texts, row_rules
from huinong.intake.sources import Source, complete_sources, folder_sources
from huinong.intake.staging import StagedFile, staging_columns
from huinong.intake.store import Delivery, is_store, list_deliveries, store_sources
from huinong.intake.summary import IntakeSummary
from huinong.intake.text import normalised_cell, register_nfkc, unregister_nfkc
from huinong.intake.xlsx_reader import stage_xlsx
from huinong.schema import RAW_FILES, RawFile

Progress = Callable[[str], None]


def load_raw(
    raw_dir: Path, con: duckdb.DuckDBPyConnection, progress: Progress | None = None
) -> IntakeSummary:
    """Read a raw folder or delivery store into ``raw.*`` on ``con``.

    Raises IntakeError when a file cannot be read at all; bad rows go to
    ``raw.quarantine`` instead.
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise IntakeError(f"原始数据文件夹不存在：{raw_dir}")
    deliveries: list[Delivery] = []
    if is_store(raw_dir):
        deliveries = list_deliveries(raw_dir)
        if not deliveries:
            raise IntakeError(f"数据接收库 {raw_dir} 中还没有任何已接收的报送")
        sources = store_sources(deliveries)
    else:
        sources = folder_sources(raw_dir, 1, None)
    return run_intake(con, sources, deliveries, progress)


def run_intake(
    con: duckdb.DuckDBPyConnection,
    sources: list[Source],
    deliveries: list[Delivery],
    progress: Progress | None,
    *,
    keep_quarantine: bool = False,
) -> IntakeSummary:
    """Read ``sources`` into ``raw.*`` on ``con``; the connection's settings are left as found."""
    sources, default_villages = complete_sources(sources)
    insertion_order = con.execute("select current_setting('preserve_insertion_order')").fetchone()
    work_dir = Path(tempfile.mkdtemp(prefix="huinong-intake-"))
    run = IntakeRun(con, sources, deliveries, progress, work_dir)
    try:
        # Row numbers come from scan order, which only this setting keeps.
        con.execute("set preserve_insertion_order = true")
        register_nfkc(con)
        summary = run.execute(keep_quarantine=keep_quarantine)
    finally:
        run.drop_temporaries()
        unregister_nfkc(con)
        con.execute(f"set preserve_insertion_order = {'true' if insertion_order[0] else 'false'}")
        shutil.rmtree(work_dir, ignore_errors=True)
    summary.default_villages = default_villages
    summary.delivery_ids = [delivery.delivery_id for delivery in deliveries]
    return summary


class IntakeRun:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        sources: list[Source],
        deliveries: list[Delivery],
        progress: Progress | None,
        work_dir: Path,
    ) -> None:
        self.con = con
        self.sources = sources
        self.deliveries = deliveries
        self.progress = progress
        self.work_dir = work_dir
        self.staged: dict[int, StagedFile] = {}
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
        self._temp(tables.FOUND_REASONS)
        con.execute(
            f"create or replace temp table {tables.FOUND_REASONS} "
            "(source_file varchar, _seq integer, _row integer, reason varchar)"
        )
        for index, source in enumerate(self.sources):
            self.staged[index] = self._stage(index, source)
        for raw_file in RAW_FILES.values():
            self._validate(raw_file)
        self.say("核对各表之间的对应关系…")
        cross_file_rules(con)
        self.say("写入 raw 表…")
        for raw_file in RAW_FILES.values():
            instances = [(source, staged) for _, source, staged in self._instances(raw_file)]
            publish_file(con, raw_file, instances, self.say)
        missing = [
            (source.raw_file.name, source.file_name, source.raw_file.column(name).label)
            for index, source in enumerate(self.sources)
            for name in self.staged[index].layout.missing_optional
        ]
        return read_summary(con, missing, keep_quarantine=keep_quarantine)

    # Reading ------------------------------------------------------------------------------

    def _stage(self, index: int, source: Source) -> StagedFile:
        table = self._temp(tables.staged(index))
        for suffix in ("_raw", "_rejects", "_scans"):
            self.temporaries.append(table + suffix)
        self.say(f"读取 {source.display_name}…")
        if not source.path.is_file():
            raise IntakeError(f"找不到文件 {source.display_name}")
        try:
            if source.path.suffix.lower() == ".xlsx":
                staged = stage_xlsx(
                    self.con,
                    source.raw_file,
                    source.path,
                    table,
                    source.display_name,
                    lambda rows: self.say(f"读取 {source.display_name}：{rows:,} 行…"),
                )
            else:
                staged = stage_csv(
                    self.con,
                    source.raw_file,
                    source.path,
                    table,
                    source.display_name,
                    self.work_dir,
                )
        except duckdb.Error as error:
            # What the reader could not take is the file's fault, not a crash to show.
            detail = str(error).strip().splitlines()[0]
            raise IntakeError(f"{source.display_name} 无法读取：{detail}") from error
        self.say(f"读取 {source.display_name}：{staged.rows:,} 行…")
        return staged

    def _instances(self, raw_file: RawFile) -> list[tuple[int, Source, StagedFile]]:
        return [
            (index, source, self.staged[index])
            for index, source in enumerate(self.sources)
            if source.raw_file.name == raw_file.name
        ]

    # Validating ---------------------------------------------------------------------------

    def _rows_sql(self, raw_file: RawFile) -> str:
        """Every non-blank row of every delivery of one file: ``_seq, _row, _shape, n_*``."""
        parts = []
        for _, source, staged in self._instances(raw_file):
            cells = staging_columns(len(staged.layout.headers))
            texts = []
            for column in raw_file.column_names:
                position = staged.layout.positions.get(column)
                cell = (
                    "null"
                    if position is None
                    else normalised_cell(cells[position], staged.needs_nfkc)
                )
                texts.append(f"{cell} as n_{column}")
            # Blank rows (Excel's trailing ",,,,") are not rows; their numbers stay used.
            blank = " and ".join(f"nullif(trim({cell}), '') is null" for cell in cells)
            parts.append(
                f"select {source.seq} as _seq, coalesce(_row, rowid + 1)::integer as _row, "
                f"_shape, {', '.join(texts)} from {staged.table} "
                f"where not ({blank} and _overflow is null)"
            )
        if not parts:
            # An optional file not delivered (entities): no rows, but the same columns, so that
            # the rules across files read it like any other.
            texts = "".join(f", null::varchar as n_{column}" for column in raw_file.column_names)
            return (
                "select null::integer as _seq, null::integer as _row, null::varchar as _shape"
                f"{texts} where false"
            )
        return " union all ".join(parts)

    def _validate(self, raw_file: RawFile) -> None:
        """Type every cell, give every row its own reasons, settle supersession and duplicates."""
        self.say(f"校验 {raw_file.name}（{raw_file.label}）…")
        con = self.con
        specs = column_specs(raw_file)
        helpers = "".join(", " + helper for spec in specs.values() for helper in spec.helpers)
        typed = ", ".join(f"{spec.value} as {column}" for column, spec in specs.items())
        reasons = ["_shape"]
        for column in raw_file.column_names:
            reasons.extend(specs[column].reasons)
        reasons.extend(row_rules(raw_file))
        columns = ", ".join(raw_file.column_names)
        kept = "".join(f", n_{column} as _text_{column}" for column in message_texts(raw_file))
        table = self._temp(tables.validated(raw_file.name))
        # Layered projections: normalised text, then helpers, then typed values, then
        # the reasons, which read all three.
        con.execute(
            f"""create or replace temp table {table} as
            select _seq, _row, {columns}{kept},
                {keys.key_sql(raw_file)} as _key,
                false as _superseded,
                list_filter([{", ".join(reasons)}], lambda reason: reason is not null) as _reasons
            from (
                select *, {typed} from (select *{helpers} from ({self._rows_sql(raw_file)}))
            )"""
        )
        if self.multi:
            keys.mark_superseded(con, table)
        keys.flag_duplicates(con, raw_file, table, tables.FOUND_REASONS)
