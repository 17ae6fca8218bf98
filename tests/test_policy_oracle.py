"""The policy oracle against hand-derived cases, and the warehouse against the oracle.

``compare_marts(db_path, raw_dir, as_of)`` is reusable: it lists, in words, every
difference between a built warehouse's contract marts and the oracle's rows::

    from tests.test_policy_oracle import compare_marts
    differences = compare_marts(Path("data/warehouse.duckdb"), Path("data/raw"), None)
"""

from __future__ import annotations

import os
import re
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policy_cases import AS_OF, write_policy_cases  # noqa: E402
from policy_oracle import MART_COLUMNS, MART_KEYS, compute_marts  # noqa: E402

# Imported, not looked up: if the build's entry point moves, these tests fail instead of skipping.
from huinong.demo import generate  # noqa: E402
from huinong.warehouse import build  # noqa: E402

# ---------------------------------------------------------------- comparison


def _norm_date(value):
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


def _norm_number(value):
    if value is None or isinstance(value, bool):
        return value
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return value


def _norm_bool(value):
    if isinstance(value, bool) or value is None:
        return value
    if value in (0, 1):
        return bool(value)
    return value


def _norm_list(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in re.split(r"[\s,;\[\]'\"]+", value) if part]
    return list(value)


def _same(kind: str, db_value, oracle_value) -> bool:
    """Equal after normalising the warehouse's representation; rates to the warehouse's
    precision (at least 6 decimals), everything else exactly."""
    if kind == "date":
        return _norm_date(db_value) == oracle_value
    if kind in ("int", "amount"):
        db_number = _norm_number(db_value)
        if db_number is None or oracle_value is None:
            return db_number is None and oracle_value is None
        return isinstance(db_number, Decimal) and db_number == Decimal(oracle_value)
    if kind == "rate":
        if db_value is None or oracle_value is None:
            return db_value is None and oracle_value is None
        if isinstance(db_value, float):
            return abs(Decimal(repr(db_value)) - oracle_value) <= Decimal("1e-9")
        db_rate = Decimal(str(db_value))
        exponent = db_rate.as_tuple().exponent
        if not isinstance(exponent, int) or exponent > -6:
            return db_rate == oracle_value
        return abs(db_rate - oracle_value) <= Decimal(1).scaleb(exponent)
    if kind == "bool":
        return _norm_bool(db_value) is oracle_value
    if kind == "list":
        return _norm_list(db_value) == list(oracle_value)
    return db_value == oracle_value


def _show(value) -> str:
    if isinstance(value, Decimal | date):
        return str(value)
    return repr(value)


def _key_text(key: tuple) -> str:
    return "(" + ", ".join(map(str, key)) + ")"


def _mart_table(con, mart: str) -> str | None:
    rows = con.execute(
        "select table_schema from information_schema.tables where table_name = ? "
        "order by case table_schema when 'main' then 0 when 'marts' then 1 else 2 end, "
        "table_schema",
        [mart],
    ).fetchall()
    return f'"{rows[0][0]}"."{mart}"' if rows else None


def _compare_mart(con, mart: str, expected_rows: list[dict]) -> list[str]:
    table = _mart_table(con, mart)
    if table is None:
        return [f"{mart}: table missing from the warehouse"]
    found: list[str] = []
    key_columns = MART_KEYS[mart]
    columns = MART_COLUMNS[mart]
    names = [row[0] for row in con.execute(f"select * from {table} limit 0").description]
    missing = [column for column in columns if column not in names]
    if missing:
        found.append(f"{mart}: columns missing: {', '.join(missing)}")
    compared = [column for column in columns if column in names and column not in key_columns]
    selected = [*key_columns, *compared] if not set(key_columns) - set(names) else []
    if not selected:
        return found
    width = len(key_columns)
    db_rows: dict[tuple, tuple] = {}
    query = f"select {', '.join(f'{chr(34)}{name}{chr(34)}' for name in selected)} from {table}"
    for values in con.execute(query).fetchall():
        key = tuple(
            _norm_date(value) if columns[column] == "date" else value
            for column, value in zip(key_columns, values[:width], strict=True)
        )
        if key in db_rows:
            found.append(f"{mart} {_key_text(key)}: duplicate key in the warehouse")
        db_rows[key] = values[width:]
    oracle_rows = {
        tuple(row[column] for column in key_columns): tuple(row[column] for column in compared)
        for row in expected_rows
    }
    only_db = sorted(db_rows.keys() - oracle_rows.keys(), key=str)
    only_oracle = sorted(oracle_rows.keys() - db_rows.keys(), key=str)
    if only_db:
        found.append(
            f"{mart}: {len(only_db)} rows in the warehouse, not in the oracle, "
            f"e.g. {', '.join(map(_key_text, only_db[:5]))}"
        )
    if only_oracle:
        found.append(
            f"{mart}: {len(only_oracle)} rows expected by the oracle, missing, "
            f"e.g. {', '.join(map(_key_text, only_oracle[:5]))}"
        )
    # a C-level tuple compare first; only rows that differ as Python values are normalised
    differing = [
        key for key, values in oracle_rows.items() if key in db_rows and db_rows[key] != values
    ]
    for key in sorted(differing, key=str):
        for column, db_value, oracle_value in zip(
            compared, db_rows[key], oracle_rows[key], strict=True
        ):
            if not _same(columns[column], db_value, oracle_value):
                found.append(
                    f"{mart} {_key_text(key)} {column}: "
                    f"warehouse {_show(db_value)} != oracle {_show(oracle_value)}"
                )
    return found


