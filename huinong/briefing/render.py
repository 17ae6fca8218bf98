"""A briefing as one HTML page for printing: the charts drawn by huinong.charts, exported to PNG
by plotly's static export (kaleido, which drives the system's chromium) and embedded as data
URIs, so the page needs nothing but itself."""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime
from html import escape

import plotly.graph_objects as go

from huinong import charts
from huinong.briefing.content import Briefing
from huinong.format import count, date_label, percent, timestamp_label, wan
from huinong.why import month_end_label, pct_text, rate_against_line, rate_change_words

CHART_WIDTH = 1000
CHART_HEIGHT = 380
CHART_SCALE = 2
# The attention list is printed up to this many rows (every tripped village is in section 三).
ATTENTION_ROWS = 25


def chart_images(figures: list[go.Figure]) -> list[bytes]:
    """PNG images of the figures, one chromium for all of them (kaleido)."""
    import kaleido

    async def render() -> list[bytes]:
        options = {
            "format": "png",
            "width": CHART_WIDTH,
            "height": CHART_HEIGHT,
            "scale": CHART_SCALE,
        }
        async with kaleido.Kaleido(n=1, mathjax=False) as renderer:
            return [await renderer.calc_fig(figure, opts=options) for figure in figures]

    return asyncio.run(render())


def briefing_figures(briefing: Briefing) -> list[go.Figure]:
    """The trend charts: outstanding balance and NPL rate against the breaker line, grade mix."""
    line = float(briefing.facts["village_breaker_rate_pct"]) / 100
    figures = [
        charts.outstanding_and_npl_trend(briefing.trend, line),
        charts.grade_mix_trend(briefing.trend),
    ]
    # On paper the axes' labels need the room a browser's resizable chart finds by itself.
    for figure in figures:
        figure.update_layout(margin={"l": 90, "r": 90, "t": 70, "b": 60})
        figure.update_xaxes(automargin=True)
        figure.update_yaxes(automargin=True)
    return figures


def _table(headers: list[str], rows: list[list[str]], widths: list[str] | None = None) -> str:
    styles = [f' style="width:{width}"' for width in widths] if widths else [""] * len(headers)
    head = "".join(
        f"<th{style}>{escape(text)}</th>" for style, text in zip(styles, headers, strict=True)
    )
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(png: bytes, alt: str) -> str:
    encoded = base64.b64encode(png).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{encoded}">'


_CSS = """
@page { size: A4; margin: 14mm 14mm 16mm 14mm; }
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", sans-serif; font-size: 10.5pt;
       color: #222; margin: 0; }
h1 { font-size: 18pt; margin: 0 0 2mm 0; }
h2 { font-size: 13pt; margin: 6mm 0 2mm 0; border-bottom: 1px solid #999; padding-bottom: 1mm; }
p.meta { color: #555; margin: 0 0 3mm 0; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 2mm 0; }
th, td { border: 1px solid #bbb; padding: 1.2mm 2mm; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.number { text-align: right; }
img { width: 100%; margin: 1mm 0; }
.charts { break-inside: avoid; }
.note { color: #555; font-size: 9pt; }
.none { color: #2ca02c; }
"""


def briefing_html(briefing: Briefing, images: list[bytes], made_at: datetime) -> str:
    """The whole briefing as HTML, the chart images embedded."""
    facts = briefing.facts
    line = facts["village_breaker_rate_pct"]
    watch = facts["watch_rate_pct"]
    share = facts["township_breaker_share_pct"]
    previous = facts["previous_month_end"]
    sections = [
        f"<h1>{escape(briefing.title)}</h1>",
        f'<p class="meta">{escape(briefing.period)} · 范围：{escape(briefing.scope_name)} · '
        f"数据截至 {escape(date_label(facts['data_as_of']))} · "
        f"生成于 {escape(timestamp_label(made_at))}</p>",
        "<h2>一、主要指标</h2>",
        _table(
            [
                "指标",
                f"本期（{month_end_label(facts['as_of'])}）",
                f"上月末（{month_end_label(previous)}）" if previous else "上月末",
                "较上月末",
            ],
            [[kpi.label, kpi.value, kpi.previous, kpi.change] for kpi in briefing.kpis],
            ["34%", "24%", "24%", "18%"],
        ),
        '<p class="note">金额单位：万元；比率变化以个百分点计；“持平”表示无变化。'
        "不良率 = 逾期超过90天的农户贷款余额 ÷ 农户贷款余额。</p>",
        '<div class="charts"><h2>二、趋势</h2>'
        + "".join(
            _image(png, alt)
            for png, alt in zip(images, ["贷款余额与不良率", "信用等级结构"], strict=True)
        )
        + "</div>",
        "<h2>三、熔断情况</h2>",
        _tripped_section(briefing, line),
        _townships_section(briefing, share),
        "<h2>四、风险预警（下月末）</h2>",
        _outlook_section(briefing, line, watch),
        "<h2>五、需要关注</h2>",
        _attention_section(briefing),
        "<h2>六、评级时效</h2>",
        _freshness_section(briefing),
        f'<p class="note">口径：行政村不良率超过 {pct_text(line)} 即熔断（恰为 {pct_text(line)} 不熔断），'
        f"超过 {pct_text(watch)} 为预警；乡镇熔断村占全部行政村 {pct_text(share)} 及以上即乡镇熔断。"
        "下月末预测假定在此之前不再还款、贷款余额不变，已逾期贷款的逾期天数逐日增加。"
        "本简报只含汇总数字和行政村名称，不含农户姓名和身份证号。</p>",
    ]
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{escape(briefing.title)}</title><style>{_CSS}</style></head>"
        f"<body>{body}</body></html>"
    )


