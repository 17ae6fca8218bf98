"""python -m huinong.pagebench: how soon each dashboard page is interactive, in a real browser.

Starts `streamlit run app.py` over a warehouse (with an account store of its own and one 金融办
account), drives Debian's chromium with playwright and, for each page, measures:

1. a link opened in a new session. The dashboard keeps no session in the browser, so a new
   session always signs in; the link open is timed in the two parts a user waits for:
   (a) link opened → the sign-in form interactive (its input on screen, the script run ended);
   (b) 登录 pressed → the linked page interactive (its data on screen, the script run ended);
   and as a whole, the typing included (the "cold link open" of earlier benches). Typing the
   password is the user's own time: the target applies to (a) and to (b) each. While the form
   is on screen, it loads the code the pages draw with (pages/_signin.py, warm_browser); the
   bench types once that is done, as a person's typing takes longer, and reports when it was
   (``warmed``, by the browser's clock from the navigation's start). Each link open
   is measured twice over: in a new browser (nothing cached: a browser's first visit, as
   earlier benches did) and in a new tab of a browser that has opened the dashboard before
   (Streamlit's scripts cached: a returning user's usual case). For (a) the browser's timestamps
   split it into the HTML received and Streamlit's JavaScript loaded (the load event); what is
   left is the websocket, the session's start, the script run and drawing the form;
2. a click: signed in on another page, the sidebar link is clicked and the same wait applies.

Times are taken by the page's own clock (performance.now()): the click as the page received it,
the end as the first animation frame in which the page is interactive, so that playwright's round
trips (slow on a loaded machine) are not counted. The first link opened after the server starts
(imports, cold caches) is reported apart. Each measure gives its wall time and the CPU time the
server process spent in it: on a machine shared with other work the wall time grows, the server's
CPU does not; the load average is recorded at the start and the end. Targets: a click interactive
within 1 s; each part of a link opened, (a) and (b), within 1.5 s. Speed is judged here, not in
timed tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets as secrets_module
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from huinong import REPO_ROOT
from huinong.bench import machine
from pages._signin import WARMED_FLAG

APP = REPO_ROOT / "app.py"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
# Page path → (sidebar link, text shown once the page's data is on screen).
PAGES = {
    "overview": ("总览", "评级农户"),
    "grades": ("信用评级", "评分分布"),
    "breaker": ("熔断监测", "各行政村不良率"),
    "village": ("村级钻取", "乡镇一览"),
    "exports": ("报表导出", "信用评定公示表"),
    "data": ("数据管理", "上传报送"),
}
TARGET_SECONDS = 1.0  # a click: the page interactive within 1 s
# A link opened in a new session: (a) the sign-in form, and (b) after 登录 the linked page,
# each interactive within 1.5 s (the typing between them is the user's).
TARGET_FORM_SECONDS = 1.5
TARGET_SIGNED_IN_SECONDS = 1.5
# The base URL of each running server → its process id, for the server's CPU time per measure.
SERVER_PIDS: dict[str, int] = {}
IDLE_JS = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
# The bench's own clock runs in the page, so that playwright's round trips (slow on a loaded
# machine) are not counted: a click on 登录 or a sidebar link is stamped when the page gets it,
# and READY_JS, polled on every animation frame, stamps the first frame in which the page is
# interactive: what it waits for (a CSS selector or a text) in the main area, and Streamlit's
# script run over (the app's script state, not only the running indicator, which Streamlit
# shows only after a run has taken a while).
CLICK_STAMP_JS = """() => {
    window.__huinongClickAt = undefined;
    window.__huinongReadyAt = undefined;
    document.addEventListener('click', () => {
        window.__huinongClickAt = window.__huinongClickAt ?? performance.now();
    }, {capture: true, once: true});
}"""
READY_JS = """([selector, text]) => {
    const app = document.querySelector('[data-testid="stApp"]');
    const main = document.querySelector('[data-testid="stMain"]');
    const ready = !!app && !!main
        && app.getAttribute('data-test-script-state') === 'notRunning'
        && !document.querySelector('[data-testid="stStatusWidget"]')
        && (selector ? !!main.querySelector(selector) : main.textContent.includes(text));
    if (ready && window.__huinongReadyAt === undefined) {
        window.__huinongReadyAt = performance.now();
    }
    return ready;
}"""
# The page has stopped moving: charts and tables draw after the script run has ended.
SETTLED_JS = """() => {
    const main = document.querySelector('[data-testid="stMain"]') || document.body;
    const height = main.scrollHeight;
    const settled = window.__huinongHeight === height;
    window.__huinongHeight = height;
    return settled;
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(
    db_path: Path,
    log_path: Path,
    store: Path | None = None,
    *,
    env: dict[str, str] | None = None,
    port: int | None = None,
    secrets: Path | None = None,
) -> Iterator[str]:
    """`streamlit run app.py` on a free port (or ``port``) with HUINONG_DB (and HUINONG_STORE)
    set, and ``env`` (HUINONG_ACCOUNTS …); yields the base URL. ``secrets``: the secrets.toml
    to read (an ``[auth]`` section for st.login); without it an empty one, so that a
    developer's own .streamlit/secrets.toml never reaches a test server."""
    port = port or free_port()
    env = {**os.environ, **(env or {}), "HUINONG_DB": str(db_path)}
    if store is not None:
        env["HUINONG_STORE"] = str(store)
    if secrets is None:
        secrets = log_path.parent / "no-secrets.toml"
        secrets.write_text("", encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        "--secrets.files",
        str(secrets),
    ]
    log = open(log_path, "wb")  # noqa: SIM115 - closed below, after the server stops
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    SERVER_PIDS[base] = process.pid
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"streamlit exited early; see {log_path}")
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start within 60 s; see {log_path}")
            time.sleep(0.3)
        yield base
    finally:
        SERVER_PIDS.pop(base, None)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _ready(tab, text: str) -> None:
    tab.get_by_text(text).first.wait_for()
    tab.wait_for_function(IDLE_JS, timeout=60_000)


