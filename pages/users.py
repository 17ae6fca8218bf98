"""用户管理: the accounts, and adding, disabling, enabling, resetting and re-assigning them, for
manage_users (金融办). The same operations as ``python -m huinong users …``, through
huinong.auth.Accounts, each recorded in the audit trail with the signed-in user as actor."""

from __future__ import annotations

import polars as pl
import streamlit as st

from huinong.auth import AccountError, User, roles
from pages import _signin as signin
from pages import _ui as ui

ui.route_if_run_directly()

user = signin.current_user()
store = signin.accounts()
state = st.session_state
ROLE_NAMES = list(roles())


def _role_label(name: str) -> str:
    return roles()[name].label


def _describe(account_user: User) -> str:
    return f"{account_user.username}（{account_user.display_name}，{account_user.role_label} {account_user.area_label()}）"


def _hand_over(message: str, password: str) -> None:
    """A one-time password, shown once (kept in the session only until it is drawn)."""
    state["users_handover"] = (message, password)


ui.page_header("用户管理")
handover = state.pop("users_handover", None)
if handover:
    message, password = handover
    st.success(message, icon=":material/key:")
    st.code(password, language=None)
    st.caption("一次性密码只显示这一次：请当面或电话交给本人，首次登录须修改密码。")
for key, show in (("users_done", st.success), ("users_error", st.error)):
    text = state.pop(key, None)
    if text:
        show(text)

accounts = store.list()
listing = pl.DataFrame(
    {
        "用户名": [item.user.username for item in accounts],
        "姓名": [item.user.display_name for item in accounts],
        "角色": [item.user.role_label for item in accounts],
        "范围": [item.user.area_label() for item in accounts],
        "登录方式": [
            "统一身份认证" if item.user.source == "oidc" else "本地密码" for item in accounts
        ],
        "状态": [item.status() for item in accounts],
        "最近登录": [
            f"{item.last_sign_in_at.astimezone():%Y-%m-%d %H:%M}" if item.last_sign_in_at else "—"
            for item in accounts
        ],
    },
    schema={
        name: pl.String
        for name in ("用户名", "姓名", "角色", "范围", "登录方式", "状态", "最近登录")
    },
)
st.subheader(f"用户（{len(accounts)} 个）")
st.dataframe(listing, key="users_table", hide_index=True, width="stretch", alt="用户列表")

st.subheader("新增用户")
with st.form("user_add", clear_on_submit=True):
    left, right = st.columns(2)
    username = left.text_input("用户名（统一身份认证账号填其邮箱或标识）", key="user_add_name")
    display_name = right.text_input("姓名", key="user_add_display")
    role_name = left.selectbox("角色", ROLE_NAMES, format_func=_role_label, key="user_add_role")
    oidc = right.checkbox("统一身份认证账号（不设密码）", key="user_add_oidc")
    township = left.text_input("乡镇代码（9 位，乡镇账号填）", key="user_add_township")
    village = right.text_input("行政村代码（12 位，村账号填）", key="user_add_village")
    added = st.form_submit_button("新增", type="primary")
if added:
    try:
        new = User.create(
            username.strip(),
            display_name.strip() or username.strip(),
            role_name,
            township.strip() or None,
            village.strip() or None,
            "oidc" if oidc else "local",
        )
        generated = store.add(new, actor=user)
    except (AccountError, ValueError) as error:
        state["users_error"] = f"未新增：{error}"
    else:
        if generated:
            _hand_over(f"已新增用户 {_describe(new)}。一次性密码：", generated)
        else:
            state["users_done"] = f"已新增统一身份认证用户 {_describe(new)}。"
    st.rerun()

if accounts:
    st.subheader("修改用户")
    names = [item.user.username for item in accounts]
    chosen = st.selectbox("选择用户", names, key="user_pick")
    account = next(item for item in accounts if item.user.username == chosen)
    st.caption(f"{_describe(account.user)}：{account.status()}")
    buttons = st.container(horizontal=True, gap="small")
    action = None
    if account.disabled:
        if buttons.button("启用", key="user_enable"):
            action = "enable"
    elif buttons.button("停用", key="user_disable"):
        action = "disable"
    if account.user.source == "local" and buttons.button("重置密码", key="user_reset"):
        action = "reset"
    with st.form("user_role"):
        left, middle, right = st.columns(3)
        new_role = left.selectbox(
            "新角色",
            ROLE_NAMES,
            index=ROLE_NAMES.index(account.user.role),
            format_func=_role_label,
            key="user_role_role",
        )
        new_township = middle.text_input(
            "乡镇代码", value=account.user.township_code or "", key="user_role_township"
        )
        new_village = right.text_input(
            "行政村代码", value=account.user.village_code or "", key="user_role_village"
        )
        if st.form_submit_button("变更角色和范围"):
            action = "role"
    if action:
        try:
            if action == "enable":
                store.enable(chosen, actor=user)
                state["users_done"] = f"已启用用户 {chosen}。"
            elif action == "disable":
                if chosen == user.username:
                    raise AccountError("不能停用自己正在使用的账号")
                store.disable(chosen, actor=user)
                state["users_done"] = f"已停用用户 {chosen}，其已登录的会话随即失效。"
            elif action == "reset":
                password = store.reset_password(chosen, actor=user)
                _hand_over(
                    f"已重置用户 {chosen} 的密码（如被锁定，已解锁）。一次性密码：", password
                )
            else:
                changed = store.set_role(
                    chosen,
                    new_role,
                    new_township.strip() or None,
                    new_village.strip() or None,
                    actor=user,
                )
                state["users_done"] = f"已变更用户 {_describe(changed)}，下次操作时生效。"
        except AccountError as error:
            state["users_error"] = f"未完成：{error}"
        st.rerun()
