"""A small raw folder written by hand from the data contract, and ways to write it as offices do.

The folder is canonical: every value spelled the contract's first way (ISO
dates, 是/否, plain yuan, decimal rates, Chinese choices), every row valid.
Tests respell it (headers, encodings, xlsx, value forms) and expect the same
typed ``raw.*`` tables, or break one rule and expect one quarantined row.
Nothing here comes from the demo generator.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path

import duckdb

from huinong import schema
from huinong.intake import load_raw

Rows = list[dict[str, str]]
Folder = dict[str, Rows]

# Check characters computed here, independently of the intake (GB 11643, GB 32100).
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def id_number(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


def credit_code(first17: str) -> str:
    total = sum(
        CREDIT_CHARS.index(char) * weight
        for char, weight in zip(first17, CREDIT_WEIGHTS, strict=True)
    )
    return first17 + CREDIT_CHARS[(31 - total % 31) % 31]


# Four villages of the district's default list (seeds/hubin_villages.csv), in two townships.
VILLAGES = (
    ("411202006", "会兴街道", "411202006200", "会兴村"),
    ("411202006", "会兴街道", "411202006201", "上村"),
    ("411202201", "交口乡", "411202201201", "富村"),
    ("411202201", "交口乡", "411202201206", "侯家沟村"),
)
HUIXING, SHANGCUN, FUCUN, HOUJIAGOU = (village[2] for village in VILLAGES)
# An ID number whose check character is X (GB 11643 allows it, last place only).
ID_WITH_X = "41120219800101009X"
assert id_number(ID_WITH_X[:17]) == ID_WITH_X


def _household(household_id: str, village: str, id_number_: str, **values: str) -> dict:
    row = {
        "household_id": household_id,
        "village_code": village,
        "head_name": "张建国",
        "head_id_number": id_number_,
        "collected_on": "2024-03-20",
        "registered_poor": "是",
        "poverty_exited": "否",
        "party_member": "否",
        "education": "初中",
        "healthy": "是",
        "military_member": "否",
        "homestead_house_value": "166000.50",
        "income_project": "果",
        "work_proof": "",
        "entity_registered": "否",
        "entity_scale": "",
        "forest_cert": "是",
        "land_cert": "是",
        "homestead_cert": "否",
        "equipment_value": "12000.00",
        "honor": "村级",
        "family_harmonious": "是",
        "neighbor_harmonious": "是",
        "petitions_12m": "0",
        "urban_property_75": "0",
        "urban_property_50": "1",
        "commercial_insurance": "否",
        "credit_overdue_count": "0",
        "credit_npl_count": "0",
        "guarantee_amount": "0.00",
        "guarantee_overdue": "否",
        "mortgage_amount": "0.00",
        "enforcement_ended_on": "",
        "under_enforcement": "否",
        "dishonest_debtor": "否",
        "vice_record": "否",
    }
    row.update(values)
    return row


def _loan(loan_id: str, borrower_type: str, borrower_id: str, **values: str) -> dict:
    row = {
        "loan_id": loan_id,
        "borrower_type": borrower_type,
        "borrower_id": borrower_id,
        "bank": "三门峡湖滨农村商业银行",
        "product": "扶贫小额信贷",
        "written_off_on": "",
    }
    row.update(values)
    return row


def canonical() -> Folder:
    """The hand-made folder: 4 villages, 4 households (one collected twice), 2 entities,
    4 loans (3 to households, 1 to an entity; one written off), their plans and payments."""
    return {
        "villages": [dict(zip(schema.VILLAGES.column_names, village, strict=True)) for village in VILLAGES],
        "households": [
            _household("H001", HUIXING, id_number("41120219800101001"), collected_on="2023-11-15"),
            _household(
                "H001", HUIXING, id_number("41120219800101001"),
                party_member="是", education="大专", honor="乡级", work_proof="是",
                income_project="务工", enforcement_ended_on="2021-06-30",
            ),
            _household(
                "H002", SHANGCUN, id_number("41120219751230002"), head_name="李秀英",
                registered_poor="否", poverty_exited="是", entity_registered="是",
                entity_scale="300000.00", homestead_house_value="80000", petitions_12m="1",
            ),
            _household("H003", FUCUN, ID_WITH_X, head_name="王小明", income_project="",
                       guarantee_amount="50000", guarantee_overdue="", healthy=""),
            _household("H004", HOUJIAGOU, id_number("41120219901111004"), head_name="赵四",
                       honor="无", income_project="无", credit_overdue_count="2"),
        ],
        "entities": [
            {"entity_id": "E01", "name": "湖滨区会兴街道果品专业合作社", "kind": "合作社",
             "village_code": HUIXING, "credit_code": credit_code("93411202MA4000001"),
             "poor_households_linked": "12"},
            {"entity_id": "E02", "name": "富村家庭农场", "kind": "家庭农场",
             "village_code": FUCUN, "credit_code": credit_code("92411202MA4000002"),
             "poor_households_linked": "0"},
        ],
        "loans": [
            _loan("L001", "农户", "H001", amount="10000.00", disbursed_on="2024-03-20",
                  maturity_on="2025-03-20", annual_rate="0.0435", benchmark_rate="0.0435",
                  repayment_method="按季付息到期还本"),
            _loan("L002", "农户", "H002", amount="50000.00", disbursed_on="2023-06-01",
                  maturity_on="2026-06-01", annual_rate="0.0475", benchmark_rate="0.0435",
                  repayment_method="按月付息到期还本"),
            _loan("L003", "经营主体", "E01", product="产业扶贫贷款", amount="200000.00",
                  disbursed_on="2024-01-10", maturity_on="2025-01-10", annual_rate="0.05225",
                  benchmark_rate="0.0475", repayment_method="到期一次还本付息"),
            _loan("L004", "农户", "H003", amount="30000.00", disbursed_on="2022-05-01",
                  maturity_on="2023-05-01", annual_rate="0.0475", benchmark_rate="0.0475",
                  repayment_method="到期一次还本付息", written_off_on="2024-06-30"),
        ],
        "schedule": [
            {"loan_id": "L001", "installment_no": "1", "due_on": "2024-06-20", "principal_due": "0.00", "interest_due": "108.75"},
            {"loan_id": "L001", "installment_no": "2", "due_on": "2024-09-20", "principal_due": "0.00", "interest_due": "108.75"},
            {"loan_id": "L001", "installment_no": "3", "due_on": "2025-03-20", "principal_due": "10000.00", "interest_due": "217.50"},
            {"loan_id": "L002", "installment_no": "1", "due_on": "2024-06-01", "principal_due": "25000.00", "interest_due": "1187.50"},
            {"loan_id": "L002", "installment_no": "2", "due_on": "2026-06-01", "principal_due": "25000.00", "interest_due": "1187.50"},
            {"loan_id": "L003", "installment_no": "1", "due_on": "2025-01-10", "principal_due": "200000.00", "interest_due": "10450.00"},
            {"loan_id": "L004", "installment_no": "1", "due_on": "2023-05-01", "principal_due": "30000.00", "interest_due": "1425.00"},
        ],
        "repayments": [
            {"payment_id": "P001", "loan_id": "L001", "paid_on": "2024-06-20", "principal_paid": "0.00", "interest_paid": "108.75"},
            {"payment_id": "P002", "loan_id": "L002", "paid_on": "2024-06-01", "principal_paid": "25000.00", "interest_paid": "1187.50"},
            {"payment_id": "P003", "loan_id": "L003", "paid_on": "2024-04-10", "principal_paid": "0.00", "interest_paid": "2612.50"},
            {"payment_id": "P004", "loan_id": "L004", "paid_on": "2023-06-15", "principal_paid": "5000.00", "interest_paid": "0.00"},
        ],
    }  # fmt: skip


def row_key(file_name: str, row: dict[str, str]) -> str:
    """The record_key the quarantine shows for a canonical row (key parts joined by " / ")."""
    return " / ".join(row[name] for name in schema.RAW_FILES[file_name].key)


def find_row(data: Folder, file_name: str, key: str) -> dict[str, str]:
    return next(row for row in data[file_name] if row_key(file_name, row) == key)


# --- Writing ----------------------------------------------------------------------------------

Header = Callable[[schema.Column], str]


def english(column: schema.Column) -> str:
    return column.name


def chinese(column: schema.Column) -> str:
    return column.label


def padded_chinese(column: schema.Column) -> str:
    """Chinese label between an ASCII space and a full-width space, as copied from a form."""
    return f" {column.label}\u3000"


def full_width_english(column: schema.Column) -> str:
    """The English name in full-width capitals, as an IME left on full-width types it."""
    return "".join(
        chr(ord(char) - 0x21 + 0xFF01) if "!" <= char <= "~" else char
        for char in column.name.upper()
    )


def _columns(
    raw_file: schema.RawFile, header: Header, shuffle: int | None, drop: tuple[str, ...]
) -> list[tuple[str, str]]:
    """(column name, header as written), in file order."""
    pairs = [
        (column.name, header(column)) for column in raw_file.columns if column.name not in drop
    ]
    if shuffle is not None:
        random.Random(shuffle).shuffle(pairs)
    return pairs


def write_csv(
    path: Path,
    file_name: str,
    rows: Rows,
    *,
    header: Header = english,
    encoding: str = "utf-8",
    shuffle: int | None = None,
    drop: tuple[str, ...] = (),
    extra: dict[str, str] | None = None,
) -> Path:
    columns = _columns(schema.RAW_FILES[file_name], header, shuffle, drop)
    extra = extra or {}
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([written for _, written in columns] + list(extra))
        for row in rows:
            writer.writerow([row[name] for name, _ in columns] + list(extra.values()))
    return path


def typed_cell(column: schema.Column, text: str) -> object:
    """A canonical text as the cell Excel stores: a date cell, a number, a boolean."""
    if text == "":
        return None
    if column.kind == "date":
        return dt.date.fromisoformat(text)
    if column.kind in ("amount", "rate"):
        return float(text)
    if column.kind == "int":
        return int(text)
    if column.kind == "bool":
        return text == "是"
    return text


def write_xlsx(
    path: Path,
    file_name: str,
    rows: Rows,
    *,
    header: Header = english,
    shuffle: int | None = None,
    typed: bool = True,
    other_sheet: bool = False,
    date_format: str = "yyyy-mm-dd",
) -> Path:
    """The first sheet holds the file; ``typed`` writes Excel's own cells (dates, numbers with a
    percent format for rates, booleans), otherwise every cell as text."""
    from openpyxl import Workbook

    raw_file = schema.RAW_FILES[file_name]
    columns = _columns(raw_file, header, shuffle, ())
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = raw_file.label[:31]
    sheet.append([written for _, written in columns])
    for row in rows:
        cells = [
            typed_cell(raw_file.column(name), row[name]) if typed else (row[name] or None)
            for name, _ in columns
        ]
        sheet.append(cells)
        if typed:
            for position, (name, _) in enumerate(columns, start=1):
                kind = raw_file.column(name).kind
                cell = sheet.cell(sheet.max_row, position)
                if kind == "date":
                    cell.number_format = date_format
                elif kind == "rate":
                    cell.number_format = "0.000%"
    if other_sheet:
        # Only the first sheet is the file: a second one (a pivot, notes) is not read.
        notes = workbook.create_sheet("说明")
        notes.append(["loan_id", "amount"])
        notes.append(["不是数据", "-1"])
    workbook.save(path)
    return path


def write_folder(folder: Path, data: Folder, **options: object) -> Path:
    """Every file of ``data`` as CSV with the same ``options`` (see write_csv)."""
    folder.mkdir(parents=True, exist_ok=True)
    for file_name, rows in data.items():
        write_csv(folder / f"{file_name}.csv", file_name, rows, **options)
    return folder


# --- Reading back -----------------------------------------------------------------------------


def load(folder: Path) -> tuple[duckdb.DuckDBPyConnection, object]:
    con = duckdb.connect()
    summary = load_raw(folder, con)
    return con, summary


def raw_tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Every raw.<file> table, its rows sorted: what a build reads."""
    return {
        name: con.execute(f"select * from raw.{name} order by all").fetchall()
        for name in schema.RAW_FILES
    }


