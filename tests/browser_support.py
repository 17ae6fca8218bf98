"""Helpers for the headless-Chromium tests: one dashboard server for the whole session over the
demo warehouse (every role's test account, and st.login wired to a real OpenID Connect
provider process on loopback), one browser, and the sign-in as a user does it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dashboard_support import PASSWORD, RoleAccounts, free_port, streamlit_server
from oidc_support import running_provider

from huinong.pagebench import CHROMIUM, CHROMIUM_ARGS, IDLE_JS
from huinong.pagebench import sign_in as fill_sign_in

# The identity the provider signs in: its role and area come from the ID token's claims.
OIDC_SUB = "zhang@example.cn"


@dataclass(frozen=True)
class DashboardServer:
    base: str
    log: Path
    provider: str
    accounts: RoleAccounts


def write_secrets(path: Path, port: int, provider: str) -> Path:
    """A secrets.toml as an office writes it for its identity provider (here the mock)."""
    path.write_text(
        f"""
[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "test-only-cookie-secret-5b3f0d8c2a9e4f71b6c3d2e1"
client_id = "huinong-dashboard"
client_secret = "test-only"
server_metadata_url = "{provider}/.well-known/openid-configuration"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="session")
def dashboard_server(dashboard_db, test_accounts, tmp_path_factory) -> Iterator[DashboardServer]:
    """`streamlit run app.py` over the demo warehouse, shared by every browser test that only
    reads: each test signs in as the role it needs, in a browser context of its own."""
    folder = tmp_path_factory.mktemp("dashboard_server")
    claims = {
        "sub": OIDC_SUB,
        "email": OIDC_SUB,
        "name": "张三",
        "huinong_role": "township",
        "huinong_township": test_accounts.township,
    }
    with running_provider([claims]) as provider:
        port = free_port()
        secrets = write_secrets(folder / "secrets.toml", port, provider)
        log = folder / "server.log"
        with streamlit_server(
            dashboard_db, log, env=test_accounts.env(), port=port, secrets=secrets
        ) as base:
            yield DashboardServer(base, log, provider, test_accounts)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(
        viewport={"width": 1440, "height": 1000}, locale="zh-CN", accept_downloads=True
    )
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    context.close()


def wait_until_idle(tab) -> None:
    """The script run is over: Streamlit's running indicator has gone."""
    tab.wait_for_function(IDLE_JS, timeout=60_000)


def sign_in(tab, username: str, password: str = PASSWORD) -> None:
    """The sign-in form a new session gets: fill it and press 登录."""
    tab.get_by_label("用户名", exact=True).wait_for()
    fill_sign_in(tab, username, password)


def open_page(tab, url: str, ready_text: str, user: str | None = "jrb") -> float:
    """Open a URL in a fresh session, sign in as ``user`` and wait until the page is
    interactive; seconds taken (the sign-in included)."""
    started = time.perf_counter()
    tab.goto(url)
    if user:
        sign_in(tab, user)
    tab.get_by_text(ready_text).first.wait_for()
    wait_until_idle(tab)
    return time.perf_counter() - started


def new_tab(browser):
    """A tab in a browser context of its own (its own cookies: another person's browser)."""
    context = browser.new_context(
        viewport={"width": 1440, "height": 1000}, locale="zh-CN", accept_downloads=True
    )
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    return tab
