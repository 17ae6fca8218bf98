"""Reading a CSV into a staging table.

UTF-8 (with or without BOM) is read by DuckDB as it is; GBK/GB18030 (what
Excel on a Chinese Windows saves) and UTF-16 are transcoded first, since
DuckDB reads no GBK. The delimiter and the header row are found among the
first lines. A file DuckDB's reader rejects goes row by row through
Python's csv module, which also numbers rows whose field count is off.
"""

from __future__ import annotations

import codecs
import csv
import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from huinong.intake.errors import IntakeError
from huinong.intake.headers import (
    HEADER_SEARCH_ROWS,
    FileLayout,
    find_header_row,
    header_score,
    layout_for,
)
from huinong.intake.limits import DEFAULT_LIMITS, Limits, field_too_long, too_many_rows
from huinong.intake.staging import (
    BATCH_ROWS,
    StagedFile,
    append_batch,
    create_staging,
    staging_columns,
)
from huinong.intake.text import needs_nfkc
from huinong.schema import RawFile

DECODE_CHUNK_BYTES = 8 << 20
HEAD_BYTES = 1 << 20

DELIMITERS = (",", "\t", ";", "|")


@dataclass
class TextFile:
    """A CSV's encoding, a UTF-8 path with its text, and whether any cell may need NFKC."""

    encoding: str
    utf8_path: Path
    needs_nfkc: bool


def _scan_text(path: Path, encoding: str, sink: io.BufferedWriter | None = None) -> bool | None:
    """Decode the whole file: whether NFKC would change it, or None when it does not decode."""
    decoder = codecs.getincrementaldecoder(encoding)()
    needs = False
    try:
        with path.open("rb") as handle:
            final = False
            while not final:
                chunk = handle.read(DECODE_CHUNK_BYTES)
                final = not chunk
                text = decoder.decode(chunk, final=final)
                needs = needs or needs_nfkc(text)
                if sink is not None:
                    sink.write(text.encode("utf-8"))
    except UnicodeDecodeError:
        return None
    return needs


def read_text(path: Path, display_name: str, work_dir: Path | None) -> TextFile:
    """UTF-8 (with or without BOM) as it is; GBK/GB18030 or UTF-16 transcoded for DuckDB,
    which reads no GBK. Without ``work_dir`` nothing is written: only decodability is checked.
    """
    with path.open("rb") as handle:
        start = handle.read(4)
    if not start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-8-sig" if start.startswith(codecs.BOM_UTF8) else "utf-8"
        needs = _scan_text(path, encoding)
        if needs is not None:
            return TextFile(encoding, path, needs)
    encoding = (
        "utf-16" if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "gb18030"
    )
    if work_dir is None:
        needs = _scan_text(path, encoding)
        target = path
    else:
        target = Path(tempfile.mkstemp(suffix=".csv", dir=work_dir)[1])
        with target.open("wb") as sink:
            needs = _scan_text(path, encoding, sink)
    if needs is None:
        if target != path:
            target.unlink(missing_ok=True)
        raise IntakeError(
            f"{display_name} 无法识别文字编码：既不是 UTF-8，也不是 GBK/GB18030。"
            "请在 Excel 中另存为“CSV UTF-8（逗号分隔）”或 Excel 工作簿后重新报送"
        )
    return TextFile(encoding, target, needs)


