"""The files people download: opened with openpyxl (as Excel would) and read as CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import polars as pl
import pytest

pytest.register_assert_rewrite("dashboard_support")
from dashboard_support import latest_as_of, query  # noqa: E402

from huinong import data, export  # noqa: E402
from huinong.auth import User  # noqa: E402

pytest_plugins = ("dashboard_support",)

ID_NUMBERS = ["41120219800101001X", "411202198512310017"]
# Files as the 金融办 exports them: full ID numbers (export_full_id).
OFFICE = User("jrb", "金融办甲", "office")


def _households() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "township_name": ["会兴街道", "会兴街道"],
            "village_name": ["上村", "下村"],
            "household_id": ["H1", "H2"],
            "head_name": ["张三", "李四"],
            "head_id_number": ID_NUMBERS,
            "registered_poor": [True, False],
            "score": [97, 88],
            "grade": ["AAA", "AA"],
            "credit_limit": [Decimal("150000.00"), Decimal("100000.00")],
            "available_credit": [Decimal("120000.50"), Decimal("100000.00")],
            "outstanding_principal": [Decimal("29999.50"), Decimal("0.00")],
        },
        schema_overrides={
            "credit_limit": pl.Decimal(18, 2),
            "available_credit": pl.Decimal(18, 2),
            "outstanding_principal": pl.Decimal(18, 2),
        },
    )


def _open(xlsx: bytes):
    return openpyxl.load_workbook(io.BytesIO(xlsx))


def test_xlsx_has_title_rows_chinese_headers_frozen_header_and_text_ids():
    spec = export.REPORT_SPECS["credit_households"]
    xlsx = export.write_xlsx(
        spec, _households(), heading="湖滨区 信用户名单（2024年6月）", subheading="生成时间：…"
    )
    sheet = _open(xlsx).active
    assert sheet.title == "信用户名单"
    assert sheet["A1"].value == "湖滨区 信用户名单（2024年6月）"
    assert sheet["A2"].value == "生成时间：…"
    headers = [cell.value for cell in sheet[3]]
    assert headers[:5] == ["乡镇", "行政村", "农户编号", "户主姓名", "户主身份证号"]
    assert sheet.freeze_panes == "A4"
    id_cells = [sheet.cell(row=row, column=5) for row in (4, 5)]
    assert [cell.value for cell in id_cells] == ID_NUMBERS
    assert all(cell.data_type == "s" for cell in id_cells)  # text, not 4.11202E+17
    assert all(cell.number_format == "@" for cell in id_cells)
    limit = sheet.cell(row=4, column=headers.index("授信额度（元）") + 1)
    assert limit.value == 150000 and limit.number_format == "#,##0.00"
    assert sheet.cell(row=4, column=headers.index("建档立卡") + 1).value == "是"
    assert sheet.column_dimensions["E"].width >= 18  # an ID number fits


def test_xlsx_totals_row_sums_exactly_and_counts_households():
    spec = export.REPORT_SPECS["credit_households"]
    sheet = _open(export.write_xlsx(spec, _households(), heading="t", subheading="s")).active
    headers = [cell.value for cell in sheet[3]]
    totals = [cell.value for cell in sheet[6]]
    assert totals[0] == "合计 2 户"
    assert totals[headers.index("授信额度（元）")] == 250000
    assert totals[headers.index("可用额度（元）")] == pytest.approx(220000.50)
    assert totals[headers.index("评分")] is None  # scores are not summed


def test_csv_is_utf8_with_bom_and_keeps_ids_and_amounts_exact():
    spec = export.REPORT_SPECS["credit_households"]
    body = export.write_csv(spec, _households())
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:5] == ["乡镇", "行政村", "农户编号", "户主姓名", "户主身份证号"]
    # Each ID number after a tab, so that Excel and WPS keep all 18 characters as text when the
    # file is opened by double-click; a program gets it with the tab in front (strip() it).
    assert b",\t41120219800101001X," in body and b",\t411202198512310017," in body
    assert [row[4] for row in rows[1:]] == ["\t" + number for number in ID_NUMBERS]
    assert [row[4].strip() for row in rows[1:]] == ID_NUMBERS
    assert rows[1][rows[0].index("可用额度（元）")] == "120000.50"
    assert rows[1][rows[0].index("建档立卡")] == "是"
    assert len(rows) == 3  # no title and no totals row in a list: a program reads it as it is


def test_csv_codes_of_digits_stay_whole_text_in_a_spreadsheet():
    """Village (12 digits) and township (9) codes and all-digit household ids are written after a
    tab; a code with letters, or a masked ID number, as it is."""
    spec = export.spec_for(
        ["township_code", "village_code", "household_id", "head_id_number", "loan_id"], "codes"
    )
    frame = pl.DataFrame(
        {
            "township_code": ["411202006"],
            "village_code": ["411202006201"],
            "household_id": ["000123"],
            "head_id_number": ["411202********001X"],
            "loan_id": ["L0001"],
        }
    )
    body = export.write_csv(spec, frame)
    assert body.splitlines()[1] == (b"\t411202006,\t411202006201,\t000123,411202********001X,L0001")


def test_public_notice_masks_id_numbers_in_both_files():
    spec = export.REPORT_SPECS["grade_notice"]
    frame = _households().select([column.key for column in spec.columns])
    sheet = _open(export.write_xlsx(spec, frame, heading="t", subheading="s")).active
    assert sheet["D4"].value == "411202********001X"
    body = export.write_csv(spec, frame).decode("utf-8-sig")
    assert "411202********001X" in body and ID_NUMBERS[0] not in body


def test_a_table_longer_than_a_worksheet_continues_on_the_next(monkeypatch):
    monkeypatch.setattr(export, "EXCEL_MAX_ROWS", 10)  # room for 4 data rows a sheet
    frame = pl.concat([_households()] * 5)
    book = _open(
        export.write_xlsx(
            export.REPORT_SPECS["credit_households"], frame, heading="t", subheading="s"
        )
    )
    assert book.sheetnames == ["信用户名单", "信用户名单（续1）", "信用户名单（续2）"]
    data_rows = sum(sheet.max_row - 3 for sheet in book.worksheets) - 1  # minus the totals
    assert data_rows == 10
    last = book.worksheets[-1]
    assert last.cell(row=last.max_row, column=1).value == "合计 10 户"
    assert [cell.value for cell in book.worksheets[1][3]][:2] == ["乡镇", "行政村"]


def test_rates_and_wan_amounts_are_numbers_with_formats():
    spec = export.REPORT_SPECS["township_summary"]
    frame = pl.DataFrame({column.key: [None] for column in spec.columns}).with_columns(
        pl.lit("411202006").alias("township_code"),
        pl.lit("会兴街道").alias("township_name"),
        pl.lit(Decimal("12345678.00")).alias("outstanding_balance"),
        pl.lit(Decimal("0.0312500000")).alias("npl_rate"),
    )
    sheet = _open(export.write_xlsx(spec, frame, heading="t", subheading="s")).active
    headers = [cell.value for cell in sheet[3]]
    balance = sheet.cell(row=4, column=headers.index("贷款余额（万元）") + 1)
    assert balance.value == pytest.approx(1234.5678) and balance.number_format == "#,##0.00"
    rate = sheet.cell(row=4, column=headers.index("不良率") + 1)
    assert rate.value == pytest.approx(0.03125) and rate.number_format == "0.00%"
    body = export.write_csv(spec, frame).decode("utf-8-sig")
    assert ",1234.57," in body and "3.1250%" in body  # 万元 with 2 decimals, as on the page


# ── hostile cells: a household name that is a formula ─────────────────────────────────────

HOSTILE_NAMES = [
    '=HYPERLINK("http://x","点此")',
    "@SUM(1)",
    "+cmd|' /C calc'!A0",
    "-2+3",
    "\t=1",
    "\r=1",
]


def _hostile_households() -> pl.DataFrame:
    count = len(HOSTILE_NAMES)
    frame = pl.concat([_households()] * 3).head(count)
    return frame.with_columns(
        pl.Series("head_name", HOSTILE_NAMES),
        pl.Series("household_id", ["-cmd", "H2", "=1+1", "H4", "H5", "H6"]),
        pl.Series(
            "outstanding_principal",
            [Decimal("-1234.50")] + [Decimal("0.00")] * (count - 1),
            dtype=pl.Decimal(18, 2),
        ),
    )


def test_csv_cells_that_would_start_a_formula_open_as_text():
    spec = export.REPORT_SPECS["credit_households"]
    body = export.write_csv(spec, _hostile_households())
    # The bytes as written: each name behind a single quote (and CSV-quoted where needed).
    for written in (
        b'"\'=HYPERLINK(""http://x"",""\xe7\x82\xb9\xe6\xad\xa4"")"',
        b",'@SUM(1),",
        b",'+cmd|' /C calc'!A0,",
        b",'-2+3,",
        b",'\t=1,",
        b',"\'\r=1",',
    ):
        assert written in body
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    header = rows[0]
    names = [row[header.index("户主姓名")] for row in rows[1:]]
    assert names == ["'" + name for name in HOSTILE_NAMES]
    assert [row[header.index("农户编号")] for row in rows[1:3]] == ["'-cmd", "H2"]
    assert rows[3][header.index("农户编号")] == "'=1+1"
    # Amounts we write stay numbers, a negative one included; ID numbers are untouched.
    assert rows[1][header.index("贷款余额（元）")] == "-1234.50"
    assert rows[1][header.index("户主身份证号")] == "\t" + ID_NUMBERS[0]
    for row in rows[1:]:
        for cell in row:
            # A tab only in front of a code of digits (see test_csv_codes_of_digits…).
            assert not cell.startswith("\t") or cell[1:].rstrip("X").isdigit(), cell
            assert not cell.startswith(("=", "+", "@", "\r")), cell
            assert not cell.startswith("-") or cell == "-1234.50", cell


def test_xlsx_writes_hostile_names_as_text_never_as_formulas():
    spec = export.REPORT_SPECS["credit_households"]
    sheet = _open(
        export.write_xlsx(spec, _hostile_households(), heading="t", subheading="s")
    ).active
    headers = [cell.value for cell in sheet[3]]
    cells = [sheet.cell(row=row, column=headers.index("户主姓名") + 1) for row in range(4, 10)]
    # openpyxl leaves the CR as xlsx escapes it (_x000D_); Excel reads it back as a CR.
    assert [cell.value.replace("_x000D_", "\r") for cell in cells] == HOSTILE_NAMES
    assert all(cell.data_type == "s" for cell in cells)


def test_xlsx_says_who_exported_it_and_when():
    spec = export.REPORT_SPECS["credit_households"]
    xlsx = export.write_xlsx(
        spec,
        _households(),
        heading="湖滨区 信用户名单（2024年6月）",
        subheading="范围：全区",
        exported_by="张三（金融办）",
        exported_at=datetime(2024, 6, 15, 14, 5),
    )
    sheet = _open(xlsx).active
    assert sheet["A2"].value == "范围：全区；导出人：张三（金融办）；导出时间：2024年6月15日 14:05"
    assert [cell.value for cell in sheet[3]][:2] == ["乡镇", "行政村"]  # the table stays put


def test_an_export_is_signed_and_recorded_once_with_its_row_count(tmp_path):
    from huinong.audit import AuditTrail

    trail = AuditTrail(tmp_path / "audit.sqlite")
    spec = export.REPORT_SPECS["credit_households"]
    batches = [_households().head(1), _households().tail(1)]
    common = {
        "audit": trail,
        "heading": "湖滨区 信用户名单（2024年6月）",
        "subheading": "范围：全区",
        "area": "全区",
        "as_of": date(2024, 6, 30),
        "exported_at": datetime(2024, 6, 15, 14, 5),
    }
    office = export.produce(
        spec, batches, "xlsx", user=OFFICE, file_name="信用户名单.xlsx", **common
    )
    sheet = _open(office).active
    assert sheet["A2"].value.endswith("导出人：金融办甲（金融办）；导出时间：2024年6月15日 14:05")
    assert [sheet.cell(row=row, column=5).value for row in (4, 5)] == ID_NUMBERS
    # A bank clerk's file has the middle digits hidden, even from rows that carried them.
    bank = User("yh", "信贷员戊", "bank")
    body = export.produce(spec, _households(), "csv", user=bank, file_name="x.csv", **common)
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [row["户主身份证号"] for row in rows] == ["411202********001X", "411202********0017"]
    recorded = trail.query(events="export")
    assert recorded.height == 2
    assert list(recorded["username"]) == ["yh", "jrb"]
    first, second = (json.loads(details) for details in recorded["details"])
    assert (first["rows"], first["full_ids"], first["file_format"]) == (2, False, "csv")
    assert (second["rows"], second["full_ids"], second["report"]) == (2, True, "信用户名单")
    assert second["scope"] == "全区" and second["as_of"] == "2024-06-30"


# ── the standard reports, from the demo warehouse ──────────────────────────────────────────


@pytest.fixture
def token(app_db):
    return data.current_warehouse()


def _report_xlsx(token, report: str, as_of: date, scope: data.Scope):
    spec = export.REPORT_SPECS[report]
    xlsx = export.write_xlsx(
        spec, data.stream_report(token, report, as_of, scope), heading="t", subheading="s"
    )
    sheet = _open(xlsx).active
    headers = [cell.value for cell in sheet[3]]
    return sheet, headers


def test_township_summary_totals_equal_the_district_row_of_kpi_monthly(token, app_db):
    as_of = latest_as_of(app_db)
    sheet, headers = _report_xlsx(
        token, "township_summary", as_of, data.authorize(OFFICE, purpose="export")
    )
    rated, granted, outstanding, npl, villages = query(
        app_db,
        """
        select households_rated, credit_granted, outstanding_balance, npl_balance, villages_total
        from main.kpi_monthly where scope_level = 'district' and as_of = ?
        """,
        [as_of],
    )[0]
    townships = query(
        app_db, "select count(*) from main.township_breaker where as_of = ?", [as_of]
    )[0][0]
    totals = [cell.value for cell in sheet[sheet.max_row]]
    assert sheet.max_row == 3 + townships + 1
    assert totals[0] == "全区合计"
    assert totals[headers.index("评级户数")] == rated
    assert totals[headers.index("行政村数")] == villages
    assert totals[headers.index("授信总额（万元）")] == pytest.approx(float(granted) / 10000)
    assert totals[headers.index("贷款余额（万元）")] == pytest.approx(float(outstanding) / 10000)
    expected_rate = float(npl / outstanding) if outstanding else None
    assert totals[headers.index("不良率")] == pytest.approx(expected_rate)


def test_credit_household_list_has_every_credit_household_with_text_ids(token, app_db):
    as_of = latest_as_of(app_db)
    township = query(
        app_db,
        "select township_code from main.township_breaker where as_of = ? order by 1 limit 1",
        [as_of],
    )[0][0]
    scope = data.authorize(OFFICE, township, purpose="export")
    sheet, headers = _report_xlsx(token, "credit_households", as_of, scope)
    expected, limits = query(
        app_db,
        """
        select count(*), sum(credit_limit) from main.household_scores
        where as_of = ? and township_code = ? and credit_limit > 0
        """,
        [as_of, township],
    )[0]
    assert expected > 0
    assert sheet.max_row == 3 + expected + 1
    assert sheet.cell(row=sheet.max_row, column=1).value == f"合计 {expected:,} 户"
    assert sheet.cell(row=sheet.max_row, column=headers.index("授信额度（元）") + 1).value == (
        pytest.approx(float(limits))
    )
    id_column = headers.index("户主身份证号") + 1
    ids = [sheet.cell(row=row, column=id_column) for row in range(4, sheet.max_row)]
    assert all(cell.data_type == "s" and len(cell.value) == 18 for cell in ids)
    grades = {
        sheet.cell(row=row, column=headers.index("信用等级") + 1).value for row in range(4, 50)
    }
    assert "无信用" not in grades


def test_village_breaker_csv_lists_every_village_with_its_status(token, app_db):
    as_of = latest_as_of(app_db)
    spec = export.REPORT_SPECS["village_breaker"]
    body = export.write_csv(
        spec,
        data.stream_report(
            token, "village_breaker", as_of, data.authorize(OFFICE, purpose="export")
        ),
    )
    assert body[:3] == b"\xef\xbb\xbf"
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    expected = dict(
        query(
            app_db,
            "select village_code, status from main.village_breaker where as_of = ?",
            [as_of],
        )
    )
    *villages, totals = rows
    assert {row["行政村代码"].strip(): row["熔断状态"] for row in villages} == expected
    assert totals["乡镇"] == f"合计 {len(expected)} 个村"


def test_township_summary_csv_ends_with_the_xlsx_totals_row(token, app_db):
    """The 全区合计 row the page and the xlsx show, in the CSV too: every total equal."""
    as_of = latest_as_of(app_db)
    scope = data.authorize(OFFICE, purpose="export")
    sheet, headers = _report_xlsx(token, "township_summary", as_of, scope)
    spec = export.REPORT_SPECS["township_summary"]
    body = export.write_csv(spec, data.stream_report(token, "township_summary", as_of, scope))
    csv_rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert csv_rows[0] == headers
    csv_totals = csv_rows[-1]
    xlsx_totals = [cell.value for cell in sheet[sheet.max_row]]
    assert csv_totals[0] == xlsx_totals[0] == "全区合计"
    for column, csv_value, xlsx_value in zip(spec.columns, csv_totals, xlsx_totals, strict=True):
        if column.kind == "rate":
            assert float(csv_value.rstrip("%")) == pytest.approx(xlsx_value * 100, abs=5e-5)
        elif column.kind in ("int", "yuan", "wan"):
            assert Decimal(csv_value) == Decimal(f"{xlsx_value:.2f}"), column.label
        elif column.key != "township_code":
            assert csv_value == "" and xlsx_value is None, column.label
    # The page shows the same row (pages/exports.py reads export.totals_row).
    page_totals = export.totals_row(
        spec, data.stream_report(token, "township_summary", as_of, scope)
    )
    assert page_totals["households_rated"] == int(csv_totals[headers.index("评级户数")])
