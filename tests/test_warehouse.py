"""The build: contract marts as DATA_CONTRACT.md names them, snapshot dates, atomic publishing."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from huinong.warehouse import BuildError, build

# DATA_CONTRACT.md "Outputs": the columns each contract mart has at least.
CONTRACT_COLUMNS = {
    "household_scores": [
        "household_id", "as_of", "village_code", "township_code", "registered_poor", "score",
        "grade", "credit_limit", "available_credit", "vetoes",
        "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "a10",
        "d1", "d2", "d3", "d4", "d5", "d6", "poor_bonus",
    ],
    "loan_status": [
        "loan_id", "as_of", "borrower_type", "borrower_id", "village_code",
        "outstanding_principal", "dpd", "five_tier", "is_overdue", "is_npl",
    ],
    "village_breaker": [
        "village_code", "township_code", "as_of", "outstanding_balance", "npl_balance",
        "npl_rate", "status", "tripped",
    ],
    "township_breaker": [
        "township_code", "as_of", "villages_total", "villages_tripped", "tripped_share", "tripped",
    ],
    "kpi_monthly": ["scope_level", "scope_code", "as_of"],
    "quarantine": ["source_file", "row_number", "record_key", "original", "reasons"],
    "load_report": ["source_file", "file_name", "rows_read", "rows_loaded", "rows_quarantined"],
}  # fmt: skip


def _columns(con, table: str) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = 'main' and table_name = ? order by ordinal_position",
        [table],
    ).fetchall()
    return [name for (name,) in rows]


@pytest.mark.parametrize("mart", sorted(CONTRACT_COLUMNS))
def test_contract_mart_has_the_contract_columns(warehouse, mart):
    missing = set(CONTRACT_COLUMNS[mart]) - set(_columns(warehouse, mart))
    assert not missing


def _month_ends(first: date, last: date) -> list[date]:
    ends, year, month = [], first.year, first.month
    while True:
        following = date(year + (month == 12), month % 12 + 1, 1)
        end = following - timedelta(days=1)
        if end > last:
            return ends
        ends.append(end)
        year, month = following.year, following.month


def test_snapshot_dates_are_every_month_end_plus_the_as_of_date(warehouse, warehouse_build):
    first = warehouse.execute(
        "select min(d) from (select min(collected_on) as d from raw.households "
        "union all select min(disbursed_on) from raw.loans "
        "union all select min(paid_on) from raw.repayments)"
    ).fetchone()[0]
    as_of = warehouse_build.as_of
    expected = _month_ends(first, as_of)
    if not expected or expected[-1] != as_of:
        expected.append(as_of)
    for mart in ("village_breaker", "township_breaker", "kpi_monthly"):
        got = [
            d
            for (d,) in warehouse.execute(
                f"select distinct as_of from {mart} order by 1"
            ).fetchall()
        ]
        assert got == expected, mart
    assert warehouse.execute("select max(as_of) from household_scores").fetchone()[0] == as_of


def test_as_of_defaults_to_the_latest_data_date(warehouse, warehouse_build):
    latest = warehouse.execute(
        "select max(d) from (select max(collected_on) as d from raw.households "
        "union all select max(disbursed_on) from raw.loans "
        "union all select max(written_off_on) from raw.loans "
        "union all select max(paid_on) from raw.repayments)"
    ).fetchone()[0]
    assert warehouse_build.as_of == latest
    assert warehouse.execute("select as_of from build_info").fetchone()[0] == latest


def test_every_village_of_the_division_list_is_in_the_breaker_every_month(warehouse):
    villages = warehouse.execute("select count(*) from raw.villages").fetchone()[0]
    per_month = warehouse.execute("select count(*) from village_breaker group by as_of").fetchall()
    assert {count for (count,) in per_month} == {villages}


def test_demo_marts_are_not_empty(warehouse_build):
    counts = warehouse_build.row_counts
    assert counts["household_scores"] > 0
    assert counts["loan_status"] > 0
    assert counts["kpi_monthly"] > 0


# --- atomic publishing ------------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def published(warehouse_path, tmp_path) -> Path:
    target = tmp_path / "published" / "warehouse.duckdb"
    target.parent.mkdir()
    shutil.copyfile(warehouse_path, target)
    return target


def _leftovers(folder: Path) -> list[str]:
    """Files beside the warehouse other than itself and its one-writer lock (huinong.writer)."""
    kept = {"warehouse.duckdb", "warehouse.duckdb.rebuild.lock"}
    return sorted(p.name for p in folder.iterdir() if p.name not in kept)


def test_a_build_that_fails_in_the_intake_leaves_the_published_file_untouched(
    published, demo_raw_dir, tmp_path
):
    broken = tmp_path / "broken_raw"
    shutil.copytree(demo_raw_dir, broken)
    (broken / "households.csv").unlink()
    before = _digest(published)
    with pytest.raises(BuildError, match="households"):
        build(raw_dir=broken, db_path=published)
    assert _digest(published) == before
    con = duckdb.connect(str(published), read_only=True)
    assert con.execute("select count(*) from household_scores").fetchone()[0] > 0
    con.close()
    assert _leftovers(published.parent) == []


def test_a_build_that_fails_in_dbt_names_the_model_and_keeps_the_old_file(
    published, demo_raw_dir, tmp_path
):
    policy = tmp_path / "bad_policy.yml"
    policy.write_text("village_breaker_rate_pct: 三\n", encoding="utf-8")
    before = _digest(published)
    # The village breaker's rate line is used first where the village breaker is computed.
    with pytest.raises(BuildError, match="int_village_readings"):
        build(raw_dir=demo_raw_dir, db_path=published, policy_file=policy)
    assert _digest(published) == before
    assert _leftovers(published.parent) == []


def test_a_successful_build_swaps_in_while_a_reader_keeps_the_old_data(
    published, demo_raw_dir, warehouse_build
):
    reader = duckdb.connect(str(published), read_only=True)
    old_as_of = reader.execute("select max(as_of) from village_breaker").fetchone()[0]
    earlier = date(old_as_of.year - 1, 6, 30)
    messages: list[str] = []
    result = build(raw_dir=demo_raw_dir, db_path=published, as_of=earlier, progress=messages.append)
    # The open reader still sees the file it opened.
    assert reader.execute("select max(as_of) from village_breaker").fetchone()[0] == old_as_of
    reader.close()
    fresh = duckdb.connect(str(published), read_only=True)
    assert fresh.execute("select max(as_of) from village_breaker").fetchone()[0] == earlier
    fresh.close()
    assert result.as_of == earlier
    assert any(message.startswith("[4/4] 发布") for message in messages)
    assert _leftovers(published.parent) == []
