"""Deliveries that cannot hurt, tried as a careless or hostile office would: no file can rewrite the
headline figures, block the next month, or delete good data (the intake's side; the build's side
is in tests/test_publishing.py).

Every folder is written by hand from tests/contract_folder.py; nothing here is the demo data.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import random
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import pytest
from contract_folder import (
    Folder,
    canonical,
    find_row,
    load,
    quarantine,
    write_csv,
    write_folder,
    write_xlsx,
)

from huinong import REPO_ROOT, schema
from huinong.intake import (
    IntakeError,
    Limits,
    PreviewFailed,
    accept_delivery,
    list_deliveries,
    load_raw,
    preview_isolated,
    withdraw_delivery,
)
from huinong.intake.limits import MAX_AMOUNT
from huinong.warehouse import data_date_range

TODAY = dt.date.today()


def _store(tmp_path: Path, *deliveries: tuple[str, Folder], name: str = "store") -> Path:
    """A store of the given deliveries (label, folder contents), accepted in order."""
    store = tmp_path / name
    for number, (label, data) in enumerate(deliveries, start=1):
        accept_delivery(store, write_folder(tmp_path / f"{name}_{number}", data), label)
    return store


def _received_on(store: Path, delivery_id: str, day: dt.date) -> None:
    """Pretend a delivery was accepted on ``day`` (its manifest says when)."""
    manifest = store / "deliveries" / delivery_id / "manifest.json"
    values = json.loads(manifest.read_text(encoding="utf-8"))
    values["accepted_at"] = dt.datetime.combine(day, dt.time(9, 30)).astimezone().isoformat()
    manifest.write_text(json.dumps(values, ensure_ascii=False), encoding="utf-8")


def _reasons(con: duckdb.DuckDBPyConnection, source_file: str, key: str) -> list[list[str]]:
    return [
        reasons
        for file_name, record_key, reasons in quarantine(con)
        if file_name == source_file and record_key == key
    ]


def _keys(con: duckdb.DuckDBPyConnection, table: str, column: str) -> list[str]:
    return [
        row[0] for row in con.execute(f"select {column} from raw.{table} order by 1").fetchall()
    ]


# --- 1. Dates that cannot have happened ---------------------------------------------------------


def test_a_future_collection_or_payment_is_quarantined_and_the_as_of_stays(tmp_path) -> None:
    data = canonical()
    find_row(data, "households", "H004 / 2024-03-20")["collected_on"] = "2099-12-31"
    find_row(data, "repayments", "P003")["paid_on"] = "2031-05-01"
    con, _ = load(write_folder(tmp_path / "raw", data))
    today = TODAY.isoformat()
    assert _reasons(con, "households", "H004 / 2099-12-31") == [
        [f"采集日期晚于报送接收日 {today}，不可能已经发生：2099-12-31"]
    ]
    assert _reasons(con, "repayments", "P003") == [
        [f"还款日期晚于报送接收日 {today}，不可能已经发生：2031-05-01"]
    ]
    # The canonical folder's data end with L004's write-off on 2024-06-30.
    assert data_date_range(con, 1, TODAY) == (dt.date(2022, 5, 1), dt.date(2024, 6, 30))


def test_a_date_before_the_programme_is_quarantined_not_a_snapshot_origin(tmp_path) -> None:
    data = canonical()
    find_row(data, "households", "H002 / 2024-03-20")["collected_on"] = "1900-01-01"
    find_row(data, "loans", "L002")["written_off_on"] = "2016-12-31"
    con, _ = load(write_folder(tmp_path / "raw", data))
    assert _reasons(con, "households", "H002 / 1900-01-01") == [
        ["采集日期早于项目开始日期 2017-01-01：1900-01-01"]
    ]
    assert "核销日期早于项目开始日期 2017-01-01：2016-12-31" in _reasons(con, "loans", "L002")[0]
    first, _ = data_date_range(con, 1, TODAY)
    assert first == dt.date(2022, 5, 1)


def test_due_dates_maturities_and_enforcement_ends_are_not_event_dates(tmp_path) -> None:
    data = canonical()
    find_row(data, "loans", "L002")["maturity_on"] = "2045-06-01"
    find_row(data, "schedule", "L002 / 2")["due_on"] = "2045-06-01"
    find_row(data, "households", "H001 / 2023-11-15")["enforcement_ended_on"] = "2009-05-04"
    con, _ = load(write_folder(tmp_path / "raw", data))
    assert quarantine(con) == []


def test_the_receipt_day_of_a_delivery_bounds_its_dates(tmp_path) -> None:
    store = _store(tmp_path, ("村委会", canonical()))
    # Accepted on 2024-06-25: the write-off of 2024-06-30 had not happened yet.
    _received_on(store, "0001", dt.date(2024, 6, 25))
    con, _ = load(store)
    assert _reasons(con, "loans", "L004") == [
        ["核销日期晚于报送接收日 2024-06-25，不可能已经发生：2024-06-30"]
    ]
    assert data_date_range(con, 1, dt.date(2024, 6, 25))[1] == dt.date(2024, 6, 20)


def test_a_lone_late_record_does_not_set_the_as_of(tmp_path) -> None:
    data = canonical()
    # One payment months after everything else, still before the receipt day.
    data["repayments"].append(
        dict(find_row(data, "repayments", "P001"), payment_id="P099", paid_on="2024-11-20")
    )
    con, _ = load(write_folder(tmp_path / "raw", data))
    assert quarantine(con) == []
    assert data_date_range(con, 1, TODAY)[1] == dt.date(2024, 11, 20)
    # Three records within the 31 days up to a date set it: 2024-06-30 has P001 (06-20) and
    # P002 (06-01) before it; 2024-11-20 has only itself.
    assert data_date_range(con, 3, TODAY)[1] == dt.date(2024, 6, 30)
    # Never after the latest receipt day.
    assert data_date_range(con, 1, dt.date(2024, 6, 25))[1] == dt.date(2024, 6, 20)


# --- 2. A correction that fails never deletes good data --------------------------------------


def test_a_loan_sent_twice_in_a_later_delivery_keeps_the_first(tmp_path) -> None:
    resend = {"loans": [find_row(canonical(), "loans", "L002")] * 2}
    store = _store(tmp_path, ("银行", canonical()), ("银行补报", resend))
    con, summary = load(store)
    assert _keys(con, "loans", "loan_id") == ["L001", "L002", "L003", "L004"]
    assert sorted(_reasons(con, "loans", "L002")) == [
        ["更正行未通过校验，保留原数据", "贷款编号重复：与第 1 行相同"],
        ["更正行未通过校验，保留原数据", "贷款编号重复：与第 2 行相同"],
    ]
    # L002's plan and payments stay: its loan was never quarantined.
    assert _keys(con, "schedule", "loan_id").count("L002") == 2
    loans = {(c.delivery_id, c.rows_loaded, c.rows_quarantined, c.rows_superseded)
             for c in summary.files if c.source_file == "loans"}  # fmt: skip
    assert loans == {("0001", 4, 0, 0), ("0002", 0, 2, 0)}


def test_a_corrected_household_with_a_typo_keeps_the_household_and_its_loans(tmp_path) -> None:
    original = find_row(canonical(), "households", "H002 / 2024-03-20")
    typo = dict(original, head_id_number=original["head_id_number"][:-1] + "0")
    store = _store(tmp_path, ("村委会", canonical()), ("村委会更正", {"households": [typo]}))
    con, _ = load(store)
    assert _reasons(con, "households", "H002 / 2024-03-20") == [
        ["更正行未通过校验，保留原数据", "户主身份证号校验位错误"]
    ]
    assert "H002" in _keys(con, "households", "household_id")
    assert "L002" in _keys(con, "loans", "loan_id")


def test_a_correction_breaking_a_rule_across_files_keeps_the_earlier_row(tmp_path) -> None:
    # A new amount without a new plan: the plan no longer sums to the loan.
    changed = dict(find_row(canonical(), "loans", "L002"), amount="60000.00")
    store = _store(tmp_path, ("银行", canonical()), ("银行更正", {"loans": [changed]}))
    con, summary = load(store)
    assert _reasons(con, "loans", "L002") == [
        [
            "更正行未通过校验，保留原数据",
            "还款计划应还本金合计与贷款金额不符：合计 50,000.00 元，贷款金额 60,000.00 元",
        ]
    ]
    assert con.execute("select amount from raw.loans where loan_id = 'L002'").fetchone() == (
        Decimal("50000.00"),
    )
    assert _keys(con, "repayments", "payment_id") == ["P001", "P002", "P003", "P004"]
    for counts in summary.files:
        assert (
            counts.rows_read
            == counts.rows_loaded + counts.rows_quarantined + counts.rows_superseded
        )


def test_a_valid_correction_still_replaces_the_row(tmp_path) -> None:
    changed = dict(find_row(canonical(), "loans", "L002"), bank="新银行")
    store = _store(tmp_path, ("银行", canonical()), ("银行更正", {"loans": [changed]}))
    con, _ = load(store)
    assert con.execute("select bank from raw.loans where loan_id = 'L002'").fetchone() == (
        "新银行",
    )
    assert quarantine(con) == []


# The property: whatever mix of valid and invalid rows several deliveries bring, a valid row
# leaves raw only when a valid row of a later delivery took its place. The model below is the
# plain statement of that rule; the intake must agree with it on every case. The 200 cases run
# side by side in one intake, each under its own ids (they share nothing but the villages).

HOUSEHOLD_KEYS = [
    f"{row['household_id']} / {row['collected_on']}" for row in canonical()["households"]
]
PAYMENT_KEYS = [row["payment_id"] for row in canonical()["repayments"]]
ID_COLUMNS = ("household_id", "borrower_id", "entity_id", "loan_id", "payment_id")
CASES = 200


def _case_rows(rows: list[dict], case: int) -> list[dict]:
    """Rows with every id of the case's own (C007-H001 …)."""
    return [
        {
            name: f"C{case:03d}-{value}" if name in ID_COLUMNS else value
            for name, value in row.items()
        }
        for row in rows
    ]


