"""The meeting and the why: the data functions that explain a trip, a veto and a score, warn of
next month-end, list what needs attention and find a household, checked against direct SQL on
the marts of the session warehouse (huinong.data.trips, reasons, warning, attention, search,
freshness)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal

import polars as pl
import pytest

pytest.register_assert_rewrite("dashboard_support")

from dashboard_support import query, scalar  # noqa: E402

from huinong import data  # noqa: E402
from huinong.auth.scope import User  # noqa: E402
from huinong.data.connection import UNCACHED  # noqa: E402
from huinong.data.search import search_kind  # noqa: E402
from huinong.why import village_trip_words  # noqa: E402

pytest_plugins = ("dashboard_support",)

LINE = Decimal(3)
WATCH = Decimal(2)
# Everything in the district, names and full ID numbers: the 金融办's view.
OFFICE = User.create("why-office", "金融办（测试）", "office")
DISTRICT = data.authorize(OFFICE)


def _village_scope(village: str) -> data.Scope:
    return data.authorize(OFFICE, village[:9], village)


def _township_scope(township: str) -> data.Scope:
    return data.authorize(OFFICE, township)


def call(name: str, *args):
    """A query of huinong.data without the Streamlit cache (as the benchmark calls them)."""
    return UNCACHED[name](*args)


@pytest.fixture
def token(app_db):
    return data.current_warehouse()


@pytest.fixture(scope="module")
def trip_dates(dashboard_db) -> list[date]:
    """Month-ends with a tripped village (the demo trips somewhere most months), latest first."""
    dates = [
        row[0]
        for row in query(
            dashboard_db,
            "select as_of from main.kpi_monthly where scope_level = 'district' and is_month_end"
            " and villages_tripped > 0 order by as_of desc",
        )
    ]
    assert dates, "the session warehouse trips no village: the tests below would prove nothing"
    return dates


def test_a_villages_rate_arithmetic_is_village_breakers(token, dashboard_db, trip_dates):
    as_of = trip_dates[0]
    marts = {
        row[0]: row[1:]
        for row in query(
            dashboard_db,
            "select village_code, npl_balance, outstanding_balance, npl_rate, status"
            " from main.village_breaker where as_of = $as_of",
            {"as_of": as_of},
        )
    }
    checked = 0
    for code, (npl, outstanding, rate, status) in marts.items():
        (row,) = call("village_trip", token, as_of, DISTRICT, code).to_dicts()
        assert (row["npl_balance"], row["outstanding_balance"], row["npl_rate"]) == (
            npl,
            outstanding,
            rate,
        )
        assert row["status"] == status
        if outstanding:
            exact = npl / outstanding
            assert abs(exact - row["npl_rate"]) < Decimal("1e-10")
            assert row["tripped"] == (npl * 100 > LINE * outstanding)
            assert row["watch"] == (not row["tripped"] and npl * 100 > WATCH * outstanding)
        checked += row["tripped"]
    assert checked >= 1


def test_the_amount_to_recover_is_the_least_fen_that_brings_the_rate_to_the_line(dashboard_db):
    """(npl - x) * 100 <= 3 * (outstanding - x) holds for x and fails for x - 0.01, at every
    tripped (village, date) of the warehouse; nothing for a village that is not tripped."""
    rows = query(
        dashboard_db,
        "select npl_balance, outstanding_balance, tripped, watch, npl_to_clear_breaker,"
        " npl_to_clear_watch from main.village_breaker where outstanding_balance > 0",
    )
    cent = Decimal("0.01")
    tripped = 0
    for npl, outstanding, is_tripped, watch, to_line, to_watch in rows:
        for amount, line, above in ((to_line, LINE, is_tripped), (to_watch, WATCH, None)):
            if above is False:
                assert amount == 0
                continue
            assert (npl - amount) * 100 <= line * (outstanding - amount)
            if amount > 0:
                previous = amount - cent
                assert (npl - previous) * 100 > line * (outstanding - previous)
        assert (to_watch > 0) == (is_tripped or watch)
        tripped += is_tripped
    assert tripped > 0


def test_since_when_is_the_start_of_the_run_of_tripped_month_ends(dashboard_db, trip_dates):
    as_of = trip_dates[0]
    for code, since in query(
        dashboard_db,
        "select village_code, tripped_since from main.village_breaker"
        " where as_of = $as_of and tripped",
        {"as_of": as_of},
    ):
        history = dict(
            query(
                dashboard_db,
                "select as_of, tripped from main.village_breaker"
                " where village_code = $code and as_of <= $as_of and is_month_end",
                {"code": code, "as_of": as_of},
            )
        )
        assert history[since]
        assert all(history[day] for day in history if since <= day <= as_of)
        before = [day for day in history if day < since]
        assert not before or not history[max(before)]


def test_the_npl_loans_of_a_tripped_village_make_up_its_npl_balance(token, trip_dates):
    for as_of in trip_dates[:6]:
        villages = call("village_breaker", token, as_of, DISTRICT).filter(pl.col("tripped"))
        for code in villages["village_code"]:
            trip = call("village_trip", token, as_of, DISTRICT, code).row(0, named=True)
            loans = call("village_npl_loans", token, as_of, DISTRICT, code)
            assert loans["outstanding_principal"].sum() == trip["npl_balance"]
            assert loans.height == trip["npl_loans"]
            assert (loans["dpd"] > 90).all()
            assert (loans["first_npl_on"] <= as_of).all() and loans["head_name"].is_not_null().all()
            words = " ".join(village_trip_words(trip))
            assert "超过 3% 熔断线" in words
            assert f"{trip['npl_to_clear_breaker']:,.2f} 元" in words


def test_a_townships_share_is_its_tripped_villages_against_thirty_percent(token, trip_dates):
    as_of = trip_dates[0]
    villages = call("village_breaker", token, as_of, DISTRICT)
    for township in call("township_breaker", token, as_of, DISTRICT).iter_rows(named=True):
        (row,) = call("township_trip", token, as_of, DISTRICT, township["township_code"]).to_dicts()
        mine = villages.filter(pl.col("township_code") == township["township_code"])
        assert sorted(row["tripped_villages"]) == sorted(
            mine.filter(pl.col("tripped"))["village_name"].to_list()
        )
        assert row["villages_total"] == mine.height
        assert row["tripped"] == (row["villages_tripped"] * 100 >= 30 * row["villages_total"])
        assert row["share_line_pct"] == 30


def test_the_attention_list_names_every_tripped_village_first_by_risk(token, trip_dates):
    for as_of in trip_dates[:12]:
        attention = call("attention_list", token, as_of, DISTRICT)
        tripped = call("village_breaker", token, as_of, DISTRICT).filter(pl.col("tripped"))
        listed = attention.filter(pl.col("category") == "村熔断")
        assert sorted(listed["village_code"].to_list()) == sorted(tripped["village_code"].to_list())
        assert attention["rank"].to_list() == sorted(attention["rank"].to_list())
        new = tripped.join(
            call("village_changes", token, as_of, DISTRICT).filter(pl.col("change") == "新增熔断"),
            on="village_code",
        )
        for code in new["village_code"]:
            row = listed.filter(pl.col("village_code") == code).row(0, named=True)
            assert row["change"] == "新增熔断" and "本月新增熔断" in row["note"]
        townships = call("township_breaker", token, as_of, DISTRICT).filter(pl.col("tripped"))
        assert sorted(
            attention.filter(pl.col("category") == "乡镇熔断")["township_code"].to_list()
        ) == sorted(townships["township_code"].to_list())


def _add_days_to_month_end(day: date) -> int:
    following = day + timedelta(days=1)
    month_end = date(
        following.year, following.month, calendar.monthrange(following.year, following.month)[1]
    )
    return (month_end - day).days


def test_early_warning_equals_a_direct_projection_from_loan_status(token, dashboard_db):
    """Next month-end's NPL balance of every village at every date, worked out here from
    loan_status: NPL loans now, plus loans overdue now whose DPD + days to the month-end passes
    90; outstanding unchanged. The villages that would trip or enter 预警 follow."""
    loans = query(
        dashboard_db,
        "select as_of, village_code, outstanding_principal, dpd from main.loan_status"
        " where borrower_type = '农户' and dpd > 0",
    )
    projected: dict[tuple, Decimal] = {}
    for as_of, village, outstanding, dpd in loans:
        if dpd + _add_days_to_month_end(as_of) > 90:
            projected[(village, as_of)] = projected.get((village, as_of), 0) + outstanding
    outlook = query(
        dashboard_db,
        "select village_code, as_of, outstanding_balance, projected_npl_balance, status,"
        " would_trip, would_watch from main.village_npl_outlook",
    )
    crossing = 0
    for village, as_of, outstanding, balance, status, would_trip, would_watch in outlook:
        expected = projected.get((village, as_of), Decimal(0))
        assert balance == expected, (village, as_of)
        trips = outstanding > 0 and expected * 100 > LINE * outstanding
        watches = outstanding > 0 and not trips and expected * 100 > WATCH * outstanding
        assert would_trip == (trips and status != "熔断")
        assert would_watch == (watches and status == "正常")
        crossing += would_trip or would_watch
    assert crossing > 0, "no village ever crosses a line next month-end: the test proves little"
    as_of = scalar(
        dashboard_db,
        "select max(as_of) from main.village_npl_outlook where would_trip or would_watch",
    )
    warned = call("early_warning", token, as_of, DISTRICT)
    assert warned.height > 0 and (warned["would_trip"] | warned["would_watch"]).all()
    for row in warned.iter_rows(named=True):
        code = row["village_code"]
        turning = call("early_warning_loans", token, as_of, DISTRICT, code)
        assert turning.height == row["loans_turning_npl"]
        assert turning["outstanding_principal"].sum() == row["npl_balance_turning"]
        assert ((turning["projected_dpd"] > 90) & (turning["dpd"] <= 90)).all()


def test_v3_names_the_loans_overdue_that_day_written_off_or_not(token, dashboard_db):
    mismatched = scalar(
        dashboard_db,
        """
        with vetoed as (
            select household_id, as_of from main.household_scores where list_contains(vetoes, 'V3')
        ),
        overdue as (select distinct borrower_id as household_id, as_of from main.loan_arrears)
        select count(*) from (
            (select * from vetoed except select * from overdue)
            union all
            (select * from overdue except select * from vetoed)
        )
        """,
    )
    assert mismatched == 0
    household, village, as_of, loan = query(
        dashboard_db,
        "select borrower_id, village_code, as_of, loan_id from main.loan_arrears"
        " where not on_book and written_off_on is not null order by as_of desc limit 1",
    )[0]
    causes = call("veto_causes", token, as_of, _village_scope(village), household)
    written_off = causes.filter(pl.col("loan_id") == loan).row(0, named=True)
    assert written_off["veto"] == "V3" and written_off["veto_words"] == "贷款逾期 一票否决"
    assert written_off["cause"].startswith(f"已核销贷款仍未还清：贷款 {loan} 于 ")


def test_collected_vetoes_name_their_item_and_collection_date(token, dashboard_db):
    household, village, as_of, collected_on = query(
        dashboard_db,
        "select household_id, village_code, as_of, collected_on from main.household_scores"
        " where list_contains(vetoes, 'V4') order by as_of desc limit 1",
    )[0]
    causes = call("veto_causes", token, as_of, _village_scope(village), household)
    v4 = causes.filter(pl.col("veto") == "V4").row(0, named=True)
    assert (v4["cause"], v4["collected_on"]) == ("所担保的贷款当前逾期", collected_on)


def test_every_item_is_the_sum_of_the_conditions_that_held(token, dashboard_db):
    """For every rated household at the latest date, the points of collection_conditions add up
    to household_scores' item (a1 … d5, poor_bonus); the vetoes known at collection are its V1,
    V2, V4; a household with D6 has a D6 condition."""
    items = ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "a10", "d1", "d2", "d4", "d5"]
    items.append("poor_bonus")
    sums = ", ".join(
        f"coalesce(sum(points) filter (where item = '{item}'), 0) as {item}" for item in items
    )
    differences = " or ".join(f"scores.{item} <> conditions.{item}" for item in items)
    checked, mismatched, vetoes, d6 = query(
        dashboard_db,
        f"""
        with
        conditions as (
            select household_id, collected_on, {sums},
                list_sort(list(item) filter (where item in ('V1', 'V2', 'V4'))) as vetoes,
                bool_or(item = 'd6') as has_d6,
            from main.collection_conditions group by all
        ),
        scores as (select * from main.household_scores where as_of = (select max(as_of) from main.household_scores))
        select count(*), count(*) filter (where {differences}),
            count(*) filter (where list_sort(list_filter(scores.vetoes, lambda veto: veto <> 'V3'))
                <> coalesce(conditions.vetoes, [])),
            count(*) filter (where scores.d6 <> 0 and not coalesce(conditions.has_d6, false)),
        from scores left join conditions using (household_id, collected_on)
        """,
    )[0]
    assert checked > 1000 and (mismatched, vetoes, d6) == (0, 0, 0)


def test_a_households_conditions_explain_every_point_of_its_items(token, dashboard_db):
    """score_conditions for households with loan-book D3 events and with D6: every item's
    conditions add up to the item's points that day."""
    picks = query(
        dashboard_db,
        """
        (select household_id, village_code, as_of from main.household_scores
         where npl_events > 0 and d3 < 0 order by as_of desc limit 3)
        union all
        (select household_id, village_code, as_of from main.household_scores
         where d6 <> 0 order by as_of desc limit 3)
        union all
        (select household_id, village_code, as_of from main.household_scores
         where a1 >= 2 order by as_of desc limit 3)
        """,
    )
    assert len(picks) == 9
    for household, village, as_of in picks:
        conditions = call("score_conditions", token, as_of, _village_scope(village), household)
        totals = conditions.group_by("item").agg(
            pl.col("points").sum(), pl.col("item_points").first()
        )
        for row in totals.iter_rows(named=True):
            assert row["points"] == row["item_points"], (household, as_of, row)
        a1 = conditions.filter(pl.col("item") == "a1")
        assert a1.height == a1["points"].sum()  # one point per condition that held


