"""Reference implementation ("oracle") of POLICY.md, written independently of the dbt models.

It reads a canonical raw folder (UTF-8 CSVs named after the raw files, headers = the
column names of ``huinong/schema.py``; a missing ``villages.csv`` means the district's
real list in ``seeds/hubin_villages.csv``) and computes the expected rows of the four
contract marts of DATA_CONTRACT.md: ``household_scores``, ``loan_status``,
``village_breaker`` and ``township_breaker``, and of ``loan_compliance``'s R-X1 / R-X2
checks of every loan disbursed up to the as-of date.

Standard library only, exact ``Decimal`` arithmetic, rates compared as products
(``npl * 100 > 3 * outstanding``), every policy number in ``HUBIN_PROFILE``.

Readings fixed by the project where POLICY.md is ambiguous (numbers refer to the brief):
1. Data dates are collected_on, disbursed_on, paid_on and written_off_on. The as-of date
   defaults to the latest data date; snapshots are every month-end from the month of the
   earliest data date through as_of, plus as_of itself when it is not a month-end.
2. A household's (home) village is the village of its latest collection in the whole data.
3. registered_poor = registered_poor OR poverty_exited.
4-9. Item points, events, cover/DPD, book, available credit, breakers: see the functions.
"""

from __future__ import annotations

import bisect
import calendar
import csv
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VILLAGES_CSV = REPO_ROOT / "seeds" / "hubin_villages.csv"

ZERO = Decimal("0.00")

# The Hubin default profile (POLICY.md "Parameters" and the rule tables).
HUBIN_PROFILE: dict = {
    # R-S2
    "base_score": 80,
    # R-S5
    "poor_bonus": 3,
    # R-C1: (lowest score, grade, credit limit), best grade first; below the last: no grade.
    "grades": (
        (101, "AAA+", Decimal("200000.00")),
        (96, "AAA", Decimal("150000.00")),
        (87, "AA", Decimal("100000.00")),
        (80, "A", Decimal("50000.00")),
    ),
    "no_grade": "无信用",
    # R-S3 A1
    "a1_points_each": 1,
    "a1_higher_education": ("大专", "本科", "研究生"),
    # R-S3 A2: 20万以上 includes 200,000
    "a2_house_min": Decimal("200000"),
    "a2_points": 2,
    # R-S3 A3 / R-S4 D1
    "a3_points": 3,
    "a3_no_project": ("", "无"),
    "a3_proof_project": "务工",
    "d1_points": -8,
    # R-S3 A4: 5万以上10万以下, 不含10万 -> [50,000, 100,000)
    "a4_scale_min": Decimal("50000"),
    "a4_scale_below": Decimal("100000"),
    "a4_points": 2,
    # R-S3 A5
    "a5_points_each": 1,
    # R-S3 A6: (lowest value, points), highest first
    "a6_tiers": ((Decimal("100000"), 2), (Decimal("50000"), 1)),
    # R-S3 A7: highest honour only, not cumulative
    "a7_points": {"区级及以上": 3, "乡级": 2, "村级": 1},
    # R-S3 A8 / R-S4 D2
    "a8_points_each": 1,
    "d2_points_each": -1,
    # R-S3 A9
    "a9_points_75": 2,
    "a9_points_50": 1,
    # R-S3 A10
    "a10_points": 2,
    # R-S4 D3 / R-S7
    "d3_overdue_points": -5,
    "d3_npl_points": -10,
    # R-S4 D4: (lowest guarantee, points), highest first; any amount > 0 below them
    "d4_tiers": ((Decimal("300000"), -10), (Decimal("200000"), -8)),
    "d4_any_points": -5,
    # R-S4 D5
    "d5_mortgage_min": Decimal("50000"),
    "d5_points": -5,
    # R-S4 D6 / R-C3
    "d6_lookback_years": 3,
    "d6_points": -15,
    # R-L1
    "on_book_min_outstanding": Decimal("1.00"),
    # R-L2
    "cover_tolerance": Decimal("1.00"),
    # R-L3: 不良 when DPD > npl_dpd; five tiers by highest DPD of each tier
    "npl_dpd": 90,
    "five_tier": ((0, "正常"), (90, "关注"), (270, "次级"), (360, "可疑")),
    "five_tier_last": "损失",
    # R-B2 / R-B4: percentages, compared as products
    "village_trip_pct": Decimal("3"),
    "village_watch_pct": Decimal("2"),
    "township_trip_share_pct": Decimal("30"),
}

