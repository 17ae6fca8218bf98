"""Signing in through the organisation's identity provider (OpenID Connect), the pure part.

Streamlit does the protocol itself (``st.login()`` / ``st.logout()``, Authlib underneath): after
the provider's sign-in, ``st.user`` holds the claims of the ID token (plus ``is_logged_in``,
``provider`` and ``origin``, which Streamlit adds). ``user_from_claims`` turns those claims into
a ``User`` with a role and an area, or refuses with a message the clerk can act on.

Configuration, in ``.streamlit/secrets.toml`` (never committed)::

    [auth]                       # read by Streamlit
    redirect_uri = "https://huinong.example.gov.cn/oauth2callback"  # the app's URL + /oauth2callback
    cookie_secret = "…"          # a long random string: signs Streamlit's identity cookie
    client_id = "huinong-dashboard"
    client_secret = "…"
    server_metadata_url = "https://idp.example.gov.cn/.well-known/openid-configuration"
    # client_kwargs = { prompt = "login" }   # ask for the password every time

    [huinong.oidc]               # read by huinong (OidcConfig.from_mapping); all optional
    username_claim = "email"     # the account name in the dashboard (falls back to sub)
    name_claim = "name"          # the name shown in the UI
    role_claim = "huinong_role"  # a role id (township) or its Chinese label (乡镇)
    township_claim = "huinong_township"  # 9-digit township code, for a 乡镇 account
    village_claim = "huinong_village"    # 12-digit village code, for a 村 account
    groups_claim = "groups"      # a list of group names, mapped by group_roles
    require_account = false      # true: only identities the 金融办 added (users add --oidc)

    [huinong.oidc.group_roles]   # group name -> role, for providers that send groups
    "hubin-jinrongban" = "office"
    "hubin-lingdao" = "leader"

    [huinong.auth]               # lock-out and session limits (huinong.auth.AuthSettings)
    idle_timeout_minutes = 30
    session_lifetime_hours = 12

An account the 金融办 added for the identity (``python -m huinong users add EMAIL --oidc
--role …``, matched on ``sub`` or on a verified ``email``) decides the role and area, whatever
the claims say: the office assigns roles without touching its provider. Without such an
account the claims decide; an identity whose claims give no known role is refused.
Streamlit keeps its identity cookie 30 days and does not check the token's expiry: pair the
identity with ``Accounts.open_session`` so the dashboard's idle and lifetime limits apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

from huinong.auth.roles import role
from huinong.auth.scope import User

if TYPE_CHECKING:
    from huinong.auth.accounts import Accounts


class OidcRefused(Exception):
    """An identity the dashboard will not let in; the message is for the person signing in."""


@dataclass(frozen=True)
class OidcConfig:
    """Which claims carry the account name, the role and the area (``[huinong.oidc]``)."""

    username_claim: str = "email"
    name_claim: str = "name"
    role_claim: str | None = "huinong_role"
    township_claim: str | None = "huinong_township"
    village_claim: str | None = "huinong_village"
    groups_claim: str | None = "groups"
    group_roles: Mapping[str, str] = field(default_factory=dict)
    require_account: bool = False

    @classmethod
    def from_mapping(cls, values: Mapping[str, object] | None) -> OidcConfig:
        """The ``[huinong.oidc]`` table of secrets.toml (``st.secrets``); unknown keys refused."""
        values = dict(values or {})
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"secrets.toml 的 [huinong.oidc] 中有未知设置：{'、'.join(unknown)}。"
                f"可用的设置：{'、'.join(sorted(known))}"
            )
        if "group_roles" in values:
            values["group_roles"] = {
                str(group): role(str(name)).name
                for group, name in dict(values["group_roles"]).items()
            }
        return cls(**values)


def _values(claim: object) -> list[str]:
    if claim is None or claim == "":
        return []
    if isinstance(claim, list | tuple | set):
        return [str(item) for item in claim if item not in (None, "")]
    return [str(claim)]


def _single(claims: Mapping[str, object], name: str | None) -> str | None:
    if not name:
        return None
    values = _values(claims.get(name))
    if len(values) > 1:
        raise OidcRefused(f"身份提供方给出的 {name} 有多个值（{'、'.join(values)}），请只给一个")
    return values[0] if values else None


def _identifiers(claims: Mapping[str, object]) -> list[str]:
    """sub, then the email when the provider has not said it is unverified: an unverified
    address could be anyone's, and must not pick up an account's role."""
    found = [str(claims["sub"])]
    email = claims.get("email")
    if email and claims.get("email_verified") is not False and str(email) not in found:
        found.append(str(email))
    return found


def user_from_claims(
    claims: Mapping[str, object],
    config: OidcConfig | None = None,
    accounts: Accounts | None = None,
) -> User:
    """The dashboard user for an identity from the provider (``st.user``), or OidcRefused.

    ``accounts``: the account store; an ``oidc`` account matching the identity's ``sub`` or
    verified ``email`` gives role and area (a disabled one refuses the identity).
    """
    config = config or OidcConfig()
    if not claims.get("sub"):
        raise OidcRefused("身份提供方没有给出用户标识（sub），无法登录。请联系金融办")
    identifiers = _identifiers(claims)
    name = _single(claims, config.name_claim)

    if accounts is not None:
        for identifier in identifiers:
            account = accounts.get(identifier)
            if account is None:
                continue
            if account.user.source != "oidc":
                raise OidcRefused(
                    f"用户名 {identifier} 已是看板的本地账号，不能再用统一身份认证登录。请联系金融办"
                )
            if account.disabled:
                raise OidcRefused("账号已停用，请联系金融办")
            return account.user
    if config.require_account:
        raise OidcRefused(
            f"{identifiers[-1]} 尚未开通看板账号。请联系金融办开通（users add --oidc）"
        )

    username = _single(claims, config.username_claim) or str(claims["sub"])
    if config.username_claim == "email" and claims.get("email_verified") is False:
        username = str(claims["sub"])
    roles: set[str] = set()
    for value in _values(claims.get(config.role_claim)) if config.role_claim else []:
        try:
            roles.add(role(value).name)
        except ValueError as error:
            raise OidcRefused(
                f"身份提供方给出的角色“{value}”不是看板的角色。请联系金融办"
            ) from error
    for group in _values(claims.get(config.groups_claim)) if config.groups_claim else []:
        if group in config.group_roles:
            roles.add(role(config.group_roles[group]).name)
    if not roles:
        raise OidcRefused(
            f"{username} 没有看板角色：身份提供方未给出角色（{config.role_claim or '无'}），"
            "金融办也未为其开通账号。请联系金融办"
        )
    if len(roles) > 1:
        labels = "、".join(sorted(role(name).label for name in roles))
        raise OidcRefused(f"{username} 同时有多个看板角色（{labels}），请联系金融办只保留一个")
    try:
        return User.create(
            username,
            name or username,
            roles.pop(),
            _single(claims, config.township_claim),
            _single(claims, config.village_claim),
            source="oidc",
        )
    except ValueError as error:
        raise OidcRefused(f"{username} 的身份信息不完整：{error}。请联系金融办") from error
