"""Real-world intake end to end: a messy copy of a raw folder builds into the same marts as the
clean folder, and the bad rows added to it land in the quarantine with their reasons — nothing
else is missing."""

from __future__ import annotations

import csv
import random
from datetime import date
from pathlib import Path

import duckdb
import pytest

from huinong import schema
from huinong.demo import generate
from huinong.warehouse import build

MARTS = ("household_scores", "loan_status", "village_breaker", "township_breaker", "kpi_monthly")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _messy_date(text: str, style: int) -> object:
    if not text:
        return text
    day = date.fromisoformat(text)
    return [
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}年{day.month}月{day.day}日",
        day.strftime("%Y%m%d"),
        f"{day.year}.{day.month}.{day.day}",
        text,
    ][style % 5]


def _messy_bool(text: str, style: int) -> str:
    spellings = [("是", "否"), ("有", "无"), ("Y", "N"), ("1", "0"), ("√", "×"), ("true", "false")]
    if text not in ("是", "否"):
        return text
    yes, no = spellings[style % len(spellings)]
    return yes if text == "是" else no


def _messy_amount(text: str, style: int) -> str:
    if not text:
        return text
    if style % 3 == 0:
        whole, cents = text.split(".")
        return f"{int(whole):,}.{cents}"
    if style % 3 == 1:
        return f"{text}元"
    return text.translate(FULL_WIDTH)


