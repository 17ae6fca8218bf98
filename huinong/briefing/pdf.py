"""Print a briefing's HTML to an A4 PDF with the system's chromium (Debian's /usr/bin/chromium),
driven by playwright; never a downloaded browser."""

from __future__ import annotations

# The same chromium, started the same way, as the page benchmark and the browser tests.
from huinong.pagebench import CHROMIUM, CHROMIUM_ARGS


class PrintError(Exception):
    """The PDF could not be printed (the message is for the clerk, in Chinese)."""


def html_to_pdf(html: str) -> bytes:
    """The page printed on A4 with its backgrounds, as PDF bytes."""
    if not CHROMIUM.exists():
        raise PrintError(
            "生成 PDF 需要 Debian 的 chromium（/usr/bin/chromium），请先安装：apt-get install chromium fonts-noto-cjk"
        )
    from playwright.sync_api import Error, sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.set_content(html, wait_until="load")
                return page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
            finally:
                browser.close()
    except Error as error:
        raise PrintError(f"chromium 未能生成 PDF：{error.message.splitlines()[0]}") from error
