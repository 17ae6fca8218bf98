"""Every page, run with AppTest on the demo warehouse: what a user reads there (a KPI, a row
count, a status label) equals a query on the marts, and the URL reproduces the view."""

from __future__ import annotations

import os
import shutil
from decimal import Decimal

import duckdb
import pytest

pytest.register_assert_rewrite("dashboard_support")
from dashboard_support import (  # noqa: E402
    latest_as_of,
    metric,
    metric_delta,
    open_app,
    query,
    rendered,
    scalar,
    select_row,
    table,
)

from huinong import data  # noqa: E402
from huinong import format as fmt  # noqa: E402

pytest_plugins = ("dashboard_support",)


@pytest.fixture
def as_of(app_db):
    return latest_as_of(app_db)


def _kpi(db, as_of, level="district", code=None):
    sql = "select * from main.kpi_monthly where as_of = ? and scope_level = ?"
    params = [as_of, level]
    if code:
        sql += " and scope_code = ?"
        params.append(code)
    with duckdb.connect(str(db), read_only=True) as con:
        cursor = con.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def _previous_month_end(db, as_of):
    return scalar(
        db,
        """
        select max(as_of) from main.kpi_monthly
        where scope_level = 'district' and is_month_end and as_of < date_trunc('month', ?::date)
        """,
        [as_of],
    )


def _busiest_village(db, as_of):
    """(township, village) of the village with the most rated households."""
    return query(
        db,
        """
        select township_code, village_code from main.household_scores where as_of = ?
        group by all order by count(*) desc, village_code limit 1
        """,
        [as_of],
    )[0]


def _max_dpd(db, as_of, household) -> int:
    """The household's DPD as the page must show it: the largest DPD of its loans on the book
    that day (loan_status; household_scores carries no DPD)."""
    return scalar(
        db,
        """
        select coalesce(max(dpd), 0) from main.loan_status
        where as_of = ? and borrower_id = ? and borrower_type = '农户'
        """,
        [as_of, household],
    )


# ── 总览 ────────────────────────────────────────────────────────────────────────────────────


def test_overview_cards_equal_kpi_monthly_for_the_district(app_db, as_of):
    at = open_app("overview")
    kpi = _kpi(app_db, as_of)
    assert at.query_params["as_of"] == as_of.isoformat()
    assert metric(at, "评级农户") == fmt.count(kpi["households_rated"], "户")
    assert metric(at, "信用户") == fmt.count(kpi["households_credit"], "户")
    assert metric(at, "授信总额（万元）") == fmt.wan(kpi["credit_granted"], unit=False)
    assert metric(at, "获贷农户") == fmt.count(kpi["borrowing_households"], "户")
    assert metric(at, "建档立卡获贷率") == fmt.percent(kpi["poor_loan_access_rate"])
    assert metric(at, "贷款余额（万元）") == fmt.wan(kpi["outstanding_balance"], unit=False)
    assert metric(at, "不良率") == fmt.percent(kpi["npl_rate"])
    assert metric(at, "熔断村 / 乡镇") == (
        f"{kpi['villages_tripped']} 村 / {kpi['townships_tripped']} 乡镇"
    )
    assert metric(at, f"信用村（{kpi['title_year']}年）") == f"{kpi['credit_villages']} 个"
    assert metric(at, "补偿金使用率") == fmt.percent(kpi["fund_utilisation"])


def test_overview_deltas_compare_with_the_previous_month_end(app_db, as_of):
    at = open_app("overview")
    now = _kpi(app_db, as_of)
    before = _kpi(app_db, _previous_month_end(app_db, as_of))
    change = now["households_rated"] - before["households_rated"]
    assert metric_delta(at, "评级农户") == fmt.signed(
        Decimal(change), lambda value: fmt.count(value, "户")
    )
    change = now["outstanding_balance"] - before["outstanding_balance"]
    assert metric_delta(at, "贷款余额（万元）") == fmt.signed(
        change, lambda value: fmt.wan(value, unit=False)
    )


def test_overview_of_a_township_reads_its_kpi_row(app_db, as_of):
    township = scalar(
        app_db, "select min(scope_code) from main.kpi_monthly where scope_level = 'township'"
    )
    at = open_app("overview", {"as_of": as_of.isoformat(), "township": township})
    kpi = _kpi(app_db, as_of, "township", township)
    assert metric(at, "评级农户") == fmt.count(kpi["households_rated"], "户")
    assert metric(at, "不良率") == fmt.percent(kpi["npl_rate"])
    assert at.query_params["township"] == township
    assert at.sidebar.selectbox[1].value == township


