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
    Limits,
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


@pytest.fixture(scope="module")
def canonical_typed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    """The typed raw tables of the canonical folder, for the formats to match."""
    return typed_tables(write_folder(tmp_path_factory.mktemp("canonical") / "raw", canonical()))


# --- The canonical folder ----------------------------------------------------------------------


def test_canonical_folder_loads_every_row_typed(canonical_folder: Path) -> None:
    con, summary = load(canonical_folder)
    for name in schema.RAW_FILES:
        described = rows(con, f"describe raw.{name}")
        expected = [
            (column.name, column.sql_type.upper()) for column in schema.RAW_FILES[name].columns
        ]
        assert [(row[0], row[1]) for row in described] == expected
    assert rows(con, "select count(*) from raw.quarantine") == [(0,)]
    assert rows(con, "select count(*) from raw.households") == [(3,)]
    assert rows(con, "select count(*) from raw.villages") == [(47,)]
    loan = rows(
        con,
        "select amount, disbursed_on, annual_rate, benchmark_rate, written_off_on "
        "from raw.loans where loan_id = 'L001'",
    )
    assert loan == [
        (Decimal("10000.00"), dt.date(2024, 3, 20), Decimal("0.0435"), Decimal("0.0435"), None)
    ]
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


# --- Formats -------------------------------------------------------------------------------------

FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


def typed_tables(folder: Path) -> dict[str, list[tuple]]:
    con, _ = load(folder)
    assert rows(con, "select count(*) from raw.quarantine") == [(0,)]
    return {name: rows(con, f"select * from raw.{name} order by all") for name in schema.RAW_FILES}


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig"])
def test_chinese_headers_shuffled_full_width_load_like_canonical(
    tmp_path: Path, canonical_typed: dict[str, list[tuple]], encoding: str
) -> None:
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    for name, data_rows in canonical().items():
        raw_file = schema.RAW_FILES[name]
        columns = list(reversed(raw_file.column_names))
        headers = [f" {raw_file.column(column).label}　" for column in columns]
        wide = [
            {key: value.translate(FULL_WIDTH_DIGITS) for key, value in row.items()}
            for row in data_rows
        ]
        write_csv(shuffled / f"{name}.csv", wide, columns, encoding=encoding, headers=headers)
    assert typed_tables(shuffled) == canonical_typed


