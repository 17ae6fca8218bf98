"""Roles and what each may do, read from two committed tables beside this module.

``roles.csv`` names the roles (English id in code, Chinese label in the UI) and the area each
one is bound to: ``district`` (the whole district), ``township`` (one township code),
``village`` (one village code) or ``none`` (no dashboard data at all: the auditor).
``permissions.csv`` is the matrix: one row per permission with its Chinese and English
description, one column per role, ``1`` where the role holds it.

Permissions say *what* a user may see or do; the role's area says *where*. So there is no
"view_district" permission: a leader and a township clerk both read figures and charts, the
leader over the district and the clerk over one township (``huinong.auth.scope.intersect``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

HERE = Path(__file__).resolve().parent
ROLES_FILE = HERE / "roles.csv"
PERMISSIONS_FILE = HERE / "permissions.csv"

ScopeLevel = Literal["district", "township", "village", "none"]
SCOPE_LEVELS: tuple[ScopeLevel, ...] = ("district", "township", "village", "none")


@dataclass(frozen=True)
class Permission:
    name: str
    label: str
    description_zh: str
    description_en: str


@dataclass(frozen=True)
class Role:
    name: str
    label: str
    scope: ScopeLevel
    description: str
    permissions: frozenset[str]


@dataclass(frozen=True)
class RoleTable:
    roles: dict[str, Role]
    permissions: dict[str, Permission]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def load_role_table(
    roles_file: Path = ROLES_FILE, permissions_file: Path = PERMISSIONS_FILE
) -> RoleTable:
    """The two tables, checked: a role column for every role and none other, cells 1 or empty,
    unique names, known scope levels. A mistake in the files fails loudly at first use."""
    role_rows = _rows(roles_file)
    names = [row["role"] for row in role_rows]
    if len(set(names)) != len(names):
        raise ValueError(f"{roles_file.name}：角色重复")
    for row in role_rows:
        if row["scope"] not in SCOPE_LEVELS:
            raise ValueError(f"{roles_file.name}：角色 {row['role']} 的范围 {row['scope']} 未知")

    permission_rows = _rows(permissions_file)
    fixed = ["permission", "label", "说明", "description"]
    header = list(permission_rows[0].keys()) if permission_rows else fixed
    role_columns = [column for column in header if column not in fixed]
    if sorted(role_columns) != sorted(names):
        raise ValueError(
            f"{permissions_file.name} 的角色列（{'、'.join(role_columns)}）"
            f"与 {roles_file.name} 的角色（{'、'.join(names)}）不一致"
        )
    permissions: dict[str, Permission] = {}
    granted: dict[str, set[str]] = {name: set() for name in names}
    for row in permission_rows:
        name = row["permission"]
        if name in permissions:
            raise ValueError(f"{permissions_file.name}：权限 {name} 重复")
        permissions[name] = Permission(name, row["label"], row["说明"], row["description"])
        for role in role_columns:
            cell = (row[role] or "").strip()
            if cell not in ("", "1"):
                raise ValueError(
                    f"{permissions_file.name}：权限 {name} 的 {role} 列只能填 1 或留空，而不是 {cell}"
                )
            if cell == "1":
                granted[role].add(name)

    roles = {
        row["role"]: Role(
            row["role"],
            row["label"],
            row["scope"],
            row["description"],
            frozenset(granted[row["role"]]),
        )
        for row in role_rows
    }
    return RoleTable(roles, permissions)


@cache
def role_table() -> RoleTable:
    return load_role_table()


def roles() -> dict[str, Role]:
    return role_table().roles


def permissions() -> dict[str, Permission]:
    return role_table().permissions


def role(name: str) -> Role:
    """A role by its id (``township``) or its Chinese label (``乡镇``)."""
    table = role_table().roles
    if name in table:
        return table[name]
    for candidate in table.values():
        if candidate.label == name:
            return candidate
    known = "、".join(f"{item.name}（{item.label}）" for item in table.values())
    raise ValueError(f"未知角色：{name}。可用的角色：{known}")


def check_permission(name: str) -> str:
    """The name, if the table has it: a typo in code raises instead of quietly denying."""
    if name not in role_table().permissions:
        raise KeyError(f"unknown permission: {name}")
    return name