def _variant(file_name: str, key: str, rng: random.Random, version: int) -> tuple[dict, bool]:
    """A re-sent row of ``key``: a valid change (a new name, a new interest) or a broken one."""
    row = dict(find_row(canonical(), file_name, key))
    valid = rng.random() < 0.5
    if file_name == "households":
        row["head_name"] = f"更正{version}"
        if not valid:
            broken = rng.choice(["id", "education", "poor"])
            if broken == "id":
                row["head_id_number"] = row["head_id_number"][:-1] + (
                    "0" if row["head_id_number"][-1] != "0" else "1"
                )
            elif broken == "education":
                row["education"] = "大学"
            else:
                row["registered_poor"] = "可能"
    else:
        row["interest_paid"] = f"{version}.00"
        if not valid:
            row["interest_paid" if rng.random() < 0.5 else "principal_paid"] = "-1"
    return row, valid


def _random_deliveries(rng: random.Random) -> list[dict[str, list[tuple[dict, bool]]]]:
    """One to four later deliveries, each re-sending some keys once or twice."""
    deliveries = []
    for version in range(1, rng.randint(1, 4) + 1):
        delivery: dict[str, list[tuple[dict, bool]]] = {"households": [], "repayments": []}
        for file_name, keys in (("households", HOUSEHOLD_KEYS), ("repayments", PAYMENT_KEYS)):
            for key in rng.sample(keys, rng.randint(0, len(keys))):
                delivery[file_name].append(_variant(file_name, key, rng, version))
                if rng.random() < 0.15:  # the same key twice in one delivery
                    delivery[file_name].append(_variant(file_name, key, rng, version))
        deliveries.append(delivery)
    return deliveries


