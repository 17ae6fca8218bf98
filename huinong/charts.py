"""Pure chart builders: a polars DataFrame (from huinong.data) in, a plotly Figure out.

No Streamlit and no queries here, so every figure can be unit-tested on its traces. Colours
come from huinong.format (the same grade and status colours everywhere). Amounts arrive in 元
as Decimal and are shown in 万元; rates arrive as fractions and are shown in %.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

import plotly.graph_objects as go
import polars as pl

from huinong.format import (
    ADD_COLOUR,
    DEDUCT_COLOUR,
    GRADE_COLOURS,
    GRADES,
    ITEM_NAMES,
    STATUS_COLOURS,
    STATUSES,
    UNRATED,
    ScoreStep,
    month_label,
)

FONT = "Noto Sans CJK SC, Microsoft YaHei, PingFang SC, sans-serif"
# The policy lines in the status colours they stand for (dashed: the breaker, dotted: 预警).
LINE_COLOUR = STATUS_COLOURS["熔断"]
WATCH_COLOUR = STATUS_COLOURS["预警"]
TEXT_COLOUR = "#1f2933"  # the page's text colour: ticks and legends read from the back of a room
# Most villages drawn as bars in one chart: beyond that a bar's name is too small to read.
TOP_VILLAGES = 25
# Meeting mode (会议模式): a projector in a room; every figure at most one screen high.
LARGE_FONT = 20
NORMAL_FONT = 13
LARGE_MAX_HEIGHT = 560


def _layout(figure: go.Figure, title: str, height: int, large: bool) -> go.Figure:
    """Title, fonts, size and the house look. ``large`` (会议模式): bigger type, dark ticks and
    legends, and no taller than one screen."""
    size = LARGE_FONT if large else NORMAL_FONT
    if large:
        height = min(int(height * 1.3), max(LARGE_MAX_HEIGHT, height))
    figure.update_layout(
        title={"text": title, "font": {"size": size + 4, "color": TEXT_COLOUR}},
        font={"family": FONT, "size": size, "color": TEXT_COLOUR},
        height=height,
        margin={"l": 10, "r": 10, "t": 70 if large else 60, "b": 10},
        legend={
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.0,
            "xanchor": "right",
            "x": 1,
            "font": {"size": size, "color": TEXT_COLOUR},
        },
        plot_bgcolor="white",
        separators=".,",
    )
    ticks = {"tickfont": {"size": size, "color": TEXT_COLOUR}, "automargin": True}
    figure.update_xaxes(showgrid=False, **ticks)
    figure.update_yaxes(gridcolor="#e5e5e5", **ticks)
    return figure


def nice_step(top: float, intervals: int = 4) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving at most ``intervals`` steps up
    to ``top``: 3.45 -> 1, 16 -> 5, 23,000 -> 10,000."""
    if top <= 0:
        return 1.0
    raw = top / intervals
    power = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if multiple * power >= raw:
            return multiple * power
    return 10 * power


def _floats(series: pl.Series, scale: float = 1.0) -> list[float | None]:
    return [None if value is None else float(value) * scale for value in series.to_list()]


def _month_labels(days: Sequence[date]) -> list[str]:
    return [month_label(day) for day in days]


