"""Reading the first sheet of an xlsx into a staging table.

Cells become the text a clerk would see: a date cell its ISO date, a
number without float noise, an error cell (#N/A …) its error text so that
the row is quarantined rather than silently emptied.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from xml.etree import ElementTree

import duckdb

from huinong.intake.errors import IntakeError
from huinong.intake.headers import HEADER_SEARCH_ROWS, FileLayout, find_header_row, layout_for
from huinong.intake.limits import DEFAULT_LIMITS, Limits, too_many_rows
from huinong.intake.staging import (
    BATCH_ROWS,
    StagedFile,
    append_batch,
    create_staging,
    staging_columns,
)
from huinong.intake.summary import size_text
from huinong.intake.text import needs_nfkc
from huinong.intake.xlsx_sheet import SheetFindings, read_findings, row_reasons
from huinong.schema import RawFile


def _check_xlsx_container(path: Path, display_name: str, limits: Limits) -> None:
    """An xlsx is a zip: refuse a non-zip and one that would inflate beyond the limits a
    delivered zip keeps (huinong.intake.limits)."""
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
    if any(
        member.file_size > limits.max_ratio * max(member.compress_size, 1) for member in members
    ):
        raise IntakeError(
            f"{display_name} 中有部件压缩比超过 {limits.max_ratio}:1，疑似压缩炸弹，拒绝读取"
        )
    if total > limits.max_total_bytes:
        raise IntakeError(
            f"{display_name} 解压后共 {size_text(total)}，超过上限 "
            f"{size_text(limits.max_total_bytes)}，拒绝读取。请另存为 CSV，或分成几个文件报送"
        )
    if not any(member.filename == "xl/workbook.xml" for member in members):
        raise IntakeError(not_xlsx)


def _open_rows(
    path: Path, display_name: str, limits: Limits
) -> tuple[Iterator[list], tuple[int, int], SheetFindings]:
    """Rows of the first sheet as cell values, the sheet position (0-based row, column) of the
    first cell the rows start with, and what the sheet's XML says beyond the values.

    Formulas give their saved value, never computed. python-calamine (Rust) reads about twenty
    times faster than openpyxl, but reads an error cell as empty; a sheet with error cells is
    read by openpyxl, which keeps "#N/A" visible so that the row is quarantined.
    """
    _check_xlsx_container(path, display_name, limits)
    try:
        findings = read_findings(path)
    except (zipfile.BadZipFile, OSError, ElementTree.ParseError) as error:
        raise IntakeError(f"{display_name} 不是有效的 Excel 工作簿（.xlsx）文件") from error
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:
        CalamineWorkbook = None  # noqa: N806
    if CalamineWorkbook is not None and "errors" not in findings.markers:
        try:
            sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
            start = tuple(sheet.start or (0, 0))
            rows = sheet.iter_rows()
        except Exception as error:  # noqa: BLE001 - the Rust reader raises its own types
            raise IntakeError(f"{display_name} 不是有效的 Excel 工作簿（.xlsx）文件") from error
        return rows, (int(start[0]), int(start[1])), findings
    # openpyxl's read-only rows start at A1.
    return _iter_xlsx_openpyxl(path, display_name), (0, 0), findings


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


def inspect_xlsx(
    raw_file: RawFile, path: Path, display_name: str, limits: Limits = DEFAULT_LIMITS
) -> FileLayout:
    """The checks an xlsx must pass to be readable at all, without reading its rows."""
    rows, _, _ = _open_rows(path, display_name, limits)
    try:
        _, _, headers = _xlsx_header(raw_file, rows, display_name)
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()
    return layout_for(raw_file, headers, display_name)


def stage_xlsx(
    con: duckdb.DuckDBPyConnection,
    raw_file: RawFile,
    path: Path,
    table: str,
    display_name: str,
    progress: Callable[[int], None] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> StagedFile:
    rows, (first_row, first_column), findings = _open_rows(path, display_name, limits)
    head, header_index, headers = _xlsx_header(raw_file, rows, display_name)
    layout = layout_for(raw_file, headers, display_name)
    count = len(headers)
    kinds: list[str | None] = [None] * count
    for name, position in layout.positions.items():
        kinds[position] = raw_file.column(name).kind
    labels = {position: raw_file.column(name).label for name, position in layout.positions.items()}
    # Data row n lies n rows under the header, whose sheet row is its index past the first row.
    marks, notes = row_reasons(findings, first_row + header_index + 1, first_column + 1, labels)
    create_staging(con, table, count)
    names = staging_columns(count)
    any_nfkc = False

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
        batch: dict[str, list] = {"_row": numbers, "_shape": [marks.get(n) for n in numbers]}
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
            needs = needs or needs_nfkc("\n".join(filter(None, batch[name])))
        append_batch(con, table, batch, f"{table}_batch")
        return needs

    for row in data_rows():
        if _blank(row):
            # Numbered only when data follows: Excel keeps formatted empty rows at the end.
            blanks_pending += 1
            continue
        row_number += blanks_pending + 1
        blanks_pending = 0
        if row_number > limits.max_rows:
            raise IntakeError(too_many_rows(display_name, limits))
        numbers.append(row_number)
        pending.append(row)
        if len(pending) >= BATCH_ROWS:
            any_nfkc = flush() or any_nfkc
            pending, numbers = [], []
            if progress:
                progress(row_number)
    if pending:
        any_nfkc = flush() or any_nfkc
    notes = [f"{display_name} {note}" for note in notes]
    return StagedFile(table, layout, row_number, any_nfkc, notes=notes)


def _blank(row: list | tuple) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in row)
