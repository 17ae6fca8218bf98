"""Sign-in, before any page runs or any data is read: local accounts and the organisation's
identity provider (``st.login``), the forced change of a one-time password, sign-out.

The session token lives in ``st.session_state`` only, never in a cookie, the URL or the page:
a reload or a new tab is a new Streamlit session and signs in again (a link keeps its path and
parameters, so it opens the same view after the sign-in). Every run checks the session
(``Accounts.check_session``): after 30 idle minutes or 12 hours, or once the account is
disabled, the next click lands on the sign-in form saying why.

With the identity provider, Streamlit keeps its own identity cookie for 30 days and does not
look at the ID token's expiry. The dashboard's session for such a sign-in is keyed by the ID
token itself (a keyed hash of its sub, iat and nonce): every browser session of that one sign-in
finds the same dashboard session, with the same idle and lifetime limits; once it has ended, or
when the token is older than ``FRESH_SIGN_IN`` and no session exists, only a new sign-in at the
provider opens another.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import sqlite3
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import streamlit as st

from huinong.audit import AuditTrail, audit_path
from huinong.auth import (
    AccountError,
    Accounts,
    AuthSettings,
    OidcConfig,
    OidcRefused,
    Session,
    SessionInvalid,
    SignInError,
    User,
    accounts_path,
    user_from_claims,
)
from huinong.format import markdown_text

APP_TITLE = "惠农信用看板"
TOKEN_KEY = "auth_token"
USER_KEY = "auth_user"
SOURCE_KEY = "auth_source"
NOTICE_KEY = "auth_notice"
LAST_USERNAME_KEY = "auth_last_username"
# An ID token issued longer ago than this, for which no dashboard session exists, is a stale
# cookie rather than a sign-in that just happened: the provider is asked again.
FRESH_SIGN_IN = timedelta(minutes=10)


def secrets() -> Mapping:
    """``.streamlit/secrets.toml`` as a dict, empty when there is none."""
    try:
        if not st.secrets.load_if_toml_exists():
            return {}
        return st.secrets.to_dict()
    except (FileNotFoundError, OSError, ValueError):
        return {}


def _huinong_section(name: str) -> Mapping:
    return dict(secrets().get("huinong", {}) or {}).get(name, {}) or {}


def oidc_configured() -> bool:
    """An ``[auth]`` section in secrets.toml: offer the identity provider's sign-in."""
    return bool(secrets().get("auth"))


@st.cache_resource(show_spinner=False)
def _stores(accounts_file: str, audit_file: str, settings: AuthSettings) -> Accounts:
    return Accounts(Path(accounts_file), audit=AuditTrail(Path(audit_file)), settings=settings)


def accounts() -> Accounts:
    """The account store beside the warehouse ($HUINONG_ACCOUNTS), with the limits of
    secrets.toml's ``[huinong.auth]``."""
    settings = AuthSettings.from_mapping(_huinong_section("auth"))
    return _stores(str(accounts_path()), str(audit_path()), settings)


def audit_trail() -> AuditTrail:
    return accounts().audit


def session_token() -> str | None:
    return st.session_state.get(TOKEN_KEY)


def current_user() -> User:
    """The user app.py signed in for this run (pages run only after the sign-in)."""
    return st.session_state[USER_KEY]


# ── the identity provider ─────────────────────────────────────────────────────────────────────


def _oidc_token(claims: Mapping) -> str:
    """The dashboard session's token for one sign-in at the provider: a hash of the ID token's
    sub, iat and nonce keyed with the cookie secret (which nobody outside the server knows)."""
    key = str(secrets()["auth"]["cookie_secret"]).encode("utf-8")
    sign_in = json.dumps(
        [str(claims.get("sub")), claims.get("iat"), claims.get("nonce")], ensure_ascii=False
    )
    return hmac.new(key, sign_in.encode("utf-8"), hashlib.sha256).hexdigest()


