"""Writers for the tables people download: xlsx for Excel users, CSV (UTF-8 with BOM) for both.

Rows arrive as an iterable of polars batches (``huinong.data.stream_report`` streams them from
SQL), so a list of a million households is written without holding it all in memory twice.

The xlsx has a title row (district, table, month), a line saying the scope and when it was
generated, Chinese headers, a frozen header, widths that fit, amounts with thousands
separators, rates as percentages, and ID numbers and codes written as text: Excel turns an
18-digit number into 4.11202E+17 and loses the last three digits. A table longer than one
worksheet continues on the next ("续1", "续2" …).

The CSV carries the same columns and rows without the title lines, so that programs can read it
as it is; a summary table (``TableSpec.csv_totals``: 乡镇汇总表, 村级熔断监测表) ends with the
same totals row as the xlsx and the page (全区合计), computed from the exact sums, not from the
rounded cells. Amounts in 万元 have 2 decimals, like the page and the xlsx.

Codes and ID numbers in a CSV opened by double-click. Excel and WPS read a cell of digits as a
number: an 18-digit ID number becomes 4.11202E+17 (its last three digits lost for good), a
12-digit village code 4.11202E+11, a household id 0012 becomes 12. Neither reads a CSV cell's
format, and the usual fixes break something else: ``="…"`` is a formula (what the formula
neutralisation below exists to prevent, and a program then reads ``="…"``); a leading ``'`` is
shown as part of the value in a CSV (Excel drops it only when typed). What both keep as text is
a cell whose first character is a tab: it is not a number, so no digit is lost, and the tab is
invisible in the cell. So a code column (``code``: division codes, household and loan ids) or
an ID number column (``id``) whose value is all digits (an ID number may end in X) is written
with one leading tab, ``"\t411202199001011234"``. That tab cannot start a formula (only digits
follow it), so it is exempt from the neutralisation, which still puts a ``'`` before any other
text starting with =, +, -, @, a tab or a carriage return. A program reading the CSV (Python's
csv module, pandas.read_csv, DuckDB's read_csv) gets the value with the tab in front, as text:
``value.strip()`` (pandas: ``.str.strip()``) gives the code itself. Masked ID numbers
(411202********123X) are not all digits and are written as they are.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Literal

import polars as pl
import xlsxwriter

from huinong.format import (
    column_kind,
    column_label,
    list_words,
    mask_id_number,
    original_row,
    timestamp_label,
    veto_words,
)
from huinong.schema import PREVIEW_DELIVERY_ID

if TYPE_CHECKING:
    from huinong.audit import AuditTrail
    from huinong.auth.scope import User

UTF8_BOM = "\ufeff"
EXCEL_MAX_ROWS = 1_048_576
TEN_THOUSAND = Decimal(10000)

# Widths in Excel character units (a Chinese character is about two).
_KIND_WIDTHS = {
    "text": 12,
    "id": 21,
    "code": 14,
    "int": 10,
    "float": 12,
    "yuan": 16,
    "wan": 14,
    "rate": 10,
    "date": 14,
    "bool": 8,
    "vetoes": 30,
    "list": 40,
    "longtext": 80,
}


@dataclass(frozen=True)
class Column:
    """One column of an exported table: data key, Chinese header, kind, and how it totals."""

    key: str
    label: str
    kind: str
    total: str | tuple[str, str] | None = None  # "sum", or ("ratio", numerator, denominator)

    @property
    def width(self) -> int:
        label_width = sum(2 if ord(char) > 0x2E80 else 1 for char in self.label) + 2
        return max(label_width, _KIND_WIDTHS.get(self.kind, 12))


@dataclass(frozen=True)
class TableSpec:
    """An exported table: its name (乡镇汇总表), file stem and columns; totals row or not."""

    title: str
    file_stem: str
    columns: tuple[Column, ...]
    totals: bool = False
    count_unit: str = ""  # a list's totals row says "合计 1,234 户"
    notes: tuple[str, ...] = field(default=())
    mask_ids: bool = False  # a public notice shows ID numbers with the middle digits hidden
    totals_label: str = "合计"  # the first cell of the totals row (全区合计 for the district)
    csv_totals: bool = False  # a summary table: its CSV ends with the totals row too


def _col(key: str, label: str | None = None, kind: str | None = None, total=None) -> Column:
    return Column(key, label or column_label(key), kind or column_kind(key), total)


def spec_for(columns: Sequence[str], title: str, file_stem: str | None = None) -> TableSpec:
    """A spec for a table shown on a page, from the shared column headers and kinds."""
    return TableSpec(title, file_stem or title, tuple(_col(key) for key in columns))


REPORT_SPECS: dict[str, TableSpec] = {
    "township_summary": TableSpec(
        "乡镇汇总表",
        "乡镇汇总表",
        (
            _col("township_code"),
            _col("township_name"),
            _col("villages_total", total="sum"),
            _col("households_rated", total="sum"),
            _col("households_aaa_plus", total="sum"),
            _col("households_aaa", total="sum"),
            _col("households_aa", total="sum"),
            _col("households_a", total="sum"),
            _col("households_no_credit", total="sum"),
            _col("households_credit", total="sum"),
            _col("credit_granted", "授信总额（万元）", "wan", "sum"),
            _col("poor_households_rated", total="sum"),
            _col("poor_borrowing_households", total="sum"),
            _col(
                "poor_loan_access_rate",
                total=("ratio", "poor_borrowing_households", "poor_households_rated"),
            ),
            _col("borrowing_households", total="sum"),
            _col("outstanding_balance", "贷款余额（万元）", "wan", "sum"),
            _col("npl_balance", "不良余额（万元）", "wan", "sum"),
            _col("npl_rate", total=("ratio", "npl_balance", "outstanding_balance")),
            _col("villages_tripped", total="sum"),
            _col("tripped_share", total=("ratio", "villages_tripped", "villages_total")),
            _col("status", "乡镇熔断状态"),
        ),
        totals=True,
        totals_label="全区合计",
        csv_totals=True,
    ),
    "village_breaker": TableSpec(
        "村级熔断监测表",
        "村级熔断监测表",
        (
            _col("township_name"),
            _col("village_code"),
            _col("village_name"),
            _col("borrowing_households", total="sum"),
            _col("loans_on_book", total="sum"),
            _col("outstanding_balance", total="sum"),
            _col("overdue_balance", total="sum"),
            _col("npl_balance", total="sum"),
            _col("npl_rate", total=("ratio", "npl_balance", "outstanding_balance")),
            _col("status"),
        ),
        totals=True,
        count_unit="个村",
        csv_totals=True,
    ),
    "credit_households": TableSpec(
        "信用户名单",
        "信用户名单",
        (
            _col("township_name"),
            _col("village_name"),
            _col("household_id"),
            _col("head_name"),
            _col("head_id_number"),
            _col("registered_poor"),
            _col("score"),
            _col("grade"),
            _col("credit_limit", total="sum"),
            _col("available_credit", total="sum"),
            _col("outstanding_principal", total="sum"),
        ),
        totals=True,
        count_unit="户",
    ),
    "grade_notice": TableSpec(
        "信用评定公示表",
        "信用评定公示表",
        (
            _col("village_name"),
            _col("household_id"),
            _col("head_name"),
            _col("head_id_number", "户主身份证号（公示隐去中间位）"),
            _col("score"),
            _col("grade"),
            _col("credit_limit", total="sum"),
        ),
        totals=True,
        count_unit="户",
        notes=("公示期内如有异议，请向村信用评定小组反映。",),
        mask_ids=True,
    ),
    "households": TableSpec(
        "农户信用明细",
        "农户信用明细",
        (
            _col("township_name"),
            _col("village_name"),
            _col("household_id"),
            _col("head_name"),
            _col("registered_poor"),
            _col("grade"),
            _col("score"),
            _col("credit_limit", total="sum"),
            _col("available_credit", total="sum"),
            _col("outstanding_principal", total="sum"),
            _col("loans_on_book", total="sum"),
            _col("max_dpd"),
            _col("vetoes"),
            _col("credit_stopped"),
        ),
        totals=True,
        count_unit="户",
    ),
    "credit_stops": TableSpec(
        "停止新增授信农户名单",
        "停止新增授信农户名单",
        (
            _col("township_name"),
            _col("village_name"),
            _col("household_id"),
            _col("head_name"),
            _col("grade"),
            _col("score"),
            _col("credit_limit", total="sum"),
            _col("outstanding_principal", total="sum"),
            _col("stop_reason"),
        ),
        totals=True,
        count_unit="户",
    ),
}


def _as_decimal(value: object) -> Decimal | None:
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _batches(rows: pl.DataFrame | Iterable[pl.DataFrame]) -> Iterable[pl.DataFrame]:
    return [rows] if isinstance(rows, pl.DataFrame) else rows


class _Totals:
    """Sums as the rows go by (exact, in Decimal), for the totals row."""

    def __init__(self, spec: TableSpec):
        self.spec = spec
        self.rows = 0
        keys = {column.key for column in spec.columns if column.total == "sum"}
        for column in spec.columns:
            if isinstance(column.total, tuple):
                keys.update(column.total[1:])
        self.sums: dict[str, Decimal] = dict.fromkeys(keys, Decimal(0))

    def add(self, batch: pl.DataFrame) -> None:
        self.rows += batch.height
        for key in self.sums:
            if key in batch.columns:
                total = batch[key].cast(pl.Decimal(38, 2)).sum()
                self.sums[key] += _as_decimal(total) or Decimal(0)

    def value(self, column: Column) -> Decimal | None:
        if column.total == "sum":
            return self.sums[column.key]
        if isinstance(column.total, tuple):
            _, numerator, denominator = column.total
            whole = self.sums[denominator]
            return self.sums[numerator] / whole if whole else None
        return None


def totals_label(spec: TableSpec, rows: int) -> str:
    """The first cell of the totals row: 全区合计, or 合计 1,234 户 for a list."""
    if spec.count_unit:
        return f"{spec.totals_label} {rows:,} {spec.count_unit}"
    return spec.totals_label


def totals_row(spec: TableSpec, rows: pl.DataFrame | Iterable[pl.DataFrame]) -> dict:
    """The totals row of a table as the xlsx and the CSV write it, for a page to show the same:
    the label in the first column, exact sums and ratios (元, fractions) in the others, None
    where a column has no total."""
    totals = _Totals(spec)
    for batch in _batches(rows):
        totals.add(batch)
    row = {column.key: totals.value(column) for column in spec.columns}
    row[spec.columns[0].key] = totals_label(spec, totals.rows)
    return row


def _rows_with_ids_masked(batch: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    if not spec.mask_ids or "head_id_number" not in batch.columns:
        return batch
    return batch.with_columns(
        pl.col("head_id_number").map_elements(mask_id_number, return_dtype=pl.String)
    )


def write_xlsx(
    spec: TableSpec,
    rows: pl.DataFrame | Iterable[pl.DataFrame],
    *,
    heading: str,
    subheading: str,
    exported_by: str | None = None,
    exported_at: datetime | None = None,
) -> bytes:
    """The table as an .xlsx file: title rows, headers, rows, totals; returns the file's bytes.

    ``heading``: e.g. "湖滨区 乡镇汇总表（2024年6月）"; ``subheading``: scope and generated-at;
    ``exported_by``: the exporter's display name, added to the subheading with
    ``exported_at`` (default now): "导出人：张三；导出时间：2024年6月15日 14:05".
    """
    if exported_by:
        stamp = f"导出人：{exported_by}；导出时间：{timestamp_label(exported_at or datetime.now())}"
        subheading = f"{subheading}；{stamp}" if subheading else stamp
    handle, path = tempfile.mkstemp(suffix=".xlsx", prefix="huinong-export-")
    os.close(handle)
    try:
        # constant_memory writes each row as it comes: a million rows stay a few MB in memory.
        # No string becomes a formula or a number, whatever column it lands in.
        workbook = xlsxwriter.Workbook(
            path,
            {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False},
        )
        _XlsxTable(workbook, spec, heading, subheading).write(_batches(rows))
        workbook.close()
        with open(path, "rb") as written:
            return written.read()
    finally:
        os.unlink(path)


class _XlsxTable:
    HEADER_ROWS = 3  # title, subheading, column headers

    def __init__(self, workbook, spec: TableSpec, heading: str, subheading: str):
        self.workbook = workbook
        self.spec = spec
        self.heading = heading
        self.subheading = subheading
        base = {"font_name": "宋体", "font_size": 11, "valign": "vcenter"}
        self.formats = {
            "title": workbook.add_format(
                {**base, "bold": True, "font_size": 16, "align": "center"}
            ),
            "subtitle": workbook.add_format({**base, "font_size": 10, "align": "left"}),
            "header": workbook.add_format(
                {
                    **base,
                    "bold": True,
                    "bg_color": "#DDEBF7",
                    "border": 1,
                    "text_wrap": True,
                    "align": "center",
                }
            ),
            "text": workbook.add_format({**base, "border": 1}),
            "id": workbook.add_format({**base, "border": 1, "num_format": "@"}),
            "code": workbook.add_format({**base, "border": 1, "num_format": "@"}),
            "list": workbook.add_format(
                {**base, "border": 1, "num_format": "@", "text_wrap": True}
            ),
            "longtext": workbook.add_format(
                {**base, "border": 1, "num_format": "@", "text_wrap": True}
            ),
            "int": workbook.add_format({**base, "border": 1, "num_format": "#,##0"}),
            "float": workbook.add_format({**base, "border": 1, "num_format": "#,##0.00"}),
            "yuan": workbook.add_format({**base, "border": 1, "num_format": "#,##0.00"}),
            "wan": workbook.add_format({**base, "border": 1, "num_format": "#,##0.00"}),
            "rate": workbook.add_format({**base, "border": 1, "num_format": "0.00%"}),
            "date": workbook.add_format(
                {**base, "border": 1, "num_format": 'yyyy"年"m"月"d"日"', "align": "left"}
            ),
            "total": workbook.add_format({**base, "bold": True, "border": 1, "top": 2}),
        }
        self.total_formats = {
            kind: workbook.add_format(
                {
                    **base,
                    "bold": True,
                    "border": 1,
                    "top": 2,
                    "num_format": {
                        "int": "#,##0",
                        "yuan": "#,##0.00",
                        "wan": "#,##0.00",
                        "rate": "0.00%",
                        "float": "#,##0.00",
                    }.get(kind, "General"),
                }
            )
            for kind in _KIND_WIDTHS
        }
        self.sheet = None
        self.sheets = 0
        self.row = 0

    def _new_sheet(self) -> None:
        name = self.spec.title if self.sheets == 0 else f"{self.spec.title}（续{self.sheets}）"
        self.sheets += 1
        self.sheet = self.workbook.add_worksheet(name[:31])
        sheet = self.sheet
        columns = self.spec.columns
        last = len(columns) - 1
        for index, column in enumerate(columns):
            sheet.set_column(index, index, column.width)
        sheet.set_row(0, 28)
        if last > 0:
            sheet.merge_range(0, 0, 0, last, self.heading, self.formats["title"])
            sheet.merge_range(1, 0, 1, last, self.subheading, self.formats["subtitle"])
        else:
            sheet.write_string(0, 0, self.heading, self.formats["title"])
            sheet.write_string(1, 0, self.subheading, self.formats["subtitle"])
        sheet.set_row(2, 32)
        for index, column in enumerate(columns):
            sheet.write_string(2, index, column.label, self.formats["header"])
        sheet.freeze_panes(self.HEADER_ROWS, 0)
        sheet.repeat_rows(2)
        self.row = self.HEADER_ROWS

    def write(self, batches: Iterable[pl.DataFrame]) -> None:
        totals = _Totals(self.spec)
        self._new_sheet()
        # Leave room for a totals row and a note on the last sheet.
        room = EXCEL_MAX_ROWS - 3
        for batch in batches:
            batch = _rows_with_ids_masked(batch, self.spec)
            totals.add(batch)
            keys = [column.key for column in self.spec.columns]
            for values in batch.select(keys).iter_rows():
                if self.row >= room:
                    self._new_sheet()
                self._write_row(values)
        if self.spec.totals:
            self._write_totals(totals)
        for note in self.spec.notes:
            self.row += 1
            self.sheet.write_string(self.row, 0, note, self.formats["subtitle"])

    def _write_row(self, values: Sequence[object]) -> None:
        sheet, row = self.sheet, self.row
        for index, (column, value) in enumerate(zip(self.spec.columns, values, strict=True)):
            cell_format = self.formats.get(column.kind, self.formats["text"])
            if value is None:
                sheet.write_blank(row, index, None, cell_format)
            elif column.kind in ("id", "code", "text", "longtext"):
                sheet.write_string(row, index, str(value), cell_format)
            elif column.kind == "list":
                sheet.write_string(row, index, list_words(value), cell_format)
            elif column.kind == "wan":
                sheet.write_number(
                    row, index, float(_as_decimal(value) / TEN_THOUSAND), cell_format
                )
            elif column.kind in ("int", "float", "yuan", "rate"):
                sheet.write_number(row, index, float(value), cell_format)
            elif column.kind == "date":
                sheet.write_datetime(row, index, _as_datetime(value), cell_format)
            elif column.kind == "bool":
                sheet.write_string(row, index, "是" if value else "否", self.formats["text"])
            elif column.kind == "vetoes":
                sheet.write_string(row, index, veto_words(value), self.formats["text"])
            else:
                sheet.write(row, index, value, cell_format)
        self.row += 1

    def _write_totals(self, totals: _Totals) -> None:
        sheet, row = self.sheet, self.row
        label = totals_label(self.spec, totals.rows)
        for index, column in enumerate(self.spec.columns):
            value = totals.value(column)
            cell_format = self.total_formats.get(column.kind, self.formats["total"])
            if index == 0:
                sheet.write_string(row, index, label, self.formats["total"])
            elif value is None:
                sheet.write_blank(row, index, None, self.formats["total"])
            elif column.kind == "wan":
                sheet.write_number(row, index, float(value / TEN_THOUSAND), cell_format)
            else:
                sheet.write_number(row, index, float(value), cell_format)
        self.row += 1


def _as_datetime(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return datetime.fromisoformat(str(value))


# A cell starting with one of these is a formula to Excel, LibreOffice and WPS: =HYPERLINK(…)
# in a household name would run when a clerk opens the file (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# What a spreadsheet keeps as text in front of a code: a tab (see the module's note).
TEXT_MARK = "\t"

_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?%?")
# A code or ID number that a spreadsheet would read as a number: digits (an ID number's last
# character may be X).
_DIGIT_CODE = re.compile(r"[0-9]+[0-9Xx]?")


def _neutralised(text: str) -> str:
    """The OWASP rule: a leading single quote makes such a cell plain text. A plain number
    (-1234.50, -3.1250%) is no formula and stays a number."""
    if text.startswith(_FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _csv_value(column: Column, value: object) -> str:
    """A cell as text: amounts stay numbers (-1234.50), text that would start a formula gets a
    leading quote (-cmd becomes '-cmd), a code of digits a leading tab (kept whole as text)."""
    if value is None:
        return ""
    text = _formatted_csv_value(column, value)
    if column.kind in ("id", "code") and _DIGIT_CODE.fullmatch(text):
        return TEXT_MARK + text
    return _neutralised(text)


def _formatted_csv_value(column: Column, value: object) -> str:
    if column.kind == "bool":
        return "是" if value else "否"
    if column.kind == "vetoes":
        return veto_words(value)
    if column.kind == "list":
        return list_words(value)
    if column.kind == "wan":
        return str((_as_decimal(value) / TEN_THOUSAND).quantize(Decimal("0.01"), ROUND_HALF_UP))
    if column.kind == "rate":
        # "3.1234%": Excel reads it as the number 0.031234 shown as a percentage.
        return f"{(_as_decimal(value) * 100).quantize(Decimal('0.0001'), ROUND_HALF_UP)}%"
    if column.kind == "date":
        return value.isoformat() if isinstance(value, date) else str(value)
    return str(value)


def write_csv(spec: TableSpec, rows: pl.DataFrame | Iterable[pl.DataFrame]) -> bytes:
    """The table as CSV in UTF-8 with a BOM (Excel on a Chinese Windows then reads it right):
    Chinese headers, amounts as plain numbers (万元 with 2 decimals), rates as percentages,
    dates as YYYY-MM-DD, codes and ID numbers of digits after a tab (kept whole by Excel and
    WPS), text that would start a formula with a leading quote; a summary table's totals row
    (``csv_totals``) last, equal to the xlsx's.

    No "exported by … at …" line: the first line is the header, so that a program reads the
    file as it is. Who exported it, when, which rows, is in the audit trail (``export``)."""
    buffer = io.StringIO()
    buffer.write(UTF8_BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.label for column in spec.columns])
    keys = [column.key for column in spec.columns]
    totals = _Totals(spec)
    for batch in _batches(rows):
        batch = _rows_with_ids_masked(batch, spec)
        totals.add(batch)
        for values in batch.select(keys).iter_rows():
            writer.writerow(
                [
                    _csv_value(column, value)
                    for column, value in zip(spec.columns, values, strict=True)
                ]
            )
    if spec.csv_totals:
        cells = [_neutralised(totals_label(spec, totals.rows))]
        for column in spec.columns[1:]:
            value = totals.value(column)
            if value is not None and column.kind == "int":
                value = int(value)
            cells.append("" if value is None else _csv_value(column, value))
        writer.writerow(cells)
    return buffer.getvalue().encode("utf-8")


