"""Why a breaker reads as it does, in the words the dashboard and the monthly briefing share:
the rate arithmetic against its line, since when, what would bring it back, and how a rate moved
since the previous month-end (in 个百分点). Pure functions over the rows of huinong.data.trips,
huinong.data.warning and huinong.data.attention."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from huinong.format import MISSING, _decimal, count, date_label, number, percent, yuan

# The most decimals a rate is shown with: village_breaker's npl_rate has 10 (as a fraction).
_MAX_RATE_DECIMALS = 8


def pct_text(pct: object) -> str:
    """A line in % as written in the policy: 3 -> "3%", 2.5 -> "2.5%"."""
    value = _decimal(pct)
    if value is None:
        return MISSING
    return f"{value.normalize():f}%"


def rate_against_line(rate: object, line_pct: object) -> str:
    """A rate as a percentage with 2 decimals, or as many more as it takes not to read as the
    line when it is not exactly the line: 0.0300012 against 3 -> "3.00012%", never "3.00%"
    for a village that trips (R-B2 compares exactly)."""
    value = _decimal(rate)
    line = _decimal(line_pct)
    if value is None:
        return MISSING
    decimals = 2
    while (
        line is not None
        and decimals < _MAX_RATE_DECIMALS
        and value * 100 != line
        and (value * 100).quantize(Decimal(1).scaleb(-decimals)) == line
    ):
        decimals += 1
    return percent(value, decimals)


def points_change(now: object, before: object) -> Decimal | None:
    """The change of a rate in percentage points (个百分点): (now - before) x 100."""
    now_value, before_value = _decimal(now), _decimal(before)
    if now_value is None or before_value is None:
        return None
    return (now_value - before_value) * 100


def rate_change_words(now: object, before: object, since: str = "较上月末") -> str:
    """较上月末上升 0.52 个百分点 / 较上月末下降 0.10 个百分点 / 与上月末持平; "" when either rate
    is missing. Rounded to 2 decimals: a change that rounds to 0.00 reads 持平."""
    change = points_change(now, before)
    if change is None:
        return ""
    shown = number(abs(change), 2)
    if shown == number(0, 2):
        return f"与{since.removeprefix('较')}持平"
    return f"{since}{'上升' if change > 0 else '下降'} {shown} 个百分点"


def month_end_label(day: date | None) -> str:
    """2026年6月末 for a month-end, 2026年7月15日 for a provisional reading."""
    if day is None:
        return MISSING
    following = date.fromordinal(day.toordinal() + 1)
    if following.day == 1:
        return f"{day.year}年{day.month}月末"
    return date_label(day)


def village_trip_words(row: Mapping[str, object]) -> list[str]:
    """A village_trip row (huinong.data.trips) as sentences: the rate arithmetic against the
    lines, since when it is tripped, the change since the previous month-end, and the NPL
    principal to recover or write off to fall back under the line."""
    line = row["breaker_line_pct"]
    watch = row["watch_line_pct"]
    if row["status"] == "无贷款":
        return ["本村在该日没有在贷的农户贷款，没有不良率，不熔断。"]
    rate = rate_against_line(row["npl_rate"], line if row["tripped"] else watch)
    arithmetic = (
        f"不良贷款余额 {yuan(row['npl_balance'])} ÷ 贷款余额 {yuan(row['outstanding_balance'])}"
        f" = 不良率 {rate}"
    )
    if row["tripped"]:
        verdict = f"，超过 {pct_text(line)} 熔断线，熔断。"
    elif row["watch"]:
        verdict = f"，超过 {pct_text(watch)} 预警线、未超过 {pct_text(line)} 熔断线，预警。"
    else:
        verdict = f"，未超过 {pct_text(watch)} 预警线，正常。"
    words = [arithmetic + verdict]
    npl_loans = row.get("npl_loans")
    if npl_loans:
        words.append(
            f"不良贷款 {count(npl_loans, '笔')}，涉及 {count(row.get('npl_households'), '户')}"
            "（逾期超过90天的农户贷款，按全部剩余本金计入不良余额）。"
        )
    if row["tripped"]:
        since = row.get("tripped_since")
        if row.get("status_change") == "新增熔断":
            words.append(f"本月新增熔断（上月末为{row.get('previous_status') or '—'}）。")
        elif since is not None:
            words.append(f"自 {month_end_label(since)} 起连续熔断。")
        words.append(
            f"收回或核销不良贷款本金 {yuan(row['npl_to_clear_breaker'])}，不良率即可降至"
            f" {pct_text(line)} 以内（收回或核销的本金同时减少不良余额和贷款余额）。"
        )
    elif row["watch"]:
        words.append(
            f"收回或核销不良贷款本金 {yuan(row['npl_to_clear_watch'])}，不良率即可降至"
            f" {pct_text(watch)} 以内，解除预警。"
        )
    change = rate_change_words(row.get("npl_rate"), row.get("previous_npl_rate"))
    if change:
        words.append(f"不良率{change}。")
    if not row.get("is_month_end", True):
        words.append("该日不是月末，以上为临时读数；熔断以月末读数为准。")
    return words


def township_trip_words(row: Mapping[str, object]) -> list[str]:
    """A township_trip row (huinong.data.trips) as sentences: tripped villages against the
    share line, and which villages trip."""
    line = pct_text(row["share_line_pct"])
    share = percent(row["tripped_share"], 1)
    head = (
        f"全乡 {count(row['villages_total'], '个')}行政村中熔断 {count(row['villages_tripped'], '个')}，"
        f"占 {share}"
    )
    if row["tripped"]:
        words = [f"{head}，达到 {line} 的乡镇熔断线，乡镇熔断。"]
    else:
        words = [
            f"{head}，未达到 {line} 的乡镇熔断线；"
            f"再有 {count(row['villages_to_trip'], '个')}村熔断即触发乡镇熔断。"
        ]
    tripped = list(row.get("tripped_villages") or [])
    watch = list(row.get("watch_villages") or [])
    if tripped:
        words.append(f"熔断村：{'、'.join(tripped)}。")
    if watch:
        words.append(f"预警村：{'、'.join(watch)}。")
    return words
