"""Who may see what, in a real headless Chromium against `streamlit run app.py`: each role signs
in on the form and sees only its pages; a 乡镇 account's link to another township is refused
with nothing of it on screen, and its downloads hold only its township; without view_full_id ID
numbers are masked on the page and in the files; five wrong passwords lock an account; a
one-time password must be changed first; the organisation's identity provider (a real OpenID
Connect process on loopback, st.login) signs a user in with the role of its claims, and the
dashboard's own session still expires; text from a link is never markup. The audit trail gets
exactly one row per sign-in, export and publish performed, and no password reaches a log or a
store."""

from __future__ import annotations

import csv
import os
import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest

pytest.register_assert_rewrite("dashboard_support", "browser_support")
from browser_support import (  # noqa: E402
    OIDC_SUB,
    new_tab,
    open_page,
    sign_in,
    wait_until_idle,
)
from dashboard_support import PASSWORD, latest_as_of, query, scalar  # noqa: E402

from huinong.auth import User  # noqa: E402
from huinong.format import WORD_JOINER  # noqa: E402
from huinong.pagebench import CHROMIUM, SETTLED_JS  # noqa: E402

pytest_plugins = ("dashboard_support", "browser_support")

pytestmark = [
    pytest.mark.browser,
    # Under CI a missing chromium is a failure, never a silent skip (as in test_browser.py).
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("CI") != "true",
        reason="Debian chromium is not installed (/usr/bin/chromium): apt-get install chromium",
    ),
]

DASHBOARD_PAGES = ["总览", "信用评级", "熔断监测", "村级钻取", "报表导出"]
MASKED_ID = re.compile(r"^[0-9]{6}\*{8}[0-9]{3}[0-9X]$")
FULL_ID = re.compile(r"[0-9]{17}[0-9X]")


def nav_links(tab) -> list[str]:
    # A link's text is its icon's ligature name, then its title.
    return [
        link.inner_text().strip().split("\n")[-1]
        for link in tab.get_by_test_id("stSidebarNavLink").all()
        if link.is_visible()
    ]


def settle(tab) -> None:
    wait_until_idle(tab)
    tab.wait_for_function(SETTLED_JS, polling=400, timeout=30_000)


def download(tab, section_title: str, button: str, folder):
    """Click a report's download button on 报表导出 and save the file; its path."""
    heading = tab.get_by_role("heading", name=section_title)
    section = tab.get_by_test_id("stVerticalBlock").filter(has=heading).last
    with tab.expect_download() as info:
        section.get_by_role("button", name=button).click()
    saved = folder / info.value.suggested_filename
    info.value.save_as(saved)
    return saved


def shown_text(tab) -> str:
    """The main area's text as a person reads it (without the invisible word joiners that keep
    http:// and www. from becoming links)."""
    return tab.get_by_test_id("stMain").inner_text().replace(WORD_JOINER, "")


def events(trail, kind: str, username: str) -> int:
    return trail.query(events=kind, username=username).height


def test_each_role_sees_its_own_pages_only(dashboard_server, browser):
    expected = {
        "jrb": [*DASHBOARD_PAGES, "数据管理", "用户管理", "使用说明"],
        "ld": [*DASHBOARD_PAGES, "使用说明"],
        "xz": [*DASHBOARD_PAGES, "使用说明"],
        "cun": [*DASHBOARD_PAGES, "使用说明"],
        "yh": [*DASHBOARD_PAGES, "使用说明"],
        "sj": ["审计日志", "使用说明"],
    }
    labels = {user.username: user.role_label for user in dashboard_server.accounts.users.values()}
    for username, pages in expected.items():
        tab = new_tab(browser)
        ready = "哈希链校验通过" if username == "sj" else "评级农户"
        open_page(tab, dashboard_server.base, ready, user=username)
        assert nav_links(tab) == pages, username
        assert f"{labels[username]} ·" in tab.get_by_test_id("stSidebar").inner_text()
        if username == "jrb":
            # A table's own toolbar offers no download: ours (audited) are the only ones.
            tab.get_by_role("link", name="村级钻取").click()
            grid = tab.get_by_test_id("stDataFrame").first
            grid.wait_for()
            settle(tab)
            grid.hover()
            tab.get_by_role("button", name="Search").wait_for()
            assert tab.get_by_role("button", name="Download as CSV").count() == 0
        tab.context.close()
    # A page the role may not use, opened by its URL, is refused by name.
    tab = new_tab(browser)
    open_page(tab, f"{dashboard_server.base}/data", "无权使用「数据管理」页面", user="yh")
    assert not tab.get_by_text("上传报送").count()
    tab.context.close()


