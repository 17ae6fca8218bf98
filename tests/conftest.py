"""One small real warehouse per test session: generated raw folder -> intake -> dbt -> publish."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

# Big enough for every village to have borrowers and for the breaker to trip somewhere,
# small enough to build in well under a minute.
TEST_HOUSEHOLDS = int(os.environ.get("HUINONG_TEST_HOUSEHOLDS", "6000"))
TEST_SEED = 20170901


@pytest.fixture(scope="session")
def demo_raw_dir(tmp_path_factory) -> Path:
    from huinong.demo import generate

    out = tmp_path_factory.mktemp("raw") / "demo"
    generate(out_dir=out, households=TEST_HOUSEHOLDS, seed=TEST_SEED)
    return out


@pytest.fixture(scope="session")
def warehouse_build(demo_raw_dir, tmp_path_factory):
    from huinong.warehouse import build

    db_path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    return build(raw_dir=demo_raw_dir, db_path=db_path)


@pytest.fixture(scope="session")
def warehouse_path(warehouse_build) -> Path:
    return warehouse_build.db_path


@pytest.fixture
def warehouse(warehouse_path):
    con = duckdb.connect(str(warehouse_path), read_only=True)
    yield con
    con.close()