def test_overview_of_a_village_computes_its_figures_from_the_marts(app_db, as_of):
    township, village = _busiest_village(app_db, as_of)
    at = open_app("overview", {"township": township, "village": village})
    rated, credit = query(
        app_db,
        """
        select count(*), count(*) filter (where credit_limit > 0) from main.household_scores
        where as_of = ? and village_code = ?
        """,
        [as_of, village],
    )[0]
    outstanding, npl_rate, status = query(
        app_db,
        """
        select outstanding_balance, npl_rate, status from main.village_breaker
        where as_of = ? and village_code = ?
        """,
        [as_of, village],
    )[0]
    assert metric(at, "评级农户") == fmt.count(rated, "户")
    assert metric(at, "信用户") == fmt.count(credit, "户")
    assert metric(at, "贷款余额（万元）") == fmt.wan(outstanding, unit=False)
    assert metric(at, "不良率") == fmt.percent(npl_rate)
    # The status label is village_breaker's own (熔断/预警/正常/无贷款), not re-derived.
    assert metric(at, "本村熔断状态").endswith(f"[**{status}**]")


def test_village_kpis_add_up_to_the_township_row(app_db, as_of, accounts_env):
    """The village figures are computed in data.py, the township's come from kpi_monthly: the
    villages of a township must add up to it, credit villages (信用村) included."""
    token = data.current_warehouse()
    office = accounts_env.users["office"]
    township = scalar(
        app_db, "select min(scope_code) from main.kpi_monthly where scope_level = 'township'"
    )
    villages = data.villages(token, data.authorize(office, township))["village_code"].to_list()
    rows = [
        data.kpi(token, as_of, data.authorize(office, township, code)).row(0, named=True)
        for code in villages
    ]
    expected = _kpi(app_db, as_of, "township", township)
    for key in (
        "households_rated",
        "households_credit",
        "credit_granted",
        "borrowing_households",
        "outstanding_balance",
        "npl_balance",
        "villages_tripped",
        "credit_villages",
        "poor_borrowing_households",
        "households_credit_stopped",
    ):
        assert sum(row[key] for row in rows) == expected[key], key


def test_attention_list_names_the_villages_whose_status_changed(app_db, as_of):
    previous = _previous_month_end(app_db, as_of)
    newly_tripped = query(
        app_db,
        """
        select now.village_name from main.village_breaker as now
        inner join main.village_breaker as before
            on before.village_code = now.village_code and before.as_of = ?
        where now.as_of = ? and now.tripped and not before.tripped
        """,
        [previous, as_of],
    )
    at = open_app("overview")
    text = "\n".join(item.value for item in at.markdown)
    for (village,) in newly_tripped:
        assert "**新增熔断**" in text and village in text
    if not newly_tripped:
        assert "新增熔断" not in text


def test_meeting_mode_is_part_of_the_link(app_db):
    at = open_app("overview")
    at.toggle(key="meeting_toggle").set_value(True).run()
    assert at.query_params.get("meeting") == "1"
    styles = [item.proto.body for item in at.get("html")]
    assert any("stSidebar" in body and "display: none" in body for body in styles)
    # The link opens in meeting mode.
    again = open_app("overview", {"meeting": "1"})
    assert again.toggle(key="meeting_toggle").value is True


# ── 信用评级 ──────────────────────────────────────────────────────────────────────────────────


def test_grades_page_distribution_and_migration(app_db, as_of):
    at = open_app("grades")
    kpi = _kpi(app_db, as_of)
    assert metric(at, "评级农户") == fmt.count(kpi["households_rated"], "户")
    assert metric(at, "无信用") == fmt.count(kpi["households_no_credit"], "户")
    assert metric(at, "一票否决") == fmt.count(kpi["households_vetoed"], "户")
    townships = scalar(
        app_db, "select count(*) from main.township_breaker where as_of = ?", [as_of]
    )
    by_township = table(at, "各乡镇信用等级分布")
    assert len(by_township) == townships
    assert by_township["评级户数"].sum() == kpi["households_rated"]
    # Migration: compared with the month-end a year before by default.
    before = at.selectbox(key=f"migration_from_{as_of.isoformat()}").value
    fell, a_to_aa = query(
        app_db,
        """
        select
            count(*) filter (where after.grade = '无信用' and earlier.grade <> '无信用'),
            count(*) filter (where earlier.grade = 'A' and after.grade = 'AA'),
        from main.household_scores as after
        inner join main.household_scores as earlier
            on earlier.household_id = after.household_id and earlier.as_of = ?
        where after.as_of = ?
        """,
        [before, as_of],
    )[0]
    assert metric(at, "跌至无信用") == fmt.count(fell, "户")
    assert metric(at, "A 升为 AA") == fmt.count(a_to_aa, "户")


