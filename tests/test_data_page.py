"""数据管理 with AppTest on a tiny real store: the validation report of an upload before anything
is published, refused uploads, publishing (the rebuild runs for real), the accepted deliveries
and the warehouse's load report; and the quarantine xlsx sent back to the village team."""

from __future__ import annotations

import io
import time
import zipfile

import openpyxl
import polars as pl
import pytest
import streamlit as st

pytest.register_assert_rewrite("dashboard_support")
from dashboard_support import (  # noqa: E402
    BAD_ROWS,
    NEW_HOUSEHOLDS,
    build_tiny_store,
    districts_rated,
    metric,
    open_app,
    query,
    rendered,
    table,
    write_next_delivery,
)

from huinong import export, rebuild  # noqa: E402
from huinong import format as fmt  # noqa: E402
from huinong.intake import list_deliveries, preview_delivery  # noqa: E402

pytest_plugins = ("dashboard_support",)

REBUILD_TIMEOUT = 300
CSV = "text/csv"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_store(tmp_path_factory.mktemp("data_page_base"), seed=20240715)


@pytest.fixture
def site(tiny, tmp_path, monkeypatch, accounts_env):
    """A copy of the tiny store and its warehouse, with the dashboard pointed at them (signed
    in as the 金融办 account)."""
    copy = tiny.copy(tmp_path / "site")
    monkeypatch.setenv("HUINONG_DB", str(copy.db))
    monkeypatch.setenv("HUINONG_STORE", str(copy.store))
    return copy


@pytest.fixture
def next_delivery(site, tmp_path):
    return write_next_delivery(site.raw_dir, tmp_path / "next")


def open_data_page():
    return open_app("data")


def upload(at, *files):
    at.file_uploader[0].set_value(list(files)).run()
    assert not at.exception, [item.value for item in at.exception]
    return at


def texts(elements) -> str:
    return "\n".join(rendered(str(item.value)) for item in elements)


def test_the_page_lists_deliveries_and_the_warehouse_load_report(site):
    at = open_data_page()
    assert [item.value for item in at.subheader] == [
        "数据更新",
        "上传报送",
        "已接收的报送",
        "当前数据仓库的载入情况",
    ]
    deliveries = table(at, "已接收的报送")
    assert list(deliveries["批次"]) == [item.delivery_id for item in list_deliveries(site.store)]
    assert deliveries.iloc[0]["报送单位"] == "演示数据"
    report = table(at, "数据载入报告")
    files = query(site.db, "select count(*), sum(rows_read) from main.load_report")[0]
    assert len(report) == files[0]
    assert report["读取"].sum() == files[1]
    assert "还没有从本页发起过数据更新" in texts(at.caption)


def test_an_upload_is_validated_before_anything_is_published(site, next_delivery):
    at = upload(open_data_page(), ("households.csv", next_delivery.read_bytes(), CSV))
    assert metric(at, "读取") == fmt.count(NEW_HOUSEHOLDS + len(BAD_ROWS), "行")
    assert metric(at, "载入") == fmt.count(NEW_HOUSEHOLDS, "行")
    assert metric(at, "隔离") == fmt.count(len(BAD_ROWS), "行")
    files = table(at, "校验报告（各文件）")
    mine = files[files["批次"] == "本批"].iloc[0]
    assert (mine["文件"], mine["读取"], mine["载入"], mine["隔离"]) == (
        "households.csv",
        NEW_HOUSEHOLDS + len(BAD_ROWS),
        NEW_HOUSEHOLDS,
        len(BAD_ROWS),
    )
    reasons = table(at, "隔离原因")
    assert sorted(reasons["原因"]) == sorted(reason for _, _, reason in BAD_ROWS.values())
    assert set(reasons["行数"]) == {1}
    assert list(table(at, "未识别的列")["列名"]) == ["备注"]
    assert "upload_quarantine_xlsx" in {button.key for button in at.download_button}
    # Nothing was published: the store and the warehouse are as they were.
    assert len(list_deliveries(site.store)) == 1
    assert rebuild.rebuild_status(site.db).state == "idle"