SIGN_IN_INPUT = 'input[aria-label="用户名"]'


def _ready_at(tab, *, selector: str | None = None, text: str | None = None) -> float:
    """Wait until the page is interactive (READY_JS); the page's clock (ms) when it became so."""
    tab.wait_for_function(READY_JS, arg=[selector, text], polling="raf", timeout=60_000)
    return tab.evaluate("window.__huinongReadyAt")


def sign_in(tab, username: str, password: str) -> None:
    """Fill the sign-in form the dashboard shows a new session, and press 登录."""
    tab.get_by_label("用户名", exact=True).fill(username)
    tab.get_by_label("密码", exact=True).fill(password)
    tab.get_by_role("button", name="登录", exact=True).click()


@dataclass(frozen=True)
class BenchAccount:
    username: str
    password: str
    env: dict[str, str]


def bench_account(folder: Path) -> BenchAccount:
    """A 金融办 account in an account store of its own in ``folder`` (for the server's env)."""
    from huinong.audit import AuditTrail
    from huinong.auth import Accounts, User

    accounts, audit = folder / "accounts.sqlite", folder / "audit.sqlite"
    password = secrets_module.token_urlsafe(16)
    store = Accounts(accounts, audit=AuditTrail(audit))
    store.add(
        User("pagebench", "页面测速", "office"),
        actor="pagebench",
        password=password,
        must_change_password=False,
    )
    env = {"HUINONG_ACCOUNTS": str(accounts), "HUINONG_AUDIT": str(audit)}
    return BenchAccount("pagebench", password, env)


# The browser's own clock for part (a): ms from the navigation's start to the HTML received and
# to Streamlit's JavaScript loaded (the load event); the form interactive is READY_JS's stamp.
BROWSER_TIMES_JS = """() => {
    const nav = performance.getEntriesByType('navigation')[0];
    return {html: nav.responseEnd, scripts: nav.loadEventEnd};
}"""


@dataclass(frozen=True)
class LinkOpen:
    """A link opened in a new session, in wall and server CPU seconds: (a) to the sign-in form
    interactive, (b) from 登录 to the page interactive, and the whole (typing included);
    ``browser_ms``: part (a) by the browser's clock (BROWSER_TIMES_JS), and the pages' code
    loaded ("warmed")."""

    form: float
    form_cpu: float
    signed_in: float
    signed_in_cpu: float
    total: float
    total_cpu: float
    browser_ms: dict[str, float]


VIEWPORT = {"width": 1440, "height": 1000}


