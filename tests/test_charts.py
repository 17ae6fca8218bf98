"""Chart builders, checked on their figures: what is plotted, where the policy lines are drawn,
which colour each grade and status gets."""

from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from huinong import charts
from huinong import format as fmt

MONTHS = [date(2024, 4, 30), date(2024, 5, 31), date(2024, 6, 30)]
CUT_OFFS = [("AAA+", 101), ("AAA", 96), ("AA", 87), ("A", 80)]


@pytest.fixture
def trend():
    return pl.DataFrame(
        {
            "as_of": MONTHS,
            "outstanding_balance": [Decimal("1000000.00"), Decimal("1250000.00"), Decimal("0.00")],
            "npl_rate": [Decimal("0.0100000000"), Decimal("0.0312500000"), None],
            "AAA+": [1, 2, 3],
            "AAA": [10, 11, 12],
            "AA": [20, 21, 22],
            "A": [30, 31, 32],
            "无信用": [5, 4, 3],
        }
    )


def _trace(figure, name):
    return next(trace for trace in figure.data if trace.name == name)


def test_outstanding_trend_in_wan_with_npl_rate_and_the_three_percent_line(trend):
    figure = charts.outstanding_and_npl_trend(trend, line_rate=0.03)
    bars = _trace(figure, "贷款余额（万元）")
    assert list(bars.x) == ["2024年4月", "2024年5月", "2024年6月"]
    assert list(bars.y) == [100.0, 125.0, 0.0]
    rate = _trace(figure, "不良率（%）")
    assert list(rate.y)[:2] == pytest.approx([1.0, 3.125])
    assert rate.y[2] is None  # no outstanding balance: no rate, not 0%
    line = _trace(figure, "熔断线 3%")
    assert list(line.y) == [3.0, 3.0]
    assert line.line.color == charts.LINE_COLOUR and line.yaxis == "y2"


def test_grade_mix_stacks_every_grade_in_its_colour(trend):
    figure = charts.grade_mix_trend(trend)
    assert [trace.name for trace in figure.data] == list(fmt.GRADES)
    aa = _trace(figure, "AA")
    assert list(aa.y) == [20, 21, 22]
    assert aa.fillcolor == fmt.GRADE_COLOURS["AA"]
    assert {trace.stackgroup for trace in figure.data} == {"grades"}


def test_meeting_mode_enlarges_figures_with_dark_ticks_and_legends(trend):
    normal = charts.outstanding_and_npl_trend(trend, 0.03)
    large = charts.outstanding_and_npl_trend(trend, 0.03, large=True)
    assert large.layout.height > normal.layout.height
    assert large.layout.height <= charts.LARGE_MAX_HEIGHT  # one screen
    assert large.layout.font.size > normal.layout.font.size
    assert large.layout.legend.font.size == large.layout.xaxis.tickfont.size == charts.LARGE_FONT
    assert large.layout.yaxis2.tickfont.color == charts.TEXT_COLOUR


def test_both_trend_axes_tick_at_round_values(trend):
    """0/1/2/3/4 %, not 0.8/1.6/2.3/3.1; the balance axis has as many steps, so that the
    gridlines of the one meet the ticks of the other."""
    figure = charts.outstanding_and_npl_trend(trend, 0.03)
    rates, balances = figure.layout.yaxis2, figure.layout.yaxis
    assert (rates.tick0, rates.dtick) == (0, 1) and list(rates.range) == [0, 4]
    assert rates.ticksuffix == "%"
    assert balances.dtick == 50 and list(balances.range) == [0, 200]  # 125 万元 at most
    assert [charts.nice_step(top) for top in (3.45, 16, 23_000, 0.3)] == [1, 5, 10_000, 0.1]


def test_grade_distribution_bars_per_area_and_grade():
    counts = pl.DataFrame(
        {
            "area_code": ["1", "1", "2", "2"],
            "area_name": ["甲乡", "甲乡", "乙乡", "乙乡"],
            "grade": ["AA", "无信用", "AA", "A"],
            "households": [5, 2, 7, 1],
        }
    )
    figure = charts.grade_distribution(counts)
    assert [trace.name for trace in figure.data] == list(fmt.GRADES)
    assert list(_trace(figure, "AA").x) == [5, 7]
    assert list(_trace(figure, "A").x) == [0, 1]  # a grade an area lacks counts 0
    assert list(_trace(figure, "AA").y) == ["甲乡", "乙乡"]
    assert figure.layout.barmode == "stack"


