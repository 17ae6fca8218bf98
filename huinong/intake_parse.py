"""Reading raw files and the SQL that parses their cells: the intake's lower half.

``huinong.intake`` decides which files to read and what a valid row is;
this module turns one CSV or xlsx file into a DuckDB staging table of text
cells (``c0 … cN`` plus the row number), and writes the SQL expressions
that normalise, type and explain every cell. Cell work happens in DuckDB,
column at a time; Python touches rows one by one only for xlsx files and
for the rare CSV that DuckDB's reader rejects.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import itertools
import math
import re
import sys
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa

from huinong.schema import Column, RawFile

NFKC_FUNCTION = "_hn_nfkc"
XLSX_BATCH_ROWS = 50_000
DECODE_CHUNK_BYTES = 8 << 20
HEAD_BYTES = 1 << 20
HEADER_SEARCH_ROWS = 10


class IntakeError(Exception):
    """A raw file or delivery that cannot be read at all; the message is for a clerk."""


def sql_text(value: str) -> str:
    """A SQL string literal of text that comes from schema.py or this module, never from a file."""
    return "'" + value.replace("'", "''") + "'"


# --- Unicode -------------------------------------------------------------------------------


@cache
def nfkc_sensitive_class() -> str:
    """An RE2 character class of every character that NFKC or trimming could change.

    Most cells are plain ASCII or CJK text that NFKC leaves alone; only cells
    holding one of these characters go through Python's NFKC, the rest are
    trimmed in SQL.
    """
    points = {
        point
        for point in range(sys.maxunicode + 1)
        if not 0xD800 <= point < 0xE000
        and (not unicodedata.is_normalized("NFKC", chr(point)) or unicodedata.combining(chr(point)))
    }
    # Hangul vowel and final jamo compose with what precedes them.
    points |= set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    # Tabs, line breaks and zero-width characters are stripped by the Python path.
    points |= {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF}
    ranges: list[list[int]] = []
    for point in sorted(points):
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    parts = [
        f"\\x{{{low:x}}}" if low == high else f"\\x{{{low:x}}}-\\x{{{high:x}}}"
        for low, high in ranges
    ]
    return "[" + "".join(parts) + "]"


_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")


def normalize_text(value: str | None) -> str | None:
    """NFKC, zero-width characters removed, surrounding whitespace stripped; '' becomes None."""
    if value is None:
        return None
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", value)).strip()
    return text or None


def _nfkc_arrow(values: pa.Array) -> pa.Array:
    return pa.array([normalize_text(value) for value in values.to_pylist()], type=pa.string())


def register_nfkc(con: duckdb.DuckDBPyConnection) -> None:
    unregister_nfkc(con)
    con.create_function(NFKC_FUNCTION, _nfkc_arrow, ["VARCHAR"], "VARCHAR", type="arrow")


def unregister_nfkc(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        con.remove_function(NFKC_FUNCTION)


# --- Headers -------------------------------------------------------------------------------


def normalize_header(text: object) -> str:
    if text is None:
        return ""
    header = unicodedata.normalize("NFKC", str(text))
    header = re.sub(r"[\s\u200b\u200c\u200d\u2060\ufeff]+", "", header)
    return header.lstrip("*").lower()


def _header_lookup(raw_file: RawFile) -> dict[str, Column]:
    lookup: dict[str, Column] = {}
    for column in raw_file.columns:
        lookup[normalize_header(column.name)] = column
        lookup[normalize_header(column.label)] = column
    return lookup


def match_header(raw_file: RawFile, text: object) -> Column | None:
    """The schema column a header names: its name, its label, or either with a note in brackets."""
    lookup = _header_lookup(raw_file)
    header = normalize_header(text)
    if header in lookup:
        return lookup[header]
    # "贷款金额(元)" or "放款日期(disbursed_on)": the part outside or inside the brackets.
    bracketed = re.fullmatch(r"(.+?)[(\[](.+)[)\]]", header)
    if bracketed:
        for part in bracketed.groups():
            if part in lookup:
                return lookup[part]
    return None


def column_title(column: Column) -> str:
    return f"{column.label}（{column.name}）"


@dataclass
class FileLayout:
    """How one file's columns line up with the schema."""

    headers: list[str]
    positions: dict[str, int]
    extras: list[int]
    missing_optional: list[str] = field(default_factory=list)

    def json_keys(self) -> list[str]:
        """Header names as in the file, made unique so that each cell keeps its place in JSON."""
        keys: list[str] = []
        seen: set[str] = set()
        for position, header in enumerate(self.headers):
            key = header.strip() or f"（第{position + 1}列）"
            if key in seen:
                key = f"{key}（第{position + 1}列）"
            seen.add(key)
            keys.append(key)
        return keys


