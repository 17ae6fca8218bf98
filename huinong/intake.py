"""Raw files → the ``raw`` schema: typed tables of the rows that pass, and a quarantine for the rest.

A raw folder is either one delivery (``NAME.csv`` / ``NAME.xlsx``) or a
delivery store (``deliveries/NNNN/`` each with a ``manifest.json``), read in
acceptance order: a later delivery's row supersedes an earlier one with the
same key. Every row read ends up loaded, quarantined with every reason, or
superseded, and ``raw.load_report`` says how many of each, per file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import stat
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import duckdb
import polars as pl

import huinong
from huinong.intake_parse import (
    WHITESPACE_SQL,
    ColumnSql,
    IntakeError,
    StagedFile,
    column_sql,
    inspect_csv,
    inspect_xlsx,
    normalised_cell,
    register_nfkc,
    sql_text,
    stage_csv,
    stage_xlsx,
    staging_columns,
    unregister_nfkc,
)
from huinong.schema import RAW_FILES, RawFile, create_table_sql

__all__ = [
    "Delivery",
    "DeliveryFile",
    "ExtraColumn",
    "FileCounts",
    "IntakeError",
    "IntakeSummary",
    "ZipLimits",
    "accept_delivery",
    "list_deliveries",
    "load_raw",
    "preview_delivery",
]

Progress = Callable[[str], None]

DEFAULT_VILLAGES = Path("seeds") / "hubin_villages.csv"
FILE_EXTENSIONS = (".csv", ".xlsx")
MANIFEST = "manifest.json"
MAX_ZIP_MEMBERS = 50
MAX_ZIP_BYTES = 500 * 1024 * 1024
MAX_ZIP_RATIO = 100
PREVIEW_DELIVERY_ID = "待接收"
KEY_SEPARATOR = " / "
DETAIL_ROWS = 5


# --- What the intake hands back --------------------------------------------------------------


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
        if self.reason_counts.height:
            top = self.reason_counts.sort("rows", descending=True).head(5)
            reasons = "；".join(
                f"{row['reason']}（{row['source_file']}）{row['rows']:,} 行"
                for row in top.iter_rows(named=True)
            )
            lines.append(f"  主要隔离原因：{reasons}")
        return "\n".join(lines)


@dataclass(frozen=True)
class DeliveryFile:
    name: str
    source_file: str
    sha256: str
    size: int


@dataclass
class Delivery:
    """One accepted delivery in the store."""

    delivery_id: str
    path: Path
    accepted_at: dt.datetime
    source_label: str
    files: list[DeliveryFile]
    ignored: list[str] = field(default_factory=list)
    source_name: str = ""
    already_accepted: bool = False

    def describe(self) -> str:
        when = self.accepted_at.strftime("%Y-%m-%d %H:%M")
        files = "、".join(f"{item.name}（{_size_text(item.size)}）" for item in self.files)
        if self.already_accepted:
            text = (
                f"这批文件与第 {self.delivery_id} 批报送（{when} 接收，来源：{self.source_label}）"
                f"内容完全相同，已经接收过，接收库未作改动。"
            )
        else:
            text = f"已接收第 {self.delivery_id} 批报送（来源：{self.source_label}，{when}）：{files}。"
        if self.ignored:
            text += f"未识别、未接收的文件：{'、'.join(self.ignored)}。"
        return text


def _size_text(size: int) -> str:
    if size >= 1 << 20:
        return f"{size / (1 << 20):.1f} MB"
    if size >= 1 << 10:
        return f"{size / (1 << 10):.1f} KB"
    return f"{size} 字节"


# --- Finding the files -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """One file to read: which raw file it is, from which delivery."""

    raw_file: RawFile
    path: Path
    seq: int
    delivery_id: str | None
    file_name: str

    @property
    def display_name(self) -> str:
        if self.delivery_id and self.delivery_id != PREVIEW_DELIVERY_ID:
            return f"第 {self.delivery_id} 批报送的 {self.file_name}"
        return self.file_name


def _recognise(name: str) -> RawFile | None:
    path = PurePosixPath(name)
    if path.suffix.lower() in FILE_EXTENSIONS:
        return RAW_FILES.get(path.stem.strip().lower())
    return None


def _folder_files(folder: Path, where: str) -> tuple[dict[str, Path], list[str]]:
    """Recognised files of a delivery folder by source file, and the names left aside."""
    found: dict[str, Path] = {}
    ignored: list[str] = []
    for path in sorted(folder.iterdir()):
        if path.name == MANIFEST or path.name.startswith("."):
            continue
        raw_file = _recognise(path.name) if path.is_file() else None
        if raw_file is None:
            if path.suffix.lower() == ".xls" and path.stem.lower() in RAW_FILES:
                raise IntakeError(
                    f"{where}{path.name} 是旧版 Excel（.xls）格式，"
                    f"请另存为 {path.stem}.xlsx 或 {path.stem}.csv 后重新报送"
                )
            ignored.append(path.name + ("/" if path.is_dir() else ""))
            continue
        if raw_file.name in found:
            raise IntakeError(
                f"{where}同时有 {found[raw_file.name].name} 和 {path.name}，"
                f"无法确定用哪一个作为{raw_file.label}"
            )
        found[raw_file.name] = path
    return found, ignored


def _is_store(raw_dir: Path) -> bool:
    return (raw_dir / "deliveries").is_dir()


def _delivery_dirs(store: Path) -> Iterator[Path]:
    deliveries = store / "deliveries"
    if not deliveries.is_dir():
        return
    for path in sorted(deliveries.iterdir(), key=lambda item: (len(item.name), item.name)):
        # A folder without a manifest is an acceptance that never finished.
        if path.is_dir() and not path.name.startswith(".") and (path / MANIFEST).is_file():
            yield path


def _read_delivery(path: Path) -> Delivery:
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        files = [
            DeliveryFile(item["name"], item["source_file"], item["sha256"], int(item["size"]))
            for item in manifest["files"]
        ]
        accepted_at = dt.datetime.fromisoformat(manifest["accepted_at"])
        delivery_id = str(manifest["delivery_id"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise IntakeError(f"接收库中 {path.name} 的 {MANIFEST} 已损坏，无法读取") from error
    for item in files:
        if not (path / item.name).is_file():
            raise IntakeError(f"接收库中第 {delivery_id} 批报送缺少文件 {item.name}")
    return Delivery(
        delivery_id=delivery_id,
        path=path,
        accepted_at=accepted_at,
        source_label=str(manifest.get("source_label", "")),
        files=files,
        ignored=list(manifest.get("ignored", [])),
        source_name=str(manifest.get("source_name", "")),
    )


def list_deliveries(store: Path) -> list[Delivery]:
    """The store's accepted deliveries, in acceptance order."""
    return [_read_delivery(path) for path in _delivery_dirs(Path(store))]