def _load(browser, url: str, text: str, account: BenchAccount, base: str, cached=None) -> LinkOpen:
    """A new session opens ``url``, and signs in on the form it gets. Times by the page's clock:
    (a) from the navigation's start, (b) from the click on 登录. ``cached``: a browser context
    that has opened the dashboard before (Streamlit's scripts in its HTTP cache, served
    "immutable"), opened in a new tab of it (a new session all the same: nothing of a sign-in
    is kept in the browser); without it a new browser context, with nothing cached (the first
    visit of a browser)."""
    context = cached or browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    cpu_start = _server_cpu(base)
    tab.goto(url)
    form_at = _ready_at(tab, selector=SIGN_IN_INPUT)
    cpu_form = _server_cpu(base)
    browser_ms = tab.evaluate(BROWSER_TIMES_JS)
    # A person types a user name and a password in seconds; meanwhile the form loads the code
    # the pages draw with (pages/_signin.py, warm_browser). The bench types once it has: how long
    # that took after the form was interactive is reported beside (a) and (b).
    tab.wait_for_function(f"() => window.{WARMED_FLAG} !== undefined", timeout=30_000)
    warmed_at = tab.evaluate(f"window.{WARMED_FLAG}")
    tab.get_by_label("用户名", exact=True).fill(account.username)
    tab.get_by_label("密码", exact=True).fill(account.password)
    tab.evaluate(CLICK_STAMP_JS)
    cpu_submitted = _server_cpu(base)
    tab.get_by_role("button", name="登录", exact=True).click()
    page_at = _ready_at(tab, text=text)
    cpu_end = _server_cpu(base)
    clicked_at = tab.evaluate("window.__huinongClickAt")
    tab.close()
    if cached is None:
        context.close()
    return LinkOpen(
        form=form_at / 1000,
        form_cpu=cpu_form - cpu_start,
        signed_in=(page_at - clicked_at) / 1000,
        signed_in_cpu=cpu_end - cpu_submitted,
        total=page_at / 1000,
        total_cpu=cpu_end - cpu_start,
        browser_ms={key: round(value) for key, value in browser_ms.items()}
        | {"form": form_at, "warmed": round(warmed_at)},
    )


def _median(values) -> float:
    return round(statistics.median(values), 2)


def link_open_row(opens: list[LinkOpen], prefix: str = "") -> dict:
    """Medians (and the total's maximum) of a page's link opens, for pages.json; ``prefix``
    "cached_" for the opens in a browser that has the dashboard's scripts cached."""
    row = {
        "form_median_s": _median(o.form for o in opens),
        "form_server_cpu_median_s": _median(o.form_cpu for o in opens),
        "form_browser_median_ms": {
            key: round(statistics.median(o.browser_ms[key] for o in opens))
            for key in opens[0].browser_ms
        },
        "signed_in_median_s": _median(o.signed_in for o in opens),
        "signed_in_server_cpu_median_s": _median(o.signed_in_cpu for o in opens),
        "load_median_s": _median(o.total for o in opens),
        "load_max_s": round(max(o.total for o in opens), 2),
        "load_server_cpu_median_s": _median(o.total_cpu for o in opens),
    }
    return {prefix + key: value for key, value in row.items()}


def _describe(row: dict, prefix: str = "") -> str:
    def part(name: str) -> str:
        wall, cpu = row[f"{prefix}{name}_median_s"], row[f"{prefix}{name}_server_cpu_median_s"]
        return f"{wall:.2f} 秒（服务器 CPU {cpu:.2f}）"

    warmed = row[f"{prefix}form_browser_median_ms"].get("warmed")
    typing = f"（页面代码载入于打开后 {warmed / 1000:.2f} 秒）" if warmed is not None else ""
    return f"登录页 {part('form')}{typing}，登录后 {part('signed_in')}，共 {part('load')}"


def _click(
    browser, base: str, path: str, link: str, text: str, account: BenchAccount
) -> tuple[float, float]:
    """From 总览 (or 熔断监测 for 总览 itself), once it has finished drawing, click the page's
    sidebar link: (wall seconds by the page's clock, the server's CPU seconds). The page clicked
    from must not show the text waited for (信用评级 shows 评级农户, 总览's): a new run is only
    known by that text."""
    start = "breaker" if path == "overview" else "overview"
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    tab.goto(_url(base, start))
    sign_in(tab, account.username, account.password)
    _ready(tab, PAGES[start][1])
    # As a user would: the page they are on has finished drawing before they click away.
    tab.wait_for_function(SETTLED_JS, polling=400, timeout=30_000)
    shown = tab.evaluate("document.querySelector('[data-testid=\"stMain\"]').textContent")
    if text in shown:
        raise RuntimeError(f"{start} 页已显示“{text}”，无法判断点击后的 {path} 页何时画好")
    tab.evaluate(CLICK_STAMP_JS)
    cpu = _server_cpu(base)
    tab.get_by_role("link", name=link, exact=True).click()
    tab.wait_for_url(f"**/{path if path != 'overview' else ''}*")
    ready_at = _ready_at(tab, text=text)
    cpu = _server_cpu(base) - cpu
    seconds = (ready_at - tab.evaluate("window.__huinongClickAt")) / 1000
    context.close()
    return seconds, cpu


