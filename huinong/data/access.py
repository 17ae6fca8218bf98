"""What the user behind a Scope may read, asked the same way before and after Scopes carry
permissions.

The auth work (``authorize(user, township, village)``) gives every Scope the signed-in user's
permissions and the methods ``require``, ``may``, ``id_number_sql`` and ``vetoes_sql``; a Scope
without them (built before that work is merged) reads everything, as the dashboard did then.
The modules of "the meeting and the why" (trips, reasons, warning, attention, search) ask
through these four functions only.

TODO(lead): once every Scope comes from ``authorize``, call the Scope's own methods in those
modules and delete this one.
"""

from __future__ import annotations

from huinong.data.scope import Scope

# The permissions these modules ask for (huinong/auth/permissions.csv).
NAMED_HOUSEHOLDS = "view_named_households"
LOANS = "view_loans"
SENSITIVE_VETOES = "view_sensitive_vetoes"
FULL_ID = "view_full_id"


def may(scope: Scope, permission: str) -> bool:
    """Whether the user holds ``permission`` (a Scope without permissions: yes)."""
    check = getattr(scope, "may", None)
    return True if check is None else bool(check(permission))


def require(scope: Scope, permission: str, what: str) -> None:
    """AccessDenied naming ``what`` ("查看贷款明细") unless the user holds ``permission``."""
    check = getattr(scope, "require", None)
    if check is not None:
        check(permission, what)


def full_ids(scope: Scope) -> bool:
    """Whether ID numbers come back in full for this user (a Scope without permissions: yes)."""
    return bool(getattr(scope, "full_ids", True))


def id_number_sql(scope: Scope, column: str) -> str:
    """The ID number column as the user may read it: in full, or masked in SQL
    (411202********1234)."""
    masked = getattr(scope, "id_number_sql", None)
    return column if masked is None else masked(column)