def _tripped_section(briefing: Briefing, line: object) -> str:
    if not briefing.tripped:
        return f'<p class="none">本期没有行政村熔断（不良率均未超过 {pct_text(line)}）。</p>'
    rows = [
        [
            row["township_name"],
            row["village_name"],
            f"{wan(row['npl_balance'])} ÷ {wan(row['outstanding_balance'])}"
            f" = {rate_against_line(row['npl_rate'], line)}",
            f"{count(row['npl_loans'], '笔')} / {count(row['npl_households'], '户')}",
            "本月新增"
            if row["status_change"] == "新增熔断"
            else f"{month_end_label(row['tripped_since'])}起",
            rate_change_words(
                row["npl_rate"], row["previous_npl_rate"], since="较上月末"
            ).removeprefix("较上月末")
            or "—",
            wan(row["npl_to_clear_breaker"]),
        ]
        for row in briefing.tripped
    ]
    return (
        f"<p>熔断行政村 {len(rows)} 个（不良率超过 {pct_text(line)}）：</p>"
        + _table(
            [
                "乡镇",
                "行政村",
                "不良余额 ÷ 贷款余额 = 不良率",
                "不良贷款",
                "熔断",
                "不良率较上月末",
                "降至熔断线需收回或核销",
            ],
            rows,
            ["10%", "10%", "27%", "11%", "13%", "15%", "14%"],
        )
        + '<p class="note">不良贷款：逾期超过90天的农户贷款，按全部剩余本金计入不良余额。'
        "收回或核销的不良本金同时减少不良余额和贷款余额。</p>"
    )


def _townships_section(briefing: Briefing, share: object) -> str:
    townships = briefing.townships
    if townships.is_empty():
        return ""
    rows = [
        [
            row["township_name"],
            count(row["villages_total"]),
            count(row["villages_tripped"]),
            rate_against_line(row["tripped_share"], share),
            "熔断" if row["tripped"] else "正常",
        ]
        for row in townships.iter_rows(named=True)
    ]
    return (
        "<p>各乡镇熔断村占比（乡镇熔断线 "
        + pct_text(share)
        + "）：</p>"
        + _table(["乡镇", "行政村数", "熔断村数", "熔断村占比", "乡镇状态"], rows)
    )


def _outlook_section(briefing: Briefing, line: object, watch: object) -> str:
    outlook = briefing.outlook
    if outlook.is_empty():
        return '<p class="none">按现有逾期推算，下月末没有新增熔断或预警的行政村。</p>'
    rows = [
        [
            row["township_name"],
            row["village_name"],
            percent(row["npl_rate"], 2),
            rate_against_line(row["projected_npl_rate"], line if row["would_trip"] else watch),
            "将熔断" if row["would_trip"] else "将预警",
            count(row["loans_turning_npl"], "笔"),
            wan(row["npl_balance_turning"]),
        ]
        for row in outlook.iter_rows(named=True)
    ]
    next_month_end = month_end_label(outlook["next_month_end"][0])
    return f"<p>若不再还款，{next_month_end}：</p>" + _table(
        ["乡镇", "行政村", "当前不良率", "预计不良率", "预计", "将转为不良的贷款", "涉及余额"],
        rows,
    )


def _attention_section(briefing: Briefing) -> str:
    attention = briefing.attention
    if attention.is_empty():
        return '<p class="none">本期没有需要特别关注的乡镇或行政村。</p>'
    shown = attention.head(ATTENTION_ROWS)
    rows = [
        [
            row["category"],
            row["township_name"]
            if row["level"] == "township"
            else f"{row['township_name']} {row['village_name']}",
            row["note"],
        ]
        for row in shown.iter_rows(named=True)
    ]
    more = attention.height - shown.height
    tail = f'<p class="note">另有 {more} 项，请在看板“需要关注”中查看。</p>' if more else ""
    return _table(["类别", "乡镇 / 行政村", "说明"], rows, ["16%", "22%", "62%"]) + tail


def _freshness_section(briefing: Briefing) -> str:
    fresh = briefing.freshness
    months = int(briefing.facts["stale_collection_months"])
    rated = fresh["households_rated"]
    stale = fresh["households_rating_stale"]
    share = percent(stale / rated, 1) if rated else "—"
    text = (
        f"<p>评级农户 {count(rated, '户')}，其中 {count(stale, '户')}（{share}）的信息采集已超过"
        f" {months} 个月未更新，请督促村组按年更新采集。</p>"
    )
    villages = fresh["villages"]
    if villages.is_empty():
        return text
    rows = [
        [
            row["township_name"],
            row["village_name"],
            count(row["households_rating_stale"], "户"),
            percent(row["rating_stale_share"], 1),
        ]
        for row in villages.iter_rows(named=True)
    ]
    return text + _table(["乡镇", "行政村", "评级过期农户", "占本村评级农户"], rows)
