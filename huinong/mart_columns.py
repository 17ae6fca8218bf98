"""The columns this program's contract marts declare (models/marts YAML), and those a warehouse
lacks: a warehouse built by an earlier version whose marts have fewer columns cannot be extended
month by month (an incremental model appends rows of the new shape), so the build goes full."""

from __future__ import annotations

from functools import cache

import duckdb
import yaml

from huinong import REPO_ROOT

MARTS_YAML = REPO_ROOT / "models" / "marts" / "_marts__models.yml"


@cache
def declared_mart_columns() -> dict[str, tuple[str, ...]]:
    """Each contract-enforced mart and the columns its YAML declares."""
    document = yaml.safe_load(MARTS_YAML.read_text(encoding="utf-8")) or {}
    return {
        model["name"]: tuple(column["name"] for column in model.get("columns", []))
        for model in document.get("models", [])
        if (model.get("config") or {}).get("contract", {}).get("enforced")
    }


def missing_mart_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    """mart.column for every declared column the connection's database lacks, for the marts it
    has (a mart it does not have yet is simply built)."""
    present: dict[str, set[str]] = {}
    for table, column in con.execute(
        "select table_name, column_name from information_schema.columns"
        " where table_catalog = current_database() and table_schema = 'main'"
    ).fetchall():
        present.setdefault(table, set()).add(column)
    return [
        f"{mart}.{column}"
        for mart, columns in declared_mart_columns().items()
        if mart in present
        for column in columns
        if column not in present[mart]
    ]