def test_the_month_migration_compares_with_is_part_of_the_link(app_db, as_of):
    month_ends = [
        row[0]
        for row in query(
            app_db,
            """
            select as_of from main.kpi_monthly
            where scope_level = 'district' and is_month_end and as_of < ?
            order by as_of desc limit 3
            """,
            [as_of],
        )
    ]
    at = open_app("grades", {"compare": month_ends[2].isoformat()})
    key = f"migration_from_{as_of.isoformat()}"
    assert at.selectbox(key=key).value == month_ends[2]
    assert at.query_params["compare"] == month_ends[2].isoformat()
    fell = scalar(
        app_db,
        """
        select count(*) from main.household_scores as after
        inner join main.household_scores as earlier
            on earlier.household_id = after.household_id and earlier.as_of = ?
        where after.as_of = ? and after.grade = '无信用' and earlier.grade <> '无信用'
        """,
        [month_ends[2], as_of],
    )
    assert metric(at, "跌至无信用") == fmt.count(fell, "户")
    at.selectbox(key=key).set_value(month_ends[0]).run()
    assert at.query_params["compare"] == month_ends[0].isoformat()
    # Other pages' links do not carry it; a month after the chosen one is ignored.
    assert "compare" not in open_app("breaker", {"compare": month_ends[0].isoformat()}).query_params
    # A month after the chosen one is not compared with: the link says so and stays as written.
    link = {"as_of": month_ends[1].isoformat(), "compare": as_of.isoformat()}
    later = open_app("grades", link)
    assert [rendered(item.value) for item in later.warning] == [
        f"链接中的对比月份（compare）“{as_of.isoformat()}”不早于统计日期 "
        f"{fmt.as_of_label(month_ends[1], True)}；对比月份须在统计日期之前，未作对比。"
    ]
    assert later.query_params == link


def test_grades_by_village_lists_every_village_of_the_district(app_db, as_of):
    at = open_app("grades")
    assert not [frame for frame in at.dataframe if frame.proto.alt == "各行政村信用等级分布"]
    at.segmented_control(key="grades_breakdown_district").set_value("按行政村").run()
    by_village = table(at, "各行政村信用等级分布")
    villages = scalar(app_db, "select count(*) from main.village_breaker where as_of = ?", [as_of])
    assert len(by_village) == villages
    assert by_village["评级户数"].sum() == _kpi(app_db, as_of)["households_rated"]


def test_grades_item_contributions_are_the_mean_points(app_db, as_of):
    at = open_app("grades")
    items = table(at, "评分项目平均贡献").set_index("评分项目")
    mean_d1 = scalar(app_db, "select avg(d1) from main.household_scores where as_of = ?", [as_of])
    assert items.loc["D1 增收创业", "平均得分（分/户）"] == pytest.approx(float(mean_d1))


# ── 熔断监测 ──────────────────────────────────────────────────────────────────────────────────


def test_breaker_page_counts_statuses_and_lists_every_village(app_db, as_of):
    at = open_app("breaker")
    statuses = dict(
        query(
            app_db,
            "select status, count(*) from main.village_breaker where as_of = ? group by all",
            [as_of],
        )
    )
    assert metric(at, "熔断村") == f"{statuses.get('熔断', 0)} 个"
    assert metric(at, "预警村") == f"{statuses.get('预警', 0)} 个"
    villages = table(at, "村级熔断监测")
    assert len(villages) == sum(statuses.values())
    top = query(
        app_db,
        """
        select village_name, status from main.village_breaker where as_of = ?
        order by npl_rate desc nulls last, village_code limit 1
        """,
        [as_of],
    )[0]
    assert villages.iloc[0]["行政村"] == top[0]
    assert villages.iloc[0]["熔断状态"].endswith(top[1])
    stopped = scalar(
        app_db,
        "select count(*) from main.household_scores where as_of = ? and credit_stopped",
        [as_of],
    )
    assert metric(at, "停止授信农户") == fmt.count(stopped, "户")
    if stopped:
        assert len(table(at, "停止新增授信农户名单")) == min(stopped, data.MAX_ROWS)


def test_breaker_status_filter_keeps_only_tripped_villages(app_db, as_of):
    at = open_app("breaker")
    at.multiselect(key="breaker_status_filter").set_value(["熔断"]).run()
    tripped = scalar(
        app_db, "select count(*) from main.village_breaker where as_of = ? and tripped", [as_of]
    )
    assert len(table(at, "村级熔断监测")) == tripped


