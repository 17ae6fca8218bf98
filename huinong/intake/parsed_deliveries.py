"""The store's deliveries in parsed form: each accepted delivery's files validated on their own,
once (huinong.intake.parse), and kept as parquet beside the originals — which stay untouched:
they are the evidence.

    deliveries/0003/
        manifest.json             the delivery (huinong.intake.store)
        households.csv …          the files as received
        parsed/
            households.parquet …  each file's rows typed, with their own reasons
            parsed.json           written last: what the parquet files were made from

``deliver`` parses a delivery right after accepting it; a build (or a preview) parses any
delivery it finds unparsed — the one the 数据管理 page has just accepted, or every delivery of a
store written before parsed forms existed — so no step is ever manual. A parsed form is used only
while it is current: made by this program's parsing code under the same programme start and
limits (parse.fingerprint), for the delivery's receipt day and for its files as the manifest
lists them. Otherwise the delivery is parsed again and the form replaced. Withdrawn deliveries
are never read, parsed or not.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

import duckdb

from huinong.intake.checks import IntakeChecks
from huinong.intake.parse import ParsedFile, Progress, fingerprint, parse_file, session
from huinong.intake.store import Delivery, store_lock, store_sources
from huinong.workspace import pid_alive, work_folder

PARSED_DIR = "parsed"
DESCRIPTION = "parsed.json"
# A parse under way (or killed) writes into ``.parsed-<pid>-<hex>`` and swaps it in when whole.
_PARTIAL = re.compile(r"\.parsed-(?:old-)?(\d+)-[0-9a-f]+$")


def _quiet(_message: str) -> None:
    pass


def current_parse(delivery: Delivery, digest: str) -> dict[str, ParsedFile] | None:
    """The delivery's parsed files by source file, or None when it has no current parsed form."""
    folder = delivery.path / PARSED_DIR
    try:
        values = json.loads((folder / DESCRIPTION).read_text(encoding="utf-8"))
        if values["fingerprint"] != digest:
            return None
        if values["received_on"] != delivery.accepted_at.date().isoformat():
            return None
        wanted = {item.source_file: [item.name, item.sha256] for item in delivery.files}
        made_from = {
            name: [item["file_name"], item["sha256"]] for name, item in values["files"].items()
        }
        if made_from != wanted:
            return None
        parsed = {
            name: ParsedFile.described(folder, item["parsed"])
            for name, item in values["files"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not all(item.path.is_file() for item in parsed.values()):
        return None
    return parsed


def parse_delivery(
    con: duckdb.DuckDBPyConnection,
    delivery: Delivery,
    checks: IntakeChecks,
    work_dir: Path,
    say: Progress = _quiet,
    *,
    keep: bool = True,
) -> tuple[dict[str, ParsedFile], bool]:
    """Parse every file of ``delivery`` (on ``con``, inside parse.session).

    With ``keep`` the parsed form replaces ``parsed/`` in the store; when the store cannot be
    written, or without ``keep``, it is left under ``work_dir`` for this run only. Returns the
    parsed files by source file and whether they were kept in the store.
    """
    fresh = _fresh_folder(delivery, say) if keep else None
    folder = fresh or Path(tempfile.mkdtemp(dir=work_dir, prefix=f"parsed-{delivery.delivery_id}-"))
    try:
        files = {
            source.raw_file.name: parse_file(
                con, source, folder / f"{source.raw_file.name}.parquet", work_dir, checks, say
            )
            for source in store_sources([delivery])
        }
        made_from = {item.source_file: item for item in delivery.files}
        description = {
            "delivery_id": delivery.delivery_id,
            "fingerprint": fingerprint(checks),
            "received_on": delivery.accepted_at.date().isoformat(),
            "files": {
                name: {
                    "file_name": made_from[name].name,
                    "sha256": made_from[name].sha256,
                    "parsed": parsed.describe(),
                }
                for name, parsed in files.items()
            },
        }
        partial = folder / f".{DESCRIPTION}.tmp"
        partial.write_text(json.dumps(description, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(partial, folder / DESCRIPTION)
        if fresh is None:
            return files, False
        target = _swap_in(delivery, fresh)
    except BaseException:
        if fresh is not None:
            shutil.rmtree(fresh, ignore_errors=True)
        raise
    return {
        name: ParsedFile.described(target, item.describe()) for name, item in files.items()
    }, True


def _fresh_folder(delivery: Delivery, say: Progress) -> Path | None:
    """A new hidden folder in the delivery to parse into; None when the store cannot be written."""
    for leftover in delivery.path.iterdir():
        match = _PARTIAL.match(leftover.name)
        if match and leftover.is_dir() and not pid_alive(int(match.group(1))):
            shutil.rmtree(leftover, ignore_errors=True)
    fresh = delivery.path / f".parsed-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    try:
        fresh.mkdir()
    except OSError:
        say(
            f"接收库中第 {delivery.delivery_id} 批报送的文件夹无法写入，校验结果未能保存，"
            "每次构建都要重新校验这批报送。请管理员检查接收库的写权限"
        )
        return None
    return fresh


def _swap_in(delivery: Delivery, fresh: Path) -> Path:
    """Put a whole parsed form in place as ``parsed/``, replacing an outdated one."""
    target = delivery.path / PARSED_DIR
    old = None
    with store_lock(delivery.path.parent.parent):
        if target.exists():
            old = delivery.path / f".parsed-old-{os.getpid()}-{uuid.uuid4().hex[:12]}"
            os.replace(target, old)
        os.replace(fresh, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def parsed_deliveries(
    con: duckdb.DuckDBPyConnection,
    deliveries: list[Delivery],
    checks: IntakeChecks,
    work_dir: Path,
    say: Progress = _quiet,
    *,
    keep: bool = True,
) -> dict[str, tuple[dict[str, ParsedFile], bool]]:
    """Every delivery's parsed files by delivery id, parsing those without a current form;
    with each, whether its form is kept in the store."""
    digest = fingerprint(checks)
    found: dict[str, tuple[dict[str, ParsedFile], bool]] = {}
    for delivery in deliveries:
        parsed = current_parse(delivery, digest)
        if parsed is not None:
            found[delivery.delivery_id] = (parsed, True)
            continue
        say(f"校验第 {delivery.delivery_id} 批报送（只需一次，结果保存在接收库中）…")
        found[delivery.delivery_id] = parse_delivery(
            con, delivery, checks, work_dir, say, keep=keep
        )
    return found


def parse_accepted(delivery: Delivery, checks: IntakeChecks | None = None) -> bool:
    """Parse a delivery just accepted (``python -m huinong deliver``), so that builds only read
    its parquet; whether the parsed form is kept in the store."""
    checks = checks or IntakeChecks.from_policy()
    if current_parse(delivery, fingerprint(checks)) is not None:
        return True
    work = work_folder("parse")
    con = duckdb.connect(config={"temp_directory": str(work / "spill")})
    try:
        with session(con):
            _, kept = parse_delivery(con, delivery, checks, work)
        return kept
    finally:
        con.close()
        shutil.rmtree(work, ignore_errors=True)
