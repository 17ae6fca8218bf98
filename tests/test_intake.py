"""Intake: raw files of every accepted shape → typed raw tables, and every bad row quarantined."""

from __future__ import annotations

import csv
import datetime as dt
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from huinong import schema
from huinong.intake import (
    IntakeError,
    ZipLimits,
    accept_delivery,
    list_deliveries,
    load_raw,
    preview_delivery,
)

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
VILLAGE_A = "411202006200"
VILLAGE_B = "411202006201"


def id_number(first17: str) -> str:
    """A GB 11643 ID number with its check digit, computed independently of the intake."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


def credit_code(first17: str) -> str:
    """A GB 32100 unified social credit code with its check character."""
    total = sum(
        CREDIT_CHARS.index(char) * weight
        for char, weight in zip(first17, CREDIT_WEIGHTS, strict=True)
    )
    return first17 + CREDIT_CHARS[(31 - total % 31) % 31]


def household(household_id: str, id17: str, **overrides: str) -> dict[str, str]:
    row = {
        "household_id": household_id,
        "village_code": VILLAGE_A,
        "head_name": "张三",
        "head_id_number": id_number(id17),
        "collected_on": "2024-01-15",
        "registered_poor": "是",
        "poverty_exited": "否",
        "party_member": "否",
        "education": "初中",
        "healthy": "是",
        "military_member": "否",
        "homestead_house_value": "200000",
        "income_project": "果",
        "work_proof": "",
        "entity_registered": "否",
        "entity_scale": "0",
        "forest_cert": "是",
        "land_cert": "是",
        "homestead_cert": "否",
        "equipment_value": "0",
        "honor": "村级",
        "family_harmonious": "是",
        "neighbor_harmonious": "是",
        "petitions_12m": "0",
        "urban_property_75": "0",
        "urban_property_50": "1",
        "commercial_insurance": "否",
        "credit_overdue_count": "0",
        "credit_npl_count": "0",
        "guarantee_amount": "0",
        "guarantee_overdue": "否",
        "mortgage_amount": "0",
        "enforcement_ended_on": "",
        "under_enforcement": "否",
        "dishonest_debtor": "否",
        "vice_record": "否",
    }
    row.update(overrides)
    return row


def canonical() -> dict[str, list[dict[str, str]]]:
    """A small raw folder whose every row is valid."""
    return {
        "households": [
            household("H001", "41120219800101001"),
            household("H002", "41120219751230002", village_code=VILLAGE_B, head_name="李四"),
            household("H003", "41120219900615003", head_name="王五", education="大专"),
        ],
        "entities": [
            {
                "entity_id": "E01",
                "name": "湖滨果业合作社",
                "kind": "合作社",
                "village_code": VILLAGE_A,
                "credit_code": credit_code("93411202MA0000001"),
                "poor_households_linked": "12",
            }
        ],
        "loans": [
            {
                "loan_id": "L001",
                "borrower_type": "农户",
                "borrower_id": "H001",
                "bank": "湖滨农商行",
                "product": "扶贫小额信贷",
                "amount": "10000",
                "disbursed_on": "2024-03-20",
                "maturity_on": "2025-03-20",
                "annual_rate": "0.0435",
                "benchmark_rate": "4.35%",
                "repayment_method": "按季付息到期还本",
                "written_off_on": "",
            },
            {
                "loan_id": "L002",
                "borrower_type": "经营主体",
                "borrower_id": "E01",
                "bank": "湖滨农商行",
                "product": "产业扶贫贷款",
                "amount": "50000.50",
                "disbursed_on": "2024-04-01",
                "maturity_on": "2026-04-01",
                "annual_rate": "0.0475",
                "benchmark_rate": "0.0435",
                "repayment_method": "到期一次还本付息",
                "written_off_on": "",
            },
        ],
        "schedule": [
            {"loan_id": "L001", "installment_no": "1", "due_on": "2024-06-20",
             "principal_due": "0", "interest_due": "108.75"},
            {"loan_id": "L001", "installment_no": "2", "due_on": "2024-09-20",
             "principal_due": "0", "interest_due": "108.75"},
            {"loan_id": "L001", "installment_no": "3", "due_on": "2025-03-20",
             "principal_due": "10000", "interest_due": "217.50"},
            {"loan_id": "L002", "installment_no": "1", "due_on": "2026-04-01",
             "principal_due": "50000.50", "interest_due": "4750.05"},
        ],
        "repayments": [
            {"payment_id": "P001", "loan_id": "L001", "paid_on": "2024-06-20",
             "principal_paid": "0", "interest_paid": "108.75"},
            {"payment_id": "P002", "loan_id": "L001", "paid_on": "2024-09-19",
             "principal_paid": "0", "interest_paid": "108.75"},
        ],
    }  # fmt: skip


def write_csv(
    path: Path,
    rows: list[dict[str, str]],
    columns: list[str] | None = None,
    *,
    encoding: str = "utf-8",
    headers: list[str] | None = None,
) -> Path:
    columns = columns or list(rows[0])
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers or columns)
        for row in rows:
            writer.writerow([row.get(column, "") for column in columns])
    return path


def write_folder(folder: Path, data: dict[str, list[dict[str, str]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in data.items():
        write_csv(folder / f"{name}.csv", rows, schema.RAW_FILES[name].column_names)
    return folder


def load(folder: Path) -> tuple[duckdb.DuckDBPyConnection, object]:
    con = duckdb.connect()
    messages: list[str] = []
    summary = load_raw(folder, con, messages.append)
    assert messages, "progress is reported"
    return con, summary


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> list[tuple]:
    return con.execute(sql, params).fetchall() if params else con.execute(sql).fetchall()


def quarantined(con: duckdb.DuckDBPyConnection, source_file: str) -> dict[str, list[str]]:
    """record_key → reasons for one source file."""
    return dict(
        rows(
            con,
            "select record_key, reasons from raw.quarantine where source_file = ? order by row_number",
            [source_file],
        )
    )


def assert_reconciled(con: duckdb.DuckDBPyConnection) -> None:
    report = rows(
        con,
        "select source_file, rows_read, rows_loaded, rows_quarantined, rows_superseded "
        "from raw.load_report",
    )
    for source_file, read, loaded, quarantined_rows, superseded in report:
        assert read == loaded + quarantined_rows + superseded, source_file
    for name in schema.RAW_FILES:
        loaded = rows(con, f"select count(*) from raw.{name}")[0][0]
        reported = sum(row[2] for row in report if row[0] == name)
        assert loaded == reported, name
        in_quarantine = rows(
            con, "select count(*) from raw.quarantine where source_file = ?", [name]
        )[0][0]
        assert in_quarantine == sum(row[3] for row in report if row[0] == name), name


@pytest.fixture
def canonical_folder(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "raw", canonical())


# --- The canonical folder ----------------------------------------------------------------------


def test_canonical_folder_loads_every_row_typed(canonical_folder: Path) -> None:
    con, summary = load(canonical_folder)
    for name in schema.RAW_FILES:
        described = rows(con, f"describe raw.{name}")
        expected = [(column.name, column.sql_type.upper()) for column in schema.RAW_FILES[name].columns]
        assert [(row[0], row[1]) for row in described] == expected
    assert rows(con, "select count(*) from raw.quarantine") == [(0,)]
    assert rows(con, "select count(*) from raw.households") == [(3,)]
    assert rows(con, "select count(*) from raw.villages") == [(47,)]
    loan = rows(
        con,
        "select amount, disbursed_on, annual_rate, benchmark_rate, written_off_on "
        "from raw.loans where loan_id = 'L001'",
    )
    assert loan == [(Decimal("10000.00"), dt.date(2024, 3, 20), Decimal("0.0435"), Decimal("0.0435"), None)]
    head = rows(
        con,
        "select registered_poor, poverty_exited, work_proof, homestead_house_value, urban_property_50 "
        "from raw.households where household_id = 'H001'",
    )
    assert head == [(True, False, None, Decimal("200000.00"), 1)]
    report = rows(con, "select file_name from raw.load_report where source_file = 'villages'")
    assert report == [("默认：seeds/hubin_villages.csv",)]
    assert summary.default_villages
    assert "载入" in summary.describe()
    assert_reconciled(con)
