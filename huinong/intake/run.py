"""One intake run: stage every file → validate each file's rows → rules across files → publish.

A raw folder is either one delivery (``NAME.csv`` / ``NAME.xlsx``) or a
delivery store (``deliveries/NNNN/`` each with a ``manifest.json``), read in
acceptance order, withdrawn deliveries left out: a later delivery's row that
passes validation supersedes an earlier one with the same key; one that fails
is quarantined and the earlier row stays (huinong.intake.keys). Every row read
ends up loaded, quarantined with every reason, or superseded, and
``raw.load_report`` says how many of each, per file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from huinong.intake import keys, tables
from huinong.intake.cross_file import cross_file_rules
from huinong.intake.csv_reader import stage_csv
from huinong.intake.errors import IntakeError
from huinong.intake.limits import DEFAULT_LIMITS, MAX_AMOUNT_TOTAL, Limits, amount_text
from huinong.intake.publish import create_outputs, publish_file, read_summary
from huinong.intake.rules import column_specs, date_window_rules, message_texts, row_rules
from huinong.intake.sources import Source, complete_sources, folder_sources
from huinong.intake.staging import StagedFile, staging_columns
from huinong.intake.store import (
    Delivery,
    active_deliveries,
    is_store,
    list_deliveries,
    store_sources,
)
from huinong.intake.summary import IntakeSummary
from huinong.intake.text import normalised_cell, register_nfkc, unregister_nfkc
from huinong.intake.xlsx_reader import stage_xlsx
from huinong.schema import RAW_FILES, RawFile
from huinong.workspace import work_folder

Progress = Callable[[str], None]

# Rounds of settling which corrections stand (huinong.intake.keys): each round a correction that
# broke a rule across files gives its place back; chains longer than this are not expected.
MAX_SETTLE_ROUNDS = 10


@dataclass(frozen=True)
class IntakeChecks:
    """What the rows are checked against beyond the contract: the programme's start (no event
    before it), the day files not yet in the store are read (no event after it) and the limits."""

    programme_start: dt.date
    today: dt.date = field(default_factory=dt.date.today)
    limits: Limits = DEFAULT_LIMITS

    @classmethod
    def from_policy(cls, policy=None, **values) -> IntakeChecks:
        from huinong.policy import default_policy

        profile = policy if policy is not None else default_policy()
        start = dt.date.fromisoformat(str(profile["programme_start"]))
        return cls(programme_start=start, **values)


def load_raw(
    raw_dir: Path,
    con: duckdb.DuckDBPyConnection,
    progress: Progress | None = None,
    checks: IntakeChecks | None = None,
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
) -> IntakeSummary:
    """Read ``sources`` into ``raw.*`` on ``con``; the connection's settings are left as found."""
    checks = checks or IntakeChecks.from_policy()
    sources, default_villages = complete_sources(sources)
    insertion_order = con.execute("select current_setting('preserve_insertion_order')").fetchone()
    work_dir = work_folder("intake")
    run = IntakeRun(con, sources, deliveries, progress, work_dir, checks)
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
    summary.notes = [note for index in sorted(run.staged) for note in run.staged[index].notes]
    return summary


