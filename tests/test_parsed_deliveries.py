"""The store's deliveries are parsed once, kept as parquet beside their files, and a build settles
only what new deliveries reach — with exactly the result of validating every delivery anew.

Every folder is written by hand from tests/contract_folder.py; nothing here is the demo data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import shutil
from pathlib import Path

import duckdb
import pytest
from contract_folder import Folder, canonical, find_row, write_folder

from huinong import schema
from huinong.intake import accept_delivery, list_deliveries, load_raw, withdraw_delivery
from huinong.intake.parse import fingerprint
from huinong.intake.parsed_deliveries import DESCRIPTION, PARSED_DIR, parse_accepted
from huinong.intake.patch import new_deliveries
from huinong.intake.run import IntakeChecks

# Every table the intake writes: the rows, the quarantine, the counts and where rows came from.
RAW_TABLES = (
    *schema.RAW_FILES,
    "quarantine",
    "load_report",
    "extra_columns",
    "deliveries",
    "row_origins",
)


def _store(tmp_path: Path, *deliveries: Folder, name: str = "store") -> Path:
    store = tmp_path / name
    for number, data in enumerate(deliveries, start=1):
        accept_delivery(store, write_folder(tmp_path / f"{name}_{number}", data), f"第{number}批")
    return store


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Every raw table's rows, sorted (row order is not part of a table's contents)."""
    return {
        name: sorted(con.execute(f"select * from raw.{name}").fetchall(), key=repr)
        for name in RAW_TABLES
    }


def _read_anew(store: Path) -> tuple[dict[str, list[tuple]], str]:
    """The store read as if nothing was parsed before: a copy without parsed forms."""
    fresh = store.parent / f"{store.name}_unparsed"
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.copytree(store, fresh, ignore=shutil.ignore_patterns(PARSED_DIR))
    con = duckdb.connect()
    summary = load_raw(fresh, con)
    # The copy's parsed forms are the same work again; its report names the same deliveries.
    return _tables(con), summary.describe()


# --- Parsed once, beside the originals -----------------------------------------------------------


def test_a_store_without_parsed_forms_is_parsed_at_its_first_build_and_read_after(
    tmp_path,
) -> None:
    data = canonical()
    typo = dict(find_row(data, "households", "H002 / 2024-03-20"), education="大学")
    store = _store(tmp_path, data, {"households": [typo]}, {"repayments": data["repayments"][:1]})
    withdraw_delivery(store, "0003", "重复报送", "测试")
    first: list[str] = []
    load_raw(store, duckdb.connect(), first.append)
    assert [line for line in first if line.startswith("校验第")] == [
        "校验第 0001 批报送（只需一次，结果保存在接收库中）…",
        "校验第 0002 批报送（只需一次，结果保存在接收库中）…",
    ]
    for delivery in list_deliveries(store):
        parsed = delivery.path / PARSED_DIR
        if delivery.withdrawn:
            assert not parsed.exists()
            continue
        assert sorted(path.name for path in parsed.iterdir()) == sorted(
            [DESCRIPTION, *(f"{item.source_file}.parquet" for item in delivery.files)]
        )
        for item in delivery.files:
            # The originals are the evidence: untouched.
            assert hashlib.sha256((delivery.path / item.name).read_bytes()).hexdigest() == (
                item.sha256
            )
    described = (store / "deliveries" / "0002" / PARSED_DIR / DESCRIPTION).stat().st_mtime_ns
    again: list[str] = []
    load_raw(store, duckdb.connect(), again.append)
    assert not [line for line in again if line.startswith(("校验", "读取 "))]
    assert (store / "deliveries" / "0002" / PARSED_DIR / DESCRIPTION).stat().st_mtime_ns == (
        described
    )


