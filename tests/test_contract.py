"""The data contract's inputs, clause by clause: every spelling it lists is accepted and typed to
the same value, every optional file and column may be absent, every rule quarantines the row that
breaks it (and its dependants) with a reason in Chinese, and files no one could read fail naming
the file and the column.

The raw folder is written by hand (tests/contract_folder.py), not by the demo generator; most
checks compare ``raw.*`` after ``load_raw`` on a plain DuckDB connection. Two end-to-end builds
(real dbt) close the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from contract_folder import (
    FUCUN,
    HOUJIAGOU,
    ID_WITH_X,
    Folder,
    canonical,
    cell,
    chinese,
    credit_code,
    english,
    find_row,
    full_width_english,
    id_number,
    load,
    padded_chinese,
    quarantine,
    raw_tables,
    reconciles,
    row_key,
    write_csv,
    write_folder,
    write_xlsx,
)

from huinong import REPO_ROOT, schema
from huinong.intake import IntakeError, load_raw

DATE = dt.date(2024, 3, 20)


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    """The canonical folder's typed raw tables: what every respelling must load as."""
    con, summary = load(write_folder(tmp_path_factory.mktemp("canonical"), canonical()))
    assert quarantine(con) == []
    assert {counts.source_file: counts.rows_loaded for counts in summary.files} == {
        "villages": 4, "households": 5, "entities": 2, "loans": 4, "schedule": 7, "repayments": 4,
    }  # fmt: skip
    return raw_tables(con)


def _records(tables: dict[str, list[tuple]], file_name: str) -> dict[str, dict]:
    """One raw table's rows as {record key: {column: value}}."""
    raw_file = schema.RAW_FILES[file_name]
    records = {}
    for values in tables[file_name]:
        row = dict(zip(raw_file.column_names, values, strict=True))
        records[" / ".join(str(row[name]) for name in raw_file.key)] = row
    return records


def test_canonical_folder_is_typed_as_the_contract_says(expected) -> None:
    households = _records(expected, "households")
    recollected = households["H001 / 2024-03-20"]
    assert recollected["registered_poor"] is True and recollected["party_member"] is True
    assert recollected["education"] == "大专" and recollected["income_project"] == "务工"
    assert recollected["homestead_house_value"] == Decimal("166000.50")
    assert recollected["enforcement_ended_on"] == dt.date(2021, 6, 30)
    assert households["H001 / 2023-11-15"]["party_member"] is False
    # Empty booleans and amounts are unknown, not false or zero; X is allowed last in an ID.
    h003 = households["H003 / 2024-03-20"]
    assert (h003["healthy"], h003["guarantee_overdue"], h003["entity_scale"]) == (None, None, None)
    assert h003["income_project"] is None and h003["head_id_number"] == ID_WITH_X
    assert households["H002 / 2024-03-20"]["petitions_12m"] == 1
    loans = _records(expected, "loans")
    assert loans["L001"]["borrower_type"] == "农户" and loans["L003"]["borrower_type"] == "经营主体"
    assert loans["L003"]["amount"] == Decimal("200000.00")
    assert loans["L003"]["annual_rate"] == Decimal("0.05225")
    assert loans["L004"]["written_off_on"] == dt.date(2024, 6, 30)
    assert _records(expected, "entities")["E01"]["poor_households_linked"] == 12


# --- Every spelling the contract lists ---------------------------------------------------------

