"""A row's identity: its key, supersession by a later delivery, and duplicates within what is left.

Each step is a function on the file's validated table (``_seq, _row, _key,
_superseded, …``) so that either can be replaced without touching the rest
of a run.
"""

from __future__ import annotations

import duckdb

from huinong.intake.cells import sql_text
from huinong.schema import RawFile

# How many other rows a duplicate's reason names before "等 N 行".
DETAIL_ROWS = 5


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


def mark_superseded(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """A row whose key a later delivery sends again is superseded by it."""
    con.execute(
        f"""update {table} set _superseded = true
        from (select _key, max(_seq) as _latest_seq from {table}
              where _key is not null group by _key) latest
        where {table}._key = latest._key and {table}._seq < latest._latest_seq"""
    )


def flag_duplicates(
    con: duckdb.DuckDBPyConnection, raw_file: RawFile, table: str, reasons_table: str
) -> None:
    """Rows sharing a key (after supersession) each get a reason naming the others' row numbers."""
    prefix = sql_text(key_label(raw_file) + "重复：与第 ")
    con.execute(
        f"""insert into {reasons_table}
        select '{raw_file.name}', row._seq, row._row, {prefix}
            || array_to_string(list_slice(list_filter(
                duplicates._rows, lambda other: other <> row._row), 1, {DETAIL_ROWS}), '、')
            || case when len(duplicates._rows) - 1 > {DETAIL_ROWS}
                then ' 等 ' || (len(duplicates._rows) - 1) || ' 行相同' else ' 行相同' end
        from {table} row
        join (
            select _key, list(_row order by _row) as _rows from {table}
            where not _superseded and _key is not null
            group by _key having count(*) > 1
        ) duplicates using (_key)
        where not row._superseded
        order by row._seq, row._row"""
    )
