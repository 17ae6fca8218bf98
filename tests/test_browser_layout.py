"""Projector-ready, in a real headless Chromium: at 1024×768, 1280×720 and 1920×1080 no KPI
label or value on any page is cut (its text wider than its box) or spills out of its card, each
page has its own browser title, and 会议模式 (switched on once, kept from page to page) draws
larger labels and values. One browser session, each page opened once per mode and looked at in
the three sizes; screenshots in test-artifacts/layout/<mode>_<page>_<width>.png."""

from __future__ import annotations

import os

import pytest

pytest.register_assert_rewrite("dashboard_support", "browser_support")
from browser_support import sign_in, wait_until_idle  # noqa: E402
from dashboard_support import latest_as_of, query  # noqa: E402

from huinong import REPO_ROOT  # noqa: E402
from huinong.pagebench import CHROMIUM, SETTLED_JS  # noqa: E402

pytest_plugins = ("dashboard_support", "browser_support")

ARTIFACTS = REPO_ROOT / "test-artifacts" / "layout"
SIZES = ((1920, 1080), (1280, 720), (1024, 768))
APP_TITLE = "惠农信用看板"
# The 金融办 account's pages, in the menu's order, and whether each shows KPI cards.
PAGES = (
    ("总览", True),
    ("信用评级", True),
    ("熔断监测", True),
    ("村级钻取", False),
    ("报表导出", False),
    ("数据管理", False),
    ("用户管理", False),
    ("使用说明", False),
)

pytestmark = [
    pytest.mark.browser,
    # Under CI a missing chromium is a failure (the browser fixture raises), never a skip.
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("CI") != "true",
        reason="Debian chromium is not installed (/usr/bin/chromium): apt-get install chromium",
    ),
]

# Every KPI card's label and value, and each element inside them that has a box of its own:
# cut when its content is wider than its box (scrollWidth > clientWidth: an ellipsis or a
# clipped number), spilling when it reaches past its card, wrapped when a value takes two lines.
CARDS_JS = """() => {
    const cards = [];
    for (const metric of document.querySelectorAll('[data-testid="stMetric"]')) {
        const card = metric.getBoundingClientRect();
        const label = metric.querySelector('[data-testid="stMetricLabel"]');
        const value = metric.querySelector('[data-testid="stMetricValue"]');
        const problems = [];
        for (const [kind, root] of [["label", label], ["value", value]]) {
            for (const element of [root, ...root.querySelectorAll("*")]) {
                if (element.clientWidth === 0) continue;  // inline: measured by its box
                if (element.scrollWidth > element.clientWidth + 1) {
                    problems.push(`${kind} cut: ${element.tagName} `
                        + `${element.scrollWidth} > ${element.clientWidth}`);
                }
                const box = element.getBoundingClientRect();
                if (box.right > card.right + 1 || box.left < card.left - 1) {
                    problems.push(`${kind} outside its card: ${element.tagName}`);
                }
            }
        }
        const text = value.querySelector("p") || value;
        const size = parseFloat(getComputedStyle(text).fontSize);
        if (text.getBoundingClientRect().height > size * 1.9) problems.push("value wraps");
        const labelText = label.querySelector("p") || label;
        cards.push({
            label: label.innerText.trim(),
            value: value.innerText.trim(),
            labelPx: parseFloat(getComputedStyle(labelText).fontSize),
            valuePx: size,
            problems,
        });
    }
    return cards;
}"""


def settle(tab) -> None:
    wait_until_idle(tab)
    tab.wait_for_function(SETTLED_JS, polling=300, timeout=30_000)


def look(tab, mode: str, name: str, *, cards_expected: bool) -> dict[int, list[dict]]:
    """The page's cards at each size, asserted whole; a screenshot at each size."""
    seen = {}
    for width, height in SIZES:
        tab.set_viewport_size({"width": width, "height": height})
        settle(tab)
        cards = tab.evaluate(CARDS_JS)
        assert not cards_expected or cards, f"{name}: no KPI card at {width}×{height}"
        for card in cards:
            assert not card["problems"], f"{mode} {name} {width}×{height} {card}"
            assert card["label"] and card["value"], card
        tab.screenshot(path=str(ARTIFACTS / f"{mode}_{name}_{width}.png"), full_page=True)
        seen[width] = cards
    tab.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
    return seen


def go(tab, title: str) -> None:
    """Click the page's link (in the sidebar, or in the top bar in 会议模式) and wait for it."""
    tab.get_by_role("link", name=title, exact=True).first.click()
    tab.wait_for_function(
        "title => document.title === title", arg=f"{title} · {APP_TITLE}", timeout=30_000
    )
    tab.get_by_role("heading", name=title).first.wait_for()
    settle(tab)


def test_kpi_cards_fit_at_projector_sizes_and_meeting_mode_everywhere(
    dashboard_server, page, dashboard_db
):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab = page
    tab.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
    tab.goto(dashboard_server.base)
    sign_in(tab, "jrb")
    tab.get_by_text("评级农户").first.wait_for()
    settle(tab)

    normal: dict[str, dict] = {}
    for title, has_cards in PAGES:
        go(tab, title)
        normal[title] = look(tab, "normal", title, cards_expected=has_cards)

    # One household, found by the sidebar search: its cards are in 元 (the widest values).
    household = query(
        dashboard_db,
        """
        select household_id from main.household_scores
        where as_of = ? order by credit_limit desc, household_id limit 1
        """,
        [latest_as_of(dashboard_db)],
    )[0][0]
    go(tab, "总览")
    search = tab.get_by_label("找农户", exact=True)
    search.fill(household)
    search.press("Enter")
    tab.get_by_role("button", name=f"（{household}）").first.click()
    tab.get_by_text("授信额度（元）").first.wait_for()
    settle(tab)
    assert f"household={household}" in tab.url
    look(tab, "normal", "农户", cards_expected=True)

    # 会议模式: switched on once, on 总览; every page after it keeps it (and says so in its link).
    go(tab, "总览")
    tab.get_by_text("会议模式", exact=True).first.click()
    tab.wait_for_url("**meeting=1**")
    settle(tab)
    assert not tab.get_by_test_id("stSidebar").is_visible()
    for title, has_cards in PAGES:
        go(tab, title)
        assert "meeting=1" in tab.url, (title, tab.url)
        switch = tab.get_by_role("switch", name="会议模式")
        assert switch.is_checked(), title
        heading = tab.get_by_role("heading", level=1).first.inner_text()
        if has_cards:
            # The month and the scope in the title itself: the room reads what it looks at.
            assert " · " in heading and "年" in heading, heading
        meeting = look(tab, "meeting", title, cards_expected=has_cards)
        if has_cards:
            before = normal[title][1280][0]
            now = meeting[1280][0]
            assert now["labelPx"] >= before["labelPx"] * 1.3, (title, before, now)
            assert now["valuePx"] >= before["valuePx"] * 1.3, (title, before, now)