def test_staleness_counts_calendar_months(dashboard_db):
    """rating_stale at the latest date: as_of is after collected_on + 12 calendar months (a day
    clamped to the month's end), worked out here in Python for every household."""
    rows = query(
        dashboard_db,
        "select collected_on, as_of, collection_age_months, rating_stale from main.household_scores"
        " where as_of = (select max(as_of) from main.household_scores)",
    )

    def plus_months(day: date, months: int) -> date:
        year, month = divmod(day.month - 1 + months, 12)
        year += day.year
        return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))

    stale = 0
    for collected_on, as_of, age, is_stale in rows:
        assert is_stale == (as_of > plus_months(collected_on, 12))
        assert plus_months(collected_on, age) <= as_of < plus_months(collected_on, age + 1)
        stale += is_stale
    assert 0 < stale < len(rows)


def test_village_freshness_counts_the_stale_ratings(token, dashboard_db):
    as_of = scalar(dashboard_db, "select max(as_of) from main.household_scores")
    expected = dict(
        query(
            dashboard_db,
            "select village_code, count(*) filter (where rating_stale) from main.household_scores"
            " where as_of = $as_of group by all",
            {"as_of": as_of},
        )
    )
    freshness = call("rating_freshness", token, as_of, DISTRICT)
    counted = {
        code: stale
        for code, stale in zip(
            freshness["village_code"], freshness["households_rating_stale"], strict=True
        )
        if code in expected or stale
    }
    assert counted == expected
    assert freshness["stale_collection_months"].unique().to_list() == [12]