def _messify(raw_file: schema.RawFile, rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Values spelled as offices spell them, varying row by row."""
    messy = []
    for number, row in enumerate(rows):
        out = {}
        for column in raw_file.columns:
            value = row[column.name]
            if column.kind == "date":
                value = _messy_date(value, number)
            elif column.kind == "bool":
                value = _messy_bool(value, number)
            elif column.kind == "amount":
                value = _messy_amount(value, number)
            elif column.kind == "rate" and value and number % 2 == 0:
                value = f"{float(value) * 100:.4f}".rstrip("0").rstrip(".") + "%"
            out[column.name] = value
        messy.append(out)
    return messy


def _headers(raw_file: schema.RawFile, rng: random.Random) -> list[tuple[str, str]]:
    """(column name, header as written): Chinese labels with stray and full-width spaces, shuffled."""
    pairs = [(column.name, f" {column.label}\u3000") for column in raw_file.columns]
    rng.shuffle(pairs)
    return pairs


def _write_csv(path: Path, raw_file, rows, encoding: str, rng: random.Random, extra=None) -> None:
    headers = _headers(raw_file, rng)
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([header for _, header in headers] + (["备注"] if extra else []))
        for row in rows:
            writer.writerow([row[name] for name, _ in headers] + ([extra] if extra else []))


def _write_xlsx(path: Path, raw_file, rows, rng: random.Random) -> None:
    """Real date cells (every other row; the rest messy date text), numeric amount cells and
    booleans spelled every way, as Excel saves them."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    headers = _headers(raw_file, rng)
    sheet.append([header for _, header in headers])
    for number, row in enumerate(rows):
        cells = []
        for name, _ in headers:
            value = row[name]
            kind = raw_file.column(name).kind
            if kind == "date" and value:
                value = date.fromisoformat(value) if number % 2 == 0 else _messy_date(value, number)
            elif kind == "amount" and value:
                value = float(value)
            elif kind == "bool":
                value = _messy_bool(value, number)
            cells.append(value)
        sheet.append(cells)
    workbook.save(path)


BAD_ROWS = {
    # household: bad ID check digit
    ("households", "BAD-ID"): "户主身份证号校验位错误",
    # household: unknown village
    ("households", "BAD-VILLAGE"): "行政村代码在行政区划中不存在",
    # loan: unknown borrower
    ("loans", "BAD-BORROWER"): "借款人编号在农户表中不存在",
    # loan: maturity before disbursement
    ("loans", "BAD-MATURITY"): "到期日期早于或等于放款日期",
    # repayment: impossible date
    ("repayments", "BAD-DATE"): "还款日期不是有效日期",
    # repayment: negative amount
    ("repayments", "BAD-NEGATIVE"): "不能为负数",
}


def _add_bad_rows(clean: dict[str, list[dict[str, str]]]) -> None:
    template = clean["households"][0]
    wrong_digit = "0" if template["head_id_number"][-1] != "0" else "1"
    clean["households"].append(
        {
            **template,
            "household_id": "BAD-ID",
            "head_id_number": template["head_id_number"][:17] + wrong_digit,
        }
    )
    clean["households"].append(
        {**template, "household_id": "BAD-VILLAGE", "village_code": "411202999999"}
    )
    loan = next(row for row in clean["loans"] if row["borrower_type"] == "农户")
    clean["loans"].append({**loan, "loan_id": "BAD-BORROWER", "borrower_id": "NOBODY"})
    clean["loans"].append({**loan, "loan_id": "BAD-MATURITY", "maturity_on": loan["disbursed_on"]})
    for loan_id in ("BAD-BORROWER", "BAD-MATURITY"):
        for instalment in [row for row in clean["schedule"] if row["loan_id"] == loan["loan_id"]]:
            clean["schedule"].append({**instalment, "loan_id": loan_id})
    payment = clean["repayments"][0]
    clean["repayments"].append({**payment, "payment_id": "BAD-DATE", "paid_on": "2024-02-30"})
    clean["repayments"].append({**payment, "payment_id": "BAD-NEGATIVE", "principal_paid": "-5.00"})


@pytest.fixture(scope="module")
def clean_and_messy(tmp_path_factory):
    root = tmp_path_factory.mktemp("messy")
    clean_dir = root / "clean"
    generate(out_dir=clean_dir, households=250, seed=11)
    data = {name: _read(clean_dir / f"{name}.csv") for name in schema.RAW_FILES}
    _add_bad_rows(data)
    # The bad rows' date column cannot be re-spelled: write it as is.
    messy_dir = root / "messy"
    messy_dir.mkdir()
    rng = random.Random(3)
    files = schema.RAW_FILES
    _write_xlsx(messy_dir / "households.xlsx", files["households"], data["households"], rng)
    _write_csv(
        messy_dir / "loans.csv", files["loans"], _messify(files["loans"], data["loans"]), "gbk", rng
    )
    _write_csv(
        messy_dir / "schedule.csv",
        files["schedule"],
        _messify(files["schedule"], data["schedule"]),
        "utf-8-sig",
        rng,
    )
    repayments = _messify(
        files["repayments"], [row for row in data["repayments"] if row["payment_id"] != "BAD-DATE"]
    )
    repayments.append({**data["repayments"][-2], "paid_on": "2024-02-30"})
    _write_csv(
        messy_dir / "repayments.csv", files["repayments"], repayments, "utf-8", rng, extra="（无）"
    )
    _write_xlsx(messy_dir / "villages.xlsx", files["villages"], data["villages"], rng)
    _write_csv(messy_dir / "entities.csv", files["entities"], data["entities"], "gb18030", rng)

    clean_db = build(raw_dir=clean_dir, db_path=root / "clean.duckdb").db_path
    messy_db = build(raw_dir=messy_dir, db_path=root / "messy.duckdb").db_path
    con = duckdb.connect()
    con.execute(f"attach '{clean_db}' as clean (read_only)")
    con.execute(f"attach '{messy_db}' as messy (read_only)")
    yield con
    con.close()


@pytest.mark.parametrize("mart", MARTS)
def test_messy_folder_builds_the_same_marts_as_the_clean_one(clean_and_messy, mart):
    con = clean_and_messy
    total = con.execute(f"select count(*) from clean.main.{mart}").fetchone()[0]
    assert total > 0
    only_clean = con.execute(
        f"select count(*) from (select * from clean.main.{mart} except all select * from messy.main.{mart})"
    ).fetchone()[0]
    only_messy = con.execute(
        f"select count(*) from (select * from messy.main.{mart} except all select * from clean.main.{mart})"
    ).fetchone()[0]
    assert (only_clean, only_messy) == (0, 0)


def test_bad_rows_are_quarantined_with_their_reasons(clean_and_messy):
    rows = clean_and_messy.execute(
        "select source_file, record_key, reasons from messy.main.quarantine"
    ).fetchall()
    found = {}
    for source_file, record_key, reasons in rows:
        key = next(
            (bad for (file, bad) in BAD_ROWS if file == source_file and bad in record_key), None
        )
        if key:
            found[(source_file, key)] = " ".join(reasons)
    for (source_file, key), reason in BAD_ROWS.items():
        assert reason in found.get((source_file, key), ""), (
            source_file,
            key,
            found.get((source_file, key)),
        )


def test_nothing_else_is_missing(clean_and_messy):
    con = clean_and_messy
    clean = dict(
        con.execute(
            "select source_file, sum(rows_loaded) from clean.main.load_report group by 1"
        ).fetchall()
    )
    messy = dict(
        con.execute(
            "select source_file, sum(rows_loaded) from messy.main.load_report group by 1"
        ).fetchall()
    )
    assert messy == clean
    reconciled = con.execute(
        "select bool_and(rows_read = rows_loaded + rows_quarantined + rows_superseded) from messy.main.load_report"
    ).fetchone()[0]
    assert reconciled
    # Only the bad rows and the rows that depend on them (the schedules of the two bad loans).
    quarantined = dict(
        con.execute("select source_file, count(*) from messy.main.quarantine group by 1").fetchall()
    )
    bad_loan_instalments = con.execute(
        "select count(*) from messy.main.quarantine where source_file = 'schedule'"
    ).fetchone()[0]
    assert quarantined == {
        "households": 2,
        "loans": 2,
        "repayments": 2,
        **({"schedule": bad_loan_instalments} if bad_loan_instalments else {}),
    }
    dependents = con.execute(
        "select count(*) from messy.main.quarantine where source_file = 'schedule' "
        "and (record_key like 'BAD-BORROWER%' or record_key like 'BAD-MATURITY%')"
    ).fetchone()[0]
    assert dependents == bad_loan_instalments > 0
