"""Sign-in and access control: roles, areas, local accounts, the users command, OIDC claims."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from oidc_support import discovery, put_user, running_provider, sign_in_code_flow

from huinong import REPO_ROOT
from huinong.audit import AuditTrail
from huinong.auth import (
    HIDDEN_VETO_WORDS,
    AccessDenied,
    AccountError,
    Accounts,
    AuthSettings,
    OidcConfig,
    OidcRefused,
    SessionInvalid,
    SignInError,
    User,
    ensure_admin,
    id_number_for,
    intersect,
    permissions,
    roles,
    user_from_claims,
    veto_words_for,
)
from huinong.auth.roles import load_role_table

TOWNSHIP = "411202100"
OTHER_TOWNSHIP = "411202200"
VILLAGE = "411202100201"
OTHER_VILLAGE = "411202100202"
T0 = datetime(2024, 6, 15, 8, 0, tzinfo=UTC)

# Cheap hashing for the many sign-ins below; one test checks the real default parameters.
FAST = AuthSettings(hash_time_cost=1, hash_memory_kib=1024, hash_parallelism=1)

leader = User("ld", "领导", "leader")
office = User("jrb", "金融办", "office")
township = User("xz", "乡镇干部", "township", township_code=TOWNSHIP)
village = User("cun", "村干部", "village", village_code=VILLAGE)
bank = User("yh", "信贷员", "bank")
auditor = User("sj", "审计员", "auditor")


# ── roles and permissions ───────────────────────────────────────────────────────────────


def test_the_six_roles_with_their_chinese_names_and_areas():
    table = {name: (item.label, item.scope) for name, item in roles().items()}
    assert table == {
        "leader": ("领导小组", "district"),
        "office": ("金融办", "district"),
        "township": ("乡镇", "township"),
        "village": ("村", "village"),
        "bank": ("银行", "district"),
        "auditor": ("审计", "none"),
    }


def test_what_each_role_may_do():
    held = {
        user.role: {name for name in permissions() if user.has(name)}
        for user in (leader, office, township, village, bank, auditor)
    }
    assert held["leader"] == {"export"}  # figures and charts only: no names, no IDs
    assert held["office"] == set(permissions()) - {"read_audit"}
    assert (
        held["township"]
        == held["village"]
        == {
            "view_named_households",
            "view_sensitive_vetoes",
            "view_loans",
            "export",
        }
    )
    assert held["bank"] == {"view_named_households", "view_loans", "export"}
    assert held["auditor"] == {"read_audit"}


def test_every_permission_is_described_in_chinese_and_english():
    for permission in permissions().values():
        assert permission.label and permission.description_zh and permission.description_en
        assert any("\u4e00" <= char <= "\u9fff" for char in permission.description_zh)


def test_a_misspelt_permission_raises_instead_of_quietly_denying():
    with pytest.raises(KeyError, match="view_full_ids"):
        office.has("view_full_ids")


def test_a_bad_cell_in_the_permission_table_is_refused(tmp_path):
    from huinong.auth.roles import PERMISSIONS_FILE, ROLES_FILE

    broken = tmp_path / "permissions.csv"
    broken.write_text(
        PERMISSIONS_FILE.read_text(encoding="utf-8").replace(",1,1,1,1,\n", ",1,x,1,1,\n", 1),
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="只能填 1 或留空"):
        load_role_table(ROLES_FILE, broken)


# ── areas ───────────────────────────────────────────────────────────────────────────────


def test_a_district_role_gets_what_it_asks_for():
    assert intersect(office) == (None, None)
    assert intersect(leader, TOWNSHIP) == (TOWNSHIP, None)
    assert intersect(bank, None, VILLAGE) == (TOWNSHIP, VILLAGE)


def test_a_township_account_is_narrowed_to_its_township():
    assert intersect(township) == (TOWNSHIP, None)
    assert intersect(township, TOWNSHIP, VILLAGE) == (TOWNSHIP, VILLAGE)
    with pytest.raises(AccessDenied, match="无权查看该乡镇的数据"):
        intersect(township, OTHER_TOWNSHIP)
    with pytest.raises(AccessDenied, match="无权查看该乡镇的数据"):
        intersect(township, None, OTHER_TOWNSHIP + "201")


def test_a_village_account_sees_its_village_only():
    assert village.township_code == TOWNSHIP  # from the first 9 digits
    assert intersect(village) == (TOWNSHIP, VILLAGE)
    assert intersect(village, TOWNSHIP) == (TOWNSHIP, VILLAGE)
    with pytest.raises(AccessDenied, match="无权查看该行政村的数据"):
        intersect(village, TOWNSHIP, OTHER_VILLAGE)
    with pytest.raises(AccessDenied, match="无权查看该乡镇的数据"):
        intersect(village, OTHER_TOWNSHIP)


def test_the_auditor_sees_no_dashboard_data():
    with pytest.raises(AccessDenied, match="审计账号无权查看看板数据"):
        intersect(auditor)


def test_a_village_outside_the_requested_township_is_refused():
    with pytest.raises(AccessDenied, match="不属于乡镇"):
        intersect(office, OTHER_TOWNSHIP, VILLAGE)


@pytest.mark.parametrize(
    ("role_name", "township_code", "village_code", "message"),
    [
        ("township", None, None, "9 位数字的乡镇代码"),
        ("township", "41120210", None, "9 位数字的乡镇代码"),
        ("village", None, "41120210020", "12 位数字的行政村代码"),
        ("village", OTHER_TOWNSHIP, VILLAGE, "前 9 位不是乡镇代码"),
        ("office", TOWNSHIP, None, "不填乡镇、行政村代码"),
    ],
)
def test_an_area_that_does_not_fit_the_role_is_refused(
    role_name, township_code, village_code, message
):
    with pytest.raises(ValueError, match=message):
        User.create("x", "x", role_name, township_code, village_code)


# ── what a role may read of a household ────────────────────────────────────────────────


def test_the_bank_sees_that_a_sensitive_veto_holds_but_not_which():
    vetoes = ["V1", "V2", "V3"]
    assert veto_words_for(bank, vetoes) == f"{HIDDEN_VETO_WORDS}；贷款逾期 一票否决"
    assert veto_words_for(bank, ["V2"]) == "一票否决（不宜公开事项）"
    assert veto_words_for(township, vetoes).startswith("黄赌毒记录 一票否决；当前被执行")
    assert veto_words_for(bank, ["V3"]) == "贷款逾期 一票否决"


def test_only_the_office_reads_full_id_numbers():
    number = "41120219800101001X"
    assert id_number_for(office, number) == number
    assert id_number_for(office, number, exporting=True) == number
    for user in (leader, township, village, bank):
        assert id_number_for(user, number) == "411202********001X"


# ── local accounts ──────────────────────────────────────────────────────────────────────


@pytest.fixture
def audit(tmp_path) -> AuditTrail:
    return AuditTrail(tmp_path / "audit.sqlite")


@pytest.fixture
def accounts(tmp_path, audit) -> Accounts:
    return Accounts(tmp_path / "accounts.sqlite", audit=audit, settings=FAST)


def _events(audit: AuditTrail) -> list[str]:
    return list(reversed(audit.query()["event"].to_list()))


def test_a_new_account_signs_in_with_its_one_time_password_and_must_change_it(accounts):
    one_time = accounts.add(township, actor="cli:root", now=T0)
    assert len(one_time) == 14 and one_time.count("-") == 2
    session = accounts.sign_in("xz", one_time, now=T0)
    assert session.user == township and session.must_change_password
    assert accounts.check_session(session.token, now=T0).must_change_password

    accounts.change_password("xz", one_time, "新的密码-2024-夏", now=T0)
    assert not accounts.check_session(session.token, now=T0).must_change_password
    with pytest.raises(SignInError, match="用户名或密码不正确"):
        accounts.sign_in("xz", one_time, now=T0)
    assert accounts.sign_in("xz", "新的密码-2024-夏", now=T0).user == township


@pytest.mark.parametrize(
    ("password", "message"),
    [("short-pw", "至少 10 个字符"), ("Zhangsan01", "不能与用户名相同")],
)
def test_a_password_must_be_long_and_not_the_user_name(accounts, password, message):
    user = User.create("zhangsan01", "张三", "bank")
    with pytest.raises(AccountError, match=message):
        accounts.add(user, actor="cli", password=password)
    assert accounts.get("zhangsan01") is None


def test_the_default_hash_is_argon2id_with_the_recommended_parameters(tmp_path, audit):
    store = Accounts(tmp_path / "default.sqlite", audit=audit)
    store.add(bank, actor="cli", password="a-long-password")
    stored = (tmp_path / "default.sqlite").read_bytes()
    assert b"$argon2id$v=19$m=65536,t=3,p=4$" in stored
    assert store.sign_in("yh", "a-long-password").user == bank


def test_five_wrong_passwords_in_15_minutes_lock_the_account_for_15_minutes(accounts, audit):
    accounts.add(bank, actor="cli", password="right-password", must_change_password=False)
    for minute in range(4):
        with pytest.raises(SignInError, match=f"再错 {4 - minute} 次"):
            accounts.sign_in("yh", "wrong-password", now=T0 + timedelta(minutes=minute))
    with pytest.raises(SignInError, match="已锁定至") as locked:
        accounts.sign_in("yh", "wrong-password", now=T0 + timedelta(minutes=4))
    assert locked.value.reason == "locked"
    # Locked: even the right password is refused, until 15 minutes after the fifth mistake.
    with pytest.raises(SignInError, match="已锁定"):
        accounts.sign_in("yh", "right-password", now=T0 + timedelta(minutes=18))
    assert accounts.get("yh").status(T0 + timedelta(minutes=18)).startswith("锁定至")
    assert accounts.sign_in("yh", "right-password", now=T0 + timedelta(minutes=20)).user == bank
    assert _events(audit).count("sign_in_failed") == 6
    assert _events(audit).count("account_locked") == 1


def test_mistakes_older_than_the_window_do_not_count(accounts):
    accounts.add(bank, actor="cli", password="right-password", must_change_password=False)
    for minute in range(4):
        with pytest.raises(SignInError):
            accounts.sign_in("yh", "wrong-password", now=T0 + timedelta(minutes=minute))
    later = T0 + timedelta(minutes=16)  # the first mistake has left the 15-minute window
    with pytest.raises(SignInError, match="再错 2 次"):
        accounts.sign_in("yh", "wrong-password", now=later)


def test_an_unknown_user_name_gets_the_same_answer_as_a_wrong_password(accounts):
    with pytest.raises(SignInError) as unknown:
        accounts.sign_in("nobody", "whatever-it-is")
    assert str(unknown.value) == "用户名或密码不正确"


def test_a_session_ends_after_30_idle_minutes(accounts, audit):
    accounts.add(bank, actor="cli", password="right-password", must_change_password=False)
    token = accounts.sign_in("yh", "right-password", now=T0).token
    active = T0 + timedelta(minutes=29)
    assert accounts.check_session(token, now=active).user == bank
    with pytest.raises(SessionInvalid, match="超过 30 分钟未操作") as expired:
        accounts.check_session(token, now=active + timedelta(minutes=31))
    assert expired.value.reason == "idle"
    with pytest.raises(SessionInvalid, match="长时间未操作"):
        accounts.check_session(token, now=active + timedelta(minutes=32))
    assert _events(audit)[-1] == "session_expired"


def test_a_session_ends_12_hours_after_sign_in_however_busy(accounts):
    accounts.add(bank, actor="cli", password="right-password", must_change_password=False)
    token = accounts.sign_in("yh", "right-password", now=T0).token
    moment = T0
    while moment + timedelta(minutes=20) <= T0 + timedelta(hours=12):
        moment += timedelta(minutes=20)
        accounts.check_session(token, now=moment)
    with pytest.raises(SessionInvalid, match="超过 12 小时") as expired:
        accounts.check_session(token, now=moment + timedelta(minutes=20))
    assert expired.value.reason == "lifetime"


def test_the_limits_come_from_settings(tmp_path, audit):
    settings = AuthSettings.from_mapping(
        {"idle_timeout_minutes": 5, "max_failed_sign_ins": 2, "hash_memory_kib": 1024}
    )
    assert settings.idle_timeout == timedelta(minutes=5) and settings.max_failed_sign_ins == 2
    store = Accounts(tmp_path / "a.sqlite", audit=audit, settings=settings)
    store.add(bank, actor="cli", password="right-password", must_change_password=False)
    token = store.sign_in("yh", "right-password", now=T0).token
    with pytest.raises(SessionInvalid, match="超过 5 分钟未操作"):
        store.check_session(token, now=T0 + timedelta(minutes=6))
    with pytest.raises(ValueError, match="idle_minutes"):
        AuthSettings.from_mapping({"idle_minutes": 5})


def test_disabling_an_account_ends_its_session_and_refuses_its_password(accounts):
    accounts.add(office, actor="cli", password="office-password", must_change_password=False)
    accounts.add(bank, actor="cli", password="right-password", must_change_password=False)
    token = accounts.sign_in("yh", "right-password", now=T0).token
    accounts.disable("yh", actor=office, now=T0)
    with pytest.raises(SessionInvalid, match="账号已停用"):
        accounts.check_session(token, now=T0)
    with pytest.raises(SignInError, match="账号已停用"):
        accounts.sign_in("yh", "right-password", now=T0)
    with pytest.raises(SignInError, match="用户名或密码不正确"):
        accounts.sign_in("yh", "wrong-password", now=T0)  # a wrong one learns nothing
    accounts.enable("yh", actor=office, now=T0)
    assert accounts.sign_in("yh", "right-password", now=T0).user == bank


def test_a_role_change_applies_to_an_open_session_at_its_next_run(accounts):
    accounts.add(office, actor="cli", password="office-password", must_change_password=False)
    accounts.add(township, actor="cli", password="town-password", must_change_password=False)
    token = accounts.sign_in("xz", "town-password", now=T0).token
    accounts.set_role("xz", "村", village_code=OTHER_VILLAGE, actor=office, now=T0)
    user = accounts.check_session(token, now=T0).user
    assert (user.role, user.village_code) == ("village", OTHER_VILLAGE)
    assert intersect(user) == (TOWNSHIP, OTHER_VILLAGE)


def test_the_last_office_account_cannot_be_disabled_or_demoted(accounts):
    accounts.add(office, actor="cli", password="office-password")
    with pytest.raises(AccountError, match="最后一个可用的金融办账号"):
        accounts.disable("jrb", actor=office)
    with pytest.raises(AccountError, match="最后一个可用的金融办账号"):
        accounts.set_role("jrb", "leader", actor=office)
    accounts.add(User("jrb2", "金融办二", "office"), actor=office, password="office-password2")
    accounts.disable("jrb", actor=office)
    assert accounts.get("jrb").disabled


def test_a_reset_unlocks_and_gives_a_one_time_password(accounts):
    accounts.add(bank, actor="cli", password="right-password", must_change_password=False)
    token = accounts.sign_in("yh", "right-password", now=T0).token
    for _ in range(5):
        with pytest.raises(SignInError):
            accounts.sign_in("yh", "wrong-password", now=T0)
    new = accounts.reset_password("yh", actor=office, now=T0)
    with pytest.raises(SessionInvalid, match="密码已被重置"):
        accounts.check_session(token, now=T0)
    session = accounts.sign_in("yh", new, now=T0)
    assert session.must_change_password
    with pytest.raises(AccountError, match="新密码不能与当前密码相同"):
        accounts.change_password("yh", new, new, now=T0)
    with pytest.raises(AccountError, match=r"当前密码不正确（再错 4 次账号将被锁定）"):
        accounts.change_password("yh", "right-password", "another-password", now=T0)


def test_sign_out_ends_the_session(accounts, audit):
    accounts.add(bank, actor="cli", password="right-password", must_change_password=False)
    token = accounts.sign_in("yh", "right-password", now=T0).token
    accounts.sign_out(token, now=T0)
    with pytest.raises(SessionInvalid, match="已退出登录"):
        accounts.check_session(token, now=T0)
    assert _events(audit) == ["user_added", "sign_in", "sign_out"]


def test_every_account_action_leaves_one_audit_row(accounts, audit):
    one_time = accounts.add(office, actor="cli:root", now=T0)
    session = accounts.sign_in("jrb", one_time, now=T0)
    accounts.change_password("jrb", one_time, "office-password-new", now=T0)
    with pytest.raises(SignInError):
        accounts.sign_in("jrb", "wrong-password", now=T0)
    accounts.add(bank, actor=session.user, password="bank-password", now=T0)
    accounts.set_role("yh", "leader", actor=session.user, now=T0)
    accounts.disable("yh", actor=session.user, now=T0)
    accounts.enable("yh", actor=session.user, now=T0)
    accounts.reset_password("yh", actor=session.user, now=T0)
    accounts.sign_out(session.token, now=T0)
    assert _events(audit) == [
        "user_added",
        "sign_in",
        "password_changed",
        "sign_in_failed",
        "user_added",
        "role_changed",
        "user_disabled",
        "user_enabled",
        "password_reset",
        "sign_out",
    ]
    rows = audit.query(events="role_changed").row(0, named=True)
    assert rows["username"] == "jrb" and rows["role"] == "office"
    assert json.loads(rows["details"]) == {
        "target": "yh",
        "old_role": "bank",
        "old_township": None,
        "old_village": None,
        "role": "leader",
        "township": None,
        "village": None,
    }
    assert audit.verify() is None


def test_no_password_is_kept_or_logged_in_clear(tmp_path, audit, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    store = Accounts(tmp_path / "accounts.sqlite", audit=audit, settings=FAST)
    chosen, wrong, changed = "Chosen-Pass-7781", "Wrong-Pass-5524", "Changed-Pass-3310"
    store.add(township, actor="cli", password=chosen)
    generated = store.add(bank, actor="cli")
    store.sign_in("xz", chosen)
    with pytest.raises(SignInError):
        store.sign_in("xz", wrong)
    store.change_password("xz", chosen, changed)
    store.sign_in("yh", generated)
    store.reset_password("yh", actor="cli")

    files = sorted(tmp_path.iterdir())  # the accounts and audit files, their -wal and -shm
    assert {path.name for path in files} >= {"accounts.sqlite", "audit.sqlite"}
    everything = b"".join(path.read_bytes() for path in files)
    captured = capsys.readouterr()
    logged = (caplog.text + captured.out + captured.err).encode("utf-8")
    for password in (chosen, wrong, changed, generated):
        assert password.encode("utf-8") not in everything
        assert password.encode("utf-8") not in logged
    assert everything.count(b"$argon2id$") >= 2
    with pytest.raises(ValueError, match="credentials"):
        audit.record("sign_in", "xz", password=chosen)


def test_the_account_files_are_readable_by_their_owner_only(accounts, tmp_path):
    for name in ("accounts.sqlite", "audit.sqlite"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600


def test_ensure_admin_creates_admin_once(tmp_path, audit, monkeypatch):
    monkeypatch.delenv("HUINONG_ADMIN_PASSWORD", raising=False)
    path = tmp_path / "accounts.sqlite"
    password = ensure_admin(path, audit=audit)
    assert password and len(password) == 14
    assert ensure_admin(path, audit=audit) is None
    store = Accounts(path, audit=audit)
    admin = store.get("admin")
    assert admin.user.role == "office" and admin.must_change_password
    assert store.sign_in("admin", password).must_change_password


def test_ensure_admin_takes_the_password_from_the_environment(tmp_path, audit, monkeypatch):
    monkeypatch.setenv("HUINONG_ADMIN_PASSWORD", "short")
    with pytest.raises(AccountError, match="HUINONG_ADMIN_PASSWORD"):
        ensure_admin(tmp_path / "a.sqlite", audit=audit)
    monkeypatch.setenv("HUINONG_ADMIN_PASSWORD", "an-admin-password")
    assert ensure_admin(tmp_path / "b.sqlite", audit=audit) == "an-admin-password"
    assert Accounts(tmp_path / "b.sqlite", audit=audit).sign_in("admin", "an-admin-password")


def test_no_usable_password_is_committed():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not any(name.endswith(".sqlite") or "secrets.toml" in name for name in tracked)


# ── python -m huinong users ─────────────────────────────────────────────────────────────


def _users(tmp_path: Path, *args: str, stdin: str | None = None, env: dict | None = None):
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("HUINONG_ACCOUNTS", "HUINONG_AUDIT", "HUINONG_ADMIN_PASSWORD")
    }
    return subprocess.run(
        [sys.executable, "-m", "huinong", "users", *args, "--db", str(tmp_path / "w.duckdb")],
        cwd=REPO_ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**environment, **(env or {})},
    )


def _one_time(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith("一次性密码："))[6:]


def test_users_add_prints_a_one_time_password_that_signs_in(tmp_path):
    added = _users(
        tmp_path, "add", "zhang", "--role", "乡镇", "--township", TOWNSHIP, "--name", "张三"
    )
    assert added.returncode == 0, added.stderr
    assert "已新增用户 zhang（张三，乡镇 411202100）" in added.stdout
    assert "首次登录须修改密码" in added.stdout
    audit = AuditTrail(tmp_path / "audit.sqlite")
    accounts = Accounts(tmp_path / "accounts.sqlite", audit=audit)
    session = accounts.sign_in("zhang", _one_time(added.stdout))
    assert session.user == User("zhang", "张三", "township", TOWNSHIP)
    assert session.must_change_password
    row = audit.query(events="user_added").row(0, named=True)
    assert row["username"].startswith("cli")


def test_users_list_disable_enable_role_reset(tmp_path):
    assert _users(tmp_path, "add", "li", "--role", "village", "--village", VILLAGE).returncode == 0
    assert (
        _users(
            tmp_path, "add", "wang", "--role", "bank", "--password-stdin", stdin="bank-password\n"
        ).returncode
        == 0
    )
    listed = _users(tmp_path, "list")
    assert "li\tli\t村\t411202100201\t本地密码\t待改密码" in listed.stdout
    assert "共 2 个用户" in listed.stdout

    assert "已停用用户 wang" in _users(tmp_path, "disable", "wang").stdout
    assert "wang\twang\t银行\t全区\t本地密码\t停用" in _users(tmp_path, "list").stdout
    assert "已启用用户 wang" in _users(tmp_path, "enable", "wang").stdout

    changed = _users(tmp_path, "role", "li", "--role", "township", "--township", TOWNSHIP)
    assert "已变更用户 li（li，乡镇 411202100）" in changed.stdout

    reset = _users(tmp_path, "reset", "wang")
    accounts = Accounts(tmp_path / "accounts.sqlite", audit=AuditTrail(tmp_path / "audit.sqlite"))
    with pytest.raises(SignInError):
        accounts.sign_in("wang", "bank-password")
    assert accounts.sign_in("wang", _one_time(reset.stdout)).must_change_password


def test_users_command_errors_say_what_to_fix(tmp_path):
    bad_village = _users(tmp_path, "add", "li", "--role", "village", "--village", "4112")
    assert bad_village.returncode == 1
    assert "用户操作失败：村账号须填写 12 位数字的行政村代码" in bad_village.stderr
    assert "Traceback" not in bad_village.stderr
    unknown = _users(tmp_path, "disable", "nobody")
    assert unknown.returncode == 1 and "没有用户 nobody" in unknown.stderr
    bad_role = _users(tmp_path, "add", "x", "--role", "boss")
    assert bad_role.returncode == 1 and "未知角色：boss" in bad_role.stderr
    short = _users(tmp_path, "add", "wang", "--role", "bank", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "密码至少 10 个字符" in short.stderr


def test_users_ensure_admin_prints_how_to_sign_in_once(tmp_path):
    first = _users(tmp_path, "ensure-admin")
    assert "已创建金融办管理员账号 admin" in first.stdout
    password = _one_time(first.stdout)
    assert _users(tmp_path, "ensure-admin").stdout == ""
    accounts = Accounts(tmp_path / "accounts.sqlite", audit=AuditTrail(tmp_path / "audit.sqlite"))
    assert accounts.sign_in("admin", password).user.role == "office"


# ── OpenID Connect ──────────────────────────────────────────────────────────────────────


def test_claims_give_role_and_area():
    user = user_from_claims(
        {
            "sub": "u-1",
            "email": "zhang@example.cn",
            "name": "张三",
            "huinong_role": "乡镇",
            "huinong_township": TOWNSHIP,
        }
    )
    assert user == User("zhang@example.cn", "张三", "township", TOWNSHIP, None, "oidc")


def test_groups_map_to_a_role():
    config = OidcConfig.from_mapping({"group_roles": {"hubin-jrb": "金融办"}})
    claims = {"sub": "u-2", "email": "li@example.cn", "groups": ["staff", "hubin-jrb"]}
    assert user_from_claims(claims, config).role == "office"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"sub": "u", "email": "a@example.cn"}, "没有看板角色"),
        ({"sub": "u", "huinong_role": "superuser"}, "不是看板的角色"),
        ({"sub": "u", "huinong_role": ["bank", "leader"]}, "同时有多个看板角色（银行、领导小组）"),
        ({"sub": "u", "huinong_role": "village"}, "12 位数字的行政村代码"),
        ({"email": "a@example.cn", "huinong_role": "bank"}, "没有给出用户标识"),
    ],
)
def test_an_identity_without_a_clear_role_is_refused(claims, message):
    with pytest.raises(OidcRefused, match=message):
        user_from_claims(claims)


def test_an_account_the_office_added_wins_over_the_claims(accounts):
    assigned = User.create("zhang@example.cn", "张三", "village", None, VILLAGE, source="oidc")
    accounts.add(assigned, actor=office)
    claims = {"sub": "u-1", "email": "zhang@example.cn", "huinong_role": "office"}
    assert user_from_claims(claims, accounts=accounts) == assigned
    # An address the provider says is unverified could be anyone's: it picks up nothing.
    unverified = {**claims, "email_verified": False, "huinong_role": None}
    with pytest.raises(OidcRefused, match="没有看板角色"):
        user_from_claims(unverified, accounts=accounts)
    accounts.disable("zhang@example.cn", actor=office)
    with pytest.raises(OidcRefused, match="账号已停用"):
        user_from_claims(claims, accounts=accounts)


def test_require_account_refuses_identities_the_office_did_not_add(accounts):
    config = OidcConfig.from_mapping({"require_account": True})
    with pytest.raises(OidcRefused, match="尚未开通看板账号"):
        user_from_claims({"sub": "u", "huinong_role": "bank"}, config, accounts)
    with pytest.raises(ValueError, match="未知设置：role_claims"):
        OidcConfig.from_mapping({"role_claims": "x"})


def test_an_oidc_session_times_out_like_a_local_one(accounts):
    user = user_from_claims({"sub": "u-9", "huinong_role": "bank"})
    token = accounts.open_session(user, now=T0).token
    assert accounts.check_session(token, now=T0 + timedelta(minutes=10)).user == user
    with pytest.raises(SessionInvalid, match="未操作"):
        accounts.check_session(token, now=T0 + timedelta(minutes=41))


def test_the_mock_provider_serves_discovery_and_puts_huinong_claims_in_the_id_token():
    zhang = {
        "sub": "zhang@example.cn",
        "email": "zhang@example.cn",
        "name": "张三",
        "huinong_role": "township",
        "huinong_township": TOWNSHIP,
    }
    with running_provider([zhang]) as base:
        metadata = discovery(base)
        assert metadata["issuer"] == base
        assert metadata["authorization_endpoint"] == f"{base}/oauth2/authorize"
        assert metadata["token_endpoint"] == f"{base}/oauth2/token"
        assert metadata["end_session_endpoint"] == f"{base}/oauth2/end_session"

        claims = sign_in_code_flow(base, "zhang@example.cn")
        assert claims["huinong_role"] == "township" and claims["huinong_township"] == TOWNSHIP
        assert user_from_claims(claims) == User(
            "zhang@example.cn", "张三", "township", TOWNSHIP, None, "oidc"
        )

        # At run time: PUT /users/<sub> sets (replaces) a user's claims.
        assert put_user(base, "li@example.cn", {"email": "li@example.cn", "groups": ["jrb"]}) == 204
        claims = sign_in_code_flow(base, "li@example.cn")
        config = OidcConfig.from_mapping({"group_roles": {"jrb": "office"}})
        assert user_from_claims(claims, config).role == "office"

        # A sub nobody configured signs in with its email only: no role, refused.
        with pytest.raises(OidcRefused, match="没有看板角色"):
            user_from_claims(sign_in_code_flow(base, "stranger@example.cn"))