def layout_for(raw_file: RawFile, headers: list[str], display_name: str) -> FileLayout:
    positions: dict[str, int] = {}
    extras: list[int] = []
    for position, header in enumerate(headers):
        column = match_header(raw_file, header)
        if column is None:
            extras.append(position)
            continue
        if column.name in positions:
            first = positions[column.name] + 1
            raise IntakeError(
                f"{display_name} 中“{column_title(column)}”列出现了两次"
                f"（第{first}列和第{position + 1}列），无法确定用哪一列"
            )
        positions[column.name] = position
    missing = [column for column in raw_file.columns if column.name not in positions]
    required_missing = [column for column in missing if column.required]
    if required_missing:
        names = "、".join(column_title(column) for column in required_missing)
        raise IntakeError(f"{display_name} 缺少必需列：{names}")
    return FileLayout(
        headers=[str(header) if header is not None else "" for header in headers],
        positions=positions,
        extras=extras,
        missing_optional=[column.name for column in missing],
    )


def _header_score(raw_file: RawFile, row: list) -> tuple[int, int]:
    matched = {column.name for cell in row if (column := match_header(raw_file, cell))}
    required = sum(1 for column in raw_file.columns if column.required and column.name in matched)
    return required, len(matched)


def find_header_row(raw_file: RawFile, rows: list[list], display_name: str) -> int:
    """Index of the header among the first rows: a title line above it is tolerated."""
    if not rows:
        raise IntakeError(f"{display_name} 是空文件，没有表头")
    needed = sum(1 for column in raw_file.columns if column.required)
    best, best_score = 0, (-1, -1)
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        score = _header_score(raw_file, row)
        if score[0] == needed:
            return index
        if score > best_score:
            best, best_score = index, score
    if best_score[1] <= 0:
        expected = "、".join(column.name for column in raw_file.columns if column.required)
        raise IntakeError(
            f"{display_name} 找不到表头：前{HEADER_SEARCH_ROWS}行中没有一行是本表的列名"
            f"（应包含 {expected} 等列，或其中文名）"
        )
    return best


# --- Staged files ----------------------------------------------------------------------------


@dataclass
class StagedFile:
    """One raw file in a staging table of text cells as read: ``_row`` (NULL where the
    row number is rowid + 1), ``_shape`` (a reason when the row's field count is off),
    ``_overflow`` (fields past the header) and ``c0 … cN`` in the file's column order.
    """

    table: str
    layout: FileLayout
    rows: int
    needs_nfkc: bool
    fallback: bool = False


WHITESPACE_SQL = "' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)"


def staging_columns(count: int) -> list[str]:
    return [f"c{position}" for position in range(count)]


def normalised_cell(cell: str, nfkc: bool) -> str:
    """SQL for a cell's normalised text: NFKC, surrounding whitespace trimmed, '' as NULL."""
    if not nfkc:
        # The file holds no character NFKC would change and no tab or form feed
        # (read_text checked), so only spaces can surround a value; trim() of
        # spaces alone is several times faster than trim() of a character set.
        return f"nullif(trim({cell}), '')"
    trimmed = f"trim({cell}, {WHITESPACE_SQL})"
    # Only non-ASCII cells holding a character NFKC would change pay for the Python call.
    return (
        f"nullif(case when strlen({cell}) <> length({cell}) "
        f"and regexp_matches({cell}, '{nfkc_sensitive_class()}') "
        f"then {NFKC_FUNCTION}({cell}) else {trimmed} end, '')"
    )


def _create_raw_staging(con: duckdb.DuckDBPyConnection, table: str, count: int) -> None:
    cells = "".join(f", {name} varchar" for name in staging_columns(count))
    con.execute(
        f"create or replace temp table {table} "
        f"(_row integer, _shape varchar, _overflow varchar{cells})"
    )


