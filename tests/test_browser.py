"""The main paths in a real headless Chromium against `streamlit run app.py`: a deep link, the
drill-down district → township → village → household by clicking, a CSV download, a
screenshot of every page (test-artifacts/screenshots/<page>.png); on 数据管理, uploading a
delivery, its report, publishing it, and page loads while the warehouse is rebuilt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.register_assert_rewrite("dashboard_support", "browser_support")
from browser_support import open_page, sign_in, wait_until_idle  # noqa: E402
from dashboard_support import (  # noqa: E402
    BAD_ROWS,
    HOSTILE_NAMES,
    NEW_HOUSEHOLDS,
    build_tiny_store,
    districts_rated,
    latest_as_of,
    query,
    streamlit_server,
    write_next_delivery,
)

from huinong import REPO_ROOT  # noqa: E402
from huinong.intake import list_deliveries  # noqa: E402
from huinong.pagebench import CHROMIUM, SETTLED_JS  # noqa: E402
from huinong.pagebench import PAGES as BENCH_PAGES  # noqa: E402
from pages._signin import PAGE_COMPONENTS, WARMED_FLAG, component_chunks  # noqa: E402

pytest_plugins = ("dashboard_support", "browser_support")

ARTIFACTS = REPO_ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
PAGES = {
    "overview": "",
    "grades": "grades",
    "breaker": "breaker",
    "village": "village",
    "exports": "exports",
    "data": "data",
}
# What each page shows once its data is on screen (the page benchmark waits for the same).
READY_TEXT = {path: text for path, (_link, text) in BENCH_PAGES.items()}
ROW_HEIGHT = 35  # st.dataframe's default row (and header) height, in pixels

pytestmark = [
    pytest.mark.browser,
    # Under CI a missing chromium is a failure (the fixture below raises), never a silent skip.
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("CI") != "true",
        reason="Debian chromium is not installed (/usr/bin/chromium): apt-get install chromium",
    ),
]


@pytest.fixture
def server(dashboard_server) -> str:
    return dashboard_server.base


def settle(tab) -> None:
    """The layout has stopped moving (charts and tables draw after the run ends): a click lands
    on the element it aimed at, not on the one that moved under the pointer."""
    wait_until_idle(tab)
    tab.wait_for_function(SETTLED_JS, polling=400, timeout=30_000)


def report_section(tab, title: str):
    """The bordered box of one report on 报表导出: the innermost block holding its heading."""
    heading = tab.get_by_role("heading", name=title)
    return tab.get_by_test_id("stVerticalBlock").filter(has=heading).last


def click_first_row(tab, table_index: int = 0) -> None:
    """Select the first row of a table by clicking its row marker (the grid is a canvas)."""
    grid = tab.get_by_test_id("stDataFrame").nth(table_index)
    grid.wait_for()
    tab.wait_for_timeout(500)  # the canvas draws after the element appears
    box = grid.bounding_box()
    tab.mouse.click(box["x"] + 12, box["y"] + ROW_HEIGHT + ROW_HEIGHT / 2)


def screenshot(tab, name: str) -> Path:
    """The whole page, not only the visible part: the window is made as tall as the content."""
    height = tab.evaluate(
        "() => Math.max(...[...document.querySelectorAll("
        '\'[data-testid="stMain"], [data-testid="stMainBlockContainer"]\')]'
        ".map(element => element.scrollHeight), 1000)"
    )
    tab.set_viewport_size({"width": 1440, "height": min(int(height) + 80, 12_000)})
    tab.wait_for_timeout(800)  # charts resize to the new window
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    tab.screenshot(path=str(path))
    return path


def test_a_deep_link_opens_the_same_household_view(server, page, dashboard_db):
    # First in the module on purpose: the first request a fresh server gets is the case where
    # Streamlit would run pages/village.py without app.py (see pages/_ui.py).
    as_of = latest_as_of(dashboard_db)
    household, township, village, grade, score = query(
        dashboard_db,
        """
        select household_id, township_code, village_code, grade, score
        from main.household_scores where as_of = ? and loans_on_book > 0
        order by household_id limit 1
        """,
        [as_of],
    )[0]
    url = (
        f"{server}/village?as_of={as_of.isoformat()}&township={township}"
        f"&village={village}&household={household}"
    )
    open_page(page, url, f"农户编号 {household}")
    assert card_value(page, "信用等级") == grade
    # The last step of 评分过程 (the chart's axis says the same, drawn later).
    page.get_by_role("listitem").filter(has_text=f"最终得分 {score}").first.wait_for()
    assert f"household={household}" in page.url
    screenshot(page, "household")


def test_drill_down_from_district_to_household_by_clicking(server, page, dashboard_db):
    open_page(page, server, "评级农户")
    page.get_by_role("link", name="村级钻取").click()
    page.wait_for_url("**/village**")
    page.get_by_text("乡镇一览").first.wait_for()
    click_first_row(page)
    page.wait_for_url("**township=**")
    page.get_by_text("行政村一览").first.wait_for()
    wait_until_idle(page)
    click_first_row(page)
    page.wait_for_url("**village=**")
    page.get_by_text("农户一览").first.wait_for()
    wait_until_idle(page)
    click_first_row(page)
    page.wait_for_url("**household=**")
    household = page.url.split("household=")[1].split("&")[0]
    page.get_by_text(f"农户编号 {household}").first.wait_for()
    village = page.url.split("village=")[1].split("&")[0]
    first_household = query(
        dashboard_db,
        """
        select min(household_id) from main.household_scores
        where as_of = (select max(as_of) from main.kpi_monthly) and village_code = ?
        """,
        [village],
    )[0][0]
    assert household == first_household
    # The breadcrumb leads back up to the district.
    district = query(
        dashboard_db,
        "select any_value(scope_name) from main.kpi_monthly where scope_level = 'district'",
    )[0][0]
    page.get_by_role("button", name=f"{district} ›").click()
    page.wait_for_url(lambda url: "township=" not in url)
    page.get_by_text("乡镇一览").first.wait_for()


def test_downloading_the_village_breaker_table_as_csv(server, page, dashboard_db, tmp_path):
    open_page(page, f"{server}/exports", "村级熔断监测表")
    settle(page)
    with page.expect_download() as download_info:
        report_section(page, "村级熔断监测表").get_by_role("button", name="下载 CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("村级熔断监测表_")
    assert download.suggested_filename.endswith(".csv")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    body = saved.read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("乡镇,行政村代码,行政村")
    villages = query(
        dashboard_db,
        "select count(*) from main.village_breaker where as_of = (select max(as_of) from main.village_breaker)",
    )[0][0]
    # A header, one line per village, and the totals row (合计 N 个村).
    assert len(lines) == 1 + villages + 1
    assert lines[-1].startswith(f"合计 {villages} 个村,")


def test_downloading_the_township_summary_as_xlsx(server, page, dashboard_db, tmp_path):
    import openpyxl

    open_page(page, f"{server}/exports", "乡镇汇总表")
    settle(page)
    with page.expect_download() as download_info:
        report_section(page, "乡镇汇总表").get_by_role("button", name="下载 xlsx").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    sheet = openpyxl.load_workbook(saved).active
    district, rated = query(
        dashboard_db,
        """
        select scope_name, households_rated from main.kpi_monthly
        where scope_level = 'district' and as_of = (select max(as_of) from main.kpi_monthly)
        """,
    )[0]
    assert sheet["A1"].value.startswith(f"{district} 乡镇汇总表")
    assert "生成时间" in sheet["A2"].value
    headers = [cell.value for cell in sheet[3]]
    totals = [cell.value for cell in sheet[sheet.max_row]]
    assert totals[0] == "全区合计" and totals[headers.index("评级户数")] == rated


def test_every_page_renders_and_is_screenshotted(server, page):
    timings = {}
    for name, path in PAGES.items():
        timings[name] = round(open_page(page, f"{server}/{path}", READY_TEXT[name]), 2)
        assert not page.get_by_test_id("stException").count(), name
        shot = screenshot(page, name)
        assert shot.stat().st_size > 10_000
        page.set_viewport_size({"width": 1440, "height": 1000})
    # Recorded for the report; speed is judged by the benchmark, not asserted here.
    (ARTIFACTS / "page_timings.json").write_text(json.dumps(timings, ensure_ascii=False, indent=2))


def test_meeting_mode_hides_the_sidebar(server, page):
    open_page(page, f"{server}/?meeting=1", "评级农户")
    sidebar = page.get_by_test_id("stSidebar")
    assert sidebar.count() == 0 or not sidebar.is_visible()
    screenshot(page, "overview_meeting")


# ── 数据管理: upload, publish, rebuild while the dashboard is in use ──────────────────────────

REBUILD_TIMEOUT_MS = 300_000


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    return build_tiny_store(tmp_path_factory.mktemp("browser_store"), seed=20240901)


@pytest.fixture
def site(tiny_base, tmp_path, test_accounts):
    """A tiny store and its warehouse of the test's own, served by a server of its own (the
    session's test accounts: 金融办 publishes)."""
    copy = tiny_base.copy(tmp_path / "site")
    with streamlit_server(
        copy.db, tmp_path / "server.log", store=copy.store, env=test_accounts.env()
    ) as base:
        yield copy, base


