"""python -m huinong users add | list | disable | enable | reset | role | ensure-admin.

The accounts file is the one beside the warehouse (``--db``, $HUINONG_DB) unless
$HUINONG_ACCOUNTS says otherwise; the audit trail likewise ($HUINONG_AUDIT). Every change is
recorded as done by ``cli:<operating-system user>``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from huinong.audit import AuditTrail, audit_path
from huinong.auth.accounts import AccountError, Accounts, accounts_path, ensure_admin
from huinong.auth.roles import roles
from huinong.auth.scope import User

_HANDOVER = "请当面或电话交给本人；首次登录须修改密码。此密码不会再次显示。"


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # a container user without a passwd entry
        return "cli"


def _stores(args: argparse.Namespace) -> tuple[Accounts, AuditTrail]:
    warehouse = Path(args.db) if args.db else None
    audit = AuditTrail(audit_path(warehouse))
    return Accounts(accounts_path(warehouse), audit=audit), audit


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("新密码：")
        if getpass.getpass("再输入一次：") != first:
            raise AccountError("两次输入的密码不一致")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _describe(user: User) -> str:
    return f"{user.username}（{user.display_name}，{user.role_label} {user.area_label()}）"


def _add(args: argparse.Namespace) -> int:
    accounts, _ = _stores(args)
    source = "oidc" if args.oidc else "local"
    try:
        user = User.create(
            args.username,
            args.name or args.username,
            args.role,
            args.township,
            args.village,
            source,
        )
    except ValueError as error:
        raise AccountError(str(error)) from error
    if args.oidc and args.password_stdin:
        raise AccountError("统一身份认证账号在身份提供方登录，不设密码（去掉 --password-stdin）")
    password = _read_password() if args.password_stdin else None
    generated = accounts.add(user, actor=_actor(), password=password)
    if source == "oidc":
        print(
            f"已新增统一身份认证用户 {_describe(user)}：在身份提供方登录后按此角色和范围使用看板。"
        )
    elif generated:
        print(f"已新增用户 {_describe(user)}。")
        print(f"一次性密码：{generated}")
        print(_HANDOVER)
    else:
        print(f"已新增用户 {_describe(user)}，首次登录须修改密码。")
    return 0


def _list(args: argparse.Namespace) -> int:
    accounts, _ = _stores(args)
    listed = accounts.list()
    if not listed:
        print("还没有用户。用 python -m huinong users add 新增，或启动看板时自动创建 admin。")
        return 0
    print("用户名\t姓名\t角色\t范围\t登录方式\t状态")
    for account in listed:
        user = account.user
        how = "统一身份认证" if user.source == "oidc" else "本地密码"
        print(
            f"{user.username}\t{user.display_name}\t{user.role_label}\t{user.area_label()}"
            f"\t{how}\t{account.status()}"
        )
    print(f"共 {len(listed)} 个用户")
    return 0


def _disable(args: argparse.Namespace) -> int:
    accounts, _ = _stores(args)
    accounts.disable(args.username, actor=_actor())
    print(f"已停用用户 {args.username}，其已登录的会话随即失效。")
    return 0


def _enable(args: argparse.Namespace) -> int:
    accounts, _ = _stores(args)
    accounts.enable(args.username, actor=_actor())
    print(f"已启用用户 {args.username}。")
    return 0


def _reset(args: argparse.Namespace) -> int:
    accounts, _ = _stores(args)
    password = accounts.reset_password(args.username, actor=_actor())
    print(f"已重置用户 {args.username} 的密码（账号如被锁定，已解锁）。")
    print(f"一次性密码：{password}")
    print(_HANDOVER)
    return 0


def _role(args: argparse.Namespace) -> int:
    accounts, _ = _stores(args)
    user = accounts.set_role(args.username, args.role, args.township, args.village, actor=_actor())
    print(f"已变更用户 {_describe(user)}，下次操作时生效。")
    return 0


def _where(args: argparse.Namespace) -> str | None:
    """The address to open in a browser, when make run says where it serves."""
    if not args.address:
        return None
    host = "127.0.0.1" if args.address in ("0.0.0.0", "::") else args.address
    where = f"http://{host}:{args.port}"
    if args.address in ("0.0.0.0", "::"):
        where += "（本机；办公网内其他电脑用本机的网络地址）"
    return where


def _ensure_admin(args: argparse.Namespace) -> int:
    warehouse = Path(args.db) if args.db else None
    password = ensure_admin(accounts_path(warehouse), audit=AuditTrail(audit_path(warehouse)))
    where = _where(args)
    if password is None:
        if where:
            print(f"看板地址：{where}，用已有账号登录（新增用户：python -m huinong users add）。")
        return 0
    print("已创建金融办管理员账号 admin（首次登录须修改密码）。")
    if not os.environ.get("HUINONG_ADMIN_PASSWORD"):
        print(f"一次性密码：{password}")
    else:
        print("密码为环境变量 HUINONG_ADMIN_PASSWORD 的值。")
    if where:
        print(f"请打开 {where}，用户名 admin，用上面的密码登录，按提示设置自己的密码。")
    return 0


def _run(args: argparse.Namespace) -> int:
    try:
        return args.users_run(args)
    except AccountError as error:
        print(f"用户操作失败：{error}", file=sys.stderr, flush=True)
        return 1


def add_users_command(commands: argparse._SubParsersAction) -> None:
    """The ``users`` subcommand of ``python -m huinong``."""
    role_help = "角色：" + "、".join(f"{item.name}（{item.label}）" for item in roles().values())
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        default=None,
        help="数据仓库文件；账号库和审计日志在它旁边（默认 $HUINONG_DB 或 data/warehouse.duckdb）",
    )
    area = argparse.ArgumentParser(add_help=False)
    area.add_argument("--role", required=True, help=role_help)
    area.add_argument("--township", default=None, help="乡镇代码（9 位），乡镇账号必填")
    area.add_argument("--village", default=None, help="行政村代码（12 位），村账号必填")

    users = commands.add_parser("users", help="管理看板用户（新增、停用、重置密码、变更角色）")
    actions = users.add_subparsers(dest="users_command", required=True)

    add = actions.add_parser("add", parents=[common, area], help="新增用户，显示一次性密码")
    add.add_argument("username", help="用户名；统一身份认证账号用其邮箱")
    add.add_argument("--name", default=None, help="姓名（界面上显示），默认同用户名")
    add.add_argument(
        "--password-stdin", action="store_true", help="从标准输入读取密码，而不是生成一次性密码"
    )
    add.add_argument(
        "--oidc", action="store_true", help="统一身份认证账号：在身份提供方登录，按此处的角色和范围"
    )
    add.set_defaults(users_run=_add)

    listing = actions.add_parser("list", parents=[common], help="列出用户")
    listing.set_defaults(users_run=_list)

    for name, run, words in (
        ("disable", _disable, "停用用户"),
        ("enable", _enable, "启用用户（并解除锁定）"),
        ("reset", _reset, "重置密码：生成新的一次性密码，首次登录须修改"),
    ):
        action = actions.add_parser(name, parents=[common], help=words)
        action.add_argument("username")
        action.set_defaults(users_run=run)

    change = actions.add_parser("role", parents=[common, area], help="变更用户的角色和范围")
    change.add_argument("username")
    change.set_defaults(users_run=_role)

    admin = actions.add_parser(
        "ensure-admin", parents=[common], help="还没有任何用户时，创建金融办管理员 admin"
    )
    admin.add_argument("--address", default=None, help="看板监听的地址（打印登录地址用）")
    admin.add_argument("--port", default="8501", help="看板的端口（打印登录地址用）")
    admin.set_defaults(users_run=_ensure_admin)

    users.set_defaults(run=_run)