def _append_batch(
    con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, list], batch_name: str
) -> None:
    arrow = pa.table(
        {
            "_row": pa.array(columns["_row"], type=pa.int32()),
            **{
                name: pa.array(values, type=pa.string())
                for name, values in columns.items()
                if name != "_row"
            },
        }
    )
    con.register(batch_name, arrow)
    try:
        con.execute(f"insert into {table} by name select * from {batch_name}")
    finally:
        con.unregister(batch_name)


# --- CSV ---------------------------------------------------------------------------------------

DELIMITERS = (",", "\t", ";", "|")


@dataclass
class TextFile:
    """A CSV's encoding, a UTF-8 path with its text, and whether any cell may need NFKC."""

    encoding: str
    utf8_path: Path
    needs_nfkc: bool


_ODD_WHITESPACE = re.compile("[\t\x0b\x0c\u200b\u200c\u200d\u2060\ufeff]")


def _needs_nfkc(text: str) -> bool:
    """Whether some cell may change under normalisation beyond trimming spaces."""
    return not unicodedata.is_normalized("NFKC", text) or _ODD_WHITESPACE.search(text) is not None


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
                needs = needs or _needs_nfkc(text)
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
    for record in reader:
        records.append((record, reader.line_num))
        if len(records) > HEADER_SEARCH_ROWS:
            break
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
        score = _header_score(raw_file, headers)
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
) -> StagedFile:
    text = read_text(path, display_name, work_dir)
    dialect = sniff_csv(raw_file, text.utf8_path, "utf-8", display_name)
    layout = layout_for(raw_file, dialect.headers, display_name)
    count = len(dialect.headers)
    columns = ", ".join(f"'{name}': 'VARCHAR'" for name in staging_columns(count))
    rejects_table, rejects_scan = f"{table}_rejects", f"{table}_scans"
    # Row numbers are the staging table's rowid + 1: the scan keeps insertion order
    # and drops nothing; a row the reader rejects sends the file down the Python path.
    try:
        con.execute(
            f"create or replace temp table {table} as "
            f"select null::integer as _row, null::varchar as _shape, null::varchar as _overflow, * "
            f"from read_csv($path, auto_detect=false, header=true, skip=$skip, "
            f"delim=$delim, quote='\"', escape='\"', columns={{{columns}}}, "
            f"store_rejects=true, rejects_table='{rejects_table}', rejects_scan='{rejects_scan}')",
            {"path": str(text.utf8_path), "skip": dialect.skip_lines, "delim": dialect.delimiter},
        )
    except duckdb.Error:
        # DuckDB's reader gives up on some files Python's csv module reads fine (line endings
        # mixed by hand-appended rows, for one): read those row by row.
        for leftover in (table, rejects_table, rejects_scan):
            con.execute(f"drop table if exists {leftover}")
        return _stage_csv_python(con, text, dialect, layout, table)
    rejected = con.execute(f"select count(*) from {rejects_table}").fetchone()[0]
    con.execute(f"drop table if exists {rejects_table}")
    con.execute(f"drop table if exists {rejects_scan}")
    if rejected:
        con.execute(f"drop table {table}")
        return _stage_csv_python(con, text, dialect, layout, table)
    rows = con.execute(f"select count(*) from {table}").fetchone()[0]
    return StagedFile(table, layout, rows, text.needs_nfkc)


def _stage_csv_python(
    con: duckdb.DuckDBPyConnection,
    text: TextFile,
    dialect: CsvDialect,
    layout: FileLayout,
    table: str,
) -> StagedFile:
    """Exact row numbers and field counts for a CSV whose rows do not all fit the header."""
    utf8_path = text.utf8_path
    count = len(dialect.headers)
    _create_raw_staging(con, table, count)
    names = staging_columns(count)
    batch: dict[str, list] = {"_row": [], "_shape": [], "_overflow": [], **{n: [] for n in names}}
    row_number = 0
    delimiter = dialect.delimiter
    with utf8_path.open(encoding="utf-8-sig", newline="") as handle:
        for _ in range(dialect.skip_lines):
            handle.readline()
        reader = csv.reader(handle, delimiter=dialect.delimiter, strict=False)
        next(reader, None)
        for record in reader:
            if not record:
                continue
            row_number += 1
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
            if len(batch["_row"]) >= XLSX_BATCH_ROWS:
                _append_batch(con, table, batch, f"{table}_batch")
                batch = {key: [] for key in batch}
    if batch["_row"]:
        _append_batch(con, table, batch, f"{table}_batch")
    return StagedFile(table, layout, row_number, text.needs_nfkc, fallback=True)