def test_a_parsed_file_holds_typed_columns_row_numbers_cells_and_own_reasons(tmp_path) -> None:
    data = canonical()
    typo = dict(find_row(data, "households", "H002 / 2024-03-20"), education="大学")
    twice = dict(find_row(data, "repayments", "P001"), interest_paid="1.00")
    store = _store(
        tmp_path, data, {"households": [typo], "repayments": [twice, twice, data["repayments"][1]]}
    )
    (delivery,) = [item for item in list_deliveries(store) if item.delivery_id == "0002"]
    assert parse_accepted(delivery)
    folder = delivery.path / PARSED_DIR
    con = duckdb.connect()
    households = con.execute(
        f"select _row, household_id, collected_on, education, _cell_8, _reasons, _duplicate "
        f"from read_parquet('{folder / 'households.parquet'}')"
    ).fetchall()
    assert [row[:5] for row in households] == [(1, "H002", dt.date(2024, 3, 20), None, "大学")]
    assert households[0][5] == [
        "户主文化程度不在可选值内：大学（可选：小学及以下/初中/高中/中专/大专/本科/研究生）"
    ]
    assert households[0][6] is None
    payments = con.execute(
        f"select _row, payment_id, interest_paid::varchar, _reasons, _duplicate "
        f"from read_parquet('{folder / 'repayments.parquet'}') order by _row"
    ).fetchall()
    assert payments == [
        (1, "P001", "1.00", [], "还款流水号重复：与第 2 行相同"),
        (2, "P001", "1.00", [], "还款流水号重复：与第 1 行相同"),
        (3, "P002", "1187.50", [], None),
    ]
    types = dict(
        con.execute(
            f"select column_name, column_type from (describe select * from "
            f"read_parquet('{folder / 'households.parquet'}'))"
        ).fetchall()
    )
    for column in schema.HOUSEHOLDS.columns:
        assert types[column.name] == column.sql_type.upper(), column.name
    described = json.loads((folder / DESCRIPTION).read_text(encoding="utf-8"))
    assert described["fingerprint"] == fingerprint(IntakeChecks.from_policy())
    assert described["files"]["households"]["sha256"] == next(
        item.sha256 for item in delivery.files if item.source_file == "households"
    )


@pytest.mark.parametrize("damage", ["fingerprint", "parquet", "received"])
def test_an_outdated_or_damaged_parsed_form_is_parsed_again(tmp_path, damage) -> None:
    data = canonical()
    typo = dict(find_row(data, "loans", "L002"), amount="abc")
    store = _store(tmp_path, data, {"loans": [typo]})
    con = duckdb.connect()
    load_raw(store, con)
    expected = _tables(con)
    folder = store / "deliveries" / "0002" / PARSED_DIR
    description = folder / DESCRIPTION
    values = json.loads(description.read_text(encoding="utf-8"))
    if damage == "fingerprint":
        # Parsed by another version of the parsing code.
        values["fingerprint"] = "0" * 64
        description.write_text(json.dumps(values), encoding="utf-8")
    elif damage == "parquet":
        (folder / "loans.parquet").unlink()
    else:
        values["received_on"] = "2000-01-01"
        description.write_text(json.dumps(values), encoding="utf-8")
    lines: list[str] = []
    con = duckdb.connect()
    load_raw(store, con, lines.append)
    assert [line for line in lines if line.startswith("校验第")] == [
        "校验第 0002 批报送（只需一次，结果保存在接收库中）…"
    ]
    assert _tables(con) == expected
    assert json.loads(description.read_text(encoding="utf-8"))["fingerprint"] == fingerprint(
        IntakeChecks.from_policy()
    )


# --- Patching the published raw tables equals reading everything anew -----------------------------

PREFIX_IDS = ("household_id", "borrower_id", "entity_id", "loan_id", "payment_id")
UNKNOWN_VILLAGE = "411202299999"


def _case(rows: list[dict], case: int) -> list[dict]:
    return [
        {name: f"C{case:03d}-{value}" if name in PREFIX_IDS and value else value
         for name, value in row.items()}
        for row in rows
    ]  # fmt: skip


