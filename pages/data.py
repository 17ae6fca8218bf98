"""数据管理: upload a delivery, read its validation report, send the bad rows back, publish;
withdraw a delivery found wrong; confirm a change of the headline figures.

Nothing here reads or changes the warehouse by itself: an upload is validated against the raw
store in a memory-limited child process (huinong.intake.preview_isolated), never in the
dashboard's own; 发布 accepts it into the store (accept_delivery) and starts the rebuild in the
background (huinong.rebuild). 撤回 marks a delivery withdrawn (it stays in the store) and
rebuilds without it. The dashboard keeps serving the previous warehouse until the build
publishes the new one, and a failed build leaves it as it was. Uploaded files are only ever read
as data: the intake parses CSV text and xlsx cell values; nothing in them is executed, evaluated
or computed (no formulas, no pickle).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath

import polars as pl
import streamlit as st

from huinong import data, export, rebuild
from huinong import format as fmt
from huinong.auth import id_numbers_in_text_for
from huinong.intake import (
    PREVIEW_DELIVERY_ID,
    IntakeError,
    IntakeSummary,
    accept_delivery,
    active_deliveries,
    list_deliveries,
    preview_isolated,
    withdraw_delivery,
)
from huinong.schema import RAW_FILES
from pages import _signin as signin
from pages import _ui as ui

ui.route_if_run_directly()

LOG = logging.getLogger("huinong.data_page")
UPLOAD_TYPES = ("csv", "xlsx", "zip")
UPLOAD_ROOT = Path(tempfile.gettempdir()) / "huinong-uploads"
UPLOAD_FOLDER = "上传的文件"  # intake messages name the folder: "上传的文件/ 中同时有 …"
UPLOAD_MAX_AGE_SECONDS = 24 * 3600
PREVIEW_ROWS = 200
STATUS_REFRESH_SECONDS = 2
THIS_DELIVERY = "本批"

store = rebuild.store_path()
db = data.warehouse_path()
view: ui.View | None = st.session_state.get(ui.VIEW_KEY)
state = st.session_state
# app.py lets only manage_data holders reach this page; every upload, publish and rebuild started
# here is recorded in the audit trail as theirs.
user = signin.current_user()
audit = signin.audit_trail()


def _upload_limit_bytes() -> int:
    return int(st.get_option("server.maxUploadSize")) * 1024 * 1024


def _file_label(source_file: str) -> str:
    raw_file = RAW_FILES.get(source_file)
    return raw_file.label if raw_file else source_file


def _delivery_label(delivery_id: str | None) -> str:
    if delivery_id == PREVIEW_DELIVERY_ID:
        return THIS_DELIVERY
    return f"第 {delivery_id} 批" if delivery_id else "—"


def _actor() -> str:
    """Who acts on this page, for the store (withdrawals, rebuilds): the signed-in user."""
    return user.username


def _audit(event: str, **details) -> None:
    """Record in the audit trail as the signed-in user."""
    audit.record(event, user, **details)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return f"{fmt.date_label(moment.date())} {moment:%H:%M:%S}"


def _plain_table(frame: pl.DataFrame, *, title: str, key: str) -> None:
    """A table with Chinese headers: with CSV/xlsx downloads when a warehouse gives the files
    their district and month, without when there is none yet."""
    if view is not None:
        ui.table(frame, title=title, key=key, view=view)
    else:
        ui.show_frame(frame, key=key)


# ── the rebuild's status ──────────────────────────────────────────────────────────────────────


def _log_tail(lines: Sequence[str], count: int = 8) -> str:
    """The build's latest progress lines, never a traceback."""
    shown = []
    for line in lines:
        if line.startswith("Traceback"):
            break
        if line.strip():
            shown.append(line)
    return "\n".join(shown[-count:])