def inspect_csv(raw_file: RawFile, path: Path, display_name: str) -> FileLayout:
    """The checks a CSV must pass to be readable at all, without reading its rows."""
    text = read_text(path, display_name, None)
    dialect = sniff_csv(raw_file, path, text.encoding, display_name)
    return layout_for(raw_file, dialect.headers, display_name)


# --- xlsx --------------------------------------------------------------------------------------

XLSX_MAX_UNCOMPRESSED = 4 << 30
XLSX_MAX_RATIO = 1000


def _check_xlsx_container(path: Path, display_name: str) -> None:
    """An xlsx is a zip: refuse a non-zip and an archive that would inflate beyond reason."""
    not_xlsx = f"{display_name} 不是有效的 Excel 工作簿（.xlsx）文件"
    if not zipfile.is_zipfile(path):
        with path.open("rb") as handle:
            start = handle.read(8)
        if start.startswith(b"\xd0\xcf\x11\xe0"):
            raise IntakeError(f"{not_xlsx}：它是旧版 .xls 格式，请在 Excel 中另存为 .xlsx 或 CSV")
        raise IntakeError(not_xlsx)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise IntakeError(not_xlsx) from error
    total = sum(member.file_size for member in members)
    packed = sum(member.compress_size for member in members)
    if total > XLSX_MAX_UNCOMPRESSED or total > XLSX_MAX_RATIO * max(packed, 1):
        raise IntakeError(f"{display_name} 解压后过大，疑似压缩炸弹，拒绝读取")
    if not any(member.filename == "xl/workbook.xml" for member in members):
        raise IntakeError(not_xlsx)


def _has_error_cells(path: Path) -> bool:
    """Whether any worksheet holds an error cell (#N/A, #REF! …), by scanning its XML bytes."""
    marker = b't="e"'
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            if not member.filename.startswith("xl/worksheets/") or not member.filename.endswith(
                ".xml"
            ):
                continue
            with archive.open(member) as handle:
                tail = b""
                while chunk := handle.read(1 << 22):
                    if marker in tail + chunk:
                        return True
                    tail = chunk[-len(marker) :]
    return False


def _iter_xlsx(path: Path, display_name: str) -> Iterator[list]:
    """Rows of the first sheet as cell values; formulas give their cached value, never computed.

    python-calamine (Rust) reads about twenty times faster than openpyxl, but
    reads an error cell as empty; a workbook with error cells is read by
    openpyxl, which keeps "#N/A" visible so that the row is quarantined.
    """
    _check_xlsx_container(path, display_name)
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:
        CalamineWorkbook = None  # noqa: N806
    if CalamineWorkbook is not None and not _has_error_cells(path):
        try:
            sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
            yield from sheet.iter_rows()
        except Exception as error:  # noqa: BLE001 - the Rust reader raises its own types
            raise IntakeError(f"{display_name} 不是有效的 Excel 工作簿（.xlsx）文件") from error
        return
    yield from _iter_xlsx_openpyxl(path, display_name)


def _iter_xlsx_openpyxl(path: Path, display_name: str) -> Iterator[list]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(
            path, read_only=True, data_only=True, keep_vba=False, keep_links=False
        )
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise IntakeError(f"{display_name} 不是有效的 Excel 工作簿（.xlsx）文件") from error
    try:
        if not workbook.worksheets:
            raise IntakeError(f"{display_name} 中没有工作表")
        sheet = workbook.worksheets[0]
        # Some writers leave a wrong <dimension>; without resetting, read-only mode trusts it.
        reset = getattr(sheet, "reset_dimensions", None)
        if reset is not None:
            reset()
        for row in sheet.iter_rows(values_only=True):
            yield list(row)
    finally:
        workbook.close()