def test_a_township_account_sees_and_exports_only_its_township(
    dashboard_server, page, dashboard_db, tmp_path
):
    accounts = dashboard_server.accounts
    trail = accounts.trail()
    own, other = accounts.township, accounts.other_township
    signed_in, exported = events(trail, "sign_in", "xz"), events(trail, "export", "xz")

    # A link to another township: refused, nothing of it drawn, the link set back to its own.
    open_page(
        page, f"{dashboard_server.base}/village?township={other}", "无权查看该乡镇的数据", "xz"
    )
    assert page.get_by_test_id("stDataFrame").count() == 0
    assert page.get_by_test_id("stMetric").count() == 0
    page.wait_for_url(f"**township={own}**")
    assert events(trail, "access_denied", "xz") >= 1
    page.get_by_role("link", name="报表导出").click()
    page.get_by_text("信用评定公示表").first.wait_for()
    settle(page)
    as_of = latest_as_of(dashboard_db)
    own_name = scalar(
        dashboard_db,
        "select any_value(township_name) from main.township_breaker where township_code = ?",
        [own],
    )
    villages = download(page, "村级熔断监测表", "下载 CSV", tmp_path)
    with villages.open(encoding="utf-8-sig", newline="") as handle:
        *rows, total = list(csv.DictReader(handle))
    assert {row["乡镇"] for row in rows} == {own_name}
    assert total["乡镇"] == f"合计 {len(rows)} 个村"
    assert len(rows) == scalar(
        dashboard_db,
        "select count(*) from main.village_breaker where as_of = ? and township_code = ?",
        [as_of, own],
    )

    credit = download(page, "信用户名单", "下载 xlsx", tmp_path)
    sheet = openpyxl.load_workbook(credit).active
    assert "导出人：乡镇丙（乡镇）" in sheet["A2"].value
    headers = [cell.value for cell in sheet[3]]
    body = [row for row in sheet.iter_rows(min_row=4, values_only=True) if row[2]]
    expected = scalar(
        dashboard_db,
        """
        select count(*) from main.household_scores
        where as_of = ? and township_code = ? and credit_limit > 0
        """,
        [as_of, own],
    )
    assert len(body) == expected > 0
    assert {row[headers.index("乡镇")] for row in body} == {own_name}
    ids = [row[headers.index("户主身份证号")] for row in body]
    assert all(MASKED_ID.match(value) for value in ids), ids[:3]

    # Exactly one sign-in and two exports, each with its row count and masked IDs.
    assert events(trail, "sign_in", "xz") == signed_in + 1
    assert events(trail, "export", "xz") == exported + 2
    recorded = trail.query(events="export", username="xz", limit=2)["details"].to_list()
    assert f'"rows": {expected}' in recorded[0] and '"full_ids": false' in recorded[0]
    assert f'"rows": {len(rows)}' in recorded[1] and f'"scope": "{own}"' in recorded[1]