def write_xlsx(path: Path, raw_file: schema.RawFile, data_rows: list[dict[str, str]]) -> Path:
    """Dates as date cells, amounts and counts as numbers with float noise, as Excel keeps them."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(raw_file.column_names)
    for row in data_rows:
        cells: list[object] = []
        for column in raw_file.columns:
            value = row.get(column.name, "")
            if value == "":
                cells.append(None)
            elif column.kind == "date":
                cells.append(dt.datetime.fromisoformat(value))
            elif column.kind == "amount":
                cells.append(float(value) + 1e-9)
            elif column.kind == "int":
                cells.append(int(value))
            elif column.kind == "rate" and not value.endswith("%"):
                cells.append(float(value))
            elif column.name in ("village_code", "township_code"):
                cells.append(int(value))
            else:
                cells.append(value)
        sheet.append(cells)
    workbook.save(path)
    return path


def test_xlsx_with_date_cells_and_numbers_loads_like_canonical(
    tmp_path: Path, canonical_typed: dict[str, list[tuple]]
) -> None:
    folder = tmp_path / "xlsx"
    folder.mkdir()
    for name, data_rows in canonical().items():
        write_xlsx(folder / f"{name}.xlsx", schema.RAW_FILES[name], data_rows)
    assert typed_tables(folder) == canonical_typed


def test_xlsx_float_artefacts_round_to_cents(tmp_path: Path) -> None:
    data = canonical()
    for instalment, principal in zip(
        data["schedule"][:3], ("3333.33", "3333.33", "3333.34"), strict=True
    ):
        instalment["principal_due"] = principal
    folder = write_folder(tmp_path / "raw", data)
    (folder / "schedule.csv").unlink()
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(schema.SCHEDULE.column_names)
    noisy = {"3333.33": 3333.3299999999, "3333.34": 3333.3400000001, "50000.50": 50000.5}
    for row in data["schedule"]:
        sheet.append([
            row["loan_id"], int(row["installment_no"]), dt.date.fromisoformat(row["due_on"]),
            noisy[row["principal_due"]], float(row["interest_due"]),
        ])  # fmt: skip
    workbook.save(folder / "schedule.xlsx")
    con, _ = load(folder)
    assert rows(con, "select count(*) from raw.quarantine") == [(0,)]
    assert rows(con, "select principal_due from raw.schedule where loan_id = 'L001' order by installment_no") == [
        (Decimal("3333.33"),), (Decimal("3333.33"),), (Decimal("3333.34"),)
    ]  # fmt: skip


def test_value_spellings_parse_to_the_same_values(tmp_path: Path) -> None:
    spellings = [
        # registered_poor, collected_on, homestead_house_value, expected bool
        ("是", "2024-03-20", "200000", True),
        ("Y", "2024/3/20", "200,000", True),
        ("true", "2024.3.20", "200000元", True),
        ("√", "2024年3月20日", "２００，０００．００元", True),
        ("1", "20240320", "¥200,000.0", True),
        ("有", "２０２４－０３－２０", "200000.00", True),
        ("否", "2024-3-20", "200000", False),
        ("n", "2024/03/20", "200000", False),
        ("FALSE", "2024.03.20", "200000", False),
        ("×", "2024年03月20日", "200000", False),
        ("0", "2024-03-20", "200000", False),
        ("无", "2024-03-20", "200000", False),
        ("", "2024-03-20", "200000", None),
    ]
    data = canonical()
    data["households"] = [
        household(
            f"H{index:03d}",
            f"411202198001010{index:02d}",
            registered_poor=poor,
            collected_on=collected,
            homestead_house_value=value,
        )
        for index, (poor, collected, value, _) in enumerate(spellings, start=1)
    ]
    data["households"][0]["head_id_number"] = "11010519491231002x"
    data["loans"][0]["annual_rate"] = "4.35%"
    data["loans"][0]["benchmark_rate"] = "０.０４３５"
    data["loans"][0]["amount"] = "10,000.00元"
    con, _ = load(write_folder(tmp_path / "raw", data))
    assert quarantined(con, "households") == {}
    loaded = rows(
        con,
        "select registered_poor, collected_on, homestead_house_value from raw.households "
        "order by household_id",
    )
    assert loaded == [
        (expected, dt.date(2024, 3, 20), Decimal("200000.00")) for *_, expected in spellings
    ]
    assert rows(con, "select head_id_number from raw.households where household_id = 'H001'") == [
        ("11010519491231002X",)
    ]
    assert rows(con, "select amount, annual_rate, benchmark_rate from raw.loans where loan_id = 'L001'") == [
        (Decimal("10000.00"), Decimal("0.0435"), Decimal("0.0435"))
    ]  # fmt: skip


def test_extra_columns_are_reported_not_fatal(tmp_path: Path) -> None:
    data = canonical()
    for index, row in enumerate(data["loans"]):
        row["备注"] = "补录" if index == 0 else ""
    folder = write_folder(tmp_path / "raw", {k: v for k, v in data.items() if k != "loans"})
    write_csv(folder / "loans.csv", data["loans"], [*schema.LOANS.column_names, "备注"])
    con, summary = load(folder)
    assert rows(con, "select count(*) from raw.loans") == [(2,)]
    assert rows(con, "select source_file, file_name, column_name, non_empty_values from raw.extra_columns") == [
        ("loans", "loans.csv", "备注", 1)
    ]  # fmt: skip
    assert [extra.column_name for extra in summary.extra_columns] == ["备注"]
    assert "备注" in summary.describe()


def test_title_row_above_header_and_missing_optional_column(tmp_path: Path) -> None:
    data = canonical()
    folder = write_folder(tmp_path / "raw", data)
    columns = [name for name in schema.LOANS.column_names if name != "written_off_on"]
    with (folder / "loans.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["湖滨区扶贫小额信贷贷款台账（2024年）"])
        writer.writerow(columns)
        for row in data["loans"]:
            writer.writerow([row[name] for name in columns])
    con, summary = load(folder)
    assert rows(con, "select loan_id, written_off_on from raw.loans order by loan_id") == [
        ("L001", None),
        ("L002", None),
    ]
    assert ("loans", "loans.csv", "核销日期") in summary.missing_columns


# --- Files that cannot be read ------------------------------------------------------------------


def test_missing_required_column_names_file_and_column(tmp_path: Path) -> None:
    data = canonical()
    folder = write_folder(tmp_path / "raw", data)
    columns = [name for name in schema.LOANS.column_names if name != "disbursed_on"]
    write_csv(folder / "loans.csv", data["loans"], columns)
    with pytest.raises(IntakeError, match=r"loans\.csv 缺少必需列：放款日期（disbursed_on）"):
        load_raw(folder, duckdb.connect())


def test_missing_required_file(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "raw", canonical())
    (folder / "schedule.csv").unlink()
    with pytest.raises(IntakeError, match=r"缺少必需文件：schedule（还款计划）"):
        load_raw(folder, duckdb.connect())


def test_undecodable_csv(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "raw", canonical())
    (folder / "repayments.csv").write_bytes(b"payment_id,loan_id\n\xff\xfe\x80\x81\xff\n")
    with pytest.raises(IntakeError, match=r"repayments\.csv 无法识别文字编码"):
        load_raw(folder, duckdb.connect())


def test_xlsx_that_is_not_an_xlsx(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "raw", canonical())
    (folder / "loans.csv").unlink()
    (folder / "loans.xlsx").write_text("loan_id,amount\n", encoding="utf-8")
    with pytest.raises(IntakeError, match=r"loans\.xlsx 不是有效的 Excel"):
        load_raw(folder, duckdb.connect())


def test_both_csv_and_xlsx_of_one_file(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "raw", canonical())
    write_xlsx(folder / "loans.xlsx", schema.LOANS, canonical()["loans"])
    with pytest.raises(IntakeError, match=r"loans\.csv 和 loans\.xlsx"):
        load_raw(folder, duckdb.connect())


def test_row_with_wrong_field_count_is_quarantined_and_numbering_holds(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "raw", canonical())
    lines = (folder / "repayments.csv").read_text(encoding="utf-8").splitlines()
    lines.insert(2, "P009,L001,2024-07-01,0,1,unexpected")
    lines.append('P010,L001,"2024-08-01",0,"1,002.50",,')
    lines.append("P011,L001,2024-08-02,0")
    (folder / "repayments.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    con, _ = load(folder)
    assert rows(con, "select row_number, record_key, reasons from raw.quarantine") == [
        (2, "P009", ["本行有 6 个字段，与表头的 5 列不符"]),
        (5, "P011", ["本行有 4 个字段，与表头的 5 列不符", "缺少实还利息"]),
    ]
    assert rows(
        con, "select payment_id, interest_paid from raw.repayments order by payment_id"
    ) == [
        ("P001", Decimal("108.75")),
        ("P002", Decimal("108.75")),
        ("P010", Decimal("1002.50")),
    ]
    original = json.loads(rows(con, "select original from raw.quarantine")[0][0])
    assert original["payment_id"] == "P009"
    assert original["（多出的字段）"] == "unexpected"


# --- Validation: a folder with one problem per row ----------------------------------------------


def dirty() -> dict[str, list[dict[str, str]]]:
    data = canonical()
    data["villages"] = [
        {"township_code": "411202006", "township_name": "会兴街道", "village_code": VILLAGE_A, "village_name": "会兴村"},
        {"township_code": "411202006", "township_name": "会兴街道", "village_code": VILLAGE_B, "village_name": "上村"},
        {"township_code": "411202006", "township_name": "会兴街道", "village_code": "411202007202", "village_name": "错村"},
        {"township_code": "41120200", "township_name": "短乡", "village_code": "411202006203", "village_name": "短码村"},
    ]  # fmt: skip
    good_id = id_number("41120219800101011")
    bad_check = good_id[:-1] + ("0" if good_id[-1] != "0" else "1")
    data["households"] += [
        household("H010", "41120219800101010", collected_on="2024-02-30"),
        household("H011", "41120219800101011", head_id_number=bad_check),
        household("H012", "41120219800101012", head_id_number="41120219800101012"),
        household("H013", "41120219800101013", village_code="411202999999"),
        household("H014", "41120219800101014", village_code="411202007202"),
        household("H015", "41120219800101015", education="大学"),
        household("H016", "41120219800101016", homestead_house_value="-5", petitions_12m="1.5"),
        household("H017", "41120219800101017", head_name="", registered_poor="可能"),
        household("H018", "41120219800101018"),
        household("H018", "41120219800101018", head_name="重复"),
        household("H019", "41120219800101019", head_id_number="4.11202E+17"),
    ]
    entity = data["entities"][0]
    bad_code = credit_code("93411202MA0000002")
    bad_code = bad_code[:-1] + ("0" if bad_code[-1] != "0" else "1")
    data["entities"] += [
        dict(entity, entity_id="E02", credit_code=bad_code),
        dict(entity, entity_id="E03", village_code="411202999998"),
    ]
    loan = data["loans"][0]
    data["loans"] += [
        dict(loan, loan_id="L010", borrower_id="H999"),
        dict(loan, loan_id="L011", borrower_type="经营主体", borrower_id="E02"),
        dict(loan, loan_id="L012", borrower_id="H010"),
        dict(loan, loan_id="L013", amount="-100"),
        dict(loan, loan_id="L014", maturity_on="2024-03-01"),
        dict(loan, loan_id="L015", annual_rate="4.75"),
        dict(loan, loan_id="L016"),
        dict(loan, loan_id="L017"),
        dict(loan, loan_id="L018", written_off_on="2024-01-01"),
        dict(loan, loan_id="L019"),
        dict(loan, loan_id="L020", amount="0"),
        dict(loan, loan_id="L021", amount="1,000.005"),
    ]
    instalment = {"installment_no": "1", "due_on": "2025-03-20", "interest_due": "0"}
    for loan_id, principal in (
        ("L010", "10000"),
        ("L011", "10000"),
        ("L012", "10000"),
        ("L013", "100"),
        ("L014", "10000"),
        ("L015", "10000"),
        ("L018", "10000"),
        ("L020", "0"),
        ("L021", "1000"),
    ):
        data["schedule"].append(dict(instalment, loan_id=loan_id, principal_due=principal))
    data["schedule"] += [
        dict(instalment, loan_id="L016", principal_due="6000"),
        dict(instalment, loan_id="L016", installment_no="2", principal_due="3000"),
        dict(instalment, loan_id="L017", principal_due="5000"),
        dict(instalment, loan_id="L017", installment_no="2", principal_due="5000", due_on="2024-13-01"),
        dict(instalment, loan_id="L404", principal_due="5000"),
    ]  # fmt: skip
    payment = {"paid_on": "2024-06-20", "principal_paid": "0", "interest_paid": "10"}
    data["repayments"] += [
        dict(payment, payment_id="P010", loan_id="L016"),
        dict(payment, payment_id="P011", loan_id="L404"),
        dict(payment, payment_id="P012", loan_id="L002", paid_on="2024-03-01"),
        dict(payment, payment_id="P013", loan_id="L001"),
        dict(payment, payment_id="P013", loan_id="L001", interest_paid="20"),
        dict(payment, payment_id="P014", loan_id="L001", interest_paid="-1"),
    ]
    return data


@pytest.fixture(scope="module")
def dirty_load(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    folder = write_folder(tmp_path_factory.mktemp("dirty") / "raw", dirty())
    con, _ = load(folder)
    return con


def test_dirty_folder_reconciles(dirty_load: duckdb.DuckDBPyConnection) -> None:
    assert_reconciled(dirty_load)
    assert rows(dirty_load, "select household_id from raw.households order by all") == [
        ("H001",), ("H002",), ("H003",)
    ]  # fmt: skip
    assert rows(dirty_load, "select loan_id from raw.loans order by all") == [("L001",), ("L002",)]
    assert rows(dirty_load, "select payment_id from raw.repayments order by all") == [
        ("P001",),
        ("P002",),
    ]


def test_impossible_date_with_reason_and_row_number(dirty_load: duckdb.DuckDBPyConnection) -> None:
    found = rows(
        dirty_load,
        "select file_name, row_number, reasons, original->>'collected_on' from raw.quarantine "
        "where record_key = 'H010 / 2024-02-30'",
    )
    assert found == [("households.csv", 4, ["采集日期不是有效日期：2024-02-30"], "2024-02-30")]


@pytest.mark.parametrize(
    ("source_file", "record_key", "expected"),
    [
        ("villages", "411202007202", ["行政村代码前9位应与乡镇代码一致：411202007202 / 411202006"]),
        ("villages", "411202006203", ["乡镇代码应为9位数字：41120200"]),
        ("households", "H011 / 2024-01-15", ["户主身份证号校验位错误"]),
        (
            "households",
            "H012 / 2024-01-15",
            ["户主身份证号应为18位：41120219800101012（现为 17 位）"],
        ),
        ("households", "H013 / 2024-01-15", ["行政村代码在行政区划中不存在：411202999999"]),
        ("households", "H014 / 2024-01-15", ["所属行政村已被隔离：411202007202"]),
        (
            "households",
            "H015 / 2024-01-15",
            ["户主文化程度不在可选值内：大学（可选：小学及以下/初中/高中/中专/大专/本科/研究生）"],
        ),
        (
            "households",
            "H016 / 2024-01-15",
            ["宅基地自建房估值不能为负数：-5", "近一年非法上访次数应为整数：1.5"],
        ),
        ("households", "H017 / 2024-01-15", ["缺少户主姓名", "建档立卡贫困户应填“是”或“否”：可能"]),
        (
            "households",
            "H019 / 2024-01-15",
            [
                "户主身份证号被 Excel 存成了科学计数法，后几位数字已丢失：4.11202E+17（请把该列设为文本后重新导出）"
            ],
        ),
        ("entities", "E02", ["统一社会信用代码校验位错误"]),
        ("entities", "E03", ["行政村代码在行政区划中不存在：411202999998"]),
        ("loans", "L010", ["借款人编号在农户表中不存在：H999"]),
        ("loans", "L011", ["借款经营主体已被隔离：E02"]),
        ("loans", "L012", ["借款农户已被隔离：H010"]),
        ("loans", "L014", ["到期日期早于或等于放款日期：2024-03-01 / 2024-03-20"]),
        (
            "loans",
            "L015",
            ["执行年利率含义不明确：“4.75”没有百分号，请写成小数（如 0.0475）或百分数（如 4.75%）"],
        ),
        (
            "loans",
            "L016",
            ["还款计划应还本金合计与贷款金额不符：合计 9,000.00 元，贷款金额 10,000.00 元"],
        ),
        ("loans", "L017", ["还款计划不完整：第 2 期已被隔离"]),
        ("loans", "L018", ["核销日期早于放款日期：2024-01-01 / 2024-03-20"]),
        ("loans", "L019", ["还款计划中没有该贷款的任何期次"]),
        ("loans", "L020", ["贷款金额应大于0：0"]),
        ("loans", "L021", ["贷款金额小数位超过两位：1,000.005"]),
        ("schedule", "L017 / 1", ["所属贷款已被隔离：L017"]),
        ("schedule", "L017 / 2", ["应还日期不是有效日期：2024-13-01"]),
        ("schedule", "L016 / 1", ["所属贷款已被隔离：L016"]),
        ("schedule", "L404 / 1", ["贷款编号在贷款台账中不存在：L404"]),
        ("repayments", "P010", ["所属贷款已被隔离：L016"]),
        ("repayments", "P011", ["贷款编号在贷款台账中不存在：L404"]),
        ("repayments", "P012", ["还款日期早于放款日期：2024-03-01 / 2024-04-01"]),
        ("repayments", "P014", ["实还利息不能为负数：-1"]),
    ],
)
def test_reasons(
    dirty_load: duckdb.DuckDBPyConnection, source_file: str, record_key: str, expected: list[str]
) -> None:
    assert quarantined(dirty_load, source_file)[record_key] == expected


def test_negative_loan_amount(dirty_load: duckdb.DuckDBPyConnection) -> None:
    reasons = quarantined(dirty_load, "loans")["L013"]
    assert reasons[0] == "贷款金额不能为负数：-100"


def test_duplicates_name_the_other_rows(dirty_load: duckdb.DuckDBPyConnection) -> None:
    households = rows(
        dirty_load,
        "select row_number, reasons from raw.quarantine where record_key = 'H018 / 2024-01-15' "
        "order by row_number",
    )
    assert households == [
        (12, ["农户编号+采集日期重复：与第 13 行相同"]),
        (13, ["农户编号+采集日期重复：与第 12 行相同"]),
    ]
    payments = rows(
        dirty_load,
        "select row_number, reasons from raw.quarantine where record_key = 'P013' order by row_number",
    )
    assert payments == [
        (6, ["还款流水号重复：与第 7 行相同"]),
        (7, ["还款流水号重复：与第 6 行相同"]),
    ]


def test_quarantined_loan_takes_schedule_and_repayments(
    dirty_load: duckdb.DuckDBPyConnection,
) -> None:
    for loan_id in ("L010", "L016", "L017"):
        assert rows(
            dirty_load, "select count(*) from raw.schedule where loan_id = ?", [loan_id]
        ) == [(0,)]
    schedule = quarantined(dirty_load, "schedule")
    assert schedule["L010 / 1"] == ["所属贷款已被隔离：L010"]
    assert rows(dirty_load, "select count(*) from raw.repayments where loan_id = 'L016'") == [(0,)]


def test_quarantine_keeps_original_as_read(dirty_load: duckdb.DuckDBPyConnection) -> None:
    original = rows(
        dirty_load, "select original from raw.quarantine where record_key = 'H015 / 2024-01-15'"
    )[0][0]
    values = json.loads(original)
    assert list(values) == schema.HOUSEHOLDS.column_names
    assert values["education"] == "大学"
    assert values["work_proof"] == ""


def test_reason_counts_group_by_reason(tmp_path: Path) -> None:
    summary = preview_delivery(None, write_folder(tmp_path / "raw", dirty()))
    counts = {
        (row["source_file"], row["reason"]): row["rows"]
        for row in summary.reason_counts.iter_rows(named=True)
    }
    assert counts[("loans", "借款人编号在农户表中不存在")] == 1
    assert counts[("schedule", "所属贷款已被隔离")] == 12
    assert summary.quarantine is not None
    assert summary.quarantine.height == summary.rows_quarantined


# --- Deliveries ----------------------------------------------------------------------------------


def test_accept_delivery_and_resend_changes_nothing(tmp_path: Path, canonical_folder: Path) -> None:
    store = tmp_path / "store"
    first = accept_delivery(store, canonical_folder, source_label="湖滨农商行")
    assert first.delivery_id == "0001" and not first.already_accepted
    manifest = json.loads(
        (store / "deliveries" / "0001" / "manifest.json").read_text(encoding="utf-8")
    )
    assert manifest["source_label"] == "湖滨农商行"
    assert {item["name"] for item in manifest["files"]} == {
        "households.csv", "entities.csv", "loans.csv", "schedule.csv", "repayments.csv"
    }  # fmt: skip
    assert all(len(item["sha256"]) == 64 and item["size"] > 0 for item in manifest["files"])
    again = accept_delivery(store, canonical_folder, source_label="重复报送")
    assert again.already_accepted and again.delivery_id == "0001"
    assert "已经接收过" in again.describe()
    assert [d.delivery_id for d in list_deliveries(store)] == ["0001"]


def test_later_delivery_supersedes_earlier_rows(tmp_path: Path, canonical_folder: Path) -> None:
    store = tmp_path / "store"
    accept_delivery(store, canonical_folder, source_label="第一批")
    update = tmp_path / "update"
    update.mkdir()
    data = canonical()
    write_csv(
        update / "loans.csv", [dict(data["loans"][1], bank="新银行")], schema.LOANS.column_names
    )
    payment = {"payment_id": "P003", "loan_id": "L001", "paid_on": "2024-12-20",
               "principal_paid": "0", "interest_paid": "108.75"}  # fmt: skip
    write_csv(
        update / "repayments.csv", [dict(data["repayments"][0], interest_paid="100"), payment]
    )
    second = accept_delivery(store, update, source_label="第二批")
    assert second.delivery_id == "0002"
    con, summary = load(store)
    assert rows(con, "select loan_id, bank from raw.loans order by loan_id") == [
        ("L001", "湖滨农商行"),
        ("L002", "新银行"),
    ]
    assert rows(
        con, "select payment_id, interest_paid from raw.repayments order by payment_id"
    ) == [
        ("P001", Decimal("100.00")),
        ("P002", Decimal("108.75")),
        ("P003", Decimal("108.75")),
    ]
    report = rows(
        con,
        "select source_file, delivery_id, rows_read, rows_loaded, rows_quarantined, rows_superseded "
        "from raw.load_report where source_file in ('loans', 'repayments') order by all",
    )
    assert report == [
        ("loans", "0001", 2, 1, 0, 1),
        ("loans", "0002", 1, 1, 0, 0),
        ("repayments", "0001", 2, 1, 0, 1),
        ("repayments", "0002", 2, 2, 0, 0),
    ]
    assert_reconciled(con)
    assert rows(con, "select delivery_id, source, files from raw.deliveries order by all") == [
        ("0001", "第一批", ["entities.csv", "households.csv", "loans.csv", "repayments.csv", "schedule.csv"]),
        ("0002", "第二批", ["loans.csv", "repayments.csv"]),
    ]  # fmt: skip
    assert summary.delivery_ids == ["0001", "0002"]


def test_a_superseding_row_that_fails_keeps_the_earlier_one(
    tmp_path: Path, canonical_folder: Path
) -> None:
    store = tmp_path / "store"
    accept_delivery(store, canonical_folder)
    update = tmp_path / "update"
    update.mkdir()
    bad = dict(canonical()["households"][2], education="大学")
    write_csv(update / "households.csv", [bad], schema.HOUSEHOLDS.column_names)
    accept_delivery(store, update)
    con, _ = load(store)
    assert rows(con, "select delivery_id, record_key, reasons from raw.quarantine") == [
        (
            "0002",
            "H003 / 2024-01-15",
            [
                "更正行未通过校验，保留原数据",
                "户主文化程度不在可选值内：大学（可选：小学及以下/初中/高中/中专/大专/本科/研究生）",
            ],
        )
    ]
    assert rows(con, "select education from raw.households where household_id = 'H003'") == [
        (canonical()["households"][2]["education"],)
    ]
    assert_reconciled(con)


def test_preview_validates_without_touching_the_store(
    tmp_path: Path, canonical_folder: Path
) -> None:
    store = tmp_path / "store"
    accept_delivery(store, canonical_folder)
    candidate = tmp_path / "candidate"
    candidate.mkdir()
    loan = dict(canonical()["loans"][0], loan_id="L050", borrower_id="H404")
    write_csv(candidate / "loans.csv", [loan], schema.LOANS.column_names)
    write_csv(
        candidate / "schedule.csv",
        [{"loan_id": "L050", "installment_no": "1", "due_on": "2025-03-20",
          "principal_due": "10000", "interest_due": "0"}],
    )  # fmt: skip
    summary = preview_delivery(store, candidate)
    assert summary.quarantine is not None
    assert summary.quarantine.select("delivery_id", "record_key", "reasons").rows() == [
        ("待接收", "L050", ["借款人编号在农户表中不存在：H404"]),
        ("待接收", "L050 / 1", ["所属贷款已被隔离：L050"]),
    ]
    assert [d.delivery_id for d in list_deliveries(store)] == ["0001"]
    assert sorted(path.name for path in store.iterdir()) == [".lock", "deliveries"]


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def folder_members(folder: Path, prefix: str = "") -> dict[str, bytes]:
    return {prefix + path.name: path.read_bytes() for path in folder.iterdir()}


def test_accept_zip_takes_known_files_only(tmp_path: Path, canonical_folder: Path) -> None:
    members = folder_members(canonical_folder, "2024年10月/")
    members["2024年10月/说明.txt"] = "请查收".encode()
    archive = make_zip(tmp_path / "delivery.zip", members)
    delivery = accept_delivery(tmp_path / "store", archive, source_label="zip")
    assert sorted(item.name for item in delivery.files) == sorted(
        path.name for path in canonical_folder.iterdir()
    )
    assert delivery.ignored == ["2024年10月/说明.txt"]
    assert "说明.txt" in delivery.describe()
    assert not any(path.suffix == ".txt" for path in delivery.path.iterdir())


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"../loans.csv": b"loan_id\n"}, "含有“..”"),
        ({"/etc/loans.csv": b"loan_id\n"}, "绝对路径"),
        ({"loans.csv": b"0" * 2_000_000}, "压缩比超过 100:1"),
        ({f"f{index}.txt": b"x" for index in range(51)}, "超过上限 50 个"),
    ],
)
def test_unsafe_zip_is_rejected(tmp_path: Path, members: dict[str, bytes], message: str) -> None:
    archive = make_zip(tmp_path / "bad.zip", members)
    with pytest.raises(IntakeError, match=message):
        accept_delivery(tmp_path / "store", archive)
    assert not list((tmp_path / "store" / "deliveries").iterdir())


def test_zip_symlink_and_size_limit_are_rejected(tmp_path: Path, canonical_folder: Path) -> None:
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        info = zipfile.ZipInfo("loans.csv")
        info.external_attr = (0o120777) << 16
        handle.writestr(info, "/etc/passwd")
    with pytest.raises(IntakeError, match="符号链接"):
        accept_delivery(tmp_path / "store", archive)
    big = make_zip(tmp_path / "big.zip", folder_members(canonical_folder))
    with pytest.raises(IntakeError, match="超过上限"):
        accept_delivery(tmp_path / "store", big, limits=Limits(max_total_bytes=1000))


def test_unreadable_file_is_refused_at_acceptance(tmp_path: Path, canonical_folder: Path) -> None:
    columns = [name for name in schema.LOANS.column_names if name != "amount"]
    write_csv(canonical_folder / "loans.csv", canonical()["loans"], columns)
    with pytest.raises(IntakeError, match=r"loans\.csv 缺少必需列：贷款金额（amount）"):
        accept_delivery(tmp_path / "store", canonical_folder)
    assert not list((tmp_path / "store" / "deliveries").iterdir())


def test_xlsx_error_cells_are_quarantined_not_emptied(tmp_path: Path) -> None:
    import openpyxl

    data = canonical()
    folder = write_folder(tmp_path / "raw", data)
    (folder / "loans.csv").unlink()
    write_xlsx(folder / "loans.xlsx", schema.LOANS, data["loans"])
    workbook = openpyxl.load_workbook(folder / "loans.xlsx")
    sheet = workbook.active
    sheet.cell(row=2, column=schema.LOANS.column_names.index("bank") + 1).value = "#N/A"
    sheet.cell(row=3, column=schema.LOANS.column_names.index("written_off_on") + 1).value = "#REF!"
    workbook.save(folder / "loans.xlsx")
    con, _ = load(folder)
    assert quarantined(con, "loans") == {
        "L001": ["贷款银行是 Excel 错误值：#N/A"],
        "L002": ["核销日期无法识别为日期：#REF!"],
    }


def test_tab_separated_and_unnamed_xlsx_cells(tmp_path: Path) -> None:
    import openpyxl

    data = canonical()
    folder = write_folder(tmp_path / "raw", data)
    lines = (folder / "repayments.csv").read_text(encoding="utf-8").splitlines()
    (folder / "repayments.csv").write_text(
        "\n".join(line.replace(",", "\t") for line in lines) + "\n", encoding="utf-8"
    )
    (folder / "entities.csv").unlink()
    write_xlsx(folder / "entities.xlsx", schema.ENTITIES, data["entities"])
    workbook = openpyxl.load_workbook(folder / "entities.xlsx")
    workbook.active.cell(row=2, column=len(schema.ENTITIES.columns) + 2).value = "备注：新成立"
    workbook.save(folder / "entities.xlsx")
    con, _ = load(folder)
    assert rows(con, "select count(*) from raw.repayments") == [(2,)]
    assert rows(con, "select count(*) from raw.entities") == [(1,)]
    assert rows(
        con, "select source_file, column_name, non_empty_values from raw.extra_columns"
    ) == [("entities", "（表头右侧无列名的单元格）", 1)]


def test_mixed_line_endings_load_like_canonical(
    tmp_path: Path, canonical_typed: dict[str, list[tuple]]
) -> None:
    """Rows appended by hand in another editor: some lines end in CRLF, some in LF."""
    folder = write_folder(tmp_path / "raw", canonical())
    path = folder / "households.csv"
    lines = path.read_bytes().replace(b"\r\n", b"\n").split(b"\n")
    mixed = b"".join(
        line + (b"\r\n" if number % 2 else b"\n") for number, line in enumerate(lines) if line
    )
    path.write_bytes(mixed)
    assert typed_tables(folder) == canonical_typed