def outstanding_and_npl_trend(
    trend: pl.DataFrame, line_rate: float, large: bool = False
) -> go.Figure:
    """Outstanding balance (万元, bars) and NPL rate (%, line) by month with the breaker line.

    ``trend``: as_of, outstanding_balance (元), npl_rate (fraction). ``line_rate``: 0.03.
    """
    months = _month_labels(trend["as_of"].to_list())
    figure = go.Figure()
    figure.add_bar(
        x=months,
        y=_floats(trend["outstanding_balance"], 1 / 10000),
        name="贷款余额（万元）",
        marker_color="#6baed6",
        hovertemplate="%{x}<br>贷款余额 %{y:,.2f} 万元<extra></extra>",
    )
    figure.add_scatter(
        x=months,
        y=_floats(trend["npl_rate"], 100),
        name="不良率（%）",
        yaxis="y2",
        mode="lines+markers",
        line={"color": "#08306b", "width": 3},
        hovertemplate="%{x}<br>不良率 %{y:.2f}%<extra></extra>",
    )
    figure.add_scatter(
        x=[months[0], months[-1]] if months else [],
        y=[line_rate * 100] * (2 if months else 0),
        name=f"熔断线 {line_rate * 100:g}%",
        yaxis="y2",
        mode="lines",
        line={"color": LINE_COLOUR, "dash": "dash", "width": 2},
        hoverinfo="skip",
    )
    # Both axes on round ticks (0/1/2/3 %, 0/5,000/10,000 万元) with as many steps each, so that
    # the gridlines of the one are the ticks of the other.
    rates = [value for value in _floats(trend["npl_rate"], 100) if value is not None]
    rate_step = nice_step(max([*rates, line_rate * 100]) * 1.1)
    intervals = max(2, math.ceil(max([*rates, line_rate * 100]) * 1.1 / rate_step))
    balances = [value for value in _floats(trend["outstanding_balance"], 1 / 10000) if value]
    balance_step = nice_step(max(balances, default=1.0), intervals)
    figure.update_layout(
        xaxis={"nticks": 14},
        yaxis={
            "title": "万元",
            "tickformat": ",.2~f",
            "range": [0, balance_step * intervals],
            "tick0": 0,
            "dtick": balance_step,
        },
        yaxis2={
            "title": "不良率（%）",
            "overlaying": "y",
            "side": "right",
            "range": [0, rate_step * intervals],
            "tick0": 0,
            "dtick": rate_step,
            "ticksuffix": "%",
            "tickformat": ".2~f",
            "showgrid": False,
        },
        bargap=0.2,
    )
    return _layout(figure, "贷款余额与不良率", 380, large)


def grade_mix_trend(trend: pl.DataFrame, large: bool = False) -> go.Figure:
    """Rated households by grade per month, stacked (columns AAA+ … 无信用 of kpi_trend)."""
    months = _month_labels(trend["as_of"].to_list())
    figure = go.Figure()
    for grade in GRADES:
        figure.add_scatter(
            x=months,
            y=trend[grade].to_list(),
            name=grade,
            stackgroup="grades",
            mode="lines",
            line={"width": 0.5, "color": GRADE_COLOURS[grade]},
            fillcolor=GRADE_COLOURS[grade],
            hovertemplate=f"%{{x}}<br>{grade} %{{y:,}} 户<extra></extra>",
        )
    figure.update_layout(xaxis={"nticks": 14}, yaxis={"title": "户", "tickformat": ",d"})
    return _layout(figure, "信用等级结构", 380, large)


def grade_distribution(counts: pl.DataFrame, large: bool = False) -> go.Figure:
    """Households by grade for each area, stacked horizontal bars (area_name, grade, households)."""
    figure = go.Figure()
    areas = counts.select("area_code", "area_name").unique(maintain_order=True)
    names = areas["area_name"].to_list()
    for grade in GRADES:
        rows = areas.join(
            counts.filter(pl.col("grade") == grade).select("area_code", "households"),
            on="area_code",
            how="left",
        )
        figure.add_bar(
            y=names,
            x=rows["households"].fill_null(0).to_list(),
            name=grade,
            orientation="h",
            marker_color=GRADE_COLOURS[grade],
            hovertemplate=f"%{{y}}<br>{grade} %{{x:,}} 户<extra></extra>",
        )
    figure.update_layout(
        barmode="stack",
        xaxis={"title": "户", "tickformat": ",d"},
        yaxis={"autorange": "reversed"},
    )
    return _layout(figure, "信用等级分布", max(300, 28 * len(names) + 120), large)