def xlsx_cell_text(value: object, kind: str | None) -> str | None:
    """A cell as the text a clerk would see; numeric float noise is representation, not data."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value, kind)
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def _cell_converter(kind: str | None) -> Callable[[object], str | None]:
    """xlsx_cell_text for one column kind, with a short way for the usual float."""

    def convert(value: object) -> str | None:
        if type(value) is float and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        if value is None or value == "":
            return None
        return xlsx_cell_text(value, kind)

    return convert


def _float_text(value: float, kind: str | None) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if kind == "amount":
        value = round(value, 2)
    elif kind == "rate":
        value = round(value, 8)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if abs(value) >= 1e15:
        # Beyond a double's exact digits (an ID number typed as a number): show it
        # as Excel does, so the lost digits are visible instead of invented.
        return f"{value:.15G}"
    text = f"{value:.15g}"
    if "e" in text or "E" in text:
        text = f"{value:.15f}".rstrip("0").rstrip(".")
    return text


def _xlsx_header(
    raw_file: RawFile, rows: Iterator[tuple], display_name: str
) -> tuple[list[list], int, list[str]]:
    """The rows read so far, the header's index among them, and the header cells as text."""
    head: list[list] = []
    for row in rows:
        head.append(list(row))
        if len(head) > HEADER_SEARCH_ROWS:
            break
    filled = [index for index, row in enumerate(head) if not _blank(row)]
    header_index = filled[find_header_row(raw_file, [head[i] for i in filled], display_name)]
    header_row = head[header_index]
    # Trailing empty header cells are Excel's formatting, not columns.
    while header_row and header_row[-1] in (None, ""):
        header_row = header_row[:-1]
    headers = [xlsx_cell_text(cell, None) or "" for cell in header_row]
    return head, header_index, headers


def inspect_xlsx(raw_file: RawFile, path: Path, display_name: str) -> FileLayout:
    """The checks an xlsx must pass to be readable at all, without reading its rows."""
    rows = _iter_xlsx(path, display_name)
    try:
        _, _, headers = _xlsx_header(raw_file, rows, display_name)
    finally:
        rows.close()
    return layout_for(raw_file, headers, display_name)


def stage_xlsx(
    con: duckdb.DuckDBPyConnection,
    raw_file: RawFile,
    path: Path,
    table: str,
    display_name: str,
    progress: Callable[[int], None] | None = None,
) -> StagedFile:
    rows = _iter_xlsx(path, display_name)
    head, header_index, headers = _xlsx_header(raw_file, rows, display_name)
    layout = layout_for(raw_file, headers, display_name)
    count = len(headers)
    kinds: list[str | None] = [None] * count
    for name, position in layout.positions.items():
        kinds[position] = raw_file.column(name).kind
    _create_raw_staging(con, table, count)
    names = staging_columns(count)
    needs_nfkc = False

    def data_rows() -> Iterator[list]:
        yield from head[header_index + 1 :]
        for row in rows:
            yield list(row)

    pending: list[list] = []
    numbers: list[int] = []
    row_number = 0
    blanks_pending = 0

    def flush() -> bool:
        """Write the pending rows column by column; whether any text may need NFKC."""
        # Transposed, each column converts in one comprehension instead of cell by cell.
        cells = list(itertools.zip_longest(*pending, fillvalue=None))
        batch: dict[str, list] = {"_row": numbers, "_shape": [None] * len(numbers)}
        batch["_overflow"] = [
            ",".join(xlsx_cell_text(cell, None) for cell in row[count:] if cell not in (None, ""))
            or None
            for row in pending
        ]
        needs = False
        for position, name in enumerate(names):
            convert = _cell_converter(kinds[position])
            values = cells[position] if position < len(cells) else [None] * len(numbers)
            batch[name] = [cell if type(cell) is str else convert(cell) for cell in values]
            needs = needs or _needs_nfkc("\n".join(filter(None, batch[name])))
        _append_batch(con, table, batch, f"{table}_batch")
        return needs

    for row in data_rows():
        if _blank(row):
            # Numbered only when data follows: Excel keeps formatted empty rows at the end.
            blanks_pending += 1
            continue
        row_number += blanks_pending + 1
        blanks_pending = 0
        numbers.append(row_number)
        pending.append(row)
        if len(pending) >= XLSX_BATCH_ROWS:
            needs_nfkc = flush() or needs_nfkc
            pending, numbers = [], []
            if progress:
                progress(row_number)
    if pending:
        needs_nfkc = flush() or needs_nfkc
    return StagedFile(table, layout, row_number, needs_nfkc)


