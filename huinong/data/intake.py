"""数据管理: what the current warehouse read, loaded and quarantined (load_report, quarantine)."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from huinong.data.connection import (
    MAX_ROWS,
    STREAM_BATCH_ROWS,
    Warehouse,
    cached,
    frame,
    stream,
)


@cached
def load_report(token: Warehouse) -> pl.DataFrame:
    """Per raw file read by the build: rows read, loaded, quarantined, superseded by a later
    delivery (load_report), in delivery order."""
    return frame(
        token,
        None,
        """
        select delivery_id, source_file, file_name, rows_read, rows_loaded, rows_quarantined,
            rows_superseded,
        from main.load_report
        order by delivery_id nulls first, source_file
        """,
    )


_QUARANTINE_SQL = """
    select source_file, file_name, delivery_id, row_number, record_key,
        cast(original as varchar) as original, reasons,
    from main.quarantine
    where $source_file = '' or source_file = $source_file
    order by source_file, delivery_id, row_number
"""


@cached
def quarantine_count(token: Warehouse, source_file: str = "") -> int:
    """Rows in the quarantine, of one source file ('households' …) or of all ('')."""
    return frame(
        token,
        None,
        "select count(*) from main.quarantine where $source_file = '' or source_file = $source_file",
        {"source_file": source_file},
    ).item()


@cached
def quarantine(token: Warehouse, source_file: str = "", limit: int = MAX_ROWS) -> pl.DataFrame:
    """Quarantined rows (file, delivery, row number, key, the row as read, reasons) of one source
    file or of all (''), at most ``limit`` (≤ MAX_ROWS)."""
    return frame(
        token,
        None,
        f"{_QUARANTINE_SQL} limit $limit",
        {"source_file": source_file, "limit": min(limit, MAX_ROWS)},
    )


def stream_quarantine(
    token: Warehouse, source_file: str = "", batch_rows: int = STREAM_BATCH_ROWS
) -> Iterator[pl.DataFrame]:
    """Every quarantined row of one source file or of all (''), in batches (not cached)."""
    yield from stream(token, None, _QUARANTINE_SQL, {"source_file": source_file}, batch_rows)


@cached
def quarantine_reasons(token: Warehouse) -> pl.DataFrame:
    """Quarantined rows counted by source file and reason (the words before any "：detail")."""
    return frame(
        token,
        None,
        """
        select source_file, split_part(reason, '：', 1) as reason, count(*) as rows,
        from (select source_file, unnest(reasons) as reason from main.quarantine)
        group by all
        order by rows desc, source_file, reason
        """,
    )