def score_histogram(
    scores: pl.DataFrame,
    cut_offs: Sequence[tuple[str, int]],
    large: bool = False,
    low: int = 60,
) -> go.Figure:
    """Households by score (vetoed households left out: their score is 0), with a dashed line at
    each grade's lowest score. ``cut_offs``: [("AAA+", 101), ("AAA", 96), ("AA", 87), ("A", 80)].
    Scores have no floor (R-C3): those below ``low`` share one bar, drawn at ``low`` − 1."""
    scored = (
        scores.filter(~pl.col("vetoed"))
        .with_columns(pl.col("score").clip(lower_bound=low - 1))
        .group_by("score")
        .agg(pl.col("households").sum())
        .sort("score")
    )
    labels = [f"低于{low}分" if score < low else f"{score} 分" for score in scored["score"]]
    figure = go.Figure()
    figure.add_bar(
        x=scored["score"].to_list(),
        y=scored["households"].to_list(),
        name="户数",
        marker_color="#6baed6",
        customdata=labels,
        hovertemplate="%{customdata}<br>%{y:,} 户<extra></extra>",
    )
    for position, (grade, minimum) in enumerate(cut_offs):
        figure.add_vline(
            x=minimum - 0.5,
            line={"color": GRADE_COLOURS.get(grade, "#333333"), "dash": "dash", "width": 2},
        )
        # Labels at staggered heights: the cut-offs lie a few points apart.
        figure.add_annotation(
            x=minimum - 0.5,
            y=1.0 - 0.08 * position,
            yref="paper",
            text=f"{grade} ≥{minimum}",
            showarrow=False,
            xanchor="left",
            bgcolor="rgba(255,255,255,0.8)",
        )
    figure.update_layout(
        xaxis={"title": f"评分（{low - 1} 即低于{low}分）", "dtick": 5},
        yaxis={"title": "户", "tickformat": ",d"},
        bargap=0.05,
        showlegend=False,
    )
    return _layout(figure, "评分分布与等级分界", 380, large)


def item_contributions(items: pl.DataFrame, large: bool = False) -> go.Figure:
    """Average points of each rule item over the rated households (item, average_points),
    largest effect first; add items blue, deductions vermillion."""
    ordered = items.with_columns(pl.col("average_points").abs().alias("_size")).sort(
        "_size", descending=True
    )
    values = ordered["average_points"].to_list()
    figure = go.Figure()
    figure.add_bar(
        y=[ITEM_NAMES.get(item, item) for item in ordered["item"].to_list()],
        x=values,
        orientation="h",
        marker_color=[ADD_COLOUR if value >= 0 else DEDUCT_COLOUR for value in values],
        text=[f"{value:+.2f}" for value in values],
        textposition="outside",
        hovertemplate="%{y}<br>平均 %{x:+.2f} 分<extra></extra>",
    )
    figure.update_layout(
        xaxis={"title": "平均得分（分/户）", "zeroline": True, "zerolinecolor": "#333333"},
        yaxis={"autorange": "reversed"},
        showlegend=False,
    )
    return _layout(figure, "各评分项目的平均贡献", 520, large)


MIGRATION_ORDER = (*GRADES, UNRATED)


def migration_matrix(
    migration: pl.DataFrame, from_label: str, to_label: str, large: bool = False
) -> go.Figure:
    """Heat map of households from each grade (rows, at from_label) to each grade (columns)."""
    present_from = set(migration["from_grade"].to_list())
    present_to = set(migration["to_grade"].to_list())
    rows = [grade for grade in MIGRATION_ORDER if grade in present_from or grade != UNRATED]
    columns = [grade for grade in MIGRATION_ORDER if grade in present_to or grade != UNRATED]
    lookup = {
        (row["from_grade"], row["to_grade"]): row["households"]
        for row in migration.iter_rows(named=True)
    }
    z = [[lookup.get((row, column), 0) for column in columns] for row in rows]
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=columns,
            y=rows,
            colorscale="Blues",
            text=[[f"{value:,}" for value in line] for line in z],
            texttemplate="%{text}",
            hovertemplate=f"{from_label} %{{y}} → {to_label} %{{x}}<br>%{{z:,}} 户<extra></extra>",
            showscale=False,
        )
    )
    figure.update_layout(
        xaxis={"title": f"{to_label} 等级", "side": "top"},
        yaxis={"title": f"{from_label} 等级", "autorange": "reversed"},
    )
    return _layout(figure, "信用等级迁移", 420, large)


