"""Headers: which column of a file is which column of the contract.

A header is a column's English name or its Chinese label, in any order,
with surrounding or full-width spaces, a leading ``*`` (Excel templates mark
required columns so) or a note in brackets; a title line above the header
row is tolerated.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from huinong.intake.errors import IntakeError
from huinong.schema import Column, RawFile

HEADER_SEARCH_ROWS = 10


def normalize_header(text: object) -> str:
    if text is None:
        return ""
    header = unicodedata.normalize("NFKC", str(text))
    header = re.sub(r"[\s\u200b\u200c\u200d\u2060\ufeff]+", "", header)
    return header.lstrip("*").lower()


def _header_lookup(raw_file: RawFile) -> dict[str, Column]:
    lookup: dict[str, Column] = {}
    for column in raw_file.columns:
        lookup[normalize_header(column.name)] = column
        lookup[normalize_header(column.label)] = column
    return lookup


def match_header(raw_file: RawFile, text: object) -> Column | None:
    """The schema column a header names: its name, its label, or either with a note in brackets."""
    lookup = _header_lookup(raw_file)
    header = normalize_header(text)
    if header in lookup:
        return lookup[header]
    # "贷款金额(元)" or "放款日期(disbursed_on)": the part outside or inside the brackets.
    bracketed = re.fullmatch(r"(.+?)[(\[](.+)[)\]]", header)
    if bracketed:
        for part in bracketed.groups():
            if part in lookup:
                return lookup[part]
    return None


def column_title(column: Column) -> str:
    return f"{column.label}（{column.name}）"


@dataclass
class FileLayout:
    """How one file's columns line up with the schema."""

    headers: list[str]
    positions: dict[str, int]
    extras: list[int]
    missing_optional: list[str] = field(default_factory=list)

    def json_keys(self) -> list[str]:
        """Header names as in the file, made unique so that each cell keeps its place in JSON."""
        keys: list[str] = []
        seen: set[str] = set()
        for position, header in enumerate(self.headers):
            key = header.strip() or f"（第{position + 1}列）"
            if key in seen:
                key = f"{key}（第{position + 1}列）"
            seen.add(key)
            keys.append(key)
        return keys


def layout_for(raw_file: RawFile, headers: list[str], display_name: str) -> FileLayout:
    positions: dict[str, int] = {}
    extras: list[int] = []
    for position, header in enumerate(headers):
        column = match_header(raw_file, header)
        if column is None:
            extras.append(position)
            continue
        if column.name in positions:
            first = positions[column.name] + 1
            raise IntakeError(
                f"{display_name} 中“{column_title(column)}”列出现了两次"
                f"（第{first}列和第{position + 1}列），无法确定用哪一列"
            )
        positions[column.name] = position
    missing = [column for column in raw_file.columns if column.name not in positions]
    required_missing = [column for column in missing if column.required]
    if required_missing:
        names = "、".join(column_title(column) for column in required_missing)
        raise IntakeError(f"{display_name} 缺少必需列：{names}")
    return FileLayout(
        headers=[str(header) if header is not None else "" for header in headers],
        positions=positions,
        extras=extras,
        missing_optional=[column.name for column in missing],
    )


def header_score(raw_file: RawFile, row: list) -> tuple[int, int]:
    matched = {column.name for cell in row if (column := match_header(raw_file, cell))}
    required = sum(1 for column in raw_file.columns if column.required and column.name in matched)
    return required, len(matched)


def find_header_row(raw_file: RawFile, rows: list[list], display_name: str) -> int:
    """Index of the header among the first rows: a title line above it is tolerated."""
    if not rows:
        raise IntakeError(f"{display_name} 是空文件，没有表头")
    needed = sum(1 for column in raw_file.columns if column.required)
    best, best_score = 0, (-1, -1)
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        score = header_score(raw_file, row)
        if score[0] == needed:
            return index
        if score > best_score:
            best, best_score = index, score
    if best_score[1] <= 0:
        expected = "、".join(column.name for column in raw_file.columns if column.required)
        raise IntakeError(
            f"{display_name} 找不到表头：前{HEADER_SEARCH_ROWS}行中没有一行是本表的列名"
            f"（应包含 {expected} 等列，或其中文名）"
        )
    return best