# (file, row, column, as written, typed value): one cell of the canonical folder respelled; the
# typed value is the canonical one, so the whole folder must load exactly as canonical.
H001, H002, H003 = "H001 / 2023-11-15", "H002 / 2024-03-20", "H003 / 2024-03-20"
SPELLINGS = [
    # booleans: 是/否, 有/无, Y/N, 1/0, true/false, √/× — any letter case, full width folded
    ("households", H001, "registered_poor", "是", True),
    ("households", H001, "registered_poor", "有", True),
    ("households", H001, "registered_poor", "Y", True),
    ("households", H001, "registered_poor", "y", True),
    ("households", H001, "registered_poor", "Ｙ", True),
    ("households", H001, "registered_poor", "1", True),
    ("households", H001, "registered_poor", "true", True),
    ("households", H001, "registered_poor", "TRUE", True),
    ("households", H001, "registered_poor", "√", True),
    ("households", H001, "registered_poor", "yes", True),
    ("households", H001, "vice_record", "否", False),
    ("households", H001, "vice_record", "无", False),
    ("households", H001, "vice_record", "N", False),
    ("households", H001, "vice_record", "n", False),
    ("households", H001, "vice_record", "0", False),
    ("households", H001, "vice_record", "false", False),
    ("households", H001, "vice_record", "False", False),
    ("households", H001, "vice_record", "×", False),
    ("households", H001, "vice_record", "no", False),
    ("households", H003, "healthy", "", None),
    ("households", H003, "healthy", "  ", None),
    # dates: 2024-03-20, 2024/3/20, 2024.3.20, 2024年3月20日, 20240320
    ("loans", "L001", "disbursed_on", "2024-03-20", DATE),
    ("loans", "L001", "disbursed_on", "2024/3/20", DATE),
    ("loans", "L001", "disbursed_on", "2024/03/20", DATE),
    ("loans", "L001", "disbursed_on", "2024.3.20", DATE),
    ("loans", "L001", "disbursed_on", "2024年3月20日", DATE),
    ("loans", "L001", "disbursed_on", "20240320", DATE),
    ("loans", "L001", "disbursed_on", "2024-3-20", DATE),
    ("loans", "L001", "disbursed_on", "２０２４年３月２０日", DATE),
    ("loans", "L004", "written_off_on", "2024年6月30日", dt.date(2024, 6, 30)),
    ("households", H002, "collected_on", "2024/3/20", DATE),
    # amounts in yuan: thousands separators, a trailing 元
    ("loans", "L003", "amount", "200,000.00", Decimal("200000.00")),
    ("loans", "L003", "amount", "200,000", Decimal("200000.00")),
    ("loans", "L003", "amount", "200000元", Decimal("200000.00")),
    ("loans", "L003", "amount", "200,000.00元", Decimal("200000.00")),
    ("loans", "L003", "amount", "200,000.00 元", Decimal("200000.00")),
    ("loans", "L003", "amount", "¥200,000.00", Decimal("200000.00")),
    ("loans", "L003", "amount", "２００，０００元", Decimal("200000.00")),
    ("households", H001, "homestead_house_value", "166,000.5元", Decimal("166000.50")),
    ("schedule", "L003 / 1", "interest_due", "10,450.00", Decimal("10450.00")),
    ("repayments", "P002", "principal_paid", "25,000元", Decimal("25000.00")),
    # rates: 0.0475 or 4.75%
    ("loans", "L002", "annual_rate", "4.75%", Decimal("0.0475")),
    ("loans", "L002", "annual_rate", "4.75 %", Decimal("0.0475")),
    ("loans", "L002", "annual_rate", "4.75％", Decimal("0.0475")),
    ("loans", "L003", "annual_rate", "5.225%", Decimal("0.05225")),
    ("loans", "L003", "benchmark_rate", "0.047500", Decimal("0.0475")),
    # enumerations: the Chinese choice, or the English code the contract gives beside it
    ("loans", "L001", "borrower_type", "household", "农户"),
    ("loans", "L001", "borrower_type", "Household", "农户"),
    ("loans", "L003", "borrower_type", "entity", "经营主体"),
    ("loans", "L003", "borrower_type", "ENTITY", "经营主体"),
    ("loans", "L003", "borrower_type", " 经营主体 ", "经营主体"),
    # integers ≥ 0; codes and IDs as text (full-width digits folded, x read as X)
    ("households", H002, "petitions_12m", "１", 1),
    ("households", H003, "head_id_number", ID_WITH_X.lower(), ID_WITH_X),
]


def _rounds(cells: list[object]) -> list[int]:
    """A round per case such that no two cases of a round write the same cell: one folder per
    round is loaded for all its cases (a load costs the same for 5 rows or 50)."""
    taken: list[set] = []
    rounds = []
    for where in cells:
        number = next((n for n, used in enumerate(taken) if where not in used), len(taken))
        if number == len(taken):
            taken.append(set())
        taken[number].add(where)
        rounds.append(number)
    return rounds


class Loaded:
    """One loaded folder's quarantine and typed tables, and its connection for cell lookups."""

    def __init__(self, folder: Path) -> None:
        self.con, self.summary = load(folder)
        self.quarantine = quarantine(self.con)
        self.tables = raw_tables(self.con)


SPELLING_ROUNDS = _rounds([case[:3] for case in SPELLINGS])


@pytest.fixture(scope="module")
def spelled(tmp_path_factory) -> list[Loaded]:
    loaded = []
    for number in range(max(SPELLING_ROUNDS) + 1):
        data = canonical()
        # Rows are found before any is respelled: a respelled key column must not hide its row.
        cells = [
            (find_row(data, file_name, key), column, written)
            for (file_name, key, column, written, _), round_ in zip(
                SPELLINGS, SPELLING_ROUNDS, strict=True
            )
            if round_ == number
        ]
        for row, column, written in cells:
            row[column] = written
        loaded.append(Loaded(write_folder(tmp_path_factory.mktemp(f"spelled{number}"), data)))
    return loaded


@pytest.mark.parametrize(
    ("file_name", "key", "column", "written", "value", "round_"),
    [(*case, round_) for case, round_ in zip(SPELLINGS, SPELLING_ROUNDS, strict=True)],
    ids=[f"{case[2]}={case[3]!r}" for case in SPELLINGS],
)
def test_each_listed_spelling_loads_as_the_canonical_value(
    spelled, expected, file_name, key, column, written, value, round_
) -> None:
    loaded = spelled[round_]
    assert loaded.quarantine == []
    assert cell(loaded.con, file_name, key, column) == value
    assert loaded.tables == expected


