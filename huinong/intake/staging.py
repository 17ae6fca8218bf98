"""The staging table: one raw file as text cells, ``c0 … cN`` in the file's column order.

Both readers (csv_reader, xlsx_reader) write this shape; validation reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from huinong.intake.headers import FileLayout

BATCH_ROWS = 50_000


@dataclass
class StagedFile:
    """One raw file in a staging table of text cells as read: ``_row`` (NULL where the
    row number is rowid + 1), ``_shape`` (a reason when the row's field count is off),
    ``_overflow`` (fields past the header) and ``c0 … cN`` in the file's column order.
    """

    table: str
    layout: FileLayout
    rows: int
    needs_nfkc: bool
    fallback: bool = False
    # File-level messages for the summary (merged cells, formula cells of an xlsx).
    notes: list[str] = field(default_factory=list)


def staging_columns(count: int) -> list[str]:
    return [f"c{position}" for position in range(count)]


def create_staging(con: duckdb.DuckDBPyConnection, table: str, count: int) -> None:
    cells = "".join(f", {name} varchar" for name in staging_columns(count))
    con.execute(
        f"create or replace temp table {table} "
        f"(_row integer, _shape varchar, _overflow varchar{cells})"
    )


def append_batch(
    con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, list], batch_name: str
) -> None:
    arrow = pa.table(
        {
            "_row": pa.array(columns["_row"], type=pa.int32()),
            **{
                name: pa.array(values, type=pa.string())
                for name, values in columns.items()
                if name != "_row"
            },
        }
    )
    con.register(batch_name, arrow)
    try:
        con.execute(f"insert into {table} by name select * from {batch_name}")
    finally:
        con.unregister(batch_name)
