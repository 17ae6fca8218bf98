"""What every page shares: the view chosen in the sidebar, KPI cards, tables with downloads,
moving between levels. UI only: every number comes from huinong.data, every figure from
huinong.charts, every file from huinong.export.
"""

from __future__ import annotations

import runpy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import polars as pl
import streamlit as st

from huinong import REPO_ROOT, data, export
from huinong import format as fmt
from huinong.auth import User
from huinong.policy import Policy
from pages import _signin as signin

MISSING_WAREHOUSE = (
    "数据仓库尚未构建：请运行 make run 或 python -m huinong build --raw-dir 原始数据文件夹 "
    "--db {path} 生成数据仓库后刷新本页。"
)
# Status words in their colours (Markdown colour directives), for cards and lists.
STATUS_BADGES = {
    "熔断": ":red[**熔断**]",
    "预警": ":orange[**预警**]",
    "正常": ":green[**正常**]",
    "无贷款": ":gray[**无贷款**]",
}
# The same colours as cell backgrounds in tables (light tints of huinong.format.STATUS_COLOURS).
STATUS_CELL_STYLES = {
    "熔断": "background-color: #f8d0d0; color: #a11d1d",
    "预警": "background-color: #ffe3bf; color: #9a5200",
    "正常": "background-color: #d5efd5; color: #1d6b1d",
    "无贷款": "background-color: #ececec; color: #555555",
}

VIEW_KEY = "view"
PENDING_KEY = "pending_view"


@dataclass(frozen=True)
class View:
    """The view the sidebar (and the URL) chose: warehouse, snapshot date, scope (authorised
    for the signed-in user), household; and who is looking."""

    token: data.Warehouse
    as_of: date
    is_month_end: bool
    scope: data.Scope
    household: str | None
    meeting: bool
    user: User

    @property
    def as_of_label(self) -> str:
        return fmt.as_of_label(self.as_of, self.is_month_end)