def _show_status(status: rebuild.RebuildStatus) -> None:
    token = data.current_warehouse()
    built = data.build_info(token, view.scope)["built_at"] if token and view else None
    serving = f"（构建于 {fmt.timestamp_label(built)}）" if built else ""
    if status.state == "idle":
        st.caption("还没有从本页发起过数据更新。")
        return
    if status.state == "running":
        st.progress(status.fraction, text=f"正在更新数据仓库：{status.stage}")
        st.caption(
            f"开始于 {_when(status.started_at)}。更新期间看板照常使用，显示原有数据{serving}；"
            "完成后自动切换到新数据，无需重启。"
        )
        tail = _log_tail(status.progress_lines)
        if tail:
            st.code(tail, language=None)
        return
    if status.state == "succeeded":
        st.success(
            f"数据更新完成（{_when(status.finished_at)}）：{status.message}"
            f"\n\n看板已切换到新数据{serving}。",
            icon=":material/check_circle:",
        )
        return
    st.error(
        f"数据更新失败（{_when(status.finished_at or status.started_at)}）：\n\n"
        f"{fmt.markdown_lines(status.message)}",
        icon=":material/error:",
    )
    st.info(
        f"看板仍显示原有数据{serving}，没有受到影响。已接收的报送保存在接收库中；"
        "问题解决后可点击下方「重新更新」。",
        icon=":material/info:",
    )
    if status.jump:
        _jump_confirmation(status)


def _jump_confirmation(status: rebuild.RebuildStatus) -> None:
    """The build stopped because headline figures moved beyond their bounds: a person who has
    checked the deliveries it names may confirm, and the same build runs again to publish."""
    with st.container(border=True):
        st.markdown("##### 确认指标变化")
        st.caption(
            "上面列出的指标变化超出了合理范围，数据仓库没有更新。请先核对列出的报送；"
            "如确认变化属实（例如集中放款、整村补录），可确认后发布。有误的报送请在下方撤回。"
        )
        confirmed = st.checkbox(
            "我已核对上述报送，确认这些变化属实",
            # One box per refused build: a later refusal asks again.
            key=f"jump_checked_{status.started_at}",
        )
        if st.button(
            "确认变化并发布",
            key="accept_jump",
            type="primary",
            disabled=not confirmed,
            icon=":material/task_alt:",
        ):
            state["publish_message"] = "已确认指标变化，正在重新构建并发布。"
            _start_rebuild(after_publish=False, accept_jump=True)
            st.rerun()


def _status_panel() -> None:
    status = rebuild.rebuild_status(db)
    _show_status(status)
    if status.running:
        state["rebuild_watched"] = True
    elif state.pop("rebuild_watched", False):
        # The rebuild just ended: rerun the whole page, so that the sidebar, the tables and the
        # other pages read the new warehouse (or go on with the old one).
        st.rerun()


# ── uploads ───────────────────────────────────────────────────────────────────────────────────


def _safe_name(name: str) -> str | None:
    """The upload's file name without any folder part, or None when it is not a plain name."""
    base = PurePosixPath(PureWindowsPath(name).name).name.strip()
    if not base or base.startswith(".") or base in ("..", "."):
        return None
    if PurePosixPath(base).suffix.lower().lstrip(".") not in UPLOAD_TYPES:
        return None
    return base


