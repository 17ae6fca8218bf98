"""Which files to read: a raw folder's recognised files, and the district's default villages.

A file is recognised by its name alone: ``NAME.csv`` or ``NAME.xlsx`` for a
file the contract names (huinong.schema.RAW_FILES), in any letter case.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import huinong
from huinong.intake.errors import IntakeError
from huinong.schema import PREVIEW_DELIVERY_ID, RAW_FILES, RawFile

FILE_EXTENSIONS = (".csv", ".xlsx")
# A delivery folder's description, written by the store last (huinong.intake.store).
MANIFEST = "manifest.json"
# The contract's villages file is optional: without one, the district's real list is read.
DEFAULT_VILLAGES = Path("seeds") / "hubin_villages.csv"


@dataclass(frozen=True)
class Source:
    """One file to read: which raw file it is, from which delivery.

    ``seq`` orders deliveries (a later one supersedes an earlier one's rows);
    0 is the default villages list, read before everything else. ``received_on``
    is the day the delivery was accepted: nothing in it can have happened later.
    None for files not (yet) in the store: the day they are read.
    """

    raw_file: RawFile
    path: Path
    seq: int
    delivery_id: str | None
    file_name: str
    received_on: dt.date | None = None

    @property
    def display_name(self) -> str:
        if self.delivery_id and self.delivery_id != PREVIEW_DELIVERY_ID:
            return f"第 {self.delivery_id} 批报送的 {self.file_name}"
        return self.file_name


def recognise(name: str) -> RawFile | None:
    path = PurePosixPath(name)
    if path.suffix.lower() in FILE_EXTENSIONS:
        return RAW_FILES.get(path.stem.strip().lower())
    return None


def folder_files(folder: Path, where: str) -> tuple[dict[str, Path], list[str]]:
    """Recognised files of a delivery folder by source file, and the names left aside."""
    found: dict[str, Path] = {}
    ignored: list[str] = []
    for path in sorted(folder.iterdir()):
        if path.name == MANIFEST or path.name.startswith("."):
            continue
        raw_file = recognise(path.name) if path.is_file() else None
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


def folder_sources(folder: Path, seq: int, delivery_id: str | None) -> list[Source]:
    found, _ = folder_files(folder, "")
    return [
        Source(RAW_FILES[name], path, seq, delivery_id, path.name) for name, path in found.items()
    ]


def complete_sources(sources: list[Source]) -> tuple[list[Source], bool]:
    """Refuse a set of files without a required one; add the default villages when none came.

    Returns the sources to read and whether the default villages are among them.
    """
    present = {source.raw_file.name for source in sources}
    for raw_file in RAW_FILES.values():
        if raw_file.required and raw_file.name not in present:
            raise IntakeError(
                f"缺少必需文件：{raw_file.name}（{raw_file.label}），"
                f"应为 {raw_file.name}.csv 或 {raw_file.name}.xlsx"
            )
    if "villages" in present:
        return sources, False
    seed = huinong.REPO_ROOT / DEFAULT_VILLAGES
    default = Source(RAW_FILES["villages"], seed, 0, None, f"默认：{DEFAULT_VILLAGES.as_posix()}")
    return [default, *sources], True
