"""需要关注: one list of what needs attention at a snapshot date, ordered by risk — tripped
townships, every tripped village (newly tripped marked), townships near the share line, villages
that would trip or enter 预警 by the next month-end if nothing is repaid, 预警 villages, and
villages recovering — read from village_breaker, township_breaker and village_npl_outlook. Every
tripped village of the scope is on it: the list is never empty while one is tripped."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl

from huinong.data.connection import Warehouse, cached, frame
from huinong.data.lines import policy_numbers_sql
from huinong.data.scope import Scope
from huinong.format import count, yuan
from huinong.why import month_end_label, pct_text, rate_against_line, rate_change_words

# Categories from the highest risk down (rank 1 first).
CATEGORIES = (
    "乡镇熔断",
    "村熔断",
    "乡镇临近熔断线",
    "预计下月末熔断",
    "村预警",
    "预计下月末预警",
    "好转",
)
# A township this many tripped villages or fewer away from its share line is near it.
NEAR_LINE_VILLAGES = 1

ATTENTION_SCHEMA = {
    "rank": pl.Int32,
    "category": pl.String,
    "level": pl.String,
    "township_code": pl.String,
    "township_name": pl.String,
    "village_code": pl.String,
    "village_name": pl.String,
    "status": pl.String,
    "change": pl.String,
    "npl_rate": pl.Decimal(18, 10),
    "previous_npl_rate": pl.Decimal(18, 10),
    "projected_npl_rate": pl.Decimal(18, 10),
    "tripped_share": pl.Decimal(18, 10),
    "recovering": pl.Boolean,
    "note": pl.String,
}


@cached
def attention_list(token: Warehouse, as_of: date, scope: Scope) -> pl.DataFrame:
    """What needs attention in the scope at ``as_of``, one row per township or village, ordered
    by risk (CATEGORIES), then by rate: rank, category, level (township/village), codes and names,
    status, change (新增熔断 / 新增预警 / 解除熔断 / 退出预警), npl_rate, previous_npl_rate (the
    previous month-end's), projected_npl_rate (next month-end if nothing is repaid),
    tripped_share (townships), recovering (解除熔断, 退出预警, or a tripped or 预警 village whose
    rate fell), note (words). Every tripped village and township of the scope is listed."""
    villages = frame(
        token,
        scope,
        f"""
        select
            breaker.township_code, breaker.township_name, breaker.village_code,
            breaker.village_name, breaker.is_month_end, breaker.outstanding_balance,
            breaker.npl_balance, breaker.npl_rate, breaker.status, breaker.tripped,
            breaker.watch, breaker.tripped_since, breaker.previous_status,
            breaker.previous_npl_rate, breaker.status_change, breaker.npl_to_clear_breaker,
            breaker.npl_to_clear_watch, outlook.next_month_end, outlook.projected_npl_rate,
            outlook.projected_status, outlook.loans_turning_npl, outlook.would_trip,
            outlook.would_watch,
        from main.village_breaker as breaker
        left join main.village_npl_outlook as outlook
            on outlook.as_of = breaker.as_of and outlook.village_code = breaker.village_code
        where breaker.as_of = $as_of {scope.where_sql("breaker")}
        """,
        {"as_of": as_of},
    )
    townships = frame(
        token,
        scope,
        f"""
        select
            township_code, township_name, villages_total, villages_tripped, tripped_share,
            tripped, villages_to_trip, npl_rate,
        from main.township_breaker
        where as_of = $as_of {scope.township_where_sql()}
        """,
        {"as_of": as_of},
    )
    lines = frame(
        token,
        scope,
        policy_numbers_sql(
            "village_breaker_rate_pct", "watch_rate_pct", "township_breaker_share_pct"
        ),
    )
    return attention_rows(
        villages.to_dicts(),
        townships.to_dicts(),
        lines.row(0, named=True),
    )


def attention_rows(
    villages: list[Mapping], townships: list[Mapping], lines: Mapping[str, object]
) -> pl.DataFrame:
    """The attention list from the village and township readings of one date (pure): see
    attention_list. ``lines``: village_breaker_rate_pct, watch_rate_pct,
    township_breaker_share_pct."""
    breaker_line = lines["village_breaker_rate_pct"]
    watch_line = lines["watch_rate_pct"]
    share_line = lines["township_breaker_share_pct"]
    rows: list[dict] = []
    would_trip_by_township: dict[str, int] = {}
    for village in villages:
        if village.get("would_trip"):
            code = village["township_code"]
            would_trip_by_township[code] = would_trip_by_township.get(code, 0) + 1

    for township in townships:
        tripped_words = (
            f"{count(township['villages_total'], '个')}行政村中熔断"
            f" {count(township['villages_tripped'], '个')}（{rate_against_line(township['tripped_share'], share_line)}）"
        )
        if township["tripped"]:
            category = "乡镇熔断"
            note = f"{tripped_words}，达到 {pct_text(share_line)} 乡镇熔断线"
        else:
            projected = would_trip_by_township.get(township["township_code"], 0)
            near = township["villages_to_trip"] <= NEAR_LINE_VILLAGES
            if not near and projected < township["villages_to_trip"]:
                continue
            category = "乡镇临近熔断线"
            note = f"{tripped_words}，再有 {township['villages_to_trip']} 个村熔断即触发乡镇熔断"
            if projected:
                note += f"；预计下月末新增熔断 {projected} 个村"
        rows.append(
            _row(
                category,
                "township",
                township,
                status="熔断" if township["tripped"] else "正常",
                npl_rate=township["npl_rate"],
                tripped_share=township["tripped_share"],
                note=note,
            )
        )

    for village in villages:
        change = village.get("status_change")
        if change is None and village["previous_status"] == "预警" and village["status"] == "正常":
            change = "退出预警"
        falling = _falling(village)
        recovering = change in ("解除熔断", "退出预警") or (
            falling and village["status"] in ("熔断", "预警")
        )
        trend = rate_change_words(village["npl_rate"], village["previous_npl_rate"])
        if village["tripped"]:
            category = "村熔断"
            parts = [
                f"不良率 {rate_against_line(village['npl_rate'], breaker_line)}，超过 {pct_text(breaker_line)} 熔断线",
                "本月新增熔断"
                if change == "新增熔断"
                else f"自 {month_end_label(village['tripped_since'])} 起连续熔断",
                f"需收回或核销不良本金 {yuan(village['npl_to_clear_breaker'])}",
            ]
        elif village.get("would_trip"):
            category = "预计下月末熔断"
            parts = [
                f"若不还款，{month_end_label(village['next_month_end'])}不良率将达"
                f" {rate_against_line(village['projected_npl_rate'], breaker_line)}"
                f"（{village['loans_turning_npl']} 笔贷款逾期将超过90天）",
                f"当前{village['status']}，不良率 {rate_against_line(village['npl_rate'], watch_line)}",
            ]
        elif village["watch"]:
            category = "村预警"
            parts = [
                f"不良率 {rate_against_line(village['npl_rate'], watch_line)}，超过 {pct_text(watch_line)} 预警线",
                "本月新增预警" if change == "新增预警" else "",
                f"收回或核销不良本金 {yuan(village['npl_to_clear_watch'])} 可解除预警",
            ]
        elif village.get("would_watch"):
            category = "预计下月末预警"
            parts = [
                f"若不还款，{month_end_label(village['next_month_end'])}不良率将达"
                f" {rate_against_line(village['projected_npl_rate'], watch_line)}"
                f"（{village['loans_turning_npl']} 笔贷款逾期将超过90天）"
            ]
        elif recovering:
            category = "好转"
            parts = [
                "上月末熔断，本月末已解除" if change == "解除熔断" else "上月末预警，现已正常",
                f"不良率 {rate_against_line(village['npl_rate'], watch_line)}",
            ]
        else:
            continue
        parts.append(trend)
        rows.append(
            _row(
                category,
                "village",
                village,
                status=village["status"],
                change=change,
                npl_rate=village["npl_rate"],
                previous_npl_rate=village["previous_npl_rate"],
                projected_npl_rate=village.get("projected_npl_rate"),
                recovering=recovering,
                note="；".join(part for part in parts if part),
            )
        )

    table = pl.DataFrame(rows, schema=ATTENTION_SCHEMA)
    return table.sort(
        ["rank", "tripped_share", "npl_rate", "township_code", "village_code"],
        descending=[False, True, True, False, False],
        nulls_last=True,
    )


def _falling(village: Mapping) -> bool:
    now, before = village["npl_rate"], village["previous_npl_rate"]
    return now is not None and before is not None and now < before


def _row(category: str, level: str, place: Mapping, **values) -> dict:
    row = dict.fromkeys(ATTENTION_SCHEMA)
    row.update(
        rank=CATEGORIES.index(category) + 1,
        category=category,
        level=level,
        township_code=place["township_code"],
        township_name=place["township_name"],
        village_code=place.get("village_code") if level == "village" else None,
        village_name=place.get("village_name") if level == "village" else None,
        recovering=False,
    )
    row.update(values)
    return row
