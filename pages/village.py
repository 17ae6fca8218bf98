"""村级钻取: district → township → village → household, by clicking a row or the sidebar.

A township shows its villages (with their stale ratings) and why it trips or not; a village its
figures, why it trips (熔断原因) and its households; a household its score step by step from
the base score with the conditions behind each item, its vetoes linked to their causes (the
loan, the collection), whether its rating rests on a stale collection, its grade history, and
its loans with the plan against payments and DPD. Amounts in 万元 above a household, in 元 on
one.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from huinong import charts, data, export
from huinong import format as fmt
from pages import _signin as signin
from pages import _ui as ui
from pages import _why as why_ui

ui.route_if_run_directly()
view = ui.current_view()
names = data.place_names(view.token, view.scope)


def breadcrumb() -> None:
    """湖滨区 › 会兴街道 › 上村 › 户: each level above the current one is a button."""
    levels = [("district", names["district_name"], {})]
    if view.scope.township_code:
        levels.append(("township", names["township_name"], {"township": view.scope.township_code}))
    if view.scope.village_code:
        levels.append(
            (
                "village",
                names["village_name"],
                {"township": view.scope.township_code, "village": view.scope.village_code},
            )
        )
    current_depth = len(levels) + (1 if view.household else 0)
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        for depth, (level, label, target) in enumerate(levels):
            if depth == current_depth - 1:
                st.markdown(f"**{fmt.markdown_text(label)}**", width="content")
            elif st.button(
                f"{fmt.markdown_text(label)} ›",
                key=f"crumb_{level}",
                type="tertiary",
                disabled=not _may_go_up(level),
            ):
                ui.go_to(**target)
        if view.household:
            # The household comes from the URL: plain text, never markup.
            st.markdown(f"**农户 {fmt.markdown_text(view.household)}**", width="content")


def _may_go_up(level: str) -> bool:
    """A township account cannot go up to the district, a village account not above its
    village: the breadcrumb's levels above the user's own area are shown, not offered."""
    own = view.user.scope_level
    if own == "township":
        return level != "district"
    if own == "village":
        return level not in ("district", "township")
    return True


def area_list() -> None:
    """The townships of the district or the villages of a township (with their stale ratings);
    a click goes one down. A township says first why it trips or not."""
    if view.scope.level == "township":
        why_ui.township_trip_panel(view, view.scope.township_code, key="village")
    areas = data.area_table(view.token, view.as_of, view.scope)
    stale = why_ui.freshness_by_area(view)
    areas = areas.join(stale, on="area_code", how="left").with_columns(
        pl.col("households_rating_stale").fill_null(0)
    )
    level_name = "乡镇" if view.scope.level == "district" else "行政村"
    st.subheader(f"{level_name}一览（点击一行进入{level_name}）")
    rows = ui.table(
        areas.rename({"area_name": "township_name" if level_name == "乡镇" else "village_name"}),
        title=f"{level_name}一览",
        key=f"areas_{view.scope.level}_{view.scope.code}_{view.as_of}",
        view=view,
        selectable=True,
        unit="万元",
        note=(
            f"评级过期户数：评分所依据的信息采集已超过 {why_ui.stale_line(view)} 个月的农户，"
            "请安排重新采集。"
        ),
    )
    if rows:
        code = areas["area_code"][rows[0]]
        if view.scope.level == "district":
            ui.go_to(township=code)
        else:
            ui.go_to(township=view.scope.township_code, village=code)


def village_view() -> None:
    kpi = data.kpi(view.token, view.as_of, view.scope).row(0, named=True)
    status = kpi["breaker_status"]
    freshness = data.rating_freshness(view.token, view.as_of, view.scope)
    stale = int(freshness["households_rating_stale"].sum()) if freshness.height else 0
    ui.kpi_cards(
        [
            ui.Card("熔断状态", ui.STATUS_BADGES[status]),
            ui.Card("不良率", fmt.percent(kpi["npl_rate"])),
            ui.Card("评级农户", fmt.count(kpi["households_rated"], "户")),
            ui.Card("信用户", fmt.count(kpi["households_credit"], "户"), help="A级及以上"),
            ui.Card("贷款余额（万元）", fmt.wan(kpi["outstanding_balance"], unit=False)),
            ui.Card(
                "停止授信",
                fmt.count(kpi["households_credit_stopped"], "户"),
                help="停止新增授信的农户（R-B3）",
            ),
            ui.Card(
                "评级过期",
                fmt.count(stale, "户"),
                help=f"评分所依据的信息采集已超过 {why_ui.stale_line(view)} 个月，应重新采集",
            ),
        ],
        key="village",
    )
    if status in ("熔断", "预警"):
        why_ui.village_trip_panel(view, view.scope.village_code, key="village")

    if not view.scope.names_households:
        # 领导小组: figures and charts, never a list of named households.
        st.info(
            f"本村评级农户 {fmt.count(kpi['households_rated'], '户')}。"
            "本账号只查看汇总数据，不显示农户名单。",
            icon=":material/info:",
        )
        return
    st.subheader("农户一览（点击一行查看农户）")
    orders = {
        "household": "按农户编号",
        "score_desc": "评分从高到低",
        "score_asc": "评分从低到高",
        "dpd_desc": "逾期天数从长到短",
        "outstanding_desc": "贷款余额从高到低",
    }
    order = st.selectbox(
        "排序", list(orders), format_func=orders.get, key="household_order", width=240
    )
    total = data.household_count(view.token, view.as_of, view.scope)
    rows = data.households(view.token, view.as_of, view.scope, order=order)
    note = None
    if total > rows.height:
        note = f"仅显示前 {rows.height:,} 户（共 {total:,} 户），请缩小范围或下载完整名单。"
    picked = ui.table(
        rows.select(
            "household_id",
            "head_name",
            "registered_poor",
            "grade",
            "score",
            "credit_limit",
            "available_credit",
            "outstanding_principal",
            "max_dpd",
            "vetoes",
            "credit_stopped",
        ),
        title="农户信用明细",
        key=f"households_{view.scope.code}_{view.as_of}_{order}",
        view=view,
        selectable=True,
        download_rows=ui.report_rows(view, "households"),
        spec=export.REPORT_SPECS["households"],
        note=note,
        height=420,
    )
    if picked:
        ui.go_to(
            township=view.scope.township_code,
            village=view.scope.village_code,
            household=rows["household_id"][picked[0]],
        )


def household_view(household_id: str) -> None:
    found = data.household(view.token, view.as_of, view.scope, household_id)
    if found.height == 0:
        st.warning(
            f"农户 {fmt.markdown_text(household_id)} 在{view.as_of_label}未评级（尚无信息采集）"
            "或不属于本村。"
        )
        return
    _record_view(household_id)
    row = found.row(0, named=True)
    badges = []
    if row["registered_poor"]:
        badges.append("建档立卡")
    if row["credit_stopped"]:
        badges.append("停止新增授信")
    st.subheader(
        f"{fmt.markdown_text(row['head_name'] or '')}（农户编号 {fmt.markdown_text(household_id)}）"
        + "　".join(badges)
    )
    # The ID number as the data layer returned it: masked unless the user holds view_full_id.
    st.caption(
        f"身份证号 {fmt.markdown_text(row['head_id_number'] or '—')}；"
        f"评分依据 {fmt.date_label(row['collected_on'])} 的信息采集"
    )
    ui.kpi_cards(
        [
            ui.Card("信用等级", row["grade"]),
            ui.Card("评分", f"{row['score']} 分"),
            ui.Card("授信额度（元）", fmt.yuan(row["credit_limit"], unit=False)),
            ui.Card("可用额度（元）", fmt.yuan(row["available_credit"], unit=False)),
            ui.Card("贷款余额（元）", fmt.yuan(row["outstanding_principal"], unit=False)),
            ui.Card(
                "最长逾期天数",
                f"{row['max_dpd']} 天",
                help="该户当日在贷贷款中逾期最长的天数；已结清或已核销的贷款见下方贷款列表。",
            ),
        ],
        key="household",
    )
    if row.get("rating_stale"):
        st.warning(
            f"评级所依据的信息采集（{fmt.date_label(row['collected_on'])}）已有 "
            f"{row['collection_age_months']} 个月，超过 {why_ui.stale_line(view)} 个月："
            "评级可能已不反映该户现状，请安排重新采集。",
            icon=":material/history:",
        )
    _vetoes(household_id, row)

    steps = fmt.score_steps(
        row,
        data.policy(view.token, view.scope),
        hide_sensitive=not view.scope.shows_sensitive_vetoes,
    )
    left, right = st.columns([3, 2])
    left.plotly_chart(charts.score_waterfall(steps, large=view.meeting), width="stretch")
    with right:
        st.markdown("**评分过程**（每项后为成立的条件）")
        st.markdown(_step_lines(household_id, steps))
    steps_table = pl.DataFrame(
        {"step": [step.label for step in steps], "points": [step.points for step in steps]}
    )
    with st.expander("评分过程（表格，可下载）"):
        ui.table(steps_table, title="评分过程", key=f"steps_{household_id}", view=view)

    st.markdown(f"#### 等级历史（近 {data.HISTORY_MONTHS} 个月）")
    history = data.household_history(view.token, view.as_of, view.scope, household_id)
    st.plotly_chart(
        charts.grade_history(history, ui.cut_offs(view), large=view.meeting), width="stretch"
    )
    with st.expander("等级历史（表格，可下载）"):
        ui.table(
            history.select(
                "as_of",
                "grade",
                "score",
                "raw_score",
                "credit_limit",
                "available_credit",
                "outstanding_principal",
                "max_dpd",
                "vetoes",
            ),
            title="等级历史",
            key=f"history_{household_id}",
            view=view,
        )

    st.markdown("#### 贷款")
    loans = data.household_loans(view.token, view.as_of, view.scope, household_id)
    if loans.height == 0:
        st.info("该户没有贷款记录。")
        return
    ui.table(
        loans.select(
            "loan_id",
            "amount",
            "disbursed_on",
            "maturity_on",
            "loan_state",
            "outstanding_principal",
            "dpd",
            "five_tier",
            "worst_dpd",
            "missed_instalments",
            "first_npl_on",
            "written_off_on",
            "fully_covered_on",
        ),
        title="农户贷款",
        key=f"loans_{household_id}",
        view=view,
        note="包括已结清、已核销的贷款；逾期天数、五级分类为统计日在贷贷款的读数。",
    )
    states = dict(zip(loans["loan_id"], loans["loan_state"], strict=True))
    loan_id = st.selectbox(
        "查看贷款",
        loans["loan_id"].to_list(),
        format_func=lambda loan: f"{loan}（{states[loan]}）",
        key=_loan_key(household_id),
    )
    loan_history = data.loan_history(view.token, view.as_of, view.scope, loan_id)
    repayments = data.loan_repayments(view.token, view.as_of, view.scope, loan_id)
    st.plotly_chart(
        charts.loan_repayment(repayments, loan_history, f"贷款 {loan_id}", large=view.meeting),
        width="stretch",
    )
    with st.expander("还款计划与还清情况（表格，可下载）"):
        ui.table(
            data.loan_instalments(view.token, view.as_of, view.scope, loan_id).select(
                "installment_no",
                "due_on",
                "principal_due",
                "interest_due",
                "amount_due",
                "cumulative_due",
                "covered_on",
                "was_missed",
            ),
            title=f"贷款{loan_id}还款计划",
            key=f"loan_plan_{loan_id}",
            view=view,
        )
    with st.expander("逐月贷款状态（表格，可下载）"):
        ui.table(
            loan_history.select("as_of", "outstanding_principal", "dpd", "five_tier"),
            title=f"贷款{loan_id}逐月状态",
            key=f"loan_history_{loan_id}",
            view=view,
        )


def _loan_key(household_id: str) -> str:
    return f"loan_pick_{household_id}"


def _show_loan(household_id: str, loan_id: str) -> None:
    st.session_state[_loan_key(household_id)] = loan_id


def _vetoes(household_id: str, row: dict) -> None:
    """Each veto with its cause: V3 the loan (a written-off one: 已核销贷款仍未还清) with a
    button that shows it below; V1/V2/V4 the collected item with its collection date (V1/V2 only
    with view_sensitive_vetoes, otherwise 不宜公开事项)."""
    vetoes = list(row["vetoes"] or [])
    if not vetoes:
        return
    causes = data.veto_causes(view.token, view.as_of, view.scope, household_id)
    for veto in vetoes:
        mine = causes.filter(pl.col("veto") == veto).to_dicts()
        words = fmt.VETO_WORDS.get(veto, veto)
        details = []
        for cause in mine:
            text = cause["cause"]
            if cause["collected_on"] is not None:
                text += f"（{fmt.date_label(cause['collected_on'])} 采集）"
            details.append(fmt.markdown_text(text))
        body = f"**{words}**" + ("：" + "；".join(details) if details else "")
        st.error(body, icon=":material/block:")
        loans = [cause["loan_id"] for cause in mine if cause.get("loan_id")]
        if loans:
            with st.container(horizontal=True, gap="small"):
                for loan in loans:
                    st.button(
                        f"查看贷款 {loan}",
                        key=f"veto_loan_{household_id}_{loan}",
                        on_click=_show_loan,
                        args=(household_id, loan),
                        help="在下方“贷款”中显示该笔贷款的还款计划与还款情况",
                        icon=":material/receipt_long:",
                    )


def _step_lines(household_id: str, steps) -> str:
    """评分过程 as a numbered list, each item with the conditions that held (A1: which of its
    four), from the collection the score used and the loan book since."""
    conditions = data.score_conditions(view.token, view.as_of, view.scope, household_id)
    hidden = set() if view.scope.shows_sensitive_vetoes else set(fmt.SENSITIVE_ITEMS)
    by_item: dict[str, list[str]] = {}
    for condition in conditions.iter_rows(named=True):
        if condition["item"] in hidden:
            continue
        words = condition["condition"]
        if condition["points"]:
            words += f" {fmt.points(condition['points'])}"
        by_item.setdefault(condition["item"], []).append(fmt.markdown_text(words))
    lines = []
    for position, step in enumerate(steps, 1):
        line = f"{position}. {fmt.markdown_text(step.label)}"
        held = by_item.pop(step.item, None) if step.item else None
        if held:
            line += "：" + "、".join(held)
        lines.append(line)
    return "\n".join(lines)


def _record_view(household_id: str) -> None:
    """One audit row per household a user opens in a session (not one per rerun): who read
    whose personal information, as PIPL Art. 51 expects to be logged."""
    seen = st.session_state.setdefault("households_viewed", set())
    if household_id in seen:
        return
    seen.add(household_id)
    signin.audit_trail().record(
        "view_personal",
        view.user,
        page="村级钻取",
        household=household_id,
        village=view.scope.village_code,
        as_of=view.as_of,
        full_ids=view.scope.full_ids,
    )


ui.page_header("村级钻取", view)
breadcrumb()
if view.household and view.scope.level == "village":
    household_view(view.household)
elif view.scope.level == "village":
    village_view()
else:
    area_list()
