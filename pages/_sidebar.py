"""The view of a signed-in session: the link it opened with, the sidebar (snapshot month, area,
找农户), the refusal of an area or household that is not the user's, and the URL kept in step.

Every view is addressable: the page path plus the query parameters as_of, township, village and
household (meeting=1 for 会议模式 on every page, compare for the month 信用评级 compares with)
reproduce it, so a link pasted into a chat opens the same view, after the sign-in, for whoever
may see it. A link is read once, when a session starts (huinong.links.resolve_link): every
parameter that cannot be shown as asked (an invalid date, a month without data, an unknown
code, an unknown parameter) is named in a message above the page, with the nearest snapshot
offered as a button, and the address bar keeps the link as it was written until the user picks
another view: nothing is silently replaced. An area or household outside the user's own (from
a link, a click or a session-state edit) is refused by name, recorded, and nothing of it shown.

app.py imports this module only once the user has signed in: with it come the data layer,
polars and DuckDB, which the sign-in form (a new session's first screen) does without.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import streamlit as st

from huinong import data
from huinong import format as fmt
from huinong.auth import AccessDenied, User
from huinong.links import LinkMessage, resolve_link
from pages import _signin as signin
from pages._ui import PENDING_KEY, View

URL_KEYS = ("as_of", "township", "village", "household", "meeting", "compare")
LINK_KEY = "link"  # the link a session opened with, while its messages stand


@dataclass(frozen=True)
class OpenedLink:
    """A link whose parameters could not all be shown as asked: on its page, while the view is
    the one it resolved to, the messages stay above the page and the URL stays as written."""

    page: str
    view: dict
    messages: tuple[LinkMessage, ...]


def _is_code(text: str, digits: int) -> bool:
    return len(text) == digits and text.isascii() and text.isdigit()


def load_link(token: data.Warehouse, user: User, page_path: str) -> None:
    """A new session (a pasted link, a reload) starts from the URL's query parameters, checked
    by huinong.links.resolve_link against the warehouse and the user's area. An area or
    household outside the user's own is left to the refusal (_requested_scope: named, recorded,
    nothing shown) rather than answered with a message."""
    state = st.session_state
    if state.get("url_loaded"):
        return
    state["url_loaded"] = True
    params = {key: st.query_params.get(key) for key in st.query_params}
    root = data.authorize(user)
    snapshots = data.snapshot_dates(token, root)["as_of"].to_list()
    township_table = data.townships(token, root)
    village_table = data.villages(token, root)
    raw = {key: str(params.get(key) or "").strip() for key in ("township", "village", "household")}
    refused = False
    try:
        data.authorize(
            user,
            raw["township"] if _is_code(raw["township"], 9) else None,
            raw["village"] if _is_code(raw["village"], 12) else None,
        )
    except AccessDenied:
        refused = True
    if raw["household"] and not root.names_households:
        refused = True

    def household_home(household: str, as_of) -> tuple[str, str] | None:
        if not root.names_households:
            return None
        home = data.household_home(token, as_of, root, household)
        return (home["township_code"], home["village_code"]) if home else None

    view, messages = resolve_link(
        params,
        snapshots,
        dict(zip(township_table["township_code"], township_table["township_name"], strict=True)),
        dict(zip(village_table["village_code"], village_table["village_name"], strict=True)),
        household_home,
    )
    if raw["household"] and not view["household"]:
        refused = True  # not the user's to open (or not rated then): refused by name
    if refused:
        view.update(raw)
        messages = [m for m in messages if m.parameter not in ("township", "village", "household")]
    for key in URL_KEYS:
        state[key] = view[key]
    if messages:
        state[LINK_KEY] = OpenedLink(page_path, _link_view(view), tuple(messages))


def _link_view(values) -> dict:
    return {key: values.get(key) or "" for key in URL_KEYS if key != "meeting"} | {
        "meeting": bool(values.get("meeting"))
    }


def link_messages(page_path: str) -> None:
    """What the link asked that is not shown as asked, each naming its parameter; a nearer
    snapshot offered as a button."""
    opened: OpenedLink | None = st.session_state.get(LINK_KEY)
    if opened is None or opened.page != page_path:
        return
    for position, message in enumerate(opened.messages):
        st.warning(fmt.markdown_text(message.text), icon=":material/link_off:")
        if message.suggestion:
            label = "、".join(
                fmt.as_of_label(date.fromisoformat(value), _month_end(date.fromisoformat(value)))
                for value in message.suggestion.values()
            )
            st.button(
                f"改看 {label}（并更新地址栏中的链接）",
                key=f"link_suggestion_{position}",
                on_click=_adopt_suggestion,
                args=(message.suggestion,),
                icon=":material/event:",
            )


def _month_end(day: date) -> bool:
    return (day + timedelta(days=1)).day == 1


def _adopt_suggestion(suggestion: dict[str, str]) -> None:
    for key, value in suggestion.items():
        st.session_state[key] = value
    st.session_state.pop(LINK_KEY, None)


def apply_pending() -> None:
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
                f"所选日期 {state['as_of']} 没有数据，已显示最新月份。"
            )
        state["as_of"] = dates[0]
    # The month the grade migration compares with: a snapshot before the chosen one.
    if state.get("compare") not in month_end or state["compare"] >= state["as_of"]:
        state["compare"] = ""
    return dates, month_end


def draw(token: data.Warehouse, user: User) -> tuple[View, str | None]:
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
        if root.names_households:
            _search(token, root, date.fromisoformat(state["as_of"]))
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


def write_url(view: View, page_path: str) -> None:
    """Keep the URL in step with the view, so that copying it shares exactly this view; except
    while a link's messages stand (the link as written stays until the user picks a view)."""
    state = st.session_state
    opened: OpenedLink | None = state.get(LINK_KEY)
    if opened is not None:
        now = _link_view(
            {
                "as_of": view.as_of.isoformat(),
                "township": view.scope.township_code,
                "village": view.scope.village_code,
                "household": view.household,
                "compare": state.get("compare"),
                "meeting": view.meeting,
            }
        )
        if opened.page == page_path and now == opened.view:
            return
        state.pop(LINK_KEY)
    wanted = {"as_of": view.as_of.isoformat()}
    if view.scope.township_code:
        wanted["township"] = view.scope.township_code
    if view.scope.village_code:
        wanted["village"] = view.scope.village_code
    if view.household and page_path == "village":
        wanted["household"] = view.household
    if view.meeting:
        wanted["meeting"] = "1"
    if page_path == "grades" and state.get("compare"):
        wanted["compare"] = state["compare"]
    current = {key: st.query_params.get(key) for key in st.query_params}
    if current != wanted:
        st.query_params.from_dict(wanted)


