"""python -m huinong.pagebench: how soon each dashboard page is interactive, in a real browser.

Starts `streamlit run app.py` over a warehouse (with an account store of its own and one 金融办
account), drives Debian's chromium with playwright and, for each page, measures (1) a fresh
load: a new browser session opens the page's URL, signs in on the form it gets, and waits until
the page's content is on screen and Streamlit's script run has ended (a new session always signs
in: the dashboard keeps no session in a cookie); (2) a click: signed in on another page, the
sidebar link is clicked and the same wait applies. The first load of the server (imports, cold
caches) is reported apart. Each measure gives its wall time and the CPU time the server process
spent in it: on a machine shared with other work the wall time grows, the server's CPU does not.
Targets: a click interactive within 1 s, a link opened cold within 2 s. Speed is judged here,
not in timed tests.
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
TARGET_LOAD_SECONDS = 2.0  # a cold link open (a new session, the sign-in included) within 2 s
# The base URL of each running server → its process id, for the server's CPU time per measure.
SERVER_PIDS: dict[str, int] = {}
IDLE_JS = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
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


def _load(browser, url: str, text: str, account: BenchAccount, base: str) -> tuple[float, float]:
    """A new session opens ``url`` and signs in: (wall seconds, the server's CPU seconds)."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    cpu = _server_cpu(base)
    started = time.perf_counter()
    tab.goto(url)
    sign_in(tab, account.username, account.password)
    _ready(tab, text)
    seconds = time.perf_counter() - started
    cpu = _server_cpu(base) - cpu
    context.close()
    return seconds, cpu


def _click(
    browser, base: str, path: str, link: str, text: str, account: BenchAccount
) -> tuple[float, float]:
    """From 总览 (or 信用评级 for 总览 itself), once it has finished drawing, click the page's
    sidebar link."""
    start_path = "grades" if path == "overview" else ""
    start_text = PAGES["grades" if path == "overview" else "overview"][1]
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    tab.goto(f"{base}/{start_path}")
    sign_in(tab, account.username, account.password)
    _ready(tab, start_text)
    # As a user would: the page they are on has finished drawing before they click away.
    tab.wait_for_function(SETTLED_JS, polling=400, timeout=30_000)
    cpu = _server_cpu(base)
    started = time.perf_counter()
    tab.get_by_role("link", name=link, exact=True).click()
    tab.wait_for_url(f"**/{path if path != 'overview' else ''}*")
    _ready(tab, text)
    seconds = time.perf_counter() - started
    cpu = _server_cpu(base) - cpu
    context.close()
    return seconds, cpu


def _server_cpu(base: str) -> float:
    """CPU seconds the server process has used so far (user + system, its threads included)."""
    import psutil

    times = psutil.Process(SERVER_PIDS[base]).cpu_times()
    return times.user + times.system


def measure_pages(db_path: Path, repeats: int = 3, progress=print) -> dict:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise SystemExit("需要 Debian 的 chromium（/usr/bin/chromium）：apt-get install chromium")
    results: dict = {
        "machine": machine(),
        "warehouse": str(db_path),
        "repeats": repeats,
        "pages": {},
    }
    with (
        tempfile.TemporaryDirectory(prefix="huinong-pagebench-") as work,
        sync_playwright() as playwright,
    ):
        account = bench_account(Path(work))
        with streamlit_server(db_path, Path(work) / "server.log", env=account.env) as base:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            first_wall, first_cpu = _load(browser, base, PAGES["overview"][1], account, base)
            results["first_load_after_start_seconds"] = round(first_wall, 2)
            results["first_load_after_start_server_cpu_seconds"] = round(first_cpu, 2)
            for path, (link, text) in PAGES.items():
                url = f"{base}/{'' if path == 'overview' else path}"
                loads = [_load(browser, url, text, account, base) for _ in range(repeats)]
                clicks = [_click(browser, base, path, link, text, account) for _ in range(repeats)]
                load_walls = [wall for wall, _ in loads]
                click_walls = [wall for wall, _ in clicks]
                results["pages"][path] = {
                    "load_median_s": round(statistics.median(load_walls), 2),
                    "load_max_s": round(max(load_walls), 2),
                    "load_server_cpu_median_s": round(statistics.median(c for _, c in loads), 2),
                    "click_median_s": round(statistics.median(click_walls), 2),
                    "click_max_s": round(max(click_walls), 2),
                    "click_server_cpu_median_s": round(statistics.median(c for _, c in clicks), 2),
                }
                row = results["pages"][path]
                progress(
                    f"  {path:<9} 打开（含登录）{row['load_median_s']:.2f} 秒"
                    f"（服务器 CPU {row['load_server_cpu_median_s']:.2f} 秒），"
                    f"点击 {row['click_median_s']:.2f} 秒"
                    f"（服务器 CPU {row['click_server_cpu_median_s']:.2f} 秒）"
                )
        browser.close()
    return results


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m huinong.pagebench")
    parser.add_argument("--db", default=str(REPO_ROOT / "data" / "warehouse.duckdb"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    print(f"页面响应时间：{args.db}（每页 {args.repeat} 次，取中位数）")
    results = measure_pages(Path(args.db), args.repeat)
    if args.out:
        Path(args.out).write_text(
            json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8"
        )
    slow = [
        path for path, row in results["pages"].items() if row["click_median_s"] > TARGET_SECONDS
    ]
    print("点击超过 1 秒：" + ("、".join(slow) if slow else "无"))
    slow_loads = [
        path for path, row in results["pages"].items() if row["load_median_s"] > TARGET_LOAD_SECONDS
    ]
    print("打开链接超过 2 秒：" + ("、".join(slow_loads) if slow_loads else "无"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