def _date_form(form: str) -> Callable[[str], str]:
    def respell(text: str) -> str:
        day = dt.date.fromisoformat(text)
        return form.format(
            y=day.year, m=day.month, d=day.day, mm=f"{day.month:02}", dd=f"{day.day:02}"
        )

    return respell


def _bool_form(yes: str, no: str) -> Callable[[str], str]:
    return lambda text: {"是": yes, "否": no}[text]


def _amount_form(form: str) -> Callable[[str], str]:
    return lambda text: form.format(Decimal(text))


def _percent(text: str) -> str:
    return f"{(Decimal(text) * 100).normalize():f}%"


# (kind, form, respell a canonical non-empty cell): every cell of that kind in every file.
FORMS = [
    ("date", "2024/3/20", _date_form("{y}/{m}/{d}")),
    ("date", "2024.3.20", _date_form("{y}.{m}.{d}")),
    ("date", "2024年3月20日", _date_form("{y}年{m}月{d}日")),
    ("date", "20240320", _date_form("{y}{mm}{dd}")),
    *[("bool", f"{yes}/{no}", _bool_form(yes, no)) for yes, no in (
        ("有", "无"), ("Y", "N"), ("1", "0"), ("true", "false"), ("√", "×"),
    )],
    ("amount", "1,234.50", _amount_form("{:,.2f}")),
    ("amount", "1234.50元", _amount_form("{:.2f}元")),
    ("amount", "1,234.50元", _amount_form("{:,.2f}元")),
    ("rate", "4.75%", _percent),
    ("enum", "household/entity", lambda text: {"农户": "household", "经营主体": "entity"}.get(text, text)),
]  # fmt: skip
# Forms of different kinds write different cells: one round holds one form of each kind.
FORM_ROUNDS = _rounds([kind for kind, _, _ in FORMS])


@pytest.fixture(scope="module")
def formed(tmp_path_factory) -> list[Loaded]:
    loaded = []
    for number in range(max(FORM_ROUNDS) + 1):
        data = canonical()
        for (kind, _, respell), round_ in zip(FORMS, FORM_ROUNDS, strict=True):
            if round_ != number:
                continue
            for file_name, rows in data.items():
                for column in schema.RAW_FILES[file_name].columns:
                    if column.kind == kind:
                        for row in rows:
                            if row[column.name]:
                                row[column.name] = respell(row[column.name])
        loaded.append(Loaded(write_folder(tmp_path_factory.mktemp(f"formed{number}"), data)))
    return loaded


@pytest.mark.parametrize(
    ("kind", "respell", "round_"),
    [
        (kind, respell, round_)
        for (kind, _, respell), round_ in zip(FORMS, FORM_ROUNDS, strict=True)
    ],
    ids=[f"{kind}:{form}" for kind, form, _ in FORMS],
)
def test_every_column_of_a_kind_accepts_each_form(formed, expected, kind, respell, round_) -> None:
    respelled = [
        (file_name, column.name, row[column.name], respell(row[column.name]))
        for file_name, rows in canonical().items()
        for column in schema.RAW_FILES[file_name].columns
        if column.kind == kind
        for row in rows
        if row[column.name]
    ]
    assert any(written != text for _, _, text, written in respelled), kind
    assert formed[round_].quarantine == []
    assert formed[round_].tables == expected


HEADERS = {
    "english": english,
    "chinese": chinese,
    "chinese with spaces": padded_chinese,
    "full-width english": full_width_english,
}
ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030")


@pytest.mark.parametrize("header", list(HEADERS))
def test_headers_in_any_order_and_language_in_every_encoding(tmp_path, expected, header) -> None:
    """Each header style once, its files shuffled and each in another encoding, so that every
    style meets every encoding."""
    offset = list(HEADERS).index(header)
    for number, (file_name, rows) in enumerate(canonical().items()):
        encoding = ENCODINGS[(number + offset) % len(ENCODINGS)]
        path = write_csv(
            tmp_path / f"{file_name}.csv", file_name, rows,
            header=HEADERS[header], encoding=encoding, shuffle=number + offset,
        )  # fmt: skip
        assert path.read_bytes().startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    con, summary = load(tmp_path)
    assert quarantine(con) == []
    assert raw_tables(con) == expected
    assert summary.extra_columns == [] and summary.missing_columns == []


XLSX = {
    "date, number, percent and boolean cells": {"typed": True},
    "Chinese headers, a second sheet": {"typed": True, "header": padded_chinese, "other_sheet": True},
    "Chinese date format": {"typed": True, "header": chinese, "date_format": 'yyyy"年"m"月"d"日"'},
    "text cells": {"typed": False, "header": full_width_english},
}  # fmt: skip