def test_search_finds_a_household_by_name_id_and_the_last_digits(token, dashboard_db):
    as_of = scalar(dashboard_db, "select max(as_of) from main.household_scores")
    household, name, id_number, village, grade, township = query(
        dashboard_db,
        """
        select directory.household_id, directory.head_name, directory.head_id_number,
            directory.village_name, scores.grade, directory.township_code
        from main.household_directory as directory
        inner join main.household_scores as scores using (household_id)
        where scores.as_of = $as_of
        order by directory.household_id limit 1 offset 7
        """,
        {"as_of": as_of},
    )[0]
    for text, matched_by in (
        (household, "农户编号"),
        (household.lower(), "农户编号"),
        (name, "户主姓名"),
        (id_number, "身份证号"),
        (id_number[-4:], "身份证号后4位"),
        (id_number[-6:], "身份证号后6位"),
    ):
        found = call("find_households", token, as_of, DISTRICT, text)
        row = found.filter(pl.col("household_id") == household).row(0, named=True)
        assert (row["village_name"], row["grade"], row["matched_by"]) == (
            village,
            grade,
            matched_by,
        )
    by_surname = call("find_households", token, as_of, DISTRICT, name[0])
    total = scalar(
        dashboard_db,
        "select count(*) from main.household_directory where contains(head_name, $text)",
        {"text": name[0]},
    )
    assert by_surname["total_matches"][0] == total
    assert by_surname.height == min(total, data.SEARCH_LIMIT)
    # Another township's household is not found from a township scope.
    elsewhere = scalar(
        dashboard_db,
        "select township_code from main.township_breaker where township_code <> $own limit 1",
        {"own": township},
    )
    found = call("find_households", token, as_of, _township_scope(elsewhere), household)
    assert found.is_empty()


