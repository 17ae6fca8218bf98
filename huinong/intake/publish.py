"""Publishing one run: the loaded rows into ``raw.<file>``, the rest into ``raw.quarantine`` with
the row as read, and the counts into ``raw.load_report`` (rows read = loaded + quarantined +
superseded, per file and delivery), plus the extra columns and the deliveries read.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from huinong.intake.cells import sql_text
from huinong.intake.keys import REJECTED_REASON
from huinong.intake.sources import Source
from huinong.intake.staging import StagedFile, staging_columns
from huinong.intake.store import Delivery
from huinong.intake.summary import ExtraColumn, FileCounts, IntakeSummary
from huinong.intake.tables import DUPLICATES, FOUND_REASONS, validated
from huinong.intake.text import WHITESPACE_SQL
from huinong.schema import RAW_FILES, RawFile, create_table_sql

# Between the parts of a composite key in raw.quarantine.record_key.
KEY_SEPARATOR = " / "
# Files whose loaded rows keep where they came from (raw.row_origins): the grains of the headline
# figures a build checks before publishing (huinong.plausibility).
ORIGIN_FILES = ("households", "loans")


def create_outputs(con: duckdb.DuckDBPyConnection, deliveries: list[Delivery]) -> None:
    """The ``raw`` schema's tables, empty, and the deliveries this run reads."""
    con.execute("create schema if not exists raw")
    for raw_file in RAW_FILES.values():
        con.execute(create_table_sql(raw_file))
    con.execute(
        "create or replace table raw.quarantine (source_file varchar, file_name varchar, "
        "delivery_id varchar, row_number integer, record_key varchar, original json, "
        "reasons varchar[])"
    )
    con.execute(
        "create or replace table raw.load_report (source_file varchar, file_name varchar, "
        "delivery_id varchar, rows_read bigint, rows_loaded bigint, rows_quarantined bigint, "
        "rows_superseded bigint)"
    )
    con.execute(
        "create or replace table raw.extra_columns (source_file varchar, file_name varchar, "
        "column_name varchar, non_empty_values bigint, delivery_id varchar)"
    )
    con.execute(
        "create or replace table raw.deliveries (delivery_id varchar, accepted_at timestamp, "
        "source varchar, files varchar[])"
    )
    con.execute(
        "create or replace table raw.row_origins (source_file varchar, record_id varchar, "
        "record_key varchar, delivery_id varchar, file_name varchar, row_number integer)"
    )
    for delivery in deliveries:
        con.execute(
            "insert into raw.deliveries values ($id, $at, $source, $files)",
            {
                "id": delivery.delivery_id,
                "at": delivery.accepted_at.replace(tzinfo=None),
                "source": delivery.source_label,
                "files": [item.name for item in delivery.files],
            },
        )


def publish_file(
    con: duckdb.DuckDBPyConnection,
    raw_file: RawFile,
    instances: list[tuple[Source, StagedFile]],
    say: Callable[[str], None],
) -> None:
    """One file's loaded rows, quarantine and counts; its working tables are dropped after."""
    name = raw_file.name
    columns = ", ".join(raw_file.column_names)
    con.execute(
        f"insert into raw.{name} select {columns} from {validated(name)} v "
        f"anti join (select _seq, _row from {FOUND_REASONS} where source_file = '{name}') x "
        f"using (_seq, _row) where not v._superseded and not v._rejected and v._own_ok"
    )
    for source, staged in instances:
        _publish_instance(con, raw_file, source, staged, say)
        # Staged cells were kept only for the originals of quarantined rows.
        con.execute(f"drop table {staged.table}")
    con.execute(f"drop table {validated(name)}")