def _later_rows(rng: random.Random, version: int, sent: set[str]) -> Folder:
    """One later delivery of one case: corrections valid and not, duplicates, payments moved to
    another loan, new loans with plans that add up or not, instalments added to old loans, a
    borrower sent after its loan, rows without a key, a new entity."""
    base = canonical()
    rows: Folder = {name: [] for name in base if name != "villages"}
    for household in rng.sample(base["households"], rng.randint(0, 2)):
        fixed = dict(household, head_name=f"更正{version}")
        broken = rng.choice(["", "", "education", "village", "id"])
        if broken == "education":
            fixed["education"] = "大学"
        elif broken == "village":
            fixed["village_code"] = UNKNOWN_VILLAGE
        elif broken == "id":
            fixed["head_id_number"] = fixed["head_id_number"][:-1] + "0"
        rows["households"] += [fixed] * (2 if rng.random() < 0.15 else 1)
    for payment in rng.sample(base["repayments"], rng.randint(0, 2)):
        moved = dict(payment, interest_paid=f"{version}.00")
        change = rng.choice(["", "negative", "other_loan", "early"])
        if change == "negative":
            moved["principal_paid"] = "-1"
        elif change == "other_loan":
            moved["loan_id"] = rng.choice(["L001", "L002", "L003", "L004"])
        elif change == "early":
            moved["paid_on"] = "2020-01-01"
        rows["repayments"].append(moved)
    if rng.random() < 0.4:
        loan_id = f"L1{version}"
        borrower = rng.choice(["H001", "H002", "H004", f"H9{version}"])
        amount = "8000.00"
        rows["loans"].append(
            dict(find_row(base, "loans", "L001"), loan_id=loan_id, borrower_id=borrower,
                 amount=amount, disbursed_on="2024-05-01", maturity_on="2025-05-01")
        )  # fmt: skip
        principal = amount if rng.random() < 0.8 else "7000.00"
        rows["schedule"].append(
            {"loan_id": loan_id, "installment_no": "1", "due_on": "2025-05-01",
             "principal_due": principal, "interest_due": "300.00"}
        )  # fmt: skip
    if rng.random() < 0.3:
        # The borrower of a loan sent earlier without it: the loan loads from now on.
        late = sorted(f"H9{number}" for number in range(1, version) if f"H9{number}" not in sent)
        if late:
            sent.add(late[0])
            rows["households"].append(
                dict(find_row(base, "households", "H004 / 2024-03-20"), household_id=late[0])
            )
    if rng.random() < 0.25:
        principal = rng.choice(["0.00", "100.00"])  # 100 no longer adds up to the amount
        rows["schedule"].append(
            {"loan_id": "L002", "installment_no": f"{2 + version}", "due_on": "2026-06-01",
             "principal_due": principal, "interest_due": "10.00"}
        )  # fmt: skip
    if rng.random() < 0.2:
        corrected = dict(find_row(base, "loans", "L003"), amount="210000.00")
        rows["loans"].append(corrected)
        if rng.random() < 0.5:
            plan = dict(find_row(base, "schedule", "L003 / 1"), principal_due="210000.00")
            rows["schedule"].append(plan)
    if rng.random() < 0.15:
        rows["households"].append(dict(find_row(base, "households", "H003 / 2024-03-20"),
                                       household_id=""))  # fmt: skip
    if rng.random() < 0.15:
        entity = dict(base["entities"][1], entity_id=f"E9{version}", name=f"新主体{version}")
        rows["entities"].append(entity)
        rows["loans"].append(
            dict(find_row(base, "loans", "L003"), loan_id=f"L8{version}",
                 borrower_id=entity["entity_id"], amount="1000.00")
        )  # fmt: skip
        rows["schedule"].append(
            dict(find_row(base, "schedule", "L003 / 1"), loan_id=f"L8{version}",
                 principal_due="1000.00")
        )  # fmt: skip
    return rows


def _random_store(tmp_path: Path, cases: int, seed: int) -> Path:
    """One store: the canonical folder for every case, then four later deliveries."""
    first: Folder = {name: [] for name in canonical()}
    for case in range(cases):
        for name, rows in canonical().items():
            first[name] += (rows if case == 0 else []) if name == "villages" else _case(rows, case)
    deliveries = [first]
    rng = random.Random(seed)
    sent: list[set[str]] = [set() for _ in range(cases)]
    for version in range(1, 5):
        later: Folder = {}
        for case in range(cases):
            for name, rows in _later_rows(rng, version, sent[case]).items():
                later.setdefault(name, []).extend(_case(rows, case))
        deliveries.append({name: rows for name, rows in later.items() if rows})
    return _store(tmp_path, *deliveries)


def _prefix(store: Path, count: int, target: Path) -> Path:
    """The store as it stood after its first ``count`` deliveries (the same folders)."""
    (target / "deliveries").mkdir(parents=True)
    for delivery in list_deliveries(store)[:count]:
        shutil.copytree(delivery.path, target / "deliveries" / delivery.path.name)
    return target