QUARANTINE_SPEC = TableSpec(
    "隔离记录",
    "隔离记录",
    (
        Column("file", "文件", "text"),
        Column("row_number", "行号", "int"),
        Column("record_key", "记录编号", "id"),
        Column("original", "原始内容", "longtext"),
        Column("reasons", "原因", "list"),
    ),
    notes=("行号从文件的第一行数据记为第 1 行（不含表头）。请核实后改正，随下一批报送重新提交。",),
)


def quarantine_rows(quarantine: pl.DataFrame) -> pl.DataFrame:
    """Quarantined rows (the intake's or the quarantine mart's columns) as the village team
    reads them: file (第 0002 批 households.csv), row number, key, the row in words, reasons."""

    def file_label(row: dict) -> str:
        name = row.get("file_name") or row.get("source_file") or ""
        delivery = row.get("delivery_id")
        if delivery and delivery != PREVIEW_DELIVERY_ID:
            return f"第 {delivery} 批 {name}"
        return name

    return pl.DataFrame(
        {
            "file": [file_label(row) for row in quarantine.iter_rows(named=True)],
            "row_number": quarantine["row_number"].cast(pl.Int64),
            "record_key": quarantine["record_key"].cast(pl.String),
            "original": [original_row(text) for text in quarantine["original"].cast(pl.String)],
            "reasons": quarantine["reasons"],
        },
        schema_overrides={"reasons": pl.List(pl.String)},
    )