def _oidc_session(store: Accounts) -> Session:
    """The dashboard session of the provider's identity in ``st.user``: found again, or opened
    when the sign-in just happened. OidcRefused / SessionInvalid say why not."""
    claims = st.user.to_dict()
    user = user_from_claims(claims, OidcConfig.from_mapping(_huinong_section("oidc")), store)
    token = _oidc_token(claims)
    try:
        return store.check_session(token)
    except SessionInvalid as ended:
        if ended.reason != "unknown":
            raise
    issued = claims.get("iat")
    if not isinstance(issued, int | float):
        raise OidcRefused("身份提供方的登录凭证没有签发时间（iat），无法登录。请联系金融办")
    if datetime.now(UTC) - datetime.fromtimestamp(issued, UTC) > FRESH_SIGN_IN:
        raise SessionInvalid("统一身份认证的登录已过期，请重新登录", "stale")
    try:
        return store.open_session(user, token=token)
    except sqlite3.IntegrityError:
        # Another tab of the same sign-in opened it a moment ago.
        return store.check_session(token)


# ── the browser's warm-up ─────────────────────────────────────────────────────────────────────

# The browser loads each kind of element's code the first time a page shows one: plotly's alone
# is 4.7 MB of JavaScript, and compiling it held the first page after 登录 for about a second
# (总览: 2.2–2.4 s, 1.1–1.4 s without its two charts). The sign-in form loads the code the
# pages draw with while the user types, once the form is drawn and the browser is idle, so that
# the page after 登录 only draws. Names are the start of Streamlit's own chunk files
# (static/js/<Name>.<hash>.js); only Streamlit's public scripts are loaded, no data.
PAGE_COMPONENTS = (
    "PlotlyChart",
    "DataFrame",
    "Metric",
    "Selectbox",
    "Multiselect",
    "Checkbox",
    "Button",
    "ButtonGroup",
    "DownloadButton",
    "FileUploader",
)
# Set on the page once the warm-up has loaded (the page bench reads it).
WARMED_FLAG = "huinongWarmedAt"


@functools.cache
def component_chunks() -> tuple[str, ...]:
    """The file names of PAGE_COMPONENTS' chunks in the installed Streamlit's frontend."""
    folder = Path(st.__file__).parent / "static" / "static" / "js"
    wanted = set(PAGE_COMPONENTS)
    try:
        names = sorted(path.name for path in folder.glob("*.js"))
    except OSError:
        return ()
    return tuple(name for name in names if name.count(".") == 2 and name.split(".")[0] in wanted)


def warm_browser() -> None:
    """Load the pages' element code in the browser while the sign-in form is on screen (see
    PAGE_COMPONENTS); nothing is drawn. A chunk that fails to load is loaded again, as before,
    by the page that draws it."""
    chunks = component_chunks()
    if not chunks:
        return
    script = f"""
    <style>.st-key-warm_browser {{ display: none; }}</style>
    <script>
    (() => {{
      const entry = document.querySelector('script[type="module"][src*="/static/js/index."]');
      if (!entry) return;
      const load = () => Promise.allSettled(
        {json.dumps(list(chunks))}.map((name) => import(new URL(name, entry.src).href))
      ).then(() => {{ window.{WARMED_FLAG} = window.{WARMED_FLAG} ?? performance.now(); }});
      const idle = window.requestIdleCallback ?? ((run) => setTimeout(run, 200));
      // Only once the form's run has ended and it is drawn: the form first, then the rest.
      const started = performance.now();
      const whenDrawn = () => {{
        const app = document.querySelector('[data-testid="stApp"]');
        const running = app?.getAttribute('data-test-script-state') !== 'notRunning';
        if (running && performance.now() - started < 5000) setTimeout(whenDrawn, 50);
        else idle(load, {{timeout: 1000}});
      }};
      whenDrawn();
    }})();
    </script>"""
    with st.container(key="warm_browser"):
        st.html(script, unsafe_allow_javascript=True)


# ── the forms ─────────────────────────────────────────────────────────────────────────────────


