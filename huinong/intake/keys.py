"""A row's identity: its key, duplicates within one delivery, and which row of a key is in force.

Each step is a function on the file's validated table (``_seq, _row, _key, _reasons, _own_ok,
_superseded, _rejected, _earlier_ok, _disqualified``, see huinong.intake.tables).

A key sent again by a later delivery is a correction. The correction replaces the row in force
only when it passes validation itself: its own cells and rules, no duplicate within its delivery,
and the rules across files. A correction that fails is quarantined with ``REJECTED_REASON`` and
the row before it stays in force; a row is never dropped because a broken row shares its key.

Both steps group by key: time and memory grow with the rows, not with the rows per key.
"""

from __future__ import annotations

import duckdb

from huinong.intake.cells import sql_text
from huinong.schema import RawFile

# How many other rows a duplicate's reason names before "等 N 行".
DETAIL_ROWS = 5
REJECTED_REASON = "更正行未通过校验，保留原数据"


def key_sql(raw_file: RawFile) -> str:
    """The row's identity across deliveries: typed where typing makes '01' and '1' one key."""
    parts = []
    for name in raw_file.key:
        column = raw_file.column(name)
        parts.append(name if column.kind == "text" else f"coalesce({name}::varchar, n_{name})")
    if len(parts) == 1:
        return parts[0]
    missing = " or ".join(f"{part} is null" for part in parts)
    return f"case when {missing} then null else " + " || chr(31) || ".join(parts) + " end"


def key_label(raw_file: RawFile) -> str:
    return "+".join(raw_file.column(name).label for name in raw_file.key)


def flag_duplicates(
    con: duckdb.DuckDBPyConnection, raw_file: RawFile, table: str, duplicates_table: str
) -> None:
    """Rows of one delivery sharing a key: each gets a reason naming the first others by row
    number and how many there are, and none of them passes (``_own_ok``)."""
    prefix = sql_text(key_label(raw_file) + "重复：与第 ")
    con.execute(
        f"""insert into {duplicates_table}
        select '{raw_file.name}', row._seq, row._row, {prefix}
            || array_to_string(list_slice(list_filter(
                groups._first_rows, lambda other: other <> row._row), 1, {DETAIL_ROWS}), '、')
            || case when groups._rows - 1 > {DETAIL_ROWS}
                then ' 等 ' || (groups._rows - 1) || ' 行相同' else ' 行相同' end
        from {table} row
        join (
            select _seq, _key, count(*) as _rows, min(_row, {DETAIL_ROWS + 1}) as _first_rows
            from {table} where _key is not null
            group by _seq, _key having count(*) > 1
        ) groups using (_seq, _key)
        order by row._seq, row._row"""
    )
    con.execute(
        f"""update {table} set _own_ok = false
        from (select _seq, _row from {duplicates_table} where source_file = '{raw_file.name}') dup
        where {table}._seq = dup._seq and {table}._row = dup._row"""
    )


def settle(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Which row of each key is in force: the latest delivery's row that passes (and was not
    disqualified by the rules across files). Rows of earlier deliveries are superseded by it,
    rows of later ones are rejected corrections. A key no row of which passes keeps its latest
    delivery's rows in force, to be quarantined with their reasons."""
    con.execute(
        f"""update {table} set
            _superseded = state._superseded, _rejected = state._rejected,
            _earlier_ok = state._earlier_ok
        from (
            select row._seq, row._row,
                coalesce(row._seq < keys._winner, row._seq < keys._latest) as _superseded,
                coalesce(row._seq > keys._winner, false) as _rejected,
                coalesce(row._seq > keys._first_ok, false) as _earlier_ok
            from {table} row
            join (
                select _key,
                    max(_seq) filter (where _own_ok and not _disqualified) as _winner,
                    min(_seq) filter (where _own_ok and not _disqualified) as _first_ok,
                    max(_seq) as _latest
                from {table} where _key is not null
                group by _key having min(_seq) < max(_seq)
            ) keys using (_key)
        ) state
        where {table}._seq = state._seq and {table}._row = state._row
            and ({table}._superseded, {table}._rejected, {table}._earlier_ok)
                is distinct from (state._superseded, state._rejected, state._earlier_ok)"""
    )


def disqualify(
    con: duckdb.DuckDBPyConnection,
    raw_file: RawFile,
    table: str,
    found_reasons: str,
    kept_reasons: str,
) -> int:
    """Corrections in force that broke a rule across files (``found_reasons``) while an earlier
    passing row of their key exists: they lose their place, their reasons are kept
    (``kept_reasons``) for the quarantine. Returns how many."""
    name = raw_file.name
    failing = (
        f"select distinct row._seq, row._row from {table} row "
        f"join (select _seq, _row from {found_reasons} where source_file = '{name}') x "
        f"using (_seq, _row) "
        f"where row._own_ok and not row._disqualified and not row._superseded "
        f"and not row._rejected and row._earlier_ok"
    )
    rows = con.execute(f"select count(*) from ({failing})").fetchone()[0]
    if not rows:
        return 0
    con.execute(
        f"""insert into {kept_reasons}
        select x.* from {found_reasons} x join ({failing}) f using (_seq, _row)
        where x.source_file = '{name}' order by x.rowid"""
    )
    con.execute(
        f"""update {table} set _disqualified = true from ({failing}) f
        where {table}._seq = f._seq and {table}._row = f._row"""
    )
    return rows
