"""One file's rows validated on their own, written as parquet: what never changes about a row.

Parsing a file reads it (csv_reader, xlsx_reader → staging), types every cell
(huinong.intake.cells), gives every row its own reasons (huinong.intake.rules, the date window
of its delivery) and finds the keys repeated within the file (huinong.intake.keys). None of it
depends on another file or another delivery, so a delivery in the store is parsed once
(huinong.intake.parsed_deliveries); a run combines the parsed files and settles what does
depend on the others (supersession, the rules across files).

The parquet holds a row per non-blank row of the file (blank rows are not rows; their numbers
stay used), in file order:

- ``_row``: the row's number in its file;
- ``_cell_<i>``, ``_overflow``: the cells as read, for the quarantine's copy of the row;
- the contract's columns typed as ``raw.<file>`` has them, ``_text_<column>`` (normalised texts
  the rules across files quote), ``_key``;
- ``_reasons``: the row's own reasons; ``_duplicate``: the reason when its key is repeated in the
  file (none of those rows passes).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from huinong.intake import keys
from huinong.intake.checks import IntakeChecks
from huinong.intake.csv_reader import stage_csv
from huinong.intake.errors import IntakeError
from huinong.intake.headers import FileLayout
from huinong.intake.rules import column_specs, date_window_rules, message_texts, row_rules
from huinong.intake.sources import Source
from huinong.intake.staging import StagedFile, staging_columns
from huinong.intake.text import WHITESPACE_SQL, normalised_cell, register_nfkc, unregister_nfkc
from huinong.intake.xlsx_reader import stage_xlsx
from huinong.schema import RawFile

Progress = Callable[[str], None]

STAGED = "_hn_s"
PARSED = "_hn_p"
UNNAMED_CELLS = "（表头右侧无列名的单元格）"

# The modules whose code decides how a row is read, typed and judged on its own. A parsed file
# records a digest of them (fingerprint): any change re-parses the store's deliveries once, so
# that a build always gives what validating every file anew would.
_PARSING_MODULES = (
    "cells",
    "csv_reader",
    "headers",
    "keys",
    "limits",
    "parse",
    "rules",
    "staging",
    "text",
    "xlsx_reader",
    "xlsx_sheet",
)


@dataclass
class ParsedFile:
    """One file validated on its own: its parquet (``path``) and what a run needs of it beyond
    the rows — which cell is which column, the notes and extra columns for the report."""

    path: Path
    layout: FileLayout
    rows: int
    notes: list[str] = field(default_factory=list)
    # (column name, non-empty cells) of the columns the contract does not name, in file order.
    extra_columns: list[tuple[str, int]] = field(default_factory=list)

    def describe(self) -> dict:
        return {
            "parquet": self.path.name,
            "layout": asdict(self.layout),
            "rows": self.rows,
            "notes": self.notes,
            "extra_columns": [list(item) for item in self.extra_columns],
        }

    @classmethod
    def described(cls, folder: Path, values: dict) -> ParsedFile:
        return cls(
            path=folder / values["parquet"],
            layout=FileLayout(**values["layout"]),
            rows=int(values["rows"]),
            notes=list(values["notes"]),
            extra_columns=[(str(name), int(count)) for name, count in values["extra_columns"]],
        )


def fingerprint(checks: IntakeChecks) -> str:
    """What a parsed file depends on besides its own bytes and its delivery's receipt day: the
    parsing code, DuckDB's version (its casts type the cells), the programme's start and the
    limits."""
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for name in _PARSING_MODULES:
        digest.update((package / f"{name}.py").read_bytes())
    digest.update(duckdb.__version__.encode())
    digest.update(checks.programme_start.isoformat().encode())
    digest.update(json.dumps(asdict(checks.limits), sort_keys=True).encode())
    return digest.hexdigest()


def parse_file(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    target: Path,
    work_dir: Path,
    checks: IntakeChecks,
    say: Progress,
) -> ParsedFile:
    """Read ``source``, validate its rows on their own and write them to ``target`` (parquet).

    ``con`` must keep insertion order and have the NFKC function (session below).
    """
    staged = _stage(con, source, work_dir, checks, say)
    try:
        say(f"校验 {source.display_name}…")
        received = source.received_on or checks.today
        con.execute(
            f"create or replace temp table {PARSED} as "
            + own_rows_sql(source.raw_file, staged, received, checks.programme_start)
        )
        keys.flag_duplicates(con, source.raw_file, PARSED)
        extras = _extra_columns(con, staged)
        quoted = str(target).replace("'", "''")
        con.execute(f"copy {PARSED} to '{quoted}' (format parquet, compression zstd)")
        return ParsedFile(target, staged.layout, staged.rows, staged.notes, extras)
    finally:
        for table in (PARSED, STAGED, f"{STAGED}_rejects", f"{STAGED}_scans"):
            con.execute(f"drop table if exists {table}")


def _stage(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    work_dir: Path,
    checks: IntakeChecks,
    say: Progress,
) -> StagedFile:
    say(f"读取 {source.display_name}…")
    if not source.path.is_file():
        raise IntakeError(f"找不到文件 {source.display_name}")
    try:
        if source.path.suffix.lower() == ".xlsx":
            staged = stage_xlsx(
                con,
                source.raw_file,
                source.path,
                STAGED,
                source.display_name,
                lambda rows: say(f"读取 {source.display_name}：{rows:,} 行…"),
                checks.limits,
            )
        else:
            staged = stage_csv(
                con,
                source.raw_file,
                source.path,
                STAGED,
                source.display_name,
                work_dir,
                checks.limits,
            )
    except duckdb.Error as error:
        # What the reader could not take is the file's fault, not a crash to show; the
        # reader's own (English) words stay in the exception chain, not the clerk's message.
        raise IntakeError(
            f"{source.display_name} 的格式无法读取。请在 Excel 中打开，另存为"
            "“CSV UTF-8（逗号分隔）”或 Excel 工作簿后重新报送"
        ) from error
    say(f"读取 {source.display_name}：{staged.rows:,} 行…")
    return staged


def own_rows_sql(
    raw_file: RawFile, staged: StagedFile, received_on: dt.date, programme_start: dt.date
) -> str:
    """The staged file's non-blank rows, typed, with their own reasons (``_duplicate`` empty)."""
    cells = staging_columns(len(staged.layout.headers))
    texts = []
    for column in raw_file.column_names:
        position = staged.layout.positions.get(column)
        cell = "null" if position is None else normalised_cell(cells[position], staged.needs_nfkc)
        texts.append(f"{cell} as n_{column}")
    as_read = "".join(f", {cell} as _cell_{position}" for position, cell in enumerate(cells))
    # Blank rows (Excel's trailing ",,,,") are not rows; their numbers stay used.
    blank = " and ".join(f"nullif(trim({cell}), '') is null" for cell in cells)
    rows = (
        f"select coalesce(_row, rowid + 1)::integer as _row, _shape, _overflow{as_read}, "
        f"date '{received_on.isoformat()}' as _received_on, {', '.join(texts)} "
        f"from {staged.table} where not ({blank} and _overflow is null)"
    )
    specs = column_specs(raw_file)
    helpers = "".join(", " + helper for spec in specs.values() for helper in spec.helpers)
    typed = ", ".join(f"{spec.value} as {column}" for column, spec in specs.items())
    reasons = ["_shape"]
    for column in raw_file.column_names:
        reasons.extend(specs[column].reasons)
    reasons.extend(row_rules(raw_file))
    reasons.extend(date_window_rules(raw_file, programme_start))
    stored = "".join(
        f", {column.name}::{column.sql_type} as {column.name}" for column in raw_file.columns
    )
    kept = "".join(f", n_{column}::varchar as _text_{column}" for column in message_texts(raw_file))
    as_read_out = "".join(f", _cell_{position}" for position in range(len(cells)))
    # Layered projections: normalised text, then helpers, then typed values, then the reasons,
    # which read all three.
    return f"""select _row{as_read_out}, _overflow{stored}{kept},
            ({keys.key_sql(raw_file)})::varchar as _key,
            list_filter([{", ".join(reasons)}], lambda reason: reason is not null) as _reasons,
            null::varchar as _duplicate
        from (select *, {typed} from (select *{helpers} from ({rows})))"""


