"""The audit trail (审计日志): who signed in, exported, uploaded, published, rebuilt, changed users.

PIPL Art. 51 asks for access control and logging around personal information; this is the log.
It lives in its own SQLite file beside the warehouse (``data/audit.sqlite``, or
``$HUINONG_AUDIT``), never inside the warehouse, which every build replaces.

Append-only twice over. Triggers refuse UPDATE and DELETE, so the application cannot rewrite
history by mistake. And each row carries the SHA-256 of its own content chained to the row
before (``prev_hash``), so someone who edits the file with another tool (dropping the
triggers first) breaks the chain at the row they touched: ``verify()`` names it. Removing the
*last* rows leaves a shorter chain that still verifies; ``head()`` gives the row count and the
last hash to note down elsewhere (a printed report, a mail) when that matters.

Details are JSON; a key that looks like a credential (password, secret, token) is refused, so a
password cannot reach the log even by a careless call.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from huinong import REPO_ROOT

if TYPE_CHECKING:
    import polars as pl

    from huinong.auth.scope import User

# Event kinds and the words the 审计日志 page shows. The details each one carries:
EVENTS: dict[str, str] = {
    "sign_in": "登录成功",  # source (local/oidc)
    "sign_in_failed": "登录失败",  # reason (unknown_user, wrong_password, locked, disabled, …)
    "account_locked": "账号锁定",  # failures, until
    "sign_out": "退出登录",
    "session_expired": "会话超时",  # reason (idle, lifetime)
    "password_changed": "修改密码",
    "password_reset": "重置密码",  # target
    "user_added": "新增用户",  # target, role, township, village, source
    "user_disabled": "停用用户",  # target
    "user_enabled": "启用用户",  # target
    "role_changed": "变更角色或范围",  # target, old and new role/township/village
    "access_denied": "越权访问被拒",  # what was requested (township, village, household, page)
    "view_personal": "查看个人信息",  # page, household, village, as_of, full_ids
    "export": "导出",  # report, file_format, file_name, scope, as_of, rows, full_ids
    "upload": "上传报送",  # files, bytes, outcome, error, rows_read/loaded/quarantined
    "publish": "发布报送",  # delivery, source_label, files
    "withdraw": "撤回报送",  # delivery, reason
    "rebuild": "重建数据仓库",  # trigger (publish, manual), outcome (started, busy …)
}

_GENESIS = "0" * 64
_CREDENTIAL_WORDS = ("password", "passwd", "secret", "token", "密码")

_SCHEMA = """
create table if not exists audit_log (
    id integer primary key,
    at text not null,
    event text not null,
    username text,
    display_name text,
    role text,
    township_code text,
    village_code text,
    details text not null,
    prev_hash text not null,
    hash text not null
);
create index if not exists audit_log_at on audit_log (at);
create index if not exists audit_log_username on audit_log (username);
create trigger if not exists audit_log_no_update before update on audit_log
begin
    select raise(abort, '审计日志只能追加，不能修改');
end;
create trigger if not exists audit_log_no_delete before delete on audit_log
begin
    select raise(abort, '审计日志只能追加，不能删除');