def route_if_run_directly() -> None:
    """Run app.py's router when Streamlit ran this page file by itself.

    Streamlit still discovers a folder named pages/ the old way (one page per file) until a
    session calls st.navigation: the first run after the server starts, and every AppTest run,
    open /village by running pages/village.py without app.py (no sidebar, no view). Such a
    run hands over to app.py, whose st.navigation then runs the page the URL names.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        runpy.run_path(str(REPO_ROOT / "app.py"), run_name="__main__")
        st.stop()


def current_view() -> View:
    """The view app.py prepared, or a clear message (and the page stops) without a warehouse."""
    view = st.session_state.get(VIEW_KEY)
    if view is None:
        st.error(
            data.warehouse_problem() or MISSING_WAREHOUSE.format(path=data.warehouse_path()),
            icon=":material/warning:",
        )
        st.stop()
    return view


def go_to(township: str | None = None, village: str | None = None, household: str | None = None):
    """Move to another scope (and household) on the next run: app.py applies it before it draws
    the sidebar, whose widgets cannot change once drawn in this run."""
    st.session_state[PENDING_KEY] = {
        "township": township or "",
        "village": village or "",
        "household": household or "",
    }
    st.rerun()


def scope_title(view: View) -> str:
    """湖滨区 · 会兴街道 · 上村."""
    names = data.place_names(view.token, view.scope)
    parts = [names["district_name"], names["township_name"], names["village_name"]]
    return " · ".join(part for part in parts if part)


def page_header(title: str, view: View) -> None:
    st.title(f"{title}")
    st.caption(f"{fmt.markdown_text(scope_title(view))}　|　{view.as_of_label}")
    if not view.is_month_end:
        st.info(
            f"所选日期 {fmt.date_label(view.as_of)} 不是月末：熔断等读数为临时读数，"
            "以月末评价为准（R-B2）。",
            icon=":material/info:",
        )


def base_css() -> None:
    """KPI values that fit their cards (long 万元 amounts wrap instead of being cut off)."""
    st.html(
        """
        <style>
        div[data-testid="stMetricValue"] { font-size: 1.75rem; }
        div[data-testid="stMetricValue"] * {
            white-space: normal !important; overflow: visible !important;
            text-overflow: clip !important; line-height: 1.2;
            word-break: keep-all !important; overflow-wrap: normal !important;
        }
        </style>
        """
    )


def meeting_css(enabled: bool) -> None:
    """会议模式: no sidebar, large numbers, so the room can read it from the back."""
    if not enabled:
        return
    st.html(
        """
        <style>
        section[data-testid="stSidebar"], div[data-testid="stSidebarCollapsedControl"],
        button[data-testid="stExpandSidebarButton"] { display: none !important; }
        div[data-testid="stMetricValue"] { font-size: 2.8rem !important; }
        div[data-testid="stMetricLabel"] p { font-size: 1.4rem !important; }
        div[data-testid="stMetricDelta"] { font-size: 1.2rem !important; }
        h1 { font-size: 3rem !important; }
        </style>
        """
    )


def metric_delta(current: object, previous: object, formatter: Callable) -> str | None:
    """The change against the previous month, signed and formatted, or None without one."""
    if current is None or previous is None:
        return None
    change = Decimal(str(current)) - Decimal(str(previous))
    return fmt.signed(change, formatter)


def _display(frame: pl.DataFrame) -> tuple[object, dict]:
    """Chinese headers, floats for display (amounts stay exact in the data and the exports),
    veto words, 是/否, status cells in their colours; and the column formats."""
    config: dict = {}
    columns = []
    for key in frame.columns:
        kind = fmt.column_kind(key)
        label = fmt.column_label(key)
        column = pl.col(key)
        if kind in ("yuan", "wan", "rate", "float"):
            column = column.cast(pl.Float64)
            if kind == "wan":
                column = column / 10000
            if kind == "rate":
                column = column * 100
            fmt_string = {"rate": "%.2f%%", "float": "%.2f"}.get(kind, "accounting")
            config[label] = st.column_config.NumberColumn(label, format=fmt_string)
        elif kind == "int":
            config[label] = st.column_config.NumberColumn(label, format="%d")
        elif kind == "date":
            config[label] = st.column_config.DateColumn(label, format="YYYY年M月D日")
        elif kind == "bool":
            column = (
                pl.when(column.is_null())
                .then(pl.lit(None, dtype=pl.String))
                .when(column)
                .then(pl.lit("是"))
                .otherwise(pl.lit("否"))
            )
        elif kind == "vetoes":
            column = column.list.eval(pl.element().replace(fmt.VETO_WORDS)).list.join("；")
        elif kind == "list":
            column = column.list.join("；")
        columns.append(column.alias(label))
    shown = frame.select(columns)
    statuses = [
        fmt.column_label(key) for key in frame.columns if key in ("status", "previous_status")
    ]
    if not statuses:
        return shown, config
    styled = shown.to_pandas().style.map(
        lambda value: STATUS_CELL_STYLES.get(value, ""), subset=statuses
    )
    return styled, config


def show_frame(frame: pl.DataFrame, *, key: str) -> None:
    """A table with Chinese headers and formats, without downloads (a preview)."""
    shown, config = _display(frame)
    st.dataframe(
        shown,
        key=f"preview_{key}",
        hide_index=True,
        column_config=config,
        alt=f"预览：{key}",
        placeholder="—",
    )


def table(
    frame: pl.DataFrame,
    *,
    title: str,
    key: str,
    view: View,
    download_rows: Callable[[], Iterable[pl.DataFrame]] | None = None,
    spec: export.TableSpec | None = None,
    selectable: bool = False,
    height: int | str = "auto",
    note: str | None = None,
) -> list[int]:
    """A table with Chinese headers and its CSV and xlsx downloads; returns the selected rows.

    Downloads are generated when clicked. By default they hold the rows shown; a capped list
    passes ``download_rows`` to stream every row from SQL instead.
    """
    shown, config = _display(frame)
    event = st.dataframe(
        shown,
        key=key,
        hide_index=True,
        column_config=config,
        height=height,
        on_select="rerun" if selectable else "ignore",
        selection_mode="single-row",
        width="stretch",
        alt=title,
        placeholder="—",
    )
    if note:
        st.caption(note)
    download_buttons(
        spec or export.spec_for(frame.columns, title),
        download_rows or (lambda: [frame]),
        key=key,
        view=view,
    )
    if not selectable:
        return []
    return list(event.selection.rows)


def download_buttons(
    spec: export.TableSpec,
    rows: Callable[[], Iterable[pl.DataFrame]],
    *,
    key: str,
    view: View,
) -> None:
    """下载 xlsx / 下载 CSV of a table of the view's month and area (see ``audited_downloads``)."""
    month = fmt.month_label(view.as_of)
    scope = scope_title(view)
    audited_downloads(
        spec,
        rows,
        key=key,
        user=view.user,
        file_stem=f"{spec.file_stem}_{scope.replace(' · ', '_')}_{view.as_of:%Y%m%d}",
        heading=f"{scope} {spec.title}（{month}）",
        subheading=f"统计日期：{fmt.date_label(view.as_of)}　范围：{scope}",
        area=view.scope.code or "全区",
        as_of=view.as_of,
    )