def test_publishing_needs_the_reporting_unit(site, next_delivery):
    at = upload(open_data_page(), ("households.csv", next_delivery.read_bytes(), CSV))
    at.button(key="publish").click().run()
    assert "请填写报送单位" in texts(at.error)
    assert len(list_deliveries(site.store)) == 1


def test_publishing_accepts_the_delivery_and_rebuilds_in_the_background(site, next_delivery):
    before = districts_rated(site.db)
    at = upload(open_data_page(), ("households.csv", next_delivery.read_bytes(), CSV))
    at.text_input(key="source_label").set_value("上村村委会").run()
    at.button(key="publish").click().run()
    assert not at.exception
    assert "已接收第 0002 批报送（来源：上村村委会" in texts(at.success)
    deliveries = list_deliveries(site.store)
    assert [item.source_label for item in deliveries] == ["演示数据", "上村村委会"]
    # The uploader was emptied; the status says the update is running (or already done).
    assert not at.file_uploader[0].value
    deadline = time.monotonic() + REBUILD_TIMEOUT
    while rebuild.rebuild_status(site.db).running:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    at.run()
    assert "数据更新完成" in texts(at.success)
    assert districts_rated(site.db) == before + NEW_HOUSEHOLDS
    # The new warehouse's quarantine is on the page, filtered by file.
    quarantined = table(at, "隔离记录")
    assert sorted(key.split(" / ")[0] for key in quarantined["记录编号"]) == sorted(BAD_ROWS)
    assert set(quarantined["文件"]) == {"第 0002 批 households.csv"}
    at.selectbox(key="quarantine_file").set_value("loans").run()
    assert "所选文件没有被隔离的行" in texts(at.success)
    overview = open_app("overview")
    assert metric(overview, "评级农户") == fmt.count(before + NEW_HOUSEHOLDS, "户")


def test_a_zip_reaching_outside_the_delivery_is_refused(site, next_delivery):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("../households.csv", next_delivery.read_bytes())
    at = upload(open_data_page(), ("delivery.zip", archive.getvalue(), "application/zip"))
    assert "拒绝接收" in texts(at.error)
    assert not at.metric
    assert len(list_deliveries(site.store)) == 1


def test_a_zip_bomb_is_refused(site):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("households.csv", b"0" * 5_000_000)
    at = upload(open_data_page(), ("delivery.zip", archive.getvalue(), "application/zip"))
    assert "压缩炸弹" in texts(at.error)


def test_a_zip_mixed_with_other_files_is_refused(site, next_delivery):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("households.csv", next_delivery.read_bytes())
    at = upload(
        open_data_page(),
        ("delivery.zip", archive.getvalue(), "application/zip"),
        ("loans.csv", b"loan_id\n", CSV),
    )
    assert "不要同时上传多个压缩包或混合上传" in texts(at.error)


def test_uploads_above_the_size_limit_are_refused(site, next_delivery):
    limit = st.get_option("server.maxUploadSize")
    st.config.set_option("server.maxUploadSize", 1)
    try:
        big = next_delivery.read_bytes() + b"\n" * (1024 * 1024)
        at = upload(open_data_page(), ("households.csv", big, CSV))
    finally:
        st.config.set_option("server.maxUploadSize", limit)
    assert "超过上限 1 MB" in texts(at.error)
    assert not at.metric


def test_a_file_that_cannot_be_read_is_named_in_the_error(site):
    at = upload(open_data_page(), ("loans.csv", "贷款编号\nL1\n".encode(), CSV))
    errors = texts(at.error)
    assert "loans.csv" in errors and "无法接收" in errors