def _store_sources(deliveries: list[Delivery]) -> list[_Source]:
    sources: list[_Source] = []
    for seq, delivery in enumerate(deliveries, start=1):
        for item in delivery.files:
            sources.append(
                _Source(
                    RAW_FILES[item.source_file],
                    delivery.path / item.name,
                    seq,
                    delivery.delivery_id,
                    item.name,
                )
            )
    return sources


def _folder_sources(folder: Path, seq: int, delivery_id: str | None) -> list[_Source]:
    found, _ = _folder_files(folder, "")
    return [
        _Source(RAW_FILES[name], path, seq, delivery_id, path.name) for name, path in found.items()
    ]


# --- load_raw ----------------------------------------------------------------------------------


def load_raw(
    raw_dir: Path, con: duckdb.DuckDBPyConnection, progress: Progress | None = None
) -> IntakeSummary:
    """Read a raw folder or delivery store into ``raw.*`` on ``con``.

    Raises IntakeError when a file cannot be read at all; bad rows go to
    ``raw.quarantine`` instead.
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise IntakeError(f"原始数据文件夹不存在：{raw_dir}")
    deliveries: list[Delivery] = []
    if _is_store(raw_dir):
        deliveries = list_deliveries(raw_dir)
        if not deliveries:
            raise IntakeError(f"数据接收库 {raw_dir} 中还没有任何已接收的报送")
        sources = _store_sources(deliveries)
    else:
        sources = _folder_sources(raw_dir, 1, None)
    return _run_intake(con, sources, deliveries, progress)


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def _run_intake(
    con: duckdb.DuckDBPyConnection,
    sources: list[_Source],
    deliveries: list[Delivery],
    progress: Progress | None,
    *,
    keep_quarantine: bool = False,
) -> IntakeSummary:
    present = {source.raw_file.name for source in sources}
    for raw_file in RAW_FILES.values():
        if raw_file.required and raw_file.name not in present:
            raise IntakeError(
                f"缺少必需文件：{raw_file.name}（{raw_file.label}），"
                f"应为 {raw_file.name}.csv 或 {raw_file.name}.xlsx"
            )
    default_villages = "villages" not in present
    if default_villages:
        seed = huinong.REPO_ROOT / DEFAULT_VILLAGES
        sources = [
            _Source(RAW_FILES["villages"], seed, 0, None, f"默认：{DEFAULT_VILLAGES.as_posix()}"),
            *sources,
        ]
    insertion_order = con.execute("select current_setting('preserve_insertion_order')").fetchone()
    work_dir = Path(tempfile.mkdtemp(prefix="huinong-intake-"))
    run = _IntakeRun(con, sources, deliveries, progress, work_dir)
    try:
        # Row numbers come from scan order, which only this setting keeps.
        con.execute("set preserve_insertion_order = true")
        register_nfkc(con)
        summary = run.execute(keep_quarantine=keep_quarantine)
    finally:
        run.drop_temporaries()
        unregister_nfkc(con)
        con.execute(f"set preserve_insertion_order = {'true' if insertion_order[0] else 'false'}")
        shutil.rmtree(work_dir, ignore_errors=True)
    summary.default_villages = default_villages
    summary.delivery_ids = [delivery.delivery_id for delivery in deliveries]
    return summary


# --- Rules beyond a column's kind --------------------------------------------------------------

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
SCIENTIFIC = r"\d(\.\d+)?[eE]\+?\d+"


def _scientific_reason(text: str, label: str) -> str:
    return (
        f"when regexp_full_match({text}, {sql_text(SCIENTIFIC)}) then "
        f"{sql_text(label + '被 Excel 存成了科学计数法，后几位数字已丢失：')} || {text} "
        f"|| {sql_text('（请把该列设为文本后重新导出）')} "
    )


def _checked_code_rules(
    spec: ColumnSql, name: str, label: str, well_formed: str, check: str, bad_chars: str
) -> None:
    """An 18-character code with a check character; the shape and check run first
    because nearly every code is right."""
    text = f"n_{name}"
    spec.value = f"upper({text})"
    spec.reasons.append(
        f"case when {text} is null then null "
        f"when {well_formed} then "
        f"(case when {check} then {sql_text(label + '校验位错误')} end) "
        + _scientific_reason(text, label)
        + f"when strlen({name}) <> 18 then {sql_text(label + '应为18位：')} || {text} "
        f"|| '（现为 ' || length({name}) || ' 位）' "
        f"else {sql_text(label + bad_chars)} || {text} end"
    )


def _id_number_rules(spec: ColumnSql, name: str, label: str) -> None:
    digits = f"id_{name}"
    # The first 17 digits as one integer: digit arithmetic on it is far cheaper
    # than 17 substrings cast one by one, on millions of rows.
    spec.helpers.append(
        f"case when strlen(n_{name}) = 18 and regexp_full_match(n_{name}, '\\d{{17}}[0-9Xx]') "
        f"then left(n_{name}, 17)::bigint end as {digits}"
    )
    checksum = " + ".join(
        f"({digits} // {10 ** (16 - position)} % 10) * {weight}"
        for position, weight in enumerate(ID_WEIGHTS)
    )
    check = f"substr({sql_text(ID_CHECK)}, (({checksum}) % 11) + 1, 1) <> substr({name}, 18, 1)"
    _checked_code_rules(
        spec,
        name,
        label,
        f"{digits} is not null",
        check,
        "格式错误：前17位应为数字，最后一位为数字或X：",
    )


def _credit_code_rules(spec: ColumnSql, name: str, label: str) -> None:
    chars = sql_text(CREDIT_CHARS)
    checksum = " + ".join(
        f"(instr({chars}, substr({name}, {position + 1}, 1)) - 1) * {weight}"
        for position, weight in enumerate(CREDIT_WEIGHTS)
    )
    check = f"substr({chars}, ((31 - ({checksum}) % 31) % 31) + 1, 1) <> substr({name}, 18, 1)"
    _checked_code_rules(
        spec,
        name,
        label,
        f"strlen({name}) = 18 and regexp_full_match({name}, '[0-9A-HJ-NPQRTUWXY]{{18}}')",
        check,
        "含有不允许的字符（不使用 I、O、Z、S、V）：",
    )


def _digits_rule(spec: ColumnSql, name: str, label: str, digits: int) -> None:
    text = f"n_{name}"
    spec.reasons.append(
        f"case when {text} is null or regexp_full_match({text}, '\\d{{{digits}}}') then null "
        + _scientific_reason(text, label)
        + f"else {sql_text(f'{label}应为{digits}位数字：')} || {text} end"
    )


def _column_specs(raw_file: RawFile) -> dict[str, ColumnSql]:
    specs: dict[str, ColumnSql] = {}
    for column in raw_file.columns:
        strict = (raw_file.name, column.name) in (
            ("loans", "amount"),
            ("schedule", "installment_no"),
        )
        spec = column_sql(column, minimum_exclusive=strict)
        if column.name == "head_id_number":
            _id_number_rules(spec, column.name, column.label)
        elif column.name == "credit_code":
            _credit_code_rules(spec, column.name, column.label)
        elif column.name == "village_code":
            _digits_rule(spec, column.name, column.label, 12)
        elif column.name == "township_code":
            _digits_rule(spec, column.name, column.label, 9)
        specs[column.name] = spec
    return specs


def _row_rules(raw_file: RawFile) -> list[str]:
    """Rules between columns of one row."""
    if raw_file.name == "villages":
        return [
            "case when regexp_full_match(village_code, '\\d{12}') "
            "and regexp_full_match(township_code, '\\d{9}') "
            "and left(village_code, 9) <> township_code "
            "then '行政村代码前9位应与乡镇代码一致：' || village_code || ' / ' || township_code end"
        ]
    if raw_file.name == "loans":
        return [
            "case when maturity_on <= disbursed_on then '到期日期早于或等于放款日期：' "
            "|| n_maturity_on || ' / ' || n_disbursed_on end",
            "case when written_off_on < disbursed_on then '核销日期早于放款日期：' "
            "|| n_written_off_on || ' / ' || n_disbursed_on end",
        ]
    return []


def _key_sql(raw_file: RawFile) -> str:
    """The row's identity across deliveries: typed where typing makes '01' and '1' one key."""
    parts = []
    for name in raw_file.key:
        column = raw_file.column(name)
        parts.append(name if column.kind == "text" else f"coalesce({name}::varchar, n_{name})")
    if len(parts) == 1:
        return parts[0]
    missing = " or ".join(f"{part} is null" for part in parts)
    return f"case when {missing} then null else " + " || chr(31) || ".join(parts) + " end"


