"""The Python side's policy profile (huinong.policy) is dbt's: the same numbers, one source."""

from __future__ import annotations

from decimal import Decimal

import pytest

from huinong.policy import PolicyError, default_policy, load_policy


def test_default_grades_follow_r_c1_boundaries():
    policy = default_policy()
    # R-C1: the explicit range wins, 100 is AAA and AAA+ starts at 101.
    assert [policy.grade_of(score) for score in (79, 80, 86, 87, 95, 96, 100, 101)] == [
        "无信用", "A", "A", "AA", "AA", "AAA", "AAA", "AAA+",
    ]  # fmt: skip
    assert policy.grade_of(120, vetoed=True) == "无信用"
    assert [policy.limit_of(grade) for grade in ("AAA+", "AAA", "AA", "A", "无信用")] == [
        200000, 150000, 100000, 50000, 0,
    ]  # fmt: skip


def test_rates_are_exact_fractions_and_page_text():
    policy = default_policy()
    assert policy.rate("village_breaker_rate_pct") == Decimal("0.03")
    assert policy.pct_text("township_breaker_share_pct") == "30%"
    assert policy["max_term_months"] == 36


def test_a_county_file_overrides_and_unknown_names_are_refused(tmp_path):
    county = tmp_path / "lushi.yml"
    county.write_text("village_breaker_rate_pct: 5\n", encoding="utf-8")
    assert load_policy(county)["village_breaker_rate_pct"] == 5
    assert load_policy(county).pct_text("village_breaker_rate_pct") == "5%"
    typo = tmp_path / "typo.yml"
    typo.write_text("village_breaker_rate: 5\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="未知参数：village_breaker_rate"):
        load_policy(typo)


def test_the_warehouse_carries_the_same_profile(warehouse):
    rows = dict(
        warehouse.execute(
            "select parameter, parameter_value from policy_profile where grade is null"
        ).fetchall()
    )
    policy = default_policy()
    for name, text in rows.items():
        assert str(policy[name]) == text or Decimal(str(policy[name])) == Decimal(text), name
