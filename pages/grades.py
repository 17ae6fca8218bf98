"""信用评级: who holds which grade, how scores spread, what moves them, how grades migrate, and
how many ratings rest on a stale collection (评级时效)."""

from __future__ import annotations

from datetime import date

import polars as pl
import streamlit as st

from huinong import charts, data
from huinong import format as fmt
from pages import _ui as ui
from pages import _why as why_ui

CHART_VILLAGES = 120  # most villages drawn as bars in one chart

ui.route_if_run_directly()
view = ui.current_view()
ui.page_header("信用评级", view)

kpi = data.kpi(view.token, view.as_of, view.scope).row(0, named=True)
freshness = data.rating_freshness(view.token, view.as_of, view.scope)
stale_months = why_ui.stale_line(view)
stale_total = int(freshness["households_rating_stale"].sum()) if freshness.height else 0
ui.kpi_cards(
    [
        ui.Card("评级农户", fmt.count(kpi["households_rated"], "户")),
        ui.Card("信用户", fmt.count(kpi["households_credit"], "户"), help="A级及以上（R-C1）"),
        ui.Card("AAA+ / AAA", f"{kpi['households_aaa_plus']:,} / {kpi['households_aaa']:,}"),
        ui.Card("无信用", fmt.count(kpi["households_no_credit"], "户")),
        ui.Card("一票否决", fmt.count(kpi["households_vetoed"], "户"), help="R-S6"),
        ui.Card(
            "评级过期",
            fmt.count(stale_total, "户"),
            help=f"评分所依据的信息采集已超过 {stale_months} 个月的农户（R-S1），应重新采集",
        ),
    ],
    key="grades",
)


def _wide(counts: pl.DataFrame) -> pl.DataFrame:
    """area × grade counts, one row per area, with the total."""
    if counts.height == 0:
        return pl.DataFrame()
    wide = counts.pivot(on="grade", index=["area_code", "area_name"], values="households")
    for grade in fmt.GRADES:
        if grade not in wide.columns:
            wide = wide.with_columns(pl.lit(0).alias(grade))
    return wide.select("area_code", "area_name", *fmt.GRADES).with_columns(
        pl.sum_horizontal(*fmt.GRADES).alias("households_rated")
    )


st.subheader("信用等级分布")
# One breakdown at a time (a control, not tabs: tabs would draw both charts on every run).
breakdown = st.segmented_control(
    "分布口径",
    ["按乡镇", "按行政村"],
    default="按乡镇" if view.scope.level == "district" else "按行政村",
    required=True,
    key=f"grades_breakdown_{view.scope.level}",
    label_visibility="collapsed",
)
if breakdown == "按乡镇":
    counts = data.grade_distribution(view.token, view.as_of, view.scope, "township")
    st.plotly_chart(charts.grade_distribution(counts, large=view.meeting), width="stretch")
    ui.table(_wide(counts), title="各乡镇信用等级分布", key="grades_by_township", view=view)
else:
    counts = data.grade_distribution(view.token, view.as_of, view.scope, "village")
    village_count = counts["area_code"].n_unique() if counts.height else 0
    if village_count <= CHART_VILLAGES:
        st.plotly_chart(charts.grade_distribution(counts, large=view.meeting), width="stretch")
    else:
        # A bar per village stops being readable (and grows the page) long before a whole
        # prefecture's villages: the chart waits for a township, the table lists every village.
        st.info(
            f"共 {village_count:,} 个行政村，图表请先在左侧选择乡镇；下表列出全部行政村。",
            icon=":material/info:",
        )
    ui.table(_wide(counts), title="各行政村信用等级分布", key="grades_by_village", view=view)

st.subheader("评分分布")
scores = data.score_distribution(view.token, view.as_of, view.scope)
st.plotly_chart(
    charts.score_histogram(scores, ui.cut_offs(view), large=view.meeting), width="stretch"
)
vetoed = scores.filter(pl.col("vetoed"))["households"].sum()
bands = "，".join(f"{grade} ≥{minimum}分" for grade, minimum in ui.cut_offs(view))
st.caption(f"等级分界：{bands}，其余为无信用。一票否决 {vetoed:,} 户（评分记 0 分）未画入图中。")