def _key_label(raw_file: RawFile) -> str:
    return "+".join(raw_file.column(name).label for name in raw_file.key)


# --- One intake run ------------------------------------------------------------------------------


class _IntakeRun:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        sources: list[_Source],
        deliveries: list[Delivery],
        progress: Progress | None,
        work_dir: Path,
    ) -> None:
        self.con = con
        self.sources = sources
        self.deliveries = deliveries
        self.progress = progress
        self.work_dir = work_dir
        self.staged: dict[int, StagedFile] = {}
        self.temporaries: list[str] = []
        self.multi = len({source.seq for source in sources if source.seq > 0}) > 1

    def _temp(self, name: str) -> str:
        self.temporaries.append(name)
        return name

    def drop_temporaries(self) -> None:
        for name in reversed(self.temporaries):
            with contextlib.suppress(duckdb.Error):
                self.con.execute(f"drop table if exists {name}")

    def execute(self, *, keep_quarantine: bool) -> IntakeSummary:
        self._create_outputs()
        self._temp("_hn_x")
        # Reasons found beyond a row's own cells (duplicates, references, cascades), in order.
        self.con.execute(
            "create or replace temp table _hn_x "
            "(source_file varchar, _seq integer, _row integer, reason varchar)"
        )
        for index, source in enumerate(self.sources):
            self.staged[index] = self._stage(index, source)
        for raw_file in RAW_FILES.values():
            self._validate(raw_file)
        self._cross_file_rules()
        self._publish()
        return self._summary(keep_quarantine)

    # Reading ------------------------------------------------------------------------------

    def _stage(self, index: int, source: _Source) -> StagedFile:
        table = self._temp(f"_hn_s_{index}")
        for suffix in ("_raw", "_rejects", "_scans"):
            self.temporaries.append(table + suffix)
        _say(self.progress, f"读取 {source.display_name}…")
        if not source.path.is_file():
            raise IntakeError(f"找不到文件 {source.display_name}")
        try:
            if source.path.suffix.lower() == ".xlsx":
                staged = stage_xlsx(
                    self.con,
                    source.raw_file,
                    source.path,
                    table,
                    source.display_name,
                    lambda rows: _say(self.progress, f"读取 {source.display_name}：{rows:,} 行…"),
                )
            else:
                staged = stage_csv(
                    self.con,
                    source.raw_file,
                    source.path,
                    table,
                    source.display_name,
                    self.work_dir,
                )
        except duckdb.Error as error:
            # What the reader could not take is the file's fault, not a crash to show.
            detail = str(error).strip().splitlines()[0]
            raise IntakeError(f"{source.display_name} 无法读取：{detail}") from error
        _say(self.progress, f"读取 {source.display_name}：{staged.rows:,} 行…")
        return staged

    def _instances(self, raw_file: RawFile) -> list[tuple[int, _Source, StagedFile]]:
        return [
            (index, source, self.staged[index])
            for index, source in enumerate(self.sources)
            if source.raw_file.name == raw_file.name
        ]

    def _rows_sql(self, raw_file: RawFile) -> str:
        """Every non-blank row of every delivery of one file: ``_seq, _row, _shape, n_*``."""
        parts = []
        for _, source, staged in self._instances(raw_file):
            cells = staging_columns(len(staged.layout.headers))
            texts = []
            for column in raw_file.column_names:
                position = staged.layout.positions.get(column)
                cell = (
                    "null"
                    if position is None
                    else normalised_cell(cells[position], staged.needs_nfkc)
                )
                texts.append(f"{cell} as n_{column}")
            # Blank rows (Excel's trailing ",,,,") are not rows; their numbers stay used.
            blank = " and ".join(f"nullif(trim({cell}), '') is null" for cell in cells)
            parts.append(
                f"select {source.seq} as _seq, coalesce(_row, rowid + 1)::integer as _row, "
                f"_shape, {', '.join(texts)} from {staged.table} "
                f"where not ({blank} and _overflow is null)"
            )
        return " union all ".join(parts)

    def _validate(self, raw_file: RawFile) -> None:
        """Type every cell, give every row its own reasons, settle supersession and duplicates."""
        _say(self.progress, f"校验 {raw_file.name}（{raw_file.label}）…")
        con = self.con
        name = raw_file.name
        specs = _column_specs(raw_file)
        helpers = "".join(", " + helper for spec in specs.values() for helper in spec.helpers)
        typed = ", ".join(f"{spec.value} as {column}" for column, spec in specs.items())
        reasons = ["_shape"]
        for column in raw_file.column_names:
            reasons.extend(specs[column].reasons)
        reasons.extend(_row_rules(raw_file))
        columns = ", ".join(raw_file.column_names)
        kept = "".join(f", n_{column} as _text_{column}" for column in _message_texts(raw_file))
        table = self._temp(f"_hn_v_{name}")
        # Layered projections: normalised text, then helpers, then typed values, then
        # the reasons, which read all three.
        con.execute(
            f"""create or replace temp table {table} as
            select _seq, _row, {columns}{kept},
                {_key_sql(raw_file)} as _key,
                false as _superseded,
                list_filter([{", ".join(reasons)}], lambda reason: reason is not null) as _reasons
            from (
                select *, {typed} from (select *{helpers} from ({self._rows_sql(raw_file)}))
            )"""
        )
        if self.multi:
            con.execute(
                f"""update {table} set _superseded = true
                from (select _key, max(_seq) as _latest_seq from {table}
                      where _key is not null group by _key) latest
                where {table}._key = latest._key and {table}._seq < latest._latest_seq"""
            )
        key_label = sql_text(_key_label(raw_file) + "重复：与第 ")
        con.execute(
            f"""insert into _hn_x
            select '{name}', row._seq, row._row, {key_label}
                || array_to_string(list_slice(list_filter(
                    duplicates._rows, lambda other: other <> row._row), 1, {DETAIL_ROWS}), '、')
                || case when len(duplicates._rows) - 1 > {DETAIL_ROWS}
                    then ' 等 ' || (len(duplicates._rows) - 1) || ' 行相同' else ' 行相同' end
            from {table} row
            join (
                select _key, list(_row order by _row) as _rows from {table}
                where not _superseded and _key is not null
                group by _key having count(*) > 1
            ) duplicates using (_key)
            where not row._superseded
            order by row._seq, row._row"""
        )

    # Rules across files ---------------------------------------------------------------------

    def _cross_file_rules(self) -> None:
        con = self.con
        _say(self.progress, "核对各表之间的对应关系…")

        def flagged(name: str) -> str:
            return f"(select distinct _seq, _row from _hn_x where source_file = '{name}')"

        def settled(name: str) -> str:
            """Rows of a file loaded so far: no reason of their own, none found since."""
            return (
                f"(select v.* from _hn_v_{name} v anti join {flagged(name)} x using (_seq, _row) "
                f"where not v._superseded and len(v._reasons) = 0)"
            )

        def current(name: str) -> str:
            return f"(select * from _hn_v_{name} where not _superseded)"

        for dependant in ("households", "entities"):
            con.execute(
                f"""insert into _hn_x
                select '{dependant}', row._seq, row._row,
                    case when known.village_code is not null
                        then '所属行政村已被隔离：' || row.village_code
                        else '行政村代码在行政区划中不存在：' || row.village_code end
                from {current(dependant)} row
                left join (select distinct village_code from {settled("villages")}) ok
                    using (village_code)
                left join (select distinct village_code from {current("villages")}) known
                    using (village_code)
                where ok.village_code is null and regexp_full_match(row.village_code, '\\d{{12}}')
                order by row._seq, row._row"""
            )

        borrowers = (
            ("农户", "households", "household_id", "借款农户", "农户表"),
            ("经营主体", "entities", "entity_id", "借款经营主体", "经营主体表"),
        )
        for borrower_type, table, key, who, where in borrowers:
            con.execute(
                f"""insert into _hn_x
                select 'loans', loan._seq, loan._row,
                    case when known.{key} is not null
                        then '{who}已被隔离：' || loan.borrower_id
                        else '借款人编号在{where}中不存在：' || loan.borrower_id end
                from {current("loans")} loan
                left join (select distinct {key} from {settled(table)}) ok
                    on ok.{key} = loan.borrower_id
                left join (select distinct {key} from {current(table)}) known
                    on known.{key} = loan.borrower_id
                where loan.borrower_type = '{borrower_type}' and ok.{key} is null
                order by loan._seq, loan._row"""
            )

        # A quarantined instalment leaves the plan incomplete, so its loan cannot be read either.
        con.execute(
            f"""insert into _hn_x
            with instalments as (
                select row.*, len(row._reasons) > 0 or x._row is not null as bad
                from {current("schedule")} row
                left join {flagged("schedule")} x using (_seq, _row)
                where row.loan_id is not null
            ),
            plan as (
                select loan_id,
                    count(*) filter (where bad) as bad_rows,
                    list(coalesce(installment_no::varchar, _text_installment_no, '?')
                         order by installment_no, _row) filter (where bad) as bad_numbers,
                    sum(principal_due) filter (where not bad) as principal_total
                from instalments
                group by loan_id
            )
            select 'loans', loan._seq, loan._row,
                case when plan.loan_id is null then '还款计划中没有该贷款的任何期次'
                    when plan.bad_rows > 0 then '还款计划不完整：第 '
                        || array_to_string(list_slice(plan.bad_numbers, 1, {DETAIL_ROWS}), '、')
                        || case when plan.bad_rows > {DETAIL_ROWS} then ' 等 ' || plan.bad_rows
                            else '' end
                        || ' 期已被隔离'
                    when loan.amount is not null and plan.principal_total <> loan.amount
                        then '还款计划应还本金合计与贷款金额不符：合计 '
                        || format('{{:,.2f}}', plan.principal_total) || ' 元，贷款金额 '
                        || format('{{:,.2f}}', loan.amount) || ' 元'
                end as reason
            from {current("loans")} loan left join plan using (loan_id)
            where loan.loan_id is not null and reason is not null
            order by loan._seq, loan._row"""
        )

        quarantined_loans = (
            f"(select distinct loan_id from {current('loans')} loan "
            f"left join {flagged('loans')} x using (_seq, _row) "
            f"where loan.loan_id is not null and (len(loan._reasons) > 0 or x._row is not null))"
        )
        for dependant in ("schedule", "repayments"):
            # A row already quarantined for its own sake is not told again about its loan.
            con.execute(
                f"""insert into _hn_x
                select '{dependant}', row._seq, row._row,
                    case when known.loan_id is null then '贷款编号在贷款台账中不存在：' || row.loan_id
                        else '所属贷款已被隔离：' || row.loan_id end
                from {current(dependant)} row
                left join (select distinct loan_id from {current("loans")}) known using (loan_id)
                left join {quarantined_loans} gone using (loan_id)
                left join {flagged(dependant)} x using (_seq, _row)
                where row.loan_id is not null
                    and (known.loan_id is null
                         or (gone.loan_id is not null and len(row._reasons) = 0
                             and x._row is null))
                order by row._seq, row._row"""
            )
        con.execute(
            f"""insert into _hn_x
            select 'repayments', payment._seq, payment._row,
                '还款日期早于放款日期：' || payment._text_paid_on || ' / ' || loan._text_disbursed_on
            from {current("repayments")} payment
            join {settled("loans")} loan using (loan_id)
            where payment.paid_on < loan.disbursed_on
            order by payment._seq, payment._row"""
        )

    # Publishing -----------------------------------------------------------------------------

    def _create_outputs(self) -> None:
        con = self.con
        con.execute("create schema if not exists raw")
        for raw_file in RAW_FILES.values():
            con.execute(create_table_sql(raw_file))
        con.execute(
            "create or replace table raw.quarantine (source_file varchar, file_name varchar, "
            "delivery_id varchar, row_number integer, record_key varchar, original json, "
            "reasons varchar[])"
        )
        con.execute(
            "create or replace table raw.load_report (source_file varchar, file_name varchar, "
            "delivery_id varchar, rows_read bigint, rows_loaded bigint, rows_quarantined bigint, "
            "rows_superseded bigint)"
        )
        con.execute(
            "create or replace table raw.extra_columns (source_file varchar, file_name varchar, "
            "column_name varchar, non_empty_values bigint, delivery_id varchar)"
        )
        con.execute(
            "create or replace table raw.deliveries (delivery_id varchar, accepted_at timestamp, "
            "source varchar, files varchar[])"
        )
        for delivery in self.deliveries:
            con.execute(
                "insert into raw.deliveries values ($id, $at, $source, $files)",
                {
                    "id": delivery.delivery_id,
                    "at": delivery.accepted_at.replace(tzinfo=None),
                    "source": delivery.source_label,
                    "files": [item.name for item in delivery.files],
                },
            )

    def _publish(self) -> None:
        con = self.con
        _say(self.progress, "写入 raw 表…")
        for raw_file in RAW_FILES.values():
            name = raw_file.name
            columns = ", ".join(raw_file.column_names)
            con.execute(
                f"insert into raw.{name} select {columns} from _hn_v_{name} v "
                f"anti join (select _seq, _row from _hn_x where source_file = '{name}') x "
                f"using (_seq, _row) where not v._superseded and len(v._reasons) = 0"
            )
            for _, source, staged in self._instances(raw_file):
                self._publish_instance(raw_file, source, staged)
                # Staged cells were kept only for the originals of quarantined rows.
                con.execute(f"drop table {staged.table}")
            con.execute(f"drop table _hn_v_{name}")

    def _publish_instance(self, raw_file: RawFile, source: _Source, staged: StagedFile) -> None:
        con = self.con
        name = raw_file.name
        layout = staged.layout
        params: dict[str, object] = {
            "source_file": name,
            "file_name": source.file_name,
            "delivery_id": source.delivery_id,
            "seq": source.seq,
        }
        as_read = {
            position: f"coalesce(s.{cell}, '')"
            for position, cell in enumerate(staging_columns(len(layout.headers)))
        }
        pairs = []
        for position, key in enumerate(layout.json_keys()):
            params[f"k{position}"] = key
            pairs.append(f"$k{position}, {as_read[position]}")
        cells_json = ", ".join(pairs)
        original = (
            f"case when s._overflow is null then json_object({cells_json}) "
            f"else json_object({cells_json}, '（多出的字段）', s._overflow) end"
        )
        record_key = f" || '{KEY_SEPARATOR}' || ".join(
            as_read[layout.positions[key]] for key in raw_file.key
        )
        con.execute(
            f"""insert into raw.quarantine
            select $source_file, $file_name, $delivery_id, q._row, {record_key},
                {original}, q.reasons
            from (
                select v._row, v._reasons || coalesce(x.reasons, []::varchar[]) as reasons
                from _hn_v_{name} v
                left join (
                    select _seq, _row, list(reason order by rowid) as reasons
                    from _hn_x where source_file = $source_file group by _seq, _row
                ) x using (_seq, _row)
                where v._seq = $seq and not v._superseded
                    and (len(v._reasons) > 0 or x.reasons is not null)
            ) q
            join (select coalesce(_row, rowid + 1)::integer as _row_number, *
                  from {staged.table}) s on s._row_number = q._row
            order by q._row""",
            params,
        )
        counts = con.execute(
            f"""select count(*),
                count(*) filter (where v._superseded),
                count(*) filter (where not v._superseded
                    and (len(v._reasons) > 0 or x._row is not null))
            from _hn_v_{name} v
            left join (select distinct _seq, _row from _hn_x where source_file = $source_file) x
                using (_seq, _row)
            where v._seq = $seq""",
            {"source_file": name, "seq": source.seq},
        ).fetchone()
        read, superseded, quarantined = counts
        con.execute(
            "insert into raw.load_report values "
            "($source_file, $file_name, $delivery_id, $read, $loaded, $quarantined, $superseded)",
            {
                "source_file": name,
                "file_name": source.file_name,
                "delivery_id": source.delivery_id,
                "read": read,
                "loaded": read - superseded - quarantined,
                "quarantined": quarantined,
                "superseded": superseded,
            },
        )
        if not staged.fallback:
            # Cells right of the last named column (an xlsx with values under no header).
            unnamed = con.execute(
                f"select count(*) from {staged.table} where _overflow is not null"
            ).fetchone()[0]
            if unnamed:
                con.execute(
                    "insert into raw.extra_columns values ($s, $f, '（表头右侧无列名的单元格）', $n, $d)",
                    {"s": name, "f": source.file_name, "n": unnamed, "d": source.delivery_id},
                )
        if layout.extras:
            filled = ", ".join(
                f"count(*) filter (where nullif(trim(c{position}, {WHITESPACE_SQL}), '') is not null)"
                for position in layout.extras
            )
            values = con.execute(f"select {filled} from {staged.table}").fetchone()
            for position, count in zip(layout.extras, values, strict=True):
                con.execute(
                    "insert into raw.extra_columns values ($s, $f, $c, $n, $d)",
                    {
                        "s": name,
                        "f": source.file_name,
                        "c": layout.headers[position].strip() or f"（第{position + 1}列）",
                        "n": count,
                        "d": source.delivery_id,
                    },
                )
        _say(
            self.progress,
            f"{source.display_name}：载入 {read - superseded - quarantined:,} 行，"
            f"隔离 {quarantined:,} 行" + (f"，被替换 {superseded:,} 行" if superseded else ""),
        )

    def _summary(self, keep_quarantine: bool) -> IntakeSummary:
        con = self.con
        files = [
            FileCounts(*row)
            for row in con.execute(
                "select source_file, file_name, delivery_id, rows_read, rows_loaded, "
                "rows_quarantined, rows_superseded from raw.load_report"
            ).fetchall()
        ]
        extras = [
            ExtraColumn(*row)
            for row in con.execute(
                "select source_file, file_name, delivery_id, column_name, non_empty_values "
                "from raw.extra_columns"
            ).fetchall()
        ]
        missing = []
        for index, source in enumerate(self.sources):
            for name in self.staged[index].layout.missing_optional:
                missing.append(
                    (source.raw_file.name, source.file_name, source.raw_file.column(name).label)
                )
        reason_counts = con.sql(
            """select source_file, split_part(reason, '：', 1) as reason, count(*)::bigint as rows
            from (select source_file, unnest(reasons) as reason from raw.quarantine)
            group by all order by rows desc, source_file, reason"""
        ).pl()
        quarantine = con.sql("select * from raw.quarantine").pl() if keep_quarantine else None
        return IntakeSummary(
            files=files,
            extra_columns=extras,
            missing_columns=missing,
            reason_counts=reason_counts,
            quarantine=quarantine,
        )


