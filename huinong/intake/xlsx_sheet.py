"""What an xlsx's cell values do not show, read from the first sheet's XML: error cells, formula
cells and merged cells.

The readers give each cell the value Excel saved. That hides two things a clerk must hear of:

- a formula cell whose saved value is 0 or nothing was most likely never computed (a workbook
  written by a program, or Excel with manual calculation): it would load as 0 or as unknown,
  without a word. Its row is quarantined, saying which cell and formula;
- a merged cell keeps its value only in its first row: every other row of the range would load
  with the cell empty. Those rows are quarantined, saying 合并单元格 and the range.

The sheet's XML is first scanned as bytes for the markers; only a sheet that has any is parsed,
element by element, so a plain sheet costs one pass over its bytes.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELATIONSHIPS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PACKAGE_RELATIONSHIPS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
MARKERS = {"errors": (b't="e"',), "formulas": (b"<f>", b"<f "), "merges": (b"<mergeCell ",)}
SHOWN_RANGES = 3
_REFERENCE = re.compile(r"([A-Z]+)(\d+)")


@dataclass
class SheetFindings:
    """Formula cells (how many; those saved as 0 or nothing) and merged ranges of a sheet."""

    member: str | None = None
    markers: set[str] = field(default_factory=set)
    formulas: int = 0
    # (sheet row, sheet column, formula, saved value) of formula cells saved as 0 or nothing.
    unsaved: list[tuple[int, int, str, str | None]] = field(default_factory=list)
    # (first row, first column, last row, last column, reference such as "A5:A20").
    merges: list[tuple[int, int, int, int, str]] = field(default_factory=list)


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def _cell(reference: str) -> tuple[int, int]:
    match = _REFERENCE.fullmatch(reference)
    if match is None:
        raise ValueError(reference)
    return int(match.group(2)), _column_number(match.group(1))


def first_sheet(archive: zipfile.ZipFile) -> str | None:
    """The part holding the workbook's first sheet (the one the readers read)."""
    try:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        sheet = workbook.find(f"{MAIN}sheets/{MAIN}sheet")
        rid = sheet.get(f"{RELATIONSHIPS}id") if sheet is not None else None
        relations = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return None
    for relation in relations.iter(f"{PACKAGE_RELATIONSHIPS}Relationship"):
        if relation.get("Id") == rid:
            target = relation.get("Target", "")
            if target.startswith("/"):
                return target.lstrip("/")
            return posixpath.normpath(posixpath.join("xl", target))
    return None


def _markers(archive: zipfile.ZipFile, member: str) -> set[str]:
    found: set[str] = set()
    longest = max(len(marker) for markers in MARKERS.values() for marker in markers)
    with archive.open(member) as handle:
        tail = b""
        while chunk := handle.read(1 << 22):
            window = tail + chunk
            for name, markers in MARKERS.items():
                if name not in found and any(marker in window for marker in markers):
                    found.add(name)
            if len(found) == len(MARKERS):
                break
            tail = chunk[-longest:]
    return found


def read_findings(path: Path) -> SheetFindings:
    """The first sheet's markers and, when it has formulas or merged cells, those cells."""
    with zipfile.ZipFile(path) as archive:
        member = first_sheet(archive)
        names = set(archive.namelist())
        if member not in names:
            # An odd package: scan every sheet for error cells, as the readers would meet them.
            found = SheetFindings()
            for name in names:
                if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    found.markers |= _markers(archive, name) & {"errors"}
            return found
        findings = SheetFindings(member=member, markers=_markers(archive, member))
        if findings.markers & {"formulas", "merges"}:
            with archive.open(member) as handle:
                _parse(handle, findings)
    return findings


def _parse(handle, findings: SheetFindings) -> None:
    for _, element in ElementTree.iterparse(handle, events=("end",)):
        tag = element.tag
        if tag == f"{MAIN}c":
            formula = element.find(f"{MAIN}f")
            if formula is not None:
                findings.formulas += 1
                value = element.find(f"{MAIN}v")
                saved = value.text if value is not None else None
                if saved in (None, "", "0"):
                    row, column = _cell(element.get("r", "A1"))
                    text = f"={formula.text}" if formula.text else "（共享公式）"
                    findings.unsaved.append((row, column, text, saved))
            element.clear()
        elif tag == f"{MAIN}row":
            element.clear()
        elif tag == f"{MAIN}mergeCell":
            reference = element.get("ref", "")
            first, _, last = reference.partition(":")
            try:
                (top, left), (bottom, right) = _cell(first), _cell(last or first)
            except ValueError:
                continue
            findings.merges.append((top, left, bottom, right, reference))


def row_reasons(
    findings: SheetFindings,
    header_row: int,
    first_column: int,
    labels: dict[int, str],
) -> tuple[dict[int, str], list[str]]:
    """Reasons by data row number (1 = the row under the header) and notes for the file.

    ``header_row``: the header's sheet row (1-based); ``first_column``: the sheet column of the
    readers' first cell; ``labels``: the contract's label of each column position read.
    """
    reasons: dict[int, list[str]] = {}
    notes: list[str] = []

    def label(column: int) -> str | None:
        return labels.get(column - first_column)

    unsaved = 0
    for row, column, formula, saved in findings.unsaved:
        name = label(column)
        if row <= header_row or name is None:
            continue
        unsaved += 1
        shown = "为空" if saved in (None, "") else "为 0"
        reasons.setdefault(row - header_row, []).append(
            f"公式单元格的保存值{shown}，可能从未计算：{name}（{formula}）。"
            "请在 Excel 中重新计算并保存，或把公式粘贴为数值后重新报送"
        )
    merged = []
    for top, left, bottom, right, reference in findings.merges:
        names = [name for column in range(left, right + 1) if (name := label(column))]
        if bottom <= header_row or not names or top < header_row:
            continue
        merged.append(reference)
        for row in range(top + 1, bottom + 1):
            reasons.setdefault(row - header_row, []).append(
                f"位于合并单元格 {reference} 内（{'、'.join(names)}），只有合并区域的第一行有值。"
                "请取消合并、在每一行填上数值后重新报送"
            )
    if merged:
        shown = "、".join(merged[:SHOWN_RANGES]) + (" 等" if len(merged) > SHOWN_RANGES else "")
        notes.append(f"有 {len(merged)} 处合并单元格（{shown}），其中除第一行外的行已隔离")
    if findings.formulas:
        notes.append(
            f"有 {findings.formulas:,} 个公式单元格，按 Excel 保存的计算结果读取"
            + (f"；其中 {unsaved:,} 个保存值为 0 或为空，所在行已隔离" if unsaved else "")
        )
    return {row: "；".join(texts) for row, texts in reasons.items()}, notes
