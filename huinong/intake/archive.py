"""Unpacking a delivered zip: only the files the contract names, and only within limits.

A zip comes from outside: the whole archive is checked (entry count, paths
that would escape the target, links, passwords, names that do not decode,
sizes and ratios a zip bomb would show) before anything is written, and what
actually comes out is counted again while writing; a damaged member refuses
the whole zip.
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from huinong.intake.errors import IntakeError
from huinong.intake.limits import Limits
from huinong.intake.sources import recognise
from huinong.intake.summary import size_text

# What reading a damaged member raises: a CRC mismatch, a broken deflate stream, a cut-off file,
# a compression method Python cannot read.
DAMAGED_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)


def _member_name(info: zipfile.ZipInfo) -> str:
    # Zips made on Chinese Windows carry GBK names without the UTF-8 flag.
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def unpack_zip(archive_path: Path, target: Path, limits: Limits) -> list[str]:
    """Extract the recognised files of a zip into ``target``; the names left aside are returned.

    The whole archive is checked before anything is written.
    """
    where = archive_path.name
    if not zipfile.is_zipfile(archive_path):
        raise IntakeError(f"{where} 不是有效的 zip 压缩包")
    try:
        archive = zipfile.ZipFile(archive_path)
    except UnicodeDecodeError as error:
        # Flagged as UTF-8 but not: Python cannot even list such a zip.
        raise IntakeError(
            f"{where} 中有条目的文件名不是有效的 UTF-8 编码，无法读取。"
            "请用常用的压缩软件重新打包（文件名只用汉字、字母和数字）后重新报送"
        ) from error
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
            _extract(archive, info, target / canonical, f"{where} 中的条目“{name}”", limits)
    return ignored


def _extract(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, what: str, limits: Limits
) -> None:
    written = 0
    try:
        with archive.open(info) as source, path.open("wb") as sink:
            while chunk := source.read(1 << 20):
                written += len(chunk)
                # The header's size can lie; what actually comes out is what counts.
                if written > info.file_size or written > limits.max_total_bytes:
                    raise IntakeError(f"{what}解压后超过声明大小，拒绝接收")
                sink.write(chunk)
    except DAMAGED_MEMBER_ERRORS as error:
        raise IntakeError(
            f"{what}已损坏，无法解压（压缩包可能没有完整传送）。请重新打包后再报送"
        ) from error