def _message_texts(raw_file: RawFile) -> list[str]:
    """Normalised texts kept after validation for messages of the cross-file rules."""
    wanted = {
        "schedule": ["installment_no"],
        "loans": ["disbursed_on"],
        "repayments": ["paid_on"],
    }
    return wanted.get(raw_file.name, [])


# --- Deliveries --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZipLimits:
    max_members: int = MAX_ZIP_MEMBERS
    max_total_bytes: int = MAX_ZIP_BYTES
    max_ratio: int = MAX_ZIP_RATIO


def _member_name(info: zipfile.ZipInfo) -> str:
    # Zips made on Chinese Windows carry GBK names without the UTF-8 flag.
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _unpack_zip(archive_path: Path, target: Path, limits: ZipLimits) -> list[str]:
    """Extract the recognised files of a zip into ``target``; the names left aside are returned.

    The whole archive is checked before anything is written.
    """
    where = archive_path.name
    if not zipfile.is_zipfile(archive_path):
        raise IntakeError(f"{where} 不是有效的 zip 压缩包")
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError) as error:
        raise IntakeError(f"{where} 不是有效的 zip 压缩包") from error
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_members:
            raise IntakeError(
                f"{where} 中有 {len(members)} 个条目，超过上限 {limits.max_members} 个，拒绝接收"
            )
        total = 0
        chosen: dict[str, tuple[zipfile.ZipInfo, str]] = {}
        ignored: list[str] = []
        for info in members:
            name = _member_name(info)
            parts = name.replace("\\", "/").split("/")
            if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
                raise IntakeError(f"{where} 中的条目“{name}”使用了绝对路径，拒绝接收")
            if ".." in parts:
                raise IntakeError(
                    f"{where} 中的条目“{name}”含有“..”，可能写到目标文件夹之外，拒绝接收"
                )
            if stat.S_ISLNK(info.external_attr >> 16):
                raise IntakeError(f"{where} 中的条目“{name}”是符号链接，拒绝接收")
            if info.flag_bits & 0x1:
                raise IntakeError(f"{where} 中的条目“{name}”有密码保护，无法读取")
            if info.is_dir():
                continue
            total += info.file_size
            if info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise IntakeError(
                    f"{where} 中的条目“{name}”压缩比超过 {limits.max_ratio}:1，"
                    "疑似压缩炸弹，拒绝接收"
                )
            base = parts[-1]
            raw_file = _recognise(base)
            if raw_file is None:
                if not (parts[0] == "__MACOSX" or base.startswith(".")):
                    ignored.append(name)
                continue
            canonical = raw_file.name + PurePosixPath(base).suffix.lower()
            if raw_file.name in {chosen_name.split(".")[0] for chosen_name in chosen}:
                raise IntakeError(
                    f"{where} 中有不止一个{raw_file.label}文件（{raw_file.name}.csv/.xlsx），"
                    "无法确定用哪一个"
                )
            chosen[canonical] = (info, name)
        if total > limits.max_total_bytes:
            raise IntakeError(
                f"{where} 解压后共 {_size_text(total)}，超过上限 "
                f"{_size_text(limits.max_total_bytes)}，拒绝接收"
            )
        target.mkdir(parents=True, exist_ok=True)
        for canonical, (info, name) in chosen.items():
            written = 0
            with archive.open(info) as source, (target / canonical).open("wb") as sink:
                while chunk := source.read(1 << 20):
                    written += len(chunk)
                    # The header's size can lie; what actually comes out is what counts.
                    if written > info.file_size or written > limits.max_total_bytes:
                        raise IntakeError(f"{where} 中的条目“{name}”解压后超过声明大小，拒绝接收")
                    sink.write(chunk)
    return ignored