def _clean_old_uploads() -> None:
    if not UPLOAD_ROOT.is_dir():
        return
    now = time.time()
    for folder in UPLOAD_ROOT.iterdir():
        try:
            if now - folder.stat().st_mtime > UPLOAD_MAX_AGE_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def _forget_upload() -> None:
    folder = state.pop("upload_dir", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
    for key in ("upload_signature", "upload_candidate", "upload_summary", "upload_error"):
        state.pop(key, None)


def _write_upload(files: Sequence) -> Path:
    """The uploaded bytes in a fresh folder (a zip as it came: the intake checks and unpacks
    it); returns what to validate: the zip, or the folder of csv/xlsx files."""
    names = []
    for uploaded in files:
        name = _safe_name(uploaded.name)
        if name is None:
            raise IntakeError(f"文件名“{uploaded.name}”不是 csv、xlsx 或 zip 文件，无法接收")
        names.append(name)
    if len({name.lower() for name in names}) < len(names):
        raise IntakeError("上传的文件中有重名文件，请检查后重新上传")
    zips = [name for name in names if name.lower().endswith(".zip")]
    if zips and len(names) > 1:
        raise IntakeError(
            "请上传一个 zip 压缩包，或若干 csv/xlsx 文件；不要同时上传多个压缩包或混合上传"
        )
    UPLOAD_ROOT.mkdir(parents=True, exist_ok=True)
    _clean_old_uploads()
    work = Path(tempfile.mkdtemp(prefix="upload-", dir=UPLOAD_ROOT))
    state["upload_dir"] = str(work)
    folder = work / UPLOAD_FOLDER
    folder.mkdir()
    for uploaded, name in zip(files, names, strict=True):
        (folder / name).write_bytes(uploaded.getvalue())
    return folder / zips[0] if zips else folder


def _validate(files: Sequence) -> None:
    """Validate the uploaded files once per upload (kept in the session until they change)."""
    try:
        # A withdrawal changes what the upload is checked against, as a new delivery does.
        accepted = tuple(
            (delivery.delivery_id, delivery.withdrawn is None)
            for delivery in list_deliveries(store)
        )
    except IntakeError as error:
        state["upload_error"] = str(error)
        return
    signature = (
        tuple((uploaded.file_id, uploaded.name, uploaded.size) for uploaded in files),
        accepted,
    )
    if state.get("upload_signature") == signature:
        return
    _forget_upload()
    state["upload_signature"] = signature
    try:
        candidate = _write_upload(files)
        state["upload_candidate"] = str(candidate)
        with st.spinner("正在校验上传的文件（连同已接收的报送一起核对）…"):
            # In a child process with its own memory limit, never in the dashboard's.
            state["upload_summary"] = preview_isolated(store, candidate)
    except IntakeError as error:
        state["upload_error"] = str(error)
    except Exception:
        LOG.exception("preview of an upload failed")
        state["upload_error"] = "校验时发生程序错误，文件未被接收。请检查文件后重试，或联系管理员。"
    _record_upload(files)


def _record_upload(files: Sequence) -> None:
    """One audit row per uploaded set of files, with what the validation made of it."""
    summary: IntakeSummary | None = state.get("upload_summary")
    mine = [c for c in summary.files if c.delivery_id == PREVIEW_DELIVERY_ID] if summary else []
    audit.record(
        "upload",
        user,
        files=[uploaded.name for uploaded in files],
        bytes=sum(uploaded.size for uploaded in files),
        outcome="refused" if state.get("upload_error") else "validated",
        error=state.get("upload_error"),
        rows_read=sum(counts.rows_read for counts in mine),
        rows_loaded=sum(counts.rows_loaded for counts in mine),
        rows_quarantined=sum(counts.rows_quarantined for counts in mine),
    )


def _unrecognised(files: Sequence) -> list[str]:
    """Uploaded csv/xlsx files whose names are not a raw file of the contract."""
    names = [_safe_name(uploaded.name) or uploaded.name for uploaded in files]
    return [
        name
        for name in names
        if not name.lower().endswith(".zip")
        and PurePosixPath(name).stem.strip().lower() not in RAW_FILES
    ]


# ── the validation report ─────────────────────────────────────────────────────────────────────


def _candidate_quarantine(summary: IntakeSummary) -> pl.DataFrame:
    """This delivery's quarantined rows; the rows as read with their ID numbers masked unless
    the user may read them in full (as the warehouse's quarantine is, in SQL)."""
    frame = summary.quarantine
    if frame is None:
        return pl.DataFrame()
    mine = frame.filter(pl.col("delivery_id") == PREVIEW_DELIVERY_ID)
    return mine.with_columns(
        pl.col("original")
        .cast(pl.String)
        .map_elements(lambda text: id_numbers_in_text_for(user, text), return_dtype=pl.String)
    )


def _file_counts(summary: IntakeSummary) -> pl.DataFrame:
    """Per file: this delivery's first, then the accepted deliveries' (whose rows it may
    supersede)."""
    counts = sorted(
        summary.files,
        key=lambda item: (
            item.delivery_id != PREVIEW_DELIVERY_ID,
            item.delivery_id or "",
            item.file_name,
        ),
    )
    return pl.DataFrame(
        {
            "delivery_id": [_delivery_label(item.delivery_id) for item in counts],
            "file": [item.file_name for item in counts],
            "file_label": [_file_label(item.source_file) for item in counts],
            "rows_read": [item.rows_read for item in counts],
            "rows_loaded": [item.rows_loaded for item in counts],
            "rows_quarantined": [item.rows_quarantined for item in counts],
            "rows_superseded": [item.rows_superseded for item in counts],
        },
        schema_overrides={
            name: pl.Int64
            for name in ("rows_read", "rows_loaded", "rows_quarantined", "rows_superseded")
        },
    )


def _reason_counts(quarantine: pl.DataFrame) -> pl.DataFrame:
    if quarantine.height == 0:
        return pl.DataFrame()
    return (
        quarantine.select("source_file", "reasons")
        .explode("reasons")
        .with_columns(pl.col("reasons").str.split("：").list.first().alias("reason"))
        .group_by("source_file", "reason")
        .agg(pl.len().alias("rows"))
        .sort(["rows", "source_file", "reason"], descending=[True, False, False])
        .with_columns(
            pl.col("source_file")
            .map_elements(_file_label, return_dtype=pl.String)
            .alias("file_label")
        )
        .select("file_label", "reason", "rows")
    )


def _report(summary: IntakeSummary, files: Sequence) -> None:
    quarantine = _candidate_quarantine(summary)
    mine = [counts for counts in summary.files if counts.delivery_id == PREVIEW_DELIVERY_ID]
    read = sum(counts.rows_read for counts in mine)
    loaded = sum(counts.rows_loaded for counts in mine)
    quarantined = sum(counts.rows_quarantined for counts in mine)
    superseded = sum(
        counts.rows_superseded
        for counts in summary.files
        if counts.delivery_id != PREVIEW_DELIVERY_ID
    )
    if summary.already_accepted:
        st.info(
            f"这批文件与第 {summary.already_accepted} 批报送内容完全相同，已经接收过，无需再次发布。",
            icon=":material/info:",
        )
    ui.kpi_cards(
        [
            ui.Card("读取", fmt.count(read, "行")),
            ui.Card("载入", fmt.count(loaded, "行")),
            ui.Card("隔离", fmt.count(quarantined, "行")),
            ui.Card(
                "替换已接收的行",
                fmt.count(superseded, "行"),
                help="已接收报送中与本批同一编号的行，发布后以本批为准。",
            ),
        ],
        key="upload",
    )
    unknown = _unrecognised(files)
    if unknown:
        st.warning(
            f"未识别的文件（不会接收）：{fmt.markdown_text('、'.join(unknown))}。文件名应为 "
            + "、".join(f"{name}.csv" for name in RAW_FILES)
            + " 或对应的 .xlsx。",
            icon=":material/help:",
        )

    st.markdown("##### 各文件读取、载入与隔离行数")
    _plain_table(_file_counts(summary), title="校验报告（各文件）", key="upload_files")
    st.caption("“本批”为待发布的文件；其余为已接收的报送，被本批同一编号的行替换的行数记在其上。")

    if quarantine.height:
        st.markdown(f"##### 隔离原因（本批共 {quarantined:,} 行）")
        reasons = _reason_counts(quarantine)
        top = reasons.head(5).iter_rows(named=True)
        st.markdown(
            "\n".join(
                f"- {row['file_label']}：**{row['reason']}** {row['rows']:,} 行" for row in top
            )
        )
        _plain_table(reasons, title="隔离原因", key="upload_reasons")
        st.markdown("##### 被隔离的行")
        rows = export.quarantine_rows(quarantine.head(PREVIEW_ROWS))
        ui.show_frame(rows.select("file", "row_number", "record_key", "reasons"), key="隔离记录")
        if quarantine.height > PREVIEW_ROWS:
            st.caption(f"仅显示前 {PREVIEW_ROWS} 行，完整记录请下载。")
        stamp = datetime.now().strftime("%Y%m%d_%H%M")
        st.download_button(
            "下载隔离记录（xlsx，退回村组核实）",
            data=ui.export_file(
                export.QUARANTINE_SPEC,
                lambda: [export.quarantine_rows(quarantine)],
                "xlsx",
                user=user,
                file_stem=f"隔离记录_{stamp}",
                heading="数据报送隔离记录（请核实改正后重新报送）",
                subheading=(
                    f"共 {quarantine.height:,} 行；文件："
                    + "、".join(dict.fromkeys(quarantine["file_name"].to_list()))
                ),
                area="本批上传",
            ),
            file_name=f"隔离记录_{stamp}.xlsx",
            mime=export.XLSX_MIME,
            key="upload_quarantine_xlsx",
            on_click="ignore",
            icon=":material/download:",
        )
    else:
        st.success("本批所有行均通过校验，没有被隔离的行。", icon=":material/check_circle:")

    extras = [extra for extra in summary.extra_columns if extra.delivery_id == PREVIEW_DELIVERY_ID]
    if extras:
        st.markdown("##### 未识别的列（另存备查，不参与计算）")
        _plain_table(
            pl.DataFrame(
                {
                    "file": [extra.file_name for extra in extras],
                    "column_name": [extra.column_name for extra in extras],
                    "non_empty_values": [extra.non_empty_values for extra in extras],
                }
            ),
            title="未识别的列",
            key="upload_extras",
        )
    missing = [item for item in summary.missing_columns if item[1] in {c.file_name for c in mine}]
    if missing:
        st.caption(
            "缺少的可选列（按空值处理）："
            + "；".join(f"{file_name} 无“{label}”" for _, file_name, label in missing)
        )


def _publish(running: bool) -> None:
    summary: IntakeSummary = state["upload_summary"]
    with st.container(border=True):
        st.markdown("##### 发布")
        quarantined = _candidate_quarantine(summary).height
        if quarantined:
            st.caption(
                f"发布后，被隔离的 {quarantined:,} 行不进入数据仓库；其余行进入接收库并更新看板。"
            )
        label = st.text_input(
            "报送单位",
            key="source_label",
            placeholder="例如：会兴街道上村村委会",
            max_chars=60,
        )
        disabled = running or bool(summary.already_accepted)
        clicked = st.button(
            "发布",
            type="primary",
            disabled=disabled,
            key="publish",
            icon=":material/publish:",
            help="已有更新在进行中" if running else None,
        )
        if running:
            st.caption("已有更新在进行中，完成后才能发布。")
        if not clicked:
            return
        if not label.strip():
            st.error("请填写报送单位（例如村委会或乡镇信用站的名称）后再发布。")
            return
        try:
            delivery = accept_delivery(
                store, Path(state["upload_candidate"]), source_label=label.strip()
            )
        except IntakeError as error:
            st.error(f"接收失败：{fmt.markdown_lines(error)}")
            return
        except Exception:
            LOG.exception("accepting an upload failed")
            st.error("接收时发生程序错误，报送未被接收。请稍后重试，或联系管理员。")
            return
        state["publish_message"] = delivery.describe()
        if not delivery.already_accepted:
            mine = [counts for counts in summary.files if counts.delivery_id == PREVIEW_DELIVERY_ID]
            audit.record(
                "publish",
                user,
                delivery=delivery.delivery_id,
                source_label=label.strip(),
                files=[item.name for item in delivery.files],
                rows=sum(counts.rows_read for counts in mine),
            )
        _start_rebuild(after_publish=True)
        _forget_upload()
        state["uploader_round"] = state.get("uploader_round", 0) + 1
        st.rerun()


def _start_rebuild(after_publish: bool, accept_jump: bool = False) -> None:
    accepted = "报送已接收入库，将在下一次更新时进入看板。" if after_publish else ""
    trigger = "publish" if after_publish else "manual"
    try:
        rebuild.start_rebuild(store, db, accept_jump=accept_jump, by=_actor())
    except rebuild.RebuildBusy as error:
        state["publish_warning"] = f"{error}{accepted}"
        audit.record("rebuild", user, trigger=trigger, outcome="busy")
    except OSError:
        LOG.exception("starting a rebuild failed")
        state["publish_warning"] = f"无法启动数据更新（程序错误），请联系管理员。{accepted}"
        audit.record("rebuild", user, trigger=trigger, outcome="failed_to_start")
    else:
        audit.record("rebuild", user, trigger=trigger, outcome="started")


# ── what is in the store and in the warehouse ─────────────────────────────────────────────────


def _deliveries(running: bool) -> None:
    try:
        deliveries = list_deliveries(store)
    except IntakeError as error:
        st.error(f"读取接收库失败：{fmt.markdown_lines(error)}")
        deliveries = []
    else:
        if not deliveries:
            st.info(f"接收库（{store}）中还没有报送。", icon=":material/inbox:")
    if deliveries:
        _deliveries_table(deliveries)
        _withdraw_section(deliveries, running)
    if st.button(
        "重新更新",
        key="rebuild_again",
        disabled=running or not store.is_dir(),
        icon=":material/refresh:",
        help="按接收库中全部已接收的报送重新构建数据仓库（例如上次更新失败、问题解决之后）。",
    ):
        _start_rebuild(after_publish=False)
        st.rerun()


def _deliveries_table(deliveries: Sequence) -> None:
    frame = pl.DataFrame(
        {
            "delivery_id": [delivery.delivery_id for delivery in deliveries],
            "accepted_at": [fmt.timestamp_label(delivery.accepted_at) for delivery in deliveries],
            "source_label": [delivery.source_label for delivery in deliveries],
            "files": ["、".join(item.name for item in delivery.files) for delivery in deliveries],
            "delivery_status": [delivery.status for delivery in deliveries],
            "withdrawal": [delivery.withdrawal_text() for delivery in deliveries],
        }
    ).reverse()
    _plain_table(frame, title="已接收的报送", key="deliveries")


def _withdraw_section(deliveries: Sequence, running: bool) -> None:
    """Withdraw a delivery found wrong: it stays in the store, marked with who, when and why,
    and the warehouse is rebuilt without it."""
    active = [delivery.delivery_id for delivery in active_deliveries(list(deliveries))]
    if not active:
        return
    with st.expander("撤回一批报送", icon=":material/undo:"):
        st.caption(
            "撤回的报送仍保存在接收库中（记录撤回人、时间和原因），之后的数据更新不再读取它。"
            "撤回后将自动重新更新数据仓库。"
        )
        chosen = st.selectbox(
            "要撤回的批次",
            list(reversed(active)),
            format_func=lambda delivery_id: _delivery_label(delivery_id),
            key="withdraw_id",
            width=320,
        )
        reason = st.text_input(
            "撤回原因",
            key="withdraw_reason",
            placeholder="例如：贷款金额录入错误，待银行更正后重新报送",
            max_chars=200,
        )
        clicked = st.button(
            "撤回",
            key="withdraw",
            disabled=running,
            icon=":material/undo:",
            help="已有更新在进行中" if running else None,
        )
        if not clicked:
            return
        try:
            delivery = withdraw_delivery(store, chosen, reason, _actor())
        except IntakeError as error:
            st.error(f"撤回失败：{fmt.markdown_lines(error)}")
            return
        except Exception:
            LOG.exception("withdrawing a delivery failed")
            st.error("撤回时发生程序错误，报送未被撤回。请稍后重试，或联系管理员。")
            return
        _audit("withdraw", delivery=delivery.delivery_id, reason=reason.strip())
        state["publish_message"] = (
            f"已撤回第 {delivery.delivery_id} 批报送（{delivery.withdrawal_text()}），"
            "正在重新更新数据仓库。"
        )
        _start_rebuild(after_publish=False)
        state.pop("withdraw_reason", None)
        st.rerun()


def _warehouse_intake(token: data.Warehouse, scope: data.Scope) -> None:
    report = data.load_report(token, scope).with_columns(
        pl.col("delivery_id").map_elements(_delivery_label, return_dtype=pl.String),
        pl.col("source_file").map_elements(_file_label, return_dtype=pl.String).alias("file_label"),
    )
    st.markdown("##### 载入报告（各文件）")
    ui.table(
        report.select(
            "delivery_id",
            "file_label",
            "file_name",
            "rows_read",
            "rows_loaded",
            "rows_quarantined",
            "rows_superseded",
        ),
        title="数据载入报告",
        key="load_report",
        view=view,
    )
    reasons = data.quarantine_reasons(token, scope)
    if reasons.height:
        st.markdown("##### 隔离原因")
        ui.table(
            reasons.with_columns(
                pl.col("source_file")
                .map_elements(_file_label, return_dtype=pl.String)
                .alias("file_label")
            ).select("file_label", "reason", "rows"),
            title="隔离原因汇总",
            key="load_reasons",
            view=view,
        )
    present = set(data.load_report(token, scope)["source_file"].to_list())
    options = ["", *[name for name in RAW_FILES if name in present]]
    st.markdown("##### 隔离记录")
    chosen = st.selectbox(
        "按文件筛选",
        options,
        format_func=lambda name: f"{_file_label(name)}（{name}）" if name else "全部文件",
        key="quarantine_file",
        width=320,
    )
    total = data.quarantine_count(token, scope, chosen)
    if total == 0:
        where = "所选文件" if chosen else "当前数据仓库"
        st.success(f"{where}没有被隔离的行。", icon=":material/check_circle:")
        return
    rows = export.quarantine_rows(data.quarantine(token, scope, chosen))
    note = None
    if total > rows.height:
        note = f"仅显示前 {rows.height:,} 行（共 {total:,} 行），完整记录请下载。"
    ui.table(
        rows.select("file", "row_number", "record_key", "reasons", "original"),
        title="隔离记录",
        key=f"quarantine_{chosen or 'all'}",
        view=view,
        spec=export.QUARANTINE_SPEC,
        download_rows=lambda: (
            export.quarantine_rows(batch)
            for batch in data.stream_quarantine(
                token, data.authorize(user, purpose="export"), chosen
            )
        ),
        note=note,
    )


# ── the page ──────────────────────────────────────────────────────────────────────────────────

ui.page_header("数据管理")
st.caption(f"接收库：{store}　|　数据仓库：{db}")

status_now = rebuild.rebuild_status(db)
running = status_now.running
st.subheader("数据更新")
for key, show in (("publish_message", st.success), ("publish_warning", st.warning)):
    message = state.pop(key, None)
    if message:
        show(message)
st.fragment(run_every=STATUS_REFRESH_SECONDS if running else None)(_status_panel)()

st.subheader("上传报送")
limit_mb = _upload_limit_bytes() // (1024 * 1024)
files = st.file_uploader(
    "选择报送文件：households、loans、schedule、repayments、villages、entities 的 csv 或 xlsx，"
    "或把它们打成一个 zip 压缩包",
    type=list(UPLOAD_TYPES),
    accept_multiple_files=True,
    key=f"uploader_{state.get('uploader_round', 0)}",
    help=f"合计不超过 {limit_mb} MB。文件只作为数据读取，其中的公式、宏不会被计算或执行。",
)
if not files:
    _forget_upload()
    st.caption("上传后先显示校验报告（读取、载入、隔离的行数和原因），确认无误再发布。")
elif sum(uploaded.size for uploaded in files) > _upload_limit_bytes():
    _forget_upload()
    total_mb = sum(uploaded.size for uploaded in files) / (1024 * 1024)
    st.error(f"上传的文件合计 {total_mb:,.1f} MB，超过上限 {limit_mb} MB，请分批报送。")
else:
    _validate(files)
    if state.get("upload_error"):
        # The message may name an uploaded file: its name is text, never markup.
        st.error(f"无法接收：{fmt.markdown_text(state['upload_error'])}", icon=":material/error:")
    elif state.get("upload_summary") is not None:
        st.markdown("#### 校验报告（尚未发布）")
        _report(state["upload_summary"], files)
        _publish(running)

st.subheader("已接收的报送")
_deliveries(running)

st.subheader("当前数据仓库的载入情况")
warehouse = data.current_warehouse()
if warehouse is None or view is None:
    st.info("数据仓库尚未构建：发布第一批报送后自动构建。", icon=":material/info:")
else:
    info = data.build_info(warehouse, view.scope)
    st.caption(
        f"数据截至 {fmt.date_label(info['as_of'])}；构建于 {fmt.timestamp_label(info['built_at'])}"
    )
    _warehouse_intake(view.token, view.scope)