def test_search_permits_what_masking_shows():
    """Without view_full_id a user sees 411202********1234: the last 4 characters only."""
    assert search_kind("411202198705153612", full_ids=True)[1] == "id_number"
    assert search_kind("153612", full_ids=True)[1] == "id_tail"
    assert search_kind("3612", full_ids=False)[1:] == ("id_tail", None)
    kind, refusal = search_kind("53612", full_ids=False)[1:]
    assert kind == "household_id" and "只能看到身份证号后4位" in refusal
    kind, refusal = search_kind("411202198705153612", full_ids=False)[1:]
    assert kind == "household_id" and "不能按完整身份证号查找" in refusal
    assert search_kind(" 张三 ", full_ids=False)[:2] == ("张三", "name_or_id")
    assert search_kind("１２３４", full_ids=False)[:2] == ("1234", "id_tail")
    with pytest.raises(data.SearchRefused, match="请输入户主姓名"):
        search_kind("  ", full_ids=True)


def test_every_why_query_hands_its_scope_to_the_core(token, dashboard_db, monkeypatch, trip_dates):
    """The one core (connection._execute) sees the caller's scope on every statement of the
    why's queries, where the signed-in user's area is enforced."""
    from huinong.data import connection

    seen: list = []
    core = connection._execute

    def recording(token, scope, sql, params):
        seen.append(scope)
        return core(token, scope, sql, params)

    monkeypatch.setattr(connection, "_execute", recording)
    as_of = trip_dates[0]
    village, township, household = query(
        dashboard_db,
        "select village_code, township_code, household_id from main.household_scores"
        " where as_of = $as_of and list_contains(vetoes, 'V3') limit 1",
        {"as_of": as_of},
    )[0]
    scope = _village_scope(village)
    calls = [
        ("village_trip", (token, as_of, scope, village)),
        ("village_npl_loans", (token, as_of, scope, village)),
        ("township_trip", (token, as_of, scope, township)),
        ("veto_causes", (token, as_of, scope, household)),
        ("score_conditions", (token, as_of, scope, household)),
        ("early_warning", (token, as_of, scope)),
        ("early_warning_loans", (token, as_of, scope, village)),
        ("attention_list", (token, as_of, scope)),
        ("find_households", (token, as_of, scope, household)),
        ("rating_freshness", (token, as_of, scope)),
    ]
    for name, args in calls:
        seen.clear()
        call(name, *args)
        assert seen and all(item is scope for item in seen), name