def write_meeting() -> None:
    """A page without a view (使用说明, 用户管理 …) keeps only 会议模式 in its link."""
    if st.session_state.get("meeting"):
        if st.query_params.get("meeting") != "1":
            st.query_params["meeting"] = "1"
    elif "meeting" in st.query_params:
        del st.query_params["meeting"]


SEARCH_SHOWN = 10  # households listed in the sidebar for one search


def _search(token: data.Warehouse, root: data.Scope, as_of: date) -> None:
    """找农户: a household anywhere in the user's area by the head's name, the household id or
    the ID number (huinong.data.find_households); a result opens the household on 村级钻取."""
    text = st.text_input(
        "找农户",
        key="search_text",
        placeholder="户主姓名、农户编号或身份证号",
        help="在本账号可查看的范围内查找（不限于上面选择的乡镇、行政村）；"
        "身份证号输入完整18位或后4位。按回车查找。",
    ).strip()
    if not text:
        return
    try:
        found = data.find_households(token, as_of, root, text)
    except data.SearchRefused as refused:
        st.warning(fmt.markdown_text(str(refused)), icon=":material/search_off:")
        return
    if found.is_empty():
        st.caption(f"没有找到“{fmt.markdown_text(text)}”。")
        return
    total = int(found["total_matches"][0])
    shown = found.head(SEARCH_SHOWN)
    note = f"找到 {total:,} 户" + (f"，显示前 {shown.height} 户" if total > shown.height else "")
    st.caption(note + "（点击查看）：")
    for row in shown.iter_rows(named=True):
        label = (
            f"{row['head_name'] or '—'}（{row['household_id']}）"
            f" {row['township_name']} {row['village_name']} · {row['grade']}"
        )
        if st.button(
            fmt.markdown_text(label),
            key=f"found_{row['household_id']}",
            type="tertiary",
            help=f"按{row['matched_by']}找到；身份证号 {row['head_id_number'] or '—'}",
        ):
            st.session_state[PENDING_KEY] = {
                "township": row["township_code"],
                "village": row["village_code"],
                "household": row["household_id"],
            }
            st.switch_page("pages/village.py")


def area_label(token: data.Warehouse | None, user: User) -> str:
    if user.scope_level == "none":
        return "不查看看板数据"
    if user.scope_level == "district" or token is None:
        return user.area_label()
    names = data.place_names(token, data.authorize(user))
    return " ".join(name for name in (names["township_name"], names["village_name"]) if name)