st.subheader("建档立卡贫困户覆盖")
level = "village" if view.scope.level != "district" else "township"
coverage = data.poor_coverage(view.token, view.as_of, view.scope, level)
st.plotly_chart(charts.poor_coverage(coverage, large=view.meeting), width="stretch")
ui.table(coverage, title="建档立卡贫困户覆盖", key="grades_poor", view=view)

st.subheader("各评分项目的影响")
items = data.item_contributions(view.token, view.as_of, view.scope)
st.plotly_chart(charts.item_contributions(items, large=view.meeting), width="stretch")
items_table = items.with_columns(
    pl.col("item").replace(fmt.ITEM_NAMES),
    (pl.col("households_affected") / pl.col("households").clip(lower_bound=1)).alias(
        "share_affected"
    ),
).select("item", "average_points", "households_affected", "share_affected")
ui.table(items_table, title="评分项目平均贡献", key="grades_items", view=view)
st.caption("平均得分 = 该项目在所有评级农户上的平均加（减）分；绝对值越大，对评分影响越大。")

st.subheader("信用等级迁移")
months = ui.month_options(view)
earlier = [day for day in months if day < view.as_of]
if not earlier:
    st.info("所选月份之前没有可比较的月份。")
else:
    chosen = st.session_state.get("compare") or ""
    default_from = next((day for day in earlier if (view.as_of - day).days >= 360), earlier[-1])
    if chosen and date.fromisoformat(chosen) in earlier:
        default_from = date.fromisoformat(chosen)
    key = f"migration_from_{view.as_of.isoformat()}"

    def _compare_changed() -> None:
        # Into the link (app.py writes ?compare=) on the rerun this change starts.
        st.session_state["compare"] = st.session_state[key].isoformat()

    from_as_of: date = st.selectbox(
        "与哪个月份比较",
        earlier,
        index=earlier.index(default_from),
        format_func=fmt.month_label,
        key=key,
        on_change=_compare_changed,
    )
    migration = data.grade_migration(view.token, from_as_of, view.as_of, view.scope)
    rank = {grade: position for position, grade in enumerate(fmt.GRADES)}
    moved = migration.filter(
        pl.col("from_grade").is_in(fmt.GRADES) & pl.col("to_grade").is_in(fmt.GRADES)
    ).with_columns(
        pl.col("from_grade").replace_strict(rank, return_dtype=pl.Int32).alias("from_rank"),
        pl.col("to_grade").replace_strict(rank, return_dtype=pl.Int32).alias("to_rank"),
    )
    up = moved.filter(pl.col("to_rank") < pl.col("from_rank"))["households"].sum()
    down = moved.filter(pl.col("to_rank") > pl.col("from_rank"))["households"].sum()
    fell = moved.filter((pl.col("to_grade") == "无信用") & (pl.col("from_grade") != "无信用"))[
        "households"
    ].sum()
    a_to_aa = moved.filter((pl.col("from_grade") == "A") & (pl.col("to_grade") == "AA"))[
        "households"
    ].sum()
    ui.kpi_cards(
        [
            ui.Card("等级上升", fmt.count(up, "户")),
            ui.Card("等级下降", fmt.count(down, "户")),
            ui.Card("跌至无信用", fmt.count(fell, "户")),
            ui.Card("A 升为 AA", fmt.count(a_to_aa, "户")),
        ],
        key="migration",
    )
    st.plotly_chart(
        charts.migration_matrix(
            migration,
            fmt.month_label(from_as_of),
            fmt.month_label(view.as_of),
            large=view.meeting,
        ),
        width="stretch",
    )
    ui.table(
        migration.sort("from_grade", "to_grade"),
        title="信用等级迁移",
        key="grades_migration",
        view=view,
    )

st.subheader("评级时效")
st.caption(
    f"评分依据农户最近一次信息采集（R-S1）；采集已超过 {stale_months} 个月的评级为“过期”，"
    "应安排重新采集。按过期户数从多到少排列。"
)
if stale_total == 0:
    st.success(
        f"所有评级所依据的信息采集都在 {stale_months} 个月以内。", icon=":material/check_circle:"
    )
ui.table(
    freshness.select(
        "township_name",
        "village_name",
        "households_rated",
        "households_rating_stale",
        "rating_stale_share",
        "oldest_collected_on",
    ),
    title="各行政村评级时效",
    key="grades_freshness",
    view=view,
    height=min(420, 38 + 35 * max(freshness.height, 1)),
)
