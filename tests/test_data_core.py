"""Every query of huinong.data runs through the one core (huinong.data.connection), handed the
scope it covers: the place where the signed-in user's scope is enforced sees every query (that
it refuses anything but an authorised Scope is tested in test_access.py)."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("dashboard_support")

from huinong import data  # noqa: E402
from huinong.data import connection  # noqa: E402

pytest_plugins = ("dashboard_support",)

LEVELS = ("district", "township", "village")


def _levels_named(call_name: str) -> set[str]:
    """kpi[village] → {village}; report_preview[households,township] → {township}."""
    if "[" not in call_name:
        return set()
    return set(call_name[call_name.index("[") + 1 : -1].split(",")) & set(LEVELS)


def test_every_query_hands_its_scope_to_the_core(app_db, monkeypatch):
    seen: list[data.Scope | None] = []
    core = connection._execute

    def recording(token, scope, sql, params):
        seen.append(scope)
        return core(token, scope, sql, params)

    monkeypatch.setattr(connection, "_execute", recording)
    token = data.current_warehouse()
    calls = data.bench_calls(token)
    assert len(calls) > 50
    for name, call in calls:
        seen.clear()
        call()
        assert seen, f"{name} ran no statement through the core"
        levels = _levels_named(name)
        scoped = {scope.level for scope in seen if scope is not None}
        if levels:
            assert scoped and scoped <= levels, (name, seen)
    # The drill-down of one household and its loans is a village's business.
    for name in ("household", "household_loans", "loan_history", "loan_repayments"):
        seen.clear()
        dict(calls)[name]()
        assert {scope.level for scope in seen if scope is not None} == {"village"}, name
