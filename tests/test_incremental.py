"""Monthly incremental builds give exactly the warehouse a full build gives, and fall back to a
full build, saying why, when a delivery corrects the past."""

from __future__ import annotations

import csv

import duckdb
import pytest

from huinong.demo import generate, split_last_month
from huinong.intake import accept_delivery
from huinong.warehouse import build


def _tables(path) -> list[tuple[str, str]]:
    con = duckdb.connect(str(path), read_only=True)
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('main', 'intermediate') and table_type = 'BASE TABLE' "
        "and table_name <> 'build_info'"
    ).fetchall()
    con.close()
    return rows


def _differences(left, right) -> dict[str, tuple[int, int]]:
    con = duckdb.connect()
    con.execute(f"attach '{left}' as l (read_only)")
    con.execute(f"attach '{right}' as r (read_only)")
    found = {}
    for schema, table in _tables(left):
        name = f"{schema}.{table}"
        only_left = con.execute(
            f"select count(*) from (select * from l.{name} except all select * from r.{name})"
        ).fetchone()[0]
        only_right = con.execute(
            f"select count(*) from (select * from r.{name} except all select * from l.{name})"
        ).fetchone()[0]
        if only_left or only_right:
            found[name] = (only_left, only_right)
    con.close()
    return found


def _move_a_borrower(root, month) -> str:
    """Re-collect a household with loans in the new month, in a village of another township:
    R-B1 moves its whole history there."""
    with (root / "history" / "loans.csv").open(encoding="utf-8", newline="") as handle:
        borrowers = {
            row["borrower_id"] for row in csv.DictReader(handle) if row["borrower_type"] == "农户"
        }
    with (root / "history" / "villages.csv").open(encoding="utf-8", newline="") as handle:
        villages = list(csv.DictReader(handle))
    with (root / "history" / "households.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames
        latest = {}
        for row in reader:
            if row["household_id"] in borrowers:
                latest[row["household_id"]] = row
    mover = latest[sorted(latest)[0]]
    township = mover["village_code"][:9]
    mover = {
        **mover,
        "collected_on": month.replace(day=5).isoformat(),
        "village_code": next(v["village_code"] for v in villages if v["township_code"] != township),
    }
    path = root / "last_month" / "households.csv"
    with path.open("a", encoding="utf-8", newline="") as handle:
        csv.DictWriter(handle, fieldnames=fields).writerow(mover)
    return mover["household_id"]


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    root = tmp_path_factory.mktemp("increment")
    generate(out_dir=root / "all", households=1500, seed=17)
    month = split_last_month(root / "all", root / "history", root / "last_month")
    _move_a_borrower(root, month)
    return root, month


def test_a_monthly_delivery_builds_incrementally_into_the_full_build(months):
    root, month = months
    store = root / "store"
    accept_delivery(store, root / "history", source_label="历史数据")
    published = root / "warehouse.duckdb"
    first = build(raw_dir=store, db_path=published)
    assert first.mode == "full"
    accept_delivery(store, root / "last_month", source_label="当月报送")
    messages: list[str] = []
    increment = build(raw_dir=store, db_path=published, progress=messages.append)
    assert increment.mode == "incremental", increment.full_build_reason
    assert any(f"按月增量构建：{month.isoformat()} 起" in line for line in messages)
    assert any("迁往其他行政村" in line for line in messages)
    full = build(raw_dir=store, db_path=root / "full.duckdb", incremental=False)
    assert full.mode == "full"
    assert increment.row_counts == full.row_counts
    assert _differences(published, full.db_path) == {}
    con = duckdb.connect(str(published), read_only=True)
    assert con.execute("select build_mode, incremental_from from build_info").fetchone() == (
        "incremental",
        month,
    )
    con.close()


def test_a_correction_of_the_past_falls_back_to_a_full_build(months, tmp_path):
    root, _ = months
    store = tmp_path / "store"
    accept_delivery(store, root / "history", source_label="历史数据")
    published = tmp_path / "warehouse.duckdb"
    build(raw_dir=store, db_path=published)
    # The bank re-sends an old payment with another amount.
    with (root / "history" / "repayments.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames
        first = next(reader)
    correction = tmp_path / "correction"
    correction.mkdir()
    first["interest_paid"] = f"{float(first['interest_paid']) + 1:.2f}"
    with (correction / "repayments.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerow(first)
    accept_delivery(store, correction, source_label="更正")
    messages: list[str] = []
    result = build(raw_dir=store, db_path=published, progress=messages.append)
    assert result.mode == "full"
    assert result.full_build_reason == "还款流水有修改或不再有效"
    assert any("需要全量构建：还款流水有修改或不再有效" in line for line in messages)


def test_a_warehouse_holding_its_homes_as_a_table_gets_a_full_build(months, tmp_path):
    """R-B1's one home is the view intermediate.int_households_homed, which a monthly build reads
    over the new raw data to find households that moved; a warehouse whose homes are a table (built
    by an earlier version) would give the old homes, so the build says so and builds in full."""
    root, _ = months
    store = tmp_path / "store"
    accept_delivery(store, root / "history", source_label="历史数据")
    published = tmp_path / "warehouse.duckdb"
    build(raw_dir=store, db_path=published)
    con = duckdb.connect(str(published))
    con.execute(
        "create table intermediate.homes_frozen as select * from intermediate.int_households_homed"
    )
    con.execute("drop view intermediate.int_households_homed")
    con.execute("alter table intermediate.homes_frozen rename to int_households_homed")
    con.close()
    accept_delivery(store, root / "last_month", source_label="当月报送")
    messages: list[str] = []
    result = build(raw_dir=store, db_path=published, progress=messages.append)
    assert result.mode == "full"
    assert result.full_build_reason == "已发布的数据仓库由旧版本程序构建"
    assert any("需要全量构建：已发布的数据仓库由旧版本程序构建" in line for line in messages)


def test_a_warehouse_built_by_other_models_gets_a_full_build(months, tmp_path):
    """A monthly build appends to the published warehouse's tables, so only to tables the same
    models wrote: build_info records a digest of the dbt project, and another digest (a warehouse
    built before the models changed) gets a full build that says why."""
    root, _ = months
    store = tmp_path / "store"
    accept_delivery(store, root / "history", source_label="历史数据")
    published = tmp_path / "warehouse.duckdb"
    build(raw_dir=store, db_path=published)
    con = duckdb.connect(str(published))
    assert len(con.execute("select models_digest from build_info").fetchone()[0]) == 64
    con.execute("update build_info set models_digest = 'an earlier version'")
    con.close()
    accept_delivery(store, root / "last_month", source_label="当月报送")
    messages: list[str] = []
    result = build(raw_dir=store, db_path=published, progress=messages.append)
    assert result.mode == "full"
    assert result.full_build_reason == "已发布的数据仓库由其他版本的模型构建"
    assert any("需要全量构建：已发布的数据仓库由其他版本的模型构建" in line for line in messages)