def quarantine_xlsx(
    quarantine: pl.DataFrame,
    *,
    heading: str = "数据报送隔离记录",
    subheading: str | None = None,
    exported_by: str | None = None,
) -> bytes:
    """The quarantined rows as an .xlsx to send back to the village team: a title row, Chinese
    headers 文件/行号/记录编号/原始内容/原因 (reasons joined with "；"), a frozen header, text
    cells (a key or an ID number stays exactly as written)."""
    if subheading is None:
        subheading = f"共 {quarantine.height:,} 行；生成时间：{datetime.now():%Y-%m-%d %H:%M}"
    return write_xlsx(
        QUARANTINE_SPEC,
        quarantine_rows(quarantine),
        heading=heading,
        subheading=subheading,
        exported_by=exported_by,
    )


# ── an export as the dashboard makes it: the file, signed and recorded ────────────────────────


class _Counted:
    """The batches of an export as they go by, counted (the audit row says how many rows)."""

    def __init__(self, batches: Iterable[pl.DataFrame], mask_ids: bool):
        self.batches = batches
        self.mask_ids = mask_ids
        self.rows = 0

    def __iter__(self):
        for batch in _batches(self.batches):
            self.rows += batch.height
            if self.mask_ids and "head_id_number" in batch.columns:
                batch = batch.with_columns(
                    pl.col("head_id_number").map_elements(mask_id_number, return_dtype=pl.String)
                )
            yield batch