def _head_records(path: Path, delimiter: str, encoding: str) -> list[tuple[list[str], int]]:
    """The first records and the physical line each ends on."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    text = head.decode("utf-8-sig" if encoding == "utf-8" else encoding, errors="replace")
    if len(head) == HEAD_BYTES and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    records: list[tuple[list[str], int]] = []
    try:
        for record in reader:
            records.append((record, reader.line_num))
            if len(records) > HEADER_SEARCH_ROWS:
                break
    except csv.Error:
        # A field past the limit, a NUL: the header lies before it; reading the rows says where.
        pass
    return records


@dataclass
class CsvDialect:
    delimiter: str
    skip_lines: int
    headers: list[str]


def sniff_csv(raw_file: RawFile, path: Path, encoding: str, display_name: str) -> CsvDialect:
    best: tuple[tuple[int, int], CsvDialect] | None = None
    for delimiter in DELIMITERS:
        records = _head_records(path, delimiter, encoding)
        filled = [index for index, (record, _) in enumerate(records) if record]
        try:
            chosen = find_header_row(raw_file, [records[i][0] for i in filled], display_name)
        except IntakeError:
            continue
        position = filled[chosen]
        headers = records[position][0]
        # csv.reader yields [] for a blank line, so the record before the header
        # ends on the last line to skip.
        skip = records[position - 1][1] if position else 0
        score = header_score(raw_file, headers)
        if best is None or score > best[0]:
            best = (score, CsvDialect(delimiter, skip, headers))
    if best is None:
        # The comma reading gives the clerk-facing message.
        records = [record for record, _ in _head_records(path, ",", encoding) if record]
        find_header_row(raw_file, records, display_name)
        raise IntakeError(f"{display_name} 找不到表头")
    return best[1]


def stage_csv(
    con: duckdb.DuckDBPyConnection,
    raw_file: RawFile,
    path: Path,
    table: str,
    display_name: str,
    work_dir: Path,
    limits: Limits = DEFAULT_LIMITS,
) -> StagedFile:
    text = read_text(path, display_name, work_dir)
    dialect = sniff_csv(raw_file, text.utf8_path, "utf-8", display_name)
    layout = layout_for(raw_file, dialect.headers, display_name)
    count = len(dialect.headers)
    columns = ", ".join(f"'{name}': 'VARCHAR'" for name in staging_columns(count))
    rejects_table, rejects_scan = f"{table}_rejects", f"{table}_scans"
    python_path = (con, text, dialect, layout, table, display_name, limits)
    # Row numbers are the staging table's rowid + 1: the scan keeps insertion order
    # and drops nothing; a row the reader rejects sends the file down the Python path.
    # So does a line longer than a field may be: only that path can say which field is too long.
    try:
        con.execute(
            f"create or replace temp table {table} as "
            f"select null::integer as _row, null::varchar as _shape, null::varchar as _overflow, * "
            f"from read_csv($path, auto_detect=false, header=true, skip=$skip, "
            f"delim=$delim, quote='\"', escape='\"', columns={{{columns}}}, "
            f"max_line_size=$line, "
            f"store_rejects=true, rejects_table='{rejects_table}', rejects_scan='{rejects_scan}')",
            {
                "path": str(text.utf8_path),
                "skip": dialect.skip_lines,
                "delim": dialect.delimiter,
                "line": limits.max_field_chars,
            },
        )
    except duckdb.Error:
        # DuckDB's reader gives up on some files Python's csv module reads fine (line endings
        # mixed by hand-appended rows, for one): read those row by row.
        for leftover in (table, rejects_table, rejects_scan):
            con.execute(f"drop table if exists {leftover}")
        return _stage_csv_python(*python_path)
    rejected = con.execute(f"select count(*) from {rejects_table}").fetchone()[0]
    con.execute(f"drop table if exists {rejects_table}")
    con.execute(f"drop table if exists {rejects_scan}")
    if rejected:
        con.execute(f"drop table {table}")
        return _stage_csv_python(*python_path)
    rows = con.execute(f"select count(*) from {table}").fetchone()[0]
    if rows > limits.max_rows:
        raise IntakeError(too_many_rows(display_name, limits))
    return StagedFile(table, layout, rows, text.needs_nfkc)


def _stage_csv_python(
    con: duckdb.DuckDBPyConnection,
    text: TextFile,
    dialect: CsvDialect,
    layout: FileLayout,
    table: str,
    display_name: str,
    limits: Limits,
) -> StagedFile:
    """Exact row numbers and field counts for a CSV whose rows do not all fit the header."""
    utf8_path = text.utf8_path
    count = len(dialect.headers)
    create_staging(con, table, count)
    names = staging_columns(count)
    batch: dict[str, list] = {"_row": [], "_shape": [], "_overflow": [], **{n: [] for n in names}}
    row_number = 0
    delimiter = dialect.delimiter
    # The module's limit is process-wide; every reader of this package reads with the same one.
    csv.field_size_limit(limits.max_field_chars)
    with utf8_path.open(encoding="utf-8-sig", newline="") as handle:
        for _ in range(dialect.skip_lines):
            handle.readline()
        reader = csv.reader(handle, delimiter=dialect.delimiter, strict=False)
        next(reader, None)
        for record in _records(reader, display_name, limits):
            if not record:
                continue
            row_number += 1
            if row_number > limits.max_rows:
                raise IntakeError(too_many_rows(display_name, limits))
            batch["_row"].append(row_number)
            extra = record[count:]
            # Trailing empty fields ("1,2,3,,") carry nothing; a short row may be cut off.
            if extra and not any(field.strip() for field in extra):
                extra = []
            elif len(record) != count:
                batch["_shape"].append(f"本行有 {len(record)} 个字段，与表头的 {count} 列不符")
            if len(batch["_shape"]) < len(batch["_row"]):
                batch["_shape"].append(None)
            batch["_overflow"].append(delimiter.join(extra) if extra else None)
            for position, name in enumerate(names):
                value = record[position] if position < len(record) else None
                batch[name].append(value if value != "" else None)
            if len(batch["_row"]) >= BATCH_ROWS:
                append_batch(con, table, batch, f"{table}_batch")
                batch = {key: [] for key in batch}
    if batch["_row"]:
        append_batch(con, table, batch, f"{table}_batch")
    return StagedFile(table, layout, row_number, text.needs_nfkc, fallback=True)


def _records(reader: Iterator[list[str]], display_name: str, limits: Limits) -> Iterator[list[str]]:
    """The reader's records; what the csv module cannot read, in words naming the row (the
    number of the data row it was reading: blank lines are not rows)."""
    rows = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            row = rows + 1
            if "field larger than field limit" in str(error):
                raise IntakeError(field_too_long(display_name, row, limits)) from error
            if "NUL" in str(error):
                raise IntakeError(
                    f"{display_name} 第 {row:,} 行含有空字符（NUL），文件可能已损坏。"
                    "请在 Excel 中打开后另存为 CSV 重新报送"
                ) from error
            raise IntakeError(
                f"{display_name} 第 {row:,} 行的格式无法识别。请在 Excel 中打开后另存为 CSV 重新报送"
            ) from error
        if record:
            rows += 1
        yield record


def inspect_csv(raw_file: RawFile, path: Path, display_name: str) -> FileLayout:
    """The checks a CSV must pass to be readable at all, without reading its rows."""
    text = read_text(path, display_name, None)
    dialect = sniff_csv(raw_file, path, text.encoding, display_name)
    return layout_for(raw_file, dialect.headers, display_name)