def test_quarantine_xlsx_has_headers_reasons_and_every_row(site, next_delivery):
    summary = preview_delivery(site.store, next_delivery.parent)
    quarantine = summary.quarantine.filter(summary.quarantine["delivery_id"] == "待接收")
    sheet = openpyxl.load_workbook(io.BytesIO(export.quarantine_xlsx(quarantine))).active
    assert sheet["A1"].value == "数据报送隔离记录"
    assert [cell.value for cell in sheet[3]] == ["文件", "行号", "记录编号", "原始内容", "原因"]
    assert sheet.freeze_panes == "A4"
    rows = [row for row in sheet.iter_rows(min_row=4, values_only=True) if row[1] is not None]
    assert len(rows) == len(BAD_ROWS)
    by_key = {row[2].split(" / ")[0]: row for row in rows}
    for household_id, (_column, _value, reason) in BAD_ROWS.items():
        file, row_number, _key, original, reasons = by_key[household_id]
        assert file == "households.csv"
        assert reason in reasons
        assert f"household_id：{household_id}" in original
    # Text cells: the key is stored as text, so Excel keeps it exactly as written.
    assert sheet["C4"].data_type == "s" and sheet["C4"].number_format == "@"
    # Several reasons of one row are joined with "；".
    reasons = [[*quarantine["reasons"][0].to_list(), "采集日期不是有效日期"]]
    two = quarantine.head(1).with_columns(pl.Series("reasons", reasons))
    sheet = openpyxl.load_workbook(io.BytesIO(export.quarantine_xlsx(two))).active
    assert "；采集日期不是有效日期" in sheet["E4"].value


def test_a_failed_update_is_reported_and_the_dashboard_keeps_its_data(site):
    before = districts_rated(site.db)
    inode = site.db.stat().st_ino
    # The store loses a file (a careless clean-up): rebuilding from it must fail.
    (list_deliveries(site.store)[0].path / "loans.csv").unlink()
    at = open_data_page()
    at.button(key="rebuild_again").click().run()
    assert not at.exception
    if rebuild.rebuild_status(site.db).running:
        progress = at.get("progress")
        assert progress and "正在更新数据仓库" in progress[0].proto.text
    deadline = time.monotonic() + REBUILD_TIMEOUT
    while rebuild.rebuild_status(site.db).running:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    at.run()
    errors = texts(at.error)
    assert "数据更新失败" in errors and "缺少文件 loans.csv" in errors
    assert "Traceback" not in errors
    assert "看板仍显示原有数据" in texts(at.info)
    assert site.db.stat().st_ino == inode
    assert metric(open_app("overview"), "评级农户") == fmt.count(before, "户")


def test_the_first_delivery_builds_the_first_warehouse(tiny, tmp_path, monkeypatch, accounts_env):
    db = tmp_path / "warehouse.duckdb"
    store = tmp_path / "raw_store"
    monkeypatch.setenv("HUINONG_DB", str(db))
    monkeypatch.setenv("HUINONG_STORE", str(store))
    at = open_data_page()
    assert "数据仓库尚未构建" in texts(at.info)
    files = sorted(tiny.raw_dir.glob("*.csv"))
    upload(at, *[(path.name, path.read_bytes(), CSV) for path in files])
    assert metric(at, "隔离") == "0 行"
    at.text_input(key="source_label").set_value("湖滨区金融办").run()
    at.button(key="publish").click().run()
    assert "已接收第 0001 批报送" in texts(at.success)
    deadline = time.monotonic() + REBUILD_TIMEOUT
    while rebuild.rebuild_status(db).running:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    at.run()
    assert "数据更新完成" in texts(at.success)
    assert metric(open_app("overview"), "评级农户") == fmt.count(districts_rated(db), "户")


def test_an_uploaded_file_name_keeps_no_folder_part(site, next_delivery):
    at = upload(open_data_page(), ("../../上级/households.csv", next_delivery.read_bytes(), CSV))
    files = table(at, "校验报告（各文件）")
    assert list(files[files["批次"] == "本批"]["文件"]) == ["households.csv"]
    assert not (site.store.parent / "上级").exists()


def _wait(db) -> rebuild.RebuildStatus:
    deadline = time.monotonic() + REBUILD_TIMEOUT
    while (status := rebuild.rebuild_status(db)).running:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    return status


