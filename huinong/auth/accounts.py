"""Local accounts and sign-in sessions, in their own SQLite file beside the warehouse.

``data/accounts.sqlite`` (or ``$HUINONG_ACCOUNTS``), never inside the warehouse: every build
replaces that file. WAL mode and a connection per call, so several Streamlit sessions and the
``users`` command can use it at once.

- Passwords are hashed with argon2id (argon2-cffi); the clear text is never stored, logged or
  put into the audit trail. At least 10 characters, not the user name.
- A password set by someone else (a generated one-time password, a reset) must be changed at
  the first sign-in (``must_change_password``).
- After 5 wrong passwords within 15 minutes the account is locked for 15 minutes.
- A session ends after 30 minutes without activity or 12 hours after sign-in, whichever
  comes first; the app calls ``check_session`` on every run. A session also ends when its
  account is disabled, and a role change applies at the next run. All of these numbers are
  settings (``AuthSettings``).
- Accounts with source ``oidc`` carry no password: they assign a role and area to an identity
  that signs in through the organisation's identity provider (``huinong.auth.oidc``).

Every change and every sign-in attempt goes to the audit trail (``huinong.audit``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import argon2

from huinong.audit import AuditTrail, beside_warehouse, connect_private, trail
from huinong.auth.scope import User

_SCHEMA = """
create table if not exists users (
    username text primary key,
    display_name text not null,
    role text not null,
    township_code text,
    village_code text,
    source text not null check (source in ('local', 'oidc')),
    password_hash text,
    must_change_password integer not null default 0,
    disabled integer not null default 0,
    locked_until text,
    created_at text not null,
    updated_at text not null,
    password_changed_at text,
    last_sign_in_at text
);
create table if not exists sign_in_failures (
    username text not null,
    at text not null
);
create index if not exists sign_in_failures_username on sign_in_failures (username, at);
create table if not exists sessions (
    token_hash text primary key,
    username text not null,
    user_json text not null,
    started_at text not null,
    last_seen_at text not null,
    ended_at text,
    end_reason text
);
"""

# A one-time password is read aloud or copied from a terminal: no 0/O, 1/l/I.
_ONE_TIME_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_LOCAL_USERNAME = re.compile(r"^[\w.\-]{2,32}$")


def accounts_path(warehouse: Path | None = None) -> Path:
    """$HUINONG_ACCOUNTS, or accounts.sqlite beside the warehouse."""
    configured = os.environ.get("HUINONG_ACCOUNTS")
    return Path(configured) if configured else beside_warehouse("accounts.sqlite", warehouse)


@dataclass(frozen=True)
class AuthSettings:
    """Lock-out, session and password rules; ``from_mapping`` reads them from secrets.toml's
    ``[huinong.auth]`` (minutes and hours there)."""

    max_failed_sign_ins: int = 5
    failure_window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)
    idle_timeout: timedelta = timedelta(minutes=30)
    session_lifetime: timedelta = timedelta(hours=12)
    min_password_length: int = 10
    # argon2-cffi's defaults (RFC 9106, low-memory): about 0.15 s and 64 MiB per hash.
    hash_time_cost: int = 3
    hash_memory_kib: int = 65536
    hash_parallelism: int = 4

    _UNITS = {
        "failure_window_minutes": ("failure_window", timedelta(minutes=1)),
        "lockout_minutes": ("lockout", timedelta(minutes=1)),
        "idle_timeout_minutes": ("idle_timeout", timedelta(minutes=1)),
        "session_lifetime_hours": ("session_lifetime", timedelta(hours=1)),
    }

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> AuthSettings:
        """max_failed_sign_ins, failure_window_minutes, lockout_minutes, idle_timeout_minutes,
        session_lifetime_hours, min_password_length, hash_* ; an unknown key is refused."""
        plain = {field.name for field in fields(cls)} - {name for name, _ in cls._UNITS.values()}
        arguments: dict[str, object] = {}
        for key, value in values.items():
            if key in cls._UNITS:
                name, unit = cls._UNITS[key]
                arguments[name] = unit * float(value)
            elif key in plain:
                arguments[key] = int(value)
            else:
                known = "、".join(sorted(plain | set(cls._UNITS)))
                raise ValueError(f"[huinong.auth] 中的设置 {key} 未知。可用的设置：{known}")
        return cls(**arguments)


class AccountError(ValueError):
    """An account operation refused; the message tells the clerk what to do."""


class SignInError(Exception):
    """A sign-in refused; the message is shown on the sign-in form."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