HOUSEHOLD_BORROWER = "农户"
ENTITY_BORROWER = "经营主体"

MART_KEYS: dict[str, tuple[str, ...]] = {
    "household_scores": ("household_id", "as_of"),
    "loan_status": ("loan_id", "as_of"),
    "village_breaker": ("village_code", "as_of"),
    "township_breaker": ("township_code", "as_of"),
    "loan_compliance": ("loan_id",),
}

# Column kinds, for the comparison: how a warehouse value is normalised before it is compared.
MART_COLUMNS: dict[str, dict[str, str]] = {
    "household_scores": {
        "household_id": "text",
        "as_of": "date",
        "village_code": "text",
        "township_code": "text",
        "registered_poor": "bool",
        "collected_on": "date",
        **{f"a{i}": "int" for i in range(1, 11)},
        **{f"d{i}": "int" for i in range(1, 7)},
        "poor_bonus": "int",
        "overdue_events": "int",
        "npl_events": "int",
        "raw_score": "int",
        "score": "int",
        "grade": "text",
        "credit_limit": "amount",
        "outstanding_principal": "amount",
        "available_credit": "amount",
        "credit_stopped": "bool",
        "vetoes": "list",
    },
    "loan_status": {
        "loan_id": "text",
        "as_of": "date",
        "borrower_type": "text",
        "borrower_id": "text",
        "village_code": "text",
        "outstanding_principal": "amount",
        "dpd": "int",
        "five_tier": "text",
        "is_overdue": "bool",
        "is_npl": "bool",
    },
    "village_breaker": {
        "village_code": "text",
        "as_of": "date",
        "township_code": "text",
        "outstanding_balance": "amount",
        "npl_balance": "amount",
        "npl_rate": "rate",
        "status": "text",
        "tripped": "bool",
    },
    "township_breaker": {
        "township_code": "text",
        "as_of": "date",
        "villages_total": "int",
        "villages_tripped": "int",
        "tripped_share": "rate",
        "tripped": "bool",
    },
    "loan_compliance": {
        "loan_id": "text",
        "borrower_type": "text",
        "borrower_id": "text",
        "disbursed_on": "date",
        "score_on_disbursement": "int",
        "grade_on_disbursement": "text",
        "credit_limit_on_disbursement": "amount",
        "outstanding_with_new_loan": "amount",
        "x1_no_credit": "bool",
        "x2_over_limit": "bool",
    },
}

UNRATED = "未评级"


# ---------------------------------------------------------------- parsing a canonical folder

_TRUE = {"是", "有", "y", "yes", "t", "true", "1", "√"}
_FALSE = {"否", "无", "n", "no", "f", "false", "0", "×"}


def parse_bool(text: str | None) -> bool | None:
    """是/否 (and the other spellings of DATA_CONTRACT.md); empty = unknown (None)."""
    value = (text or "").strip().lower()
    if value == "":
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"not a boolean: {text!r}")


def parse_date(text: str | None) -> date | None:
    value = (text or "").strip()
    if value == "":
        return None
    return date.fromisoformat(value[:10])


def parse_amount(text: str | None) -> Decimal | None:
    value = (text or "").strip().replace(",", "").replace("元", "")
    return Decimal(value) if value else None


def parse_int(text: str | None) -> int | None:
    value = (text or "").strip()
    return int(Decimal(value)) if value else None


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [
            {(key or "").strip(): (value or "").strip() for key, value in row.items()}
            for row in csv.DictReader(handle)
        ]


def month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def is_month_end(day: date) -> bool:
    return day == month_end(day)


def latest_month_end(day: date) -> date:
    """R-B3: the latest month-end on or before ``day`` (``day`` itself at a month-end)."""
    return day if is_month_end(day) else date(day.year, day.month, 1) - timedelta(days=1)