def test_patching_the_published_raw_tables_equals_reading_every_delivery_anew(tmp_path) -> None:
    store = _random_store(tmp_path, cases=60, seed=11)
    everything = duckdb.connect()
    expected_report = load_raw(store, everything).describe()
    expected = _tables(everything)
    # The cases exercise what a patch must get right.
    reasons = {
        reason.split("：")[0]
        for (reasons,) in everything.execute("select reasons from raw.quarantine").fetchall()
        for reason in reasons
    }
    assert {
        "更正行未通过校验，保留原数据",
        "农户编号+采集日期重复",
        "行政村代码在行政区划中不存在",
        "还款计划应还本金合计与贷款金额不符",
        "所属贷款已被隔离",
        "还款日期早于放款日期",
        "借款人编号在农户表中不存在",
        "缺少农户编号",
    } <= reasons
    for published in range(1, 5):
        con = duckdb.connect()
        state = load_raw(_prefix(store, published, tmp_path / f"p{published}"), con).store_state()
        lines: list[str] = []
        summary = load_raw(store, con, lines.append, loaded_from=state)
        assert any(line.startswith("按报送增量读取：") for line in lines), lines
        assert not any(line.startswith("读取全部报送") for line in lines), lines
        assert _tables(con) == expected, published
        assert summary.describe() == expected_report


def test_a_delivery_withdrawn_after_publishing_means_reading_everything(tmp_path) -> None:
    store = _random_store(tmp_path, cases=10, seed=5)
    con = duckdb.connect()
    state = load_raw(_prefix(store, 3, tmp_path / "published"), con).store_state()
    withdraw_delivery(store, "0002", "数据有误", "测试")
    # One accepted since and withdrawn before this build is simply not read.
    withdraw_delivery(store, "0004", "数据有误", "测试")
    lines: list[str] = []
    load_raw(store, con, lines.append, loaded_from=state)
    assert "读取全部报送：第 0002 批报送已撤回" in lines
    assert _tables(con) == _read_anew(store)[0]
    published = duckdb.connect()
    state = load_raw(_prefix(store, 3, tmp_path / "published_again"), published).store_state()
    lines.clear()
    load_raw(store, published, lines.append, loaded_from=state)
    assert any(line.startswith("按报送增量读取：新报送 1 批（第 0005 批）") for line in lines)
    assert not any(line.startswith("读取全部报送") for line in lines), lines
    assert _tables(published) == _read_anew(store)[0]


def test_raw_tables_not_loaded_as_this_program_loads_them_are_read_anew(tmp_path) -> None:
    store = _random_store(tmp_path, cases=5, seed=3)
    con = duckdb.connect()
    state = load_raw(_prefix(store, 2, tmp_path / "published"), con).store_state()
    # A published warehouse whose raw tables lost a row (another program, a hand edit).
    con.execute("delete from raw.households where household_id = 'C001-H002'")
    lines: list[str] = []
    load_raw(store, con, lines.append, loaded_from=state)
    assert "读取全部报送：已发布数据仓库中的原始数据与按本版本程序读取的结果不一致" in lines
    assert _tables(con) == _read_anew(store)[0]


def test_store_states_say_which_deliveries_are_new_or_why_they_cannot_be_compared() -> None:
    before = {
        "deliveries": ["0001", "0002", "0003"],
        "withdrawn": ["0002"],
        "digests": {"0001": "a", "0003": "c"},
        "parsed": "p",
    }
    now = {**before, "deliveries": ["0001", "0002", "0003", "0004", "0005"]}
    now["digests"] = {**before["digests"], "0004": "d", "0005": "e"}
    assert new_deliveries(before, now) == (["0004", "0005"], "")
    assert new_deliveries(before, {**now, "withdrawn": ["0002", "0005"]}) == (["0004"], "")
    assert new_deliveries(before, {**now, "withdrawn": ["0002", "0003"]}) == (
        [],
        "第 0003 批报送已撤回",
    )
    assert new_deliveries(before, {**now, "parsed": "q"})[1] == "数据校验规则与上次构建不同"
    assert new_deliveries(before, {**now, "digests": {**now["digests"], "0001": "x"}})[1] == (
        "接收库中已读取过的报送与上次构建时不同"
    )
    assert new_deliveries(before, None)[1] == (
        "原始数据是文件夹而不是数据接收库，无法按报送判断有哪些变化"
    )
    assert new_deliveries({"deliveries": ["0001"], "withdrawn": []}, now)[1] == (
        "已发布的数据仓库不是由本版本程序从数据接收库构建的"
    )


# --- Builds ------------------------------------------------------------------------------------


