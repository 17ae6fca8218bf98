"""How numbers, dates and rule items read on screen and in exports (Simplified Chinese).

Amounts arrive as exact ``Decimal`` (DECIMAL(18,2) in the marts) and are rounded half-up for
display only; rates arrive as fractions (0.0312 = 3.12%). ``None`` reads as an em dash.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

MISSING = "—"
MINUS = "−"  # U+2212: a real minus sign, as printed in the policy texts
TEN_THOUSAND = Decimal(10000)
CENT = Decimal("0.01")

GRADES = ("AAA+", "AAA", "AA", "A", "无信用")
UNRATED = "未评级"
STATUSES = ("熔断", "预警", "正常", "无贷款")

# One colour per status and per grade, the same on every page and in every chart. Status colours
# from the Okabe–Ito palette, told apart without red–green vision: 熔断 vermillion, 预警 amber
# (lighter), 正常 blue; the status word is always written beside its colour.
STATUS_COLOURS = {
    "熔断": "#d55e00",
    "预警": "#e69f00",
    "正常": "#0072b2",
    "无贷款": "#b0b0b0",
}
# Points that add (blue) or deduct (vermillion), in score charts.
ADD_COLOUR = "#0072b2"
DEDUCT_COLOUR = "#d55e00"
GRADE_COLOURS = {
    "AAA+": "#08306b",
    "AAA": "#2171b5",
    "AA": "#6baed6",
    "A": "#c6dbef",
    "无信用": "#9e9e9e",
    UNRATED: "#e0e0e0",
}

VETO_WORDS = {
    "V1": "黄赌毒记录 一票否决",
    "V2": "当前被执行或失信被执行人 一票否决",
    "V3": "贷款逾期 一票否决",
    "V4": "担保贷款逾期 一票否决",
    # V1 or V2 (or both) as read by a user without view_sensitive_vetoes (huinong.auth.redact).
    "VS": "一票否决（不宜公开事项）",
}

# Rule items of POLICY.md R-S3..R-S5, in the order of the score sheet.
ITEM_NAMES = {
    "a1": "A1 户主信息",
    "a2": "A2 农户房产",
    "a3": "A3 创业信息",
    "a4": "A4 经营实体",
    "a5": "A5 权属信息",
    "a6": "A6 生产及运输设备",
    "a7": "A7 荣誉",
    "a8": "A8 和谐社会",
    "a9": "A9 城区房产",
    "a10": "A10 保险",
    "d1": "D1 增收创业",
    "d2": "D2 和谐社会",
    "d3": "D3 银行贷款",
    "d4": "D4 对外担保",
    "d5": "D5 对外抵押",
    "d6": "D6 法院信息",
    "poor_bonus": "一加分 建档立卡",
}
ITEMS = tuple(ITEM_NAMES)

# What an item's points mean, said the way a village cadre would read them out. The amounts and
# levels a text names come from the policy profile (see _item_words), never from here.
_ITEM_WORDS = {
    "a3": "有增收创业项目",
    "a5": "权属证书",
    "a6": "有证号生产运输设备",
    "a7": "荣誉",
    "a8": "家庭和睦、邻里和谐",
    "a9": "城区房产",
    "a10": "商业保险在保",
    "d1": "无增收创业项目",
    "d2": "家庭或邻里不和睦、非法上访",
    "d4": "对外担保",
    "d6": "法院被执行或失信记录",
    "poor_bonus": "建档立卡贫困户 一加分",
}

# English column names of huinong.data -> (Chinese header, kind), shared by the tables on the
# pages and the exports. Kinds: text, id (an ID number: always text), int, float, yuan (元),
# wan (元 shown in 万元), rate (a fraction shown in %), date, bool (是/否), vetoes (V1… in words),
# list (texts joined with "；"), longtext (a long text: a quarantined row as read), code (a
# division code or a household id: text, kept whole when a spreadsheet opens the CSV).
COLUMNS: dict[str, tuple[str, str]] = {
    "township_code": ("乡镇代码", "code"),
    "township_name": ("乡镇", "text"),
    "village_code": ("行政村代码", "code"),
    "village_name": ("行政村", "text"),
    "area_code": ("代码", "code"),
    "area_name": ("名称", "text"),
    "household_id": ("农户编号", "code"),
    "head_name": ("户主姓名", "text"),
    "head_id_number": ("户主身份证号", "id"),
    "as_of": ("统计日期", "date"),
    "is_month_end": ("月末", "bool"),
    "grade": ("信用等级", "text"),
    "score": ("评分", "int"),
    "raw_score": ("否决前得分", "int"),
    "credit_limit": ("授信额度（元）", "yuan"),
    "available_credit": ("可用额度（元）", "yuan"),
    "outstanding_principal": ("贷款余额（元）", "yuan"),
    "outstanding_balance": ("贷款余额（元）", "yuan"),
    "overdue_balance": ("逾期余额（元）", "yuan"),
    "npl_balance": ("不良余额（元）", "yuan"),
    "credit_granted": ("授信总额（元）", "yuan"),
    "amount": ("贷款金额（元）", "yuan"),
    "npl_rate": ("不良率", "rate"),
    "overdue_rate": ("逾期率", "rate"),
    "previous_npl_rate": ("上月不良率", "rate"),
    "tripped_share": ("熔断村占比", "rate"),
    "poor_loan_access_rate": ("获贷率", "rate"),
    "share_affected": ("涉及比例", "rate"),
    # Loans on the book that day only (loan_status): a written-off or repaid loan has no DPD.
    "max_dpd": ("在贷最长逾期天数", "int"),
    "dpd": ("逾期天数", "int"),
    "worst_dpd": ("历史最长逾期天数", "int"),
    "vetoes": ("一票否决", "vetoes"),
    "loans_on_book": ("在贷笔数", "int"),
    "registered_poor": ("建档立卡", "bool"),
    "credit_stopped": ("停止新增授信", "bool"),
    "stop_reason": ("停贷原因", "text"),
    "status": ("熔断状态", "text"),
    "previous_status": ("上月状态", "text"),
    "change": ("变化", "text"),
    "note": ("提示", "text"),
    "tripped": ("熔断", "bool"),
    "watch": ("预警", "bool"),
    "on_book": ("在贷", "bool"),
    "villages_total": ("行政村数", "int"),
    "villages_tripped": ("熔断村数", "int"),
    "villages_watch": ("预警村数", "int"),
    "villages_without_loans": ("无贷款村数", "int"),
    "households": ("户数", "int"),
    "households_rated": ("评级户数", "int"),
    "households_credit": ("信用户数", "int"),
    "households_aaa_plus": ("AAA+户数", "int"),
    "households_aaa": ("AAA户数", "int"),
    "households_aa": ("AA户数", "int"),
    "households_a": ("A户数", "int"),
    "households_no_credit": ("无信用户数", "int"),
    "households_affected": ("涉及户数", "int"),
    "households_vetoed": ("一票否决户数", "int"),
    "households_credit_stopped": ("停止新增授信户数", "int"),
    "household_loans_on_book": ("在贷笔数", "int"),
    "entity_outstanding_balance": ("经营主体贷款余额（元）", "yuan"),
    "total_outstanding_balance": ("全部贷款余额（元）", "yuan"),
    "fund_capacity": ("风险补偿金可贷规模（元）", "yuan"),
    "fund_utilisation": ("风险补偿金使用率", "rate"),
    "npl_above_line": ("不良率超过熔断线", "bool"),
    "townships_total": ("乡镇数", "int"),
    "townships_tripped": ("熔断乡镇数", "int"),
    "title_year": ("信用村评定年度", "int"),
    "credit_villages": ("信用村数", "int"),
    "credit_townships": ("信用乡数", "int"),
    "borrowing_households": ("获贷户数", "int"),
    "poor_households_rated": ("建档立卡评级户数", "int"),
    "poor_households_credit": ("建档立卡信用户数", "int"),
    "poor_borrowing_households": ("建档立卡获贷户数", "int"),
    "loan_id": ("贷款编号", "code"),
    "disbursed_on": ("放款日期", "date"),
    "first_on_book": ("首次在贷日期", "date"),
    "last_on_book": ("最近在贷日期", "date"),
    "five_tier": ("五级分类", "text"),
    "from_grade": ("原等级", "text"),
    "to_grade": ("现等级", "text"),
    "item": ("评分项目", "text"),
    "average_points": ("平均得分（分/户）", "float"),
    "step": ("评分步骤", "text"),
    "points": ("分值", "int"),
    "months_tripped": ("熔断月数", "int"),
    "months_watch": ("预警月数", "int"),
    # A household's loans (loan_book, loan_instalments, loan_payments).
    "maturity_on": ("到期日期", "date"),
    "loan_state": ("贷款状态", "text"),
    "missed_instalments": ("未按期还款期数", "int"),
    "first_npl_on": ("首次不良日期", "date"),
    "written_off_on": ("核销日期", "date"),
    "fully_covered_on": ("结清日期", "date"),
    "installment_no": ("期次", "int"),
    "due_on": ("应还日期", "date"),
    "principal_due": ("应还本金（元）", "yuan"),
    "interest_due": ("应还利息（元）", "yuan"),
    "amount_due": ("应还金额（元）", "yuan"),
    "cumulative_due": ("累计应还（元）", "yuan"),
    "covered_on": ("还清日期", "date"),
    "was_missed": ("逾期未还", "bool"),
    # Deliveries, the intake's report and its quarantine (数据管理).
    "file": ("文件", "text"),
    "file_label": ("数据类别", "text"),
    "source_file": ("数据类别代码", "text"),
    "file_name": ("文件名", "text"),
    "delivery_id": ("批次", "text"),
    "accepted_at": ("接收时间", "text"),
    "source_label": ("报送单位", "text"),
    "files": ("文件", "text"),
    "delivery_status": ("状态", "text"),
    "withdrawal": ("撤回记录", "text"),
    "rows_read": ("读取", "int"),
    "rows_loaded": ("载入", "int"),
    "rows_quarantined": ("隔离", "int"),
    "rows_superseded": ("被后续批次覆盖", "int"),
    "row_number": ("行号", "int"),
    "record_key": ("记录编号", "id"),
    # The why: trips, early warning, staleness, the attention list, search.
    "category": ("类别", "text"),
    "projected_npl_rate": ("下月末预计不良率", "rate"),
    "projected_status": ("下月末预计状态", "text"),
    "loans_turning_npl": ("将转不良笔数", "int"),
    "npl_balance_turning": ("将转不良余额（元）", "yuan"),
    "projected_dpd": ("下月末逾期天数", "int"),
    "oldest_unpaid_due_on": ("最早未还应还日", "date"),
    "next_month_end": ("下月末", "date"),
    "households_rating_stale": ("评级过期户数", "int"),
    "rating_stale_share": ("评级过期占比", "rate"),
    "oldest_collected_on": ("最早采集日期", "date"),
    "collected_on": ("采集日期", "date"),
    "rating_stale": ("评级过期", "bool"),
    "original": ("原始内容", "longtext"),
    "reasons": ("原因", "list"),
    "reason": ("原因", "text"),
    "rows": ("行数", "int"),
    "column_name": ("列名", "text"),
    "non_empty_values": ("非空值个数", "int"),
}


def column_label(key: str) -> str:
    """The Chinese header of a data column (the key itself when it has none, e.g. AAA+)."""
    return COLUMNS.get(key, (key, "text"))[0]


def column_kind(key: str) -> str:
    return COLUMNS.get(key, (key, "int" if key in GRADES else "text"))[1]


def _decimal(value: object) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float) and value != value:  # NaN
        return None
    return Decimal(str(value))


def number(value: object, decimals: int = 2) -> str:
    """Thousands separators and a fixed number of decimals, rounded half-up: 12,345.68."""
    amount = _decimal(value)
    if amount is None:
        return MISSING
    quantum = Decimal(1).scaleb(-decimals)
    rounded = amount.quantize(quantum, rounding=ROUND_HALF_UP)
    text = f"{abs(rounded):,.{decimals}f}"
    return (MINUS if rounded < 0 else "") + text


def yuan(value: object, unit: bool = True) -> str:
    """An amount in 元: 12,345.60 元."""
    text = number(value, 2)
    return f"{text} 元" if unit and text != MISSING else text


def wan(value: object, unit: bool = True) -> str:
    """An amount given in 元, shown in 万元 with 2 decimals: 1,234.57 万元."""
    amount = _decimal(value)
    if amount is None:
        return MISSING
    text = number(amount / TEN_THOUSAND, 2)
    return f"{text} 万元" if unit else text


def yi(value: object, unit: bool = True) -> str:
    """An amount given in 元, shown in 亿元 (for the risk fund's capacity): 1.00 亿元."""
    amount = _decimal(value)
    if amount is None:
        return MISSING
    text = number(amount / Decimal(100_000_000), 2)
    return f"{text} 亿元" if unit else text


def count(value: object, unit: str = "") -> str:
    """A whole number with thousands separators, optionally with its unit: 12,345 户."""
    amount = _decimal(value)
    if amount is None:
        return MISSING
    text = number(amount, 0)
    return f"{text} {unit}" if unit else text


def percent(rate: object, decimals: int = 2) -> str:
    """A fraction as a percentage with 2 decimals: 0.031234 -> 3.12%."""
    amount = _decimal(rate)
    if amount is None:
        return MISSING
    return number(amount * 100, decimals) + "%"


def points(value: int) -> str:
    """Signed score points: +3, −10, 0."""
    if value > 0:
        return f"+{value}"
    if value < 0:
        return f"{MINUS}{-value}"
    return "0"


def signed(value: object, formatter=number) -> str:
    """A change with its sign, for the delta of a KPI card: +1,234 / −0.52%."""
    amount = _decimal(value)
    if amount is None:
        return MISSING
    text = formatter(abs(amount))
    if amount > 0:
        return "+" + text
    if amount < 0:
        return "-" + text  # ASCII minus: st.metric colours a delta by its leading "-"
    return text


SAME = "持平"


def change(now: object, before: object, formatter=number) -> str | None:
    """A KPI's change against an earlier reading, for a card's delta: "+1,234 户", "-0.52 万元",
    or 持平 when it does not move as shown (a change that rounds to zero is no change); None
    when either reading is missing."""
    now_value, before_value = _decimal(now), _decimal(before)
    if now_value is None or before_value is None:
        return None
    text = signed(now_value - before_value, formatter)
    if text.lstrip("+-") == formatter(Decimal(0)):
        return SAME
    return text


def rate_change(now: object, before: object) -> str | None:
    """A rate's change in percentage points (个百分点), for a card's delta: "+0.52 个百分点",
    持平, or None when either rate is missing."""
    now_value, before_value = _decimal(now), _decimal(before)
    if now_value is None or before_value is None:
        return None
    return change(now_value * 100, before_value * 100, lambda value: f"{number(value, 2)} 个百分点")


def month_label(day: date) -> str:
    """2024年6月."""
    return f"{day.year}年{day.month}月"


def date_label(day: date | None) -> str:
    """2024年6月15日."""
    if day is None:
        return MISSING
    return f"{day.year}年{day.month}月{day.day}日"


def as_of_label(day: date, is_month_end: bool) -> str:
    """The label of a snapshot: 2024年6月, or 2024年7月（截至15日，临时） for a provisional one."""
    if is_month_end:
        return month_label(day)
    return f"{month_label(day)}（截至{day.day}日，临时）"


def timestamp_label(moment: datetime) -> str:
    """2024年6月15日 14:05."""
    return f"{date_label(moment.date())} {moment:%H:%M}"


def veto_words(vetoes: Sequence[str] | None) -> str:
    """V2, V3 -> 当前被执行或失信被执行人 一票否决；贷款逾期 一票否决."""
    if not vetoes:
        return ""
    return "；".join(VETO_WORDS.get(veto, f"{veto} 一票否决") for veto in vetoes)


def list_words(values: Sequence[str] | None) -> str:
    """Several texts in one cell: 户主身份证号校验位错误；缺少户主姓名."""
    if not values:
        return ""
    return "；".join(str(value) for value in values)


def original_row(original: str | None) -> str:
    """A quarantined row as read (a JSON object of header → cell) in words a clerk reads:
    户主姓名：张三；户主身份证号：4112…; the headers as the file wrote them, every cell kept."""
    import json

    if not original:
        return ""
    try:
        row = json.loads(original)
    except ValueError:
        return str(original)
    if not isinstance(row, dict):
        return str(original)
    return "；".join(f"{key}：{'' if value is None else value}" for key, value in row.items())


_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# GFM turns http://…, www.… and a@b.cn in plain text into links after escapes are read; an
# invisible word joiner (U+2060) inside the trigger keeps them text.
_AUTOLINK_TRIGGERS = re.compile(r"(?i)(?<=:)(?=//)|(?<=www)(?=\.)|(?=@)")
WORD_JOINER = "\u2060"


def markdown_text(value: object) -> str:
    """A value shown as written inside Streamlit markdown (st.markdown, st.caption, st.error,
    st.subheader …): every ASCII punctuation character is backslash-escaped, which CommonMark
    renders as the character itself, and a word joiner breaks what GFM would autolink. So a
    link parameter such as ``[请点此重新登录](http://evil.example/login)`` stays text,
    ``![x](http://…)`` fetches no image, ``http://…`` is no link and ``:red[…]`` no colour:
    text from a URL or a data file never becomes markup."""
    text = _AUTOLINK_TRIGGERS.sub(WORD_JOINER, "" if value is None else str(value))
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def markdown_lines(value: object) -> str:
    """A multi-line message (a build's failure, a jump's list of deliveries) shown as written:
    each line through markdown_text, kept on its own line by a hard break."""
    lines = ("" if value is None else str(value)).splitlines()
    return "  \n".join(markdown_text(line) for line in lines)


def mask_id_number(id_number: str | None) -> str:
    """A public notice shows only the first 6 and last 4 characters: 411202********123X."""
    if not id_number:
        return ""
    if len(id_number) <= 10:
        return id_number
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


@dataclass(frozen=True)
class ScoreStep:
    """One step of a score waterfall: its words and its points (a veto sets the score to 0)."""

    label: str
    points: int
    kind: str  # "base" | "add" | "deduct" | "veto" | "total"
    item: str | None = None  # the rule item (a1 … d6, poor_bonus) or veto (V1 …) it shows


# Items whose words would tell what a V1/V2 veto hides (court enforcement, D6), shown without
# their words to a user without view_sensitive_vetoes.
SENSITIVE_ITEMS = ("d6",)
HIDDEN_ITEM_WORDS = "扣分（不宜公开事项）"


def score_steps(
    row: Mapping[str, object], policy: Mapping[str, object], *, hide_sensitive: bool = False
) -> list[ScoreStep]:
    """From the base score through every rule item that counts to the final score, in words.

    ``row`` is a household_scores row (items a1..d6, poor_bonus, overdue_events, npl_events,
    raw_score, score, vetoes). ``policy`` is the profile the scores were computed with
    (huinong.data.policy of the warehouse, or huinong.policy.default_policy()): the base score,
    the D3 points and the amounts and levels the items' words name. ``hide_sensitive``: D6's
    words (court enforcement) replaced by HIDDEN_ITEM_WORDS; the vetoes come from the data layer
    already folded (VS) for such a user.
    """
    base = int(policy["base_score"])
    steps = [ScoreStep(f"基础分 {base}", base, "base")]
    for item in ITEMS:
        value = int(row.get(item) or 0)
        if value == 0:
            continue
        if item == "d3":
            steps.extend(_d3_steps(row, value, policy))
            continue
        kind = "add" if value > 0 else "deduct"
        words = (
            HIDDEN_ITEM_WORDS
            if hide_sensitive and item in SENSITIVE_ITEMS
            else _item_words(item, value, policy)
        )
        steps.append(ScoreStep(f"{words} {points(value)}", value, kind, item))
    raw = int(row.get("raw_score") or 0)
    vetoes = list(row.get("vetoes") or [])
    if vetoes:
        steps.append(ScoreStep(f"否决前得分 {raw}", raw, "total"))
        # The first veto takes the score to 0; the others are listed because each must be cleared.
        for position, veto in enumerate(vetoes):
            drop = -raw if position == 0 else 0
            steps.append(ScoreStep(VETO_WORDS.get(veto, f"{veto} 一票否决"), drop, "veto", veto))
        steps.append(
            ScoreStep(f"最终得分 {row.get('score', 0)}", int(row.get("score") or 0), "total")
        )
    else:
        steps.append(
            ScoreStep(f"最终得分 {row.get('score', raw)}", int(row.get("score") or 0), "total")
        )
    return steps


def _item_words(item: str, value: int, policy: Mapping[str, object]) -> str:
    if item == "a1":
        lowest = policy["a1_education_levels"][0]
        return f"户主信息（党员、{lowest}以上、身体健康、家庭成员服兵役）"
    if item == "a2":
        return f"宅基地自建房{_wan_words(policy['a2_house_value_min'])}元以上"
    if item == "a4":
        low, high = policy["a4_scale_min"], policy["a4_scale_below"]
        return f"经营实体合规注册（{_wan_words(low)}至{_wan_words(high)}元）"
    if item == "a5":
        return f"权属证书{value}项"
    if item == "a7":
        return _honour_words(policy).get(value, _ITEM_WORDS["a7"])
    if item == "d5":
        return f"对外抵押{_wan_words(policy['d5_mortgage_min'])}元以上"
    return _ITEM_WORDS[item]


def _honour_words(policy: Mapping[str, object]) -> dict[object, str]:
    """A7's points → the honour's level; where two levels score alike, the higher one names it."""
    return {
        policy["a7_village_points"]: "村级荣誉",
        policy["a7_township_points"]: "乡级荣誉",
        policy["a7_district_points"]: "区级及以上荣誉",
    }


def _wan_words(amount: object) -> str:
    """An amount in 元 as a policy text says it: 200000 -> 20万, 75000 -> 7.5万."""
    return f"{(Decimal(str(amount)) / TEN_THOUSAND).normalize():f}万"


def _d3_steps(
    row: Mapping[str, object], value: int, policy: Mapping[str, object]
) -> list[ScoreStep]:
    overdue = int(row.get("overdue_events") or 0)
    npl = int(row.get("npl_events") or 0)
    overdue_points = int(policy["d3_overdue_points"])
    npl_points = int(policy["d3_npl_points"])
    if overdue * overdue_points + npl * npl_points != -value:
        return [ScoreStep(f"银行贷款逾期、不良 {points(value)}", value, "deduct", "d3")]
    steps = []
    if overdue:
        deducted = -overdue * overdue_points
        steps.append(
            ScoreStep(f"征信及贷款逾期{overdue}次 {points(deducted)}", deducted, "deduct", "d3")
        )
    if npl:
        deducted = -npl * npl_points
        steps.append(
            ScoreStep(f"征信及贷款不良{npl}次 {points(deducted)}", deducted, "deduct", "d3")
        )
    return steps