class SessionInvalid(Exception):
    """The session is over (timed out, signed out, account disabled): sign in again."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Account:
    """An account as the user list shows it."""

    user: User
    disabled: bool
    must_change_password: bool
    locked_until: datetime | None
    created_at: datetime
    last_sign_in_at: datetime | None

    def status(self, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        if self.disabled:
            return "停用"
        if self.locked_until and self.locked_until > now:
            return f"锁定至 {self.locked_until.astimezone():%H:%M}"
        if self.must_change_password:
            return "待改密码"
        return "正常"


@dataclass(frozen=True)
class Session:
    """A signed-in session: its token (keep it in ``st.session_state``), user and state."""

    token: str
    user: User
    must_change_password: bool
    started_at: datetime
    last_seen_at: datetime


# What the sign-in form says about a session that has already ended, by its end_reason.
_ENDED = {
    "signed_out": "已退出登录，请重新登录",
    "idle": "长时间未操作，已退出登录，请重新登录",
    "lifetime": "登录时间已到，请重新登录",
    "disabled": "账号已停用，请联系金融办",
    "password_reset": "密码已被重置，请用新的一次性密码登录",
    "removed": "账号已不存在，请联系金融办",
}


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo else now.astimezone()


def _token_hash(token: str) -> str:
    # Tokens are 256 random bits: a plain hash is enough and lets the table hold no token.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def one_time_password() -> str:
    """12 random characters in three groups (k7Rm-x9Qp-T2wz), about 70 bits."""
    chars = "".join(secrets.choice(_ONE_TIME_ALPHABET) for _ in range(12))
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def password_problems(username: str, password: str, min_length: int = 10) -> list[str]:
    """What is wrong with a new password, in words for the form (empty when it is fine)."""
    problems = []
    if len(password) < min_length:
        problems.append(f"密码至少 {min_length} 个字符")
    if password.strip().casefold() == username.strip().casefold():
        problems.append("密码不能与用户名相同")
    if password != password.strip():
        problems.append("密码首尾不能是空格")
    return problems


def _user_to_json(user: User) -> str:
    return json.dumps(
        {
            "username": user.username,
            "display_name": user.display_name,
            "role": user.role,
            "township_code": user.township_code,
            "village_code": user.village_code,
            "source": user.source,
        },
        ensure_ascii=False,
    )


class Accounts:
    """The account store: users, failed sign-ins and sessions in one SQLite file."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        audit: AuditTrail | None = None,
        settings: AuthSettings | None = None,
    ):
        self.path = Path(path) if path else accounts_path()
        self.audit = audit or trail()
        self.settings = settings or AuthSettings()
        self.hasher = argon2.PasswordHasher(
            time_cost=self.settings.hash_time_cost,
            memory_cost=self.settings.hash_memory_kib,
            parallelism=self.settings.hash_parallelism,
        )
        self._dummy_hash: str | None = None
        with self._connect() as con:
            con.executescript(_SCHEMA)
            con.execute("pragma user_version = 1")

    def _connect(self) -> closing[sqlite3.Connection]:
        return closing(connect_private(self.path))

    # ── reading ─────────────────────────────────────────────────────────────────────────

    def _row(self, con: sqlite3.Connection, username: str) -> dict | None:
        con.row_factory = sqlite3.Row
        row = con.execute("select * from users where username = ?", [username]).fetchone()
        return dict(row) if row else None

    @staticmethod
    def _user(row: Mapping) -> User:
        return User(
            row["username"],
            row["display_name"],
            row["role"],
            row["township_code"],
            row["village_code"],
            row["source"],
        )

    @classmethod
    def _account(cls, row: Mapping) -> Account:
        return Account(
            cls._user(row),
            bool(row["disabled"]),
            bool(row["must_change_password"]),
            _time(row["locked_until"]),
            _time(row["created_at"]),
            _time(row["last_sign_in_at"]),
        )

    def count(self) -> int:
        with self._connect() as con:
            return con.execute("select count(*) from users").fetchone()[0]

    def get(self, username: str) -> Account | None:
        with self._connect() as con:
            row = self._row(con, username)
        return self._account(row) if row else None

    def list(self) -> list[Account]:
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            rows = con.execute("select * from users order by username").fetchall()
        return [self._account(row) for row in rows]

    def _require(self, con: sqlite3.Connection, username: str) -> dict:
        row = self._row(con, username)
        if row is None:
            raise AccountError(f"没有用户 {username}。用 python -m huinong users list 查看已有用户")
        return row

    # ── administration ──────────────────────────────────────────────────────────────────

    def check_password(self, username: str, password: str) -> None:
        problems = password_problems(username, password, self.settings.min_password_length)
        if problems:
            raise AccountError("密码不符合要求：" + "；".join(problems))

    def add(
        self,
        user: User,
        *,
        actor: User | str,
        password: str | None = None,
        must_change_password: bool = True,
        now: datetime | None = None,
    ) -> str | None:
        """Add an account; returns the generated one-time password of a local account created
        without ``password`` (None otherwise). An oidc account has no password at all."""
        now = _now(now)
        if user.source == "local" and not _LOCAL_USERNAME.match(user.username):
            raise AccountError(
                f"用户名 {user.username} 不可用：2 到 32 个字符，只用汉字、字母、数字和 . _ -"
            )
        if user.source == "oidc" and (not user.username or any(c.isspace() for c in user.username)):
            raise AccountError("统一身份认证账号的用户名应为其邮箱或标识，不含空格")
        generated = None
        password_hash = None
        if user.source == "local":
            if password is None:
                password = generated = one_time_password()
            else:
                self.check_password(user.username, password)
            password_hash = self.hasher.hash(password)
        elif password is not None:
            raise AccountError("统一身份认证账号在身份提供方登录，不设密码")
        with self._connect() as con:
            try:
                con.execute(
                    """
                    insert into users (username, display_name, role, township_code, village_code,
                        source, password_hash, must_change_password, created_at, updated_at,
                        password_changed_at)
                    values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        user.username,
                        user.display_name,
                        user.role,
                        user.township_code,
                        user.village_code,
                        user.source,
                        password_hash,
                        int(user.source == "local" and must_change_password),
                        _text(now),
                        _text(now),
                        _text(now) if password_hash else None,
                    ],
                )
            except sqlite3.IntegrityError as error:
                raise AccountError(f"用户 {user.username} 已存在") from error
        self.audit.record(
            "user_added",
            actor,
            at=now,
            target=user.username,
            role=user.role,
            township=user.township_code,
            village=user.village_code,
            source=user.source,
        )
        return generated

    def _other_office_admins(self, con: sqlite3.Connection, username: str) -> int:
        return con.execute(
            "select count(*) from users where role = 'office' and disabled = 0 and username <> ?",
            [username],
        ).fetchone()[0]

    def disable(self, username: str, *, actor: User | str, now: datetime | None = None) -> None:
        """Disable an account; its open sessions end at their next run."""
        now = _now(now)
        with self._connect() as con:
            row = self._require(con, username)
            if row["role"] == "office" and not self._other_office_admins(con, username):
                raise AccountError(
                    f"不能停用 {username}：它是最后一个可用的金融办账号，先另设一个金融办账号"
                )
            con.execute(
                "update users set disabled = 1, updated_at = ? where username = ?",
                [_text(now), username],
            )
            self._end_sessions(con, username, now, "disabled")
        self.audit.record("user_disabled", actor, at=now, target=username)

    def enable(self, username: str, *, actor: User | str, now: datetime | None = None) -> None:
        """Enable an account again (a lock from wrong passwords is lifted too)."""
        now = _now(now)
        with self._connect() as con:
            self._require(con, username)
            con.execute(
                "update users set disabled = 0, locked_until = null, updated_at = ?"
                " where username = ?",
                [_text(now), username],
            )
            con.execute("delete from sign_in_failures where username = ?", [username])
        self.audit.record("user_enabled", actor, at=now, target=username)

    def reset_password(
        self, username: str, *, actor: User | str, now: datetime | None = None
    ) -> str:
        """A new one-time password (returned, to hand over), to be changed at the next
        sign-in; unlocks the account and ends its sessions."""
        now = _now(now)
        password = one_time_password()
        password_hash = self.hasher.hash(password)
        with self._connect() as con:
            row = self._require(con, username)
            if row["source"] != "local":
                raise AccountError(f"{username} 在统一身份认证登录，密码由身份提供方管理")
            con.execute(
                """
                update users set password_hash = ?, must_change_password = 1, locked_until = null,
                    password_changed_at = ?, updated_at = ?
                where username = ?
                """,
                [password_hash, _text(now), _text(now), username],
            )
            con.execute("delete from sign_in_failures where username = ?", [username])
            self._end_sessions(con, username, now, "password_reset")
        self.audit.record("password_reset", actor, at=now, target=username)
        return password

    def set_role(
        self,
        username: str,
        role_name: str,
        township_code: str | None = None,
        village_code: str | None = None,
        *,
        actor: User | str,
        now: datetime | None = None,
    ) -> User:
        """Change an account's role and area; open sessions see the change at their next run."""
        now = _now(now)
        with self._connect() as con:
            row = self._require(con, username)
            old = self._user(row)
            try:
                new = User.create(
                    username, old.display_name, role_name, township_code, village_code, old.source
                )
            except ValueError as error:
                raise AccountError(str(error)) from error
            if (
                old.role == "office"
                and new.role != "office"
                and not row["disabled"]
                and not self._other_office_admins(con, username)
            ):
                raise AccountError(
                    f"不能改变 {username} 的角色：它是最后一个可用的金融办账号，先另设一个金融办账号"
                )
            con.execute(
                """
                update users set role = ?, township_code = ?, village_code = ?, updated_at = ?
                where username = ?
                """,
                [new.role, new.township_code, new.village_code, _text(now), username],
            )
        self.audit.record(
            "role_changed",
            actor,
            at=now,
            target=username,
            old_role=old.role,
            old_township=old.township_code,
            old_village=old.village_code,
            role=new.role,
            township=new.township_code,
            village=new.village_code,
        )
        return new

    # ── signing in ──────────────────────────────────────────────────────────────────────

    def _verify(self, password_hash: str | None, password: str) -> bool:
        if password_hash is None:
            # An unknown name costs as much time as a known one: no telling which names exist.
            if self._dummy_hash is None:
                self._dummy_hash = self.hasher.hash(one_time_password())
            password_hash = self._dummy_hash
            password = ""
        try:
            return self.hasher.verify(password_hash, password)
        except argon2.exceptions.VerificationError:
            return False
        except argon2.exceptions.InvalidHashError:
            return False

    def _locked_message(self, until: datetime) -> str:
        return (
            f"密码错误次数过多，账号已锁定至 {until.astimezone():%H:%M}。"
            "请稍后再试，或请金融办重置密码"
        )

    def _fail(
        self,
        con: sqlite3.Connection,
        username: str,
        now: datetime,
        reason: str,
        wrong: str = "用户名或密码不正确",
    ) -> SignInError:
        """Count a wrong password; lock the account at the limit. Returns the error to raise."""
        settings = self.settings
        con.execute(
            "insert into sign_in_failures (username, at) values (?, ?)", [username, _text(now)]
        )
        failures = con.execute(
            "select count(*) from sign_in_failures where username = ? and at > ?",
            [username, _text(now - settings.failure_window)],
        ).fetchone()[0]
        self.audit.record("sign_in_failed", username, at=now, reason=reason, failures=failures)
        if failures >= settings.max_failed_sign_ins:
            until = now + settings.lockout
            con.execute(
                "update users set locked_until = ? where username = ?", [_text(until), username]
            )
            # A fresh count after the lock: otherwise one more mistake would lock it again.
            con.execute("delete from sign_in_failures where username = ?", [username])
            self.audit.record(
                "account_locked", username, at=now, failures=failures, until=_text(until)
            )
            return SignInError(self._locked_message(until), "locked")
        left = settings.max_failed_sign_ins - failures
        return SignInError(f"{wrong}（再错 {left} 次账号将被锁定）", reason)

    def sign_in(self, username: str, password: str, *, now: datetime | None = None) -> Session:
        """A new session for a local account whose password matches, or SignInError."""
        now = _now(now)
        username = username.strip()
        with self._connect() as con:
            row = self._row(con, username)
        if row is None or row["source"] != "local":
            self._verify(None, password)
            self.audit.record(
                "sign_in_failed", username[:64] or None, at=now, reason="unknown_user"
            )
            raise SignInError("用户名或密码不正确", "unknown_user")
        locked_until = _time(row["locked_until"])
        if locked_until and locked_until > now:
            self.audit.record("sign_in_failed", username, at=now, reason="locked")
            raise SignInError(self._locked_message(locked_until), "locked")
        if not self._verify(row["password_hash"], password):
            with self._connect() as con:
                raise self._fail(con, username, now, "wrong_password")
        # Only a right password learns that the account is disabled.
        if row["disabled"]:
            self.audit.record("sign_in_failed", username, at=now, reason="disabled")
            raise SignInError("账号已停用，请联系金融办", "disabled")
        new_hash = None
        if self.hasher.check_needs_rehash(row["password_hash"]):
            new_hash = self.hasher.hash(password)
        with self._connect() as con:
            con.execute("delete from sign_in_failures where username = ?", [username])
            con.execute(
                "update users set last_sign_in_at = ?, locked_until = null,"
                " password_hash = coalesce(?, password_hash) where username = ?",
                [_text(now), new_hash, username],
            )
        user = self._user(row)
        session = self._open(user, bool(row["must_change_password"]), now)
        self.audit.record("sign_in", user, at=now, source="local")
        return session

    def open_session(
        self, user: User, *, now: datetime | None = None, token: str | None = None
    ) -> Session:
        """A session for a user who signed in elsewhere (the identity provider, ``st.login``):
        the same idle and lifetime limits apply. Streamlit keeps its identity cookie 30 days
        and does not check the ID token's expiry, so this session is what times out.

        ``token``: the session's token when the caller derives it from the sign-in itself (the
        dashboard uses a keyed hash of the ID token's sub, iat and nonce, so that every new
        browser session of the same sign-in finds this session again, ended or not)."""
        now = _now(now)
        with self._connect() as con:
            row = self._row(con, user.username)
        if row is not None and row["disabled"]:
            self.audit.record("sign_in_failed", user.username, at=now, reason="disabled")
            raise SignInError("账号已停用，请联系金融办", "disabled")
        session = self._open(user, False, now, token)
        self.audit.record("sign_in", user, at=now, source=user.source)
        return session

    def _open(
        self, user: User, must_change: bool, now: datetime, token: str | None = None
    ) -> Session:
        token = token or secrets.token_urlsafe(32)
        with self._connect() as con:
            con.execute(
                """
                insert into sessions (token_hash, username, user_json, started_at, last_seen_at)
                values (?, ?, ?, ?, ?)
                """,
                [_token_hash(token), user.username, _user_to_json(user), _text(now), _text(now)],
            )
        return Session(token, user, must_change, now, now)

    def _end_sessions(
        self, con: sqlite3.Connection, username: str, now: datetime, reason: str
    ) -> None:
        con.execute(
            "update sessions set ended_at = ?, end_reason = ?"
            " where username = ? and ended_at is null",
            [_text(now), reason, username],
        )

    def check_session(self, token: str | None, *, now: datetime | None = None) -> Session:
        """The session of this token if it is still valid (and marks it active now), or
        SessionInvalid saying why: call it on every run of the app. The user comes fresh from
        the account record, so a role change or a disable applies at once."""
        now = _now(now)
        if not token:
            raise SessionInvalid("请登录", "none")
        settings = self.settings
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            session = con.execute(
                "select * from sessions where token_hash = ?", [_token_hash(token)]
            ).fetchone()
            if session is None:
                raise SessionInvalid("登录已失效，请重新登录", "unknown")
            if session["ended_at"]:
                reason = session["end_reason"] or "signed_out"
                raise SessionInvalid(_ENDED.get(reason, _ENDED["signed_out"]), reason)
            snapshot = User(**json.loads(session["user_json"]))
            row = self._row(con, session["username"])
            if row is None and snapshot.source == "local":
                self._end_session(con, token, now, "removed")
                raise SessionInvalid("账号已不存在，请联系金融办", "removed")
            if row is not None and row["disabled"]:
                self._end_session(con, token, now, "disabled")
                raise SessionInvalid("账号已停用，请联系金融办", "disabled")
            user = self._user(row) if row is not None else snapshot
            started, last_seen = _time(session["started_at"]), _time(session["last_seen_at"])
            expired = None
            if now - started > settings.session_lifetime:
                hours = settings.session_lifetime.total_seconds() / 3600
                expired = ("lifetime", f"登录已超过 {hours:g} 小时，请重新登录")
            elif now - last_seen > settings.idle_timeout:
                minutes = settings.idle_timeout.total_seconds() / 60
                expired = ("idle", f"超过 {minutes:g} 分钟未操作，请重新登录")
            if expired:
                self._end_session(con, token, now, expired[0])
            else:
                con.execute(
                    "update sessions set last_seen_at = ? where token_hash = ?",
                    [_text(now), _token_hash(token)],
                )
        if expired:
            self.audit.record("session_expired", user, at=now, reason=expired[0])
            raise SessionInvalid(expired[1], expired[0])
        must_change = bool(row["must_change_password"]) if row is not None else False
        return Session(token, user, must_change, started, now)

    def _end_session(self, con: sqlite3.Connection, token: str, now: datetime, reason: str):
        con.execute(
            "update sessions set ended_at = ?, end_reason = ? where token_hash = ?",
            [_text(now), reason, _token_hash(token)],
        )

    def sign_out(self, token: str, *, now: datetime | None = None) -> None:
        now = _now(now)
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            session = con.execute(
                "select user_json, ended_at from sessions where token_hash = ?",
                [_token_hash(token)],
            ).fetchone()
            if session is None or session["ended_at"]:
                return
            self._end_session(con, token, now, "signed_out")
        self.audit.record("sign_out", User(**json.loads(session["user_json"])), at=now)

    def change_password(
        self, username: str, current: str, new: str, *, now: datetime | None = None
    ) -> None:
        """The user's own change (also the forced one after a reset): the current password,
        then a new one that meets the rules and differs from it."""
        now = _now(now)
        with self._connect() as con:
            row = self._require(con, username)
        if row["source"] != "local":
            raise AccountError(f"{username} 在统一身份认证登录，密码由身份提供方管理")
        locked_until = _time(row["locked_until"])
        if locked_until and locked_until > now:
            raise AccountError(self._locked_message(locked_until))
        if not self._verify(row["password_hash"], current):
            with self._connect() as con:
                error = self._fail(
                    con, username, now, "wrong_current_password", wrong="当前密码不正确"
                )
            raise AccountError(str(error))
        self.check_password(username, new)
        if new == current:
            raise AccountError("新密码不能与当前密码相同")
        with self._connect() as con:
            con.execute(
                """
                update users set password_hash = ?, must_change_password = 0,
                    password_changed_at = ?, updated_at = ?
                where username = ?
                """,
                [self.hasher.hash(new), _text(now), _text(now), username],
            )
        self.audit.record("password_changed", self._user(row), at=now)


def ensure_admin(path: Path | None = None, *, audit: AuditTrail | None = None) -> str | None:
    """On first start (no account at all), an 金融办 administrator ``admin`` whose password is
    $HUINONG_ADMIN_PASSWORD or generated, to be changed at the first sign-in. Returns that
    password so ``make run`` can say how to sign in; None when accounts exist already."""
    accounts = Accounts(path, audit=audit)
    if accounts.count():
        return None
    password = os.environ.get("HUINONG_ADMIN_PASSWORD") or None
    admin = User.create("admin", "系统管理员", "office")
    try:
        generated = accounts.add(admin, actor="system", password=password)
    except AccountError as error:
        if accounts.get("admin") is not None:
            return None  # another process made it a moment ago
        raise AccountError(f"环境变量 HUINONG_ADMIN_PASSWORD 不可用：{error}") from error
    return generated or password
