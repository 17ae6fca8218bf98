"""Plausibility of a new build's headline figures: does publishing it move them too far?

Before a build publishes over a warehouse, its district figures at its latest snapshot are
compared with those the published warehouse shows: households rated, outstanding balance, NPL
rate, villages tripped. A move beyond the profile's bounds (``jump_*`` vars of dbt_project.yml)
stops the publication until a person confirms it (``build --accept-jump``, or 确认 on the 数据管理
page), with the figures that moved and the deliveries and files whose rows moved them most.

Both warehouses are read as built: the new one on the build's connection, the published one
attached read-only as ``published``. Where a row came from is ``raw.row_origins`` (delivery,
file, row number of every loaded household collection and loan).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import duckdb

PUBLISHED = "published"
SHOWN_SOURCES = 3


@dataclass
class Jump:
    label: str
    before: str
    after: str
    change: str
    bound: str
    sources: list[str] = field(default_factory=list)

    def describe(self) -> str:
        line = f"- {self.label}：{self.before} → {self.after}（{self.change}，允许 {self.bound}）"
        # A nested list: read as such on the page (Markdown) and on a terminal alike.
        return "\n".join([line, *(f"  - {source}" for source in self.sources)])


@dataclass
class JumpCheck:
    compared_on: tuple[date, date] | None
    jumps: list[Jump]
    skipped: str = ""

    def describe(self) -> str:
        before, after = self.compared_on
        lines = [
            f"与已发布的数据（统计截止日 {before.isoformat()}）相比，本次构建（统计截止日 "
            f"{after.isoformat()}）的主要指标变化超出合理范围，本次未发布："
        ]
        lines += [jump.describe() for jump in self.jumps]
        lines.append(
            "请先核对上面列出的报送；确认变化无误后，在数据管理页点击“确认变化并发布”，"
            "或运行 python -m huinong build … --accept-jump 发布。"
        )
        return "\n".join(lines)


def _yuan(value: Decimal | int | None) -> str:
    return f"{Decimal(value or 0):,.2f} 元"


def _signed_yuan(value: Decimal) -> str:
    return ("+" if value >= 0 else "−") + _yuan(abs(value))


def _percent(value: Decimal | None) -> str:
    return "—" if value is None else f"{Decimal(value) * 100:.2f}%"


def _headline(con: duckdb.DuckDBPyConnection, catalog: str) -> dict | None:
    row = con.execute(
        f"""select as_of, households_rated, outstanding_balance, npl_rate, villages_tripped
        from "{catalog}".main.kpi_monthly
        where scope_level = 'district'
            and as_of = (select max(as_of) from "{catalog}".main.kpi_monthly)"""
    ).fetchone()
    if row is None:
        return None
    names = ("as_of", "households_rated", "outstanding_balance", "npl_rate", "villages_tripped")
    return dict(zip(names, row, strict=True))


def _has_origins(con: duckdb.DuckDBPyConnection, catalog: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_catalog = $catalog "
            "and table_schema = 'raw' and table_name = 'row_origins'",
            {"catalog": catalog},
        ).fetchone()[0]
    )


def _origins_sql(con: duckdb.DuckDBPyConnection, source_file: str) -> str:
    """Where each record (a household's latest collection, a loan) came from: the new build's
    rows first, the published warehouse's for records the new build no longer has."""
    parts = []
    tables = (
        (_current_catalog(con), "raw.row_origins"),
        (PUBLISHED, f"{PUBLISHED}.raw.row_origins"),
    )
    for rank, (catalog, table) in enumerate(tables):
        if _has_origins(con, catalog):
            parts.append(
                f"select record_id, record_key, delivery_id, file_name, row_number, {rank} as rank "
                f"from {table} where source_file = '{source_file}'"
            )
    if not parts:
        return (
            "(select null::varchar as record_id, null::varchar as delivery_id, "
            "null::varchar as file_name, null::integer as row_number where false)"
        )
    return (
        "(select record_id, delivery_id, file_name, row_number from ("
        "select *, row_number() over (partition by record_id order by rank, record_key desc) "
        f"as pick from ({' union all '.join(parts)})) where pick = 1)"
    )


def _current_catalog(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("select current_database()").fetchone()[0]


def _where(delivery_id: str | None, file_name: str | None) -> str:
    if delivery_id is None and file_name is None:
        return "来源不明"
    if delivery_id is None:
        return file_name or ""
    return f"第 {delivery_id} 批报送 {file_name}"


def _group_lines(rows: list[tuple], unit: str, money: bool) -> list[str]:
    """(delivery_id, file_name, change, records, example id, example row) → one line each."""
    lines = []
    for delivery_id, file_name, change, records, example, example_row in rows[:SHOWN_SOURCES]:
        amount = _signed_yuan(change) if money else f"{int(change):+,} {unit}"
        row = f" 第 {example_row:,} 行" if example_row else ""
        lines.append(
            f"{_where(delivery_id, file_name)}：{amount}（{records:,} 条记录，如 {example}{row}）"
        )
    return lines


def _households_sources(
    con: duckdb.DuckDBPyConnection, before_on: date, after_on: date
) -> list[str]:
    origins = _origins_sql(con, "households")
    rows = con.execute(
        f"""with now as (select household_id from household_scores where as_of = $after),
        before as (select household_id from {PUBLISHED}.main.household_scores where as_of = $before),
        moved as (
            select household_id, 1 as change from (select * from now except select * from before)
            union all
            select household_id, -1 from (select * from before except select * from now)
        )
        select origins.delivery_id, origins.file_name, sum(change) as change, count(*) as records,
            min(household_id) as example, arg_min(origins.row_number, household_id) as example_row
        from moved left join {origins} as origins on origins.record_id = moved.household_id
        group by all order by abs(sum(change)) desc, records desc""",
        {"after": after_on, "before": before_on},
    ).fetchall()
    return _group_lines(rows, "户", money=False)


def _loan_sources(
    con: duckdb.DuckDBPyConnection, before_on: date, after_on: date, measure: str
) -> list[str]:
    origins = _origins_sql(con, "loans")
    rows = con.execute(
        f"""with now as (
            select loan_id, {measure} as amount from loan_status
            where as_of = $after and borrower_type = '农户'
        ),
        before as (
            select loan_id, {measure} as amount from {PUBLISHED}.main.loan_status
            where as_of = $before and borrower_type = '农户'
        ),
        moved as (
            select loan_id, coalesce(now.amount, 0) - coalesce(before.amount, 0) as change
            from now full outer join before using (loan_id)
            where coalesce(now.amount, 0) <> coalesce(before.amount, 0)
        )
        select origins.delivery_id, origins.file_name, sum(change) as change, count(*) as records,
            arg_max(loan_id, abs(change)) as example,
            arg_max(origins.row_number, abs(change)) as example_row
        from moved left join {origins} as origins on origins.record_id = moved.loan_id
        group by all order by abs(sum(change)) desc, records desc""",
        {"after": after_on, "before": before_on},
    ).fetchall()
    return _group_lines(rows, "元", money=True)


def _village_sources(con: duckdb.DuckDBPyConnection, before_on: date, after_on: date) -> list[str]:
    rows = con.execute(
        f"""with now as (
            select village_code from village_breaker where as_of = $after and tripped
        ),
        before as (
            select village_code from {PUBLISHED}.main.village_breaker
            where as_of = $before and tripped
        )
        select '新熔断' as change, village_code from (select * from now except select * from before)
        union all
        select '不再熔断', village_code from (select * from before except select * from now)
        order by change, village_code""",
        {"after": after_on, "before": before_on},
    ).fetchall()
    lines = []
    for change in ("新熔断", "不再熔断"):
        codes = [code for kind, code in rows if kind == change]
        if codes:
            more = f" 等 {len(codes)} 个" if len(codes) > 5 else ""
            lines.append(f"{change}：{'、'.join(codes[:5])}{more}")
    return lines


def check_jumps(con: duckdb.DuckDBPyConnection, profile: Mapping) -> JumpCheck:
    """Compare the new warehouse on ``con`` with the one attached as ``published``."""
    try:
        after = _headline(con, _current_catalog(con))
        before = _headline(con, PUBLISHED)
    except duckdb.Error:
        return JumpCheck(None, [], "已发布的数据仓库没有汇总指标，不做指标跳变检查")
    if after is None or before is None:
        return JumpCheck(None, [], "已发布的数据仓库没有汇总指标，不做指标跳变检查")
    if after["as_of"] < before["as_of"]:
        return JumpCheck(None, [], "统计截止日早于已发布的数据，不做指标跳变检查")
    dates = (before["as_of"], after["as_of"])
    jumps = []

    def relative(name: str, label: str, bound_name: str, money: bool) -> Jump | None:
        old, new = Decimal(before[name] or 0), Decimal(after[name] or 0)
        bound = Decimal(str(profile[bound_name]))
        if old <= 0 or abs(new - old) * 100 <= bound * old:
            return None
        shown = _yuan if money else (lambda value: f"{int(value):,} 户")
        return Jump(label, shown(old), shown(new), f"{(new - old) * 100 / old:+.1f}%", f"±{bound}%")

    households = relative("households_rated", "评级农户", "jump_households_rated_pct", False)
    if households:
        households.sources = _households_sources(con, *dates)
        jumps.append(households)
    balance = relative("outstanding_balance", "贷款余额", "jump_outstanding_balance_pct", True)
    if balance:
        balance.sources = _loan_sources(con, *dates, "outstanding_principal")
        jumps.append(balance)
    if before["npl_rate"] is not None and after["npl_rate"] is not None:
        change = (Decimal(after["npl_rate"]) - Decimal(before["npl_rate"])) * 100
        bound = Decimal(str(profile["jump_npl_rate_points"]))
        if abs(change) > bound:
            jump = Jump(
                "不良率",
                _percent(before["npl_rate"]),
                _percent(after["npl_rate"]),
                f"{change:+.2f} 个百分点",
                f"±{bound} 个百分点",
            )
            measure = "case when is_npl then outstanding_principal else 0 end"
            jump.sources = ["不良贷款余额的变化：", *_loan_sources(con, *dates, measure)]
            jumps.append(jump)
    old_tripped, new_tripped = before["villages_tripped"] or 0, after["villages_tripped"] or 0
    bound = int(profile["jump_villages_tripped"])
    if abs(new_tripped - old_tripped) > bound:
        jump = Jump(
            "熔断行政村",
            f"{old_tripped:,} 个",
            f"{new_tripped:,} 个",
            f"{new_tripped - old_tripped:+,} 个",
            f"±{bound} 个",
        )
        jump.sources = _village_sources(con, *dates)
        jumps.append(jump)
    return JumpCheck(dates, jumps)
