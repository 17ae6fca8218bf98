"""数据管理: what the current warehouse read, loaded and quarantined (load_report, quarantine).

For ``manage_data`` only, and only for a district-wide account: the quarantine keeps rows as
read, before any area is known, so it cannot be narrowed to a township. The rows as read hold ID
numbers: masked in SQL unless the user may read them in full."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from huinong.auth.scope import AccessDenied
from huinong.data.connection import (
    MAX_ROWS,
    STREAM_BATCH_ROWS,
    Warehouse,
    cached,
    frame,
    stream,
)
from huinong.data.scope import Scope


def _check(scope: Scope) -> None:
    scope.require("manage_data", "使用数据管理")
    if scope.own_township is not None:
        raise AccessDenied("载入报告和隔离记录不分乡镇，只有全区账号可以查看")


@cached
def load_report(token: Warehouse, scope: Scope) -> pl.DataFrame:
    """Per raw file read by the build: rows read, loaded, quarantined, superseded by a later
    delivery (load_report), in delivery order."""
    _check(scope)
    return frame(
        token,
        scope,
        """
        select delivery_id, source_file, file_name, rows_read, rows_loaded, rows_quarantined,
            rows_superseded,
        from main.load_report
        order by delivery_id nulls first, source_file
        """,
    )


def _quarantine_sql(scope: Scope) -> str:
    return f"""
        select source_file, file_name, delivery_id, row_number, record_key,
            {scope.text_sql("cast(original as varchar)")} as original, reasons,
        from main.quarantine
        where $source_file = '' or source_file = $source_file
        order by source_file, delivery_id, row_number
    """


@cached
def quarantine_count(token: Warehouse, scope: Scope, source_file: str = "") -> int:
    """Rows in the quarantine, of one source file ('households' …) or of all ('')."""
    _check(scope)
    return frame(
        token,
        scope,
        "select count(*) from main.quarantine where $source_file = '' or source_file = $source_file",
        {"source_file": source_file},
    ).item()


@cached
def quarantine(
    token: Warehouse, scope: Scope, source_file: str = "", limit: int = MAX_ROWS
) -> pl.DataFrame:
    """Quarantined rows (file, delivery, row number, key, the row as read, reasons) of one source
    file or of all (''), at most ``limit`` (≤ MAX_ROWS)."""
    _check(scope)
    return frame(
        token,
        scope,
        f"{_quarantine_sql(scope)} limit $limit",
        {"source_file": source_file, "limit": min(limit, MAX_ROWS)},
    )


def stream_quarantine(
    token: Warehouse, scope: Scope, source_file: str = "", batch_rows: int = STREAM_BATCH_ROWS
) -> Iterator[pl.DataFrame]:
    """Every quarantined row of one source file or of all (''), in batches (not cached), for a
    file: the scope is an export one (``authorize(…, purpose="export")``)."""
    if scope.purpose != "export":
        raise AccessDenied("导出须按导出权限授权（authorize(purpose='export')）")
    _check(scope)
    sql = _quarantine_sql(scope)
    yield from stream(token, scope, sql, {"source_file": source_file}, batch_rows)


@cached
def quarantine_reasons(token: Warehouse, scope: Scope) -> pl.DataFrame:
    """Quarantined rows counted by source file and reason (the words before any "：detail")."""
    _check(scope)
    return frame(
        token,
        scope,
        """
        select source_file, split_part(reason, '：', 1) as reason, count(*) as rows,
        from (select source_file, unnest(reasons) as reason from main.quarantine)
        group by all
        order by rows desc, source_file, reason
        """,
    )
