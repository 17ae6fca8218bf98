"""Issue 11 on the pages, run with AppTest on the demo warehouse: why a village trips (equal to
village_breaker and loan_status), the attention list naming every tripped village, the next
month-end's outlook computed directly from loan_status, deep links that never lie, 会议模式 on
every page, the sidebar search within the user's rights, the 月度简报 button and 使用说明."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("dashboard_support")
from dashboard_support import (  # noqa: E402
    PAGE_FILES,
    metric,
    open_app,
    query,
    rendered,
    scalar,
    table,
)

from huinong import format as fmt  # noqa: E402

pytest_plugins = ("dashboard_support",)


@pytest.fixture
def tripped_month(app_db):
    """The latest month-end at which villages are tripped (the demo has several)."""
    return scalar(
        app_db,
        """
        select max(as_of) from main.village_breaker
        where is_month_end and tripped
        """,
    )


def _tripped_villages(db, as_of) -> list[dict]:
    rows = query(
        db,
        """
        select village_code, village_name, township_code, township_name, npl_balance,
            outstanding_balance, npl_rate, tripped_since, npl_to_clear_breaker, status_change
        from main.village_breaker
        where as_of = ? and tripped
        order by npl_rate desc, village_code
        """,
        [as_of],
    )
    keys = [
        "village_code",
        "village_name",
        "township_code",
        "township_name",
        "npl_balance",
        "outstanding_balance",
        "npl_rate",
        "tripped_since",
        "npl_to_clear_breaker",
        "status_change",
    ]
    return [dict(zip(keys, row, strict=True)) for row in rows]


# ── 熔断原因 ──────────────────────────────────────────────────────────────────────────────────


def test_a_tripped_village_shows_why_with_its_npl_loans(app_db, tripped_month):
    village = _tripped_villages(app_db, tripped_month)[0]
    at = open_app(
        "village",
        {
            "as_of": tripped_month.isoformat(),
            "township": village["township_code"],
            "village": village["village_code"],
        },
    )
    heading = next(item.value for item in at.markdown if item.value.startswith("#### 熔断原因"))
    assert village["village_name"] in heading
    words = next(item.value for item in at.markdown if "÷ 贷款余额" in item.value)
    words = rendered(words)
    # The rate arithmetic is village_breaker's own: balance ÷ outstanding = rate against 3%.
    assert (
        f"不良贷款余额 {fmt.yuan(village['npl_balance'])} ÷ 贷款余额 "
        f"{fmt.yuan(village['outstanding_balance'])} = 不良率 {fmt.percent(village['npl_rate'])}"
        "，超过 3% 熔断线，熔断。"
    ) in words
    assert f"收回或核销不良贷款本金 {fmt.yuan(village['npl_to_clear_breaker'])}" in words
    if village["status_change"] == "新增熔断":
        assert "本月新增熔断" in words
    else:
        since = village["tripped_since"]
        assert f"自 {since.year}年{since.month}月末 起连续熔断" in words
    # The NPL loans listed are loan_status's (农户, DPD > 90) and add up to the NPL balance.
    loans = table(at, f"不良贷款明细（{village['village_name']}）")
    expected = query(
        app_db,
        """
        select loan_id, outstanding_principal, dpd, five_tier from main.loan_status
        where as_of = ? and village_code = ? and borrower_type = '农户' and is_npl
        order by outstanding_principal desc, loan_id
        """,
        [tripped_month, village["village_code"]],
    )
    assert [row[0] for row in expected] == [str(loan).strip() for loan in loans["贷款编号"]]
    assert sum(row[1] for row in expected) == village["npl_balance"]
    assert round(float(loans["贷款余额（元）"].sum()), 2) == float(village["npl_balance"])
    assert list(loans["逾期天数"]) == [row[2] for row in expected]
    assert all(dpd > 90 for dpd in loans["逾期天数"])
    assert list(loans["五级分类"]) == [row[3] for row in expected]
    assert "首次不良日期" in loans.columns


def test_the_leader_reads_the_trip_without_the_loans(app_db, tripped_month):
    village = _tripped_villages(app_db, tripped_month)[0]
    at = open_app(
        "breaker",
        {"as_of": tripped_month.isoformat(), "village": village["village_code"]},
        user="ld",
    )
    assert any("÷ 贷款余额" in item.value for item in at.markdown)
    assert not [frame for frame in at.dataframe if frame.proto.alt.startswith("不良贷款明细")]
    assert any("本账号只查看汇总数，不显示逐笔贷款" in item.value for item in at.info)


# ── 需关注 ────────────────────────────────────────────────────────────────────────────────────


def test_the_attention_list_names_every_tripped_village(app_db, tripped_month):
    tripped = _tripped_villages(app_db, tripped_month)
    at = open_app("overview", {"as_of": tripped_month.isoformat()})
    assert any(item.value == f"需关注（{fmt.month_label(tripped_month)}）" for item in at.subheader)
    line = next(item.value for item in at.markdown if "**村熔断**" in item.value)
    line = next(part for part in rendered(line).splitlines() if "**村熔断**" in part)
    assert f"（{len(tripped)} 个村）" in line
    for village in tripped:
        name = f"{village['township_name']} {village['village_name']}"
        if village["status_change"] == "新增熔断":
            name += "（本月新增）"
        assert name in line
    # Never a green "nothing to report" while villages are tripped.
    assert not [item for item in at.success if "没有" in item.value]


# ── 下月末预警 ────────────────────────────────────────────────────────────────────────────────


def test_early_warning_equals_a_direct_computation_from_loan_status(app_db, tripped_month):
    """Loans now 61–90 days past due pass 90 by the next month-end if nothing is repaid: their
    principal joins the NPL balance, the outstanding balance stays; the rate against 3% / 2%."""
    as_of = tripped_month
    projected = query(
        app_db,
        """
        with

        loans as (
            select *, date_diff('day', as_of, last_day(as_of + interval 1 month)) as days_ahead
            from main.loan_status
            where as_of = ? and borrower_type = '农户' and outstanding_principal > 0
        ),

        villages as (
            select
                village_code,
                sum(outstanding_principal) as outstanding,
                coalesce(sum(outstanding_principal) filter (where is_npl), 0) as npl,
                coalesce(sum(outstanding_principal) filter (
                    where not is_npl and dpd + days_ahead > 90
                ), 0) as turning,
                count(*) filter (where not is_npl and dpd + days_ahead > 90) as loans_turning,
            from loans
            group by village_code
        )

        select
            breaker.village_name, breaker.status, villages.loans_turning, villages.turning,
            (villages.npl + villages.turning) / villages.outstanding as projected_rate,
        from villages
        inner join main.village_breaker as breaker
            on breaker.village_code = villages.village_code and breaker.as_of = ?
        """,
        [as_of, as_of],
    )
    would_trip = [row for row in projected if row[1] != "熔断" and row[4] > 0.03]
    would_watch = [row for row in projected if row[1] == "正常" and 0.02 < row[4] <= 0.03]
    at = open_app("breaker", {"as_of": as_of.isoformat()})
    changes = sorted(would_trip + would_watch, key=lambda row: row[0])
    if not changes:
        assert any("到下月末没有行政村会新增熔断或进入预警" in item.value for item in at.info)
        return
    assert metric(at, "预计新增熔断村") == fmt.count(len(would_trip), "个")
    assert metric(at, "预计新增预警村") == fmt.count(len(would_watch), "个")
    turning = sum(row[3] for row in changes)
    assert metric(at, "将转不良余额（万元）") == fmt.wan(turning, unit=False)
    shown = table(at, "下月末预警的行政村").sort_values("行政村")
    assert list(shown["行政村"]) == [row[0] for row in changes]
    for (_, _, loans, _, rate), got_loans, got_rate in zip(
        changes, shown.iloc[:, 6], shown["下月末预计不良率"], strict=True
    ):
        assert got_loans == loans
        assert got_rate == pytest.approx(float(rate), abs=1e-9)


# ── deep links ────────────────────────────────────────────────────────────────────────────────


def _warnings(at) -> list[str]:
    return [rendered(item.value) for item in at.warning]


def test_a_day_that_is_no_snapshot_says_so_and_offers_the_nearest(app_db):
    at = open_app("overview", {"as_of": "2024-06-15"})
    nearest = scalar(
        app_db,
        """
        select as_of from main.kpi_monthly where scope_level = 'district'
        order by abs(date_diff('day', as_of, date '2024-06-15')), as_of desc limit 1
        """,
    )
    label = fmt.month_label(nearest)
    assert _warnings(at)[0].startswith(
        "链接中的统计日期（as_of）“2024-06-15”（2024年6月15日）没有统计数据"
    )
    assert _warnings(at)[0].endswith(f"已显示最近的 {label}。")
    offer = next(button for button in at.button if button.label.startswith("改看"))
    assert offer.label == f"改看 {label}（并更新地址栏中的链接）"
    assert at.query_params == {"as_of": "2024-06-15"}  # the link as written, not replaced
    offer.click().run()
    assert not _warnings(at)
    assert at.query_params["as_of"] == nearest.isoformat()


def test_a_month_in_a_link_means_its_month_end(app_db):
    at = open_app("overview", {"as_of": "2024-06"})
    assert not _warnings(at)
    assert at.query_params["as_of"] == "2024-06-30"
    rated = scalar(
        app_db,
        """
        select households_rated from main.kpi_monthly
        where as_of = date '2024-06-30' and scope_level = 'district'
        """,
    )
    assert metric(at, "评级农户") == fmt.count(rated, "户")


def test_an_invalid_date_is_named(app_db):
    at = open_app("breaker", {"as_of": "2026-13-45"})
    latest = scalar(app_db, "select max(as_of) from main.kpi_monthly")
    assert _warnings(at)[0] == (
        "链接中的统计日期（as_of）“2026-13-45”不是有效日期（应写作 2024-06 或 2024-06-30）；"
        f"已显示最新数据 {fmt.month_label(latest)}。"
    )
    assert at.query_params == {"as_of": "2026-13-45"}


def test_an_unknown_village_or_township_is_named_not_replaced(app_db):
    township = scalar(app_db, "select min(township_code) from main.township_breaker")
    at = open_app("village", {"township": township, "village": township + "999"})
    assert _warnings(at) == [
        f"链接中的行政村代码（village） {township}999 不在行政村名单中，或不在本账号的查看范围内；"
        "未打开该村。"
    ]
    assert at.query_params == {"township": township, "village": township + "999"}
    wrong = open_app("breaker", {"township": "411202999"})
    assert _warnings(wrong) == [
        "链接中的乡镇代码（township） 411202999 不在乡镇名单中，或不在本账号的查看范围内；"
        "已显示全区。"
    ]
    odd = open_app("overview", {"meeting": "yes", "colour": "red"})
    assert _warnings(odd) == [
        "链接参数 meeting（会议模式）只能是 1 或 0，而不是“yes”；未开启会议模式。",
        "链接中有不认识的参数“colour”，已忽略（可用的参数：as_of、township、village、household、"
        "compare、meeting）。",
    ]


# ── 会议模式 ──────────────────────────────────────────────────────────────────────────────────


def test_meeting_mode_on_every_page_and_kept_across_pages(app_db):
    at = open_app("overview", {"meeting": "1"})
    month = fmt.month_label(scalar(app_db, "select max(as_of) from main.kpi_monthly"))
    for page, path in PAGE_FILES.items():
        if page == "audit":
            continue  # the auditor's page only
        if path:
            at.switch_page(path).run()
        assert not at.exception, [item.value for item in at.exception]
        assert at.toggle(key="meeting_toggle").value is True, page
        assert at.query_params.get("meeting") == "1", page
        if page in ("overview", "grades", "breaker", "village", "exports"):
            # The room reads what it looks at: the scope and the month in the title.
            assert at.title[0].value.endswith(f" · {month}"), at.title[0].value
            assert "全区" in at.title[0].value or "湖滨区" in at.title[0].value
    at.toggle(key="meeting_toggle").set_value(False).run()
    assert "meeting" not in at.query_params
    at.switch_page("pages/overview.py").run()
    assert "meeting" not in at.query_params
    assert at.title[0].value == "总览"  # the scope and the month back underneath
    assert at.caption[0].value.endswith(f"|　{month}")


# ── 找农户 ────────────────────────────────────────────────────────────────────────────────────


def _a_household(db):
    keys = ("household_id", "head_name", "head_id_number", "village_name")
    row = query(
        db,
        """
        select directory.household_id, directory.head_name, directory.head_id_number,
            directory.village_name
        from main.household_directory as directory
        inner join main.household_scores as scores
            on scores.household_id = directory.household_id
            and scores.as_of = (select max(as_of) from main.household_scores)
        where directory.head_name is not null
        order by directory.household_id limit 1
        """,
    )[0]
    return dict(zip(keys, row, strict=True))


def test_the_sidebar_search_finds_by_name_id_and_id_number(app_db):
    household = _a_household(app_db)
    at = open_app("overview")
    for text in (household["household_id"], household["head_id_number"], household["head_name"]):
        at.text_input(key="search_text").input(text).run()
        found = [
            button for button in at.button if button.key == f"found_{household['household_id']}"
        ]
        assert found, text
        assert found[0].label.startswith(f"{household['head_name']}（{household['household_id']}）")
        # 金融办 holds view_full_id: the full ID number.
        assert f"身份证号 {household['head_id_number']}" in found[0].help
    found[0].click().run()
    assert at.query_params["household"] == household["household_id"]
    assert metric(at, "评分").endswith(" 分")


def test_the_search_masks_id_numbers_without_view_full_id(app_db, accounts_env):
    at = open_app("overview", user="yh")  # 银行: names, not full ID numbers
    household = _a_household(app_db)
    at.text_input(key="search_text").input(household["household_id"]).run()
    found = next(button for button in at.button if button.key.startswith("found_"))
    assert fmt.mask_id_number(household["head_id_number"]) in found.help
    assert household["head_id_number"] not in found.help
    leader = open_app("overview", user="ld")  # 领导小组: no names, no search
    assert not [item for item in leader.text_input if item.key == "search_text"]


# ── 月度简报 and 使用说明 ─────────────────────────────────────────────────────────────────────


def test_the_briefing_button_makes_a_pdf_and_records_the_export(app_db, accounts_env):
    trail = accounts_env.trail()
    before = trail.query(events="export", username="jrb").height
    at = open_app("overview", timeout=300)
    at.button(key="briefing_make_overview").click().run()
    assert not at.error, [item.value for item in at.error]
    download = next(
        button for button in at.get("download_button") if "briefing_download" in str(button.proto)
    )
    assert "下载月度简报 PDF" in str(download.proto)
    exports = trail.query(events="export", username="jrb")
    assert exports.height == before + 1
    assert '"report": "月度简报"' in exports["details"][0]
    assert '"file_format": "pdf"' in exports["details"][0]


def test_the_help_page_answers_which_page_what_each_kpi_means_and_how_to_share(app_db):
    at = open_app("help")
    assert at.title[0].value == "使用说明"
    text = "\n".join(item.value for item in at.markdown)
    assert "### 哪个页面回答哪个问题" in text
    for page in ("总览", "信用评级", "熔断监测", "村级钻取", "报表导出"):
        assert f"| **{page}** |" in text
    for rule in ("R-S1", "R-C1", "R-L1", "R-B1", "R-B2", "R-T1", "R-M4"):
        assert f"| {rule}" in text
    assert "月末不良率**超过** 3%" in text  # the warehouse's own line, not a literal
    assert "### 分享链接" in text and "as_of=2024-06" in text


# ── every page for every role ─────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("role", ["office", "leader", "township", "village", "bank", "auditor"])
def test_every_role_opens_each_of_its_pages_and_is_refused_the_others(app_db, accounts_env, role):
    import app

    user = accounts_env.users[role]
    at = open_app("help", user=user.username)
    assert at.title[0].value == "使用说明"  # every role has the manual
    for spec in app.PAGE_SPECS:
        at.switch_page(spec.path).run()
        assert not at.exception, (role, spec.title, [item.value for item in at.exception])
        if app.may_use(user, spec):
            assert at.title[0].value == spec.title, (role, spec.title)
            assert not [item for item in at.error if "无权使用" in item.value]
        else:
            assert at.error[0].value.startswith(
                f"本账号（{user.role_label}）无权使用「{spec.title}」"
            )