def _model(deliveries: list[dict[str, list[tuple[dict, bool]]]]) -> dict[str, dict[str, dict]]:
    """Plain supersession: per key, the row of the latest delivery where it came once and valid."""
    loaded = {
        "households": {key: find_row(canonical(), "households", key) for key in HOUSEHOLD_KEYS},
        "repayments": {key: find_row(canonical(), "repayments", key) for key in PAYMENT_KEYS},
    }
    for delivery in deliveries:
        for file_name, rows in delivery.items():
            raw_file = schema.RAW_FILES[file_name]
            keyed: dict[str, list[tuple[dict, bool]]] = {}
            for row, valid in rows:
                keyed.setdefault(" / ".join(row[name] for name in raw_file.key), []).append(
                    (row, valid)
                )
            for key, sent in keyed.items():
                if len(sent) == 1 and sent[0][1]:
                    loaded[file_name][key] = sent[0][0]
    return loaded


def test_random_deliveries_never_drop_a_valid_row_no_valid_row_replaced(tmp_path) -> None:
    from huinong.intake.run import run_intake
    from huinong.intake.sources import folder_sources

    cases = {case: _random_deliveries(random.Random(case)) for case in range(CASES)}
    first: Folder = {name: [] for name in canonical()}
    for case in cases:
        for name, rows in canonical().items():
            first[name] += rows if name == "villages" and case == 0 else []
            if name != "villages":
                first[name] += _case_rows(rows, case)
    sources = folder_sources(write_folder(tmp_path / "d1", first), 1, "0001")
    for number in range(4):
        later: Folder = {"households": [], "repayments": []}
        for case, deliveries in cases.items():
            if number < len(deliveries):
                for name, rows in deliveries[number].items():
                    later[name] += _case_rows([row for row, _ in rows], case)
        seq = number + 2
        sources += folder_sources(write_folder(tmp_path / f"d{seq}", later), seq, f"{seq:04d}")
    con = duckdb.connect()
    summary = run_intake(con, sources, [], None)

    households = dict(
        con.execute(
            "select household_id || ' / ' || collected_on, head_name from raw.households"
        ).fetchall()
    )
    payments = dict(
        con.execute("select payment_id, interest_paid::varchar from raw.repayments").fetchall()
    )
    for case, deliveries in cases.items():
        expected = _model(deliveries)
        prefix = f"C{case:03d}-"
        assert {
            key.removeprefix(prefix): name
            for key, name in households.items()
            if key.startswith(prefix)
        } == {key: row["head_name"] for key, row in expected["households"].items()}, case
        assert {
            key.removeprefix(prefix): interest
            for key, interest in payments.items()
            if key.startswith(prefix)
        } == {
            key: f"{Decimal(row['interest_paid']):.2f}"
            for key, row in expected["repayments"].items()
        }, case
    for counts in summary.files:
        assert counts.rows_read == (
            counts.rows_loaded + counts.rows_quarantined + counts.rows_superseded
        )
    # The cases do exercise the rule: failed corrections kept the earlier rows many times.
    rejected = con.execute(
        "select count(*) from raw.quarantine where list_contains(reasons, '更正行未通过校验，保留原数据')"
    ).fetchone()[0]
    assert rejected > CASES


