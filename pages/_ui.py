"""What every page shares: the view chosen in the sidebar, KPI cards, tables with downloads,
moving between levels. UI only: every number comes from huinong.data, every figure from
huinong.charts, every file from huinong.export.
"""

from __future__ import annotations

import runpy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

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
# Status words in their colours (Markdown colour directives), for cards and lists: the
# colour-blind-safe pairs of huinong.format.STATUS_COLOURS (vermillion/amber/blue, never red
# against green), the word always written.
STATUS_BADGES = {
    "熔断": ":red[**熔断**]",
    "预警": ":orange[**预警**]",
    "正常": ":blue[**正常**]",
    "无贷款": ":gray[**无贷款**]",
}
# The same colours as cell backgrounds in tables (light tints of huinong.format.STATUS_COLOURS).
STATUS_CELL_STYLES = {
    "熔断": "background-color: #f6d5c0; color: #8a3b00",
    "预警": "background-color: #fbe8bf; color: #6b4a00",
    "正常": "background-color: #cfe3f2; color: #004a73",
    "无贷款": "background-color: #ececec; color: #555555",
}
APP_TITLE = signin.APP_TITLE

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


def go_to(
    township: str | None = None,
    village: str | None = None,
    household: str | None = None,
    page: str | None = None,
):
    """Move to another scope (and household), on another page if ``page`` ("pages/village.py"),
    on the next run: app.py applies it before it draws the sidebar, whose widgets cannot change
    once drawn in this run."""
    st.session_state[PENDING_KEY] = {
        "township": township or "",
        "village": village or "",
        "household": household or "",
    }
    if page:
        st.switch_page(page)
    st.rerun()


def scope_title(view: View) -> str:
    """湖滨区 · 会兴街道 · 上村."""
    names = data.place_names(view.token, view.scope)
    parts = [names["district_name"], names["township_name"], names["village_name"]]
    return " · ".join(part for part in parts if part)


def _meeting_changed() -> None:
    st.session_state["meeting"] = st.session_state["meeting_toggle"]


def page_header(title: str, view: View | None = None) -> None:
    """The page's title with the scope and month it shows (in the title itself in 会议模式: the
    room reads what it is looking at), the 会议模式 switch, and the provisional-date note. A
    page without a view (使用说明, 审计日志 …): the title and the switch."""
    meeting = bool(st.session_state.get("meeting"))
    title_column, toggle_column = st.columns([3, 1], vertical_alignment="center")
    with toggle_column:
        st.toggle(
            "会议模式",
            value=meeting,
            key="meeting_toggle",
            on_change=_meeting_changed,
            help="隐藏侧边栏，放大文字、数字和图表，便于投屏；链接中带 meeting=1，换页保持。",
        )
    with title_column:
        if view is None:
            st.title(title)
        elif meeting:
            st.title(f"{title} · {scope_title(view)} · {view.as_of_label}")
        else:
            st.title(title)
            st.caption(f"{fmt.markdown_text(scope_title(view))}　|　{view.as_of_label}")
    if view is not None and not view.is_month_end:
        st.info(
            f"所选日期 {fmt.date_label(view.as_of)} 不是月末：熔断等读数为临时读数，"
            "以月末评价为准（R-B2）。",
            icon=":material/info:",
        )


# ── KPI cards ─────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Card:
    """One KPI card. ``label``: short, its unit in it when the value has none (贷款余额（万元）);
    ``delta``: the change (huinong.format.change / rate_change), 持平 for none; ``better``:
    which way is good ("up", "down") for the delta's colour, None for neutral."""

    label: str
    value: str
    delta: str | None = None
    better: str | None = "up"
    help: str | None = None
    since: str | None = None  # 较上月


def _delta_style(card: Card) -> dict:
    """Blue for a change for the better, orange for the worse (colour-blind safe), grey and no
    arrow for 持平: a zero change is no green ↑."""
    if card.delta is None:
        return {}
    if card.delta == fmt.SAME or card.better is None:
        arrow = "off" if card.delta == fmt.SAME else "auto"
        return {"delta_color": "gray", "delta_arrow": arrow}
    rising = not card.delta.startswith("-")
    good = rising == (card.better == "up")
    return {"delta_color": "blue" if good else "orange"}


def kpi_cards(cards: Sequence[Card], key: str) -> None:
    """KPI cards in a row that wraps: as many a row as fit their width (base_css gives each a
    minimum width), so that no label or value is cut at 1024×768 or in 会议模式."""
    with st.container(horizontal=True, gap="small", key=f"kpis_{key}"):
        for card in cards:
            st.metric(
                card.label,
                card.value,
                delta=card.delta,
                delta_description=card.since if card.delta else None,
                help=card.help,
                border=True,
                **_delta_style(card),
            )


