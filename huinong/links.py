"""Deep links that never lie: the query parameters of a dashboard link checked against what the
warehouse has, every one that cannot be shown as asked answered with a message in Chinese naming
it — nothing silently replaced.

``resolve_link`` is pure: the caller hands it the link's parameters, the snapshot dates, the
townships and villages the user may see, and (optionally) a way to find a household's home.
Parameters (app.py's URL_KEYS):

- ``as_of``: ``2024-06`` is that month's end (or, in the current month, the build's provisional
  date), ``2024-06-30`` that day; a date that is no snapshot gets the nearest snapshot, with a
  message naming both; an invalid date (``2026-13-45``) the latest snapshot, with a message.
- ``township`` (9 digits), ``village`` (12 digits, its first 9 its township's), ``household``:
  unknown or outside the user's area → left out, with a message; a village of another township
  than the link's → the village's own township, with a message; a household → its home village.
- ``compare`` (the month 信用评级 compares with): a month-end snapshot before ``as_of``.
- ``meeting``: ``1`` (会议模式) or ``0``.
Any other parameter is reported as unknown (Streamlit's own ``embed`` … are let through).
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from huinong.format import as_of_label

LINK_KEYS = ("as_of", "township", "village", "household", "compare", "meeting")
# Streamlit's own query parameters: not ours to judge.
STREAMLIT_KEYS = ("embed", "embed_options")

_PARAMETER_WORDS = {
    "as_of": "统计日期（as_of）",
    "township": "乡镇代码（township）",
    "village": "行政村代码（village）",
    "household": "农户编号（household）",
    "compare": "对比月份（compare）",
    "meeting": "会议模式（meeting）",
}
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")

# A household's home at a date, as (township_code, village_code), or None when the user may not
# see it or it is not rated then (huinong.data.household_home).
HouseholdHome = Callable[[str, date], "tuple[str, str] | None"]


@dataclass(frozen=True)
class LinkMessage:
    """What the link asked that is not shown as asked: the parameter, the words for the user,
    and the parameters the UI may offer instead (a button "改看 …"), if any."""

    parameter: str
    text: str
    suggestion: dict[str, str] = field(default_factory=dict)


def _is_month_end(day: date) -> bool:
    return day.day == monthrange(day.year, day.month)[1]


def _label(day: date) -> str:
    return as_of_label(day, _is_month_end(day))


def _read_date(text: str) -> tuple[date | None, bool]:
    """(the day, whether only a month was given), or (None, False) for an invalid date."""
    if found := _DAY.fullmatch(text):
        year, month, day = (int(part) for part in found.groups())
        try:
            return date(year, month, day), False
        except ValueError:
            return None, False
    if found := _MONTH.fullmatch(text):
        year, month = (int(part) for part in found.groups())
        if 1 <= month <= 12 and year >= 1:
            return date(year, month, monthrange(year, month)[1]), True
    return None, False


def _nearest(day: date, snapshots: Sequence[date]) -> date:
    """The snapshot nearest to ``day`` (on a tie, the later one)."""
    return min(snapshots, key=lambda snapshot: (abs((snapshot - day).days), -snapshot.toordinal()))


def _value(params: Mapping[str, object], key: str) -> str:
    value = params.get(key, "")
    if isinstance(value, list | tuple):
        value = value[-1] if value else ""
    return str(value or "").strip()


def resolve_link(
    params: Mapping[str, object],
    snapshots: Sequence[date],
    townships: Mapping[str, str],
    villages: Mapping[str, str],
    household_home: HouseholdHome | None = None,
) -> tuple[dict[str, object], list[LinkMessage]]:
    """The view a link asks for, as far as the warehouse and the user's area allow, and a message
    for every parameter that could not be shown as asked.

    ``snapshots``: every snapshot date (month-ends and the build's provisional date);
    ``townships``: code → name of the townships the user may see; ``villages``: code → name of
    the villages the user may see; ``household_home``: (household, as_of) → (township, village)
    or None. Returns the view's values — as_of (ISO date), township, village, household (""
    for none), compare (ISO date or ""), meeting (bool) — and the messages, in parameter order.
    """
    if not snapshots:
        raise ValueError("no snapshot dates")
    ordered = sorted(snapshots)
    available = set(ordered)
    messages: list[LinkMessage] = []

    def say(parameter: str, text: str, **suggestion: str) -> None:
        messages.append(LinkMessage(parameter, text, dict(suggestion)))

    as_of = _resolve_as_of(_value(params, "as_of"), ordered, available, say)
    township, village = _resolve_area(
        _value(params, "township"), _value(params, "village"), townships, villages, say
    )
    household = _value(params, "household")
    if household:
        home = household_home(household, as_of) if household_home else None
        if home is None:
            say(
                "household",
                f"链接中的农户编号“{household}”在{_label(as_of)}没有评级记录，或不在本账号的查看范围内；"
                "未打开该户。",
            )
            household = ""
        else:
            home_township, home_village = home
            if village and village != home_village:
                say(
                    "household",
                    f"农户 {household} 属于行政村 {villages.get(home_village, home_village)}"
                    f"（{home_village}），不是链接中的行政村 {village}；已按其所在村显示。",
                )
            township, village = home_township, home_village

    compare = _resolve_compare(_value(params, "compare"), as_of, ordered, say)
    meeting_text = _value(params, "meeting")
    meeting = meeting_text == "1"
    if meeting_text not in ("", "0", "1"):
        say(
            "meeting",
            f"链接参数 meeting（会议模式）只能是 1 或 0，而不是“{meeting_text}”；未开启会议模式。",
        )

    for key in params:
        if key not in LINK_KEYS and key not in STREAMLIT_KEYS:
            say(key, f"链接中有不认识的参数“{key}”，已忽略（可用的参数：{'、'.join(LINK_KEYS)}）。")

    view = {
        "as_of": as_of.isoformat(),
        "township": township,
        "village": village,
        "household": household,
        "compare": compare.isoformat() if compare else "",
        "meeting": meeting,
    }
    order = {key: position for position, key in enumerate(LINK_KEYS)}
    messages.sort(key=lambda message: order.get(message.parameter, len(order)))
    return view, messages


def _resolve_as_of(
    text: str, ordered: list[date], available: set[date], say: Callable[..., None]
) -> date:
    latest = ordered[-1]
    if not text:
        return latest
    day, month_only = _read_date(text)
    words = _PARAMETER_WORDS["as_of"]
    if day is None:
        say(
            "as_of",
            f"链接中的{words}“{text}”不是有效日期（应写作 2024-06 或 2024-06-30）；"
            f"已显示最新数据 {_label(latest)}。",
        )
        return latest
    if day in available:
        return day
    if month_only:
        in_month = [
            snapshot
            for snapshot in ordered
            if (snapshot.year, snapshot.month) == (day.year, day.month)
        ]
        if in_month:
            say(
                "as_of",
                f"{day.year}年{day.month}月还没有月末数据；已显示截至 {_label(in_month[-1])} 的数据。",
            )
            return in_month[-1]
    nearest = _nearest(day, ordered)
    asked = f"{day.year}年{day.month}月" if month_only else f"{day.year}年{day.month}月{day.day}日"
    say(
        "as_of",
        f"链接中的{words}“{text}”（{asked}）没有统计数据：统计日期是各月月末"
        f"（{_label(ordered[0])}至{_label(latest)}）；已显示最近的 {_label(nearest)}。",
        as_of=nearest.isoformat(),
    )
    return nearest


def _resolve_area(
    township: str,
    village: str,
    townships: Mapping[str, str],
    villages: Mapping[str, str],
    say: Callable[..., None],
) -> tuple[str, str]:
    township_problem = ""
    if township and not (len(township) == 9 and township.isascii() and township.isdigit()):
        township_problem = f"链接中的{_PARAMETER_WORDS['township']}“{township}”应为 9 位数字"
    elif township and township not in townships:
        township_problem = f"链接中的{_PARAMETER_WORDS['township']} {township} 不在乡镇名单中，或不在本账号的查看范围内"
    chosen_village = ""
    if village and not (len(village) == 12 and village.isascii() and village.isdigit()):
        say(
            "village",
            f"链接中的{_PARAMETER_WORDS['village']}“{village}”应为 12 位数字；未打开该村。",
        )
    elif village and village not in villages:
        say(
            "village",
            f"链接中的{_PARAMETER_WORDS['village']} {village} 不在行政村名单中，或不在本账号的查看范围内；"
            "未打开该村。",
        )
    elif village:
        chosen_village = village
    if not chosen_village:
        if township_problem:
            say("township", f"{township_problem}；已显示全区。")
            return "", ""
        return township, ""
    own_township = chosen_village[:9]
    own_name = townships.get(own_township, own_township)
    if township_problem:
        say(
            "township",
            f"{township_problem}；已按行政村 {villages[chosen_village]} 所在的{own_name}显示。",
        )
    elif township and township != own_township:
        say(
            "village",
            f"行政村 {villages[chosen_village]}（{chosen_village}）不属于链接中的乡镇"
            f" {townships.get(township, township)}（{township}）；已按该村所在的{own_name}显示。",
        )
    return own_township, chosen_village


def _resolve_compare(
    text: str, as_of: date, ordered: list[date], say: Callable[..., None]
) -> date | None:
    if not text:
        return None
    words = _PARAMETER_WORDS["compare"]
    day, _ = _read_date(text)
    earlier = [snapshot for snapshot in ordered if _is_month_end(snapshot) and snapshot < as_of]
    if day is None:
        say("compare", f"链接中的{words}“{text}”不是有效日期（应写作 2024-06）；未作对比。")
        return None
    if not earlier:
        say("compare", f"{_label(as_of)}之前没有月末数据，无法与“{text}”对比。")
        return None
    if day >= as_of:
        say(
            "compare",
            f"链接中的{words}“{text}”不早于统计日期 {_label(as_of)}；对比月份须在统计日期之前，未作对比。",
        )
        return None
    if day in earlier:
        return day
    nearest = _nearest(day, earlier)
    say(
        "compare",
        f"链接中的{words}“{text}”没有月末数据；已与最近的 {_label(nearest)} 对比。",
        compare=nearest.isoformat(),
    )
    return nearest