def village_npl_rates(
    villages: pl.DataFrame,
    line_rate: float,
    watch_rate: float,
    large: bool = False,
    top: int = TOP_VILLAGES,
) -> go.Figure:
    """The villages with lending, highest NPL rate first, as horizontal bars coloured and labelled
    by status, with the 预警 and breaker lines; at most ``top`` of them (a district's 47 names
    stay readable; the page's table lists every village). Villages without lending (no rate) are
    left out. ``villages``: village_name, township_name, npl_rate, status."""
    lending = villages.filter(pl.col("npl_rate").is_not_null()).sort(
        ["npl_rate", "township_name", "village_name"], descending=[True, False, False]
    )
    shown = lending.head(top)
    labels = [
        f"{township} {village}"
        for township, village in zip(
            shown["township_name"].to_list(), shown["village_name"].to_list(), strict=True
        )
    ]
    figure = go.Figure()
    for status in STATUSES:
        rows = [index for index, value in enumerate(shown["status"].to_list()) if value == status]
        if not rows:
            continue
        rates = _floats(shown["npl_rate"], 100)
        figure.add_bar(
            y=[labels[index] for index in rows],
            x=[rates[index] for index in rows],
            name=status,
            orientation="h",
            marker_color=STATUS_COLOURS[status],
            text=[f"{rates[index]:.2f}% {status}" for index in rows],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}<br>不良率 %{x:.2f}%<extra>" + status + "</extra>",
        )
    highest = max([*_floats(shown["npl_rate"], 100), line_rate * 100, 0.0])
    step = nice_step(highest * 1.25)
    figure.add_vline(
        x=line_rate * 100,
        line={"color": LINE_COLOUR, "dash": "dash", "width": 2},
        annotation_text=f"熔断线 {line_rate * 100:g}%",
        annotation_position="top",
    )
    figure.add_vline(
        x=watch_rate * 100,
        line={"color": WATCH_COLOUR, "dash": "dot", "width": 2},
        annotation_text=f"预警线 {watch_rate * 100:g}%",
        annotation_position="bottom",
    )
    figure.update_layout(
        xaxis={
            "title": "不良率（%）",
            "range": [0, step * math.ceil(highest * 1.25 / step)],
            "dtick": step,
            "ticksuffix": "%",
            "tickformat": ".2~f",
        },
        yaxis={"categoryorder": "array", "categoryarray": labels, "autorange": "reversed"},
        barmode="overlay",
        legend={"traceorder": "normal"},
    )
    title = "各行政村不良率"
    if lending.height > top:
        title = f"不良率最高的 {top} 个行政村（共 {lending.height} 个有贷款）"
    return _layout(figure, title, max(260, 30 * len(labels) + 130), large)


