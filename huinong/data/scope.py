"""Which part of the district a query covers, for whom, and the only SQL filters a scope becomes.

A ``Scope`` is issued only by ``authorize(user, township, village)``: the requested area
intersected with the signed-in user's own (``huinong.auth.intersect``, AccessDenied outside it),
together with what the user may read of households (names, full ID numbers, the V1/V2 vetoes,
loans). Every query of huinong.data takes one and the core (``connection._execute``) refuses to
run anything without it, so no page, link or session-state edit reaches the warehouse with an
area its user was not given. A Scope is a frozen dataclass: all of it (area, the user's own
area, the permissions) is part of every ``st.cache_data`` key, and one user's cached rows are
never another's unless both may read exactly the same.

Personal data leave the warehouse already redacted: the SQL of a household query selects the ID
number and the vetoes through ``id_number_sql`` / ``vetoes_sql``, which mask the middle digits
(411202********1234) and fold V1/V2 into ``VS`` ("一票否决（不宜公开事项）") unless the user holds
the permission; a masked number never reaches the browser.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

from huinong.auth.redact import (
    HIDDEN_VETO_CODE,
    ID_NUMBER_IN_TEXT,
    ID_NUMBER_IN_TEXT_MASKED,
    SENSITIVE_VETOES,
)
from huinong.auth.scope import AccessDenied, User, intersect

Level = Literal["district", "township", "village"]
Purpose = Literal["view", "export"]

# The permissions a query's answer can depend on (permissions.csv).
DATA_PERMISSIONS = (
    "view_named_households",
    "view_full_id",
    "view_sensitive_vetoes",
    "view_loans",
    "export",
    "export_full_id",
    "manage_data",
)

# Set only while authorize() builds a Scope: any other construction raises.
_issuing: ContextVar[bool] = ContextVar("huinong_scope_issuing", default=False)

# 411202********1234: the first 6 and the last 4 characters (huinong.format.mask_id_number).
_MASK_SQL = (
    "case when length({column}) <= 10 then {column}"
    " else left({column}, 6) || repeat('*', length({column}) - 10) || right({column}, 4) end"
)


@dataclass(frozen=True)
class Scope:
    """Which part of the district a query covers, for a user with these permissions.

    Township codes have 9 digits and village codes 12, the first 9 being the township's
    (DATA_CONTRACT.md, villages), so a village scope knows its township. ``own_township`` /
    ``own_village``: the user's own area (None for a district role); ``full_ids``: whether ID
    numbers come back in full (``view_full_id`` on screen, ``export_full_id`` in a file);
    ``purpose``: "view" for the screen, "export" for a file (``authorize(purpose="export")``).
    """

    level: Level
    code: str | None
    permissions: tuple[str, ...] = ()
    own_township: str | None = None
    own_village: str | None = None
    full_ids: bool = False
    purpose: Purpose = "view"

    def __post_init__(self) -> None:
        if not _issuing.get():
            raise AccessDenied("查询范围只能由 authorize() 按登录用户的权限给出")
        if self.level not in ("district", "township", "village"):
            raise ValueError(f"unknown scope level: {self.level}")
        if (self.level == "district") != (self.code is None):
            raise ValueError("a district scope has no code; a township or village scope needs one")

    @property
    def township_code(self) -> str | None:
        if self.level == "village":
            return self.code[:9]
        return self.code if self.level == "township" else None

    @property
    def village_code(self) -> str | None:
        return self.code if self.level == "village" else None

    # ── what the user may read ───────────────────────────────────────────────────────────

    def may(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str, what: str) -> None:
        """AccessDenied naming ``what`` ("查看农户名单") unless the user holds ``permission``."""
        if permission not in self.permissions:
            raise AccessDenied(f"本账号无权{what}")

    @property
    def names_households(self) -> bool:
        return self.may("view_named_households")

    @property
    def shows_sensitive_vetoes(self) -> bool:
        return self.may("view_sensitive_vetoes")

    # ── SQL ─────────────────────────────────────────────────────────────────────────────

    def params(self) -> dict[str, str]:
        """The SQL parameters of ``where_sql``."""
        values = {}
        if self.township_code is not None:
            values["township"] = self.township_code
        if self.village_code is not None:
            values["village"] = self.village_code
        return values

    def township_where_sql(self, alias: str = "") -> str:
        """The filter for a table with townships only (township_breaker)."""
        prefix = f"{alias}." if alias else ""
        return "" if self.level == "district" else f" and {prefix}township_code = $township"

    def where_sql(self, alias: str = "") -> str:
        """The scope's filter, to follow an ``as_of`` condition: one of three fixed fragments."""
        prefix = f"{alias}." if alias else ""
        if self.level == "district":
            return ""
        if self.level == "township":
            return f" and {prefix}township_code = $township"
        return f" and {prefix}township_code = $township and {prefix}village_code = $village"

    def village_code_where_sql(self) -> str:
        """The filter for a mart with village codes but no township code (loan_instalments,
        loan_payments): a township's villages are the codes starting with its 9 digits."""
        if self.level == "village":
            return " and village_code = $village"
        if self.level == "township":
            return " and starts_with(village_code, $township)"
        return ""

    def id_number_sql(self, column: str, *, always_masked: bool = False) -> str:
        """The ID number column as this user may read it: in full, or masked in SQL."""
        if self.full_ids and not always_masked:
            return column
        return _MASK_SQL.format(column=column)

    def vetoes_sql(self, column: str) -> str:
        """The vetoes list as this user may read it: V1 and V2 become one ``VS`` in front
        without ``view_sensitive_vetoes`` (the bank sees that a veto holds, not which)."""
        if self.shows_sensitive_vetoes:
            return column
        hidden = ", ".join(f"'{code}'" for code in SENSITIVE_VETOES)
        return (
            f"case when list_has_any({column}, [{hidden}])"
            f" then list_concat(['{HIDDEN_VETO_CODE}'],"
            f" list_filter({column}, lambda veto: veto not in ({hidden})))"
            f" else {column} end"
        )

    def text_sql(self, column: str) -> str:
        """A free text that may hold ID numbers (a quarantined row as read), with every ID
        number in it masked unless the user may read them in full."""
        if self.full_ids:
            return column
        # Twice: a match consumes the character after a number, which may start the next one.
        masked = column
        for _ in range(2):
            masked = f"regexp_replace({masked}, '{ID_NUMBER_IN_TEXT}', '{ID_NUMBER_IN_TEXT_MASKED}', 'g')"
        return masked


def _issue(
    user: User, township: str | None, village: str | None, full_ids: bool, purpose: Purpose
) -> Scope:
    permissions = tuple(name for name in DATA_PERMISSIONS if user.has(name))
    own = (user.township_code, user.village_code)
    level: Level = "village" if village else "township" if township else "district"
    marker = _issuing.set(True)
    try:
        return Scope(level, village or township, permissions, *own, full_ids, purpose)
    finally:
        _issuing.reset(marker)


def authorize(
    user: User,
    township_code: str | None = None,
    village_code: str | None = None,
    *,
    purpose: Purpose = "view",
) -> Scope:
    """The scope a user may query for the requested area: the request narrowed to the user's
    own area (a township clerk asking for the district gets their township), or AccessDenied
    with a message for the clerk. ``purpose="export"`` is for files: it needs ``export`` and
    gives full ID numbers only with ``export_full_id``."""
    township, village = intersect(user, township_code or None, village_code or None)
    if purpose == "export":
        if not user.has("export"):
            raise AccessDenied(f"{user.role_label}账号无权导出表格")
        full_ids = user.has("export_full_id")
    else:
        full_ids = user.has("view_full_id")
    return _issue(user, township, village, full_ids, purpose)