def _sign_in_form(store: Accounts, notice: str | None) -> None:
    st.title(APP_TITLE)
    st.caption("金融扶贫信用工程 · 请先登录")
    if notice:
        st.warning(notice, icon=":material/lock_clock:")
    with st.form("sign_in", clear_on_submit=True, width=420):
        username = st.text_input(
            "用户名", key="sign_in_username", value=st.session_state.get(LAST_USERNAME_KEY, "")
        )
        password = st.text_input("密码", type="password", key="sign_in_password")
        submitted = st.form_submit_button("登录", type="primary", icon=":material/login:")
    if submitted:
        st.session_state[LAST_USERNAME_KEY] = username.strip()
        if not username.strip() or not password:
            st.error("请输入用户名和密码。")
        else:
            try:
                session = store.sign_in(username, password)
            except SignInError as refused:
                st.error(str(refused), icon=":material/error:")
            else:
                st.session_state[TOKEN_KEY] = session.token
                st.session_state[SOURCE_KEY] = "local"
                st.session_state.pop(LAST_USERNAME_KEY, None)
                st.rerun()
    if oidc_configured():
        st.divider()
        if st.button(
            "通过单位统一身份认证登录", key="sign_in_oidc", icon=":material/badge:", width=420
        ):
            st.login()
        # A refused or expired identity: another person may want to sign in on this browser.
        if st.user.is_logged_in and st.button("退出统一身份认证", key="oidc_sign_out", width=420):
            st.logout()
    st.caption(
        "首次登录请使用金融办发给您的用户名和一次性密码，登录后须修改密码。"
        "忘记密码或账号被锁定，请联系金融办重置。"
    )
    warm_browser()


def _change_password_form(store: Accounts, session: Session) -> None:
    st.title("修改密码")
    st.info(
        f"{session.user.display_name}，您正在使用一次性密码登录。请先设置自己的密码，"
        "修改后才能使用看板。",
        icon=":material/key:",
    )
    with st.form("change_password", clear_on_submit=True, width=420):
        current = st.text_input("当前密码（一次性密码）", type="password", key="current_password")
        new = st.text_input("新密码", type="password", key="new_password")
        again = st.text_input("再输入一次新密码", type="password", key="new_password_again")
        submitted = st.form_submit_button("修改密码", type="primary")
    st.caption(f"新密码至少 {store.settings.min_password_length} 个字符，不能与用户名相同。")
    if submitted:
        if new != again:
            st.error("两次输入的新密码不一致，请重新输入。")
        else:
            try:
                store.change_password(session.user.username, current, new)
            except AccountError as refused:
                st.error(str(refused), icon=":material/error:")
            else:
                st.session_state[NOTICE_KEY] = "密码已修改。"
                st.rerun()
    st.button("退出登录", key="sign_out_forced", on_click=sign_out)


# ── every run ─────────────────────────────────────────────────────────────────────────────────


def current_session() -> tuple[Session | None, str | None]:
    """The signed-in session, checked now (None when there is none or it has ended), and a
    notice for the user (why the session ended, or "密码已修改")."""
    store = accounts()
    state = st.session_state
    notice = state.pop(NOTICE_KEY, None)
    token = state.get(TOKEN_KEY)
    if token:
        try:
            return store.check_session(token), notice
        except SessionInvalid as ended:
            state.pop(TOKEN_KEY, None)
            return None, str(ended)
    if oidc_configured() and st.user.is_logged_in:
        try:
            session = _oidc_session(store)
        except (OidcRefused, SessionInvalid) as refused:
            return None, str(refused)
        state[TOKEN_KEY] = session.token
        state[SOURCE_KEY] = "oidc"
        return session, notice
    return None, notice


def ask_to_sign_in(
    session: Session | None, notice: str | None, then: Callable[[], object] | None = None
) -> None:
    """The sign-in form, or the forced change of a one-time password; the run stops here,
    before any page or query. ``then``: called once the form is drawn (app.py's warm-up)."""
    if session is None:
        _sign_in_form(accounts(), notice)
    else:
        _change_password_form(accounts(), session)
    if then is not None:
        then()
    st.stop()


def sign_out() -> None:
    """End the session (recorded); an identity-provider sign-in also drops Streamlit's cookie."""
    state = st.session_state
    token = state.pop(TOKEN_KEY, None)
    source = state.pop(SOURCE_KEY, None)
    if token:
        accounts().sign_out(token)
    for key in list(state.keys()):
        del state[key]
    state[NOTICE_KEY] = "已退出登录。"
    if source == "oidc" and oidc_configured():
        st.logout()


def identity(user: User, area: str) -> None:
    """Who is signed in, with their role and area, and 退出登录 (in the sidebar)."""
    st.markdown(
        f"**{markdown_text(user.display_name)}**（{markdown_text(user.username)}）  \n"
        f"{user.role_label} · {markdown_text(area)}"
    )
    st.button("退出登录", key="sign_out", icon=":material/logout:", on_click=sign_out)
