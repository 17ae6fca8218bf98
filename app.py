"""惠农信用看板: sign-in, the router and the shared sidebar (snapshot month and scope). No SQL here.

Nothing runs before the sign-in (pages/_signin.py): no page, no query. Then the navigation
shows the pages the user's role may use (huinong/auth/permissions.csv); a page it may not use,
reached by its URL, is refused by name.

Every view is addressable: the page path plus the query parameters as_of, township, village and
household (meeting=1 for 会议模式, compare for the month 信用评级 compares with) reproduce it, so
a link pasted into a chat opens the same view, after the sign-in, for whoever may see it. The
URL is read when a session starts and rewritten after every run. The area a link, a click or a
session-state edit asks for is intersected with the user's own (huinong.data.authorize): outside
it, or unknown, the request is refused by name and nothing of it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import streamlit as st

from huinong import data
from huinong import format as fmt
from huinong.auth import AccessDenied, User
from pages import _signin as signin
from pages._ui import MISSING_WAREHOUSE, PENDING_KEY, VIEW_KEY, View, base_css


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    url_path: str
    section: str
    needs: tuple[str, ...] = ()  # permissions, besides dashboard data for "看板"/"报表"
    dashboard: bool = True  # reads the warehouse for the user's area (not for 审计)


PAGE_SPECS = (
    PageSpec("pages/overview.py", "总览", ":material/dashboard:", "home", "看板"),
    PageSpec("pages/grades.py", "信用评级", ":material/star:", "grades", "看板"),
    PageSpec("pages/breaker.py", "熔断监测", ":material/warning:", "breaker", "看板"),
    PageSpec("pages/village.py", "村级钻取", ":material/home_pin:", "village", "看板"),
    PageSpec("pages/exports.py", "报表导出", ":material/download:", "exports", "报表", ("export",)),
    PageSpec(
        "pages/data.py", "数据管理", ":material/upload_file:", "data", "数据", ("manage_data",)
    ),
    PageSpec(
        "pages/users.py", "用户管理", ":material/group:", "users", "管理", ("manage_users",), False
    ),
    PageSpec(
        "pages/audit.py", "审计日志", ":material/policy:", "audit", "管理", ("read_audit",), False
    ),
)


def may_use(user: User | None, spec: PageSpec) -> bool:
    if user is None:
        return False
    if spec.dashboard and user.scope_level == "none":
        return False
    return all(user.has(permission) for permission in spec.needs)


def _signing_in() -> None:
    """The home page while nobody is signed in (the form is drawn by app.py)."""


def navigation(user: User | None) -> tuple[st.navigation, dict[str, PageSpec]]:
    """Every page, so that any link resolves to its page (and keeps its parameters through the
    sign-in); those the user may not use are hidden. The first page the user may use is the
    home page ("/"). Signed out, "/" is a page of its own: the first run after the sign-in then
    lands on the user's home page (the auditor's is 审计日志), not on the one before."""
    allowed = [spec for spec in PAGE_SPECS if may_use(user, spec)]
    home = allowed[0] if allowed else None
    sections: dict[str, list] = {}
    if user is None:
        sections["登录"] = [st.Page(_signing_in, title="登录", default=True)]
    specs: dict[str, PageSpec] = {}
    for spec in PAGE_SPECS:
        visibility = "visible" if spec in allowed else "hidden"
        page = st.Page(
            spec.path,
            title=spec.title,
            icon=spec.icon,
            url_path=spec.url_path,
            default=spec is home,
            visibility=visibility,
        )
        sections.setdefault(spec.section, []).append(page)
        specs[page.url_path] = spec
        if spec.url_path == "home":
            # The home page lives at "/"; this hidden twin makes "/overview?…" links work too.
            twin = st.Page(spec.path, title=spec.title, url_path="overview", visibility="hidden")
            sections[spec.section].append(twin)
            specs["overview"] = spec
    position = "sidebar" if user is not None else "hidden"
    return st.navigation(sections, position=position), specs


URL_KEYS = ("as_of", "township", "village", "household", "meeting", "compare")


def _load_url_once() -> None:
    """A new session (a pasted link, a reload) starts from the URL's query parameters."""
    if st.session_state.get("url_loaded"):
        return
    st.session_state["url_loaded"] = True
    params = st.query_params
    st.session_state["as_of"] = params.get("as_of", "")
    st.session_state["township"] = params.get("township", "")
    st.session_state["village"] = params.get("village", "")
    st.session_state["household"] = params.get("household", "")
    st.session_state["meeting"] = params.get("meeting", "") == "1"
    st.session_state["compare"] = params.get("compare", "")