def _publish_instance(
    con: duckdb.DuckDBPyConnection,
    raw_file: RawFile,
    source: Source,
    staged: StagedFile,
    say: Callable[[str], None],
) -> None:
    name = raw_file.name
    layout = staged.layout
    params: dict[str, object] = {
        "source_file": name,
        "file_name": source.file_name,
        "delivery_id": source.delivery_id,
        "seq": source.seq,
    }
    as_read = {
        position: f"coalesce(s.{cell}, '')"
        for position, cell in enumerate(staging_columns(len(layout.headers)))
    }
    pairs = []
    for position, key in enumerate(layout.json_keys()):
        params[f"k{position}"] = key
        pairs.append(f"$k{position}, {as_read[position]}")
    cells_json = ", ".join(pairs)
    original = (
        f"case when s._overflow is null then json_object({cells_json}) "
        f"else json_object({cells_json}, '（多出的字段）', s._overflow) end"
    )
    record_key = f" || '{KEY_SEPARATOR}' || ".join(
        as_read[layout.positions[key]] for key in raw_file.key
    )
    con.execute(
        f"""insert into raw.quarantine
        select $source_file, $file_name, $delivery_id, q._row, {record_key},
            {original}, q.reasons
        from (
            select v._row,
                case when v._rejected then [{sql_text(REJECTED_REASON)}] else []::varchar[] end
                || v._reasons || coalesce(d.reasons, []::varchar[])
                || coalesce(x.reasons, []::varchar[]) as reasons
            from {validated(name)} v
            left join (
                select _seq, _row, list(reason order by rowid) as reasons
                from {DUPLICATES} where source_file = $source_file group by _seq, _row
            ) d using (_seq, _row)
            left join (
                select _seq, _row, list(reason order by rowid) as reasons
                from {FOUND_REASONS} where source_file = $source_file group by _seq, _row
            ) x using (_seq, _row)
            where v._seq = $seq and not v._superseded
                and (v._rejected or not v._own_ok or x.reasons is not null)
        ) q
        join (select coalesce(_row, rowid + 1)::integer as _row_number, *
              from {staged.table}) s on s._row_number = q._row
        order by q._row""",
        params,
    )
    counts = con.execute(
        f"""select count(*),
            count(*) filter (where v._superseded),
            count(*) filter (where not v._superseded
                and (v._rejected or not v._own_ok or x._row is not null))
        from {validated(name)} v
        left join (select distinct _seq, _row from {FOUND_REASONS}
                   where source_file = $source_file) x
            using (_seq, _row)
        where v._seq = $seq""",
        {"source_file": name, "seq": source.seq},
    ).fetchone()
    read, superseded, quarantined = counts
    con.execute(
        "insert into raw.load_report values "
        "($source_file, $file_name, $delivery_id, $read, $loaded, $quarantined, $superseded)",
        {
            "source_file": name,
            "file_name": source.file_name,
            "delivery_id": source.delivery_id,
            "read": read,
            "loaded": read - superseded - quarantined,
            "quarantined": quarantined,
            "superseded": superseded,
        },
    )
    if name in ORIGIN_FILES:
        first = raw_file.key[0]
        key = f" || '{KEY_SEPARATOR}' || ".join(f"v.{part}::varchar" for part in raw_file.key)
        con.execute(
            f"""insert into raw.row_origins
            select $source_file, v.{first}::varchar, {key}, $delivery_id, $file_name, v._row
            from {validated(name)} v
            anti join (select _seq, _row from {FOUND_REASONS} where source_file = $source_file) x
                using (_seq, _row)
            where v._seq = $seq and not v._superseded and not v._rejected and v._own_ok""",
            {k: params[k] for k in ("source_file", "delivery_id", "file_name", "seq")},
        )
    _publish_extra_columns(con, name, source, staged)
    say(
        f"{source.display_name}：载入 {read - superseded - quarantined:,} 行，"
        f"隔离 {quarantined:,} 行" + (f"，被替换 {superseded:,} 行" if superseded else "")
    )


def _publish_extra_columns(
    con: duckdb.DuckDBPyConnection, name: str, source: Source, staged: StagedFile
) -> None:
    """Columns the contract does not name: kept aside and counted, not fatal."""
    layout = staged.layout
    if not staged.fallback:
        # Cells right of the last named column (an xlsx with values under no header).
        unnamed = con.execute(
            f"select count(*) from {staged.table} where _overflow is not null"
        ).fetchone()[0]
        if unnamed:
            con.execute(
                "insert into raw.extra_columns values ($s, $f, '（表头右侧无列名的单元格）', $n, $d)",
                {"s": name, "f": source.file_name, "n": unnamed, "d": source.delivery_id},
            )
    if layout.extras:
        filled = ", ".join(
            f"count(*) filter (where nullif(trim(c{position}, {WHITESPACE_SQL}), '') is not null)"
            for position in layout.extras
        )
        values = con.execute(f"select {filled} from {staged.table}").fetchone()
        for position, count in zip(layout.extras, values, strict=True):
            con.execute(
                "insert into raw.extra_columns values ($s, $f, $c, $n, $d)",
                {
                    "s": name,
                    "f": source.file_name,
                    "c": layout.headers[position].strip() or f"（第{position + 1}列）",
                    "n": count,
                    "d": source.delivery_id,
                },
            )


def read_summary(
    con: duckdb.DuckDBPyConnection,
    missing: list[tuple[str, str, str]],
    *,
    keep_quarantine: bool,
) -> IntakeSummary:
    """The published counts, extra columns and reasons as an IntakeSummary."""
    files = [
        FileCounts(*row)
        for row in con.execute(
            "select source_file, file_name, delivery_id, rows_read, rows_loaded, "
            "rows_quarantined, rows_superseded from raw.load_report"
        ).fetchall()
    ]
    extras = [
        ExtraColumn(*row)
        for row in con.execute(
            "select source_file, file_name, delivery_id, column_name, non_empty_values "
            "from raw.extra_columns"
        ).fetchall()
    ]
    reason_counts = con.sql(
        """select source_file, split_part(reason, '：', 1) as reason, count(*)::bigint as rows
        from (select source_file, unnest(reasons) as reason from raw.quarantine)
        group by all order by rows desc, source_file, reason"""
    ).pl()
    quarantine = con.sql("select * from raw.quarantine").pl() if keep_quarantine else None
    return IntakeSummary(
        files=files,
        extra_columns=extras,
        missing_columns=missing,
        reason_counts=reason_counts,
        quarantine=quarantine,
    )
