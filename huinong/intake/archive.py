"""Unpacking a delivered zip: only the files the contract names, and only within limits.

A zip comes from outside: the whole archive is checked (entry count, paths
that would escape the target, links, passwords, sizes and ratios a zip bomb
would show) before anything is written, and what actually comes out is
counted again while writing.
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from huinong.intake.errors import IntakeError
from huinong.intake.sources import recognise
from huinong.intake.summary import size_text

MAX_ZIP_MEMBERS = 50
MAX_ZIP_BYTES = 500 * 1024 * 1024
MAX_ZIP_RATIO = 100


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


def unpack_zip(archive_path: Path, target: Path, limits: ZipLimits) -> list[str]:
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
            raw_file = recognise(base)
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
                f"{where} 解压后共 {size_text(total)}，超过上限 "
                f"{size_text(limits.max_total_bytes)}，拒绝接收"
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
