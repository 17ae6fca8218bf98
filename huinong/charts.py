"""Pure chart builders: a polars DataFrame (from huinong.data) in, a plotly Figure out.

No Streamlit and no queries here, so every figure can be unit-tested on its traces. Colours
come from huinong.format (the same grade and status colours everywhere). Amounts arrive in 元
as Decimal and are shown in 万元; rates arrive as fractions and are shown in %.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import plotly.graph_objects as go
import polars as pl

from huinong.format import (
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
LINE_COLOUR = "#d62728"
WATCH_COLOUR = "#ff8c00"


def _layout(figure: go.Figure, title: str, height: int, large: bool) -> go.Figure:
    size = 20 if large else 13
    figure.update_layout(
        title={"text": title, "font": {"size": size + 4}},
        font={"family": FONT, "size": size},
        height=int(height * (1.5 if large else 1)),
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        plot_bgcolor="white",
        separators=".,",
    )
    figure.update_xaxes(showgrid=False)
    figure.update_yaxes(gridcolor="#eeeeee")
    return figure


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
    rates = [value for value in _floats(trend["npl_rate"], 100) if value is not None]
    top = max([*rates, line_rate * 100]) * 1.15
    figure.update_layout(
        xaxis={"nticks": 14},
        yaxis={"title": "万元", "tickformat": ",.0f", "rangemode": "tozero"},
        yaxis2={
            "title": "不良率（%）",
            "overlaying": "y",
            "side": "right",
            "range": [0, top],
            "tickformat": ".1f",
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
    largest effect first; add items green, deductions red."""
    ordered = items.with_columns(pl.col("average_points").abs().alias("_size")).sort(
        "_size", descending=True
    )
    values = ordered["average_points"].to_list()
    figure = go.Figure()
    figure.add_bar(
        y=[ITEM_NAMES.get(item, item) for item in ordered["item"].to_list()],
        x=values,
        orientation="h",
        marker_color=["#2ca02c" if value >= 0 else LINE_COLOUR for value in values],
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


def migration_matrix(migration: pl.DataFrame, from_label: str, to_label: str) -> go.Figure:
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
    return _layout(figure, "信用等级迁移", 420, False)


def village_npl_rates(
    villages: pl.DataFrame, line_rate: float, watch_rate: float, large: bool = False
) -> go.Figure:
    """Each village's NPL rate (%) as a bar coloured by status, with the 2% and 3% lines.
    ``villages``: village_name, township_name, npl_rate, status."""
    ordered = villages.sort("npl_rate", descending=True, nulls_last=True)
    figure = go.Figure()
    for status in STATUSES:
        rows = ordered.filter(pl.col("status") == status)
        if rows.height == 0:
            continue
        figure.add_bar(
            x=rows["village_name"].to_list(),
            y=[0.0 if value is None else value for value in _floats(rows["npl_rate"], 100)],
            name=status,
            marker_color=STATUS_COLOURS[status],
            customdata=rows["township_name"].to_list(),
            hovertemplate="%{customdata} %{x}<br>不良率 %{y:.2f}%<extra>" + status + "</extra>",
        )
    figure.add_hline(
        y=line_rate * 100,
        line={"color": LINE_COLOUR, "dash": "dash", "width": 2},
        annotation_text=f"熔断线 {line_rate * 100:g}%",
    )
    figure.add_hline(
        y=watch_rate * 100,
        line={"color": WATCH_COLOUR, "dash": "dot", "width": 2},
        annotation_text=f"预警线 {watch_rate * 100:g}%",
    )
    figure.update_layout(
        xaxis={"categoryorder": "array", "categoryarray": ordered["village_name"].to_list()},
        yaxis={"title": "不良率（%）"},
        barmode="overlay",
    )
    return _layout(figure, "各行政村不良率", 420, large)


def township_tripped_share(
    townships: pl.DataFrame, share_line: float, large: bool = False
) -> go.Figure:
    """Each township's share of tripped villages (%) against the 30% line.
    ``townships``: township_name, tripped_share (fraction), tripped, villages_tripped, villages_total."""
    colours = [
        STATUS_COLOURS["熔断"] if tripped else STATUS_COLOURS["正常"]
        for tripped in townships["tripped"].to_list()
    ]
    figure = go.Figure()
    figure.add_bar(
        x=townships["township_name"].to_list(),
        y=_floats(townships["tripped_share"], 100),
        marker_color=colours,
        text=[
            f"{tripped}/{total}"
            for tripped, total in zip(
                townships["villages_tripped"].to_list(),
                townships["villages_total"].to_list(),
                strict=True,
            )
        ],
        textposition="outside",
        hovertemplate="%{x}<br>熔断村占比 %{y:.2f}%<extra></extra>",
        showlegend=False,
    )
    figure.add_hline(
        y=share_line * 100,
        line={"color": LINE_COLOUR, "dash": "dash", "width": 2},
        annotation_text=f"乡镇熔断线 {share_line * 100:g}%",
    )
    figure.update_layout(yaxis={"title": "熔断村占比（%）", "rangemode": "tozero"})
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
            increasing={"marker": {"color": "#2ca02c"}},
            decreasing={"marker": {"color": LINE_COLOUR}},
            totals={"marker": {"color": "#2171b5"}},
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


def grade_history(history: pl.DataFrame, cut_offs: Sequence[tuple[str, int]]) -> go.Figure:
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
    return _layout(figure, "评分与等级历史", 340, False)


def loan_repayment(repayments: pl.DataFrame, history: pl.DataFrame, loan_label: str) -> go.Figure:
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
    return _layout(figure, f"{loan_label}：还款计划与实际还款", 360, False)


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
