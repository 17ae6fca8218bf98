"""熔断监测: every village against the watch and breaker lines and why each tripped or 预警
village reads as it does (熔断原因), townships against their share line (all from the
warehouse's policy profile), the next month-end's outlook with the loans that drive it, the
history of trips, and the households whose new credit is stopped (R-B1..R-B4, R-C2)."""

from __future__ import annotations

import polars as pl
import streamlit as st

from huinong import charts, data, export
from huinong import format as fmt
from pages import _ui as ui
from pages import _why as why_ui

STRIP_VILLAGES = 100  # most villages drawn in the heat strip

ui.route_if_run_directly()
view = ui.current_view()
ui.page_header("熔断监测", view)

line = ui.policy_rate(view, "village_breaker_rate_pct")
watch = ui.policy_rate(view, "watch_rate_pct")
share_line = ui.policy_rate(view, "township_breaker_share_pct")

villages = data.village_breaker(view.token, view.as_of, view.scope)
townships = data.township_breaker(view.token, view.as_of, view.scope)
stopped_total = data.credit_stop_count(view.token, view.as_of, view.scope)
status_counts = dict(villages.group_by("status").len().iter_rows())

ui.kpi_cards(
    [
        ui.Card("熔断村", f"{status_counts.get('熔断', 0):,} 个", better=None),
        ui.Card("预警村", f"{status_counts.get('预警', 0):,} 个", better=None),
        ui.Card(
            "正常 / 无贷款村",
            f"{status_counts.get('正常', 0):,} / {status_counts.get('无贷款', 0):,}",
            better=None,
        ),
        ui.Card(
            "熔断乡镇",
            f"{int(townships['tripped'].sum()):,} / {townships.height:,} 个",
            better=None,
        ),
        ui.Card("停止授信农户", fmt.count(stopped_total, "户"), better=None, help="停止新增授信"),
    ],
    key="breaker",
)
st.caption(
    f"行政村不良率超过 {line * 100:g}% 即熔断，{watch * 100:g}%–{line * 100:g}% 为预警；"
    f"乡镇内熔断村达到 {share_line * 100:g}% 即乡镇熔断。熔断后下月停止新增授信，"
    "至月末评价不再熔断时解除（R-B2、R-B3）。"
)
if view.scope.level == "village":
    why_ui.village_trip_panel(view, view.scope.village_code, key="breaker")
elif view.scope.level == "township":
    why_ui.township_trip_panel(view, view.scope.township_code, key="breaker")

st.subheader("各行政村不良率")
st.plotly_chart(
    charts.village_npl_rates(villages, line, watch, large=view.meeting), width="stretch"
)
status_filter = st.multiselect(
    "按状态筛选", list(fmt.STATUSES), default=list(fmt.STATUSES), key="breaker_status_filter"
)
shown = villages.filter(pl.col("status").is_in(status_filter))
ui.table(
    shown.select(
        "township_name",
        "village_name",
        "status",
        "npl_rate",
        "outstanding_balance",
        "npl_balance",
        "overdue_balance",
        "borrowing_households",
        "loans_on_book",
    ),
    title="村级熔断监测",
    key="breaker_villages",
    view=view,
    unit="万元",
)
if view.scope.level != "village":
    why_ui.trip_picker(view, villages, key="breaker")

why_ui.early_warning_section(view, with_loans=True, key="breaker")

if view.scope.level != "village":
    st.subheader("各乡镇熔断村占比")
    st.plotly_chart(
        charts.township_tripped_share(townships, share_line, large=view.meeting), width="stretch"
    )
    ui.table(
        townships.select(
            "township_name",
            "villages_total",
            "villages_tripped",
            "villages_watch",
            "villages_without_loans",
            "tripped_share",
            "tripped",
            "npl_rate",
        ),
        title="乡镇熔断监测",
        key="breaker_townships",
        view=view,
        unit="万元",
    )

st.subheader("熔断历史")
history = data.breaker_history(view.token, view.as_of, view.scope)
if history.height == 0:
    st.success(f"近{data.HISTORY_MONTHS}个月没有行政村熔断或预警。", icon=":material/check_circle:")
else:
    trips = (
        history.group_by("township_name", "village_name", "village_code")
        .agg(
            (pl.col("status") == "熔断").sum().alias("months_tripped"),
            (pl.col("status") == "预警").sum().alias("months_watch"),
        )
        .sort("months_tripped", "months_watch", "village_code", descending=[True, True, False])
    )
    if view.scope.level == "district":
        st.caption(
            f"近{data.HISTORY_MONTHS}个月曾熔断或预警的行政村（其余行政村一直正常或无贷款）。"
        )
    if trips.height > STRIP_VILLAGES:
        # A prefecture can have thousands: the strip keeps the villages tripped longest.
        st.caption(
            f"共 {trips.height:,} 个行政村，图中为熔断月数最多的 {STRIP_VILLAGES} 个；"
            "下表列出全部行政村。"
        )
        shown = trips.head(STRIP_VILLAGES)["village_code"]
        history = history.filter(pl.col("village_code").is_in(shown.implode()))
    st.plotly_chart(charts.breaker_strip(history, large=view.meeting), width="stretch")
    ui.table(
        trips.drop("village_code"),
        title="熔断历史统计",
        key="breaker_history",
        view=view,
    )

st.subheader("停止新增授信的农户")
if stopped_total == 0:
    st.success("当前没有被停止新增授信的农户。", icon=":material/check_circle:")
elif not view.scope.names_households:
    # 领导小组: the count, by village, never the households' names.
    st.info(
        f"共 {stopped_total:,} 户被停止新增授信（本账号只查看汇总数，不显示农户名单）。",
        icon=":material/info:",
    )
else:
    stops = data.credit_stops(view.token, view.as_of, view.scope)
    note = None
    if stopped_total > stops.height:
        note = (
            f"仅显示前 {stops.height:,} 户（共 {stopped_total:,} 户），请缩小范围或下载完整名单。"
        )
    ui.table(
        stops.select(
            "township_name",
            "village_name",
            "household_id",
            "head_name",
            "grade",
            "score",
            "credit_limit",
            "outstanding_principal",
            "stop_reason",
        ),
        title="停止新增授信农户名单",
        key="breaker_stops",
        view=view,
        download_rows=ui.report_rows(view, "credit_stops"),
        spec=export.REPORT_SPECS["credit_stops"],
        note=note,
    )