def _blank(row: list | tuple) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in row)


# --- Cells: SQL that types each column and explains what does not parse ---------------------

DATE_SHAPE = (
    r"(\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2}|\d{4}\.\d{1,2}\.\d{1,2}"
    r"|\d{4}年\d{1,2}月\d{1,2}日|\d{8})( 0?0:00(:00)?)?"
)
AMOUNT_SHAPE = r"-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?"
NUMBER_SHAPE = r"-?(\d+(\.\d+)?|\.\d+)"
TRUE_WORDS = ("是", "有", "y", "yes", "1", "true", "√", "✓", "✔")
FALSE_WORDS = ("否", "无", "n", "no", "0", "false", "×", "✗", "✘")
MAX_RATE_DECIMALS = 8
EXCEL_ERRORS = (
    "#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!",
    "#GETTING_DATA",
)  # fmt: skip


@dataclass
class ColumnSql:
    """How one column is typed: helper expressions, the typed value, and the reasons it may fail.

    Levels: helpers read ``n_<col>`` (the normalised text); the value reads
    helpers; reasons read all three. Each reason is SQL giving text or NULL.
    """

    helpers: list[str] = field(default_factory=list)
    value: str = ""
    reasons: list[str] = field(default_factory=list)


def _words(words: tuple[str, ...]) -> str:
    return ", ".join(sql_text(word) for word in words)