@pytest.mark.parametrize("style", list(XLSX))
def test_xlsx_first_sheet_loads_like_csv(tmp_path, expected, style) -> None:
    for file_name, rows in canonical().items():
        write_xlsx(tmp_path / f"{file_name}.xlsx", file_name, rows, shuffle=7, **XLSX[style])
    con, _ = load(tmp_path)
    assert quarantine(con) == []
    assert raw_tables(con) == expected


def test_unknown_extra_columns_are_kept_aside_and_reported(tmp_path, expected) -> None:
    folder = write_folder(tmp_path, canonical())
    data = canonical()
    write_csv(folder / "loans.csv", "loans", data["loans"], extra={"备注": "已核实", "经办人": ""})
    con, summary = load(folder)
    assert raw_tables(con) == expected
    reported = [
        (extra.file_name, extra.column_name, extra.non_empty_values)
        for extra in summary.extra_columns
    ]
    assert reported == [("loans.csv", "备注", 4), ("loans.csv", "经办人", 0)]


# --- What may be absent ------------------------------------------------------------------------


def test_without_villages_the_default_list_is_used(tmp_path, expected) -> None:
    folder = write_folder(tmp_path, canonical())
    (folder / "villages.csv").unlink()
    con, summary = load(folder)
    assert summary.default_villages
    assert quarantine(con) == []
    with (REPO_ROOT / "seeds" / "hubin_villages.csv").open(encoding="utf-8") as handle:
        district = sorted(tuple(row.values()) for row in csv.DictReader(handle))
    assert con.execute("select * from raw.villages order by all").fetchall() == district
    assert set(expected["villages"]) <= set(district)
    tables = raw_tables(con)
    assert {name: rows for name, rows in tables.items() if name != "villages"} == {
        name: rows for name, rows in expected.items() if name != "villages"
    }


def test_without_entities_their_loans_are_quarantined_and_the_rest_loads(
    tmp_path, expected
) -> None:
    folder = write_folder(tmp_path, canonical())
    (folder / "entities.csv").unlink()
    con, summary = load(folder)
    assert quarantine(con) == [
        ("loans", "L003", ["借款人编号在经营主体表中不存在：E01"]),
        ("repayments", "P003", ["所属贷款已被隔离：L003"]),
        ("schedule", "L003 / 1", ["所属贷款已被隔离：L003"]),
    ]
    assert con.execute("select count(*) from raw.entities").fetchone() == (0,)
    assert "带贫经营主体（entities）：未提供（可选）" in summary.describe()
    tables = raw_tables(con)
    assert tables["households"] == expected["households"]
    assert [row[0] for row in tables["loans"]] == ["L001", "L002", "L004"]


def test_without_villages_and_entities(tmp_path) -> None:
    data = canonical()
    del data["villages"], data["entities"]
    for loan in data["loans"]:
        if loan["borrower_type"] == "经营主体":
            loan.update(borrower_type="农户", borrower_id="H004")
    con, summary = load(write_folder(tmp_path, data))
    assert quarantine(con) == []
    assert summary.default_villages
    assert con.execute("select count(*) from raw.loans").fetchone() == (4,)


# The contract's columns a file cannot do without: keys, references, what a rule reads, and the
# amounts and dates the loan arithmetic needs. Every other column may be left out.
REQUIRED = {
    "villages": {"township_code", "township_name", "village_code", "village_name"},
    "households": {"household_id", "village_code", "head_name", "head_id_number", "collected_on"},
    "loans": {"loan_id", "borrower_type", "borrower_id", "amount", "disbursed_on", "maturity_on"},
    "schedule": {"loan_id", "installment_no", "due_on", "principal_due", "interest_due"},
    "repayments": {"payment_id", "loan_id", "paid_on", "principal_paid", "interest_paid"},
    "entities": {"entity_id", "name", "kind", "village_code", "credit_code"},
}


def test_required_columns_are_the_contracts() -> None:
    assert {
        name: {column.name for column in raw_file.columns if column.required}
        for name, raw_file in schema.RAW_FILES.items()
    } == REQUIRED


OPTIONAL = {
    name: [column for column in raw_file.columns if column.name not in REQUIRED[name]]
    for name, raw_file in schema.RAW_FILES.items()
}


@pytest.mark.parametrize("file_name", [name for name, columns in OPTIONAL.items() if columns])
def test_optional_columns_may_all_be_absent(tmp_path, expected, file_name) -> None:
    folder = write_folder(tmp_path, canonical())
    dropped = tuple(column.name for column in OPTIONAL[file_name])
    write_csv(folder / f"{file_name}.csv", file_name, canonical()[file_name], drop=dropped)
    con, summary = load(folder)
    assert quarantine(con) == []
    for column in dropped:
        assert con.execute(f"select count({column}) from raw.{file_name}").fetchone() == (0,), (
            column
        )
    assert sorted(label for _, _, label in summary.missing_columns) == sorted(
        column.label for column in OPTIONAL[file_name]
    )
    kept = [
        position
        for position, column in enumerate(schema.RAW_FILES[file_name].columns)
        if column.name not in dropped
    ]
    assert sorted(tuple(row[i] for i in kept) for row in raw_tables(con)[file_name]) == sorted(
        tuple(row[i] for i in kept) for row in expected[file_name]
    )  # fmt: skip