def _gather(source: Path, target: Path, limits: ZipLimits) -> list[str]:
    """Copy or extract a candidate's recognised files into ``target`` under their canonical names."""
    if source.is_dir():
        found, ignored = _folder_files(source, f"{source.name}/ 中")
        target.mkdir(parents=True, exist_ok=True)
        for name, path in found.items():
            shutil.copyfile(path, target / (name + path.suffix.lower()))
        return ignored
    if source.is_file() and source.suffix.lower() == ".zip":
        return _unpack_zip(source, target, limits)
    if source.is_file():
        raise IntakeError(f"{source.name} 既不是文件夹也不是 zip 压缩包，无法接收")
    raise IntakeError(f"找不到要接收的文件或文件夹：{source}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _describe_files(folder: Path) -> list[DeliveryFile]:
    files = []
    for path in sorted(folder.iterdir()):
        raw_file = _recognise(path.name)
        if raw_file is not None:
            files.append(DeliveryFile(path.name, raw_file.name, _sha256(path), path.stat().st_size))
    return files


def _check_readable(folder: Path, files: list[DeliveryFile], where: str) -> None:
    """Refuse, at the door, a file no build could read (encoding, xlsx, required columns)."""
    for item in files:
        raw_file = RAW_FILES[item.source_file]
        path = folder / item.name
        if path.suffix == ".xlsx":
            inspect_xlsx(raw_file, path, f"{where}{item.name}")
        else:
            inspect_csv(raw_file, path, f"{where}{item.name}")


def _identity(files: list[DeliveryFile]) -> list[tuple[str, str]]:
    return sorted((item.name, item.sha256) for item in files)


@contextlib.contextmanager
def _store_lock(store: Path) -> Iterator[None]:
    with (store / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def accept_delivery(
    store: Path,
    source: Path,
    source_label: str = "命令行",
    *,
    limits: ZipLimits | None = None,
) -> Delivery:
    """Take a folder or zip of raw files into ``store/deliveries/<NNNN>/`` with a manifest.

    Only ``NAME.csv`` / ``NAME.xlsx`` of known names are taken; a file no
    build could read is refused. Sending the same content again changes
    nothing and returns the delivery that already holds it.
    """
    store, source = Path(store), Path(source)
    limits = limits or ZipLimits()
    (store / "deliveries").mkdir(parents=True, exist_ok=True)
    incoming = store / ".incoming" / uuid.uuid4().hex
    try:
        ignored = _gather(source, incoming, limits)
        files = _describe_files(incoming)
        if not files:
            expected = "、".join(f"{name}.csv" for name in RAW_FILES)
            raise IntakeError(
                f"{source.name} 中没有可识别的报送文件（文件名应为 {expected} 或对应的 .xlsx）"
            )
        _check_readable(incoming, files, f"{source.name} 中的 ")
        with _store_lock(store):
            for delivery in list_deliveries(store):
                if _identity(delivery.files) == _identity(files):
                    delivery.already_accepted = True
                    return delivery
            folder = _claim_folder(store)
            for item in files:
                os.replace(incoming / item.name, folder / item.name)
            accepted_at = dt.datetime.now().astimezone().replace(microsecond=0)
            manifest = {
                "delivery_id": folder.name,
                "accepted_at": accepted_at.isoformat(),
                "source_label": source_label,
                "source_name": source.name,
                "files": [
                    {
                        "name": i.name,
                        "source_file": i.source_file,
                        "sha256": i.sha256,
                        "size": i.size,
                    }
                    for i in files
                ],
                "ignored": ignored,
            }
            # The manifest comes last and whole: readers skip a folder without one.
            partial = folder / f".{MANIFEST}.tmp"
            partial.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
            os.replace(partial, folder / MANIFEST)
        return _read_delivery(folder)
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
        with contextlib.suppress(OSError):
            (store / ".incoming").rmdir()


def _claim_folder(store: Path) -> Path:
    deliveries = store / "deliveries"
    numbers = [int(path.name) for path in deliveries.iterdir() if path.name.isdigit()]
    number = max(numbers, default=0) + 1
    while True:
        folder = deliveries / f"{number:04d}"
        try:
            folder.mkdir()
        except FileExistsError:
            number += 1
            continue
        return folder


def preview_delivery(
    store: Path | None, candidate: Path, *, limits: ZipLimits | None = None
) -> IntakeSummary:
    """Validate the store's deliveries plus a candidate, in memory, without touching the store.

    The summary carries every quarantined row (``quarantine``) and the
    reasons counted (``reason_counts``), for review before publishing.
    """
    candidate = Path(candidate)
    limits = limits or ZipLimits()
    deliveries = list_deliveries(Path(store)) if store is not None else []
    work = Path(tempfile.mkdtemp(prefix="huinong-preview-"))
    con = duckdb.connect()
    try:
        folder = work / "candidate"
        _gather(candidate, folder, limits)
        files = _describe_files(folder)
        if not files:
            raise IntakeError(f"{candidate.name} 中没有可识别的报送文件")
        same = next(
            (d.delivery_id for d in deliveries if _identity(d.files) == _identity(files)), None
        )
        sources = _store_sources(deliveries)
        if same is None:
            seq = len(deliveries) + 1
            sources += [
                _Source(
                    RAW_FILES[item.source_file],
                    folder / item.name,
                    seq,
                    PREVIEW_DELIVERY_ID,
                    item.name,
                )
                for item in files
            ]
        summary = _run_intake(con, sources, deliveries, None, keep_quarantine=True)
        summary.already_accepted = same
        if same is None:
            summary.delivery_ids.append(PREVIEW_DELIVERY_ID)
        return summary
    finally:
        con.close()
        shutil.rmtree(work, ignore_errors=True)


# --- Throughput ----------------------------------------------------------------------------------


def benchmark(rows: int, work_dir: Path, progress: Progress = print) -> dict[str, float]:
    """Rows per second of load_raw on a generated raw folder as CSV, then with households as xlsx.

    ``python -m huinong.intake 500000 /tmp/intake-bench`` writes about ``rows``
    household rows (and the loans, schedule and repayments that go with them).
    """
    import csv
    import time

    import xlsxwriter

    from huinong.demo import generate

    work_dir = Path(work_dir)
    folder = work_dir / "csv"
    counts = generate(folder, households=max(rows // 3, 100), seed=20170901)
    results: dict[str, float] = {}

    def timed(raw_dir: Path, label: str) -> None:
        con = duckdb.connect(str(work_dir / f"{label}.duckdb"), config={"threads": 2})
        marks: list[tuple[float, str]] = []
        started = time.perf_counter()
        summary = load_raw(
            raw_dir, con, lambda message: marks.append((time.perf_counter(), message))
        )
        seconds = time.perf_counter() - started
        con.close()
        total = sum(counts.rows_read for counts in summary.files)

        def mark(prefix: str) -> float:
            return next(at for at, message in marks if message.startswith(prefix))

        # households alone: its reading plus its validation.
        households = (mark("读取 loans") - mark("读取 households")) + (
            mark("校验 loans") - mark("校验 households")
        )
        rows_households = counts["households"]
        results[f"{label}_rows_per_second"] = total / seconds
        results[f"{label}_households_rows_per_second"] = rows_households / households
        progress(
            f"{label}：全部 {total:,} 行 {seconds:.1f} 秒（{total / seconds:,.0f} 行/秒）；"
            f"households {rows_households:,} 行读取与校验 {households:.1f} 秒"
            f"（{rows_households / households:,.0f} 行/秒）"
        )

    timed(folder, "csv")
    xlsx = work_dir / "xlsx"
    shutil.copytree(folder, xlsx, dirs_exist_ok=True)
    (xlsx / "households.csv").unlink()
    kinds = {column.name: column.kind for column in RAW_FILES["households"].columns}
    workbook = xlsxwriter.Workbook(str(xlsx / "households.xlsx"), {"constant_memory": True})
    sheet = workbook.add_worksheet()
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    with (folder / "households.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        sheet.write_row(0, 0, header)
        for row_index, record in enumerate(reader, start=1):
            for column_index, (name, value) in enumerate(zip(header, record, strict=True)):
                if value == "":
                    continue
                if kinds[name] == "date":
                    sheet.write_datetime(
                        row_index, column_index, dt.datetime.fromisoformat(value), date_format
                    )
                elif kinds[name] in ("amount", "int"):
                    sheet.write_number(row_index, column_index, float(value))
                else:
                    sheet.write_string(row_index, column_index, value)
    workbook.close()
    timed(xlsx, "xlsx")
    return results


if __name__ == "__main__":
    import sys

    benchmark(int(sys.argv[1]), Path(sys.argv[2]))