def test_score_histogram_leaves_vetoed_households_out_and_draws_the_cut_offs():
    scores = pl.DataFrame(
        {
            "score": [0, 0, 79, 80, 101],
            "vetoed": [True, False, False, False, False],
            "households": [9, 1, 3, 4, 2],
        }
    )
    figure = charts.score_histogram(scores, CUT_OFFS)
    bars = figure.data[0]
    # No floor on scores (R-C3): everything below 60 is one bar, drawn at 59.
    assert list(bars.x) == [59, 79, 80, 101]
    assert list(bars.y) == [1, 3, 4, 2]
    assert bars.customdata[0] == "低于60分"
    lines = sorted(shape.x0 for shape in figure.layout.shapes)
    assert lines == [79.5, 86.5, 95.5, 100.5]
    labels = {annotation.text for annotation in figure.layout.annotations}
    assert {"AAA+ ≥101", "A ≥80"} <= labels


def test_item_contributions_biggest_effect_first_and_signed_colours():
    items = pl.DataFrame({"item": ["a1", "d1", "poor_bonus"], "average_points": [0.5, -3.2, 1.1]})
    figure = charts.item_contributions(items)
    bars = figure.data[0]
    assert list(bars.y) == ["D1 增收创业", "一加分 建档立卡", "A1 户主信息"]
    assert list(bars.x) == [-3.2, 1.1, 0.5]
    # Colour-blind safe: deductions vermillion, additions blue (never red against green).
    assert list(bars.marker.color) == [fmt.DEDUCT_COLOUR, fmt.ADD_COLOUR, fmt.ADD_COLOUR]


def test_migration_matrix_counts_from_rows_to_columns():
    migration = pl.DataFrame(
        {
            "from_grade": ["A", "A", "AA", "未评级"],
            "to_grade": ["AA", "无信用", "AA", "A"],
            "households": [12, 3, 40, 5],
        }
    )
    figure = charts.migration_matrix(migration, "2023年6月", "2024年6月")
    heat = figure.data[0]
    rows, columns = list(heat.y), list(heat.x)
    assert rows == [*fmt.GRADES, "未评级"]
    assert columns == list(fmt.GRADES)  # nobody became unrated: no such column
    assert heat.z[rows.index("A")][columns.index("AA")] == 12
    assert heat.z[rows.index("A")][columns.index("无信用")] == 3
    assert heat.z[rows.index("未评级")][columns.index("A")] == 5
    assert heat.z[rows.index("AAA")][columns.index("AAA")] == 0


def test_village_npl_rates_coloured_and_labelled_by_status_with_both_lines():
    villages = pl.DataFrame(
        {
            "village_name": ["甲村", "乙村", "丙村", "丁村"],
            "township_name": ["一乡"] * 4,
            "npl_rate": [Decimal("0.025"), Decimal("0.05"), Decimal("0.001"), None],
            "status": ["预警", "熔断", "正常", "无贷款"],
        }
    )
    figure = charts.village_npl_rates(villages, line_rate=0.03, watch_rate=0.02)
    by_status = {trace.name: trace for trace in figure.data}
    assert by_status["熔断"].marker.color == fmt.STATUS_COLOURS["熔断"] == "#d55e00"
    assert by_status["预警"].marker.color == fmt.STATUS_COLOURS["预警"]
    assert by_status["熔断"].orientation == "h"
    assert list(by_status["熔断"].y) == ["一乡 乙村"] and list(by_status["熔断"].x) == [5.0]
    assert list(by_status["熔断"].text) == ["5.00% 熔断"]  # the status written, not only coloured
    assert "无贷款" not in by_status  # no lending, no rate: not drawn
    assert sorted(shape.x0 for shape in figure.layout.shapes) == [2.0, 3.0]
    # Highest rate first (top of the chart), every name with its township.
    assert list(figure.layout.yaxis.categoryarray) == ["一乡 乙村", "一乡 甲村", "一乡 丙村"]
    assert figure.layout.xaxis.dtick == 2 and list(figure.layout.xaxis.range) == [0, 8]


def test_village_npl_rates_draw_only_the_highest_of_many_villages():
    villages = pl.DataFrame(
        {
            "village_name": [f"{index}村" for index in range(47)],
            "township_name": ["一乡"] * 47,
            "npl_rate": [Decimal(index) / 1000 for index in range(47)],
            "status": ["正常"] * 47,
        }
    )
    figure = charts.village_npl_rates(villages, 0.03, 0.02, top=10)
    assert len(figure.layout.yaxis.categoryarray) == 10
    assert figure.layout.yaxis.categoryarray[0] == "一乡 46村"
    assert figure.layout.title.text == "不良率最高的 10 个行政村（共 47 个有贷款）"


