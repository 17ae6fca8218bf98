"""docs/input_files.md is what an office reads before its first delivery: it must list every
column the intake reads, under the header spellings the intake accepts."""

import re
from pathlib import Path

from huinong.schema import RAW_FILES

DOC = Path(__file__).resolve().parents[1] / "docs" / "input_files.md"


def _documented_columns() -> dict[str, list[tuple[str, str, str]]]:
    documented: dict[str, list[tuple[str, str, str]]] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"## `(\w+)`", line)
        if heading:
            current = documented.setdefault(heading.group(1), [])
            continue
        row = re.match(r"\| `(\w+)` \| ([^|]+) \| [^|]* \| ([^|]*) \|", line)
        if row and current is not None:
            current.append((row.group(1), row.group(2).strip(), row.group(3).strip()))
    return documented


def test_every_file_and_column_of_the_intake_is_documented_with_its_chinese_header():
    documented = _documented_columns()
    assert list(documented) == list(RAW_FILES)
    for name, raw_file in RAW_FILES.items():
        expected = [
            (column.name, column.label, "是" if column.required else "")
            for column in raw_file.columns
        ]
        assert documented[name] == expected, name


def test_optional_files_are_marked_as_such():
    text = DOC.read_text(encoding="utf-8")
    for name, raw_file in RAW_FILES.items():
        heading = next(line for line in text.splitlines() if line.startswith(f"## `{name}`"))
        assert ("可不报送" in heading) == (not raw_file.required), heading
