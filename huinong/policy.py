"""The policy profile on the Python side: every number of POLICY.md, read from one place.

dbt reads the profile as the ``vars:`` of dbt_project.yml (Hubin's defaults), overridden by a
county's file (``python -m huinong build --policy county.yml``). The Python side — the demo
generator, page texts such as "3%" or "36个月", formatting — reads the very same profile through
this module instead of repeating Hubin's numbers. A built warehouse carries the profile it was
built with (mart ``policy_profile``); the dashboard reads that one (``huinong.data``), so that the
lines it draws are the lines the figures were computed against.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from huinong import REPO_ROOT

DBT_PROJECT = REPO_ROOT / "dbt_project.yml"

# Build-time vars that are not policy: the build sets them, a county's file may not.
BUILD_VARS = ("as_of", "data_start", "incremental_from", "incremental_townships")


class PolicyError(Exception):
    """A policy file that cannot be read or does not fit the profile (message in Chinese)."""


class Policy(Mapping):
    """A read-only view of the profile's parameters, with helpers for the values pages need."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Policy({self._values!r})"

    @property
    def grades(self) -> list[dict]:
        """Grade bands from the highest down: [{grade, min_score, credit_limit}]."""
        return [dict(band) for band in self._values["grades"]]

    def rate(self, name: str) -> Decimal:
        """A ``*_pct`` parameter as an exact fraction: village_breaker_rate_pct 3 -> 0.03."""
        return Decimal(str(self._values[name])) / 100

    def pct_text(self, name: str) -> str:
        """A ``*_pct`` parameter as written in page text: 3 -> "3%", 2.5 -> "2.5%"."""
        value = Decimal(str(self._values[name])).normalize()
        return f"{value:f}%"

    def grade_of(self, score: int, vetoed: bool = False) -> str:
        """R-C1: the grade of a score (top down, the first band whose minimum it reaches)."""
        if not vetoed:
            for band in self._values["grades"]:
                if score >= band["min_score"]:
                    return band["grade"]
        return self._values["no_credit_grade"]

    def limit_of(self, grade: str) -> int:
        """R-C1: the credit limit of a grade (0 for 无信用)."""
        for band in self._values["grades"]:
            if band["grade"] == grade:
                return int(band["credit_limit"])
        return 0

    def overridden(self, overrides: Mapping[str, Any]) -> Policy:
        return Policy({**self._values, **overrides})


@cache
def _project_vars() -> dict:
    import yaml  # dbt depends on PyYAML

    project = yaml.safe_load(DBT_PROJECT.read_text(encoding="utf-8"))
    return {
        name: value for name, value in (project.get("vars") or {}).items() if name not in BUILD_VARS
    }


def default_policy() -> Policy:
    """Hubin's profile: the ``vars:`` of dbt_project.yml."""
    return Policy(_project_vars())


def read_overrides(policy_file: Path | None) -> dict:
    """A county's overrides (YAML ``name: value``), checked against the profile's names."""
    if policy_file is None:
        return {}
    import yaml

    try:
        text = Path(policy_file).read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyError(f"无法读取政策参数文件 {policy_file}：{error.strerror}") from error
    try:
        values = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise PolicyError(f"政策参数文件 {policy_file} 格式有误：{error}") from error
    if not isinstance(values, dict):
        raise PolicyError(f"政策参数文件 {policy_file} 应为“参数名: 数值”的列表")
    known = _project_vars()
    unknown = sorted(str(name) for name in values if name not in known)
    if unknown:
        raise PolicyError(
            f"政策参数文件 {policy_file} 中有未知参数：{'、'.join(unknown)}"
            "（可用参数见 dbt_project.yml 的 vars）"
        )
    return values


def load_policy(policy_file: Path | None = None) -> Policy:
    """The profile a build uses: the defaults with a county's overrides applied."""
    return default_policy().overridden(read_overrides(policy_file))
