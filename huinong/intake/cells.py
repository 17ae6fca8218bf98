"""Cells: the SQL that types each column by its kind and explains, in Chinese, what does not parse.

Every expression reads ``n_<column>``, the cell's normalised text (NFKC,
trimmed, '' as NULL), and is evaluated in DuckDB a column at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from huinong.intake.limits import MAX_AMOUNT, amount_text
from huinong.schema import Column


def sql_text(value: str) -> str:
    """A SQL string literal of text that comes from schema.py or this package, never from a file."""
    return "'" + value.replace("'", "''") + "'"


DATE_SHAPE = (
    r"(\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2}|\d{4}\.\d{1,2}\.\d{1,2}"
    r"|\d{4}年\d{1,2}月\d{1,2}日|\d{8})( 0?0:00(:00)?)?"
)
AMOUNT_SHAPE = r"-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?"
NUMBER_SHAPE = r"-?(\d+(\.\d+)?|\.\d+)"
TRUE_WORDS = ("是", "有", "y", "yes", "1", "true", "√", "✓", "✔")
FALSE_WORDS = ("否", "无", "n", "no", "0", "false", "×", "✗", "✘")
MAX_RATE_DECIMALS = 8
EXCEL_ERRORS = (
    "#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!",
    "#GETTING_DATA",
)  # fmt: skip


@dataclass
class ColumnSql:
    """How one column is typed: helper expressions, the typed value, and the reasons it may fail.

    Levels: helpers read ``n_<col>`` (the normalised text); the value reads
    helpers; reasons read all three. Each reason is SQL giving text or NULL.
    """

    helpers: list[str] = field(default_factory=list)
    value: str = ""
    reasons: list[str] = field(default_factory=list)


def _words(words: tuple[str, ...]) -> str:
    return ", ".join(sql_text(word) for word in words)


def column_sql(column: Column, *, minimum_exclusive: bool = False) -> ColumnSql:
    """The typing of one column by its kind; file-specific rules are added by the caller."""
    name, label = column.name, column.label
    text = f"n_{name}"
    spec = ColumnSql()
    if column.required:
        spec.reasons.append(f"case when {text} is null then {sql_text('缺少' + label)} end")

    def detail(stem: str) -> str:
        return f"{sql_text(label + stem + '：')} || {text}"

    if column.kind in ("text",):
        spec.value = text
        # Other kinds fail to parse an error value anyway; free text would take it in.
        spec.reasons.append(
            f"case when {text} in ({_words(EXCEL_ERRORS)}) then {detail('是 Excel 错误值')} end"
        )
    elif column.kind == "enum":
        choices = ", ".join(sql_text(choice) for choice in column.choices)
        # The stored value is always the contract's Chinese choice; a code maps onto it.
        codes = "".join(
            f"when {sql_text(code)} then {sql_text(choice)} " for code, choice in column.codes
        )
        from_code = f"case lower({text}) {codes}end" if codes else "null"
        spec.value = f"case when {text} in ({choices}) then {text} else {from_code} end"
        allowed = "/".join(column.choices)
        if column.codes:
            allowed += "，或 " + "/".join(code for code, _ in column.codes)
        spec.reasons.append(
            f"case when {text} is not null and {name} is null then "
            f"{detail('不在可选值内')} || {sql_text('（可选：' + allowed + '）')} end"
        )
    elif column.kind == "bool":
        # 是/否 exactly is nearly every cell; only the rest are lower-cased and looked up.
        spec.value = (
            f"case {text} when '是' then true when '否' then false else "
            f"(case when lower({text}) in ({_words(TRUE_WORDS)}) then true "
            f"when lower({text}) in ({_words(FALSE_WORDS)}) then false end) end"
        )
        spec.reasons.append(
            f"case when {text} is not null and {name} is null then {detail('应填“是”或“否”')} end"
        )
    elif column.kind == "date":
        digits = f"d_{name}"
        # The common ISO spelling goes straight through DuckDB's cast; the rest by regex.
        iso = f"(strlen({text}) = 10 and substr({text}, 5, 1) = '-' and substr({text}, 8, 1) = '-')"
        spec.helpers.append(
            f"case when not {iso} and regexp_full_match({text}, {sql_text(DATE_SHAPE)}) "
            f"then regexp_extract_all({text}, '\\d+') end as {digits}"
        )
        first = f"{digits}[1]"
        year = (
            f"(case when strlen({first}) = 8 then substr({first}, 1, 4) else {first} end)::bigint"
        )
        month = f"(case when strlen({first}) = 8 then substr({first}, 5, 2) else {digits}[2] end)::bigint"
        day = f"(case when strlen({first}) = 8 then substr({first}, 7, 2) else {digits}[3] end)::bigint"
        spec.value = (
            f"case when {iso} then (case when try_cast({text} as date) "
            f"between date '1900-01-01' and date '2099-12-31' then try_cast({text} as date) end) "
            f"when {digits} is not null and {year} between 1900 and 2099 "
            f"then try(make_date({year}, {month}, {day})) end"
        )
        spec.reasons.append(
            f"case when {text} is not null and {name} is null then "
            f"(case when regexp_full_match({text}, {sql_text(DATE_SHAPE)}) "
            f"then {detail('不是有效日期')} else {detail('无法识别为日期')} end) end"
        )
    elif column.kind == "amount":
        plain = f"regexp_full_match({text}, '-?\\d+(\\.\\d{{1,2}})?')"
        # "1,000.50 元" and "¥ 1,000" as a clerk types them: the unit may stand apart.
        cleaned = f"regexp_replace({text}, '^¥\\s*|\\s*元$', '', 'g')"
        decimals = f"coalesce(strlen(regexp_extract({cleaned}, '\\.(\\d*)$', 1)), 0)"
        shaped = f"regexp_full_match({cleaned}, {sql_text(AMOUNT_SHAPE)})"
        # Plain "1234.5" is nearly every cell; separators, 元 and ¥ take the longer way.
        spec.value = (
            f"case when {plain} then try_cast({text} as decimal(18,2)) "
            f"when {shaped} and {decimals} <= 2 "
            f"then try_cast(replace({cleaned}, ',', '') as decimal(18,2)) end"
        )
        positive = f"when {name} = 0 then {detail('应大于0')} " if minimum_exclusive else ""
        # Beyond the bound no sum the warehouse computes could hold it (huinong.intake.limits).
        too_large = detail(f"超过上限（应小于 {amount_text(MAX_AMOUNT)}）")
        spec.reasons.append(
            f"case when {text} is not null and {name} is null then "
            f"(case when not {shaped} then {detail('无法识别为金额')} "
            f"when {decimals} > 2 then {detail('小数位超过两位')} "
            f"else {too_large} end) "
            f"when {name} < 0 then {detail('不能为负数')} {positive}"
            f"when {name} >= {MAX_AMOUNT} then {too_large} end"
        )
    elif column.kind == "rate":
        percent = f"rp_{name}"
        number = f"rn_{name}"
        spec.helpers.append(f"right({text}, 1) = '%' as {percent}")
        spec.helpers.append(
            f"case when right({text}, 1) = '%' then trim(left({text}, -1)) else {text} end as {number}"
        )
        shaped = f"regexp_full_match({number}, {sql_text(NUMBER_SHAPE)})"
        places = f"coalesce(strlen(regexp_extract({number}, '\\.(\\d*)$', 1)), 0)"
        magnitude = f"try_cast({number} as decimal(30,12))"
        spec.value = (
            f"case when not {shaped} then null "
            f"when {percent} and {places} <= {MAX_RATE_DECIMALS - 2} and {magnitude} >= 0 "
            f"then try_cast({magnitude} * 0.01 as decimal(12,8)) "
            f"when not {percent} and {places} <= {MAX_RATE_DECIMALS} and {magnitude} >= 0 "
            f"and {magnitude} < 1 then try_cast({magnitude} as decimal(12,8)) end"
        )
        spec.reasons.append(
            f"case when {text} is not null and not {shaped} then {detail('无法识别为利率')} "
            f"when {text} is not null and {magnitude} < 0 then {detail('不能为负数')} "
            f"when {text} is not null and {percent} and {places} > {MAX_RATE_DECIMALS - 2} "
            f"then {detail('小数位过多')} "
            f"when {text} is not null and not {percent} and {magnitude} >= 1 then "
            f"{sql_text(label + '含义不明确：“')} || {text} || "
            f"{sql_text('”没有百分号，请写成小数（如 0.0475）或百分数（如 4.75%）')} "
            f"when {text} is not null and not {percent} and {places} > {MAX_RATE_DECIMALS} "
            f"then {detail('小数位过多')} "
            f"when {text} is not null and {name} is null then {detail('数值过大')} end"
        )
    elif column.kind == "int":
        shaped = f"regexp_full_match({text}, '-?\\d+')"
        spec.value = f"case when {shaped} then try_cast({text} as integer) end"
        minimum = 1 if minimum_exclusive else 0
        low_text = "应为大于0的整数" if minimum_exclusive else "不能为负数"
        spec.reasons.append(
            f"case when {text} is not null and not {shaped} then {detail('应为整数')} "
            f"when {text} is not null and {name} is null then {detail('数值过大')} "
            f"when {name} < {minimum} then {detail(low_text)} end"
        )
    else:
        raise ValueError(f"unknown column kind {column.kind!r}")
    return spec