def test_without_view_full_id_the_id_number_is_masked_on_screen_and_in_files(
    dashboard_server, page, dashboard_db, tmp_path
):
    as_of = latest_as_of(dashboard_db)
    household, township, village = query(
        dashboard_db,
        """
        select household_id, township_code, village_code from main.household_scores
        where as_of = ? and list_contains(vetoes, 'V1') order by household_id limit 1
        """,
        [as_of],
    )[0]
    full_id = scalar(
        dashboard_db,
        "select any_value(head_id_number) from main.household_register where household_id = ?",
        [household],
    )
    url = (
        f"{dashboard_server.base}/village?township={township}&village={village}"
        f"&household={household}"
    )
    open_page(page, url, f"农户编号 {household}", user="yh")
    # The veto panel is drawn after the household's heading: read the page once it is there.
    page.get_by_text("一票否决（不宜公开事项）").first.wait_for()
    settle(page)
    shown = page.get_by_test_id("stMain").inner_text()
    assert f"身份证号 {full_id[:6]}********{full_id[-4:]}" in shown
    assert full_id not in page.content()
    # The bank sees that a veto holds, not which: no 黄赌毒 anywhere.
    assert "一票否决（不宜公开事项）" in shown
    assert "黄赌毒" not in page.content()

    page.get_by_role("link", name="报表导出").click()
    page.get_by_text("信用评定公示表").first.wait_for()
    settle(page)
    saved = download(page, "信用户名单", "下载 CSV", tmp_path)
    with saved.open(encoding="utf-8-sig", newline="") as handle:
        ids = [row["户主身份证号"] for row in csv.DictReader(handle)]
    assert ids and all(MASKED_ID.match(value) for value in ids)
    assert not FULL_ID.search(saved.read_text(encoding="utf-8-sig"))


def test_five_wrong_passwords_lock_the_account(dashboard_server, page):
    accounts = dashboard_server.accounts
    accounts.store().add(
        User("suo", "锁定测试", "bank"), actor="test", password=PASSWORD, must_change_password=False
    )
    page.goto(dashboard_server.base)
    for attempt in range(1, 5):
        sign_in(page, "suo", f"wrong-password-{attempt}")
        page.get_by_text(f"再错 {5 - attempt} 次账号将被锁定").wait_for()
    sign_in(page, "suo", "wrong-password-5")
    page.get_by_text("密码错误次数过多，账号已锁定至").wait_for()
    # The right password does not open a locked account.
    sign_in(page, "suo", PASSWORD)
    trail = accounts.trail()
    # The page already says 已锁定 from the fifth attempt: wait for the sixth to be recorded.
    deadline = time.monotonic() + 30
    while events(trail, "sign_in_failed", "suo") < 6 and time.monotonic() < deadline:
        time.sleep(0.2)
    wait_until_idle(page)
    page.get_by_text("账号已锁定至").first.wait_for()
    assert not page.get_by_text("评级农户").count()
    assert events(trail, "account_locked", "suo") == 1
    assert events(trail, "sign_in_failed", "suo") == 6
    assert events(trail, "sign_in", "suo") == 0


def test_a_one_time_password_must_be_changed_before_anything_else(dashboard_server, page):
    accounts = dashboard_server.accounts
    one_time = accounts.store().add(User("xin", "新用户", "leader"), actor="test")
    page.goto(dashboard_server.base)
    sign_in(page, "xin", one_time)
    page.get_by_text("请先设置自己的密码").wait_for()
    assert not page.get_by_test_id("stSidebarNavLink").count()
    new_password = "Xin-de-mima-2024"
    page.get_by_label("当前密码（一次性密码）").fill(one_time)
    page.get_by_label("新密码", exact=True).fill(new_password)
    page.get_by_label("再输入一次新密码").fill(new_password)
    page.get_by_role("button", name="修改密码").click()
    page.get_by_text("评级农户").first.wait_for()
    assert accounts.store().get("xin").must_change_password is False
    assert events(accounts.trail(), "password_changed", "xin") == 1
    # Neither password reached the server's log, the account store or the audit trail.
    files = [dashboard_server.log, *accounts.accounts.parent.glob("*")]
    for path in files:
        content = path.read_bytes()
        for secret in (one_time, new_password, PASSWORD):
            assert secret.encode() not in content, path.name