def township_tripped_share(
    townships: pl.DataFrame, share_line: float, large: bool = False
) -> go.Figure:
    """Each township's share of tripped villages (%) against the 30% line.
    ``townships``: township_name, tripped_share (fraction), tripped, villages_tripped, villages_total."""
    flags = townships["tripped"].to_list()
    colours = [STATUS_COLOURS["熔断"] if tripped else STATUS_COLOURS["正常"] for tripped in flags]
    figure = go.Figure()
    figure.add_bar(
        x=townships["township_name"].to_list(),
        y=_floats(townships["tripped_share"], 100),
        marker_color=colours,
        text=[
            f"{tripped}/{total}{' 熔断' if flag else ''}"
            for tripped, total, flag in zip(
                townships["villages_tripped"].to_list(),
                townships["villages_total"].to_list(),
                flags,
                strict=True,
            )
        ],
        cliponaxis=False,
        textposition="outside",
        hovertemplate="%{x}<br>熔断村占比 %{y:.2f}%<extra></extra>",
        showlegend=False,
    )
    figure.add_hline(
        y=share_line * 100,
        line={"color": LINE_COLOUR, "dash": "dash", "width": 2},
        annotation_text=f"乡镇熔断线 {share_line * 100:g}%",
    )
    shares = [value or 0.0 for value in _floats(townships["tripped_share"], 100)]
    highest = max([*shares, share_line * 100])
    step = nice_step(highest * 1.15)
    figure.update_layout(
        yaxis={
            "title": "熔断村占比（%）",
            "range": [0, step * math.ceil(highest * 1.15 / step)],
            "dtick": step,
            "ticksuffix": "%",
            "tickformat": ".2~f",
        }
    )
    return _layout(figure, "各乡镇熔断村占比", 380, large)


STATUS_CODES = {status: code for code, status in enumerate(("无贷款", "正常", "预警", "熔断"))}


def breaker_strip(history: pl.DataFrame, large: bool = False) -> go.Figure:
    """Village × month heat strip of breaker status (village_name, township_name, as_of, status)."""
    months = sorted(set(history["as_of"].to_list()))
    villages = history.select("village_code", "village_name", "township_name").unique(
        maintain_order=True
    )
    lookup = {
        (row["village_code"], row["as_of"]): row["status"] for row in history.iter_rows(named=True)
    }
    z, text = [], []
    for code in villages["village_code"].to_list():
        statuses = [lookup.get((code, month)) for month in months]
        z.append([STATUS_CODES.get(status) for status in statuses])
        text.append([status or "" for status in statuses])
    labels = [
        f"{township} {village}"
        for township, village in zip(
            villages["township_name"].to_list(), villages["village_name"].to_list(), strict=True
        )
    ]
    ordered = ("无贷款", "正常", "预警", "熔断")
    scale = []
    for position, status in enumerate(ordered):
        scale.append([position / len(ordered), STATUS_COLOURS[status]])
        scale.append([(position + 1) / len(ordered), STATUS_COLOURS[status]])
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=_month_labels(months),
            y=labels,
            text=text,
            zmin=-0.5,
            zmax=len(ordered) - 0.5,
            colorscale=scale,
            xgap=1,
            ygap=1,
            hovertemplate="%{y}<br>%{x}：%{text}<extra></extra>",
            colorbar={
                "tickvals": list(range(len(ordered))),
                "ticktext": list(ordered),
                "title": "状态",
            },
        )
    )
    figure.update_layout(xaxis={"nticks": 12}, yaxis={"autorange": "reversed"})
    return _layout(figure, "熔断历史（行政村 × 月份）", max(300, 22 * len(labels) + 140), large)