def audited_downloads(
    spec: export.TableSpec,
    rows: Callable[[], Iterable[pl.DataFrame]],
    *,
    key: str,
    user: User,
    file_stem: str,
    heading: str,
    subheading: str,
    area: str,
    as_of: date | None = None,
    needs: str = "export",
) -> None:
    """下载 xlsx / 下载 CSV, files made on click (for a big list that can take a few seconds).

    Each click is accountable: the file is made by the download's data callable, which
    Streamlit runs once per click when the browser asks for the file (``on_click="ignore"``:
    no rerun of the page). That callable first checks that the session is still valid (an
    expired one gets no file), writes the file with 导出人/导出时间 in the xlsx title rows, and
    records one ``export`` audit row with the row count (huinong.export.produce). Recording in
    ``on_click`` instead would rerun the page and could not know the row count. ``needs``: the
    permission that allows this download (``export``; the audit trail's own: ``read_audit``).
    """
    if not user.has(needs):
        return

    def file(file_format: str) -> Callable[[], bytes]:
        return export_file(
            spec,
            rows,
            file_format,
            user=user,
            file_stem=file_stem,
            heading=heading,
            subheading=subheading,
            area=area,
            as_of=as_of,
        )

    buttons = st.container(horizontal=True, gap="small")
    buttons.download_button(
        "下载 xlsx",
        data=file("xlsx"),
        file_name=f"{file_stem}.xlsx",
        mime=export.XLSX_MIME,
        key=f"{key}_xlsx",
        on_click="ignore",
        icon=":material/download:",
    )
    buttons.download_button(
        "下载 CSV",
        data=file("csv"),
        file_name=f"{file_stem}.csv",
        mime=export.CSV_MIME,
        key=f"{key}_csv",
        on_click="ignore",
        icon=":material/download:",
        help="UTF-8（带 BOM）编码，Excel 可直接打开；身份证号请以 xlsx 为准。",
    )


def export_file(
    spec: export.TableSpec,
    rows: Callable[[], Iterable[pl.DataFrame]],
    file_format: str,
    *,
    user: User,
    file_stem: str,
    heading: str,
    subheading: str,
    area: str,
    as_of: date | None = None,
) -> Callable[[], bytes]:
    """The data callable of one download button: run by Streamlit on click, it checks the
    session, makes the file and records the ``export`` audit row (huinong.export.produce)."""
    store = signin.accounts()
    token = signin.session_token()

    def make() -> bytes:
        store.check_session(token)
        generated = datetime.now()
        return export.produce(
            spec,
            rows(),
            file_format,
            user=user,
            audit=store.audit,
            heading=heading,
            subheading=f"{subheading}　生成时间：{fmt.timestamp_label(generated)}",
            area=area,
            file_name=f"{file_stem}.{file_format}",
            as_of=as_of,
            exported_at=generated,
        )

    return make


def report_rows(view: View, report: str) -> Callable[[], Iterable[pl.DataFrame]]:
    """Every row of a report or full list, streamed from SQL when the download is clicked, for
    a file: ID numbers in full only for ``export_full_id``."""

    def rows() -> Iterable[pl.DataFrame]:
        scope = data.authorize(
            view.user, view.scope.township_code, view.scope.village_code, purpose="export"
        )
        return data.stream_report(view.token, report, view.as_of, scope)

    return rows


def policy(view: View) -> Policy:
    """The policy profile the shown warehouse was built with: page texts take its numbers."""
    return Policy(data.policy(view.token, view.scope))


def cut_offs(view: View) -> list[tuple[str, int]]:
    """The grade bands of the policy the warehouse was built with: [("AAA+", 101), …]."""
    return [
        (band["grade"], int(band["min_score"]))
        for band in data.policy(view.token, view.scope)["grades"]
    ]


def policy_rate(view: View, name: str) -> float:
    """A policy percentage as a fraction: village_breaker_rate_pct 3 -> 0.03."""
    return float(data.policy(view.token, view.scope)[name]) / 100


def month_options(view: View, month_ends_only: bool = False) -> Sequence[date]:
    dates = data.snapshot_dates(view.token, view.scope)
    if month_ends_only:
        dates = dates.filter(pl.col("is_month_end"))
    return dates["as_of"].to_list()