def test_a_delivery_is_withdrawn_with_a_reason_and_the_warehouse_rebuilt(
    site, next_delivery, monkeypatch
):
    from huinong.audit import AuditTrail
    from huinong.intake import accept_delivery
    from huinong.warehouse import build

    monkeypatch.setenv("HUINONG_AUDIT", str(site.db.parent / "audit.sqlite"))
    before = districts_rated(site.db)
    accept_delivery(site.store, next_delivery.parent, "上村村委会")
    build(raw_dir=site.store, db_path=site.db)
    assert districts_rated(site.db) == before + NEW_HOUSEHOLDS
    at = open_data_page()
    at.selectbox(key="withdraw_id").set_value("0002").run()
    at.button(key="withdraw").click().run()
    assert "请填写撤回原因" in texts(at.error)
    at.text_input(key="withdraw_reason").set_value("重复采集，待核实").run()
    at.button(key="withdraw").click().run()
    assert not at.exception
    assert "已撤回第 0002 批报送" in texts(at.success)
    assert _wait(site.db).state == "succeeded"
    at.run()
    deliveries = table(at, "已接收的报送")
    withdrawn = deliveries[deliveries["批次"] == "0002"].iloc[0]
    assert withdrawn["状态"] == "已撤回"
    assert "由 jrb 撤回：重复采集，待核实" in withdrawn["撤回记录"]
    assert districts_rated(site.db) == before
    events = AuditTrail(site.db.parent / "audit.sqlite").query()
    # Newest first: the build's outcome, the page starting it, the withdrawal, the sign-in.
    assert events["event"].to_list() == ["rebuild", "rebuild", "withdraw", "sign_in"]
    assert set(events["username"]) == {"jrb"}
    assert '"outcome": "published"' in events["details"][0]
    assert '"outcome": "started"' in events["details"][1]
    assert '"reason": "重复采集，待核实"' in events["details"][2]


def _big_loan_delivery(raw_dir, out_dir):
    """A household loan of 900,000,000 元 (below the amount bound) with its plan, on the latest
    disbursement day: the district's outstanding balance jumps far beyond its bound."""
    import csv

    with (raw_dir / "loans.csv").open(encoding="utf-8", newline="") as handle:
        loans = list(csv.DictReader(handle))
    model = max(
        (row for row in loans if row["borrower_type"] == "农户"), key=lambda r: r["disbursed_on"]
    )
    out_dir.mkdir(parents=True)
    loan = {**model, "loan_id": "DKBIG0001", "amount": "900000000.00", "written_off_on": ""}
    with (out_dir / "loans.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(loan))
        writer.writeheader()
        writer.writerow(loan)
    with (out_dir / "schedule.csv").open("w", encoding="utf-8", newline="") as handle:
        handle.write("loan_id,installment_no,due_on,principal_due,interest_due\n")
        handle.write(f"DKBIG0001,1,{model['maturity_on']},900000000.00,0.00\n")
    return out_dir


def test_a_headline_jump_is_confirmed_on_the_page_before_it_is_published(site, tmp_path):
    from huinong.intake import accept_delivery

    accept_delivery(site.store, _big_loan_delivery(site.raw_dir, tmp_path / "big"), "某信用社")
    inode = site.db.stat().st_ino
    at = open_data_page()
    at.button(key="rebuild_again").click().run()
    assert _wait(site.db).state == "failed"
    at.run()
    errors = texts(at.error)
    assert "主要指标变化超出合理范围" in errors and "贷款余额" in errors
    assert "第 0002 批报送 loans.csv" in errors
    assert site.db.stat().st_ino == inode
    confirm = at.button(key="accept_jump")
    assert confirm.disabled
    next(box for box in at.checkbox if box.key.startswith("jump_checked")).check().run()
    at.button(key="accept_jump").click().run()
    assert not at.exception
    assert _wait(site.db).state == "succeeded"
    at.run()
    assert "数据更新完成" in texts(at.success)
    assert (
        query(site.db, "select count(*) from main.loan_book where loan_id = 'DKBIG0001'")[0][0] == 1
    )
