"""Deep links never lie: every parameter of a link the warehouse cannot show as asked gets a
Chinese message naming it, and the view says what is shown instead (huinong.links)."""

from __future__ import annotations

from datetime import date

from huinong.links import resolve_link

SNAPSHOTS = [date(2024, 4, 30), date(2024, 5, 31), date(2024, 6, 30), date(2024, 7, 15)]
TOWNSHIPS = {"411202001": "一乡", "411202002": "二乡"}
VILLAGES = {"411202001201": "东村", "411202001202": "西村", "411202002201": "南村"}
HOMES = {("HH1", date(2024, 6, 30)): ("411202001", "411202001202")}


def home(household: str, as_of: date):
    return HOMES.get((household, as_of))


def resolve(**params):
    return resolve_link(params, SNAPSHOTS, TOWNSHIPS, VILLAGES, home)


def test_a_valid_link_is_shown_as_asked_without_a_word():
    view, messages = resolve(
        as_of="2024-06-30", township="411202001", village="411202001202", household="HH1",
        compare="2024-04", meeting="1",
    )  # fmt: skip
    assert messages == []
    assert view == {
        "as_of": "2024-06-30",
        "township": "411202001",
        "village": "411202001202",
        "household": "HH1",
        "compare": "2024-04-30",
        "meeting": True,
    }


def test_no_parameters_mean_the_latest_snapshot_of_the_district():
    view, messages = resolve()
    assert messages == []
    assert view["as_of"] == "2024-07-15" and view["township"] == "" and not view["meeting"]


def test_a_month_means_its_month_end():
    view, messages = resolve(as_of="2024-06")
    assert (view["as_of"], messages) == ("2024-06-30", [])


def test_the_current_month_without_a_month_end_shows_the_provisional_date_and_says_so():
    view, messages = resolve(as_of="2024-07")
    assert view["as_of"] == "2024-07-15"
    assert [message.parameter for message in messages] == ["as_of"]
    assert "2024年7月还没有月末数据" in messages[0].text
    assert "2024年7月（截至15日，临时）" in messages[0].text


def test_a_day_that_is_no_snapshot_names_it_and_offers_the_nearest():
    view, messages = resolve(as_of="2024-06-15")
    assert view["as_of"] == "2024-06-30"  # 15 days either way: the later one
    (message,) = messages
    assert message.parameter == "as_of"
    assert "“2024-06-15”" in message.text and "2024年6月15日" in message.text
    assert "已显示最近的 2024年6月" in message.text
    assert message.suggestion == {"as_of": "2024-06-30"}
    view, messages = resolve(as_of="2024-05-02")
    assert view["as_of"] == "2024-04-30" and messages[0].suggestion == {"as_of": "2024-04-30"}
    view, messages = resolve(as_of="2019-01")
    assert view["as_of"] == "2024-04-30"
    assert "统计日期是各月月末（2024年4月至2024年7月（截至15日，临时））" in messages[0].text


def test_an_invalid_date_names_it_and_shows_the_latest():
    for text in ("2026-13-45", "2024-02-30", "2024-13", "六月", "2024/06/30"):
        view, messages = resolve(as_of=text)
        assert view["as_of"] == "2024-07-15", text
        (message,) = messages
        assert message.parameter == "as_of"
        assert f"“{text}”不是有效日期" in message.text
        assert "已显示最新数据 2024年7月（截至15日，临时）" in message.text


def test_an_unknown_or_malformed_township_is_named_and_the_district_shown():
    view, messages = resolve(township="411202009")
    assert view["township"] == ""
    assert messages[0].parameter == "township"
    assert "乡镇代码（township） 411202009 不在乡镇名单中" in messages[0].text
    assert "已显示全区" in messages[0].text
    view, messages = resolve(township="4112")
    assert view["township"] == "" and "应为 9 位数字" in messages[0].text


def test_an_unknown_village_is_named_and_its_township_kept():
    view, messages = resolve(township="411202001", village="411202001299")
    assert (view["township"], view["village"]) == ("411202001", "")
    assert [message.parameter for message in messages] == ["village"]
    assert "411202001299 不在行政村名单中" in messages[0].text
    view, messages = resolve(village="东村")
    assert view["village"] == "" and "“东村”应为 12 位数字" in messages[0].text


def test_a_village_of_another_township_follows_its_own_township_and_says_so():
    view, messages = resolve(township="411202002", village="411202001201")
    assert (view["township"], view["village"]) == ("411202001", "411202001201")
    assert "东村（411202001201）不属于链接中的乡镇 二乡（411202002）" in messages[0].text
    assert "已按该村所在的一乡显示" in messages[0].text
    # A bad township with a good village: the village decides, and the township is named.
    view, messages = resolve(township="999", village="411202001201")
    assert view["township"] == "411202001"
    assert (
        messages[0].parameter == "township" and "已按行政村 东村 所在的一乡显示" in messages[0].text
    )
    # A village alone finds its township without a word.
    view, messages = resolve(village="411202002201")
    assert (view["township"], messages) == ("411202002", [])


def test_an_unknown_household_is_named_and_a_known_one_opens_its_own_village():
    view, messages = resolve(as_of="2024-06-30", household="HH9")
    assert view["household"] == ""
    assert messages[0].parameter == "household"
    assert "“HH9”在2024年6月没有评级记录" in messages[0].text
    view, messages = resolve(as_of="2024-06-30", village="411202001201", household="HH1")
    assert (view["village"], view["household"]) == ("411202001202", "HH1")
    assert "属于行政村 西村（411202001202），不是链接中的行政村 411202001201" in messages[0].text
    view, messages = resolve(as_of="2024-06-30", household="HH1")
    assert (view["township"], view["village"], messages) == ("411202001", "411202001202", [])


def test_compare_must_be_an_earlier_month_end():
    view, messages = resolve(as_of="2024-06-30", compare="2024-06")
    assert view["compare"] == ""
    assert "不早于统计日期 2024年6月" in messages[0].text and messages[0].parameter == "compare"
    view, messages = resolve(as_of="2024-06-30", compare="2024-05-20")
    assert view["compare"] == "2024-05-31" and messages[0].suggestion == {"compare": "2024-05-31"}
    view, messages = resolve(as_of="2024-06-30", compare="2024-99")
    assert view["compare"] == "" and "“2024-99”不是有效日期" in messages[0].text


def test_meeting_is_one_or_zero_and_unknown_parameters_are_named():
    view, messages = resolve(meeting="yes")
    assert view["meeting"] is False
    assert "meeting（会议模式）只能是 1 或 0，而不是“yes”" in messages[0].text
    view, messages = resolve(villag="411202001201", embed="true")
    assert [message.parameter for message in messages] == ["villag"]
    assert "不认识的参数“villag”" in messages[0].text


def test_several_problems_give_one_message_each_in_parameter_order():
    _, messages = resolve(as_of="2026-13-45", township="x", meeting="2", extra="1")
    assert [message.parameter for message in messages] == ["as_of", "township", "meeting", "extra"]
