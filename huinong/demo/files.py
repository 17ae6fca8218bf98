"""The raw files: frames in the schema's columns, written as canonical CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from huinong.demo.dates import NO_DATE, as_datetime
from huinong.demo.entities import Entities
from huinong.demo.geography import POSTAL_BANK, Villages
from huinong.demo.households import People
from huinong.demo.loans import PRODUCTS
from huinong.schema import (
    BORROWER_TYPES,
    EDUCATION_LEVELS,
    HONORS,
    HOUSEHOLDS,
    INCOME_PROJECTS,
    REPAYMENT_METHODS,
    RawFile,
)


def _household_ids(villages: Villages, people: People) -> pl.Series:
    """农户编号 HH + home village code + sequence within the village."""
    codes = villages.frame["village_code"].gather(people.home)
    return "HH" + codes + pl.Series(people.seq).cast(pl.String).str.zfill(4)


def households_frame(
    villages: Villages, people: People, rows: dict[str, np.ndarray]
) -> pl.DataFrame:
    # File order is household_id then collected_on; the id is the village code and the
    # sequence, so sorting numbers gives the same order as sorting the text, faster.
    code = villages.frame["village_code"].cast(pl.Int64).to_numpy()
    household_rank = np.empty(people.n, np.int64)
    household_rank[np.lexsort((people.seq, code[people.home]))] = np.arange(people.n)
    order = np.lexsort((rows["day"], household_rank[rows["hh"]]))
    hh = rows["hh"][order]
    data = {
        "household_id": _household_ids(villages, people).gather(hh),
        "village_code": villages.frame["village_code"].gather(rows["village"][order]),
        "head_name": people.head_name.gather(hh),
        "head_id_number": people.head_id.gather(hh),
        "collected_on": rows["day"][order],
    }
    enums = {"education": EDUCATION_LEVELS, "income_project": INCOME_PROJECTS, "honor": HONORS}
    for column in HOUSEHOLDS.columns[5:]:
        values = rows[column.name][order]
        if column.name in enums:
            data[column.name] = pl.Series(list(enums[column.name])).gather(values)
        else:
            data[column.name] = values
    return pl.DataFrame(data)


def loans_frame(
    book: dict[str, np.ndarray], people: People, entities: Entities, villages: Villages
) -> pl.DataFrame:
    household_ids = _household_ids(villages, people)
    entity_ids = entities.frame["entity_id"]
    borrower = book["borrower"]
    is_entity = book["borrower_type"] == 1
    of_household = household_ids.gather(np.where(is_entity, 0, borrower))
    of_entity = entity_ids.gather(np.where(is_entity, borrower, 0)) if entities.n else of_household
    borrower_id = of_entity.zip_with(pl.Series(is_entity), of_household)
    return pl.DataFrame(
        {
            "loan_id": _loan_ids(book["disbursed"]),
            "borrower_type": pl.Series(list(BORROWER_TYPES)).gather(book["borrower_type"]),
            "borrower_id": borrower_id,
            "bank": pl.Series([*villages.banks, POSTAL_BANK]).gather(book["bank"]),
            "product": pl.Series(list(PRODUCTS)).gather(book["product"]),
            "amount": book["amount"],
            "disbursed_on": book["disbursed"],
            "maturity_on": book["maturity"],
            "annual_rate": book["rate"],
            "benchmark_rate": book["benchmark"],
            "repayment_method": pl.Series(list(REPAYMENT_METHODS)).gather(book["method"]),
            "written_off_on": book["written_off"],
        }
    )


def _loan_ids(disbursed: np.ndarray) -> pl.Series:
    """贷款编号 DK + year + serial within the year (loans are in disbursement order)."""
    year = as_datetime(disbursed).astype("datetime64[Y]").astype(np.int64) + 1970
    starts = np.searchsorted(year, year, side="left")
    serial = np.arange(year.size) - starts + 1
    return "DK" + pl.Series(year).cast(pl.String) + pl.Series(serial).cast(pl.String).str.zfill(6)


def schedule_frame(book: dict[str, np.ndarray]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "loan_id": _loan_ids(book["disbursed"]).gather(book["s_loan"]),
            "installment_no": book["s_no"],
            "due_on": book["s_due"],
            "principal_due": book["s_principal"],
            "interest_due": book["s_interest"],
        }
    )


def payments_frame(book: dict[str, np.ndarray]) -> pl.DataFrame:
    # 还款流水号 numbers payments in the order the bank booked them.
    order = np.lexsort((book["p_loan"], book["p_day"]))
    day = book["p_day"][order]
    stamp = pl.Series(day).cast(pl.Int32).cast(pl.Date).dt.strftime("%Y%m%d")
    serial = pl.Series(np.arange(1, day.size + 1)).cast(pl.String).str.zfill(8)
    return pl.DataFrame(
        {
            "payment_id": "HK" + stamp + serial,
            "loan_id": _loan_ids(book["disbursed"]).gather(book["p_loan"][order]),
            "paid_on": day,
            "principal_paid": book["p_principal"][order],
            "interest_paid": book["p_interest"][order],
        }
    )


def write_csv(raw_file: RawFile, frame: pl.DataFrame, path: Path) -> int:
    """Write the canonical CSV: schema columns in order, 是/否, two-decimal amounts."""
    exprs = []
    for column in raw_file.columns:
        value = pl.col(column.name)
        if column.kind == "amount":
            text = pl.concat_str(
                [
                    (value // 100).cast(pl.String),
                    pl.lit("."),
                    (value % 100).cast(pl.String).str.zfill(2),
                ]
            )
            value = pl.when(pl.col(column.name) < 0).then(None).otherwise(text)
        elif column.kind == "rate":
            text = pl.lit("0.") + value.cast(pl.String).str.zfill(6)
            value = text.str.replace(r"0{1,2}$", "")
        elif column.kind == "bool":
            value = (
                pl.when(value == 1)
                .then(pl.lit("是"))
                .when(value == 0)
                .then(pl.lit("否"))
                .otherwise(None)
            )
        elif column.kind == "date":
            value = (
                pl.when(value >= NO_DATE).then(None).otherwise(value).cast(pl.Int32).cast(pl.Date)
            )
        exprs.append(value.alias(column.name))
    frame.lazy().select(exprs).sink_csv(
        path, include_bom=False, line_terminator="\n", null_value="", maintain_order=True
    )
    return frame.height
