"""Who may see what, with AppTest and at the data layer on the demo warehouse: no query runs
without a Scope issued for a signed-in user; an area outside the user's, asked for by a link, a
session-state edit or an export, is refused with nothing of it shown; 领导小组 reads counts, never
named lists; ID numbers and V1/V2 vetoes are redacted in SQL for those without the permission;
the session ends and the sign-in returns; every sign-in, refusal and personal-data view leaves
its audit row; the 审计日志 and 用户管理 pages."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

pytest.register_assert_rewrite("dashboard_support")
from dashboard_support import (  # noqa: E402
    PASSWORD,
    latest_as_of,
    metric,
    open_app,
    query,
    rendered,
    scalar,
    sign_in,
    table,
)

from huinong import data  # noqa: E402
from huinong import format as fmt  # noqa: E402
from huinong.auth import AccessDenied, User  # noqa: E402
from huinong.data import connection  # noqa: E402

pytest_plugins = ("dashboard_support",)

FULL_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9X](?![0-9])")
MASKED_ID = re.compile(r"^[0-9]{6}\*{8}[0-9]{3}[0-9X]$")


@pytest.fixture
def as_of(app_db):
    return latest_as_of(app_db)


@pytest.fixture
def token(app_db):
    return data.current_warehouse()


def _shown(at) -> str:
    """Everything a page wrote, tables included, as one text."""
    parts = [str(item.value) for kind in ("markdown", "caption", "error", "warning", "info",
                                          "success", "subheader", "title", "metric")
             for item in getattr(at, kind)]  # fmt: skip
    parts += [frame.value.to_csv() for frame in at.dataframe]
    return "\n".join(parts)


# ── the data layer ────────────────────────────────────────────────────────────────────────────


def test_no_query_runs_without_a_scope_authorised_for_a_user(token, as_of, accounts_env):
    with pytest.raises(AccessDenied, match="authorize"):
        connection.frame(token, None, "select 1")
    with pytest.raises(AccessDenied, match="authorize"):
        data.Scope("district", None)  # only authorize() issues a Scope
    office = accounts_env.users["office"]
    # The auditor has no dashboard data at all.
    with pytest.raises(AccessDenied, match="无权查看看板数据"):
        data.authorize(accounts_env.users["auditor"])
    assert data.kpi(token, as_of, data.authorize(office)).height == 1


def test_an_area_outside_the_users_is_refused_for_screens_and_files(accounts_env, token, as_of):
    township = accounts_env.users["township"]
    other = accounts_env.other_township
    for purpose in ("view", "export"):
        with pytest.raises(AccessDenied, match="无权查看该乡镇的数据"):
            data.authorize(township, other, purpose=purpose)
    # Asking for the district gets the own township, and only its rows.
    scope = data.authorize(township, purpose="export")
    assert scope.township_code == accounts_env.township
    rows = pl.concat(list(data.stream_report(token, "credit_households", as_of, scope)))
    names = set(rows["township_name"])
    assert len(names) == 1 and rows.height > 0
    # A screen scope cannot stream a file; the leader no named list.
    with pytest.raises(AccessDenied, match="导出"):
        next(data.stream_report(token, "village_breaker", as_of, data.authorize(township)))
    leader = data.authorize(accounts_env.users["leader"], purpose="export")
    with pytest.raises(AccessDenied, match="农户名单"):
        next(data.stream_report(token, "credit_households", as_of, leader))
    assert data.report_row_count(token, "credit_households", as_of, leader) > 0


def test_ids_and_sensitive_vetoes_are_redacted_in_sql(accounts_env, token, as_of, app_db):
    household, township, village = query(
        app_db,
        """
        select household_id, township_code, village_code from main.household_scores
        where as_of = ? and list_contains(vetoes, 'V1') order by household_id limit 1
        """,
        [as_of],
    )[0]
    full_id = scalar(
        app_db,
        "select any_value(head_id_number) from main.household_register where household_id = ?",
        [household],
    )
    office = data.authorize(accounts_env.users["office"], township, village)
    bank = data.authorize(accounts_env.users["bank"], township, village)
    as_office = data.household(token, as_of, office, household).row(0, named=True)
    as_bank = data.household(token, as_of, bank, household).row(0, named=True)
    assert as_office["head_id_number"] == full_id
    assert as_bank["head_id_number"] == f"{full_id[:6]}********{full_id[-4:]}"
    assert "V1" in as_office["vetoes"]
    assert as_bank["vetoes"][0] == "VS" and not {"V1", "V2"} & set(as_bank["vetoes"])
    assert fmt.VETO_WORDS["VS"] == "一票否决（不宜公开事项）"
    # The public notice is masked even for the office.
    notice = data.authorize(accounts_env.users["office"], township, village, purpose="export")
    rows = pl.concat(list(data.stream_report(token, "grade_notice", as_of, notice)))
    assert all(MASKED_ID.match(value) for value in rows["head_id_number"])


def test_quarantined_rows_as_read_have_their_id_numbers_masked_without_view_full_id():
    from huinong.auth import id_numbers_in_text_for

    original = '{"household_id": "H1", "head_id_number": "41120219800101123X"}'
    assert id_numbers_in_text_for(User("o", "o", "office"), original) == original
    assert id_numbers_in_text_for(User("b", "b", "bank"), original) == (
        '{"household_id": "H1", "head_id_number": "411202********123X"}'
    )


# ── pages ─────────────────────────────────────────────────────────────────────────────────────


def test_a_township_link_to_another_township_is_refused_with_nothing_shown(accounts_env, app_db):
    other = accounts_env.other_township
    at = open_app("village", {"township": other}, user="xz")
    assert [item.value for item in at.error] == [
        f"无权查看该乡镇的数据：本账号只能查看乡镇 {accounts_env.township}"
    ]
    assert not at.metric and not at.dataframe
    assert at.query_params["township"] == accounts_env.township
    # The sidebar offers the own township only, no 全区.
    assert at.sidebar.selectbox(key="township").options == [
        scalar(
            app_db,
            "select any_value(township_name) from main.township_breaker where township_code = ?",
            [accounts_env.township],
        )
    ]
    refused = accounts_env.trail().query(events="access_denied", username="xz", limit=1)
    assert f'"township": "{other}"' in refused["details"].item()


def test_a_session_state_edit_to_another_township_is_refused(app_db, accounts_env):
    """The move a clicked row or a breadcrumb asks for (pages/_ui.go_to), edited to name
    another township: refused like a link. (Setting the township selectbox's own key to a value
    outside its options cannot be simulated here: AppTest itself refuses such a state.)"""
    at = open_app("overview", user="xz")
    own = metric(at, "评级农户")
    at.session_state["pending_view"] = {
        "township": accounts_env.other_township,
        "village": "",
        "household": "",
    }
    at.run()
    assert "无权查看该乡镇的数据" in at.error[0].value
    assert not at.metric
    at.run()  # back on its own township
    assert metric(at, "评级农户") == own


def test_a_household_outside_the_area_is_refused(accounts_env, app_db, as_of):
    household = scalar(
        app_db,
        "select min(household_id) from main.household_scores where as_of = ? and township_code = ?",
        [as_of, accounts_env.other_township],
    )
    at = open_app("village", {"household": household}, user="xz")
    assert at.error[0].value.startswith(f"无权查看农户 {household}")
    assert not at.metric and not at.dataframe


def test_the_leader_reads_counts_never_named_lists(accounts_env, app_db, as_of):
    township, village = query(
        app_db,
        "select township_code, village_code from main.village_breaker where as_of = ? limit 1",
        [as_of],
    )[0]
    at = open_app("village", {"township": township, "village": village}, user="ld")
    assert metric(at, "评级农户")
    assert not at.dataframe
    assert "不显示农户名单" in at.info[0].value
    stops = open_app("breaker", user="ld")
    assert not [frame for frame in stops.dataframe if frame.proto.alt == "停止新增授信农户名单"]
    exports = open_app("exports", user="ld")
    keys = {button.key for button in exports.download_button}
    assert "export_township_summary_xlsx" in keys and "export_village_breaker_csv" in keys
    assert not {key for key in keys if "credit_households" in key or "grade_notice" in key}
    credit = scalar(
        app_db,
        "select count(*) from main.household_scores where as_of = ? and credit_limit > 0",
        [as_of],
    )
    assert f"共 {credit:,} 户" in "\n".join(item.value for item in exports.caption)
    household = open_app("village", {"household": "anything"}, user="ld")
    assert household.error[0].value == "本账号只能查看汇总数据，不能查看单户信息。"


@pytest.mark.parametrize("username", ["yh", "xz"])
def test_without_view_full_id_no_page_shows_a_full_id_number(accounts_env, app_db, as_of, username):
    township, village, household = query(
        app_db,
        """
        select township_code, village_code, household_id from main.household_scores
        where as_of = ? and township_code = ? and loans_on_book > 0
        order by household_id limit 1
        """,
        [as_of, accounts_env.township],
    )[0]
    pages = [
        ("overview", {}),
        ("grades", {}),
        ("breaker", {}),
        ("exports", {"township": township, "village": village}),
        ("village", {"township": township, "village": village}),
        ("village", {"township": township, "village": village, "household": household}),
    ]
    for page, params in pages:
        at = open_app(page, params, user=username)
        shown = _shown(at)
        assert not FULL_ID.search(shown), (page, FULL_ID.search(shown))
    # The household's own line: the number masked.
    assert re.search(r"身份证号 [0-9]{6}\*{8}[0-9]{3}[0-9X]", rendered(shown))


def test_the_office_reads_full_id_numbers_and_every_view_of_a_household_is_logged(
    accounts_env, app_db, as_of
):
    household, village, full_id = query(
        app_db,
        """
        select scores.household_id, scores.village_code, register.head_id_number
        from main.household_scores as scores
        inner join main.household_register as register using (household_id, collected_on)
        where scores.as_of = ? order by 1 limit 1
        """,
        [as_of],
    )[0]
    trail = accounts_env.trail()
    before = trail.query(events="view_personal", username="jrb").height
    at = open_app("village", {"village": village, "household": household})
    assert f"身份证号 {full_id}" in "\n".join(item.value for item in at.caption)
    at.run()  # a rerun of the same household is not another view
    views = trail.query(events="view_personal", username="jrb")
    assert views.height == before + 1
    assert f'"household": "{household}"' in views["details"][0]


def test_each_role_may_open_only_its_pages(app_db, accounts_env):
    refused = open_app("data", user="yh")
    assert refused.error[0].value.startswith("本账号（银行）无权使用「数据管理」页面")
    assert not refused.file_uploader
    audit = open_app("audit", user="sj")
    assert audit.title[0].value == "审计日志"
    assert open_app("overview", user="sj").title[0].value == "审计日志"  # its home page
    assert (
        open_app("grades", user="sj")
        .error[0]
        .value.startswith("本账号（审计）无权使用「信用评级」页面")
    )
    assert (
        open_app("audit", user="jrb")
        .error[0]
        .value.startswith("本账号（金融办）无权使用「审计日志」页面")
    )
    assert (
        open_app("users", user="xz")
        .error[0]
        .value.startswith("本账号（乡镇）无权使用「用户管理」页面")
    )


# ── sign-in, sessions ─────────────────────────────────────────────────────────────────────────


def test_a_wrong_password_is_refused_and_counted(app_db, accounts_env):
    from dashboard_support import APP
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    sign_in(at, "yh", "not-the-password")
    assert at.error[0].value == "用户名或密码不正确（再错 4 次账号将被锁定）"
    assert not at.metric
    sign_in(at, "yh")
    assert metric(at, "评级农户")


def test_an_idle_session_returns_to_the_sign_in_saying_why(app_db, accounts_env):
    at = open_app("overview", user="cun")
    assert metric(at, "评级农户")
    idle = (datetime.now(UTC) - timedelta(minutes=31)).isoformat(timespec="microseconds")
    with sqlite3.connect(accounts_env.accounts) as con:
        con.execute(
            "update sessions set last_seen_at = ? where username = 'cun' and ended_at is null",
            [idle],
        )
    at.run()
    assert at.warning[0].value == "超过 30 分钟未操作，请重新登录"
    assert not at.metric
    assert [button.label for button in at.button][:1] == ["登录"]


def test_sign_out_ends_the_session(app_db, accounts_env):
    at = open_app("overview", user="cun")
    trail = accounts_env.trail()
    before = trail.query(events="sign_out", username="cun").height
    at.sidebar.button(key="sign_out").click().run()
    assert [button.label for button in at.button][:1] == ["登录"]
    assert "已退出登录" in at.warning[0].value
    assert trail.query(events="sign_out", username="cun").height == before + 1


# ── 审计日志, 用户管理 ──────────────────────────────────────────────────────────────────────────


def test_the_audit_page_lists_and_filters_the_trail(app_db, accounts_env):
    open_app("overview", user="yh")  # one more sign-in to find
    at = open_app("audit", user="sj")
    assert "哈希链校验通过" in at.success[0].value
    listed = table(at, "审计日志")
    assert {"登录成功"} <= set(listed["事件"])
    at.selectbox(key="audit_user").set_value("yh").run()
    at.multiselect(key="audit_events").set_value(["sign_in"]).run()
    listed = table(at, "审计日志")
    assert set(listed["用户名"]) == {"yh"} and set(listed["事件"]) == {"登录成功"}
    assert listed.iloc[0]["详情"] == "登录方式：本地密码"
    keys = {button.key for button in at.download_button}
    assert {"audit_export_xlsx", "audit_export_csv"} <= keys


def test_the_office_adds_a_user_who_signs_in_with_the_one_time_password(app_db, accounts_env):
    at = open_app("users", user="jrb")
    at.text_input(key="user_add_name").input("wang")
    at.text_input(key="user_add_display").input("王五")
    at.selectbox(key="user_add_role").set_value("township")
    at.text_input(key="user_add_township").input(accounts_env.township)
    next(button for button in at.button if button.label == "新增").click().run()
    assert at.success[0].value.startswith("已新增用户 wang（王五，乡镇")
    one_time = at.code[0].value
    assert "wang" in set(table(at, "用户列表")["用户名"])
    added = accounts_env.trail().query(events="user_added", username="jrb", limit=1)
    assert '"target": "wang"' in added["details"].item()
    assert one_time not in added["details"].item()
    session = accounts_env.store().sign_in("wang", one_time)
    assert session.must_change_password and session.user.township_code == accounts_env.township
    assert one_time != PASSWORD


# ── the documentation's claims ────────────────────────────────────────────────────────────────


def test_the_readme_role_table_is_the_permission_matrix():
    from huinong import REPO_ROOT
    from huinong.auth import permissions, roles

    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## 登录与权限") :]
    header = next(line for line in section.splitlines() if line.startswith("| 权限 |"))
    labels = [cell.strip() for cell in header.strip("|").split("|")][1:]
    assert labels == [role.label for role in roles().values()]
    by_label = {role.label: role for role in roles().values()}
    rows = [line for line in section.splitlines() if line.startswith("| ") and "（`" in line]
    table = {}
    for line in rows:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        name = cells[0].split("`")[1]
        table[name] = {label for label, cell in zip(labels, cells[1:], strict=True) if cell}
    assert table == {
        name: {label for label, role in by_label.items() if name in role.permissions}
        for name in permissions()
    }


def test_the_example_secrets_file_configures_every_setting_it_names():
    import tomllib

    from huinong import REPO_ROOT
    from huinong.auth import AuthSettings, OidcConfig

    example = tomllib.loads(
        (REPO_ROOT / ".streamlit" / "secrets.example.toml").read_text(encoding="utf-8")
    )
    assert {"redirect_uri", "cookie_secret", "client_id", "client_secret"} <= set(example["auth"])
    assert example["auth"]["server_metadata_url"].endswith("/.well-known/openid-configuration")
    assert OidcConfig.from_mapping(example["huinong"]["oidc"]) == OidcConfig()
    assert AuthSettings.from_mapping(example["huinong"]["auth"]) == AuthSettings()
