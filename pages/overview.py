"""总览: the leading group's figures for the chosen month and scope, readable across a room: KPI
cards with their change since the previous month-end, trends, what needs attention (every
tripped village named), the next month-end's outlook, and the monthly briefing as a PDF."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import streamlit as st

from huinong import charts, data
from huinong import format as fmt
from pages import _ui as ui
from pages import _why as why_ui

ui.route_if_run_directly()
view = ui.current_view()
ui.page_header("总览", view)

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


def households(value) -> str:
    return fmt.count(value, "户")


def wan(value) -> str:
    return fmt.wan(value, unit=False)


def card(label, key, formatter, *, better="up", help=None, value=None, rate=False) -> ui.Card:
    """A KPI card: the value now and its change since the previous month-end (a rate's change
    in 个百分点)."""
    delta = None
    if before:
        if rate:
            delta = fmt.rate_change(now[key], before.get(key))
        else:
            delta = fmt.change(now[key], before.get(key), formatter)
    return ui.Card(
        label,
        value if value is not None else formatter(now[key]),
        delta=delta,
        better=better,
        help=help,
        since=versus,
    )


cards = [
    card("评级农户", "households_rated", households, help="有信用信息采集、已评分的农户（R-S1）"),
    card(
        "信用户",
        "households_credit",
        households,
        help="A级及以上、有授信额度的农户（R-C1）",
    ),
    card("授信总额（万元）", "credit_granted", wan, help="各信用户授信额度之和（R-C1）"),
    card("获贷农户", "borrowing_households", households, help="有在贷农户贷款的农户数"),
    card(
        "建档立卡获贷率",
        "poor_loan_access_rate",
        fmt.percent,
        rate=True,
        help=(
            f"建档立卡评级户 {fmt.count(now['poor_households_rated'], '户')} 中，"
            f"有在贷贷款的 {fmt.count(now['poor_borrowing_households'], '户')}"
        ),
    ),
    card("贷款余额（万元）", "outstanding_balance", wan, help="农户贷款在贷余额（R-L1）"),
    card(
        "不良率",
        "npl_rate",
        fmt.percent,
        rate=True,
        better="down",
        help=(
            f"不良余额 {fmt.wan(now['npl_balance'])} ÷ 贷款余额 "
            f"{fmt.wan(now['outstanding_balance'])}；熔断线 {line * 100:g}%（R-B1）"
        ),
    ),
]
if view.scope.level == "village":
    village_status = now["breaker_status"]
    cards.append(
        ui.Card(
            "本村熔断状态",
            ui.STATUS_BADGES.get(village_status, village_status),
            help="所在乡镇" + ("已熔断" if now["townships_tripped"] else "未熔断"),
        )
    )
else:
    cards.append(
        card(
            "熔断村 / 乡镇",
            "villages_tripped",
            fmt.count,
            better="down",
            value=(
                f"{fmt.count(now['villages_tripped'])} 村 / "
                f"{fmt.count(now['townships_tripped'])} 乡镇"
            ),
            help=(
                f"熔断村 / 熔断乡镇：共 {fmt.count(now['villages_total'])} 个行政村、"
                f"{fmt.count(now['townships_total'])} 个乡镇；预警村 "
                f"{fmt.count(now['villages_watch'])} 个（R-B2）"
            ),
        )
    )
cards += [
    card(
        f"信用村（{now['title_year']}年）",
        "credit_villages",
        lambda value: fmt.count(value, "个"),
        help=(
            "当年有在贷且最近月末不良率不超过"
            f"{ui.policy(view).pct_text('title_rate_pct')}的行政村（R-T1）"
        ),
    ),
    card(
        "补偿金使用率",
        "fund_utilisation",
        fmt.percent,
        rate=True,
        better=None,
        help=(
            f"风险补偿金使用率：全部贷款余额 {fmt.wan(now['total_outstanding_balance'])}"
            f" ÷ 可贷规模 {fmt.yi(now['fund_capacity'])}（R-M4）"
        ),
    ),
]
ui.kpi_cards(cards, key="overview")

if now["npl_above_line"]:
    st.error(
        f"不良率 {fmt.percent(now['npl_rate'])} 高于 {line * 100:g}% 熔断线。",
        icon=":material/report:",
    )
if view.scope.level == "village" and now["breaker_status"] in ("熔断", "预警"):
    why_ui.village_trip_panel(view, view.scope.village_code, key="overview")

why_ui.attention_section(view)

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

why_ui.early_warning_section(view, with_loans=False, key="overview")

if view.user.has("export") and view.scope.level != "village":
    ui.briefing_button(view, key="overview")

with st.expander("本页指标明细（本月与上月，可下载）", expanded=False):
    kpi_rows = current.select(data.KPI_COLUMNS)
    if previous is not None and previous.height:
        kpi_rows = pl.concat([kpi_rows, previous.select(data.KPI_COLUMNS)], how="vertical_relaxed")
    ui.table(kpi_rows, title="总览指标", key="overview_kpis", view=view, unit="万元")