def column_sql(column: Column, *, minimum_exclusive: bool = False) -> ColumnSql:
    """The typing of one column by its kind; file-specific rules are added by the caller."""
    name, label = column.name, column.label
    text = f"n_{name}"
    spec = ColumnSql()
    if column.required:
        spec.reasons.append(f"case when {text} is null then {sql_text('缺少' + label)} end")

    def detail(stem: str) -> str:
        return f"{sql_text(label + stem + '：')} || {text}"

    if column.kind in ("text",):
        spec.value = text
        # Other kinds fail to parse an error value anyway; free text would take it in.
        spec.reasons.append(
            f"case when {text} in ({_words(EXCEL_ERRORS)}) then {detail('是 Excel 错误值')} end"
        )
    elif column.kind == "enum":
        choices = ", ".join(sql_text(choice) for choice in column.choices)
        spec.value = f"case when {text} in ({choices}) then {text} end"
        allowed = "/".join(column.choices)
        spec.reasons.append(
            f"case when {text} is not null and {name} is null then "
            f"{detail('不在可选值内')} || {sql_text('（可选：' + allowed + '）')} end"
        )
    elif column.kind == "bool":
        # 是/否 exactly is nearly every cell; only the rest are lower-cased and looked up.
        spec.value = (
            f"case {text} when '是' then true when '否' then false else "
            f"(case when lower({text}) in ({_words(TRUE_WORDS)}) then true "
            f"when lower({text}) in ({_words(FALSE_WORDS)}) then false end) end"
        )
        spec.reasons.append(
            f"case when {text} is not null and {name} is null then {detail('应填“是”或“否”')} end"
        )
    elif column.kind == "date":
        digits = f"d_{name}"
        # The common ISO spelling goes straight through DuckDB's cast; the rest by regex.
        iso = f"(strlen({text}) = 10 and substr({text}, 5, 1) = '-' and substr({text}, 8, 1) = '-')"
        spec.helpers.append(
            f"case when not {iso} and regexp_full_match({text}, {sql_text(DATE_SHAPE)}) "
            f"then regexp_extract_all({text}, '\\d+') end as {digits}"
        )
        first = f"{digits}[1]"
        year = (
            f"(case when strlen({first}) = 8 then substr({first}, 1, 4) else {first} end)::bigint"
        )
        month = f"(case when strlen({first}) = 8 then substr({first}, 5, 2) else {digits}[2] end)::bigint"
        day = f"(case when strlen({first}) = 8 then substr({first}, 7, 2) else {digits}[3] end)::bigint"
        spec.value = (
            f"case when {iso} then (case when try_cast({text} as date) "
            f"between date '1900-01-01' and date '2099-12-31' then try_cast({text} as date) end) "
            f"when {digits} is not null and {year} between 1900 and 2099 "
            f"then try(make_date({year}, {month}, {day})) end"
        )
        spec.reasons.append(
            f"case when {text} is not null and {name} is null then "
            f"(case when regexp_full_match({text}, {sql_text(DATE_SHAPE)}) "
            f"then {detail('不是有效日期')} else {detail('无法识别为日期')} end) end"
        )
    elif column.kind == "amount":
        plain = f"regexp_full_match({text}, '-?\\d+(\\.\\d{{1,2}})?')"
        cleaned = f"regexp_replace({text}, '^¥|元$', '', 'g')"
        decimals = f"coalesce(strlen(regexp_extract({cleaned}, '\\.(\\d*)$', 1)), 0)"
        shaped = f"regexp_full_match({cleaned}, {sql_text(AMOUNT_SHAPE)})"
        # Plain "1234.5" is nearly every cell; separators, 元 and ¥ take the longer way.
        spec.value = (
            f"case when {plain} then try_cast({text} as decimal(18,2)) "
            f"when {shaped} and {decimals} <= 2 "
            f"then try_cast(replace({cleaned}, ',', '') as decimal(18,2)) end"
        )
        positive = f"when {name} = 0 then {detail('应大于0')} " if minimum_exclusive else ""
        spec.reasons.append(
            f"case when {text} is not null and {name} is null then "
            f"(case when not {shaped} then {detail('无法识别为金额')} "
            f"when {decimals} > 2 then {detail('小数位超过两位')} "
            f"else {detail('数值过大')} end) "
            f"when {name} < 0 then {detail('不能为负数')} {positive}end"
        )
    elif column.kind == "rate":
        percent = f"rp_{name}"
        number = f"rn_{name}"
        spec.helpers.append(f"right({text}, 1) = '%' as {percent}")
        spec.helpers.append(
            f"case when right({text}, 1) = '%' then trim(left({text}, -1)) else {text} end as {number}"
        )
        shaped = f"regexp_full_match({number}, {sql_text(NUMBER_SHAPE)})"
        places = f"coalesce(strlen(regexp_extract({number}, '\\.(\\d*)$', 1)), 0)"
        magnitude = f"try_cast({number} as decimal(30,12))"
        spec.value = (
            f"case when not {shaped} then null "
            f"when {percent} and {places} <= {MAX_RATE_DECIMALS - 2} and {magnitude} >= 0 "
            f"then try_cast({magnitude} * 0.01 as decimal(12,8)) "
            f"when not {percent} and {places} <= {MAX_RATE_DECIMALS} and {magnitude} >= 0 "
            f"and {magnitude} < 1 then try_cast({magnitude} as decimal(12,8)) end"
        )
        spec.reasons.append(
            f"case when {text} is not null and not {shaped} then {detail('无法识别为利率')} "
            f"when {text} is not null and {magnitude} < 0 then {detail('不能为负数')} "
            f"when {text} is not null and {percent} and {places} > {MAX_RATE_DECIMALS - 2} "
            f"then {detail('小数位过多')} "
            f"when {text} is not null and not {percent} and {magnitude} >= 1 then "
            f"{sql_text(label + '含义不明确：“')} || {text} || "
            f"{sql_text('”没有百分号，请写成小数（如 0.0475）或百分数（如 4.75%）')} "
            f"when {text} is not null and not {percent} and {places} > {MAX_RATE_DECIMALS} "
            f"then {detail('小数位过多')} "
            f"when {text} is not null and {name} is null then {detail('数值过大')} end"
        )
    elif column.kind == "int":
        shaped = f"regexp_full_match({text}, '-?\\d+')"
        spec.value = f"case when {shaped} then try_cast({text} as integer) end"
        minimum = 1 if minimum_exclusive else 0
        low_text = "应为大于0的整数" if minimum_exclusive else "不能为负数"
        spec.reasons.append(
            f"case when {text} is not null and not {shaped} then {detail('应为整数')} "
            f"when {text} is not null and {name} is null then {detail('数值过大')} "
            f"when {name} < {minimum} then {detail(low_text)} end"
        )
    else:
        raise ValueError(f"unknown column kind {column.kind!r}")
    return spec
