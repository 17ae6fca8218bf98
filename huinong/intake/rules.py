"""Row rules beyond a column's kind: check digits of ID numbers and credit codes, code lengths,
and rules between the columns of one row.

Each rule is SQL giving a Chinese reason or NULL, evaluated with the cell
typing of huinong.intake.cells; a row with any reason is quarantined.
"""

from __future__ import annotations

import datetime as dt

from huinong.intake.cells import ColumnSql, column_sql, sql_text
from huinong.schema import RawFile

# Dates of something that happened: none can lie after the delivery that reports it was received,
# nor before the programme started. Due dates and maturities lie ahead by nature; an enforcement
# record may end before the programme began.
EVENT_DATES = {
    "households": ("collected_on",),
    "loans": ("disbursed_on", "written_off_on"),
    "repayments": ("paid_on",),
}

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
SCIENTIFIC = r"\d(\.\d+)?[eE]\+?\d+"


def _scientific_reason(text: str, label: str) -> str:
    return (
        f"when regexp_full_match({text}, {sql_text(SCIENTIFIC)}) then "
        f"{sql_text(label + '被 Excel 存成了科学计数法，后几位数字已丢失：')} || {text} "
        f"|| {sql_text('（请把该列设为文本后重新导出）')} "
    )


def _checked_code_rules(
    spec: ColumnSql, name: str, label: str, well_formed: str, check: str, bad_chars: str
) -> None:
    """An 18-character code with a check character; the shape and check run first
    because nearly every code is right."""
    text = f"n_{name}"
    spec.value = f"upper({text})"
    spec.reasons.append(
        f"case when {text} is null then null "
        f"when {well_formed} then "
        f"(case when {check} then {sql_text(label + '校验位错误')} end) "
        + _scientific_reason(text, label)
        + f"when strlen({name}) <> 18 then {sql_text(label + '应为18位：')} || {text} "
        f"|| '（现为 ' || length({name}) || ' 位）' "
        f"else {sql_text(label + bad_chars)} || {text} end"
    )


def _id_number_rules(spec: ColumnSql, name: str, label: str) -> None:
    digits = f"id_{name}"
    # The first 17 digits as one integer: digit arithmetic on it is far cheaper
    # than 17 substrings cast one by one, on millions of rows.
    spec.helpers.append(
        f"case when strlen(n_{name}) = 18 and regexp_full_match(n_{name}, '\\d{{17}}[0-9Xx]') "
        f"then left(n_{name}, 17)::bigint end as {digits}"
    )
    checksum = " + ".join(
        f"({digits} // {10 ** (16 - position)} % 10) * {weight}"
        for position, weight in enumerate(ID_WEIGHTS)
    )
    check = f"substr({sql_text(ID_CHECK)}, (({checksum}) % 11) + 1, 1) <> substr({name}, 18, 1)"
    _checked_code_rules(
        spec,
        name,
        label,
        f"{digits} is not null",
        check,
        "格式错误：前17位应为数字，最后一位为数字或X：",
    )


def _credit_code_rules(spec: ColumnSql, name: str, label: str) -> None:
    chars = sql_text(CREDIT_CHARS)
    checksum = " + ".join(
        f"(instr({chars}, substr({name}, {position + 1}, 1)) - 1) * {weight}"
        for position, weight in enumerate(CREDIT_WEIGHTS)
    )
    check = f"substr({chars}, ((31 - ({checksum}) % 31) % 31) + 1, 1) <> substr({name}, 18, 1)"
    _checked_code_rules(
        spec,
        name,
        label,
        f"strlen({name}) = 18 and regexp_full_match({name}, '[0-9A-HJ-NPQRTUWXY]{{18}}')",
        check,
        "含有不允许的字符（不使用 I、O、Z、S、V）：",
    )


def _digits_rule(spec: ColumnSql, name: str, label: str, digits: int) -> None:
    text = f"n_{name}"
    spec.reasons.append(
        f"case when {text} is null or regexp_full_match({text}, '\\d{{{digits}}}') then null "
        + _scientific_reason(text, label)
        + f"else {sql_text(f'{label}应为{digits}位数字：')} || {text} end"
    )


def column_specs(raw_file: RawFile) -> dict[str, ColumnSql]:
    specs: dict[str, ColumnSql] = {}
    for column in raw_file.columns:
        strict = (raw_file.name, column.name) in (
            ("loans", "amount"),
            ("schedule", "installment_no"),
        )
        spec = column_sql(column, minimum_exclusive=strict)
        if column.name == "head_id_number":
            _id_number_rules(spec, column.name, column.label)
        elif column.name == "credit_code":
            _credit_code_rules(spec, column.name, column.label)
        elif column.name == "village_code":
            _digits_rule(spec, column.name, column.label, 12)
        elif column.name == "township_code":
            _digits_rule(spec, column.name, column.label, 9)
        specs[column.name] = spec
    return specs


def row_rules(raw_file: RawFile) -> list[str]:
    """Rules between columns of one row."""
    if raw_file.name == "villages":
        return [
            "case when regexp_full_match(village_code, '\\d{12}') "
            "and regexp_full_match(township_code, '\\d{9}') "
            "and left(village_code, 9) <> township_code "
            "then '行政村代码前9位应与乡镇代码一致：' || village_code || ' / ' || township_code end"
        ]
    if raw_file.name == "loans":
        return [
            "case when maturity_on <= disbursed_on then '到期日期早于或等于放款日期：' "
            "|| n_maturity_on || ' / ' || n_disbursed_on end",
            "case when written_off_on < disbursed_on then '核销日期早于放款日期：' "
            "|| n_written_off_on || ' / ' || n_disbursed_on end",
        ]
    return []


def date_window_rules(raw_file: RawFile, programme_start: dt.date) -> list[str]:
    """An event date after its delivery's receipt day (``_received_on``) or before the programme's
    start is not a date a clerk meant: the row is quarantined rather than let it move the
    as-of date or the first snapshot."""
    start = programme_start.isoformat()
    rules = []
    for name in EVENT_DATES.get(raw_file.name, ()):
        label = raw_file.column(name).label
        rules.append(
            f"case when {name} > _received_on then {sql_text(label + '晚于报送接收日 ')} "
            f"|| strftime(_received_on, '%Y-%m-%d') || {sql_text('，不可能已经发生：')} || n_{name} "
            f"when {name} < date '{start}' then "
            f"{sql_text(label + '早于项目开始日期 ' + start + '：')} || n_{name} end"
        )
    return rules


def message_texts(raw_file: RawFile) -> list[str]:
    """Normalised texts kept after validation for messages of the cross-file rules."""
    wanted = {
        "schedule": ["installment_no"],
        "loans": ["disbursed_on"],
        "repayments": ["paid_on"],
    }
    return wanted.get(raw_file.name, [])