def _warehouse_differences(left: Path, right: Path) -> dict[str, tuple[int, int]]:
    """Rows only in one warehouse or the other, per table: the raw tables the intake writes and
    every table dbt builds."""
    con = duckdb.connect()
    con.execute(f"attach '{left}' as l (read_only)")
    con.execute(f"attach '{right}' as r (read_only)")
    built = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_catalog = 'l' and table_schema in ('main', 'intermediate') "
        "and table_type = 'BASE TABLE' and table_name <> 'build_info'"
    ).fetchall()
    found = {}
    for name in [f"raw.{table}" for table in RAW_TABLES] + [name for (name,) in built]:
        only = [
            con.execute(
                f"select count(*) from (select * from {one}.{name} except all "
                f"select * from {other}.{name})"
            ).fetchone()[0]
            for one, other in (("l", "r"), ("r", "l"))
        ]
        if any(only):
            found[name] = tuple(only)
    con.close()
    return found


def test_a_store_built_delivery_by_delivery_equals_one_built_at_once(tmp_path) -> None:
    """Deliveries parsed once and builds that settle only what is new give the warehouse a build
    validating every delivery anew gives: corrections that fail, duplicates, a delivery withdrawn
    before any build read it, a monthly delivery built incrementally."""
    from huinong.warehouse import build

    data = canonical()
    store = tmp_path / "store"
    db = tmp_path / "warehouse.duckdb"

    def deliver(number: int, rows: Folder) -> None:
        folder = write_folder(tmp_path / f"delivery_{number}", rows)
        delivery = accept_delivery(store, folder, f"第{number}批")
        assert parse_accepted(delivery)  # as python -m huinong deliver does

    deliver(1, data)
    first = build(raw_dir=store, db_path=db, accept_jump=True)
    typo = dict(find_row(data, "households", "H002 / 2024-03-20"), education="大学")
    renamed = dict(find_row(data, "households", "H003 / 2024-03-20"), head_name="王晓明")
    twice = dict(find_row(data, "repayments", "P002"), interest_paid="1200.00")
    deliver(2, {"households": [typo, renamed], "repayments": [twice, twice]})
    corrections: list[str] = []
    build(raw_dir=store, db_path=db, progress=corrections.append, accept_jump=True)
    assert "按报送增量读取：新报送 1 批（第 0002 批），只重新核对其涉及的农户和贷款…" in corrections
    wrong = dict(find_row(data, "loans", "L002"), amount="5000.00")
    deliver(3, {"loans": [wrong]})
    withdraw_delivery(store, "0003", "金额录入错误", "测试")
    paid_on = first.as_of + dt.timedelta(days=40)
    payment = dict(find_row(data, "repayments", "P001"), payment_id="P005", paid_on=str(paid_on))
    deliver(4, {"repayments": [payment]})
    monthly: list[str] = []
    result = build(raw_dir=store, db_path=db, progress=monthly.append, accept_jump=True)
    assert result.mode == "incremental", result.full_build_reason
    assert "按报送增量读取：新报送 1 批（第 0004 批），只重新核对其涉及的农户和贷款…" in monthly
    assert not [line for line in monthly if line.startswith("校验")]

    anew = tmp_path / "store_anew"
    shutil.copytree(store, anew, ignore=shutil.ignore_patterns(PARSED_DIR))
    full = build(raw_dir=anew, db_path=tmp_path / "anew.duckdb", incremental=False)
    assert _warehouse_differences(db, full.db_path) == {}
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(
            "select delivery_id, reasons from raw.quarantine order by all"
        ).fetchall() == [
            ("0002", ["更正行未通过校验，保留原数据", typo_reason()]),
            ("0002", ["更正行未通过校验，保留原数据", "还款流水号重复：与第 1 行相同"]),
            ("0002", ["更正行未通过校验，保留原数据", "还款流水号重复：与第 2 行相同"]),
        ]
        assert con.execute(
            "select head_name from raw.households where household_id = 'H003'"
        ).fetchall() == [("王晓明",)]

    withdraw_delivery(store, "0002", "更正有误", "测试")
    withdrawn: list[str] = []
    result = build(raw_dir=store, db_path=db, progress=withdrawn.append, accept_jump=True)
    assert "读取全部报送：第 0002 批报送已撤回" in withdrawn
    assert (result.mode, result.full_build_reason) == ("full", "第 0002 批报送已撤回")


def typo_reason() -> str:
    return "户主文化程度不在可选值内：大学（可选：小学及以下/初中/高中/中专/大专/本科/研究生）"