# ── 村级钻取 ──────────────────────────────────────────────────────────────────────────────────


def test_drill_down_from_district_to_household_by_selecting_rows(app_db, as_of):
    at = open_app("village")
    townships = at.dataframe[0].value
    assert len(townships) == scalar(
        app_db, "select count(*) from main.township_breaker where as_of = ?", [as_of]
    )
    township = townships.iloc[0]["代码"]
    select_row(at, at.dataframe[0].key, 0)
    assert at.query_params["township"] == township
    villages = at.dataframe[0].value
    assert len(villages) == scalar(
        app_db,
        "select count(*) from main.village_breaker where as_of = ? and township_code = ?",
        [as_of, township],
    )
    village = villages.iloc[0]["代码"]
    select_row(at, at.dataframe[0].key, 0)
    assert at.query_params["village"] == village
    rated = scalar(
        app_db,
        "select count(*) from main.household_scores where as_of = ? and village_code = ?",
        [as_of, village],
    )
    assert metric(at, "评级农户") == fmt.count(rated, "户")
    status = scalar(
        app_db,
        "select status from main.village_breaker where as_of = ? and village_code = ?",
        [as_of, village],
    )
    assert metric(at, "熔断状态").endswith(f"[**{status}**]")
    households = at.dataframe[0].value
    assert len(households) == min(rated, data.MAX_ROWS)
    household = households.iloc[0]["农户编号"]
    select_row(at, at.dataframe[0].key, 0)
    assert at.query_params["household"] == household
    grade, score = query(
        app_db,
        "select grade, score from main.household_scores where as_of = ? and household_id = ?",
        [as_of, household],
    )[0]
    assert metric(at, "信用等级") == grade
    assert metric(at, "评分") == f"{score} 分"
    steps = next(item.value for item in at.markdown if item.value.startswith("1. 基础分"))
    assert steps.endswith(f"最终得分 {score}")


def test_a_deep_link_opens_the_household_view(app_db, as_of):
    household, township, village, vetoes = query(
        app_db,
        """
        select household_id, township_code, village_code, vetoes
        from main.household_scores where as_of = ? and len(vetoes) > 0
        order by household_id limit 1
        """,
        [as_of],
    )[0]
    params = {
        "as_of": as_of.isoformat(),
        "township": township,
        "village": village,
        "household": household,
    }
    at = open_app("village", params)
    assert at.query_params == params
    assert metric(at, "评分") == "0 分"
    assert metric(at, "最长逾期天数") == f"{_max_dpd(app_db, as_of, household)} 天"
    # Each veto in its own box, its words first, then its cause (the loan, the collection).
    shown = [item.value for item in at.error]
    for veto in vetoes:
        assert any(text.startswith(f"**{fmt.VETO_WORDS[veto]}**：") for text in shown), shown


def test_a_link_naming_only_the_household_finds_its_village(app_db, as_of):
    household, village = query(
        app_db,
        "select household_id, village_code from main.household_scores where as_of = ? limit 1",
        [as_of],
    )[0]
    at = open_app("village", {"household": household})
    assert at.query_params["village"] == village
    assert at.query_params["household"] == household


def test_household_loans_table_lists_its_loans(app_db, as_of):
    household, village, loans = query(
        app_db,
        """
        select borrower_id, any_value(village_code), count(*)
        from main.loan_book where disbursed_on <= ? and borrower_type = '农户'
        group by borrower_id order by count(*) desc, borrower_id limit 1
        """,
        [as_of],
    )[0]
    at = open_app("village", {"village": village, "household": household})
    assert len(table(at, "农户贷款")) == loans


def test_a_written_off_loan_is_listed_with_its_history(app_db, as_of):
    """Written-off loans leave loan_status; the household view still lists them (loan_book) with
    their write-off date, and its plan against payments (loan_instalments, loan_payments)."""
    household, village, loan, written_off_on, worst_dpd = query(
        app_db,
        """
        select book.borrower_id, book.village_code, book.loan_id, book.written_off_on,
            (select max(dpd) from main.loan_status as status where status.loan_id = book.loan_id)
        from main.loan_book as book
        where book.borrower_type = '农户' and book.written_off_on <= ?
        order by book.written_off_on desc, book.loan_id limit 1
        """,
        [as_of],
    )[0]
    at = open_app("village", {"village": village, "household": household})
    loans = table(at, "农户贷款").set_index("贷款编号")
    assert loans.loc[loan, "贷款状态"] == "已核销"
    assert loans.loc[loan, "核销日期"].date() == written_off_on
    assert loans.loc[loan, "历史最长逾期天数"] == worst_dpd
    at.selectbox(key=f"loan_pick_{household}").set_value(loan).run()
    plan = table(at, f"贷款{loan}还款计划")
    instalments = scalar(
        app_db, "select count(*) from main.loan_instalments where loan_id = ?", [loan]
    )
    assert len(plan) == instalments


