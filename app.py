"""惠农信用看板: sign-in, then the router. No SQL.

Nothing runs before the sign-in (pages/_signin.py): no page, no query. Then the navigation
shows the pages the user's role may use (huinong/auth/permissions.csv); a page it may not use,
reached by its URL, is refused by name. Each page has its own browser title (熔断监测 · 惠农信用看板).
The view of a signed-in session (the link it opened with, the shared sidebar: snapshot month,
scope, 找农户; the refusal of what is not the user's; the URL kept in step) is pages/_sidebar.py.

A new session's first screen is the sign-in form, so it is drawn without the data layer, polars,
DuckDB or plotly: this file imports them only once the user has signed in. The first run in a
server process starts a warm-up that imports them in the background (while the first user types
the password) and then takes everything imported out of the garbage collector's way.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import threading
from dataclasses import dataclass

import streamlit as st

from huinong.auth import User
from pages import _signin as signin
from pages._signin import APP_TITLE


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
    PageSpec("pages/help.py", "使用说明", ":material/help:", "help", "帮助", (), False),
)


def may_use(user: User | None, spec: PageSpec) -> bool:
    if user is None:
        return False
    if spec.dashboard and user.scope_level == "none":
        return False
    return all(user.has(permission) for permission in spec.needs)


def _signing_in() -> None:
    """The home page while nobody is signed in (the form is drawn by app.py)."""


def navigation(
    user: User | None, meeting: bool = False
) -> tuple[st.navigation, dict[str, PageSpec]]:
    """Every page, so that any link resolves to its page (and keeps its parameters through the
    sign-in); those the user may not use are hidden. The first page the user may use is the
    home page ("/"). Signed out, "/" is a page of its own: the first run after the sign-in then
    lands on the user's home page (the auditor's is 审计日志), not on the one before. In 会议模式
    the menu is a bar at the top (the sidebar is hidden)."""
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
    if user is not None and meeting:
        # A bar of links at the top, not a menu per section: one click to the next page.
        pages = [page for section in sections.values() for page in section]
        return st.navigation(pages, position="top"), specs
    position = "hidden" if user is None else "sidebar"
    return st.navigation(sections, position=position), specs


def _meeting_requested() -> bool:
    """会议模式 before the link is read (the navigation's position depends on it)."""
    if st.session_state.get("url_loaded"):
        return bool(st.session_state.get("meeting"))
    return st.query_params.get("meeting") == "1"


# What a signed-in run imports (with the data layer, DuckDB, polars and plotly), the sign-in form
# does not.
SIGNED_IN_MODULES = ("pages._sidebar", "pages._why", "huinong.charts", "huinong.export")


def _warm_up() -> None:
    """Import what a signed-in run needs, open the published warehouse, then freeze the heap.

    Streamlit collects garbage after every script run (runner.postScriptGC), a full collection
    that scans every object the process holds: with the data layer and plotly imported, about
    0.1 s of CPU holding the interpreter after each run, twice when a sign-in reruns. The
    modules, their classes and the warehouse's connection live as long as the process, so
    gc.freeze() moves them to a generation no collection scans; what a run creates is still
    collected after it. Unfrozen at exit, so that they are released in order.
    """
    for name in SIGNED_IN_MODULES:
        importlib.import_module(name)
    import plotly.graph_objects as go

    from huinong import data

    # plotly imports each trace type and builds its property validators on first use.
    go.Figure([go.Bar(), go.Scatter(), go.Heatmap()]).update_layout(title={"text": ""})
    token = data.current_warehouse()
    if token is not None:
        # A file that cannot be opened is left to the first query, which says why on the page.
        with contextlib.suppress(Exception):
            data.open_shared_connection(token)
    gc.freeze()
    atexit.register(gc.unfreeze)


@st.cache_resource(show_spinner=False)
def _start_warm_up() -> threading.Thread:
    """The warm-up, once per server process, started once the first run has drawn its sign-in
    form (its imports would slow the form's sending)."""
    thread = threading.Thread(target=_warm_up, name="huinong-warm-up", daemon=True)
    thread.start()
    return thread


def main() -> None:
    """One run: sign-in, navigation, the sidebar's view, then the page (or its refusal)."""
    st.set_page_config(
        page_title=APP_TITLE,
        page_icon=":material/agriculture:",
        layout="wide",
        initial_sidebar_state="expanded",
    )
    session, notice = signin.current_session()
    if session is None or session.must_change_password:
        # Every page known (hidden), so that a link keeps its path and parameters through the
        # sign-in; nothing but the form is drawn, and the run stops there.
        st.set_page_config(page_title=f"登录 · {APP_TITLE}")
        navigation(None)
        signin.ask_to_sign_in(session, notice, then=_start_warm_up)
    # Only now: a new session's first screen (the form above) is drawn without these. The
    # warm-up imports them; a run waits for it rather than importing the same modules beside it.
    _start_warm_up().join()
    from huinong import data
    from huinong import format as fmt
    from pages import _sidebar as sidebar
    from pages._ui import MISSING_WAREHOUSE, VIEW_KEY, base_css

    if notice:
        st.toast(notice, icon=":material/check_circle:")
    user = session.user
    st.session_state[signin.USER_KEY] = user
    page, specs = navigation(user, _meeting_requested())
    spec = specs.get(page.url_path, PAGE_SPECS[0])
    st.set_page_config(page_title=f"{spec.title} · {APP_TITLE}")
    token = data.current_warehouse()
    if token is not None and user.scope_level != "none":
        sidebar.load_link(token, user, page.url_path)
    sidebar.apply_pending()
    base_css(bool(st.session_state.get("meeting")) and may_use(user, spec))
    st.session_state[VIEW_KEY] = None
    view = refusal = None
    if may_use(user, spec) and spec.dashboard and token is not None:
        view, refusal = sidebar.draw(token, user)
        st.session_state[VIEW_KEY] = view
        sidebar.write_url(view, page.url_path)
    elif not spec.dashboard:
        sidebar.write_meeting()
    elif spec.dashboard and token is None:
        with st.sidebar:
            st.warning(
                data.warehouse_problem() or MISSING_WAREHOUSE.format(path=data.warehouse_path())
            )
    with st.sidebar:
        st.divider()
        signin.identity(user, sidebar.area_label(token, user))
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
            if view is not None:
                sidebar.link_messages(page.url_path)
            page.run()


# Streamlit (and AppTest) run this file as __main__; importing it (a spawned process re-reading
# the main module) runs nothing.
if __name__ == "__main__":
    main()
