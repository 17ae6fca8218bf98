"""The raw store of deliveries: ``store/deliveries/NNNN/`` each with its files and a manifest.

Accepting a delivery copies (or unpacks) its recognised files, refuses one
no build could read, and writes the manifest last, so that a reader never
sees half a delivery. The same content sent twice is accepted once.

The store is a ledger: a delivery is never changed or removed. One found to
be wrong is withdrawn — ``withdrawn.json`` beside its manifest says who, when
and why — and builds leave it out from then on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from huinong.intake.archive import unpack_zip
from huinong.intake.csv_reader import inspect_csv
from huinong.intake.errors import IntakeError
from huinong.intake.limits import DEFAULT_LIMITS, Limits
from huinong.intake.sources import MANIFEST, Source, folder_files, recognise
from huinong.intake.summary import size_text
from huinong.intake.xlsx_reader import inspect_xlsx
from huinong.schema import RAW_FILES


@dataclass(frozen=True)
class DeliveryFile:
    name: str
    source_file: str
    sha256: str
    size: int


WITHDRAWAL = "withdrawn.json"


@dataclass(frozen=True)
class Withdrawal:
    at: dt.datetime
    by: str
    reason: str


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
    withdrawn: Withdrawal | None = None

    @property
    def status(self) -> str:
        return "已撤回" if self.withdrawn else "有效"

    def withdrawal_text(self) -> str:
        if self.withdrawn is None:
            return ""
        return (
            f"{self.withdrawn.at:%Y-%m-%d %H:%M} 由 {self.withdrawn.by} 撤回："
            f"{self.withdrawn.reason}"
        )

    def describe(self) -> str:
        when = self.accepted_at.strftime("%Y-%m-%d %H:%M")
        files = "、".join(f"{item.name}（{size_text(item.size)}）" for item in self.files)
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


def is_store(raw_dir: Path) -> bool:
    return (raw_dir / "deliveries").is_dir()


def _delivery_dirs(store: Path) -> Iterator[Path]:
    deliveries = store / "deliveries"
    if not deliveries.is_dir():
        return
    for path in sorted(deliveries.iterdir(), key=lambda item: (len(item.name), item.name)):
        # A folder without a manifest is an acceptance that never finished.
        if path.is_dir() and not path.name.startswith(".") and (path / MANIFEST).is_file():
            yield path


def read_delivery(path: Path) -> Delivery:
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
    withdrawn = _read_withdrawal(path, delivery_id)
    if withdrawn is None:
        # A withdrawn delivery is never read again: a file it lost does not matter.
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
        withdrawn=withdrawn,
    )


def _read_withdrawal(path: Path, delivery_id: str) -> Withdrawal | None:
    marker = path / WITHDRAWAL
    if not marker.exists():
        return None
    try:
        values = json.loads(marker.read_text(encoding="utf-8"))
        return Withdrawal(
            dt.datetime.fromisoformat(values["at"]), str(values["by"]), str(values["reason"])
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise IntakeError(
            f"接收库中第 {delivery_id} 批报送的撤回记录 {WITHDRAWAL} 已损坏，无法读取"
        ) from error


def list_deliveries(store: Path) -> list[Delivery]:
    """The store's accepted deliveries, withdrawn ones included, in acceptance order."""
    return [read_delivery(path) for path in _delivery_dirs(Path(store))]


def active_deliveries(deliveries: list[Delivery]) -> list[Delivery]:
    """The deliveries a build reads: those not withdrawn."""
    return [delivery for delivery in deliveries if delivery.withdrawn is None]


def find_delivery(store: Path, delivery_id: str) -> Delivery:
    wanted = delivery_id.strip().zfill(4) if delivery_id.strip().isdigit() else delivery_id
    for delivery in list_deliveries(store):
        if delivery.delivery_id == wanted:
            return delivery
    raise IntakeError(f"接收库 {store} 中没有第 {delivery_id} 批报送")