def cell(con: duckdb.DuckDBPyConnection, file_name: str, key: str, column: str) -> object:
    """One typed value of raw.<file>, found by its row's record key."""
    raw_file = schema.RAW_FILES[file_name]
    parts = key.split(" / ")
    where = " and ".join(f"{name}::varchar = ?" for name in raw_file.key)
    found = con.execute(f"select {column} from raw.{file_name} where {where}", parts).fetchall()
    assert len(found) == 1, (file_name, key, found)
    return found[0][0]


def quarantine(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, list[str]]]:
    """(source_file, record_key, reasons) of every quarantined row, sorted."""
    return sorted(
        con.execute("select source_file, record_key, reasons from raw.quarantine").fetchall()
    )


def reconciles(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int, int]]:
    """Per file: (rows read, rows loaded + rows quarantined, rows in raw + rows in quarantine)."""
    out = {}
    for source_file, read, loaded, quarantined in con.execute(
        "select source_file, sum(rows_read), sum(rows_loaded), sum(rows_quarantined) "
        "from raw.load_report group by 1"
    ).fetchall():
        in_raw = con.execute(f"select count(*) from raw.{source_file}").fetchone()[0]
        in_quarantine = con.execute(
            "select count(*) from raw.quarantine where source_file = ?", [source_file]
        ).fetchone()[0]
        out[source_file] = (read, loaded + quarantined, in_raw + in_quarantine)
    return out
