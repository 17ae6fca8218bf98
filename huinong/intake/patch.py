"""A monthly intake: the raw tables of the published warehouse, patched where new deliveries reach.

A build that reuses the published warehouse (huinong.warehouse) starts from a copy of it, raw
tables included, and knows the store state they were loaded from. When the store has only gained
deliveries since — none withdrawn, the ones read then unchanged, parsed by the same rules, no new
villages file — only the rows the new deliveries can change are settled again (the scope):

- every villages and entities row (a few thousand);
- every row of the households they send, and of the households borrowing the loans below;
- every row of the loans they send (in the loans, schedule or repayments file), of the loans of
  the households and entities they send, and of the loans of any payment under one of those loans
  (a payment re-sent under another loan); those loans' instalments and payments;
- every row they hold themselves, whatever its key.

A household's fate (loaded, quarantined, superseded) depends only on its own rows and the
villages; a loan's on its own rows, its borrower's, its plan and the entities; an instalment's or
a payment's on the rows of its key and its loan's. So no row outside the scope can load differently
and none inside depends on one outside.

The scope is settled twice by the same code as a full intake (huinong.intake.combined): as the
store stood when the published warehouse was built, and as it stands now. The first must give
exactly what the published raw tables, quarantine and row origins hold for the scope — otherwise
they were not loaded as this program loads them, and the intake reads everything anew — and the
second replaces it; the load report moves by the difference of the two.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import duckdb

from huinong.intake.cells import sql_text
from huinong.intake.checks import IntakeChecks
from huinong.intake.combined import IntakeRun, parsed_rows_sql
from huinong.intake.limits import MAX_AMOUNT_TOTAL
from huinong.intake.parse import ParsedFile, fingerprint
from huinong.intake.sources import Source
from huinong.intake.store import Delivery
from huinong.schema import RAW_FILES

Progress = Callable[[str], None]

# The two scoped runs publish into an in-memory catalog attached for the patch.
PATCH = "_hn_patch"
BEFORE = f"{PATCH}.before"
NOW = f"{PATCH}.now"
# Files compared and patched within the scope; the others whole.
SCOPED = ("households", "loans", "schedule", "repayments")
# Tables of the raw schema that describe rows by file, delivery and row number.
ROW_TABLES = ("quarantine", "row_origins")

# The scope's rows of each raw table. Every row of a scoped payment lies under a scoped loan
# (_scope closes over them), so loaded payments are in scope by their loan.
_IN_SCOPE = {
    "villages": "true",
    "entities": "true",
    "households": "household_id in (select household_id from _hn_scope_households)",
    "loans": "loan_id in (select loan_id from _hn_scope_loans)",
    "schedule": "loan_id in (select loan_id from _hn_scope_loans)",
    "repayments": "loan_id in (select loan_id from _hn_scope_loans)",
}
# The scope's parsed rows: those with a key in scope, and a payment's rows without a loan.
_PARSED_IN_SCOPE = {
    **_IN_SCOPE,
    "repayments": (
        "loan_id in (select loan_id from _hn_scope_loans) "
        "or payment_id in (select payment_id from _hn_scope_payments)"
    ),
}
# Row origins are kept for loaded households and loans: in scope by their record id.
_ORIGINS_IN_SCOPE = (
    "(source_file = 'households' and record_id in (select household_id from _hn_scope_households))"
    " or (source_file = 'loans' and record_id in (select loan_id from _hn_scope_loans))"
)
_SCOPE_TABLES = ("_hn_scope_households", "_hn_scope_loans", "_hn_scope_payments")


def new_deliveries(previous: dict | None, current: dict | None) -> tuple[list[str], str]:
    """The deliveries of store state ``current`` that ``previous`` did not read, or why the two
    cannot be compared so (in words). A store state (huinong.warehouse's build_info.store_state):
    ``deliveries`` (ids, withdrawn included), ``withdrawn``, ``digests`` (id → Delivery.digest)
    and ``parsed`` (parse.fingerprint)."""
    if current is None:
        return [], "原始数据是文件夹而不是数据接收库，无法按报送判断有哪些变化"
    if previous is None or "digests" not in previous:
        return [], "已发布的数据仓库不是由本版本程序从数据接收库构建的"
    if previous.get("parsed") != current.get("parsed"):
        return [], "数据校验规则与上次构建不同"
    before = set(previous["deliveries"]) - set(previous["withdrawn"])
    now = set(current["deliveries"]) - set(current["withdrawn"])
    gone = sorted(before - now)
    if gone:
        return [], f"第 {'、'.join(gone)} 批报送已撤回"
    if any(previous["digests"].get(item) != current["digests"].get(item) for item in before):
        return [], "接收库中已读取过的报送与上次构建时不同"
    return sorted(now - before), ""


def patch_raw(
    con: duckdb.DuckDBPyConnection,
    sources: list[Source],
    deliveries: list[Delivery],
    stored: dict[str, tuple[dict[str, ParsedFile], bool]],
    checks: IntakeChecks,
    work_dir: Path,
    progress: Progress | None,
    loaded_from: dict,
) -> tuple[IntakeRun | None, str]:
    """Patch the raw tables on ``con`` (loaded from store state ``loaded_from``; empty when
    unknown) for the
    deliveries since: the run as it stands now — or None (nothing changed) when the intake must
    read everything, and why (also said to ``progress``)."""
    say = progress or _quiet
    current = {
        "deliveries": [delivery.delivery_id for delivery in deliveries],
        "withdrawn": [],
        "digests": {delivery.delivery_id: delivery.digest for delivery in deliveries},
        "parsed": fingerprint(checks),
    }
    if not deliveries:
        current = None  # a plain folder
    added, reason = new_deliveries(loaded_from, current)
    earlier = [delivery for delivery in deliveries if delivery.delivery_id not in added]
    if not reason and deliveries[: len(earlier)] != earlier:
        reason = "新报送排在已读取的报送之前"
    if not reason and any("villages" in stored[item][0] for item in added):
        reason = "新报送中有行政区划"
    if not reason and not _has_raw_tables(con):
        reason = "已发布的数据仓库中没有原始数据表"
    if reason:
        say(f"读取全部报送：{reason}")
        return None, reason
    new_seqs = sorted({source.seq for source in sources if source.delivery_id in added})
    _scope(con, stored, added)
    in_new = f"_seq in ({', '.join(map(str, new_seqs))})" if new_seqs else "false"
    scope = {name: f"({rule}) or {in_new}" for name, rule in _PARSED_IN_SCOPE.items()}
    say(
        f"按报送增量读取：新报送 {len(added)} 批"
        + (f"（第 {'、'.join(added)} 批）" if added else "")
        + "，只重新核对其涉及的农户和贷款…"
    )
    # The scope's rows are read from the parsed files once, for both runs.
    preloaded = {name: f"_hn_in_{name}" for name in RAW_FILES}
    for name, raw_file in RAW_FILES.items():
        files = [
            (source.seq, stored[source.delivery_id][0][name].path)
            for source in sources
            if source.raw_file.name == name and source.delivery_id in stored
        ]
        con.execute(
            f"create or replace temp table {preloaded[name]} as "
            + parsed_rows_sql(raw_file, files, scope[name])
        )
    con.execute(f"attach ':memory:' as {PATCH}")
    try:
        before = [source for source in sources if source.delivery_id not in added]
        shared = (stored, checks, work_dir, scope, preloaded)
        _scoped_run(con, before, earlier, *shared, BEFORE)
        now = _scoped_run(con, sources, deliveries, *shared, NOW)
        if not _matches_published(con):
            reason = "已发布数据仓库中的原始数据与按本版本程序读取的结果不一致"
            say(f"读取全部报送：{reason}")
            return None, reason
        _record_changes(con)
        _patch(con, now, added)
        if _over_total(con):
            # The full intake names the rows that make the total too large.
            reason = "金额合计需要逐行核对"
            say(f"读取全部报送：{reason}")
            return None, reason
    finally:
        con.execute(f"detach {PATCH}")
        for table in (*_SCOPE_TABLES, *preloaded.values()):
            con.execute(f"drop table if exists {table}")
    for line in _loaded_lines(con, now):
        say(line)
    return now, ""


def _quiet(_message: str) -> None:
    pass


def _has_raw_tables(con: duckdb.DuckDBPyConnection) -> bool:
    wanted = [*RAW_FILES, "quarantine", "load_report", "extra_columns", "deliveries", *ROW_TABLES]
    found = {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables "
            "where table_catalog = current_database() and table_schema = 'raw'"
        ).fetchall()
    }
    return set(wanted) <= found


def _parquet(stored: dict, ids: list[str], source_file: str, columns: str) -> str:
    """A relation of ``columns`` of one file over the parsed forms of deliveries ``ids``."""
    paths = [
        "'" + str(files[source_file].path).replace("'", "''") + "'"
        for item in ids
        if source_file in (files := stored[item][0])
    ]
    if not paths:
        names = ", ".join(f"null::varchar as {name.strip()}" for name in columns.split(","))
        return f"(select {names} where false)"
    return f"(select {columns} from read_parquet([{', '.join(paths)}]))"


def _scope(con: duckdb.DuckDBPyConnection, stored: dict, added: list[str]) -> None:
    """The scope's keys: _hn_scope_households, _hn_scope_loans, _hn_scope_payments."""
    every = list(stored)

    def create(table: str, sql: str) -> int:
        con.execute(f"create or replace temp table {table} as {sql}")
        return con.execute(f"select count(*) from {table}").fetchone()[0]

    create(
        "_hn_scope_loans",
        f"""select distinct loan_id from (
            select loan_id from {_parquet(stored, added, "loans", "loan_id")}
            union all select loan_id from {_parquet(stored, added, "schedule", "loan_id")}
            union all select loan_id from {_parquet(stored, added, "repayments", "loan_id")}
            union all select loan_id from {_parquet(stored, every, "loans", "loan_id, borrower_id")}
            where borrower_id in (
                select household_id
                from {_parquet(stored, added, "households", "household_id")}
                union all select entity_id from {_parquet(stored, added, "entities", "entity_id")}
            )
        ) where loan_id is not null""",
    )
    payments = _parquet(stored, every, "repayments", "payment_id, loan_id")
    create(
        "_hn_scope_payments",
        f"""select distinct payment_id from {_parquet(stored, added, "repayments", "payment_id")}
        where payment_id is not null""",
    )
    # A payment's rows under several loans tie those loans together: close over them.
    loans = con.execute("select count(*) from _hn_scope_loans").fetchone()[0]
    while True:
        create(
            "_hn_scope_payments",
            f"""select payment_id from _hn_scope_payments
            union select payment_id from {payments}
            where loan_id in (select loan_id from _hn_scope_loans) and payment_id is not null""",
        )
        grown = create(
            "_hn_scope_loans",
            f"""select loan_id from _hn_scope_loans
            union select loan_id from {payments}
            where payment_id in (select payment_id from _hn_scope_payments)
                and loan_id is not null""",
        )
        if grown == loans:
            break
        loans = grown
    create(
        "_hn_scope_households",
        f"""select household_id from {_parquet(stored, added, "households", "household_id")}
        where household_id is not null
        union select borrower_id from {_parquet(stored, every, "loans", "loan_id, borrower_id")}
        where loan_id in (select loan_id from _hn_scope_loans) and borrower_id is not null""",
    )


def _scoped_run(
    con: duckdb.DuckDBPyConnection,
    sources: list[Source],
    deliveries: list[Delivery],
    stored: dict,
    checks: IntakeChecks,
    work_dir: Path,
    scope: dict[str, str],
    preloaded: dict[str, str],
    schema: str,
) -> IntakeRun:
    run = IntakeRun(
        con,
        sources,
        deliveries,
        None,
        work_dir,
        checks,
        stored,
        scope=scope,
        preloaded=preloaded,
        schema=schema,
    )
    try:
        run.execute()
    finally:
        run.drop_temporaries()
    return run


def _same(con: duckdb.DuckDBPyConnection, left: str, right: str) -> bool:
    """Whether two relations hold the same rows: their counts and the sums of their rows' hashes
    (a fraction of comparing them row by row, on the scope of a million households)."""
    sums = [
        con.execute(f"select count(*), sum(hash(rows)::hugeint) from {relation} rows").fetchone()
        for relation in (left, right)
    ]
    return sums[0] == sums[1]


def _matches_published(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the scope settled as the store stood gives what the published tables hold."""
    for name in RAW_FILES:
        published = f"(select * from raw.{name} where {_IN_SCOPE[name]})"
        if not _same(con, published, f"{BEFORE}.{name}"):
            return False
    quarantined = (
        f"(select published.* from raw.quarantine published semi join {BEFORE}.scoped_rows scoped "
        "on published.source_file = scoped.source_file "
        "and published.delivery_id is not distinct from scoped.delivery_id "
        "and published.row_number = scoped.row_number)"
    )
    origins = f"(select * from raw.row_origins where {_ORIGINS_IN_SCOPE})"
    return _same(con, quarantined, f"{BEFORE}.quarantine") and _same(
        con, origins, f"{BEFORE}.row_origins"
    )


def _patch(con: duckdb.DuckDBPyConnection, now: IntakeRun, added: list[str]) -> None:
    """Replace the scope's rows of the raw tables by the scope settled now. The published rows of
    the scope are those settled before (_matches_published), so only the rows that differ
    (changed_rows) are deleted and inserted: a month's payments leave most of its loans' rows as
    they were (at 1M households 3.7 CPU-s went on rewriting them)."""
    for name, raw_file in RAW_FILES.items():
        added_rows, removed_rows = changed_rows(name)
        same_key = " and ".join(f"raw.{name}.{key} = removed.{key}" for key in raw_file.key)
        con.execute(f"delete from raw.{name} using {removed_rows} removed where {same_key}")
        con.execute(f"insert into raw.{name} select * from {added_rows}")
    con.execute(
        f"""delete from raw.quarantine using {BEFORE}.scoped_rows scoped
        where raw.quarantine.source_file = scoped.source_file
            and raw.quarantine.delivery_id is not distinct from scoped.delivery_id
            and raw.quarantine.row_number = scoped.row_number"""
    )
    con.execute(f"delete from raw.row_origins where {_ORIGINS_IN_SCOPE}")
    for table in ROW_TABLES:
        con.execute(f"insert into raw.{table} select * from {NOW}.{table}")
    # Files in the order a full intake reports them: by file, then by delivery.
    order = ", ".join(
        f"({sql_text(name)}, {sql_text(source.delivery_id or '')}, {position})"
        for position, (name, source) in enumerate(
            (name, source)
            for name in RAW_FILES
            for source in now.sources
            if source.raw_file.name == name
        )
    )
    con.execute(
        f"create or replace temp table _hn_order as "
        f"select source_file, nullif(delivery_id, '') as delivery_id, position "
        f"from (values {order}) files(source_file, delivery_id, position)"
    )
    same_file = (
        "{a}.source_file = {b}.source_file and {a}.file_name = {b}.file_name "
        "and {a}.delivery_id is not distinct from {b}.delivery_id"
    )
    moved = ", ".join(
        f"published.{column} - coalesce(before.{column}, 0) + coalesce(now.{column}, 0) as {column}"
        for column in ("rows_read", "rows_loaded", "rows_quarantined", "rows_superseded")
    )
    added_ids = "(" + ", ".join(sql_text(item) for item in added) + ")" if added else "(null)"
    con.execute(
        f"""create or replace table raw.load_report as
        select report.* from (
            select published.source_file, published.file_name, published.delivery_id, {moved}
            from raw.load_report published
            left join {BEFORE}.load_report before
                on {same_file.format(a="published", b="before")}
            left join {NOW}.load_report now on {same_file.format(a="published", b="now")}
            union all
            select * from {NOW}.load_report where delivery_id in {added_ids}
        ) report
        join _hn_order files on report.source_file = files.source_file
            and report.delivery_id is not distinct from files.delivery_id
        order by files.position"""
    )
    con.execute(
        f"""create or replace table raw.extra_columns as
        select extra.* exclude (part, place) from (
            select *, 0 as part, rowid as place from raw.extra_columns
            where delivery_id is null or delivery_id not in {added_ids}
            union all
            select *, 1, rowid from {NOW}.extra_columns where delivery_id in {added_ids}
        ) extra
        join _hn_order files on extra.source_file = files.source_file
            and extra.delivery_id is not distinct from files.delivery_id
        order by files.position, extra.part, extra.place"""
    )
    con.execute(
        f"insert into raw.deliveries select * from {NOW}.deliveries where delivery_id in {added_ids}"
    )
    con.execute("drop table _hn_order")


def changed_rows(name: str) -> tuple[str, str]:
    """The temporary tables a patch leaves on its connection for raw file ``name``: the rows it
    added to ``raw.<name>`` and those it removed (huinong.increment reads them)."""
    return f"_hn_added_{name}", f"_hn_removed_{name}"


def _record_changes(con: duckdb.DuckDBPyConnection) -> None:
    """changed_rows: within the scope (outside it nothing changed), the rows settled now and not
    before, and the reverse. A loaded row is the only one of its key: rows are compared by key
    and a hash of the whole row."""
    for name, raw_file in RAW_FILES.items():
        key = ", ".join(raw_file.key)
        for table, one, other in zip(changed_rows(name), (NOW, BEFORE), (BEFORE, NOW), strict=True):
            con.execute(
                f"""create or replace temp table {table} as
                select * exclude (_row_hash)
                from (select rows.*, hash(rows) as _row_hash from {one}.{name} rows)
                anti join (select {key}, hash(rows) as _row_hash from {other}.{name} rows)
                    using (_row_hash, {key})"""
            )


def _over_total(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a file's loaded amounts now sum beyond what the warehouse's amount type holds."""
    for raw_file in RAW_FILES.values():
        amounts = [column.name for column in raw_file.columns if column.kind == "amount"]
        if not amounts:
            continue
        row_total = " + ".join(f"coalesce(abs({name}), 0)" for name in amounts)
        total = con.execute(f"select sum({row_total}) from raw.{raw_file.name}").fetchone()[0]
        if total is not None and total >= MAX_AMOUNT_TOTAL:
            return True
    return False


def _loaded_lines(con: duckdb.DuckDBPyConnection, now: IntakeRun) -> list[str]:
    """The counts of every file read, as a full intake says them."""
    lines = []
    names = {
        (source.raw_file.name, source.delivery_id): source.display_name for source in now.sources
    }
    for source_file, delivery_id, loaded, quarantined, superseded in con.execute(
        "select source_file, delivery_id, rows_loaded, rows_quarantined, rows_superseded "
        "from raw.load_report"
    ).fetchall():
        with contextlib.suppress(KeyError):
            lines.append(
                f"{names[(source_file, delivery_id)]}：载入 {loaded:,} 行，隔离 {quarantined:,} 行"
                + (f"，被替换 {superseded:,} 行" if superseded else "")
            )
    return lines