def years_before(day: date, years: int) -> date:
    """R-C3: the same calendar day ``years`` earlier; 29 February -> 28 February."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return date(day.year - years, 2, 28)


# ---------------------------------------------------------------- the data


@dataclass(frozen=True)
class Village:
    village_code: str
    village_name: str
    township_code: str
    township_name: str


@dataclass
class Collection:
    """One row of the households input (R-S1)."""

    household_id: str
    village_code: str
    collected_on: date
    row: dict[str, str]

    static: dict | None = None  # items that do not depend on the date, once computed
    _parsed: dict = field(default_factory=dict)

    def _value(self, column: str, parse):
        if column not in self._parsed:
            self._parsed[column] = parse(self.row.get(column))
        return self._parsed[column]

    def flag(self, column: str) -> bool | None:
        return self._value(column, parse_bool)

    def amount(self, column: str) -> Decimal | None:
        return self._value(column, parse_amount)

    def count(self, column: str) -> int:
        return self._value(column, parse_int) or 0

    def day(self, column: str) -> date | None:
        return self._value(column, parse_date)

    def text(self, column: str) -> str:
        return (self.row.get(column) or "").strip()


@dataclass
class Instalment:
    installment_no: int
    due_on: date
    amount_due: Decimal
    cumulative_due: Decimal = ZERO


@dataclass
class Loan:
    loan_id: str
    borrower_type: str
    borrower_id: str
    amount: Decimal
    disbursed_on: date
    written_off_on: date | None
    instalments: list[Instalment] = field(default_factory=list)
    payment_dates: list[date] = field(default_factory=list)
    paid_total: list[Decimal] = field(default_factory=list)  # running principal + interest
    paid_principal: list[Decimal] = field(default_factory=list)  # running principal
    profile: dict = field(default_factory=lambda: HUBIN_PROFILE)
    first_npl_on: date | None = None

    def prepare(self, payments: list[tuple[date, Decimal, Decimal]]) -> None:
        """R-L2: instalments in (due_on, installment_no) order with running cumulative due;
        payments as running sums by paid_on, so any day's totals are one bisect away."""
        self.instalments.sort(key=lambda inst: (inst.due_on, inst.installment_no))
        running = ZERO
        for inst in self.instalments:
            running += inst.amount_due
            inst.cumulative_due = running
        total = principal = ZERO
        for paid_on, principal_paid, interest_paid in sorted(payments, key=lambda p: p[0]):
            total += principal_paid + interest_paid
            principal += principal_paid
            self.payment_dates.append(paid_on)
            self.paid_total.append(total)
            self.paid_principal.append(principal)
        self.first_npl_on = self._first_npl_on()

    def total_paid(self, day: date) -> Decimal:
        """R-L2: principal + interest paid on or before ``day`` (end of day)."""
        index = bisect.bisect_right(self.payment_dates, day)
        return self.paid_total[index - 1] if index else ZERO

    def principal_paid(self, day: date) -> Decimal:
        index = bisect.bisect_right(self.payment_dates, day)
        return self.paid_principal[index - 1] if index else ZERO

    def outstanding(self, day: date) -> Decimal:
        """R-L1: amount - principal repaid on or before ``day``."""
        return self.amount - self.principal_paid(day)

    def covered(self, inst: Instalment, day: date) -> bool:
        """R-L2: total paid on ``day`` >= cumulative due up to this instalment - tolerance."""
        return self.total_paid(day) >= inst.cumulative_due - self.profile["cover_tolerance"]

    def dpd(self, day: date) -> int:
        """R-L3: ``day`` - due date of the oldest instalment due before ``day`` not covered."""
        for inst in self.instalments:
            if inst.due_on >= day:
                break
            if not self.covered(inst, day):
                return (day - inst.due_on).days
        return 0

    def _first_npl_on(self) -> date | None:
        """R-L4: earliest due_on + (npl_dpd + 1) of an instalment not covered on that day."""
        lag = timedelta(days=self.profile["npl_dpd"] + 1)
        candidates = [
            inst.due_on + lag
            for inst in self.instalments
            if not self.covered(inst, inst.due_on + lag)
        ]
        return min(candidates) if candidates else None

    def on_book(self, day: date) -> bool:
        """R-L1: disbursed on or before ``day``, not written off on or before ``day``,
        outstanding above the minimum (1.00 元)."""
        return (
            self.disbursed_on <= day
            and (self.written_off_on is None or self.written_off_on > day)
            and self.outstanding(day) > self.profile["on_book_min_outstanding"]
        )


