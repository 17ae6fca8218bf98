"""月度简报: the monthly briefing for the leading group as a 2-4 page PDF in Chinese — KPIs with
their change since the previous month-end, trends, tripped and at-risk villages with their
causes, the attention list — made from the dashboard's own queries without a Streamlit session.

``make_briefing(token, month, scope)`` is what the page's one-click button calls;
``python -m huinong briefing --as-of YYYY-MM --scope district|TOWNSHIP --db W --out F`` writes
one from the command line (huinong.cli) with the leading group's scope (``leader_scope``).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from huinong import data
from huinong.briefing.content import Briefing, BriefingError, gather
from huinong.briefing.pdf import PrintError, html_to_pdf
from huinong.briefing.render import briefing_figures, briefing_html, chart_images

__all__ = [
    "Briefing",
    "BriefingError",
    "PrintError",
    "briefing_file_name",
    "leader_scope",
    "make_briefing",
    "write_briefing",
]


def make_briefing(token: data.Warehouse, month: date, scope: data.Scope) -> bytes:
    """The briefing of ``scope`` for ``month`` (any day of it) as PDF bytes. BriefingError when
    the warehouse has no data for that month, PrintError when chromium cannot print."""
    briefing = gather(token, month, scope)
    images = chart_images(briefing_figures(briefing))
    return html_to_pdf(briefing_html(briefing, images, datetime.now()))


def briefing_file_name(month: date, scope_name: str) -> str:
    """湖滨区月度简报_全区_2026-10.pdf style names for the download button."""
    return f"月度简报_{scope_name}_{month:%Y-%m}.pdf"


def leader_scope(township_code: str | None) -> data.Scope:
    """The scope a briefing reads with: the leading group's (district-wide aggregate figures and
    place names; no household names or ID numbers), narrowed to one township when asked."""
    from huinong.auth.scope import User

    leader = User.create("briefing", "月度简报（系统）", "leader")
    return data.authorize(leader, township_code or None)


def write_briefing(db_path: Path, month: date, scope_code: str, out: Path) -> Path:
    """Write the briefing of ``scope_code`` ("district" or a township's 9-digit code) for
    ``month`` from the warehouse at ``db_path`` to ``out``. BriefingError (in Chinese) for a
    missing warehouse, an unknown township or a month without data."""
    if not db_path.exists():
        raise BriefingError(f"找不到数据仓库文件 {db_path}，请先构建（python -m huinong build）")
    stat = db_path.stat()
    token = data.Warehouse(str(db_path.resolve()), stat.st_ino, stat.st_mtime_ns)
    township = None if scope_code == "district" else scope_code
    if township is not None and not (len(township) == 9 and township.isdigit()):
        raise BriefingError(f"--scope 应为 district 或 9 位乡镇代码，而不是：{scope_code}")
    pdf = make_briefing(token, month, leader_scope(township))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf)
    return out
