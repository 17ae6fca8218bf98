"""惠农信用看板: the router and the shared sidebar (snapshot month and scope). No SQL here.

Every view is addressable: the page path plus the query parameters as_of, township, village and
household (meeting=1 for 会议模式, compare for the month 信用评级 compares with) reproduce it, so
a link pasted into a chat opens the same view. The URL is read when a session starts and rewritten after every run.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from huinong import data
from huinong import format as fmt
from pages._ui import MISSING_WAREHOUSE, PENDING_KEY, VIEW_KEY, View, base_css

st.set_page_config(
    page_title="惠农信用看板",
    page_icon=":material/agriculture:",
    layout="wide",
    initial_sidebar_state="expanded",
)

PAGES = {
    "看板": [
        st.Page(
            "pages/overview.py",
            title="总览",
            icon=":material/dashboard:",
            url_path="home",
            default=True,
        ),
        # The default page lives at "/"; this hidden twin makes "/overview?…" links work too.
        st.Page("pages/overview.py", title="总览", url_path="overview", visibility="hidden"),
        st.Page("pages/grades.py", title="信用评级", icon=":material/star:", url_path="grades"),
        st.Page(
            "pages/breaker.py", title="熔断监测", icon=":material/warning:", url_path="breaker"
        ),
        st.Page(
            "pages/village.py", title="村级钻取", icon=":material/home_pin:", url_path="village"
        ),
    ],
    "报表": [
        st.Page(
            "pages/exports.py", title="报表导出", icon=":material/download:", url_path="exports"
        ),
    ],
    "数据": [
        st.Page("pages/data.py", title="数据管理", icon=":material/upload_file:", url_path="data"),
    ],
}

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


def _valid_choices(token: data.Warehouse) -> tuple[list[str], dict[str, bool]]:
    """Snapshot dates (ISO strings, latest first) and whether each is a month-end; resets
    anything in the session the current warehouse does not have."""
    snapshots = data.snapshot_dates(token)
    dates = [day.isoformat() for day in snapshots["as_of"].to_list()]
    month_end = dict(zip(dates, snapshots["is_month_end"].to_list(), strict=True))
    state = st.session_state
    if state.get("as_of") not in month_end:
        state["as_of"] = dates[0]
    townships = data.townships(token)["township_code"].to_list()
    household = state.get("household") or ""
    if household and not state.get("village"):
        # A link naming only the household: find its village.
        home = data.household_home(token, date.fromisoformat(state["as_of"]), household)
        if home:
            state["township"], state["village"] = home["township_code"], home["village_code"]
    if state.get("village") and not state.get("township"):
        state["township"] = state["village"][:9]
    if state.get("township") not in townships:
        state["township"] = ""
    if state.get("township"):
        village_codes = data.villages(token, state["township"])["village_code"].to_list()
        if state.get("village") not in village_codes:
            state["village"] = ""
    else:
        state["village"] = ""
    if not state.get("village"):
        state["household"] = ""
    # The month the grade migration compares with: a snapshot before the chosen one.
    if state.get("compare") not in month_end or state["compare"] >= state["as_of"]:
        state["compare"] = ""
    return dates, month_end


def _sidebar(token: data.Warehouse) -> View:
    info = data.build_info(token)
    dates, month_end = _valid_choices(token)
    state = st.session_state
    with st.sidebar:
        st.markdown(f"### 惠农信用看板\n{info['district_name']} 金融扶贫信用工程")
        st.selectbox(
            "统计月份",
            dates,
            key="as_of",
            format_func=lambda iso: fmt.as_of_label(date.fromisoformat(iso), month_end[iso]),
        )
        township_table = data.townships(token)
        township_names = dict(
            zip(township_table["township_code"], township_table["township_name"], strict=True)
        )
        st.selectbox(
            "乡镇",
            ["", *township_names],
            key="township",
            format_func=lambda code: township_names.get(code, f"全区（{info['district_name']}）"),
            on_change=_clear_below_township,
        )
        if state["township"]:
            village_table = data.villages(token, state["township"])
            village_names = dict(
                zip(village_table["village_code"], village_table["village_name"], strict=True)
            )
            st.selectbox(
                "行政村",
                ["", *village_names],
                key="village",
                format_func=lambda code: village_names.get(code, "全乡镇"),
                on_change=_clear_household,
            )
        st.caption(
            f"数据截至 {fmt.date_label(info['as_of'])}；"
            f"构建于 {fmt.timestamp_label(info['built_at'])}"
        )
    if state.get("village"):
        scope = data.Scope.village(state["village"])
    elif state.get("township"):
        scope = data.Scope.township(state["township"])
    else:
        scope = data.Scope.district()
    return View(
        token=token,
        as_of=date.fromisoformat(state["as_of"]),
        is_month_end=month_end[state["as_of"]],
        scope=scope,
        household=state.get("household") or None,
        meeting=bool(state.get("meeting")),
    )


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


page = st.navigation(PAGES)
base_css()
_load_url_once()
_apply_pending()
token = data.current_warehouse()
if token is None:
    st.session_state[VIEW_KEY] = None
    with st.sidebar:
        st.warning(data.warehouse_problem() or MISSING_WAREHOUSE.format(path=data.warehouse_path()))
else:
    view = _sidebar(token)
    st.session_state[VIEW_KEY] = view
    _write_url(view, page.url_path)
page.run()