# ── page-wide CSS ─────────────────────────────────────────────────────────────────────────────

# Each KPI card at least this wide (rem), so that its label and value fit on one line.
CARD_MIN_REM = 13
MEETING_CARD_MIN_REM = 16


def base_css(meeting: bool = False) -> None:
    """The app's CSS: KPI cards that wrap instead of cutting their text; 会议模式 (no sidebar,
    large labels, values and headings); a printed page without the sidebar and toolbar, charts
    within A4 landscape; and the file uploader's English words in Chinese (Streamlit 1.67 has no
    setting for them: the texts are replaced in CSS, the limit is the server's)."""
    limit_mb = int(st.get_option("server.maxUploadSize"))
    card = MEETING_CARD_MIN_REM if meeting else CARD_MIN_REM
    css = f"""
    <style>
    div[class*="st-key-kpis_"] > div {{ flex: 1 1 {card}rem !important; min-width: {card}rem; }}
    div[data-testid="stMetricValue"] {{ font-size: 1.75rem; }}
    section[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p,
    [data-testid="stFileUploaderDropzoneInstructions"] span,
    section[data-testid="stFileUploaderDropzone"] > div:not([data-testid]) span {{
        font-size: 0 !important;
    }}
    section[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"]
        p::after {{ content: "选择文件"; font-size: 0.875rem; }}
    [data-testid="stFileUploaderDropzoneInstructions"] span::after {{
        content: "拖放文件到此处，或点击“选择文件”；合计不超过 {limit_mb} MB";
        font-size: 0.875rem;
    }}
    section[data-testid="stFileUploaderDropzone"] > div:not([data-testid]) span::after {{
        content: "松开鼠标即上传"; font-size: 1rem;
    }}
    @media print {{
        @page {{ size: A4 landscape; margin: 10mm; }}
        section[data-testid="stSidebar"], header[data-testid="stHeader"],
        div[data-testid="stToolbar"], div[data-testid="stDecoration"],
        div[data-testid="stStatusWidget"], div[data-testid="stSidebarCollapsedControl"],
        button[data-testid="stExpandSidebarButton"], div[data-testid="stBottom"],
        div[data-testid="stDownloadButton"], div[data-testid="stCheckbox"] {{
            display: none !important;
        }}
        div[data-testid="stMainBlockContainer"] {{
            max-width: 100% !important; padding: 0 !important;
        }}
        div[data-testid="stPlotlyChart"], div[data-testid="stMetric"] {{
            break-inside: avoid; max-width: 100% !important; overflow: hidden;
        }}
    }}
    </style>
    """
    if meeting:
        css += """
        <style>
        section[data-testid="stSidebar"], div[data-testid="stSidebarCollapsedControl"],
        button[data-testid="stExpandSidebarButton"] { display: none !important; }
        label[data-testid="stMetricLabel"] p { font-size: 1.35rem !important; }
        div[data-testid="stMetricValue"] { font-size: 2.6rem !important; }
        div[data-testid="stMetricDelta"] p { font-size: 1.15rem !important; }
        h1 { font-size: 2.1rem !important; word-break: keep-all; }
        h2, h3 { font-size: 1.9rem !important; }
        div[data-testid="stMarkdownContainer"] li,
        div[data-testid="stMarkdownContainer"] p { font-size: 1.2rem; }
        div[data-testid="stMetricValue"] div[data-testid="stMarkdownContainer"] p {
            font-size: inherit !important;
        }
        div[data-testid="stMainBlockContainer"] {
            padding: 4.5rem 2rem 2rem 2rem !important; max-width: 100% !important;
        }
        div[data-testid="stCaptionContainer"] { font-size: 1.05rem; }
        </style>
        """
    st.html(css)


def in_wan(spec: export.TableSpec) -> export.TableSpec:
    """The same table with its amounts in 万元 (a summary: 总览, 熔断监测, 村级钻取's lists)."""
    columns = tuple(
        export.Column(column.key, column.label.replace("（元）", "（万元）"), "wan", column.total)
        if column.kind == "yuan"
        else column
        for column in spec.columns
    )
    return replace(spec, columns=columns)