def _server_cpu(base: str) -> float:
    """CPU seconds the server process has used so far (user + system, its threads included)."""
    import psutil

    times = psutil.Process(SERVER_PIDS[base]).cpu_times()
    return times.user + times.system


def _url(base: str, path: str) -> str:
    return f"{base}/{'' if path == 'overview' else path}"


def measure_pages(
    db_path: Path, repeats: int = 3, progress=print, only: list[str] | None = None
) -> dict:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise SystemExit("需要 Debian 的 chromium（/usr/bin/chromium）：apt-get install chromium")
    results: dict = {
        "machine": machine(),
        "warehouse": str(db_path),
        "repeats": repeats,
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "pages": {},
    }
    with (
        tempfile.TemporaryDirectory(prefix="huinong-pagebench-") as work,
        sync_playwright() as playwright,
    ):
        account = bench_account(Path(work))
        with streamlit_server(db_path, Path(work) / "server.log", env=account.env) as base:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            first = link_open_row([_load(browser, base, PAGES["overview"][1], account, base)])
            results["first_load_after_start"] = first
            progress(f"  服务器启动后首次打开链接：{_describe(first)}")
            # A returning user's browser: every page opened once (not measured), so that its
            # cache holds what each page loads.
            cached = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
            for path, (_, text) in PAGES.items():
                _load(browser, _url(base, path), text, account, base, cached)
            for path, (link, text) in PAGES.items():
                if only and path not in only:
                    continue
                url = _url(base, path)
                loads = [_load(browser, url, text, account, base) for _ in range(repeats)]
                cached_loads = [
                    _load(browser, url, text, account, base, cached) for _ in range(repeats)
                ]
                clicks = [_click(browser, base, path, link, text, account) for _ in range(repeats)]
                click_walls = [wall for wall, _ in clicks]
                results["pages"][path] = (
                    link_open_row(loads)
                    | link_open_row(cached_loads, "cached_")
                    | {
                        "click_median_s": _median(click_walls),
                        "click_max_s": round(max(click_walls), 2),
                        "click_server_cpu_median_s": _median(c for _, c in clicks),
                    }
                )
                row = results["pages"][path]
                progress(
                    f"  {path:<9} 新浏览器打开链接：{_describe(row)}\n"
                    f"  {'':<9} 浏览器已有缓存：{_describe(row, 'cached_')}\n"
                    f"  {'':<9} 点击 {row['click_median_s']:.2f} 秒"
                    f"（服务器 CPU {row['click_server_cpu_median_s']:.2f}）"
                )
            cached.close()
        browser.close()
    results["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    return results


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m huinong.pagebench")
    parser.add_argument("--db", default=str(REPO_ROOT / "data" / "warehouse.duckdb"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out")
    parser.add_argument(
        "--pages", help="只测这些页面，逗号分隔（如 overview,grades）；默认全部：" + ",".join(PAGES)
    )
    args = parser.parse_args(argv)
    only = args.pages.split(",") if args.pages else None
    unknown = sorted(set(only or ()) - set(PAGES))
    if unknown:
        parser.error("没有这些页面：" + "、".join(unknown))
    print(f"页面响应时间：{args.db}（每页 {args.repeat} 次，取中位数）")
    results = measure_pages(Path(args.db), args.repeat, only=only)
    if args.out:
        Path(args.out).write_text(
            json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8"
        )
    rows = results["pages"]
    slow = [path for path, row in rows.items() if row["click_median_s"] > TARGET_SECONDS]
    print("点击超过 1 秒：" + ("、".join(slow) if slow else "无"))
    parts = (
        ("form_median_s", TARGET_FORM_SECONDS, "到登录页可用"),
        ("signed_in_median_s", TARGET_SIGNED_IN_SECONDS, "登录后到页面可用"),
    )
    for prefix, browser in (("", "新浏览器"), ("cached_", "浏览器已有缓存")):
        for key, target, part in parts:
            slow = [path for path, row in rows.items() if row[f"{prefix}{key}"] > target]
            print(
                f"{browser}打开链接，{part}超过 {target:g} 秒："
                + ("、".join(slow) if slow else "无")
            )
    print(
        "负载（1/5/15 分钟）：开始 "
        + " / ".join(f"{value:.2f}" for value in results["load_average_at_start"])
        + "，结束 "
        + " / ".join(f"{value:.2f}" for value in results["load_average_at_end"])
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
