"""The why, as the pages show it: why a village or township trips (熔断原因), what needs attention
(需关注), what the next month-end holds (下月末预警), how fresh the ratings are (评级时效), and why
a household has its score and vetoes. UI only: the figures come from huinong.data (trips,
attention, warning, freshness, reasons), the sentences from huinong.why (shared with the
monthly briefing), permissions from the view's Scope."""

from __future__ import annotations

import polars as pl
import streamlit as st

from huinong import data, why
from huinong import format as fmt
from pages import _ui as ui

# Status words in front of a line of the attention list (colour and word: colour-blind safe).
CATEGORY_BADGES = {
    "乡镇熔断": ":red[●] **乡镇熔断**",
    "村熔断": ":red[●] **村熔断**",
    "乡镇临近熔断线": ":orange[●] **乡镇临近熔断线**",
    "预计下月末熔断": ":orange[●] **预计下月末熔断**",
    "村预警": ":orange[●] **村预警**",
    "预计下月末预警": ":orange[○] **预计下月末预警**",
    "好转": ":blue[●] **好转**",
}
NAMES_PER_LINE = 60  # places named on one line of the attention list before "等 N 个"


# ── 熔断原因 ──────────────────────────────────────────────────────────────────────────────────


def village_trip_panel(view: ui.View, village_code: str, *, key: str) -> None:
    """熔断原因 (or 预警原因) of one village: the rate arithmetic against the line, the NPL loans
    that make up the NPL balance (borrowers named only with view_named_households, loans only
    with view_loans; otherwise the counts), since when it is tripped, and the NPL principal to
    recover or write off to fall back under the line."""
    trip = data.village_trip(view.token, view.as_of, view.scope, village_code)
    if trip.height == 0:
        return
    row = trip.row(0, named=True)
    heading = {"熔断": "熔断原因", "预警": "预警原因"}.get(row["status"], "不良率计算")
    with st.container(border=True, key=f"trip_{key}"):
        st.markdown(
            f"#### {heading}：{fmt.markdown_text(row['village_name'])}　"
            f"{ui.STATUS_BADGES.get(row['status'], row['status'])}"
        )
        st.markdown(
            "\n".join(f"- {fmt.markdown_text(line)}" for line in why.village_trip_words(row))
        )
        if not row["npl_loans"]:
            return
        if not view.scope.may("view_loans"):
            st.info(
                f"不良贷款 {fmt.count(row['npl_loans'], '笔')}，涉及 "
                f"{fmt.count(row['npl_households'], '户')}。本账号只查看汇总数，不显示逐笔贷款。",
                icon=":material/info:",
            )
            return
        loans = data.village_npl_loans(view.token, view.as_of, view.scope, village_code)
        columns = ["household_id", "head_name", "loan_id", "amount", "disbursed_on"]
        columns += ["outstanding_principal", "dpd", "five_tier", "first_npl_on"]
        if not view.scope.names_households:
            columns.remove("head_name")
        total = loans["outstanding_principal"].sum() if loans.height else 0
        ui.table(
            loans.select(columns),
            title=f"不良贷款明细（{row['village_name']}）",
            key=f"npl_loans_{key}_{village_code}_{view.as_of}",
            view=view,
            note=(
                f"{fmt.count(loans.height, '笔')}不良贷款的剩余本金合计 {fmt.yuan(total)}，"
                f"即不良贷款余额；“首次不良日期”为每笔贷款逾期超过90天的那天（R-L4）。"
            ),
        )


def township_trip_panel(view: ui.View, township_code: str, *, key: str) -> None:
    """Which villages of a township trip, and its share of tripped villages against the line."""
    trip = data.township_trip(view.token, view.as_of, view.scope, township_code)
    if trip.height == 0:
        return
    row = trip.row(0, named=True)
    status = "熔断" if row["tripped"] else "正常"
    with st.container(border=True, key=f"township_trip_{key}"):
        st.markdown(
            f"#### 乡镇熔断判定：{fmt.markdown_text(row['township_name'])}　"
            f"{ui.STATUS_BADGES[status]}"
        )
        lines = why.township_trip_words(row)
        st.markdown("\n".join(f"- {fmt.markdown_text(line)}" for line in lines))


def trip_picker(view: ui.View, villages: pl.DataFrame, *, key: str) -> None:
    """The 熔断原因 of a tripped or 预警 village chosen from a list (the worst first)."""
    shown = villages.filter(pl.col("status").is_in(["熔断", "预警"])).sort(
        ["tripped", "npl_rate"], descending=True, nulls_last=True
    )
    if shown.height == 0:
        st.caption("本月没有熔断或预警的行政村。")
        return
    names = {
        row["village_code"]: f"{row['township_name']} {row['village_name']}（{row['status']}，"
        f"不良率 {fmt.percent(row['npl_rate'])}）"
        for row in shown.iter_rows(named=True)
    }
    chosen = st.selectbox(
        "查看熔断、预警原因",
        list(names),
        format_func=names.get,
        key=f"trip_pick_{key}_{view.as_of}_{view.scope.code}",
    )
    village_trip_panel(view, chosen, key=key)
    if st.button("在“村级钻取”中打开该村", key=f"trip_open_{key}", icon=":material/home_pin:"):
        ui.go_to(chosen[:9], chosen, page="pages/village.py")


# ── 需关注 ────────────────────────────────────────────────────────────────────────────────────


def _place(row: dict) -> str:
    if row["level"] == "township":
        return row["township_name"]
    return f"{row['township_name']} {row['village_name']}"


