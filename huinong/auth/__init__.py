"""Sign-in, roles and areas: who may see which part of the district, and do what.

- ``roles``: the roles and permissions, read from roles.csv and permissions.csv;
- ``scope``: ``User`` and ``intersect`` (a request narrowed to the user's area, or AccessDenied);
- ``accounts``: local accounts, lock-out and sessions in data/accounts.sqlite;
- ``oidc``: an identity from the organisation's provider (``st.login``) -> ``User``;
- ``redact``: ID numbers and V1/V2 vetoes as a user may read them;
- ``cli``: ``python -m huinong users …``.
"""

from huinong.auth.accounts import (
    Account,
    AccountError,
    Accounts,
    AuthSettings,
    Session,
    SessionInvalid,
    SignInError,
    accounts_path,
    ensure_admin,
)
from huinong.auth.oidc import OidcConfig, OidcRefused, user_from_claims
from huinong.auth.redact import (
    HIDDEN_VETO_WORDS,
    id_number_for,
    id_numbers_in_text_for,
    veto_words_for,
    visible_vetoes,
)
from huinong.auth.roles import Permission, Role, permissions, role, roles
from huinong.auth.scope import AccessDenied, User, intersect

__all__ = [
    "HIDDEN_VETO_WORDS",
    "AccessDenied",
    "Account",
    "AccountError",
    "Accounts",
    "AuthSettings",
    "OidcConfig",
    "OidcRefused",
    "Permission",
    "Role",
    "Session",
    "SessionInvalid",
    "SignInError",
    "User",
    "accounts_path",
    "ensure_admin",
    "id_number_for",
    "id_numbers_in_text_for",
    "intersect",
    "permissions",
    "role",
    "roles",
    "user_from_claims",
    "veto_words_for",
    "visible_vetoes",
]
