"""dbt unit tests: every policy boundary (R-…) is a case in the models' YAML.

They run here, not in production builds (dbt's advice), against a copy of the session warehouse
because dbt needs the upstream relations to exist to know their column types.
"""

import shutil
from pathlib import Path

import yaml

from huinong import REPO_ROOT
from huinong.warehouse import run_dbt


def _unit_test_names() -> set[str]:
    names = set()
    for path in (REPO_ROOT / "models").rglob("*.yml"):
        for case in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("unit_tests", []):
            names.add(case["name"])
    return names


def test_every_boundary_unit_test_passes(warehouse_build, tmp_path: Path):
    copy = tmp_path / "unit.duckdb"
    shutil.copyfile(warehouse_build.db_path, copy)
    listener = run_dbt(
        copy,
        ["test", "--select", "test_type:unit"],
        {"as_of": warehouse_build.as_of.isoformat()},
    )
    expected = _unit_test_names()
    assert len(expected) >= 13
    assert listener.tests == len(expected)
    assert listener.failures == []


def test_boundaries_named_by_the_issue_have_a_unit_test():
    names = " ".join(sorted(_unit_test_names()))
    for boundary in (
        "grade_boundaries",  # scores 79/80, 86/87, 95/96, 100/101
        "money_thresholds",  # 以上 / 不含
        "29_february",  # D6 three years
        "dpd_90_vs_91",
        "tolerance",  # cover 0.99 vs 1.01
        "exactly_three_percent",
        "thirty_percent",
        "recollection",
        "after_collection",
        "written_off",
        "prepayment",
    ):
        assert boundary in names, boundary