# --- 3a. Nothing accepted can fail the build -----------------------------------------------------


def test_an_amount_too_large_for_the_warehouse_is_quarantined(tmp_path) -> None:
    data = canonical()
    huge = "9999999999999999.99"  # fits DECIMAL(18,2), but no sum of two would
    find_row(data, "loans", "L003")["amount"] = huge
    find_row(data, "schedule", "L003 / 1")["principal_due"] = huge
    find_row(data, "households", "H001 / 2024-03-20")["homestead_house_value"] = "1000000000"
    con, _ = load(write_folder(tmp_path / "raw", data))
    bound = f"超过上限（应小于 {MAX_AMOUNT:,.0f} 元）"
    assert _reasons(con, "loans", "L003")[0][0] == f"贷款金额{bound}：{huge}"
    assert _reasons(con, "schedule", "L003 / 1") == [[f"应还本金{bound}：{huge}"]]
    assert _reasons(con, "households", "H001 / 2024-03-20") == [
        [f"宅基地自建房估值{bound}：1000000000"]
    ]
    just_below = canonical()
    find_row(just_below, "households", "H001 / 2024-03-20")["homestead_house_value"] = (
        "999999999.99"
    )
    con, _ = load(write_folder(tmp_path / "below", just_below))
    assert quarantine(con) == []