# --- Files no one could read -------------------------------------------------------------------

REQUIRED_CASES = [(name, column) for name in schema.RAW_FILES for column in sorted(REQUIRED[name])]


@pytest.mark.parametrize(("file_name", "column"), REQUIRED_CASES)
def test_missing_required_column_names_the_file_and_the_column(tmp_path, file_name, column) -> None:
    folder = write_folder(tmp_path, canonical(), header=chinese)
    write_csv(
        folder / f"{file_name}.csv",
        file_name,
        canonical()[file_name],
        header=chinese,
        drop=(column,),
    )
    label = schema.RAW_FILES[file_name].column(column).label
    with pytest.raises(IntakeError, match=rf"{file_name}\.csv 缺少必需列：{label}（{column}）"):
        load_raw(folder, duckdb.connect())


def test_missing_required_column_in_an_xlsx(tmp_path) -> None:
    folder = write_folder(tmp_path, canonical())
    (folder / "schedule.csv").unlink()
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["贷款编号", "期次", "应还日期", "应还利息"])
    workbook.save(folder / "schedule.xlsx")
    with pytest.raises(IntakeError, match=r"schedule\.xlsx 缺少必需列：应还本金（principal_due）"):
        load_raw(folder, duckdb.connect())


def test_a_file_in_an_unreadable_encoding_names_the_file(tmp_path) -> None:
    folder = write_folder(tmp_path, canonical())
    # Windows-1252, as a Western Excel saves: neither UTF-8 nor GBK/GB18030.
    (folder / "repayments.csv").write_bytes(
        b"payment_id,loan_id,paid_on,principal_paid,interest_paid\r\nP001,L001,2024-06-20,0,\xd7\r\n"
    )
    with pytest.raises(IntakeError, match=r"repayments\.csv 无法识别文字编码"):
        load_raw(folder, duckdb.connect())


def test_a_missing_required_file_is_named(tmp_path) -> None:
    data = canonical()
    del data["schedule"]
    with pytest.raises(IntakeError, match=r"缺少必需文件：schedule（还款计划）"):
        load_raw(write_folder(tmp_path, data), duckdb.connect())


# --- Every rule: the row that breaks it, its reason, its dependants ----------------------------


def _set(file_name: str, key: str, **values: str) -> Callable[[Folder], None]:
    return lambda data: find_row(data, file_name, key).update(values)


def _twice(file_name: str, key: str) -> Callable[[Folder], None]:
    return lambda data: data[file_name].append(dict(find_row(data, file_name, key)))


def _add(file_name: str, key: str, **values: str) -> Callable[[Folder], None]:
    return lambda data: data[file_name].append(dict(find_row(data, file_name, key), **values))


def _loan_falls(loan_id: str) -> list[tuple[str, str, list[str]]]:
    """A quarantined loan takes its instalments and payments with it."""
    data = canonical()
    fallen = "所属贷款已被隔离：" + loan_id
    return [
        *[("schedule", row_key("schedule", row), [fallen]) for row in data["schedule"] if row["loan_id"] == loan_id],
        *[("repayments", row["payment_id"], [fallen]) for row in data["repayments"] if row["loan_id"] == loan_id],
    ]  # fmt: skip