def score_waterfall(steps: Sequence[ScoreStep], large: bool = False) -> go.Figure:
    """From the base score through each rule item to the final score (score_steps's output)."""
    measures = {"base": "absolute", "total": "total"}
    figure = go.Figure(
        go.Waterfall(
            orientation="h",
            y=[step.label for step in steps],
            x=[step.points if step.kind != "total" else 0 for step in steps],
            measure=[measures.get(step.kind, "relative") for step in steps],
            text=[step.label.rsplit(" ", 1)[-1] for step in steps],
            textposition="outside",
            increasing={"marker": {"color": ADD_COLOUR}},
            decreasing={"marker": {"color": DEDUCT_COLOUR}},
            totals={"marker": {"color": "#555555"}},
            connector={"line": {"color": "#999999"}},
            hovertemplate="%{y}<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis={"title": "分", "rangemode": "tozero"},
        yaxis={"autorange": "reversed", "automargin": True},
        showlegend=False,
    )
    return _layout(figure, "评分构成（由基础分到最终得分）", 60 + 34 * len(steps), large)


def grade_history(
    history: pl.DataFrame, cut_offs: Sequence[tuple[str, int]], large: bool = False
) -> go.Figure:
    """A household's score by month with its grade as the point colour (as_of, score, grade)."""
    months = _month_labels(history["as_of"].to_list())
    grades = history["grade"].to_list()
    figure = go.Figure()
    figure.add_scatter(
        x=months,
        y=history["score"].to_list(),
        mode="lines+markers",
        line={"color": "#999999"},
        marker={"color": [GRADE_COLOURS.get(grade, "#333333") for grade in grades], "size": 9},
        text=grades,
        hovertemplate="%{x}<br>%{y} 分 %{text}<extra></extra>",
        name="评分",
        showlegend=False,
    )
    for grade, minimum in cut_offs:
        figure.add_hline(
            y=minimum,
            line={"color": GRADE_COLOURS.get(grade, "#333333"), "dash": "dot", "width": 1},
            annotation_text=f"{grade} ≥{minimum}",
            annotation_position="top left",
            annotation_font_size=11,
        )
    figure.update_layout(xaxis={"nticks": 14}, yaxis={"title": "评分"})
    return _layout(figure, "评分与等级历史", 340, large)


def loan_repayment(
    repayments: pl.DataFrame, history: pl.DataFrame, loan_label: str, large: bool = False
) -> go.Figure:
    """A loan's cumulative amount due (plan) against cumulative paid, with DPD by month.

    ``repayments``: on_day, kind (计划应还/实际还款), cumulative (元).
    ``history``: as_of, dpd (from loan_status).
    """
    figure = go.Figure()
    styles = {"计划应还": ("#9e9e9e", "dash"), "实际还款": ("#2171b5", "solid")}
    for kind, (colour, dash) in styles.items():
        rows = repayments.filter(pl.col("kind") == kind).sort("on_day")
        figure.add_scatter(
            x=rows["on_day"].to_list(),
            y=_floats(rows["cumulative"]),
            name=f"累计{kind}（元）",
            mode="lines",
            line={"shape": "hv", "color": colour, "dash": dash, "width": 2},
            hovertemplate="%{x|%Y年%m月%d日}<br>%{y:,.2f} 元<extra>" + kind + "</extra>",
        )
    figure.add_bar(
        x=history["as_of"].to_list(),
        y=history["dpd"].to_list(),
        name="逾期天数",
        yaxis="y2",
        marker_color=WATCH_COLOUR,
        opacity=0.6,
        hovertemplate="%{x|%Y年%m月%d日}<br>逾期 %{y} 天<extra></extra>",
    )
    worst = max([0, *[value for value in history["dpd"].to_list() if value is not None]])
    figure.update_layout(
        xaxis={"tickformat": "%Y年%-m月"},
        yaxis={"title": "元", "tickformat": ",.0f", "rangemode": "tozero"},
        yaxis2={
            "title": "逾期天数",
            "overlaying": "y",
            "side": "right",
            "range": [0, max(worst * 1.2, 30)],
            "tickformat": "d",
            "showgrid": False,
        },
    )
    return _layout(figure, f"{loan_label}：还款计划与实际还款", 360, large)


def poor_coverage(coverage: pl.DataFrame, large: bool = False) -> go.Figure:
    """Registered-poor households per area: rated, with credit, borrowing (grouped bars)."""
    names = coverage["area_name"].to_list()
    figure = go.Figure()
    for column, label, colour in (
        ("poor_households_rated", "建档立卡评级户", "#c6dbef"),
        ("poor_households_credit", "其中信用户", "#6baed6"),
        ("poor_borrowing_households", "其中获贷户", "#08306b"),
    ):
        figure.add_bar(
            x=names,
            y=coverage[column].to_list(),
            name=label,
            marker_color=colour,
            hovertemplate=f"%{{x}}<br>{label} %{{y:,}} 户<extra></extra>",
        )
    figure.update_layout(barmode="group", yaxis={"title": "户", "tickformat": ",d"})
    return _layout(figure, "建档立卡贫困户覆盖", 380, large)
