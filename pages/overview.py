"""总览: the leading group's figures for the chosen month and scope, readable across a room."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import streamlit as st

from huinong import charts, data
from huinong import format as fmt
from pages import _ui as ui

ui.route_if_run_directly()
view = ui.current_view()


def _meeting_changed() -> None:
    st.session_state["meeting"] = st.session_state["meeting_toggle"]


title_column, toggle_column = st.columns([5, 1])
with toggle_column:
    st.toggle(
        "会议模式",
        value=view.meeting,
        key="meeting_toggle",
        on_change=_meeting_changed,
        help="隐藏侧边栏、放大数字和图表，便于投屏。",
    )
with title_column:
    ui.page_header("总览", view)
ui.meeting_css(view.meeting)

current = data.kpi(view.token, view.as_of, view.scope)
previous_as_of = data.previous_month_end(view.token, view.as_of, view.scope)
previous = data.kpi(view.token, previous_as_of, view.scope) if previous_as_of else None

if current.height == 0:
    st.warning("所选范围在该月份没有数据。")
    st.stop()
now = current.row(0, named=True)
before = previous.row(0, named=True) if previous is not None and previous.height else {}
versus = ""
if previous_as_of:
    last_month = (view.as_of.replace(day=1) - timedelta(days=1)).replace(day=1)
    is_last_month = previous_as_of.replace(day=1) == last_month
    versus = "较上月" if is_last_month else f"较{fmt.month_label(previous_as_of)}"
line = ui.policy_rate(view, "village_breaker_rate_pct")


def card(column, label, key, formatter, *, inverse=False, help=None, value=None):
    """A KPI card: value now and its change against the previous month-end."""
    shown = value if value is not None else formatter(now[key])
    delta = ui.metric_delta(now[key], before.get(key), formatter) if before else None
    column.metric(
        label,
        shown,
        delta=delta,
        delta_color="inverse" if inverse else "normal",
        delta_description=versus if delta else None,
        help=help,
        border=True,
    )


def households(value):
    return fmt.count(value, "户")


def wan(value):
    return fmt.wan(value)


def card_slots():
    """Card columns, five a row (four in meeting mode, where the numbers are larger)."""
    per_row = 4 if view.meeting else 5
    while True:
        yield from st.columns(per_row)


slot = card_slots()
card(
    next(slot),
    "评级农户",
    "households_rated",
    households,
    help="有信用信息采集、已评分的农户（R-S1）",
)
card(next(slot), "信用户（A级及以上）", "households_credit", households)
card(next(slot), "授信总额", "credit_granted", wan, help="各信用户授信额度之和（R-C1）")
card(
    next(slot),
    "获贷农户",
    "borrowing_households",
    households,
    help="有在贷农户贷款的农户数",
)
card(
    next(slot),
    "建档立卡户获贷率",
    "poor_loan_access_rate",
    fmt.percent,
    help=(
        f"建档立卡评级户 {fmt.count(now['poor_households_rated'], '户')} 中，"
        f"有在贷贷款的 {fmt.count(now['poor_borrowing_households'], '户')}"
    ),
)

card(next(slot), "贷款余额", "outstanding_balance", wan, help="农户贷款在贷余额（R-L1）")
npl_state = "高于" if now["npl_above_line"] else "未超过"
card(
    next(slot),
    "不良率",
    "npl_rate",
    fmt.percent,
    inverse=True,
    help=f"不良余额 {fmt.wan(now['npl_balance'])}；{npl_state} {line * 100:g}% 熔断线",
)
if view.scope.level == "village":
    village_status = now["breaker_status"]
    next(slot).metric(
        "本村熔断状态",
        ui.STATUS_BADGES.get(village_status, village_status),
        border=True,
        help="所在乡镇" + ("已熔断" if now["townships_tripped"] else "未熔断"),
    )
else:
    card(
        next(slot),
        "熔断村 / 熔断乡镇",
        "villages_tripped",
        fmt.count,
        inverse=True,
        value=(
            f"{fmt.count(now['villages_tripped'])} 村 / {fmt.count(now['townships_tripped'])} 乡镇"
        ),
        help=(
            f"共 {fmt.count(now['villages_total'])} 个行政村、"
            f"{fmt.count(now['townships_total'])} 个乡镇；预警村 {fmt.count(now['villages_watch'])} 个"
        ),
    )
card(
    next(slot),
    f"信用村（{now['title_year']}年）",
    "credit_villages",
    lambda value: fmt.count(value, "个"),
    help=(
        "当年有在贷且最近月末不良率不超过"
        f"{ui.policy(view).pct_text('title_rate_pct')}的行政村（R-T1）"
    ),
)
card(
    next(slot),
    "风险补偿金使用率",
    "fund_utilisation",
    fmt.percent,
    inverse=True,
    help=(
        f"全部贷款余额 {fmt.wan(now['total_outstanding_balance'])}"
        f" / 可贷规模 {fmt.yi(now['fund_capacity'])}（R-M4）"
    ),
)
if now["npl_above_line"]:
    st.error(
        f"不良率 {fmt.percent(now['npl_rate'])} 高于 {line * 100:g}% 熔断线。",
        icon=":material/report:",
    )

trend = data.kpi_trend(view.token, view.as_of, view.scope)
if view.scope.level == "village":
    st.caption(f"行政村的趋势显示近 {data.HISTORY_MONTHS} 个月。")
if view.meeting:
    st.plotly_chart(charts.outstanding_and_npl_trend(trend, line, large=True), width="stretch")
    st.plotly_chart(charts.grade_mix_trend(trend, large=True), width="stretch")
else:
    left, right = st.columns(2)
    left.plotly_chart(charts.outstanding_and_npl_trend(trend, line), width="stretch")
    right.plotly_chart(charts.grade_mix_trend(trend), width="stretch")

st.subheader(f"本月需关注（{view.as_of_label}）")
changes = data.village_changes(view.token, view.as_of, view.scope)
near = data.townships_near_line(view.token, view.as_of, view.scope)
icons = {"新增熔断": ":red[●]", "新增预警": ":orange[●]", "解除熔断": ":green[●]"}
lines = []
for row in changes.head(12).iter_rows(named=True) if changes.height else []:
    lines.append(
        f"{icons[row['change']]} **{row['change']}**："
        f"{fmt.markdown_text(row['township_name'])} {fmt.markdown_text(row['village_name'])}，"
        f"不良率 {fmt.percent(row['npl_rate'])}（上月 {fmt.percent(row['previous_npl_rate'])}）"
    )
share_line = ui.policy_rate(view, "township_breaker_share_pct")
for row in near.iter_rows(named=True):
    lines.append(
        f"{':red[●]' if row['tripped'] else ':orange[●]'} **{row['note']}**："
        f"{fmt.markdown_text(row['township_name'])}，"
        f"熔断村 {row['villages_tripped']}/{row['villages_total']}"
        f"（{fmt.percent(row['tripped_share'])}，线 {share_line * 100:g}%）"
    )
if lines:
    st.markdown("\n".join(f"- {line_text}" for line_text in lines))
    if changes.height > 12:
        st.caption(f"另有 {changes.height - 12} 个村状态变化，见下表。")
else:
    st.success(
        "本月没有新增熔断或预警的行政村，也没有接近熔断线的乡镇。", icon=":material/check_circle:"
    )

if changes.height:
    with st.expander(f"状态变化的行政村（{changes.height} 个）", expanded=not view.meeting):
        ui.table(
            changes.select(
                "change",
                "township_name",
                "village_name",
                "npl_rate",
                "previous_npl_rate",
                "status",
                "previous_status",
                "outstanding_balance",
                "npl_balance",
            ),
            title="行政村熔断状态变化",
            key="overview_changes",
            view=view,
        )
if near.height:
    with st.expander(f"接近或已触发熔断的乡镇（{near.height} 个）", expanded=not view.meeting):
        ui.table(
            near.select(
                "township_name",
                "villages_total",
                "villages_tripped",
                "villages_watch",
                "tripped_share",
                "note",
            ),
            title="接近熔断线的乡镇",
            key="overview_near",
            view=view,
        )

with st.expander("本页指标明细（本月与上月，可下载）", expanded=False):
    kpi_rows = current.select(data.KPI_COLUMNS)
    if previous is not None and previous.height:
        kpi_rows = pl.concat([kpi_rows, previous.select(data.KPI_COLUMNS)], how="vertical_relaxed")
    ui.table(kpi_rows, title="总览指标", key="overview_kpis", view=view)
