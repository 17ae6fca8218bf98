"""What a monthly briefing (月度简报) says, gathered from the dashboard's own queries for one scope
and one month: the KPIs with their change since the previous month-end, the trends, the tripped
villages and townships with their causes, the villages at risk next month-end, the attention
list and how fresh the ratings are. Aggregate figures and place names only: nothing here names a
household or carries an ID number (the leading group's permissions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl

from huinong import data
from huinong.data.briefing import briefing_facts
from huinong.format import MISSING, _decimal, count, number, percent, wan
from huinong.why import points_change

# How many month-ends the trend charts span.
TREND_MONTHS = 24

# (label, kpi column, kind): kind is a unit for counts (户, 个), "wan" for 元 shown in 万元,
# "rate" for a fraction shown in %. Counts of townships only for the district.
KPIS = (
    ("评级农户", "households_rated", "户"),
    ("信用户（A级及以上）", "households_credit", "户"),
    ("授信总额", "credit_granted", "wan"),
    ("在贷农户", "borrowing_households", "户"),
    ("农户贷款余额", "outstanding_balance", "wan"),
    ("逾期贷款余额", "overdue_balance", "wan"),
    ("不良贷款余额", "npl_balance", "wan"),
    ("逾期率", "overdue_rate", "rate"),
    ("不良率", "npl_rate", "rate"),
    ("熔断行政村", "villages_tripped", "个"),
    ("预警行政村", "villages_watch", "个"),
    ("熔断乡镇", "townships_tripped", "个"),
    ("停止新增授信农户", "households_credit_stopped", "户"),
    ("建档立卡户获贷率", "poor_loan_access_rate", "rate"),
    ("风险补偿金使用率", "fund_utilisation", "rate"),
)


class BriefingError(Exception):
    """A briefing that cannot be made (the message is for the clerk, in Chinese)."""


@dataclass(frozen=True)
class KpiLine:
    label: str
    value: str
    previous: str
    change: str


@dataclass(frozen=True)
class Briefing:
    """Everything a briefing prints, formatted, plus the frames its charts are drawn from."""

    title: str
    period: str
    scope_name: str
    facts: dict
    kpis: list[KpiLine]
    trend: pl.DataFrame
    townships: pl.DataFrame
    tripped: list[dict]
    outlook: pl.DataFrame
    attention: pl.DataFrame
    freshness: dict


def kpi_value(value: object, kind: str) -> str:
    """A KPI as the briefing prints it: 12,345 户, 1,234.57 万元, 3.12%."""
    if kind == "wan":
        return wan(value)
    if kind == "rate":
        return percent(value, 2)
    return count(value, kind)


def kpi_change(value: object, previous: object, kind: str) -> str:
    """The change since the previous month-end: ▲ 1.23 万元, ▼ 12 户, rates in 个百分点
    (▲ 0.52 个百分点); 持平 (no arrow) when it rounds to nothing; — without a previous value."""
    if kind == "rate":
        change = points_change(value, previous)
        unit, decimals = "个百分点", 2
    else:
        now, before = _decimal(value), _decimal(previous)
        change = None if now is None or before is None else now - before
        if change is not None and kind == "wan":
            change = change / Decimal(10000)
        unit, decimals = ("万元", 2) if kind == "wan" else (kind, 0)
    if change is None:
        return MISSING
    shown = number(abs(change), decimals)
    if shown == number(0, decimals):
        return "持平"
    return f"{'▲' if change > 0 else '▼'} {shown} {unit}"


def gather(token: data.Warehouse, month: date, scope: data.Scope) -> Briefing:
    """The briefing of ``scope`` for ``month`` (any day of it). BriefingError when the warehouse
    has no snapshot in that month."""
    facts = briefing_facts(token, month, scope)
    if facts is None:
        raise BriefingError(
            f"数据仓库中没有 {month.year}年{month.month}月 的统计数据，无法生成简报"
        )
    if facts["scope_name"] is None:
        raise BriefingError(f"代码 {scope.code} 不在数据仓库的乡镇、行政村名单中，无法生成简报")
    as_of = facts["as_of"]
    previous = facts["previous_month_end"]
    now_row = data.kpi(token, as_of, scope).row(0, named=True)
    before_row = data.kpi(token, previous, scope).row(0, named=True) if previous else {}
    kpis = [
        KpiLine(
            label,
            kpi_value(now_row[column], kind),
            kpi_value(before_row.get(column), kind) if before_row else MISSING,
            kpi_change(now_row[column], before_row.get(column), kind),
        )
        for label, column, kind in KPIS
        if not (column == "townships_tripped" and scope.level != "district")
    ]
    trend = data.kpi_trend(token, as_of, scope)
    trend = trend.tail(TREND_MONTHS)
    tripped = [
        row
        for code in data.village_breaker(token, as_of, scope)
        .filter(pl.col("tripped"))["village_code"]
        .to_list()
        for row in data.village_trip(token, as_of, scope, code).iter_rows(named=True)
    ]
    freshness = data.rating_freshness(token, as_of, scope)
    period = (
        f"{as_of.year}年{as_of.month}月"
        if facts["is_month_end"]
        else f"{as_of.year}年{as_of.month}月（截至{as_of.day}日，临时数据）"
    )
    return Briefing(
        title=f"{facts['district_name']}金融扶贫信用工程月度简报",
        period=period,
        scope_name=facts["scope_name"],
        facts=facts,
        kpis=kpis,
        trend=trend,
        townships=data.township_breaker(token, as_of, scope),
        tripped=tripped,
        outlook=data.early_warning(token, as_of, scope),
        attention=data.attention_list(token, as_of, scope),
        freshness={
            "households_rated": int(freshness["households_rated"].sum()),
            "households_rating_stale": int(freshness["households_rating_stale"].sum()),
            "villages": freshness.filter(pl.col("households_rating_stale") > 0).head(5),
        },
    )