def exporter_label(user: User) -> str:
    """张三（金融办）: who exported a file, as its title rows say."""
    return f"{user.display_name}（{user.role_label}）"


def produce(
    spec: TableSpec,
    rows: pl.DataFrame | Iterable[pl.DataFrame],
    file_format: Literal["xlsx", "csv"],
    *,
    user: User,
    audit: AuditTrail,
    heading: str,
    subheading: str,
    area: str,
    file_name: str,
    as_of: date | None = None,
    exported_at: datetime | None = None,
) -> bytes:
    """One export as the dashboard makes it: the xlsx names who exported it and when in its
    title rows; ID numbers are in full only for ``export_full_id`` (otherwise masked here
    too, whatever the rows brought); and once the file is written, one ``export`` row goes to
    the audit trail: who, which table, area, month, format, row count, whether IDs were full."""
    exported_at = exported_at or datetime.now()
    has_ids = any(column.kind == "id" and column.key == "head_id_number" for column in spec.columns)
    full_ids = has_ids and not spec.mask_ids and user.has("export_full_id")
    counted = _Counted(rows, mask_ids=has_ids and not full_ids)
    if file_format == "xlsx":
        body = write_xlsx(
            spec,
            counted,
            heading=heading,
            subheading=subheading,
            exported_by=exporter_label(user),
            exported_at=exported_at,
        )
    else:
        body = write_csv(spec, counted)
    audit.record(
        "export",
        user,
        at=exported_at,
        report=spec.title,
        file_format=file_format,
        file_name=file_name,
        scope=area,
        as_of=as_of,
        rows=counted.rows,
        full_ids=full_ids,
    )
    return body


XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv"