def card_value(tab, label: str) -> str:
    card = tab.get_by_test_id("stMetric").filter(has_text=label).first
    return card.get_by_test_id("stMetricValue").inner_text().strip()


def test_uploading_a_delivery_shows_its_report_then_publishes_it(
    site, page, tmp_path, test_accounts
):
    store, base = site
    trail = test_accounts.trail()
    uploads, publishes = (trail.query(events=kind).height for kind in ("upload", "publish"))
    before = districts_rated(store.db)
    delivery = write_next_delivery(store.raw_dir, tmp_path / "next", head_names=HOSTILE_NAMES)
    open_page(page, f"{base}/data", "上传报送")
    page.locator("input[type=file]").set_input_files(str(delivery))
    page.get_by_text("校验报告（尚未发布）").wait_for()
    wait_until_idle(page)
    assert card_value(page, "读取") == f"{NEW_HOUSEHOLDS + len(BAD_ROWS)} 行"
    assert card_value(page, "载入") == f"{NEW_HOUSEHOLDS} 行"
    assert card_value(page, "隔离") == f"{len(BAD_ROWS)} 行"
    assert page.get_by_text("户主身份证号校验位错误").first.is_visible()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="下载隔离记录（xlsx，退回村组核实）").click()
    saved = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(saved)
    import openpyxl

    sheet = openpyxl.load_workbook(saved).active
    assert [cell.value for cell in sheet[3]] == ["文件", "行号", "记录编号", "原始内容", "原因"]
    screenshot(page, "data_report")
    page.set_viewport_size({"width": 1440, "height": 1000})

    page.get_by_label("报送单位").fill("上村村委会")
    page.get_by_label("报送单位").press("Enter")
    wait_until_idle(page)
    page.get_by_role("button", name="发布", exact=True).click()
    page.get_by_text("已接收第 0002 批报送").first.wait_for()
    page.get_by_text("数据更新完成").first.wait_for(timeout=REBUILD_TIMEOUT_MS)
    wait_until_idle(page)
    screenshot(page, "data_published")
    page.set_viewport_size({"width": 1440, "height": 1000})
    open_page(page, base, "评级农户")
    assert card_value(page, "评级农户") == f"{before + NEW_HOUSEHOLDS:,} 户"
    # Exactly one audit row for the one publish, and one for the one upload it came from.
    assert trail.query(events="upload").height == uploads + 1
    assert trail.query(events="publish").height == publishes + 1
    published = trail.query(events="publish", limit=1).row(0, named=True)
    assert published["username"] == "jrb" and '"delivery": "0002"' in published["details"]

    # The new households' hostile names reach a CSV downloaded from the page as text: a
    # leading quote, so that Excel shows them instead of running them.
    township, village = query(
        store.db,
        "select township_code, village_code from main.household_scores where household_id = ?",
        ["HHNEW00000"],
    )[0]
    open_page(page, f"{base}/village?township={township}&village={village}", "农户一览")
    settle(page)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="下载 CSV").first.click()
    saved = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(saved)
    import csv as csv_module

    with saved.open(encoding="utf-8-sig", newline="") as handle:
        names = {row["农户编号"]: row["户主姓名"] for row in csv_module.DictReader(handle)}
    hostile = {f"HHNEW{index:05d}": name for index, name in enumerate(HOSTILE_NAMES)}
    mine = {key: names[key] for key in hostile if key in names}
    assert mine, "the new households are not in their village's list"
    assert mine == {key: "'" + hostile[key] for key in mine}


