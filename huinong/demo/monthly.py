"""A monthly delivery cut from a raw folder: what the teams and the bank send each month."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from huinong.schema import LOANS


def split_last_month(raw_dir: Path, history_out: Path, delivery_out: Path) -> date:
    """Split a canonical raw folder into its history and a monthly delivery of its last month, as
    the village teams and the bank would send it: the month's collections, new loans with their
    plans, payments, and the earlier loans written off that month (re-sent with the write-off).
    Returns the first day of that month."""
    import duckdb

    con = duckdb.connect()

    def read(name: str) -> str:
        path = str(Path(raw_dir) / f"{name}.csv").replace("'", "''")
        return f"read_csv('{path}', header=true, all_varchar=true)"

    last = con.execute(
        f"""
        select max(day) from (
            select max(collected_on) as day from {read("households")}
            union all select max(disbursed_on) from {read("loans")}
            union all select max(written_off_on) from {read("loans")}
            union all select max(paid_on) from {read("repayments")}
        )
        """
    ).fetchone()[0]
    month_start = date.fromisoformat(last).replace(day=1)
    cutoff = month_start.isoformat()
    loans_columns = ", ".join(
        f"case when written_off_on >= '{cutoff}' then null else {name} end as {name}"
        if name == "written_off_on"
        else name
        for name in LOANS.column_names
    )
    parts = {
        history_out: {
            "villages": f"select * from {read('villages')}",
            "entities": f"select * from {read('entities')}",
            "households": f"select * from {read('households')} where collected_on < '{cutoff}'",
            "loans": f"select {loans_columns} from {read('loans')} where disbursed_on < '{cutoff}'",
            "schedule": f"""select * from {read("schedule")} where loan_id in (
                select loan_id from {read("loans")} where disbursed_on < '{cutoff}')""",
            "repayments": f"select * from {read('repayments')} where paid_on < '{cutoff}'",
        },
        delivery_out: {
            "households": f"select * from {read('households')} where collected_on >= '{cutoff}'",
            "loans": f"""select * from {read("loans")}
                where disbursed_on >= '{cutoff}' or written_off_on >= '{cutoff}'""",
            "schedule": f"""select * from {read("schedule")} where loan_id in (
                select loan_id from {read("loans")} where disbursed_on >= '{cutoff}')""",
            "repayments": f"select * from {read('repayments')} where paid_on >= '{cutoff}'",
        },
    }
    for folder, files in parts.items():
        Path(folder).mkdir(parents=True, exist_ok=True)
        for name, sql in files.items():
            target = str(Path(folder) / f"{name}.csv").replace("'", "''")
            con.execute(f"copy ({sql}) to '{target}' (header, delimiter ',')")
    con.close()
    return month_start
