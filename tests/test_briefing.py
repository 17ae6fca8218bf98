"""月度简报: `python -m huinong briefing` renders the session warehouse's briefing to PDF; its
pages are saved as PNG (test-artifacts/briefing/) and its text holds the marts' KPI values as
the briefing formats them, the tripped villages by name with what they must recover — and no
household's name or ID number."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import date

import duckdb
import pytest

from huinong import REPO_ROOT
from huinong.briefing.content import KPIS, kpi_change, kpi_value
from huinong.briefing.pdf import CHROMIUM
from huinong.format import wan

ARTIFACTS = REPO_ROOT / "test-artifacts" / "briefing"
POPPLER = ("pdftoppm", "pdftotext")

# Under CI a missing chromium or poppler is a failure (the fixture runs and fails), never a skip.
pytestmark = pytest.mark.skipif(
    not os.environ.get("CI")
    and (not CHROMIUM.exists() or not all(shutil.which(tool) for tool in POPPLER)),
    reason="needs Debian chromium and poppler-utils (apt-get install chromium poppler-utils)",
)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "huinong", "briefing", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _rows(db, sql: str, params: dict | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or {}).fetchall()


@pytest.fixture(scope="module")
def month(warehouse_path) -> date:
    """The latest month-end with a tripped village (the briefing's hardest case)."""
    (day,) = _rows(
        warehouse_path,
        "select max(as_of) from main.kpi_monthly where scope_level = 'district' and is_month_end"
        " and villages_tripped > 0",
    )[0]
    assert day is not None, "the session warehouse trips no village"
    return day


@pytest.fixture(scope="module")
def briefing(warehouse_path, month, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("briefing") / "briefing.pdf"
    result = _cli("--as-of", f"{month:%Y-%m}", "--db", str(warehouse_path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"月度简报已生成：{out}" in result.stdout
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    shutil.copyfile(out, ARTIFACTS / "briefing.pdf")
    subprocess.run(["pdftoppm", "-png", "-r", "80", str(out), str(ARTIFACTS / "page")], check=True)
    text = subprocess.run(
        ["pdftotext", str(out), "-"], check=True, capture_output=True, text=True
    ).stdout
    layout = subprocess.run(
        ["pdftotext", "-layout", str(out), "-"], check=True, capture_output=True, text=True
    ).stdout
    return {
        "pdf": out,
        "text": text,
        "flat": re.sub(r"\s+", "", text),
        "lines": {re.sub(r"\s+", "", line) for line in layout.splitlines()},
    }


def test_the_briefing_has_two_to_four_pages_saved_as_images(briefing):
    pages = sorted(ARTIFACTS.glob("page-*.png"))
    assert 2 <= len(pages) <= 4, pages
    assert all(page.stat().st_size > 20_000 for page in pages)
    assert briefing["text"].count("\f") == len(pages)


def test_the_kpis_are_the_marts_as_the_briefing_formats_them(briefing, warehouse_path, month):
    columns = [column for _, column, _ in KPIS]
    names = ", ".join(columns)
    now, before = _rows(
        warehouse_path,
        f"""
        select {names} from main.kpi_monthly
        where scope_level = 'district' and as_of in ($month, (
            select max(as_of) from main.kpi_monthly
            where scope_level = 'district' and is_month_end and as_of < date_trunc('month', $month)
        ))
        order by as_of desc
        """,
        {"month": month},
    )
    flat = briefing["flat"]
    assert f"{month.year}年{month.month}月" in flat and "范围：全区" in flat

    def squeeze(text: str) -> str:
        return re.sub(r"\s+", "", text)

    # One table row per KPI: label, this month, the previous month-end, the change.
    for (label, _, kind), value, old in zip(KPIS, now, before, strict=True):
        row = label + kpi_value(value, kind) + kpi_value(old, kind) + kpi_change(value, old, kind)
        assert squeeze(row) in briefing["lines"], (row, sorted(briefing["lines"])[:40])
    rate = columns.index("npl_rate")
    assert ("个百分点" in kpi_change(now[rate], before[rate], "rate")) == (
        now[rate] != before[rate]
    )


def test_every_tripped_village_is_named_with_what_it_must_recover(briefing, warehouse_path, month):
    tripped = _rows(
        warehouse_path,
        "select village_name, npl_to_clear_breaker from main.village_breaker"
        " where as_of = $month and tripped",
        {"month": month},
    )
    assert tripped
    flat = briefing["flat"]
    assert f"熔断行政村{len(tripped)}个" in flat
    for name, to_clear in tripped:
        assert name in flat
        assert re.sub(r"\s+", "", wan(to_clear)) in flat, (name, to_clear)


def test_no_household_is_named_and_no_id_number_is_printed(briefing, warehouse_path, month):
    borrowers = _rows(
        warehouse_path,
        """
        select distinct directory.head_name
        from main.loan_status as loans
        inner join main.village_breaker as breaker
            on breaker.as_of = loans.as_of and breaker.village_code = loans.village_code
        inner join main.household_directory as directory
            on directory.household_id = loans.borrower_id
        where loans.as_of = $month and loans.is_npl and breaker.tripped
        """,
        {"month": month},
    )
    assert borrowers
    for (name,) in borrowers:
        assert name not in briefing["text"]
    assert not re.search(r"\d{17}[\dX]", briefing["flat"])
    assert not re.search(r"\d{6}\*+\d{3}[\dX]", briefing["flat"])


def test_a_month_without_data_and_an_unknown_township_are_refused_in_chinese(
    warehouse_path, tmp_path
):
    out = tmp_path / "none.pdf"
    result = _cli("--as-of", "2099-01", "--db", str(warehouse_path), "--out", str(out))
    assert result.returncode == 1 and not out.exists()
    assert "简报生成失败：数据仓库中没有 2099年1月 的统计数据" in result.stderr
    result = _cli(
        "--as-of", "2024-06", "--scope", "411202999", "--db", str(warehouse_path), "--out", str(out)
    )
    assert result.returncode == 1
    assert "代码 411202999 不在数据仓库的乡镇、行政村名单中" in result.stderr
    result = _cli("--as-of", "2024-13", "--db", str(warehouse_path), "--out", str(out))
    assert result.returncode == 2 and "月份格式应为 YYYY-MM：2024-13" in result.stderr