def _apply_pending() -> None:
    """A page asked to move (a clicked row, a breadcrumb): apply it before the widgets exist."""
    pending = st.session_state.pop(PENDING_KEY, None)
    if pending:
        for key, value in pending.items():
            st.session_state[key] = value


def _clear_below_township() -> None:
    st.session_state["village"] = ""
    st.session_state["household"] = ""


def _clear_household() -> None:
    st.session_state["household"] = ""


class Refused(Exception):
    """The area (or household) asked for is not the user's, or does not exist; the message
    names it, for an st.error."""


def _refuse(user: User, root: data.Scope, message: str, **requested) -> Refused:
    """Back to the user's own area, the refusal recorded in the audit trail."""
    state = st.session_state
    state["township"] = root.township_code if root.level != "district" else ""
    state["village"] = root.village_code or ""
    state["household"] = ""
    signin.audit_trail().record(
        "access_denied", user, **{key: value for key, value in requested.items() if value}
    )
    return Refused(message)


def _requested_scope(
    token: data.Warehouse, user: User, root: data.Scope, as_of: date
) -> data.Scope:
    """The scope the session asks for (URL, sidebar, a click), authorised for the user; Refused
    (and the session set back to the user's own area) when it is not theirs or not there."""
    state = st.session_state
    township, village = state.get("township") or "", state.get("village") or ""
    household = state.get("household") or ""
    requested = {"township": township, "village": village, "household": household}
    if household and not root.names_households:
        raise _refuse(user, root, "本账号只能查看汇总数据，不能查看单户信息。", **requested)
    if household and not village:
        # A link naming only the household: find its village, within the user's area.
        home = data.household_home(token, as_of, root, household)
        if home is None:
            raise _refuse(
                user,
                root,
                f"无权查看农户 {household}：该农户不在本账号可查看的范围内，或在所选月份未评级。",
                **requested,
            )
        township, village = home["township_code"], home["village_code"]
    if village and not township:
        township = village[:9]
    try:
        scope = data.authorize(user, township or None, village or None)
    except AccessDenied as denied:
        raise _refuse(user, root, str(denied), **requested) from denied
    if scope.township_code and scope.township_code not in set(
        data.townships(token, root)["township_code"]
    ):
        raise _refuse(
            user, root, f"乡镇代码 {scope.township_code} 不存在：数据中没有这个乡镇。", **requested
        )
    if scope.village_code and scope.village_code not in set(
        data.villages(token, data.authorize(user, scope.township_code))["village_code"]
    ):
        raise _refuse(
            user,
            root,
            f"行政村代码 {scope.village_code} 不存在：乡镇 {scope.township_code} 中没有这个行政村。",
            **requested,
        )
    state["township"] = scope.township_code or ""
    state["village"] = scope.village_code or ""
    if not scope.village_code:
        state["household"] = ""
    return scope


def _valid_dates(token: data.Warehouse, root: data.Scope) -> tuple[list[str], dict[str, bool]]:
    """Snapshot dates (ISO strings, latest first) and whether each is a month-end; a month the
    warehouse does not have is named and replaced by the latest."""
    snapshots = data.snapshot_dates(token, root)
    dates = [day.isoformat() for day in snapshots["as_of"].to_list()]
    month_end = dict(zip(dates, snapshots["is_month_end"].to_list(), strict=True))
    state = st.session_state
    if state.get("as_of") not in month_end:
        if state.get("as_of"):
            st.session_state["as_of_notice"] = (
                f"链接中的月份 {state['as_of']} 没有数据，已显示最新月份。"
            )
        state["as_of"] = dates[0]
    # The month the grade migration compares with: a snapshot before the chosen one.
    if state.get("compare") not in month_end or state["compare"] >= state["as_of"]:
        state["compare"] = ""
    return dates, month_end