def test_amounts_summing_beyond_the_warehouse_are_refused_naming_the_rows(
    tmp_path, monkeypatch
) -> None:
    # Each amount is allowed; together they would not fit. The real bound (10^16 元) needs ten
    # million rows; a lower one shows the same check on four.
    monkeypatch.setattr("huinong.intake.run.MAX_AMOUNT_TOTAL", Decimal(1_000_000))
    with pytest.raises(IntakeError) as refused:
        load(write_folder(tmp_path / "raw", canonical()))
    message = str(refused.value)
    assert message.startswith(
        "农户信用信息采集表（households）的金额合计 1,154,002 元，超过数据仓库可以计算的上限"
    )
    # H002: entity scale 300,000 + house 80,000 + equipment 12,000.
    assert "金额最大的行：households.csv 第 3 行（392,000 元）" in message


def _huinong(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "huinong", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def audit_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "audit.sqlite"
    monkeypatch.setenv("HUINONG_AUDIT", str(path))
    return path


def test_deliver_refuses_a_five_megabyte_field_naming_file_and_row(tmp_path, audit_file) -> None:
    folder = write_folder(tmp_path / "raw", canonical())
    with (folder / "repayments.csv").open("a", encoding="utf-8", newline="") as handle:
        # An unpaired quote: the rest of the file (here 5 MB) runs into one field.
        handle.write('P009,L001,2024-06-20,0,"' + "x" * 5_000_000 + "\n")
    store = tmp_path / "store"
    result = _huinong("deliver", "--store", str(store), "--source", str(folder))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "接收失败：repayments.csv 第 5 行有一个字段超过 131,072 个字符，无法读取：多半是某个单元格里"
        '有未配对的英文双引号（"），把后面的内容都并进了这一格。请改正该行后重新报送'
    ]
    assert list_deliveries(store) == []