class IntakeRun:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        sources: list[Source],
        deliveries: list[Delivery],
        progress: Progress | None,
        work_dir: Path,
        checks: IntakeChecks,
    ) -> None:
        self.con = con
        self.sources = sources
        self.deliveries = deliveries
        self.progress = progress
        self.work_dir = work_dir
        self.checks = checks
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
        for name in (tables.FOUND_REASONS, tables.DUPLICATES, tables.KEPT_REASONS):
            self._temp(name)
            con.execute(
                f"create or replace temp table {name} "
                "(source_file varchar, _seq integer, _row integer, reason varchar)"
            )
        for index, source in enumerate(self.sources):
            self.staged[index] = self._stage(index, source)
        for raw_file in RAW_FILES.values():
            self._validate(raw_file)
        self.say("核对各表之间的对应关系…")
        self._settle()
        self._check_totals()
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
                    self.checks.limits,
                )
            else:
                staged = stage_csv(
                    self.con,
                    source.raw_file,
                    source.path,
                    table,
                    source.display_name,
                    self.work_dir,
                    self.checks.limits,
                )
        except duckdb.Error as error:
            # What the reader could not take is the file's fault, not a crash to show; the
            # reader's own (English) words stay in the exception chain, not the clerk's message.
            raise IntakeError(
                f"{source.display_name} 的格式无法读取。请在 Excel 中打开，另存为"
                "“CSV UTF-8（逗号分隔）”或 Excel 工作簿后重新报送"
            ) from error
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
            received = (source.received_on or self.checks.today).isoformat()
            parts.append(
                f"select {source.seq} as _seq, coalesce(_row, rowid + 1)::integer as _row, "
                f"_shape, date '{received}' as _received_on, {', '.join(texts)} "
                f"from {staged.table} where not ({blank} and _overflow is null)"
            )
        if not parts:
            # An optional file not delivered (entities): no rows, but the same columns, so that
            # the rules across files read it like any other.
            texts = "".join(f", null::varchar as n_{column}" for column in raw_file.column_names)
            return (
                "select null::integer as _seq, null::integer as _row, null::varchar as _shape, "
                f"null::date as _received_on{texts} where false"
            )
        return " union all ".join(parts)

    def _validate(self, raw_file: RawFile) -> None:
        """Type every cell, give every row its own reasons, flag duplicates within a delivery."""
        self.say(f"校验 {raw_file.name}（{raw_file.label}）…")
        con = self.con
        specs = column_specs(raw_file)
        helpers = "".join(", " + helper for spec in specs.values() for helper in spec.helpers)
        typed = ", ".join(f"{spec.value} as {column}" for column, spec in specs.items())
        reasons = ["_shape"]
        for column in raw_file.column_names:
            reasons.extend(specs[column].reasons)
        reasons.extend(row_rules(raw_file))
        reasons.extend(date_window_rules(raw_file, self.checks.programme_start))
        columns = ", ".join(raw_file.column_names)
        kept = "".join(f", n_{column} as _text_{column}" for column in message_texts(raw_file))
        table = self._temp(tables.validated(raw_file.name))
        # Layered projections: normalised text, then helpers, then typed values, then
        # the reasons, which read all three.
        con.execute(
            f"""create or replace temp table {table} as
            select *, len(_reasons) = 0 as _own_ok, false as _superseded, false as _rejected,
                false as _earlier_ok, false as _disqualified
            from (
                select _seq, _row, {columns}{kept},
                    {keys.key_sql(raw_file)} as _key,
                    list_filter([{", ".join(reasons)}], lambda reason: reason is not null)
                        as _reasons
                from (
                    select *, {typed} from (select *{helpers} from ({self._rows_sql(raw_file)}))
                )
            )"""
        )
        keys.flag_duplicates(con, raw_file, table, tables.DUPLICATES)

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
                    keys.settle(con, tables.validated(raw_file.name))
            con.execute(f"delete from {tables.FOUND_REASONS}")
            cross_file_rules(con)
            if not self.multi or round_ == MAX_SETTLE_ROUNDS:
                break
            lost = sum(
                keys.disqualify(
                    con,
                    raw_file,
                    tables.validated(raw_file.name),
                    tables.FOUND_REASONS,
                    tables.KEPT_REASONS,
                )
                for raw_file in RAW_FILES.values()
            )
            if not lost:
                break
        # A correction that lost its place is quarantined with the reasons that cost it.
        for raw_file in RAW_FILES.values():
            con.execute(
                f"""insert into {tables.FOUND_REASONS}
                select kept.* from {tables.KEPT_REASONS} kept
                join {tables.validated(raw_file.name)} v using (_seq, _row)
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
                f"(select * from {tables.validated(raw_file.name)} "
                f"where not _superseded and not _rejected and _own_ok)"
            )
            bound = con.execute(f"select sum({row_total}) from {passing}").fetchone()[0]
            if bound is None or bound < MAX_AMOUNT_TOTAL:
                continue
            loaded = (
                f"(select v.* from {passing} v "
                f"anti join (select _seq, _row from {tables.FOUND_REASONS} "
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
