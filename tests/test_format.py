"""What numbers, dates and score steps read like on screen (Simplified Chinese)."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from huinong import format as fmt
from huinong.policy import default_policy


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("12345678.90"), "1,234.57 万元"),
        (Decimal("100000000.00"), "10,000.00 万元"),
        (Decimal("50.00"), "0.01 万元"),  # 0.005 万元 rounds half up, not to even
        (Decimal("0"), "0.00 万元"),
        (Decimal("-25000"), "−2.50 万元"),
        (None, "—"),
    ],
)
def test_wan_shows_yuan_in_ten_thousands_with_separators(amount, expected):
    assert fmt.wan(amount) == expected


def test_yuan_keeps_cents_and_thousands_separators():
    assert fmt.yuan(Decimal("1234567.5")) == "1,234,567.50 元"
    assert fmt.yuan(Decimal("0.005")) == "0.01 元"
    assert fmt.yuan(Decimal("99.5"), unit=False) == "99.50"


def test_percent_has_two_decimals_rounded_half_up():
    assert fmt.percent(Decimal("0.0300010000")) == "3.00%"
    assert fmt.percent(Decimal("0.03125")) == "3.13%"
    assert fmt.percent(Decimal("0.8649")) == "86.49%"
    assert fmt.percent(0.5) == "50.00%"
    assert fmt.percent(None) == "—"


def test_counts_and_signed_changes():
    assert fmt.count(20000, "户") == "20,000 户"
    assert fmt.count(7) == "7"
    assert fmt.signed(Decimal("1234"), fmt.count) == "+1,234"
    # st.metric colours a delta red by its leading ASCII "-": keep it ASCII here.
    assert fmt.signed(Decimal("-0.5"), fmt.percent) == "-50.00%"
    assert fmt.signed(0, fmt.count) == "0"
    assert fmt.points(3) == "+3"
    assert fmt.points(-10) == "−10"


def test_dates_read_as_chinese_months():
    assert fmt.month_label(date(2024, 6, 30)) == "2024年6月"
    assert fmt.date_label(date(2024, 6, 5)) == "2024年6月5日"
    assert fmt.as_of_label(date(2024, 6, 30), True) == "2024年6月"
    assert fmt.as_of_label(date(2024, 7, 15), False) == "2024年7月（截至15日，临时）"
    assert fmt.timestamp_label(datetime(2024, 6, 15, 14, 5, 59)) == "2024年6月15日 14:05"


def test_veto_ids_become_words():
    assert fmt.veto_words(["V2", "V3"]) == "当前被执行或失信被执行人 一票否决；贷款逾期 一票否决"
    assert fmt.veto_words([]) == ""
    assert fmt.veto_words(None) == ""


def test_public_notice_hides_the_middle_of_an_id_number():
    assert fmt.mask_id_number("41120219800101001X") == "411202********001X"
    assert fmt.mask_id_number(None) == ""


POLICY = default_policy()  # Hubin's profile


def _household(**items):
    row = {item: 0 for item in fmt.ITEMS}
    row.update(overdue_events=0, npl_events=0, vetoes=[])
    row.update(items)
    raw = 80 + sum(row[item] for item in fmt.ITEMS)
    row.setdefault("raw_score", raw)
    row.setdefault("score", 0 if row["vetoes"] else raw)
    return row


def test_score_steps_walk_from_base_80_to_the_final_score_in_words():
    row = _household(a1=2, a3=3, a7=2, d3=-20, overdue_events=2, npl_events=1, poor_bonus=3)
    steps = fmt.score_steps(row, POLICY)
    labels = [step.label for step in steps]
    assert labels[0] == "基础分 80"
    assert "征信及贷款逾期2次 −10" in labels
    assert "征信及贷款不良1次 −10" in labels
    assert "乡级荣誉 +2" in labels
    assert "建档立卡贫困户 一加分 +3" in labels
    assert labels[-1] == "最终得分 70"
    moves = sum(step.points for step in steps if step.kind in ("base", "add", "deduct", "veto"))
    assert moves == row["score"] == 70


def test_score_steps_end_at_zero_when_a_veto_holds():
    row = _household(a3=3, a10=2, vetoes=["V2", "V3"])
    steps = fmt.score_steps(row, POLICY)
    labels = [step.label for step in steps]
    assert "否决前得分 85" in labels
    assert "当前被执行或失信被执行人 一票否决" in labels
    assert "贷款逾期 一票否决" in labels
    assert labels[-1] == "最终得分 0"
    assert sum(step.points for step in steps if step.kind != "total") == 0


def test_score_steps_fall_back_to_one_d3_step_when_counts_do_not_match_the_points():
    # Another county's profile may weigh events differently: say the total, not a wrong split.
    row = _household(d3=-12, overdue_events=2, npl_events=0)
    labels = [step.label for step in fmt.score_steps(row, POLICY)]
    assert "银行贷款逾期、不良 −12" in labels


def test_score_steps_name_the_amounts_and_levels_of_the_profile():
    row = _household(a1=1, a2=2, a4=2, a7=3, d5=-5)
    hubin = [step.label for step in fmt.score_steps(row, POLICY)]
    assert "户主信息（党员、大专以上、身体健康、家庭成员服兵役） +1" in hubin
    assert "宅基地自建房20万元以上 +2" in hubin
    assert "经营实体合规注册（5万至10万元） +2" in hubin
    assert "区级及以上荣誉 +3" in hubin
    assert "对外抵押5万元以上 −5" in hubin
    # Another county: a dearer house, a wider band, a cheaper mortgage, honours weighed anew.
    county = POLICY.overridden(
        {
            "base_score": 70,
            "a2_house_value_min": 300000,
            "a4_scale_min": 30000,
            "a4_scale_below": 150000,
            "d5_mortgage_min": 75000,
            "a7_district_points": 4,
            "a7_township_points": 3,
        }
    )
    labels = [step.label for step in fmt.score_steps(row, county)]
    assert labels[0] == "基础分 70"
    assert "宅基地自建房30万元以上 +2" in labels
    assert "经营实体合规注册（3万至15万元） +2" in labels
    assert "乡级荣誉 +3" in labels
    assert "对外抵押7.5万元以上 −5" in labels


def test_every_column_a_page_shows_has_a_chinese_header():
    for key, (label, kind) in fmt.COLUMNS.items():
        assert any(ord(char) > 0x2E80 for char in label), key
        assert kind in {
            "text",
            "id",
            "code",
            "int",
            "float",
            "yuan",
            "wan",
            "rate",
            "date",
            "bool",
            "vetoes",
            "list",
            "longtext",
        }


def test_a_quarantined_row_reads_as_headers_and_cells():
    original = '{"户主姓名": "张三", "户主身份证号": "41120219800101001X", "备注": null}'
    assert fmt.original_row(original) == "户主姓名：张三；户主身份证号：41120219800101001X；备注："
    assert fmt.list_words(["户主身份证号校验位错误", "缺少采集日期"]) == (
        "户主身份证号校验位错误；缺少采集日期"
    )


def test_a_multi_line_message_keeps_its_lines_and_shows_a_link_as_written():
    # A delivery's 报送单位 is free text and reaches the build's failure message.
    message = "主要指标变化超出合理范围：\n  - 第 0002 批报送（[点此](http://evil.example)）"
    shown = fmt.markdown_lines(message)
    assert shown.split("  \n") == [
        fmt.markdown_text("主要指标变化超出合理范围："),
        fmt.markdown_text("  - 第 0002 批报送（[点此](http://evil.example)）"),
    ]
    assert "](http" not in shown and "\\[点此\\]" in shown
