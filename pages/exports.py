"""报表导出: the monthly briefing (PDF) and the standard tables sent upward, for the month and
scope chosen in the sidebar."""

from __future__ import annotations

from dataclasses import replace

import polars as pl
import streamlit as st

from huinong import data, export
from huinong import format as fmt
from pages import _ui as ui

ui.route_if_run_directly()
view = ui.current_view()
ui.page_header("报表导出", view)

id_words = "身份证号" if view.user.has("export_full_id") else "身份证号（隐去中间位）"
REPORTS = {
    "township_summary": "各乡镇评级、授信、贷款、不良与熔断情况，附全区合计。",
    "village_breaker": "每个行政村的贷款余额、不良余额、不良率与熔断状态。",
    "credit_households": f"A级及以上信用户：户主姓名、{id_words}、评分、等级、授信与可用额度。",
    "grade_notice": "供行政村张贴公示的评定结果（身份证号隐去中间位）。",
}
PREVIEW_ROWS = 200

ui.briefing_button(view, key="exports")
st.caption(
    "每张表均为所选月份、所选范围；xlsx 含标题行（地区、月份、生成时间）、中文表头、冻结表头、"
    "金额千分位、身份证号按文本保存；CSV 为 UTF-8（带 BOM）编码，Excel、WPS 双击即可打开，"
    "身份证号和代码前带一个看不见的制表符，保持为完整的文本；汇总表的 CSV 末行为合计。"
)
if view.scope.level == "district":
    st.info("信用评定公示表按行政村张贴：请在左侧选择乡镇和行政村后下载。", icon=":material/info:")


def _spec(report: str) -> export.TableSpec:
    """The report's table; 乡镇汇总表's totals row is 全区合计 only for the whole district."""
    spec = export.REPORT_SPECS[report]
    if report == "township_summary" and view.scope.level != "district":
        return replace(spec, totals_label="合计")
    return spec


def _with_totals(preview: pl.DataFrame, spec: export.TableSpec) -> pl.DataFrame:
    """A summary table's preview with its totals row, as the xlsx and the CSV end."""
    totals = export.totals_row(spec, preview)
    row = pl.DataFrame([totals], schema=preview.schema, strict=False)
    return pl.concat([preview, row], how="vertical_relaxed")


for report, description in REPORTS.items():
    spec = _spec(report)
    rows = data.report_row_count(view.token, report, view.as_of, view.scope)
    named = report in data.NAMED_REPORTS
    with st.container(border=True):
        st.markdown(f"#### {spec.title}")
        if named and not view.scope.names_households:
            # 领导小组: how many, never who.
            st.caption(f"{description}　共 {fmt.count(rows)} 户。")
            st.info("本账号只查看汇总数，不能查看或导出农户名单。", icon=":material/info:")
            continue
        st.caption(f"{description}　共 {fmt.count(rows)} 行。")
        ui.download_buttons(
            spec,
            ui.report_rows(view, report),
            key=f"export_{report}",
            view=view,
        )
        with st.expander(f"预览（前 {min(rows, PREVIEW_ROWS):,} 行）"):
            preview = data.report_preview(view.token, report, view.as_of, view.scope, PREVIEW_ROWS)
            if spec.mask_ids:
                preview = preview.with_columns(
                    preview["head_id_number"].map_elements(fmt.mask_id_number, return_dtype=str)
                )
            preview = preview.select([column.key for column in spec.columns])
            if spec.csv_totals and rows <= PREVIEW_ROWS:
                preview = _with_totals(preview, spec)
            ui.show_frame(preview, key=report, spec=spec)