H002_FALLS = [("loans", "L002", ["借款农户已被隔离：H002"]), *_loan_falls("L002")]
BAD_ID = id_number("41120219751230002")[:17] + (
    "0" if id_number("41120219751230002")[-1] != "0" else "1"
)
BAD_CODE = credit_code("93411202MA4000001")[:17] + "0"
# (rule, how the canonical folder breaks it, every row quarantined with its reasons)
RULES = [
    # villages
    ("village_code unique", _twice("villages", HOUJIAGOU), [
        ("households", "H004 / 2024-03-20", ["所属行政村已被隔离：" + HOUJIAGOU]),
        ("villages", HOUJIAGOU, ["行政村代码重复：与第 5 行相同"]),
        ("villages", HOUJIAGOU, ["行政村代码重复：与第 4 行相同"]),
    ]),
    ("village_code's first 9 digits = township_code", _set("villages", HOUJIAGOU, township_code="411202006"), [
        ("households", "H004 / 2024-03-20", ["所属行政村已被隔离：" + HOUJIAGOU]),
        ("villages", HOUJIAGOU, [f"行政村代码前9位应与乡镇代码一致：{HOUJIAGOU} / 411202006"]),
    ]),
    ("township_code 9 digits", _set("villages", HOUJIAGOU, township_code="41120220"), [
        ("households", "H004 / 2024-03-20", ["所属行政村已被隔离：" + HOUJIAGOU]),
        ("villages", HOUJIAGOU, ["乡镇代码应为9位数字：41120220"]),
    ]),
    ("village_code 12 digits", _set("villages", HOUJIAGOU, village_code="41120220120"), [
        ("households", "H004 / 2024-03-20", ["行政村代码在行政区划中不存在：" + HOUJIAGOU]),
        ("villages", "41120220120", ["行政村代码应为12位数字：41120220120"]),
    ]),
    ("a village's dependants fall with it", _set("villages", FUCUN, township_code="411202006"), [
        ("entities", "E02", ["所属行政村已被隔离：" + FUCUN]),
        ("households", H003, ["所属行政村已被隔离：" + FUCUN]),
        ("loans", "L004", ["借款农户已被隔离：H003"]),
        *_loan_falls("L004"),
        ("villages", FUCUN, [f"行政村代码前9位应与乡镇代码一致：{FUCUN} / 411202006"]),
    ]),
    # households
    ("(household_id, collected_on) unique", _twice("households", H002), [
        ("households", H002, ["农户编号+采集日期重复：与第 6 行相同"]),
        ("households", H002, ["农户编号+采集日期重复：与第 3 行相同"]),
        *H002_FALLS,
    ]),
    ("village must exist", _set("households", "H004 / 2024-03-20", village_code="411202999999"), [
        ("households", "H004 / 2024-03-20", ["行政村代码在行政区划中不存在：411202999999"]),
    ]),
    ("head_name required", _set("households", H002, head_name=""), [
        ("households", H002, ["缺少户主姓名"]), *H002_FALLS,
    ]),
    ("ID check digit (GB 11643)", _set("households", H002, head_id_number=BAD_ID), [
        ("households", H002, ["户主身份证号校验位错误"]), *H002_FALLS,
    ]),
    ("ID 18 characters", _set("households", H002, head_id_number="4112021975123000"), [
        ("households", H002, ["户主身份证号应为18位：4112021975123000（现为 16 位）"]), *H002_FALLS,
    ]),
    ("ID: X only last", _set("households", H002, head_id_number="4112021975X2300020"), [
        ("households", H002, ["户主身份证号格式错误：前17位应为数字，最后一位为数字或X：4112021975X2300020"]),
        *H002_FALLS,
    ]),
    ("collected_on required", _set("households", H002, collected_on=""), [
        ("households", "H002 / ", ["缺少采集日期"]), *H002_FALLS,
    ]),
    ("date must exist", _set("households", H002, collected_on="2024-02-30"), [
        ("households", "H002 / 2024-02-30", ["采集日期不是有效日期：2024-02-30"]), *H002_FALLS,
    ]),
    ("boolean spelled as listed", _set("households", H002, registered_poor="不详"), [
        ("households", H002, ["建档立卡贫困户应填“是”或“否”：不详"]), *H002_FALLS,
    ]),
    ("education among the choices", _set("households", H002, education="大学"), [
        ("households", H002, ["户主文化程度不在可选值内：大学（可选：小学及以下/初中/高中/中专/大专/本科/研究生）"]),
        *H002_FALLS,
    ]),
    ("integer ≥ 0", _set("households", H002, petitions_12m="-1"), [
        ("households", H002, ["近一年非法上访次数不能为负数：-1"]), *H002_FALLS,
    ]),
    ("integer, not a fraction", _set("households", H002, urban_property_75="1.5"), [
        ("households", H002, ["城区房产75平方米以上处数应为整数：1.5"]), *H002_FALLS,
    ]),
    ("amount not negative", _set("households", H002, guarantee_amount="-1.00"), [
        ("households", H002, ["对外担保金额不能为负数：-1.00"]), *H002_FALLS,
    ]),
    # entities
    ("entity_id unique", _twice("entities", "E02"), [
        ("entities", "E02", ["主体编号重复：与第 3 行相同"]),
        ("entities", "E02", ["主体编号重复：与第 2 行相同"]),
    ]),
    ("entity's village must exist", _set("entities", "E02", village_code="411202999999"), [
        ("entities", "E02", ["行政村代码在行政区划中不存在：411202999999"]),
    ]),
    ("credit code check (GB 32100)", _set("entities", "E01", credit_code=BAD_CODE), [
        ("entities", "E01", ["统一社会信用代码校验位错误"]),
        ("loans", "L003", ["借款经营主体已被隔离：E01"]),
        *_loan_falls("L003"),
    ]),
    ("entity kind among the choices", _set("entities", "E02", kind="个体户"), [
        ("entities", "E02", ["主体类型不在可选值内：个体户（可选：龙头企业/合作社/家庭农场）"]),
    ]),
    ("poor_households_linked ≥ 0", _set("entities", "E02", poor_households_linked="-3"), [
        ("entities", "E02", ["带动贫困户数不能为负数：-3"]),
    ]),
    # loans
    ("loan_id unique", _twice("loans", "L004"), [
        ("loans", "L004", ["贷款编号重复：与第 5 行相同"]),
        ("loans", "L004", ["贷款编号重复：与第 4 行相同"]),
        *_loan_falls("L004"),
    ]),
    ("household borrower must exist", _set("loans", "L002", borrower_id="H999"), [
        ("loans", "L002", ["借款人编号在农户表中不存在：H999"]), *_loan_falls("L002"),
    ]),
    ("entity borrower must exist", _set("loans", "L003", borrower_id="E99"), [
        ("loans", "L003", ["借款人编号在经营主体表中不存在：E99"]), *_loan_falls("L003"),
    ]),
    ("borrower_type among the choices", _set("loans", "L002", borrower_type="个人"), [
        ("loans", "L002", ["借款人类型不在可选值内：个人（可选：农户/经营主体，或 household/entity）"]),
        *_loan_falls("L002"),
    ]),
    ("amount > 0", _set("loans", "L002", amount="0"), [
        ("loans", "L002", [
            "贷款金额应大于0：0", "还款计划应还本金合计与贷款金额不符：合计 50,000.00 元，贷款金额 0.00 元",
        ]),
        *_loan_falls("L002"),
    ]),
    ("maturity after disbursement", _set("loans", "L002", maturity_on="2023-06-01"), [
        ("loans", "L002", ["到期日期早于或等于放款日期：2023-06-01 / 2023-06-01"]), *_loan_falls("L002"),
    ]),
    ("rate without % must be a fraction", _set("loans", "L002", annual_rate="4.75"), [
        ("loans", "L002", ["执行年利率含义不明确：“4.75”没有百分号，请写成小数（如 0.0475）或百分数（如 4.75%）"]),
        *_loan_falls("L002"),
    ]),
    ("repayment_method among the choices", _set("loans", "L002", repayment_method="先息后本"), [
        ("loans", "L002", ["还款方式不在可选值内：先息后本（可选：按季付息到期还本/按月付息到期还本/等额本息/到期一次还本付息）"]),
        *_loan_falls("L002"),
    ]),
    ("amount with more than cents", _set("loans", "L002", amount="50,000.001"), [
        ("loans", "L002", ["贷款金额小数位超过两位：50,000.001"]), *_loan_falls("L002"),
    ]),
    ("principal_due sums to the amount", _set("loans", "L002", amount="50000.01"), [
        ("loans", "L002", ["还款计划应还本金合计与贷款金额不符：合计 50,000.00 元，贷款金额 50,000.01 元"]),
        *_loan_falls("L002"),
    ]),
    # schedule
    ("(loan_id, installment_no) unique", _twice("schedule", "L002 / 2"), [
        ("loans", "L002", ["还款计划不完整：第 2、2 期已被隔离"]),
        ("repayments", "P002", ["所属贷款已被隔离：L002"]),
        ("schedule", "L002 / 1", ["所属贷款已被隔离：L002"]),
        ("schedule", "L002 / 2", ["贷款编号+期次重复：与第 8 行相同"]),
        ("schedule", "L002 / 2", ["贷款编号+期次重复：与第 5 行相同"]),
    ]),
    ("installment_no ≥ 1", _set("schedule", "L002 / 1", installment_no="0"), [
        ("loans", "L002", ["还款计划不完整：第 0 期已被隔离"]),
        ("repayments", "P002", ["所属贷款已被隔离：L002"]),
        ("schedule", "L002 / 0", ["期次应为大于0的整数：0"]),
        ("schedule", "L002 / 2", ["所属贷款已被隔离：L002"]),
    ]),
    ("schedule's loan must exist", _add("schedule", "L002 / 1", loan_id="L999"), [
        ("schedule", "L999 / 1", ["贷款编号在贷款台账中不存在：L999"]),
    ]),
    # repayments
    ("payment_id unique", _twice("repayments", "P002"), [
        ("repayments", "P002", ["还款流水号重复：与第 5 行相同"]),
        ("repayments", "P002", ["还款流水号重复：与第 2 行相同"]),
    ]),
    ("payment's loan must exist", _set("repayments", "P002", loan_id="L999"), [
        ("repayments", "P002", ["贷款编号在贷款台账中不存在：L999"]),
    ]),
    ("paid_on not before disbursed_on", _set("repayments", "P002", paid_on="2023-05-31"), [
        ("repayments", "P002", ["还款日期早于放款日期：2023-05-31 / 2023-06-01"]),
    ]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "break_it", "quarantined"), RULES, ids=[rule[0] for rule in RULES]
)
def test_a_row_breaking_a_rule_is_quarantined_with_its_dependants(
    tmp_path, rule, break_it, quarantined
) -> None:
    data = canonical()
    break_it(data)
    con, _ = load(write_folder(tmp_path, data))
    assert quarantine(con) == sorted(quarantined)
    # Rows read = loaded + quarantined, per file, and both land where the report says.
    counts = reconciles(con)
    assert {name: read for name, (read, _, _) in counts.items()} == {
        name: len(rows) for name, rows in data.items()
    }
    for name, (read, reported, landed) in counts.items():
        assert read == reported == landed, name