def test_an_unknown_place_in_a_link_is_named_and_nothing_of_it_is_shown(app_db, as_of):
    link = {"as_of": "1999-01-31", "township": "nowhere"}
    at = open_app("village", link)
    first = scalar(app_db, "select min(as_of) from main.kpi_monthly")
    warnings = [rendered(item.value) for item in at.warning]
    assert warnings[0].startswith(
        "链接中的统计日期（as_of）“1999-01-31”（1999年1月31日）没有统计数据"
    )
    assert warnings[0].endswith(f"已显示最近的 {fmt.as_of_label(first, True)}。")
    assert warnings[1] == "链接中的乡镇代码（township）“nowhere”应为 9 位数字；已显示全区。"
    # The link stays as written while its messages stand: nothing silently replaced.
    assert at.query_params == link
    unknown = open_app("village", {"township": "411299999"})
    assert [rendered(item.value) for item in unknown.warning] == [
        "链接中的乡镇代码（township） 411299999 不在乡镇名单中，或不在本账号的查看范围内；"
        "已显示全区。"
    ]
    assert unknown.query_params == {"township": "411299999"}


# ── 报表导出 ──────────────────────────────────────────────────────────────────────────────────


def test_exports_page_offers_each_report_in_both_formats(app_db, as_of):
    at = open_app("exports")
    labels = [item.value for item in at.markdown if item.value.startswith("#### ")]
    assert labels == [
        "#### 乡镇汇总表",
        "#### 村级熔断监测表",
        "#### 信用户名单",
        "#### 信用评定公示表",
    ]
    keys = {button.key for button in at.download_button}
    for report in ("township_summary", "village_breaker", "credit_households", "grade_notice"):
        assert {f"export_{report}_xlsx", f"export_{report}_csv"} <= keys
    credit = scalar(
        app_db,
        "select count(*) from main.household_scores where as_of = ? and credit_limit > 0",
        [as_of],
    )
    captions = "\n".join(item.value for item in at.caption)
    assert f"共 {credit:,} 行" in captions


def test_every_table_on_a_page_has_both_downloads(app_db):
    for page, report_buttons in (
        ("overview", 0),
        ("grades", 0),
        ("breaker", 0),
        ("village", 0),
        ("exports", 4),
    ):
        at = open_app(page)
        tables = [f for f in at.dataframe if not (f.proto.alt or "").startswith("预览")]
        xlsx = [button for button in at.download_button if button.key.endswith("_xlsx")]
        csv = [button for button in at.download_button if button.key.endswith("_csv")]
        assert len(xlsx) == len(csv) == len(tables) + report_buttons, page
        assert {button.label for button in xlsx} == {"下载 xlsx"}


# ── the warehouse ─────────────────────────────────────────────────────────────────────────────


def test_without_a_warehouse_every_page_says_how_to_build_one(tmp_path, monkeypatch, accounts_env):
    monkeypatch.setenv("HUINONG_DB", str(tmp_path / "missing.duckdb"))
    for page in ("overview", "village"):
        at = open_app(page)
        assert any("数据仓库尚未构建" in item.value for item in at.error), page
        assert not at.metric


def test_a_newly_published_warehouse_is_picked_up_without_a_restart(
    dashboard_db, tmp_path, monkeypatch, accounts_env
):
    published = tmp_path / "warehouse.duckdb"
    shutil.copyfile(dashboard_db, published)
    monkeypatch.setenv("HUINONG_DB", str(published))
    at = open_app("overview")
    before = metric(at, "评级农户")
    # A rebuild writes a new file beside the published one and swaps it in (os.replace).
    rebuilt = tmp_path / ".warehouse.duckdb.building"
    shutil.copyfile(dashboard_db, rebuilt)
    with duckdb.connect(str(rebuilt)) as con:
        con.execute(
            "update main.kpi_monthly set households_rated = 123456 "
            "where scope_level = 'district' and as_of = (select max(as_of) from main.kpi_monthly)"
        )
    os.replace(rebuilt, published)
    at.run()
    assert before != "123,456 户"
    assert metric(at, "评级农户") == "123,456 户"