def five_tier(dpd: int, profile: dict = HUBIN_PROFILE) -> str:
    """R-L3: 正常 0, 关注 1-90, 次级 91-270, 可疑 271-360, 损失 > 360."""
    for highest, tier in profile["five_tier"]:
        if dpd <= highest:
            return tier
    return profile["five_tier_last"]


def grade_for(score: int, vetoed: bool, profile: dict = HUBIN_PROFILE) -> tuple[str, Decimal]:
    """R-C1: grade and credit limit by score; any veto -> 无信用, 0."""
    if not vetoed:
        for lowest, grade, limit in profile["grades"]:
            if score >= lowest:
                return grade, limit
    return profile["no_grade"], ZERO


def _ratio(numerator: Decimal | int, denominator: Decimal | int) -> Decimal:
    with localcontext() as context:
        context.prec = 40
        return Decimal(numerator) / Decimal(denominator)


# ---------------------------------------------------------------- the oracle


class PolicyOracle:
    """Everything POLICY.md computes for the four contract marts, one date at a time."""

    def __init__(self, raw_dir: Path | str, profile: dict = HUBIN_PROFILE) -> None:
        self.raw_dir = Path(raw_dir)
        self.profile = profile
        self._load()
        self._village_cache: dict[date, dict[str, dict]] = {}
        self._township_cache: dict[date, dict[str, dict]] = {}

    # -- loading

    def _load(self) -> None:
        villages_csv = self.raw_dir / "villages.csv"
        if not villages_csv.exists():
            villages_csv = DEFAULT_VILLAGES_CSV
        self.villages: dict[str, Village] = {}
        for row in _read_csv(villages_csv):
            village = Village(
                row["village_code"], row["village_name"], row["township_code"], row["township_name"]
            )
            self.villages[village.village_code] = village
        self.townships: dict[str, list[str]] = {}
        for village in self.villages.values():
            self.townships.setdefault(village.township_code, []).append(village.village_code)

        self.collections: dict[str, list[Collection]] = {}
        for row in _read_csv(self.raw_dir / "households.csv"):
            collection = Collection(
                row["household_id"], row["village_code"], parse_date(row["collected_on"]), row
            )
            self.collections.setdefault(collection.household_id, []).append(collection)
        for rows in self.collections.values():
            rows.sort(key=lambda c: c.collected_on)

        self.entity_villages: dict[str, str] = {}
        entities_csv = self.raw_dir / "entities.csv"
        if entities_csv.exists():
            for row in _read_csv(entities_csv):
                self.entity_villages[row["entity_id"]] = row["village_code"]

        self.loans: dict[str, Loan] = {}
        for row in _read_csv(self.raw_dir / "loans.csv"):
            self.loans[row["loan_id"]] = Loan(
                loan_id=row["loan_id"],
                borrower_type=row["borrower_type"],
                borrower_id=row["borrower_id"],
                amount=parse_amount(row["amount"]),
                disbursed_on=parse_date(row["disbursed_on"]),
                written_off_on=parse_date(row.get("written_off_on")),
                profile=self.profile,
            )
        for row in _read_csv(self.raw_dir / "schedule.csv"):
            self.loans[row["loan_id"]].instalments.append(
                Instalment(
                    installment_no=int(row["installment_no"]),
                    due_on=parse_date(row["due_on"]),
                    amount_due=parse_amount(row["principal_due"])
                    + parse_amount(row["interest_due"]),
                )
            )
        payments: dict[str, list[tuple[date, Decimal, Decimal]]] = {}
        self.payment_dates: list[date] = []
        for row in _read_csv(self.raw_dir / "repayments.csv"):
            paid_on = parse_date(row["paid_on"])
            self.payment_dates.append(paid_on)
            payments.setdefault(row["loan_id"], []).append(
                (
                    paid_on,
                    parse_amount(row["principal_paid"]) or ZERO,
                    parse_amount(row["interest_paid"]) or ZERO,
                )
            )
        for loan in self.loans.values():
            loan.prepare(payments.get(loan.loan_id, []))

        self.household_loans: dict[str, list[Loan]] = {}
        for loan in self.loans.values():
            if loan.borrower_type == HOUSEHOLD_BORROWER:
                self.household_loans.setdefault(loan.borrower_id, []).append(loan)

    # -- dates (reading 1)

    def data_dates(self) -> list[date]:
        """collected_on, disbursed_on, paid_on, written_off_on (not due dates or maturities)."""
        dates = [c.collected_on for rows in self.collections.values() for c in rows]
        dates += [loan.disbursed_on for loan in self.loans.values()]
        dates += [loan.written_off_on for loan in self.loans.values() if loan.written_off_on]
        dates += self.payment_dates
        return dates

    def default_as_of(self) -> date:
        return max(self.data_dates())

    def snapshot_dates(self, as_of: date | None = None) -> list[date]:
        """Every month-end from the month of the earliest data date through as_of, plus
        as_of itself when it is not a month-end (DATA_CONTRACT.md outputs)."""
        as_of = as_of or self.default_as_of()
        dates = []
        day = month_end(min(self.data_dates()))
        while day <= as_of:
            dates.append(day)
            day = month_end(day + timedelta(days=1))
        if not is_month_end(as_of):
            dates.append(as_of)
        return dates

    # -- geography (R-G1, R-B1, reading 2)

    def home_village(self, household_id: str) -> str | None:
        """R-B1: the village of the household's latest collection in the whole data."""
        rows = self.collections.get(household_id)
        return rows[-1].village_code if rows else None

    def township_of(self, village_code: str | None) -> str | None:
        if village_code is None:
            return None
        village = self.villages.get(village_code)
        return village.township_code if village else village_code[:9]

    def borrower_village(self, loan: Loan) -> str | None:
        if loan.borrower_type == HOUSEHOLD_BORROWER:
            return self.home_village(loan.borrower_id)
        return self.entity_villages.get(loan.borrower_id)

    # -- loan_status (R-L1, R-L3)

    def loan_status(self, day: date) -> list[dict]:
        rows = []
        for loan in self.loans.values():
            if not loan.on_book(day):
                continue
            dpd = loan.dpd(day)
            rows.append(
                {
                    "loan_id": loan.loan_id,
                    "as_of": day,
                    "borrower_type": loan.borrower_type,
                    "borrower_id": loan.borrower_id,
                    "village_code": self.borrower_village(loan),
                    "outstanding_principal": loan.outstanding(day),
                    "dpd": dpd,
                    "five_tier": five_tier(dpd, self.profile),
                    "is_overdue": dpd > 0,
                    "is_npl": dpd > self.profile["npl_dpd"],
                }
            )
        return rows

    # -- breakers (R-B1, R-B2, R-B4)

    def village_breaker(self, day: date) -> dict[str, dict]:
        """R-B1/R-B2/R-B4: household loans on the book on ``day`` by home village;
        熔断 when npl*100 > 3*outstanding, 预警 when npl*100 > 2*outstanding."""
        if day in self._village_cache:
            return self._village_cache[day]
        balances = {code: [ZERO, ZERO] for code in self.villages}
        for loan in self.loans.values():
            if loan.borrower_type != HOUSEHOLD_BORROWER or not loan.on_book(day):
                continue
            village_code = self.home_village(loan.borrower_id)
            if village_code not in balances:
                continue
            outstanding = loan.outstanding(day)
            balances[village_code][0] += outstanding
            if loan.dpd(day) > self.profile["npl_dpd"]:
                balances[village_code][1] += outstanding
        rows = {}
        for code, (outstanding, npl) in balances.items():
            if outstanding == 0:
                status = "无贷款"
            elif npl * 100 > self.profile["village_trip_pct"] * outstanding:
                status = "熔断"
            elif npl * 100 > self.profile["village_watch_pct"] * outstanding:
                status = "预警"
            else:
                status = "正常"
            rows[code] = {
                "village_code": code,
                "as_of": day,
                "township_code": self.villages[code].township_code,
                "outstanding_balance": outstanding,
                "npl_balance": npl,
                "npl_rate": _ratio(npl, outstanding) if outstanding else None,
                "status": status,
                "tripped": status == "熔断",
            }
        self._village_cache[day] = rows
        return rows

    def township_breaker(self, day: date) -> dict[str, dict]:
        """R-B2: tripped when tripped villages * 100 >= 30 * all villages of the division list."""
        if day in self._township_cache:
            return self._township_cache[day]
        villages = self.village_breaker(day)
        rows = {}
        for code, members in self.townships.items():
            total = len(members)
            tripped = sum(1 for member in members if villages[member]["tripped"])
            rows[code] = {
                "township_code": code,
                "as_of": day,
                "villages_total": total,
                "villages_tripped": tripped,
                "tripped_share": _ratio(tripped, total),
                "tripped": tripped * 100 >= self.profile["township_trip_share_pct"] * total,
            }
        self._township_cache[day] = rows
        return rows

    def credit_stopped(self, village_code: str | None, day: date) -> bool:
        """R-B3 / R-C2: village or township tripped at the latest month-end on or before day."""
        if village_code not in self.villages:
            return False
        evaluated_on = latest_month_end(day)
        village = self.village_breaker(evaluated_on)[village_code]
        township = self.township_breaker(evaluated_on)[self.villages[village_code].township_code]
        return village["tripped"] or township["tripped"]

    # -- scores (R-S1 … R-S7, R-C1, R-C2)

    def collection_on(self, household_id: str, day: date) -> Collection | None:
        """R-S1: the latest collection with collected_on <= day; None = unrated."""
        latest = None
        for collection in self.collections[household_id]:
            if collection.collected_on <= day:
                latest = collection
        return latest

    def loan_events(self, household_id: str, collected_on: date, day: date) -> tuple[int, int]:
        """R-S7 (loan-book part): overdue events = instalments with collected_on < due_on < day
        not covered at the end of due_on; NPL events = loans whose first NPL date (R-L4) is in
        (collected_on, day]."""
        overdue = npl = 0
        for loan in self.household_loans.get(household_id, []):
            for inst in loan.instalments:
                if collected_on < inst.due_on < day and not loan.covered(inst, inst.due_on):
                    overdue += 1
            if loan.first_npl_on is not None and collected_on < loan.first_npl_on <= day:
                npl += 1
        return overdue, npl

    def static_items(self, collection: Collection) -> dict:
        """R-S3 add items, R-S4 D1 D2 D4 D5, R-S5 poor bonus: they depend on the collection
        only, so they are worked out once per collection."""
        if collection.static is not None:
            return collection.static
        p = self.profile
        c = collection
        a1 = p["a1_points_each"] * (
            (c.flag("party_member") is True)
            + (c.text("education") in p["a1_higher_education"])
            + (c.flag("healthy") is True)
            + (c.flag("military_member") is True)
        )
        house = c.amount("homestead_house_value")
        a2 = p["a2_points"] if house is not None and house >= p["a2_house_min"] else 0
        project = c.text("income_project")
        project_counts = project not in p["a3_no_project"] and (
            project != p["a3_proof_project"] or c.flag("work_proof") is True
        )
        a3 = p["a3_points"] if project_counts else 0
        scale = c.amount("entity_scale")
        a4 = (
            p["a4_points"]
            if c.flag("entity_registered") is True
            and scale is not None
            and p["a4_scale_min"] <= scale < p["a4_scale_below"]
            else 0
        )
        a5 = p["a5_points_each"] * sum(
            c.flag(column) is True for column in ("forest_cert", "land_cert", "homestead_cert")
        )
        equipment = c.amount("equipment_value")
        a6 = 0
        if equipment is not None:
            a6 = next((points for lowest, points in p["a6_tiers"] if equipment >= lowest), 0)
        a7 = p["a7_points"].get(c.text("honor"), 0)
        family, neighbour = c.flag("family_harmonious"), c.flag("neighbor_harmonious")
        a8 = p["a8_points_each"] * ((family is True) + (neighbour is True))
        a9 = p["a9_points_75"] * c.count("urban_property_75") + p["a9_points_50"] * c.count(
            "urban_property_50"
        )
        a10 = p["a10_points"] if c.flag("commercial_insurance") is True else 0
        d1 = p["d1_points"] if a3 == 0 else 0
        d2 = p["d2_points_each"] * (
            (family is False) + (neighbour is False) + c.count("petitions_12m")
        )
        guarantee = c.amount("guarantee_amount")
        d4 = 0
        if guarantee is not None and guarantee > 0:
            d4 = next(
                (points for lowest, points in p["d4_tiers"] if guarantee >= lowest),
                p["d4_any_points"],
            )
        mortgage = c.amount("mortgage_amount")
        d5 = p["d5_points"] if mortgage is not None and mortgage >= p["d5_mortgage_min"] else 0
        registered_poor = c.flag("registered_poor") is True or c.flag("poverty_exited") is True
        collection.static = {
            "registered_poor": registered_poor,
            "a1": a1, "a2": a2, "a3": a3, "a4": a4, "a5": a5,
            "a6": a6, "a7": a7, "a8": a8, "a9": a9, "a10": a10,
            "d1": d1, "d2": d2, "d4": d4, "d5": d5,
            "poor_bonus": p["poor_bonus"] if registered_poor else 0,
        }  # fmt: skip
        return collection.static

    def score_items(self, collection: Collection, day: date) -> dict:
        """Every item as of ``day``: the static ones, R-S4 D3 (R-S7 events up to ``day``)
        and D6 (enforcement ended on or after ``day`` - 3 years, R-C3; or dishonest debtor)."""
        p = self.profile
        c = collection
        book_overdue, book_npl = self.loan_events(c.household_id, c.collected_on, day)
        overdue_events = c.count("credit_overdue_count") + book_overdue
        npl_events = c.count("credit_npl_count") + book_npl
        d3 = p["d3_overdue_points"] * overdue_events + p["d3_npl_points"] * npl_events
        ended = c.day("enforcement_ended_on")
        recent_enforcement = ended is not None and ended >= years_before(
            day, p["d6_lookback_years"]
        )
        d6 = p["d6_points"] if recent_enforcement or c.flag("dishonest_debtor") is True else 0
        static = self.static_items(c)
        items = {key: value for key, value in static.items() if key != "registered_poor"}
        items.update(d3=d3, d6=d6)
        return {
            **static,
            "d3": d3,
            "d6": d6,
            "overdue_events": overdue_events,
            "npl_events": npl_events,
            "raw_score": p["base_score"] + sum(items.values()),
        }

    def vetoes(self, collection: Collection, day: date) -> list[str]:
        """R-S6: V1 黄赌毒; V2 under enforcement or dishonest debtor; V3 any household loan
        disbursed on or before day with DPD > 0 (written off or off the book included);
        V4 a guaranteed loan overdue. Empty fields do not veto."""
        vetoes = []
        if collection.flag("vice_record") is True:
            vetoes.append("V1")
        if (
            collection.flag("under_enforcement") is True
            or collection.flag("dishonest_debtor") is True
        ):
            vetoes.append("V2")
        if any(
            loan.disbursed_on <= day and loan.dpd(day) > 0
            for loan in self.household_loans.get(collection.household_id, [])
        ):
            vetoes.append("V3")
        if collection.flag("guarantee_overdue") is True:
            vetoes.append("V4")
        return vetoes

    def outstanding_on_book(self, household_id: str, day: date) -> Decimal:
        """R-C2 / R-L1: outstanding principal of the household's loans on the book at the end of
        ``day`` (a loan disbursed that day included)."""
        return sum(
            (
                loan.outstanding(day)
                for loan in self.household_loans.get(household_id, [])
                if loan.on_book(day)
            ),
            ZERO,
        )

    def household_score(self, household_id: str, day: date) -> dict | None:
        """One household_scores row (R-S1 … R-S7, R-C1, R-C2); None when unrated on ``day``."""
        collection = self.collection_on(household_id, day)
        if collection is None:
            return None
        items = self.score_items(collection, day)
        vetoes = self.vetoes(collection, day)
        score = 0 if vetoes else items["raw_score"]
        grade, limit = grade_for(score, bool(vetoes), self.profile)
        outstanding = self.outstanding_on_book(household_id, day)
        village_code = self.home_village(household_id)
        stopped = self.credit_stopped(village_code, day)
        available = ZERO if stopped else max(limit - outstanding, ZERO)
        return {
            "household_id": household_id,
            "as_of": day,
            "village_code": village_code,
            "township_code": self.township_of(village_code),
            "collected_on": collection.collected_on,
            **items,
            "score": score,
            "grade": grade,
            "credit_limit": limit,
            "outstanding_principal": outstanding,
            "available_credit": available,
            "credit_stopped": stopped,
            "vetoes": vetoes,
        }

    # -- compliance (R-X1, R-X2)

    def loan_compliance(self, loan: Loan) -> dict:
        """R-X1 / R-X2 of one loan, judged on its disbursement day D itself: the household's
        rating on D (R-S1 latest collection on or before D, its vetoes and events as of D;
        unrated = 未评级 with limit 0) and its outstanding principal on the book at the end of D,
        the new loan included. An entity's loan is not judged (no grade, limit, outstanding)."""
        row = {
            "loan_id": loan.loan_id,
            "borrower_type": loan.borrower_type,
            "borrower_id": loan.borrower_id,
            "disbursed_on": loan.disbursed_on,
            "score_on_disbursement": None,
            "grade_on_disbursement": None,
            "credit_limit_on_disbursement": None,
            "outstanding_with_new_loan": None,
            "x1_no_credit": False,
            "x2_over_limit": False,
        }
        if loan.borrower_type != HOUSEHOLD_BORROWER:
            return row
        day = loan.disbursed_on
        rating = self.household_score(loan.borrower_id, day)
        if rating is None:
            score, grade, limit = None, UNRATED, ZERO
        else:
            score, grade, limit = rating["score"], rating["grade"], rating["credit_limit"]
        outstanding = self.outstanding_on_book(loan.borrower_id, day)
        row.update(
            score_on_disbursement=score,
            grade_on_disbursement=grade,
            credit_limit_on_disbursement=limit,
            outstanding_with_new_loan=outstanding,
            x1_no_credit=grade in (UNRATED, self.profile["no_grade"]),
            x2_over_limit=outstanding > limit,
        )
        return row

    # -- all marts

    def marts(self, as_of: date | None = None) -> dict[str, list[dict]]:
        """The expected rows of the four contract marts over every snapshot date, and the
        R-X1 / R-X2 checks of every loan disbursed up to the last of them."""
        result: dict[str, list[dict]] = {name: [] for name in MART_KEYS}
        days = self.snapshot_dates(as_of)
        result["loan_compliance"] = [
            self.loan_compliance(loan)
            for loan in self.loans.values()
            if loan.disbursed_on <= days[-1]
        ]
        for day in days:
            for household_id in sorted(self.collections):
                row = self.household_score(household_id, day)
                if row is not None:
                    result["household_scores"].append(row)
            result["loan_status"].extend(self.loan_status(day))
            result["village_breaker"].extend(self.village_breaker(day).values())
            result["township_breaker"].extend(self.township_breaker(day).values())
        return result


def compute_marts(
    raw_dir: Path | str, as_of: date | datetime | None = None, profile: dict = HUBIN_PROFILE
) -> dict[str, list[dict]]:
    """Expected rows of household_scores, loan_status, village_breaker, township_breaker and
    loan_compliance (R-X1 / R-X2)."""
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    return PolicyOracle(raw_dir, profile).marts(as_of)