def test_township_share_against_the_thirty_percent_line():
    townships = pl.DataFrame(
        {
            "township_name": ["一乡", "二乡"],
            "tripped_share": [Decimal("0.3"), Decimal("0.1")],
            "tripped": [True, False],
            "villages_tripped": [3, 1],
            "villages_total": [10, 10],
        }
    )
    figure = charts.township_tripped_share(townships, share_line=0.30)
    bars = figure.data[0]
    assert list(bars.y) == [30.0, 10.0]
    assert list(bars.marker.color) == [fmt.STATUS_COLOURS["熔断"], fmt.STATUS_COLOURS["正常"]]
    assert list(bars.text) == ["3/10 熔断", "1/10"]
    assert figure.layout.yaxis.dtick == 10 and figure.layout.yaxis.ticksuffix == "%"
    assert figure.layout.shapes[0].y0 == 30.0


def test_breaker_strip_codes_each_village_month_by_status():
    history = pl.DataFrame(
        {
            "village_code": ["v1", "v1", "v2", "v2"],
            "village_name": ["甲村", "甲村", "乙村", "乙村"],
            "township_name": ["一乡"] * 4,
            "as_of": [MONTHS[0], MONTHS[1], MONTHS[0], MONTHS[1]],
            "status": ["正常", "熔断", "预警", "无贷款"],
        }
    )
    figure = charts.breaker_strip(history)
    heat = figure.data[0]
    assert list(heat.y) == ["一乡 甲村", "一乡 乙村"]
    assert list(heat.x) == ["2024年4月", "2024年5月"]
    codes = charts.STATUS_CODES
    assert [list(row) for row in heat.z] == [
        [codes["正常"], codes["熔断"]],
        [codes["预警"], codes["无贷款"]],
    ]
    colours = {colour for _, colour in heat.colorscale}
    assert colours == set(fmt.STATUS_COLOURS.values())


def test_waterfall_starts_at_the_base_and_totals_at_the_final_score():
    steps = [
        fmt.ScoreStep("基础分 80", 80, "base"),
        fmt.ScoreStep("有增收创业项目 +3", 3, "add"),
        fmt.ScoreStep("征信及贷款逾期2次 −10", -10, "deduct"),
        fmt.ScoreStep("最终得分 73", 73, "total"),
    ]
    figure = charts.score_waterfall(steps)
    waterfall = figure.data[0]
    assert list(waterfall.measure) == ["absolute", "relative", "relative", "total"]
    assert waterfall.orientation == "h"
    assert list(waterfall.x)[:3] == [80, 3, -10]
    assert list(waterfall.y)[2] == "征信及贷款逾期2次 −10"
    assert list(waterfall.text) == ["80", "+3", "−10", "73"]


def test_grade_history_colours_points_by_grade():
    history = pl.DataFrame({"as_of": MONTHS, "score": [85, 88, 0], "grade": ["A", "AA", "无信用"]})
    figure = charts.grade_history(history, CUT_OFFS)
    points = figure.data[0]
    assert list(points.y) == [85, 88, 0]
    assert list(points.marker.color) == [fmt.GRADE_COLOURS[g] for g in ("A", "AA", "无信用")]
    assert sorted(shape.y0 for shape in figure.layout.shapes) == [80, 87, 96, 101]


def test_loan_chart_plots_plan_against_payments_and_dpd():
    repayments = pl.DataFrame(
        {
            "on_day": [date(2024, 3, 20), date(2024, 6, 20), date(2024, 3, 25)],
            "kind": ["计划应还", "计划应还", "实际还款"],
            "cumulative": [Decimal("500.00"), Decimal("1000.00"), Decimal("500.00")],
        }
    )
    history = pl.DataFrame({"as_of": MONTHS, "dpd": [0, 0, 10]})
    figure = charts.loan_repayment(repayments, history, "贷款 L1")
    plan = _trace(figure, "累计计划应还（元）")
    paid = _trace(figure, "累计实际还款（元）")
    assert list(plan.y) == [500.0, 1000.0] and plan.line.shape == "hv"
    assert list(paid.y) == [500.0]
    assert list(_trace(figure, "逾期天数").y) == [0, 0, 10]


def test_poor_coverage_groups_three_counts_per_area():
    coverage = pl.DataFrame(
        {
            "area_name": ["甲村"],
            "poor_households_rated": [40],
            "poor_households_credit": [30],
            "poor_borrowing_households": [12],
        }
    )
    figure = charts.poor_coverage(coverage)
    assert [list(trace.y) for trace in figure.data] == [[40], [30], [12]]
    assert figure.layout.barmode == "group"