def test_a_quarantined_row_keeps_its_number_and_what_was_written(tmp_path) -> None:
    data = canonical()
    find_row(data, "households", H002)["head_id_number"] = BAD_ID
    folder = write_folder(tmp_path, data, header=padded_chinese, shuffle=3)
    con, _ = load(folder)
    number, original = con.execute(
        "select row_number, original from raw.quarantine where source_file = 'households'"
    ).fetchone()
    assert number == 3  # 1 = the first data row
    written = json.loads(original)
    assert written["户主身份证号"] == BAD_ID
    assert written["户主姓名"] == "李秀英" and written["已脱贫"] == "是"


# --- End to end: real builds -------------------------------------------------------------------

MARTS = ("household_scores", "loan_status", "village_breaker", "township_breaker", "kpi_monthly")


def _generated(folder: Path) -> Path:
    """A small demo raw folder, through the command line (whatever module writes it)."""
    subprocess.run(
        [sys.executable, "-m", "huinong", "generate", "--households", "200", "--seed", "5",
         "--out", str(folder)],
        cwd=REPO_ROOT, check=True, capture_output=True,
    )  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The same generated data built three ways: as written, with borrower types as English
    codes, and without the optional villages and entities files."""
    from huinong.warehouse import build

    root = tmp_path_factory.mktemp("contract_builds")
    plain = _generated(root / "plain")
    coded = root / "coded"
    coded.mkdir()
    for path in plain.iterdir():
        (coded / path.name).write_bytes(path.read_bytes())
    with (plain / "loans.csv").open(encoding="utf-8", newline="") as handle:
        loans = list(csv.DictReader(handle))
    codes = {"农户": "household", "经营主体": "entity"}
    assert {loan["borrower_type"] for loan in loans} == set(codes)
    with (coded / "loans.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(loans[0]))
        writer.writeheader()
        writer.writerows({**loan, "borrower_type": codes[loan["borrower_type"]]} for loan in loans)
    bare = root / "bare"
    bare.mkdir()
    for path in plain.iterdir():
        if path.stem not in ("villages", "entities"):
            (bare / path.name).write_bytes(path.read_bytes())
    con = duckdb.connect()
    for name, folder in (("plain", plain), ("coded", coded), ("bare", bare)):
        db = build(raw_dir=folder, db_path=root / f"{name}.duckdb").db_path
        con.execute(f"attach '{db}' as {name} (read_only)")
    yield con
    con.close()


@pytest.mark.parametrize("mart", MARTS)
def test_borrower_types_as_english_codes_build_the_same_marts(built, mart) -> None:
    rows = built.execute(f"select count(*) from plain.main.{mart}").fetchone()[0]
    assert rows > 0
    differ = built.execute(
        f"""select count(*) from (
            (select * from plain.main.{mart} except all select * from coded.main.{mart})
            union all
            (select * from coded.main.{mart} except all select * from plain.main.{mart}))"""
    ).fetchone()[0]
    assert differ == 0
    assert built.execute("select count(*) from coded.main.quarantine").fetchone() == (0,)


def test_without_villages_and_entities_files_the_build_has_marts(built) -> None:
    for mart in MARTS:
        assert built.execute(f"select count(*) from bare.main.{mart}").fetchone()[0] > 0, mart
    # The default list is the district's, which the demo's villages file also holds.
    differ = built.execute(
        "select count(*) from (select * from bare.raw.villages "
        "except all select * from plain.raw.villages)"
    ).fetchone()[0]
    assert differ == 0
    assert built.execute("select count(*) from bare.raw.entities").fetchone() == (0,)
    assert (
        built.execute("select count(*) from bare.raw.households").fetchone()
        == built.execute("select count(*) from plain.raw.households").fetchone()
    )
    # Only the entities' loans are quarantined (with what hangs on them), each saying why.
    quarantined = built.execute(
        "select record_key, reasons from bare.main.quarantine where source_file = 'loans' "
        "order by record_key"
    ).fetchall()
    entity_loans = built.execute(
        "select loan_id, borrower_id from plain.raw.loans where borrower_type = '经营主体' "
        "order by loan_id"
    ).fetchall()
    assert entity_loans
    assert quarantined == [
        (loan_id, [f"借款人编号在经营主体表中不存在：{entity_id}"])
        for loan_id, entity_id in entity_loans
    ]