def test_pages_keep_loading_while_the_warehouse_is_rebuilt(site, page):
    """Every page, over and over, while rebuilds run and publish: no page load fails. Then a
    rebuild that fails leaves the overview on the previous data."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from huinong import rebuild

    store, base = site
    rebuilds_wanted = 2
    rebuilds_done = 0
    loads = failures = loads_while_running = 0
    failed_pages = []
    rebuild.start_rebuild(store.store, store.db)
    inodes = {store.db.stat().st_ino}
    deadline = time.monotonic() + REBUILD_TIMEOUT_MS / 1000 * rebuilds_wanted
    while rebuilds_done < rebuilds_wanted:
        for name, path in PAGES.items():
            running = rebuild.rebuild_status(store.db).running
            try:
                open_page(page, f"{base}/{path}", READY_TEXT[name])
                failed = page.get_by_test_id("stException").count() > 0
            except PlaywrightTimeout:
                failed = True
            loads += 1
            loads_while_running += running
            if failed:
                failures += 1
                failed_pages.append(name)
        status = rebuild.rebuild_status(store.db)
        if not status.running:
            assert status.state == "succeeded", status.message
            rebuilds_done += 1
            inodes.add(store.db.stat().st_ino)
            if rebuilds_done < rebuilds_wanted:
                rebuild.start_rebuild(store.store, store.db)
        assert time.monotonic() < deadline
    (ARTIFACTS / "rebuild_page_loads.json").parent.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "rebuild_page_loads.json").write_text(
        json.dumps(
            {
                "page_loads": loads,
                "page_loads_while_rebuilding": loads_while_running,
                "failed_page_loads": failures,
                "failed_pages": failed_pages,
                "rebuilds": rebuilds_done,
                "warehouse_files_published": len(inodes) - 1,
            },
            ensure_ascii=False,
            indent=2,
        )
    )
    assert failures == 0, failed_pages
    assert loads_while_running > 0
    assert len(inodes) == rebuilds_wanted + 1

    # A rebuild that fails (a file of the store went missing) leaves the previous data.
    open_page(page, base, "评级农户")
    shown = card_value(page, "评级农户")
    assert shown == f"{districts_rated(store.db):,} 户"
    (list_deliveries(store.store)[0].path / "loans.csv").unlink()
    open_page(page, f"{base}/data", "上传报送")
    page.get_by_role("button", name="重新更新").click()
    page.get_by_text("数据更新失败").first.wait_for(timeout=REBUILD_TIMEOUT_MS)
    # The next element of the same run may reach the browser a moment later: wait, don't peek.
    page.get_by_text("看板仍显示原有数据").first.wait_for(timeout=10_000)
    assert "Traceback" not in page.content()
    screenshot(page, "data_failed")
    page.set_viewport_size({"width": 1440, "height": 1000})
    open_page(page, base, "评级农户")
    assert card_value(page, "评级农户") == shown


def test_the_sign_in_form_loads_the_pages_code_while_the_user_types(server, page):
    # Every element kind named is found in the installed Streamlit (a rename after an upgrade
    # would silently end the warm-up).
    found = {name.split(".")[0] for name in component_chunks()}
    assert found == set(PAGE_COMPONENTS)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url.rsplit("/", 1)[-1]))
    page.goto(server)
    page.get_by_label("用户名", exact=True).wait_for()
    page.wait_for_function(f"() => window.{WARMED_FLAG} !== undefined", timeout=30_000)
    before_sign_in = {name.split(".")[0] for name in requested if name.endswith(".js")}
    assert {"PlotlyChart", "DataFrame", "Metric"} <= before_sign_in
    # Nothing of it is drawn: the form is all the page shows.
    assert not page.locator(".st-key-warm_browser").is_visible()
    requested.clear()
    sign_in(page, "jrb")
    page.get_by_text(READY_TEXT["overview"]).first.wait_for()
    wait_until_idle(page)
    settle(page)
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 2
    # 总览's charts, cards and tables draw with the code loaded before 登录.
    # (Their style sheets are fetched when first drawn: a few kilobytes.)
    scripts = [name for name in requested if name.endswith(".js")]
    assert not [name for name in scripts if name.startswith(("PlotlyChart.", "DataFrame."))]


def test_the_page_benchmark_reports_every_page(dashboard_db, tmp_path):
    # Its own process: playwright's sync API runs one instance per thread, and this module's
    # browser fixture holds this thread's.

    out = tmp_path / "pages.json"
    command = [sys.executable, "-m", "huinong.pagebench", "--db", str(dashboard_db)]
    finished = subprocess.run(
        [*command, "--repeat", "1", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "点击超过 1 秒" in finished.stdout
    assert "新浏览器打开链接，到登录页可用超过 1.5 秒" in finished.stdout
    assert "浏览器已有缓存打开链接，登录后到页面可用超过 1.5 秒" in finished.stdout
    results = json.loads(out.read_text(encoding="utf-8"))
    assert set(results["pages"]) == set(BENCH_PAGES) == set(PAGES)
    for row in results["pages"].values():
        for browser in ("", "cached_"):
            # One link open each (--repeat 1): the form, then the page after 登录, within the
            # whole; the form after Streamlit's scripts, after the HTML.
            form, signed_in = row[f"{browser}form_median_s"], row[f"{browser}signed_in_median_s"]
            assert form > 0 and signed_in > 0
            assert form + signed_in <= row[f"{browser}load_median_s"] <= row[f"{browser}load_max_s"]
            times = row[f"{browser}form_browser_median_ms"]
            # (seconds rounded to 10 ms in pages.json)
            assert 0 < times["html"] <= times["scripts"] <= times["form"] <= form * 1000 + 10
            # The bench types once the form has loaded the pages' code.
            assert times["form"] <= times["warmed"] <= row[f"{browser}load_median_s"] * 1000 + 10
            assert row[f"{browser}signed_in_server_cpu_median_s"] > 0
        assert 0 < row["click_median_s"] <= row["click_max_s"]
        assert row["load_server_cpu_median_s"] > 0 and row["click_server_cpu_median_s"] > 0