def _sidebar(token: data.Warehouse, user: User) -> tuple[View, str | None]:
    """The sidebar's month and area (only the user's own), and the view it chose; with the
    refusal to show instead of the page when the session asked for what is not the user's."""
    root = data.authorize(user)
    info = data.build_info(token, root)
    dates, month_end = _valid_dates(token, root)
    state = st.session_state
    refusal = None
    try:
        scope = _requested_scope(token, user, root, date.fromisoformat(state["as_of"]))
    except Refused as refused:
        refusal = str(refused)
        scope = root
    with st.sidebar:
        st.markdown(
            f"### 惠农信用看板\n{fmt.markdown_text(info['district_name'])} 金融扶贫信用工程"
        )
        st.selectbox(
            "统计月份",
            dates,
            key="as_of",
            format_func=lambda iso: fmt.as_of_label(date.fromisoformat(iso), month_end[iso]),
        )
        township_table = data.townships(token, root)
        township_names = dict(
            zip(township_table["township_code"], township_table["township_name"], strict=True)
        )
        township_options = list(township_names)
        if root.level == "district":
            township_options.insert(0, "")
        st.selectbox(
            "乡镇",
            township_options,
            key="township",
            format_func=lambda code: township_names.get(code, f"全区（{info['district_name']}）"),
            on_change=_clear_below_township,
        )
        if state["township"]:
            village_table = data.villages(token, data.authorize(user, state["township"]))
            village_names = dict(
                zip(village_table["village_code"], village_table["village_name"], strict=True)
            )
            village_options = list(village_names)
            if root.level != "village":
                village_options.insert(0, "")
            st.selectbox(
                "行政村",
                village_options,
                key="village",
                format_func=lambda code: village_names.get(code, "全乡镇"),
                on_change=_clear_household,
            )
        st.caption(
            f"数据截至 {fmt.date_label(info['as_of'])}；"
            f"构建于 {fmt.timestamp_label(info['built_at'])}"
        )
    view = View(
        token=token,
        as_of=date.fromisoformat(state["as_of"]),
        is_month_end=month_end[state["as_of"]],
        scope=scope,
        household=(state.get("household") or None) if refusal is None else None,
        meeting=bool(state.get("meeting")),
        user=user,
    )
    return view, refusal


def _write_url(view: View, page_path: str) -> None:
    """Keep the URL in step with the view, so that copying it shares exactly this view."""
    wanted = {"as_of": view.as_of.isoformat()}
    if view.scope.township_code:
        wanted["township"] = view.scope.township_code
    if view.scope.village_code:
        wanted["village"] = view.scope.village_code
    if view.household and page_path == "village":
        wanted["household"] = view.household
    if view.meeting and page_path in ("", "overview"):
        wanted["meeting"] = "1"
    if page_path == "grades" and st.session_state.get("compare"):
        wanted["compare"] = st.session_state["compare"]
    current = {key: st.query_params.get(key) for key in st.query_params}
    if current != wanted:
        st.query_params.from_dict(wanted)


def _area_label(token: data.Warehouse | None, user: User) -> str:
    if user.scope_level == "none":
        return "不查看看板数据"
    if user.scope_level == "district" or token is None:
        return user.area_label()
    names = data.place_names(token, data.authorize(user))
    return " ".join(name for name in (names["township_name"], names["village_name"]) if name)


def main() -> None:
    """One run: sign-in, navigation, the sidebar's view, then the page (or its refusal)."""
    st.set_page_config(
        page_title="惠农信用看板",
        page_icon=":material/agriculture:",
        layout="wide",
        initial_sidebar_state="expanded",
    )
    base_css()
    session, notice = signin.current_session()
    if session is None or session.must_change_password:
        # Every page known (hidden), so that a link keeps its path and parameters through the
        # sign-in; nothing but the form is drawn, and the run stops there.
        navigation(None)
        signin.ask_to_sign_in(session, notice)
    if notice:
        st.toast(notice, icon=":material/check_circle:")
    user = session.user
    st.session_state[signin.USER_KEY] = user
    page, specs = navigation(user)
    spec = specs.get(page.url_path, PAGE_SPECS[0])
    _load_url_once()
    _apply_pending()
    token = data.current_warehouse()
    st.session_state[VIEW_KEY] = None
    view = refusal = None
    if may_use(user, spec) and spec.dashboard and token is not None:
        view, refusal = _sidebar(token, user)
        st.session_state[VIEW_KEY] = view
        _write_url(view, page.url_path)
    elif spec.dashboard and token is None:
        with st.sidebar:
            st.warning(
                data.warehouse_problem() or MISSING_WAREHOUSE.format(path=data.warehouse_path())
            )
    with st.sidebar:
        st.divider()
        signin.identity(user, _area_label(token, user))
    if not may_use(user, spec):
        st.error(
            f"本账号（{user.role_label}）无权使用「{spec.title}」页面。请从左侧选择可用的页面。",
            icon=":material/block:",
        )
        signin.audit_trail().record("access_denied", user, page=spec.title)
    else:
        month_notice = st.session_state.pop("as_of_notice", None)
        if month_notice:
            st.warning(fmt.markdown_text(month_notice), icon=":material/info:")
        if refusal is not None:
            # Nothing of the refused area is drawn: the page does not run this time.
            st.error(fmt.markdown_text(refusal), icon=":material/block:")
            st.caption("已回到本账号可查看的范围，请从左侧重新选择。")
        else:
            page.run()


# Streamlit (and AppTest) run this file as __main__; importing it (a spawned process re-reading
# the main module) runs nothing.
if __name__ == "__main__":
    main()