end;
"""

_COLUMNS = (
    "id",
    "at",
    "event",
    "username",
    "display_name",
    "role",
    "township_code",
    "village_code",
    "details",
    "prev_hash",
    "hash",
)


def audit_path(warehouse: Path | None = None) -> Path:
    """$HUINONG_AUDIT, or audit.sqlite beside the warehouse (default: the repository's data/)."""
    configured = os.environ.get("HUINONG_AUDIT")
    if configured:
        return Path(configured)
    return beside_warehouse("audit.sqlite", warehouse)


def beside_warehouse(name: str, warehouse: Path | None = None) -> Path:
    """A file in the warehouse's folder: that of ``warehouse``, of $HUINONG_DB, or the
    repository's data/ (the same default as ``huinong.data.warehouse_path``)."""
    if warehouse is None:
        configured = os.environ.get("HUINONG_DB")
        warehouse = Path(configured) if configured else REPO_ROOT / "data" / "warehouse.duckdb"
    return Path(warehouse).parent / name


def connect_private(path: Path) -> sqlite3.Connection:
    """A WAL-mode connection to a SQLite file only its owner may read (created 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Created before sqlite opens it, so it never exists with looser permissions.
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    con = sqlite3.connect(path, timeout=10, isolation_level=None)
    con.execute("pragma journal_mode = wal")
    con.execute("pragma synchronous = normal")
    con.execute("pragma busy_timeout = 10000")
    return con


def _utc_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a naive time is the machine's local time
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _row_hash(row: dict[str, object]) -> str:
    content = [row[column] for column in _COLUMNS if column != "hash"]
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _actor(user: User | str | None) -> dict[str, str | None]:
    if user is None:
        return dict.fromkeys(("username", "display_name", "role", "township_code", "village_code"))
    if isinstance(user, str):
        return {
            "username": user,
            "display_name": None,
            "role": None,
            "township_code": None,
            "village_code": None,
        }
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "township_code": user.township_code,
        "village_code": user.village_code,
    }


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@dataclass(frozen=True)
class Head:
    rows: int
    last_hash: str


class AuditTrail:
    """The audit store in one SQLite file; safe to use from several processes at once."""

    def __init__(self, path: Path):
        self.path = Path(path)
        with self._connect() as con:
            con.executescript(_SCHEMA)

    def _connect(self) -> closing[sqlite3.Connection]:
        return closing(connect_private(self.path))

    def record(
        self, event: str, user: User | str | None, *, at: datetime | None = None, **details
    ) -> int:
        """Append one event (a kind of ``EVENTS``) done by ``user`` (a User, a name such as
        ``cli:root`` for the command line, or None); returns the row id."""
        if event not in EVENTS:
            raise ValueError(f"unknown audit event: {event}")
        for key in details:
            if any(word in key.lower() for word in _CREDENTIAL_WORDS):
                raise ValueError(f"audit details must not carry credentials: {key}")
        row: dict[str, object] = {
            "at": _utc_text(at or datetime.now(UTC)),
            "event": event,
            **_actor(user),
            "details": json.dumps(_plain(details), ensure_ascii=False, sort_keys=True),
        }
        with self._connect() as con:
            # IMMEDIATE takes the write lock before reading the last hash: two processes
            # appending at once cannot both chain onto the same row.
            con.execute("begin immediate")
            try:
                last = con.execute(
                    "select id, hash from audit_log order by id desc limit 1"
                ).fetchone()
                row["id"] = (last[0] + 1) if last else 1
                row["prev_hash"] = last[1] if last else _GENESIS
                row["hash"] = _row_hash(row)
                con.execute(
                    f"insert into audit_log ({', '.join(_COLUMNS)}) "
                    f"values ({', '.join('?' for _ in _COLUMNS)})",
                    [row[column] for column in _COLUMNS],
                )
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise
        return int(row["id"])

    def verify(self) -> int | None:
        """The id of the first row whose content or link to the row before does not match its
        hash (a row edited, inserted or removed behind the application's back); None when the
        whole chain holds."""
        expected_prev, expected_id = _GENESIS, 1
        with self._connect() as con:
            cursor = con.execute(f"select {', '.join(_COLUMNS)} from audit_log order by id")
            for values in cursor:
                row = dict(zip(_COLUMNS, values, strict=True))
                if (
                    row["id"] != expected_id
                    or row["prev_hash"] != expected_prev
                    or _row_hash(row) != row["hash"]
                ):
                    return int(row["id"])
                expected_prev, expected_id = row["hash"], expected_id + 1
        return None

    def head(self) -> Head:
        with self._connect() as con:
            last = con.execute("select id, hash from audit_log order by id desc limit 1").fetchone()
        return Head(last[0], last[1]) if last else Head(0, _GENESIS)

    def usernames(self) -> list[str]:
        """Every account name that appears in the trail, for the 审计日志 page's filter."""
        with self._connect() as con:
            rows = con.execute(
                "select distinct username from audit_log where username is not null"
                " order by username"
            ).fetchall()
        return [row[0] for row in rows]

    def query(
        self,
        *,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
        username: str | None = None,
        events: str | Iterable[str] | None = None,
        limit: int | None = None,
    ) -> pl.DataFrame:
        """Events, newest first, for the 审计日志 page.

        ``since``/``until``: a time, or a date (``until`` a date includes that whole day);
        ``username``: one account; ``events``: one kind or several. ``at`` comes back as the
        machine's local time; ``event_label`` in Chinese; ``details`` as JSON text.
        """
        conditions, params = [], []
        if since is not None:
            if not isinstance(since, datetime):
                since = datetime.combine(since, time())
            conditions.append("at >= ?")
            params.append(_utc_text(since))
        if until is not None:
            if not isinstance(until, datetime):
                until = datetime.combine(until + timedelta(days=1), time())
                conditions.append("at < ?")
            else:
                conditions.append("at <= ?")
            params.append(_utc_text(until))
        if username is not None:
            conditions.append("username = ?")
            params.append(username)
        if events is not None:
            kinds = [events] if isinstance(events, str) else list(events)
            unknown = [kind for kind in kinds if kind not in EVENTS]
            if unknown:
                raise ValueError(f"unknown audit event: {', '.join(unknown)}")
            conditions.append(f"event in ({', '.join('?' for _ in kinds)})")
            params.extend(kinds)
        sql = (
            "select id, at, event, username, display_name, role, township_code, village_code,"
            " details from audit_log"
        )
        if conditions:
            sql += " where " + " and ".join(conditions)
        sql += " order by id desc"
        if limit is not None:
            sql += " limit ?"
            params.append(int(limit))
        with self._connect() as con:
            rows = con.execute(sql, params).fetchall()
        # Here, not at the top: the sign-in form records through this module, and a new
        # session's first screen is drawn without polars (app.py).
        import polars as pl

        schema = {
            "id": pl.Int64,
            "at": pl.Datetime("us"),
            "event": pl.String,
            "event_label": pl.String,
            "username": pl.String,
            "display_name": pl.String,
            "role": pl.String,
            "township_code": pl.String,
            "village_code": pl.String,
            "details": pl.String,
        }
        records = [
            {
                "id": row[0],
                "at": datetime.fromisoformat(row[1]).astimezone().replace(tzinfo=None),
                "event": row[2],
                "event_label": EVENTS.get(row[2], row[2]),
                "username": row[3],
                "display_name": row[4],
                "role": row[5],
                "township_code": row[6],
                "village_code": row[7],
                "details": row[8],
            }
            for row in rows
        ]
        return pl.DataFrame(records, schema=schema)


def trail(warehouse: Path | None = None) -> AuditTrail:
    """The audit trail at its configured place."""
    return AuditTrail(audit_path(warehouse))


def record(event: str, user: User | str | None, **details) -> int:
    """Append an event to the configured audit trail (see ``AuditTrail.record``)."""
    return trail().record(event, user, **details)


def query(**filters) -> pl.DataFrame:
    """Events of the configured audit trail (see ``AuditTrail.query``)."""
    return trail().query(**filters)


def verify() -> int | None:
    """The first broken row of the configured audit trail, or None (``AuditTrail.verify``)."""
    return trail().verify()
