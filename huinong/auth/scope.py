"""Who is signed in, and which part of the district they may see.

A township code has 9 digits and a village code 12, the first 9 being its township's
(DATA_CONTRACT.md, villages), so a village account also knows its township. The data layer
asks ``intersect(user, township, village)`` with the area a page requests and queries what
comes back: district ⊇ township ⊇ village, and a request outside the account's area is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from huinong.auth.roles import Role, check_permission, role

Source = Literal["local", "oidc"]


class AccessDenied(Exception):
    """A request for data outside the account's area (the message is for the clerk)."""


def is_township_code(code: object) -> bool:
    return isinstance(code, str) and len(code) == 9 and code.isascii() and code.isdigit()


def is_village_code(code: object) -> bool:
    return isinstance(code, str) and len(code) == 12 and code.isascii() and code.isdigit()


def area_for_role(
    role_name: str, township_code: str | None, village_code: str | None
) -> tuple[str | None, str | None]:
    """The (township, village) codes an account of this role carries, checked.

    A township account needs a 9-digit township code; a village account a 12-digit village code
    (its township is the first 9 digits; a township code given with it must match); the other
    roles carry none. Raises ValueError with a message naming what to fix.
    """
    the_role = role(role_name)
    if the_role.scope == "township":
        if village_code:
            raise ValueError(f"{the_role.label}账号只填乡镇代码，不填行政村代码")
        if not is_township_code(township_code):
            raise ValueError(
                f"{the_role.label}账号须填写 9 位数字的乡镇代码（如 411202100），而不是：{township_code or '空'}"
            )
        return township_code, None
    if the_role.scope == "village":
        if not is_village_code(village_code):
            raise ValueError(
                f"{the_role.label}账号须填写 12 位数字的行政村代码（如 411202100201），而不是：{village_code or '空'}"
            )
        if township_code and township_code != village_code[:9]:
            raise ValueError(
                f"行政村代码 {village_code} 的前 9 位不是乡镇代码 {township_code}，请核对"
            )
        return village_code[:9], village_code
    if township_code or village_code:
        raise ValueError(f"{the_role.label}账号不限于某个乡镇或行政村，不填乡镇、行政村代码")
    return None, None


@dataclass(frozen=True)
class User:
    """A signed-in person: their account name, name shown in the UI, role and area.

    The role is its English id (``User.create`` also takes the Chinese label); a village
    account's township code is filled from its village code; an area that does not fit the role
    raises ValueError.
    """

    username: str
    display_name: str
    role: str
    township_code: str | None = None
    village_code: str | None = None
    source: Source = "local"

    def __post_init__(self) -> None:
        township, _ = area_for_role(self.role, self.township_code, self.village_code)
        # A village account may be given its village code alone: its township follows from it.
        object.__setattr__(self, "township_code", township)
        if self.source not in ("local", "oidc"):
            raise ValueError(f"unknown account source: {self.source}")

    @classmethod
    def create(
        cls,
        username: str,
        display_name: str,
        role_name: str,
        township_code: str | None = None,
        village_code: str | None = None,
        source: Source = "local",
    ) -> User:
        the_role = role(role_name)
        township, village = area_for_role(the_role.name, township_code, village_code)
        return cls(username, display_name or username, the_role.name, township, village, source)

    @property
    def role_info(self) -> Role:
        return role(self.role)

    @property
    def role_label(self) -> str:
        return self.role_info.label

    @property
    def scope_level(self) -> str:
        return self.role_info.scope

    def has(self, permission: str) -> bool:
        return check_permission(permission) in self.role_info.permissions

    def area_label(self) -> str:
        """全区 / the township's or the village's code / 无: for lists and messages."""
        if self.scope_level in ("township", "village"):
            return self.village_code or self.township_code
        return "全区" if self.scope_level == "district" else "无"


def intersect(
    user: User, township_code: str | None = None, village_code: str | None = None
) -> tuple[str | None, str | None]:
    """The part of the requested area the user may see, as (township, village) codes.

    ``(None, None)`` requests the whole district, ``(T, None)`` a township, ``(T or None, V)`` a
    village. The answer is the request narrowed to the user's own area: a township clerk who
    asks for the district gets their township. A request that lies outside the user's area
    raises AccessDenied, as does any request from a role without dashboard data (审计).
    """
    if village_code is not None:
        if not is_village_code(village_code):
            raise AccessDenied(f"行政村代码应为 12 位数字：{village_code}")
        if township_code is not None and township_code != village_code[:9]:
            raise AccessDenied(f"行政村 {village_code} 不属于乡镇 {township_code}")
        township_code = village_code[:9]
    if township_code is not None and not is_township_code(township_code):
        raise AccessDenied(f"乡镇代码应为 9 位数字：{township_code}")

    level = user.scope_level
    if level == "district":
        return township_code, village_code
    if level == "township":
        own = user.township_code
        if township_code is not None and township_code != own:
            raise AccessDenied(f"无权查看该乡镇的数据：本账号只能查看乡镇 {own}")
        return own, village_code
    if level == "village":
        own = user.village_code
        if township_code is not None and township_code != user.township_code:
            raise AccessDenied(f"无权查看该乡镇的数据：本账号只能查看行政村 {own}")
        if village_code is not None and village_code != own:
            raise AccessDenied(f"无权查看该行政村的数据：本账号只能查看行政村 {own}")
        return user.township_code, own
    raise AccessDenied(f"{user.role_label}账号无权查看看板数据")
