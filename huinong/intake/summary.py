"""What one intake read, loaded, quarantined and superseded, and how it says so to a clerk."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from huinong.intake.sources import DEFAULT_VILLAGES
from huinong.schema import PREVIEW_DELIVERY_ID, RAW_FILES


@dataclass(frozen=True)
class FileCounts:
    source_file: str
    file_name: str
    delivery_id: str | None
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_superseded: int


@dataclass(frozen=True)
class ExtraColumn:
    source_file: str
    file_name: str
    delivery_id: str | None
    column_name: str
    non_empty_values: int


@dataclass
class IntakeSummary:
    """What one intake read, loaded, quarantined and superseded."""

    files: list[FileCounts]
    extra_columns: list[ExtraColumn]
    missing_columns: list[tuple[str, str, str]]
    reason_counts: pl.DataFrame
    delivery_ids: list[str] = field(default_factory=list)
    default_villages: bool = False
    quarantine: pl.DataFrame | None = None
    already_accepted: str | None = None
    # What a clerk should know of a file beyond its rows (merged cells, formula cells …).
    notes: list[str] = field(default_factory=list)
    withdrawn_ids: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, FileCounts]:
        """Counts per source file, summed over deliveries, in schema order."""
        totals: dict[str, FileCounts] = {}
        for name in RAW_FILES:
            rows = [counts for counts in self.files if counts.source_file == name]
            if not rows:
                continue
            totals[name] = FileCounts(
                source_file=name,
                file_name="、".join(dict.fromkeys(counts.file_name for counts in rows)),
                delivery_id=None,
                rows_read=sum(counts.rows_read for counts in rows),
                rows_loaded=sum(counts.rows_loaded for counts in rows),
                rows_quarantined=sum(counts.rows_quarantined for counts in rows),
                rows_superseded=sum(counts.rows_superseded for counts in rows),
            )
        return totals

    @property
    def rows_quarantined(self) -> int:
        return sum(counts.rows_quarantined for counts in self.files)

    def describe(self) -> str:
        totals = self.totals()
        read = sum(counts.rows_read for counts in totals.values())
        loaded = sum(counts.rows_loaded for counts in totals.values())
        quarantined = sum(counts.rows_quarantined for counts in totals.values())
        superseded = sum(counts.rows_superseded for counts in totals.values())
        accepted = [item for item in self.delivery_ids if item != PREVIEW_DELIVERY_ID]
        if len(accepted) < len(self.delivery_ids):
            scope = f"已接收的 {len(accepted)} 批报送 + 待接收的一批"
        elif accepted:
            scope = f"{len(accepted)} 批报送"
        else:
            scope = "原始数据文件夹"
        lines = [
            f"数据接收（{scope}）：读取 {read:,} 行，载入 {loaded:,} 行，"
            f"隔离 {quarantined:,} 行"
            + (f"，被后续报送替换 {superseded:,} 行" if superseded else "")
            + "。"
        ]
        if self.already_accepted:
            lines.append(f"待接收的文件与第 {self.already_accepted} 批报送完全相同，已接收过。")
        if self.withdrawn_ids:
            lines.append(f"已撤回、未读取的报送：第 {'、'.join(self.withdrawn_ids)} 批。")
        for name, counts in totals.items():
            line = (
                f"  {RAW_FILES[name].label}（{name}）：读取 {counts.rows_read:,}，"
                f"载入 {counts.rows_loaded:,}，隔离 {counts.rows_quarantined:,}"
            )
            if counts.rows_superseded:
                line += f"，被替换 {counts.rows_superseded:,}"
            lines.append(line)
        absent = [name for name in RAW_FILES if name not in totals]
        for name in absent:
            lines.append(f"  {RAW_FILES[name].label}（{name}）：未提供（可选）")
        if self.default_villages:
            lines.append(f"  行政区划使用默认名单：{DEFAULT_VILLAGES.as_posix()}")
        if self.extra_columns:
            extras = "；".join(
                f"{extra.file_name} 的“{extra.column_name}”（{extra.non_empty_values:,} 个非空值）"
                for extra in self.extra_columns
            )
            lines.append(f"  未识别的列（已另存，不参与计算）：{extras}")
        if self.missing_columns:
            missing = "；".join(
                f"{file_name} 无“{label}”" for _, file_name, label in self.missing_columns
            )
            lines.append(f"  缺少的可选列（按空值处理）：{missing}")
        for note in self.notes:
            lines.append(f"  注意：{note}")
        if self.reason_counts.height:
            top = self.reason_counts.sort("rows", descending=True).head(5)
            reasons = "；".join(
                f"{row['reason']}（{row['source_file']}）{row['rows']:,} 行"
                for row in top.iter_rows(named=True)
            )
            lines.append(f"  主要隔离原因：{reasons}")
        return "\n".join(lines)


def size_text(size: int) -> str:
    if size >= 1 << 20:
        return f"{size / (1 << 20):.1f} MB"
    if size >= 1 << 10:
        return f"{size / (1 << 10):.1f} KB"
    return f"{size} 字节"