def compare_marts(
    db_path: Path | str,
    raw_dir: Path | str,
    as_of: date | None = None,
    max_per_mart: int = 40,
) -> list[str]:
    """Differences between the warehouse's contract marts and the oracle, in words.

    ``as_of`` is the build's as-of date (None: the latest data date, as the build's
    default). Rows are matched on the mart's keys (missing and extra rows are reported);
    every column of MART_COLUMNS is compared (amounts and integers exactly, rates to the
    warehouse's decimals, at least 6). At most ``max_per_mart`` lines per mart, then a
    count. An empty list means the warehouse agrees with the oracle everywhere.
    """
    import duckdb

    expected = compute_marts(raw_dir, as_of)
    differences: list[str] = []
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        for mart in MART_KEYS:
            found = _compare_mart(con, mart, expected[mart])
            if len(found) > max_per_mart:
                found = found[:max_per_mart] + [
                    f"{mart}: … and {len(found) - max_per_mart} more differences"
                ]
            differences.extend(found)
    finally:
        con.close()
    return differences


# ---------------------------------------------------------------- the oracle on the cases


@pytest.fixture(scope="module")
def case_book(tmp_path_factory):
    return write_policy_cases(tmp_path_factory.mktemp("policy_cases"))


@pytest.fixture(scope="module")
def case_marts(case_book):
    return compute_marts(case_book.raw_dir)


def test_case_folder_is_canonical(case_book):
    """The case folder has the schema's headers, and the expected timeline."""
    from huinong.schema import RAW_FILES

    for name in ("households", "loans", "schedule", "repayments", "entities"):
        header = (case_book.raw_dir / f"{name}.csv").read_text(encoding="utf-8").splitlines()[0]
        assert header.split(",") == RAW_FILES[name].column_names
    assert not (case_book.raw_dir / "villages.csv").exists()
    assert case_book.as_of == AS_OF


def test_snapshot_dates_of_the_cases(case_marts):
    """Month-ends 2023-01-31 … 2024-06-30 and the provisional as-of 2024-07-15."""
    days = sorted({row["as_of"] for row in case_marts["township_breaker"]})
    assert days[0] == date(2023, 1, 31)
    assert days[-2:] == [date(2024, 6, 30), date(2024, 7, 15)]
    assert len(days) == 19
    assert date(2024, 2, 29) in days


def test_oracle_reproduces_every_hand_derived_expectation(case_book, case_marts):
    """Every expectation of the case book, column by column (this checks the oracle)."""
    failures = []
    checked = 0
    for mart, expectations in case_book.expectations.items():
        key_columns = MART_KEYS[mart]
        rows = {tuple(row[column] for column in key_columns): row for row in case_marts[mart]}
        for key, expected in expectations.items():
            checked += 1
            row = rows.get(key)
            if expected is None:
                if row is not None:
                    failures.append(f"{mart} {key}: expected no row, oracle has one")
                continue
            if row is None:
                failures.append(f"{mart} {key}: expected a row, oracle has none")
                continue
            for column, value in expected.items():
                if row[column] != value or type(row[column]) is not type(value):
                    failures.append(
                        f"{mart} {key} {column}: expected {value!r}, got {row[column]!r}"
                    )
    assert checked > 150
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- the warehouse against the oracle


def _assert_no_differences(differences: list[str]) -> None:
    if differences:
        print("\n".join(differences[:60]))
    assert not differences, f"{len(differences)} differences, first:\n" + "\n".join(
        differences[:30]
    )


def test_warehouse_matches_oracle_on_the_cases(case_book, tmp_path):
    db_path = tmp_path / "cases.duckdb"
    build(raw_dir=case_book.raw_dir, db_path=db_path, as_of=None, progress=print)
    _assert_no_differences(compare_marts(db_path, case_book.raw_dir, None))


@pytest.mark.slow
def test_warehouse_matches_oracle_on_a_generated_folder(tmp_path):
    raw_dir = tmp_path / "raw"
    generate(out_dir=raw_dir, households=300, seed=7, progress=print)
    db_path = tmp_path / "generated.duckdb"
    build(raw_dir=raw_dir, db_path=db_path, as_of=None, progress=print)
    _assert_no_differences(compare_marts(db_path, raw_dir, None))


@pytest.mark.slow
def test_session_warehouse_matches_oracle(demo_raw_dir, warehouse_path):
    """The session's demo warehouse (conftest, 6,000 households by default: villages and
    townships trip, every tier and veto occurs) against the oracle; no extra build."""
    if int(os.environ.get("HUINONG_TEST_HOUSEHOLDS", "6000")) > 10000:
        pytest.skip("the pure-Python oracle is kept to demo folders of at most 10,000 households")
    _assert_no_differences(compare_marts(warehouse_path, demo_raw_dir, None))