def test_deliver_prints_the_same_report_as_the_page_and_audits(tmp_path, audit_file) -> None:
    data = canonical()
    find_row(data, "loans", "L004")["amount"] = "-5"
    folder = write_folder(tmp_path / "raw", data)
    store = tmp_path / "store"
    result = _huinong(
        "deliver", "--store", str(store), "--source", str(folder), "--source-label", "湖滨农商行",
        "--by", "张会计",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "隔离 3 行" in result.stdout  # L004, its instalment and its payment
    assert "已接收第 0001 批报送（来源：湖滨农商行" in result.stdout
    from huinong.audit import AuditTrail

    events = AuditTrail(audit_file).query()
    assert events["event"].to_list() == ["upload"]
    assert events["username"].to_list() == ["张会计"]
    assert json.loads(events["details"][0])["delivery"] == "0001"


def test_a_million_duplicates_are_found_by_key_in_linear_time(tmp_path) -> None:
    """The duplicate check groups by key: 20,000 copies of one payment take a fraction of a
    second (the old pairwise check needed minutes); each names the first others and the count."""
    data = canonical()
    payment = find_row(data, "repayments", "P001")
    data["repayments"] += [dict(payment)] * 20_000
    con, summary = load(write_folder(tmp_path / "raw", data))
    reasons = dict(
        con.execute(
            "select row_number, reasons from raw.quarantine where record_key = 'P001' "
            "and row_number in (1, 5, 20004)"
        ).fetchall()
    )
    assert reasons == {
        1: ["还款流水号重复：与第 5、6、7、8、9 等 20000 行相同"],
        5: ["还款流水号重复：与第 1、6、7、8、9 等 20000 行相同"],
        20004: ["还款流水号重复：与第 1、5、6、7、8 等 20000 行相同"],
    }
    repayments = next(c for c in summary.files if c.source_file == "repayments")
    assert (repayments.rows_loaded, repayments.rows_quarantined) == (3, 20_001)


def test_a_file_beyond_the_row_limit_is_refused(tmp_path) -> None:
    folder = write_folder(tmp_path / "raw", canonical())
    from huinong.intake.run import IntakeChecks, run_intake
    from huinong.intake.sources import folder_sources

    checks = IntakeChecks.from_policy(limits=Limits(max_rows=6))
    with pytest.raises(IntakeError, match=r"schedule.csv 超过 6 行的上限，拒绝读取"):
        run_intake(duckdb.connect(), folder_sources(folder, 1, None), [], None, checks=checks)


# --- 3b. The ledger: withdraw, list, show ---------------------------------------------------------


def test_a_withdrawn_delivery_stays_in_the_store_and_builds_skip_it(tmp_path, audit_file) -> None:
    wrong = dict(find_row(canonical(), "loans", "L002"), bank="错误银行")
    store = _store(tmp_path, ("银行", canonical()), ("银行", {"loans": [wrong]}))
    con, _ = load(store)
    assert con.execute("select bank from raw.loans where loan_id = 'L002'").fetchone() == (
        "错误银行",
    )

    result = _huinong(
        "deliveries", "withdraw", "2", "--store", str(store), "--reason", "银行名称录错", "--by", "李主任"
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "已撤回第 0002 批报送" in result.stdout
    (first, second) = list_deliveries(store)
    assert first.withdrawn is None
    assert (second.withdrawn.by, second.withdrawn.reason) == ("李主任", "银行名称录错")
    assert (second.path / "loans.csv").exists()
    con, summary = load(store)
    assert con.execute("select bank from raw.loans where loan_id = 'L002'").fetchone() == (
        "三门峡湖滨农村商业银行",
    )
    assert summary.delivery_ids == ["0001"] and summary.withdrawn_ids == ["0002"]
    assert "已撤回、未读取的报送：第 0002 批" in summary.describe()

    listing = _huinong("deliveries", "list", "--store", str(store))
    lines = listing.stdout.splitlines()
    assert lines[0].startswith("0001") and "有效" in lines[0]
    assert (
        lines[1].startswith("0002")
        and "已撤回" in lines[1]
        and "由 李主任 撤回：银行名称录错" in lines[1]
    )
    shown = _huinong("deliveries", "show", "0002", "--store", str(store))
    assert "第 0002 批报送（已撤回）" in shown.stdout and "loans.csv" in shown.stdout
    again = _huinong("deliveries", "withdraw", "0002", "--store", str(store), "--reason", "再撤")
    assert again.returncode == 1 and "已于" in again.stderr and "无需再次撤回" in again.stderr
    missing = _huinong("deliveries", "withdraw", "0009", "--store", str(store), "--reason", "x")
    assert missing.returncode == 1 and "没有第 0009 批报送" in missing.stderr
    from huinong.audit import AuditTrail

    events = AuditTrail(audit_file).query()
    assert events["event"].to_list() == ["withdraw"]
    assert json.loads(events["details"][0]) == {"delivery": "0002", "reason": "银行名称录错"}


def test_withdrawing_needs_a_reason_and_everything_withdrawn_builds_nothing(tmp_path) -> None:
    store = _store(tmp_path, ("银行", canonical()))
    with pytest.raises(IntakeError, match="请填写撤回原因"):
        withdraw_delivery(store, "0001", "  ", "李主任")
    withdraw_delivery(store, "0001", "整批作废", "李主任")
    with pytest.raises(IntakeError, match="报送已全部撤回"):
        load_raw(store, duckdb.connect())
    # The same files sent again are a new delivery, not "already accepted".
    again = accept_delivery(store, tmp_path / "store_1", "银行重报")
    assert not again.already_accepted and again.delivery_id == "0002"


# --- 4. Preview in a child process with a memory limit ------------------------------------------


def test_the_preview_runs_in_a_child_and_gives_the_same_report(tmp_path) -> None:
    store = _store(tmp_path, ("银行", canonical()))
    candidate = tmp_path / "candidate"
    candidate.mkdir()
    typo = dict(find_row(canonical(), "loans", "L001"), amount="abc")
    write_csv(candidate / "loans.csv", "loans", [typo])
    summary = preview_isolated(store, candidate)
    assert summary.quarantine.select("delivery_id", "record_key", "reasons").rows() == [
        ("待接收", "L001", ["更正行未通过校验，保留原数据", "贷款金额无法识别为金额：abc"])
    ]
    assert summary.delivery_ids == ["0001", "待接收"]


def test_a_preview_out_of_memory_says_so_in_chinese(tmp_path) -> None:
    data = canonical()
    data["repayments"] += [
        dict(find_row(data, "repayments", "P001"), payment_id=f"Q{index:07d}", interest_paid="1.00")
        for index in range(200_000)
    ]
    folder = write_folder(tmp_path / "raw", data)
    with pytest.raises(PreviewFailed) as failed:
        preview_isolated(None, folder, memory_bytes=700 << 20, duckdb_memory="64MB")
    assert str(failed.value).startswith("校验 raw 时内存不足（上限 700.0 MB），文件未被接收。")


# --- 9. Zips and workbooks ------------------------------------------------------------------------


def test_a_zip_with_names_that_are_not_utf8_is_refused_in_chinese(tmp_path) -> None:
    archive = tmp_path / "bad_names.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as handle:
        # A Chinese name: zipfile writes it as UTF-8 and flags it so.
        handle.writestr("农户/households.csv", b"household_id\n")
    # The name's bytes become invalid UTF-8, with the UTF-8 flag still set.
    archive.write_bytes(buffer.getvalue().replace("农户".encode(), b"\xff\xfe" * 3))
    with pytest.raises(IntakeError, match="文件名不是有效的 UTF-8 编码"):
        accept_delivery(tmp_path / "store", archive)


def test_a_damaged_zip_member_is_refused_in_chinese(tmp_path) -> None:
    folder = write_folder(tmp_path / "raw", canonical())
    archive = tmp_path / "damaged.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        for path in folder.iterdir():
            handle.write(path, path.name)
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as handle:
        info = handle.getinfo("loans.csv")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for offset in range(start + 5, start + 25):
        data[offset] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(IntakeError, match="damaged.zip 中的条目“loans.csv”已损坏，无法解压"):
        accept_delivery(tmp_path / "store", archive)


def test_an_xlsx_keeps_the_limits_of_a_zip(tmp_path) -> None:
    folder = write_folder(tmp_path / "raw", canonical())
    (folder / "loans.csv").unlink()
    # The same long text in every row compresses far beyond 100:1, as a bomb does.
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(schema.LOANS.column_names)
    for _ in range(200):
        sheet.append(["L1", "农户", "H001", "x" * 30_000])
    workbook.save(folder / "loans.xlsx")
    with pytest.raises(IntakeError, match=r"loans.xlsx 中有部件压缩比超过 100:1"):
        accept_delivery(tmp_path / "store", folder)
    write_xlsx(folder / "loans.xlsx", "loans", canonical()["loans"])
    with pytest.raises(IntakeError, match=r"loans.xlsx 解压后共 .*，超过上限 1.0 KB"):
        accept_delivery(tmp_path / "store", folder, limits=Limits(max_total_bytes=1024))


def _saved_as(path: Path, values: dict[str, str]) -> None:
    """Give formula cells a saved value, as a program that writes formulas without computing
    them does (openpyxl saves none): {cell reference: saved value}."""
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    for reference, value in values.items():
        start = sheet.index(f'<c r="{reference}"')
        end = sheet.index("</c>", start)
        cell = sheet[start:end]
        cell = cell.replace("<v></v>", "").replace("<v />", "")
        sheet = sheet[:start] + cell + f"<v>{value}</v>" + sheet[end:]
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)


def test_formula_cells_saved_as_zero_or_nothing_are_quarantined_not_loaded(tmp_path) -> None:
    folder = write_folder(tmp_path / "raw", canonical())
    (folder / "schedule.csv").unlink()
    path = write_xlsx(folder / "schedule.xlsx", "schedule", canonical()["schedule"])
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    interest = schema.SCHEDULE.column_names.index("interest_due") + 1
    letter = openpyxl.utils.get_column_letter(interest)
    sheet.cell(row=2, column=interest).value = "=D2*0.0435/4"  # L001 / 1: saved as 0 below
    sheet.cell(row=3, column=interest).value = "=D3*0.0435/4"  # L001 / 2: saved as nothing
    sheet.cell(row=8, column=interest).value = "=1425"  # L004 / 1: saved as computed
    workbook.save(path)
    _saved_as(path, {f"{letter}2": "0", f"{letter}8": "1425"})
    con, summary = load(folder)
    formula = "请在 Excel 中重新计算并保存，或把公式粘贴为数值后重新报送"
    assert _reasons(con, "schedule", "L001 / 1") == [
        [f"公式单元格的保存值为 0，可能从未计算：应还利息（=D2*0.0435/4）。{formula}"]
    ]
    assert _reasons(con, "schedule", "L001 / 2")[0][0] == (
        f"公式单元格的保存值为空，可能从未计算：应还利息（=D3*0.0435/4）。{formula}"
    )
    assert con.execute(
        "select interest_due from raw.schedule where loan_id = 'L004'"
    ).fetchone() == (Decimal("1425.00"),)
    assert (
        "schedule.xlsx 有 3 个公式单元格，按 Excel 保存的计算结果读取；其中 2 个保存值为 0 或为空"
        in (summary.describe())
    )


def test_rows_under_a_merged_cell_say_so(tmp_path) -> None:
    data = canonical()
    folder = write_folder(tmp_path / "raw", data)
    (folder / "households.csv").unlink()
    path = write_xlsx(folder / "households.xlsx", "households", data["households"])
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    village = schema.HOUSEHOLDS.column_names.index("village_code") + 1
    letter = openpyxl.utils.get_column_letter(village)
    # H002, H003 and H004 (rows 4-6) merged under H002's village, as a clerk formats a form.
    sheet.merge_cells(f"{letter}4:{letter}6")
    workbook.save(path)
    con, summary = load(folder)
    merged = (
        f"位于合并单元格 {letter}4:{letter}6 内（行政村代码），只有合并区域的第一行有值。"
        "请取消合并、在每一行填上数值后重新报送"
    )
    assert _reasons(con, "households", "H003 / 2024-03-20") == [[merged, "缺少行政村代码"]]
    assert _reasons(con, "households", "H004 / 2024-03-20") == [[merged, "缺少行政村代码"]]
    assert "H002" in _keys(con, "households", "household_id")
    assert (
        f"households.xlsx 有 1 处合并单元格（{letter}4:{letter}6），其中除第一行外的行已隔离"
        in (summary.describe())
    )