def attention_section(view: ui.View) -> pl.DataFrame:
    """需关注: every tripped township and village (newly tripped marked), townships near the
    share line, the villages the next month-end would trip, 预警, recovering; by risk. Never a
    green "nothing to report" while a village is tripped. Returns the list."""
    attention = data.attention_list(view.token, view.as_of, view.scope)
    st.subheader(f"需关注（{view.as_of_label}）")
    if attention.height == 0:
        st.success(
            "没有熔断、预警或临近熔断线的地区，也没有预计下月末熔断或预警的行政村。",
            icon=":material/check_circle:",
        )
        return attention
    lines = []
    for category in attention["category"].unique(maintain_order=True).to_list():
        rows = attention.filter(pl.col("category") == category).to_dicts()
        places = []
        for row in rows[:NAMES_PER_LINE]:
            name = fmt.markdown_text(_place(row))
            if (category, row["change"]) in (("村熔断", "新增熔断"), ("村预警", "新增预警")):
                name += "（本月新增）"
            places.append(name)
        more = f" 等 {len(rows)} 个" if len(rows) > NAMES_PER_LINE else ""
        unit = "个乡镇" if rows[0]["level"] == "township" else "个村"
        lines.append(
            f"- {CATEGORY_BADGES.get(category, category)}（{len(rows)} {unit}）："
            + "、".join(places)
            + more
        )
    st.markdown("\n".join(lines))
    with st.expander(f"需关注明细（{attention.height} 项，按风险排序）", expanded=False):
        ui.table(
            attention.select(
                "category",
                "township_name",
                "village_name",
                "status",
                "npl_rate",
                "previous_npl_rate",
                "projected_npl_rate",
                "note",
            ),
            title="需关注明细",
            key=f"attention_{view.scope.code}_{view.as_of}",
            view=view,
            height=min(420, 38 + 35 * attention.height),
        )
    return attention


# ── 下月末预警 ────────────────────────────────────────────────────────────────────────────────


def early_warning_section(view: ui.View, *, with_loans: bool, key: str) -> pl.DataFrame:
    """下月末预警: each village's NPL rate at the next month-end if nothing is repaid, the
    villages that would trip or enter 预警 then and (``with_loans``, with view_loans) the loans
    that drive it. Returns the villages."""
    warning = data.early_warning(view.token, view.as_of, view.scope)
    st.subheader("下月末预警（若不还款）")
    st.caption(
        "把每笔在贷农户贷款的逾期天数推到下月末：届时逾期超过90天的贷款，其剩余本金计入不良余额，"
        "贷款余额按现值不变（R-B4 的看板提示，不是熔断判定）。"
    )
    if warning.height == 0:
        st.info(
            "按当前逾期情况，到下月末没有行政村会新增熔断或进入预警。",
            icon=":material/event_available:",
        )
        return warning
    trips = int(warning["would_trip"].sum())
    watches = int(warning["would_watch"].sum())
    ui.kpi_cards(
        [
            ui.Card("预计新增熔断村", fmt.count(trips, "个"), better=None),
            ui.Card("预计新增预警村", fmt.count(watches, "个"), better=None),
            ui.Card(
                "将转不良余额（万元）",
                fmt.wan(warning["npl_balance_turning"].sum(), unit=False),
                better=None,
            ),
        ],
        key=f"warning_{key}",
    )
    ui.table(
        warning.select(
            "township_name",
            "village_name",
            "status",
            "npl_rate",
            "projected_npl_rate",
            "projected_status",
            "loans_turning_npl",
            "npl_balance_turning",
        ),
        title="下月末预警的行政村",
        key=f"warning_{key}_{view.scope.code}_{view.as_of}",
        view=view,
        unit="万元",
        height=min(420, 38 + 35 * warning.height),
    )
    if not with_loans:
        return warning
    if not view.scope.may("view_loans"):
        st.caption("本账号只查看汇总数，不显示将转为不良的逐笔贷款。")
        return warning
    names = {
        row["village_code"]: f"{row['township_name']} {row['village_name']}"
        for row in warning.iter_rows(named=True)
    }
    chosen = st.selectbox(
        "查看将转为不良的贷款",
        list(names),
        format_func=names.get,
        key=f"warning_pick_{key}_{view.as_of}_{view.scope.code}",
    )
    loans = data.early_warning_loans(view.token, view.as_of, view.scope, chosen)
    columns = ["household_id", "head_name", "loan_id", "amount", "outstanding_principal"]
    columns += ["dpd", "oldest_unpaid_due_on", "projected_dpd"]
    if not view.scope.names_households:
        columns.remove("head_name")
    ui.table(
        loans.select(columns),
        title=f"将转为不良的贷款（{names[chosen]}）",
        key=f"warning_loans_{key}_{chosen}_{view.as_of}",
        view=view,
        note="若到下月末仍不还款，这些贷款逾期将超过90天，转为不良。",
    )
    return warning


# ── 评级时效 ──────────────────────────────────────────────────────────────────────────────────


def stale_line(view: ui.View) -> int:
    """The policy's stale_collection_months (a rating resting on an older collection is stale)."""
    return int(data.policy(view.token, view.scope)["stale_collection_months"])


def freshness_by_area(view: ui.View) -> pl.DataFrame:
    """Stale ratings per area one level down (townships of the district, villages of a
    township): area_code, households_rating_stale."""
    freshness = data.rating_freshness(view.token, view.as_of, view.scope)
    if view.scope.level == "district":
        return freshness.group_by(pl.col("township_code").alias("area_code")).agg(
            pl.col("households_rating_stale").sum()
        )
    return freshness.select(pl.col("village_code").alias("area_code"), "households_rating_stale")