def _display(frame: pl.DataFrame, spec: export.TableSpec | None = None) -> tuple[object, dict]:
    """Chinese headers, floats for display (amounts stay exact in the data and the exports),
    veto words, 是/否, status cells in their colours; and the column formats. ``spec``: the
    headers and kinds of the table's download (the same on screen), else the shared ones."""
    config: dict = {}
    columns = []
    known = {column.key: column for column in spec.columns} if spec else {}
    labels = []
    for key in frame.columns:
        kind = known[key].kind if key in known else fmt.column_kind(key)
        label = known[key].label if key in known else fmt.column_label(key)
        labels.append(label)
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
        label
        for key, label in zip(frame.columns, labels, strict=True)
        if key in ("status", "previous_status", "projected_status")
    ]
    if not statuses:
        return shown, config
    styled = shown.to_pandas().style.map(
        lambda value: STATUS_CELL_STYLES.get(value, ""), subset=statuses
    )
    return styled, config


def show_frame(frame: pl.DataFrame, *, key: str, spec: export.TableSpec | None = None) -> None:
    """A table with Chinese headers and formats, without downloads (a preview)."""
    shown, config = _display(frame, spec)
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
    unit: str = "元",
) -> list[int]:
    """A table with Chinese headers and its CSV and xlsx downloads; returns the selected rows.

    Downloads are generated when clicked. By default they hold the rows shown; a capped list
    passes ``download_rows`` to stream every row from SQL instead. ``unit="万元"``: amounts in
    万元 on screen and in the files (a summary table).
    """
    spec = spec or export.spec_for(frame.columns, title)
    if unit == "万元":
        spec = in_wan(spec)
    shown, config = _display(frame, spec)
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
    download_buttons(spec, download_rows or (lambda: [frame]), key=key, view=view)
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
        help="UTF-8（带 BOM）编码，Excel、WPS 双击即可打开；身份证号和各类代码前有一个看不见的"
        "制表符，使其按文本完整显示（程序读取时去掉首尾空白即可）。",
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


# ── 月度简报 ──────────────────────────────────────────────────────────────────────────────────


def briefing_button(view: View, *, key: str) -> None:
    """月度简报 in one click: the leading group's briefing (aggregate figures and place names)
    of the view's month for the district or the view's township, made as a PDF
    (huinong.briefing.make_briefing, 5–10 s, with a spinner), recorded in the audit trail as an
    export, then offered as a download. A village's view offers none: a briefing covers the
    whole township."""
    if not view.user.has("export") or view.scope.level == "village":
        return
    township = view.scope.township_code
    scope_name = scope_title(view).split(" · ")[-1] if township else "全区"
    state_key = f"briefing_pdf_{key}"
    wanted = (view.token, view.as_of, township)
    with st.container(border=True, key=f"briefing_{key}"):
        left, right = st.columns([3, 2], vertical_alignment="center")
        left.markdown(
            f"**月度简报**（{fmt.markdown_text(scope_name)}，{fmt.month_label(view.as_of)}）："
            "关键指标及变化、趋势、熔断村及原因、需关注事项、下月末预警，A4 PDF，"
            "只含汇总数和地名，可直接转发领导小组。"
        )
        if right.button(
            "生成月度简报（PDF）",
            key=f"briefing_make_{key}",
            icon=":material/picture_as_pdf:",
            help="约需 5–10 秒。",
        ):
            made = _make_briefing(view, township, scope_name)
            if made is not None:
                st.session_state[state_key] = (wanted, *made)
        stored = st.session_state.get(state_key)
        if stored and stored[0] == wanted:
            _, file_name, pdf = stored
            right.download_button(
                "下载月度简报 PDF",
                data=pdf,
                file_name=file_name,
                mime="application/pdf",
                key=f"briefing_download_{key}",
                on_click="ignore",
                icon=":material/download:",
                type="primary",
            )


def _make_briefing(view: View, township: str | None, scope_name: str) -> tuple[str, bytes] | None:
    """The PDF and its file name, the export recorded; None (and the reason on the page) when
    it cannot be made."""
    from huinong import briefing  # plotly's static export and playwright: only when asked

    signin.accounts().check_session(signin.session_token())
    with st.spinner("正在生成月度简报（约 5–10 秒）…", show_time=True):
        try:
            pdf = briefing.make_briefing(view.token, view.as_of, briefing.leader_scope(township))
        except (briefing.BriefingError, briefing.PrintError) as error:
            st.error(f"未能生成月度简报：{fmt.markdown_text(str(error))}", icon=":material/error:")
            return None
    file_name = briefing.briefing_file_name(view.as_of, scope_name)
    signin.audit_trail().record(
        "export",
        view.user,
        report="月度简报",
        file_format="pdf",
        file_name=file_name,
        scope=township or "全区",
        as_of=view.as_of,
        rows=None,
        full_ids=False,
    )
    return file_name, pdf