def test_signing_in_through_the_identity_provider(dashboard_server, page):
    """A real provider process: st.login → its sign-in page → back with the claims' role; the
    dashboard's session is found again after a reload, expires like a local one, and a new
    provider sign-in is needed after that."""
    accounts = dashboard_server.accounts
    trail = accounts.trail()
    before = events(trail, "sign_in", OIDC_SUB)
    page.goto(dashboard_server.base)
    page.get_by_role("button", name="通过单位统一身份认证登录").click()
    page.get_by_placeholder("sub").fill(OIDC_SUB)
    page.get_by_role("button", name="Authorize").click()
    page.get_by_text("评级农户").first.wait_for()
    wait_until_idle(page)
    sidebar = page.get_by_test_id("stSidebar").inner_text().replace(WORD_JOINER, "")
    assert f"张三（{OIDC_SUB}）" in sidebar and "乡镇 ·" in sidebar
    assert nav_links(page) == [*DASHBOARD_PAGES, "使用说明"]
    page.wait_for_url(f"**township={accounts.township}**")
    assert events(trail, "sign_in", OIDC_SUB) == before + 1
    assert (
        '"source": "oidc"'
        in trail.query(events="sign_in", username=OIDC_SUB, limit=1)["details"].item()
    )

    # A reload is a new Streamlit session: the same sign-in finds its dashboard session again.
    page.reload()
    page.get_by_text("评级农户").first.wait_for()
    assert events(trail, "sign_in", OIDC_SUB) == before + 1

    # 31 minutes without a click: Streamlit's cookie is still there, the session is not.
    idle = (datetime.now(UTC) - timedelta(minutes=31)).isoformat(timespec="microseconds")
    with sqlite3.connect(accounts.accounts) as con:
        con.execute(
            "update sessions set last_seen_at = ? where username = ? and ended_at is null",
            [idle, OIDC_SUB],
        )
    page.reload()
    page.get_by_text("超过 30 分钟未操作，请重新登录").wait_for()
    assert events(trail, "session_expired", OIDC_SUB) >= 1
    page.reload()
    page.get_by_role("button", name="通过单位统一身份认证登录").wait_for()
    assert not page.get_by_text("评级农户").count()
    assert events(trail, "sign_in", OIDC_SUB) == before + 1

    # A new sign-in at the provider opens a new session; 退出登录 ends it there too.
    page.get_by_role("button", name="通过单位统一身份认证登录").click()
    page.get_by_placeholder("sub").fill(OIDC_SUB)
    page.get_by_role("button", name="Authorize").click()
    page.get_by_text("评级农户").first.wait_for()
    assert events(trail, "sign_in", OIDC_SUB) == before + 2
    page.get_by_role("button", name="退出登录").click()
    page.get_by_role("button", name="End session").click()
    page.get_by_role("button", name="通过单位统一身份认证登录").wait_for()
    assert events(trail, "sign_out", OIDC_SUB) >= 1


@pytest.mark.parametrize(
    "hostile, markup",
    [
        ("[请点此重新登录](http://evil.example/login)", 'a[href*="evil.example"]'),
        ("![x](http://127.0.0.1:9/x.png)", 'img[src*="127.0.0.1:9"]'),
    ],
)
def test_text_from_a_link_is_never_markup(dashboard_server, page, dashboard_db, hostile, markup):
    from urllib.parse import quote, urlsplit

    outside = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if urlsplit(request.url).netloc in ("evil.example", "127.0.0.1:9")
            else None
        ),
    )
    # A household that is nobody's: refused by name.
    open_page(page, f"{dashboard_server.base}/village?household={quote(hostile)}", "无权查看农户")
    assert hostile in shown_text(page)
    assert page.locator(markup).count() == 0
    # The same value inside a village the account may see: the household view's own message.
    township, village = query(
        dashboard_db, "select township_code, village_code from main.village_breaker limit 1"
    )[0]
    url = (
        f"{dashboard_server.base}/village?township={township}&village={village}"
        f"&household={quote(hostile)}"
    )
    open_page(page, url, "未评级")
    assert f"农户 {hostile}" in shown_text(page)
    assert page.locator(markup).count() == 0
    assert not outside