def withdraw_delivery(store: Path, delivery_id: str, reason: str, by: str) -> Delivery:
    """Mark a delivery withdrawn (who, when, why); it stays in the store, builds skip it."""
    store = Path(store)
    reason = reason.strip()
    if not reason:
        raise IntakeError("请填写撤回原因（例如“金额录入错误，待村组更正后重新报送”）")
    with _store_lock(store):
        delivery = find_delivery(store, delivery_id)
        if delivery.withdrawn is not None:
            raise IntakeError(
                f"第 {delivery.delivery_id} 批报送已于 {delivery.withdrawn.at:%Y-%m-%d %H:%M} "
                f"由 {delivery.withdrawn.by} 撤回，无需再次撤回"
            )
        at = dt.datetime.now().astimezone().replace(microsecond=0)
        values = {"at": at.isoformat(), "by": by, "reason": reason}
        partial = delivery.path / f".{WITHDRAWAL}.tmp"
        partial.write_text(json.dumps(values, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(partial, delivery.path / WITHDRAWAL)
    return read_delivery(delivery.path)


def store_sources(deliveries: list[Delivery]) -> list[Source]:
    sources: list[Source] = []
    for seq, delivery in enumerate(deliveries, start=1):
        for item in delivery.files:
            sources.append(
                Source(
                    RAW_FILES[item.source_file],
                    delivery.path / item.name,
                    seq,
                    delivery.delivery_id,
                    item.name,
                    delivery.accepted_at.date(),
                )
            )
    return sources


def gather(source: Path, target: Path, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """Copy or extract a candidate's recognised files into ``target`` under their canonical names."""
    if source.is_dir():
        found, ignored = folder_files(source, f"{source.name}/ 中")
        target.mkdir(parents=True, exist_ok=True)
        for name, path in found.items():
            shutil.copyfile(path, target / (name + path.suffix.lower()))
        return ignored
    if source.is_file() and source.suffix.lower() == ".zip":
        return unpack_zip(source, target, limits)
    if source.is_file():
        raise IntakeError(f"{source.name} 既不是文件夹也不是 zip 压缩包，无法接收")
    raise IntakeError(f"找不到要接收的文件或文件夹：{source}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def describe_files(folder: Path) -> list[DeliveryFile]:
    files = []
    for path in sorted(folder.iterdir()):
        raw_file = recognise(path.name)
        if raw_file is not None:
            files.append(DeliveryFile(path.name, raw_file.name, _sha256(path), path.stat().st_size))
    return files


def check_readable(
    folder: Path, files: list[DeliveryFile], where: str, limits: Limits = DEFAULT_LIMITS
) -> None:
    """Refuse, at the door, a file no build could read (encoding, xlsx, required columns)."""
    for item in files:
        raw_file = RAW_FILES[item.source_file]
        path = folder / item.name
        if path.suffix == ".xlsx":
            inspect_xlsx(raw_file, path, f"{where}{item.name}", limits)
        else:
            inspect_csv(raw_file, path, f"{where}{item.name}")


def identity(files: list[DeliveryFile]) -> list[tuple[str, str]]:
    return sorted((item.name, item.sha256) for item in files)


@contextlib.contextmanager
def _store_lock(store: Path) -> Iterator[None]:
    store.mkdir(parents=True, exist_ok=True)
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
    limits: Limits = DEFAULT_LIMITS,
) -> Delivery:
    """Take a folder or zip of raw files into ``store/deliveries/<NNNN>/`` with a manifest.

    Only ``NAME.csv`` / ``NAME.xlsx`` of known names are taken; a file no
    build could read is refused. Sending the same content again changes
    nothing and returns the delivery that already holds it.
    """
    store, source = Path(store), Path(source)
    (store / "deliveries").mkdir(parents=True, exist_ok=True)
    incoming = store / ".incoming" / uuid.uuid4().hex
    try:
        ignored = gather(source, incoming, limits)
        files = describe_files(incoming)
        if not files:
            expected = "、".join(f"{name}.csv" for name in RAW_FILES)
            raise IntakeError(
                f"{source.name} 中没有可识别的报送文件（文件名应为 {expected} 或对应的 .xlsx）"
            )
        check_readable(incoming, files, f"{source.name} 中的 ", limits)
        with _store_lock(store):
            for delivery in active_deliveries(list_deliveries(store)):
                if identity(delivery.files) == identity(files):
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
        return read_delivery(folder)
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
