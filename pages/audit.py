"""审计日志: who signed in, exported, uploaded, published, rebuilt and changed users, for the
审计 role (read_audit); filtered by time, user and kind of event, and exported (that export is
itself recorded). The hash chain is checked on every visit."""

from __future__ import annotations

import json
from datetime import date, timedelta

import polars as pl
import streamlit as st

from huinong import export
from huinong import format as fmt
from huinong.audit import EVENTS
from huinong.auth import roles
from pages import _signin as signin
from pages import _ui as ui

ui.route_if_run_directly()

MAX_ROWS = 10_000
DEFAULT_DAYS = 30
# The details' keys in words (huinong.audit.EVENTS lists what each event carries).
DETAIL_WORDS = {
    "source": "登录方式",
    "reason": "原因",
    "failures": "失败次数",
    "until": "锁定至",
    "target": "对象用户",
    "role": "角色",
    "township": "乡镇",
    "village": "行政村",
    "old_role": "原角色",
    "old_township": "原乡镇",
    "old_village": "原行政村",
    "page": "页面",
    "household": "农户",
    "as_of": "统计日期",
    "report": "报表",
    "file_format": "格式",
    "file_name": "文件名",
    "scope": "范围",
    "rows": "行数",
    "full_ids": "完整身份证号",
    "files": "文件",
    "bytes": "字节数",
    "outcome": "结果",
    "error": "错误",
    "rows_read": "读取行数",
    "rows_loaded": "载入行数",
    "rows_quarantined": "隔离行数",
    "delivery": "批次",
    "source_label": "报送单位",
    "trigger": "触发",
}
VALUE_WORDS = {
    True: "是",
    False: "否",
    "local": "本地密码",
    "oidc": "统一身份认证",
    "wrong_password": "密码错误",
    "unknown_user": "用户名不存在",
    "locked": "账号已锁定",
    "disabled": "账号已停用",
    "wrong_current_password": "当前密码错误",
    "idle": "长时间未操作",
    "lifetime": "超过登录时限",
    "started": "已启动",
    "busy": "已有更新在进行",
    "validated": "已校验",
    "refused": "拒收",
    "publish": "发布后",
    "manual": "手动",
}
AUDIT_SPEC = export.TableSpec(
    "审计日志",
    "审计日志",
    (
        export.Column("at", "时间", "text"),
        export.Column("event_label", "事件", "text"),
        export.Column("username", "用户名", "text"),
        export.Column("display_name", "姓名", "text"),
        export.Column("role_label", "角色", "text"),
        export.Column("area", "范围", "text"),
        export.Column("details_words", "详情", "longtext"),
    ),
)


def _value_words(value: object) -> str:
    if isinstance(value, list):
        return "、".join(_value_words(item) for item in value)
    if isinstance(value, bool | str) and value in VALUE_WORDS:
        return VALUE_WORDS[value]
    return str(value)


def details_words(details: str | None) -> str:
    """{"report": "信用户名单", "rows": 12} → 报表：信用户名单；行数：12."""
    try:
        values = json.loads(details or "{}")
    except json.JSONDecodeError:
        return details or ""
    return "；".join(
        f"{DETAIL_WORDS.get(key, key)}：{_value_words(value)}"
        for key, value in values.items()
        if value is not None
    )


def _readable(events: pl.DataFrame) -> pl.DataFrame:
    labels = {name: role.label for name, role in roles().items()}
    return events.select(
        pl.col("at").dt.strftime("%Y-%m-%d %H:%M:%S").alias("at"),
        "event_label",
        "username",
        "display_name",
        pl.col("role").replace_strict(labels, default=pl.col("role")).alias("role_label"),
        pl.coalesce("village_code", "township_code").alias("area"),
        pl.col("details")
        .map_elements(details_words, return_dtype=pl.String)
        .alias("details_words"),
    )


user = signin.current_user()
trail = signin.audit_trail()
ui.page_header("审计日志")

head = trail.head()
broken = trail.verify()
if broken is None:
    st.success(
        f"哈希链校验通过：共 {head.rows:,} 条记录，未发现改动。末条摘要 {head.last_hash[:16]}"
        "（定期抄录备查，可发现末尾记录被删除）。",
        icon=":material/verified:",
    )
else:
    st.error(
        f"审计日志第 {broken:,} 条记录与哈希链不符：该条或其前面的记录在看板之外被改动、插入或删除。"
        "请立即报告信息安全负责人，并保留 audit.sqlite 文件。",
        icon=":material/gpp_bad:",
    )

today = date.today()
left, middle, right = st.columns([2, 2, 3])
chosen = left.date_input(
    "时间范围",
    value=(today - timedelta(days=DEFAULT_DAYS), today),
    max_value=today,
    format="YYYY-MM-DD",
    key="audit_dates",
)
since, until = (chosen[0], chosen[-1]) if isinstance(chosen, tuple | list) else (chosen, chosen)
username = middle.selectbox(
    "用户",
    ["", *trail.usernames()],
    format_func=lambda name: name or "全部用户",
    key="audit_user",
)
kinds = right.multiselect(
    "事件",
    list(EVENTS),
    format_func=EVENTS.get,
    placeholder="全部事件",
    key="audit_events",
)
events = trail.query(
    since=since,
    until=until,
    username=username or None,
    events=kinds or None,
    limit=MAX_ROWS + 1,
)
capped = events.height > MAX_ROWS
shown = _readable(events.head(MAX_ROWS))
st.caption(
    f"{fmt.date_label(since)} 至 {fmt.date_label(until)}，共 {shown.height:,} 条"
    + ("（仅显示最近 10,000 条，请缩小范围）" if capped else "")
    + "。时间为本机时间，最新的在前。"
)
st.dataframe(
    shown.rename({column.key: column.label for column in AUDIT_SPEC.columns}),
    key="audit_table",
    hide_index=True,
    width="stretch",
    alt="审计日志",
    placeholder="—",
)
ui.audited_downloads(
    AUDIT_SPEC,
    lambda: [shown],
    key="audit_export",
    user=user,
    file_stem=f"审计日志_{since:%Y%m%d}_{until:%Y%m%d}",
    heading=f"审计日志（{fmt.date_label(since)} 至 {fmt.date_label(until)}）",
    subheading=(
        f"用户：{username or '全部'}　事件："
        + ("、".join(EVENTS[kind] for kind in kinds) if kinds else "全部")
    ),
    area="审计日志",
    needs="read_audit",
)