def _extra_columns(con: duckdb.DuckDBPyConnection, staged: StagedFile) -> list[tuple[str, int]]:
    """Columns the contract does not name: kept aside and counted, not fatal."""
    layout = staged.layout
    found: list[tuple[str, int]] = []
    if not staged.fallback:
        # Cells right of the last named column (an xlsx with values under no header).
        unnamed = con.execute(
            f"select count(*) from {staged.table} where _overflow is not null"
        ).fetchone()[0]
        if unnamed:
            found.append((UNNAMED_CELLS, unnamed))
    if layout.extras:
        filled = ", ".join(
            f"count(*) filter (where nullif(trim(c{position}, {WHITESPACE_SQL}), '') is not null)"
            for position in layout.extras
        )
        values = con.execute(f"select {filled} from {staged.table}").fetchone()
        for position, count in zip(layout.extras, values, strict=True):
            found.append((layout.headers[position].strip() or f"（第{position + 1}列）", count))
    return found


@contextlib.contextmanager
def session(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """What parsing needs of a connection, left as found afterwards: insertion order kept (row
    numbers come from scan order) and the NFKC function."""
    kept = con.execute("select current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("set preserve_insertion_order = true")
    register_nfkc(con)
    try:
        yield
    finally:
        unregister_nfkc(con)
        con.execute(f"set preserve_insertion_order = {'true' if kept else 'false'}")
