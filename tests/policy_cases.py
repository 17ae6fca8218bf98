"""Hand-crafted policy cases: a small canonical raw folder with a case at every threshold
of POLICY.md, and the values derived by hand (not by the oracle) that the marts must hold.

``write_policy_cases(out_dir)`` writes households.csv, loans.csv, schedule.csv,
repayments.csv and entities.csv (no villages.csv: the district's real division list is
used) and returns a ``CaseBook``. Every id names the rule it checks (R-S3 A4 -> ``RS3_A4``).

Timeline: the earliest data date is 2023-01-05 (disbursements), the latest 2024-07-15
(a collection), so the build's default as-of date is 2024-07-15 (provisional, not a
month-end) and the snapshots are the month-ends 2023-01-31 … 2024-06-30 plus 2024-07-15.
Most households are collected on 2024-01-15; most expectations are read at 2024-06-30.

Template household ("T"): income project 果 (A3 +3), 建档立卡 否/已脱贫 否, counts 0,
every other field empty -> 80 + 3 = 83, grade A, limit 50,000.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

try:
    from huinong.schema import RAW_FILES
except ModuleNotFoundError:  # run from outside the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from huinong.schema import RAW_FILES

D0 = date(2024, 6, 30)  # the month-end most cases are read at
AS_OF = date(2024, 7, 15)  # latest data date = the build's default as-of date
COLLECTED = date(2024, 1, 15)

# 高庙乡: score cases (no loans), re-collection, loan-book events, available credit
GM = "411202203"
GM_DAAN, GM_XIAOAN, GM_WEIJIAGOU = "411202203200", "411202203201", "411202203202"
GM_HUANGDI, GM_LIJIAPO, GM_XUEZICANG = "411202203204", "411202203207", "411202203208"
GM_WANGJIALING = "411202203205"  # R-X1 / R-X2 on the disbursement day
# 磁钟乡: loan mechanics (DPD tiers in 磁钟村, cover / prepayment / book in 赵家后村)
CZ = "411202202"
CZ_CIZHONG, CZ_ZHAOJIAHOU = "411202202200", "411202202201"
# 交口乡: village NPL-rate thresholds, written-off loan, entity loan
JK = "411202201"
JK_JIAOKOU, JK_FU, JK_CHAOJIAZHUANG, JK_NANLIANG = (
    "411202201200",
    "411202201201",
    "411202201202",
    "411202201203",
)
JK_BEILIANG, JK_YANGJIAGOU, JK_HOUJIAGOU = "411202201204", "411202201205", "411202201206"
# 会兴街道 (8 villages): 2 tripped = 25 %
HX = "411202006"
HX_HUIXING, HX_SHANGCUN, HX_HUAISHUWA = "411202006200", "411202006201", "411202006202"
# 崖底街道 (10 villages): 3 tripped = 30 % exactly
YD = "411202007"
YD_YADI, YD_DONGHE, YD_XIHE, YD_CHENSONGPO = (
    "411202007200",
    "411202007201",
    "411202007202",
    "411202007203",
)

MART_NAMES = (
    "household_scores",
    "loan_status",
    "village_breaker",
    "township_breaker",
    "loan_compliance",
)


@dataclass
class CaseBook:
    """The case folder and its hand-derived expectations.

    ``expectations[mart][key]`` is a dict of expected column values (only the columns
    the case is about), or ``None`` when the mart must have no row for that key.
    Keys: (household_id, as_of), (loan_id, as_of), (village_code, as_of),
    (township_code, as_of), (loan_id,) for loan_compliance.
    """

    raw_dir: Path
    as_of: date
    expectations: dict[str, dict[tuple, dict | None]] = field(
        default_factory=lambda: {name: {} for name in MART_NAMES}
    )
    cases: dict[str, str] = field(default_factory=dict)  # case id -> what it checks

    @property
    def household_scores(self) -> dict[tuple, dict | None]:
        return self.expectations["household_scores"]

    @property
    def loan_status(self) -> dict[tuple, dict | None]:
        return self.expectations["loan_status"]

    @property
    def village_breaker(self) -> dict[tuple, dict | None]:
        return self.expectations["village_breaker"]

    @property
    def township_breaker(self) -> dict[tuple, dict | None]:
        return self.expectations["township_breaker"]

    @property
    def loan_compliance(self) -> dict[tuple, dict | None]:
        return self.expectations["loan_compliance"]


def _amount(value: str | int) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _graded(score: int, grade: str, limit: int, available=None, **more) -> dict:
    """Expected columns of a rated household; ``available`` defaults to the limit."""
    row = {
        "score": score,
        "grade": grade,
        "credit_limit": _amount(limit),
        "available_credit": _amount(limit if available is None else available),
        "vetoes": [],
    }
    row.update(more)
    return row


def _vetoed(vetoes: list[str], raw_score: int, **more) -> dict:
    row = {
        "score": 0,
        "grade": "无信用",
        "credit_limit": _amount(0),
        "available_credit": _amount(0),
        "vetoes": vetoes,
        "raw_score": raw_score,
    }
    row.update(more)
    return row


def _village(outstanding: str, npl: str, rate: str | None, status: str) -> dict:
    return {
        "outstanding_balance": _amount(outstanding),
        "npl_balance": _amount(npl),
        "npl_rate": None if rate is None else Decimal(rate),
        "status": status,
        "tripped": status == "熔断",
    }


def _loan(dpd: int, tier: str, outstanding: str, **more) -> dict:
    row = {
        "dpd": dpd,
        "five_tier": tier,
        "is_overdue": dpd > 0,
        "is_npl": dpd > 90,
        "outstanding_principal": _amount(outstanding),
    }
    row.update(more)
    return row


def _judged(
    score: int | None, grade: str, limit: int, outstanding: str, x1: bool, x2: bool
) -> dict:
    """Expected R-X1 / R-X2 columns of a household loan on its disbursement day."""
    return {
        "score_on_disbursement": score,
        "grade_on_disbursement": grade,
        "credit_limit_on_disbursement": _amount(limit),
        "outstanding_with_new_loan": _amount(outstanding),
        "x1_no_credit": x1,
        "x2_over_limit": x2,
    }


def _gb11643_id(sequence: int) -> str:
    """A 居民身份证号 with a valid GB 11643 check character."""
    body = f"411202{1960 + sequence % 40:04d}{1 + sequence % 12:02d}{1 + sequence % 28:02d}{sequence % 1000:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(digit) * weight for digit, weight in zip(body, weights, strict=True))
    return body + "10X98765432"[total % 11]


def _gb32100_code(sequence: int) -> str:
    """A 统一社会信用代码 (合作社, 93…) with valid GB 11714 and GB 32100 check characters."""
    organisation = f"{31120000 + sequence:08d}"
    total = sum(
        int(digit) * weight
        for digit, weight in zip(organisation, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)
    )
    check = 11 - total % 11
    organisation += {10: "X", 11: "0"}.get(check, str(check))
    body = "93411202" + organisation
    charset = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    total = sum(charset.index(char) * weight for char, weight in zip(body, weights, strict=True))
    return body + charset[(31 - total % 31) % 31]


class _Folder:
    """Collects the raw rows and the expectations while the cases are declared."""

    def __init__(self, out_dir: Path) -> None:
        self.book = CaseBook(raw_dir=out_dir, as_of=AS_OF)
        self.rows: dict[str, list[dict]] = {
            name: [] for name in ("households", "loans", "schedule", "repayments", "entities")
        }

    def case(self, case_id: str, description: str) -> str:
        self.book.cases[case_id] = description
        return case_id

    def household(
        self, household_id: str, village: str, collected_on: date = COLLECTED, **fields
    ) -> str:
        row = dict.fromkeys(RAW_FILES["households"].column_names, "")
        sequence = len(self.rows["households"]) + 1
        row.update(
            household_id=household_id,
            village_code=village,
            head_name=f"户主{sequence:03d}",
            head_id_number=_gb11643_id(sequence),
            collected_on=collected_on.isoformat(),
            registered_poor="否",
            poverty_exited="否",
            income_project="果",
            petitions_12m="0",
            urban_property_75="0",
            urban_property_50="0",
            credit_overdue_count="0",
            credit_npl_count="0",
        )
        row.update({key: str(value) for key, value in fields.items()})
        self.rows["households"].append(row)
        return household_id

    def loan(
        self,
        loan_id: str,
        borrower_id: str,
        amount: str,
        disbursed_on: date,
        instalments: list[tuple[date, str, str]],
        payments: list[tuple[date, str, str]] = (),
        written_off_on: date | None = None,
        borrower_type: str = "农户",
        method: str = "到期一次还本付息",
    ) -> str:
        """instalments: (due_on, principal_due, interest_due); payments: (paid_on, principal,
        interest)."""
        self.rows["loans"].append(
            {
                "loan_id": loan_id,
                "borrower_type": borrower_type,
                "borrower_id": borrower_id,
                "bank": "湖滨农商银行",
                "product": "扶贫小额信贷" if borrower_type == "农户" else "带贫主体贷款",
                "amount": amount,
                "disbursed_on": disbursed_on.isoformat(),
                "maturity_on": max(due for due, _, _ in instalments).isoformat(),
                "annual_rate": "0.0435",
                "benchmark_rate": "0.0435",
                "repayment_method": method,
                "written_off_on": written_off_on.isoformat() if written_off_on else "",
            }
        )
        for number, (due_on, principal, interest) in enumerate(instalments, start=1):
            self.rows["schedule"].append(
                {
                    "loan_id": loan_id,
                    "installment_no": str(number),
                    "due_on": due_on.isoformat(),
                    "principal_due": principal,
                    "interest_due": interest,
                }
            )
        for number, (paid_on, principal, interest) in enumerate(payments, start=1):
            self.rows["repayments"].append(
                {
                    "payment_id": f"{loan_id}-P{number}",
                    "loan_id": loan_id,
                    "paid_on": paid_on.isoformat(),
                    "principal_paid": principal,
                    "interest_paid": interest,
                }
            )
        return loan_id

    def entity(self, entity_id: str, village: str) -> str:
        sequence = len(self.rows["entities"]) + 1
        self.rows["entities"].append(
            {
                "entity_id": entity_id,
                "name": f"湖滨区示范合作社{sequence}",
                "kind": "合作社",
                "village_code": village,
                "credit_code": _gb32100_code(sequence),
                "poor_households_linked": "12",
            }
        )
        return entity_id

    def expect(self, mart: str, key: tuple, columns: dict | None) -> None:
        self.book.expectations[mart][key] = columns

    def write(self) -> CaseBook:
        self.book.raw_dir.mkdir(parents=True, exist_ok=True)
        for name, rows in self.rows.items():
            with (self.book.raw_dir / f"{name}.csv").open("w", encoding="utf-8", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=RAW_FILES[name].column_names)
                writer.writeheader()
                writer.writerows(rows)
        return self.book


# ---------------------------------------------------------------- the cases

# Profile of a 95-101 household: A1 4 (党员, 大专+, 健康, 服兵役), A5 3, A8 2, A10 2, A3 3.
_RICH = {
    "party_member": "是",
    "education": "本科",
    "healthy": "是",
    "military_member": "是",
    "forest_cert": "是",
    "land_cert": "是",
    "homestead_cert": "是",
    "family_harmonious": "是",
    "neighbor_harmonious": "是",
    "commercial_insurance": "是",
}
_A1_FULL = {"party_member": "是", "education": "大专", "healthy": "是", "military_member": "是"}


def _score_cases(f: _Folder) -> None:
    """R-S2 … R-S6, R-C1: households without loans in 黄底村 (never tripped)."""

    def scored(case_id: str, description: str, expected: dict, day: date = D0, **fields):
        f.household(f.case(case_id, description), GM_HUANGDI, **fields)
        f.expect("household_scores", (case_id, day), expected)

    # R-C1 grade cut-offs 80/87/96/101 and their limits
    scored("HH_RC1_SCORE_79", "T + 4 petitions (D2 -4): 79 -> 无信用", _graded(79, "无信用", 0), petitions_12m=4)  # fmt: skip
    scored("HH_RC1_SCORE_80", "T + 3 petitions: 80 -> A", _graded(80, "A", 50000, d2=-3), petitions_12m=3)  # fmt: skip
    scored("HH_RC1_SCORE_86", "T + A1 3: 86 -> A", _graded(86, "A", 50000, a1=3), party_member="是", healthy="是", military_member="是")  # fmt: skip
    scored("HH_RC1_SCORE_87", "T + A1 4 (大专): 87 -> AA", _graded(87, "AA", 100000, a1=4), **_A1_FULL)  # fmt: skip
    scored("HH_RC1_SCORE_95", "rich + 村级 (A7 1): 95 -> AA", _graded(95, "AA", 100000, a7=1), honor="村级", **_RICH)  # fmt: skip
    scored("HH_RC1_SCORE_96", "rich + 乡级: 96 -> AAA", _graded(96, "AAA", 150000, a7=2), honor="乡级", **_RICH)  # fmt: skip
    scored("HH_RC1_SCORE_100", "rich + 区级 + 3 urban 50-75 m²: 100 -> AAA (not AAA+)", _graded(100, "AAA", 150000, a9=3), honor="区级及以上", urban_property_50=3, **{**_RICH, "education": "研究生"})  # fmt: skip
    scored("HH_RC1_SCORE_101", "rich + 区级 + 2 urban ≥75 m²: 101 -> AAA+", _graded(101, "AAA+", 200000, a9=4, a1=4, a5=3, a8=2, a10=2, a7=3, a3=3), honor="区级及以上", urban_property_75=2, **_RICH)  # fmt: skip

    # R-S3 A1 education: 大专 and above
    scored("HH_RS3_A1_ZHONGZHUAN", "中专 is below 大专: A1 0", _graded(83, "A", 50000, a1=0), education="中专")  # fmt: skip
    scored("HH_RS3_A1_DAZHUAN", "大专: A1 1", _graded(84, "A", 50000, a1=1), education="大专")
    # R-S3 A2 20万以上
    scored("HH_RS3_A2_199999_99", "house 199,999.99: A2 0", _graded(83, "A", 50000, a2=0), homestead_house_value="199999.99")  # fmt: skip
    scored("HH_RS3_A2_200000_00", "house 200,000.00: A2 2", _graded(85, "A", 50000, a2=2), homestead_house_value="200000.00")  # fmt: skip
    # R-S3 A3 / R-S4 D1
    scored("HH_RS3_A3_WORK_WITH_PROOF", "务工 with proof: A3 3, D1 0", _graded(83, "A", 50000, a3=3, d1=0), income_project="务工", work_proof="是")  # fmt: skip
    scored("HH_RS3_A3_WORK_WITHOUT_PROOF", "务工, proof 否: A3 0, D1 -8", _graded(72, "无信用", 0, a3=0, d1=-8), income_project="务工", work_proof="否")  # fmt: skip
    scored("HH_RS3_A3_WORK_PROOF_EMPTY", "务工, proof empty: A3 0, D1 -8", _graded(72, "无信用", 0, a3=0, d1=-8), income_project="务工")  # fmt: skip
    scored("HH_RS3_A3_OTHER_PROOF_NO", "其他 needs no proof: A3 3", _graded(83, "A", 50000, a3=3, d1=0), income_project="其他", work_proof="否")  # fmt: skip
    scored("HH_RS4_D1_PROJECT_EMPTY", "empty project counts as 无: D1 -8", _graded(72, "无信用", 0, a3=0, d1=-8), income_project="")  # fmt: skip
    scored("HH_RS4_D1_PROJECT_NONE", "project 无: D1 -8", _graded(72, "无信用", 0, a3=0, d1=-8), income_project="无")  # fmt: skip
    # R-S3 A4 5万以上10万以下, 不含10万
    scored("HH_RS3_A4_49999_99", "entity 49,999.99: A4 0", _graded(83, "A", 50000, a4=0), entity_registered="是", entity_scale="49999.99")  # fmt: skip
    scored("HH_RS3_A4_50000_00", "entity 50,000.00: A4 2", _graded(85, "A", 50000, a4=2), entity_registered="是", entity_scale="50000.00")  # fmt: skip
    scored("HH_RS3_A4_99999_99", "entity 99,999.99: A4 2", _graded(85, "A", 50000, a4=2), entity_registered="是", entity_scale="99999.99")  # fmt: skip
    scored("HH_RS3_A4_100000_00", "entity 100,000.00: A4 0 (literal 不含10万)", _graded(83, "A", 50000, a4=0), entity_registered="是", entity_scale="100000.00")  # fmt: skip
    scored("HH_RS3_A4_NOT_REGISTERED", "unregistered entity 60,000: A4 0", _graded(83, "A", 50000, a4=0), entity_registered="否", entity_scale="60000.00")  # fmt: skip
    scored("HH_RS3_A4_REGISTRATION_EMPTY", "registration unknown, 60,000: A4 0", _graded(83, "A", 50000, a4=0), entity_scale="60000.00")  # fmt: skip
    # R-S3 A5
    scored("HH_RS3_A5_TWO_CERTS", "林权证 + 宅基地证, 土地证 否: A5 2", _graded(85, "A", 50000, a5=2), forest_cert="是", land_cert="否", homestead_cert="是")  # fmt: skip
    # R-S3 A6
    scored("HH_RS3_A6_49999_99", "equipment 49,999.99: A6 0", _graded(83, "A", 50000, a6=0), equipment_value="49999.99")  # fmt: skip
    scored("HH_RS3_A6_50000_00", "equipment 50,000.00: A6 1", _graded(84, "A", 50000, a6=1), equipment_value="50000.00")  # fmt: skip
    scored("HH_RS3_A6_99999_99", "equipment 99,999.99: A6 1", _graded(84, "A", 50000, a6=1), equipment_value="99999.99")  # fmt: skip
    scored("HH_RS3_A6_100000_00", "equipment 100,000.00: A6 2", _graded(85, "A", 50000, a6=2), equipment_value="100000.00")  # fmt: skip
    # R-S3 A7 highest honour, not cumulative
    scored("HH_RS3_A7_NONE", "honour 无: A7 0", _graded(83, "A", 50000, a7=0), honor="无")
    scored("HH_RS3_A7_VILLAGE", "村级: A7 1", _graded(84, "A", 50000, a7=1), honor="村级")
    scored("HH_RS3_A7_TOWNSHIP", "乡级: A7 2", _graded(85, "A", 50000, a7=2), honor="乡级")
    scored("HH_RS3_A7_DISTRICT", "区级及以上: A7 3, not 3+2+1", _graded(86, "A", 50000, a7=3), honor="区级及以上")  # fmt: skip
    # R-S3 A8 / R-S4 D2: an empty boolean earns and costs nothing
    scored("HH_RS3_A8_BOTH_YES", "和睦 + 和谐: A8 2", _graded(85, "A", 50000, a8=2, d2=0), family_harmonious="是", neighbor_harmonious="是")  # fmt: skip
    scored("HH_RS3_A8_FAMILY_YES_NEIGHBOUR_EMPTY", "A8 1, D2 0", _graded(84, "A", 50000, a8=1, d2=0), family_harmonious="是")  # fmt: skip
    scored("HH_RS4_D2_FAMILY_NO_NEIGHBOUR_EMPTY", "A8 0, D2 -1", _graded(82, "A", 50000, a8=0, d2=-1), family_harmonious="否")  # fmt: skip
    scored("HH_RS4_D2_BOTH_NO_2_PETITIONS", "D2 -1 -1 -2 = -4", _graded(79, "无信用", 0, a8=0, d2=-4), family_harmonious="否", neighbor_harmonious="否", petitions_12m=2)  # fmt: skip
    # R-S3 A9 counts
    scored("HH_RS3_A9_2X75_3X50", "2 × ≥75 m² + 3 × 50-75 m²: A9 7", _graded(90, "AA", 100000, a9=7), urban_property_75=2, urban_property_50=3)  # fmt: skip
    scored("HH_RS3_A9_75_EMPTY_1X50", "≥75 count empty, 1 × 50-75: A9 1", _graded(84, "A", 50000, a9=1), urban_property_75="", urban_property_50=1)  # fmt: skip
    # R-S3 A10
    scored("HH_RS3_A10_INSURED", "insured: A10 2", _graded(85, "A", 50000, a10=2), commercial_insurance="是")  # fmt: skip
    scored("HH_RS3_A10_NOT_INSURED", "not insured: A10 0, no deduction", _graded(83, "A", 50000, a10=0), commercial_insurance="否")  # fmt: skip
    # R-S4 D4
    for amount, points, score, grade, limit in (
        ("0.00", 0, 83, "A", 50000),
        ("0.01", -5, 78, "无信用", 0),
        ("199999.99", -5, 78, "无信用", 0),
        ("200000.00", -8, 75, "无信用", 0),
        ("299999.99", -8, 75, "无信用", 0),
        ("300000.00", -10, 73, "无信用", 0),
    ):
        case_id = f"HH_RS4_D4_{amount.replace('.', '_')}"
        scored(case_id, f"guarantee {amount}: D4 {points}", _graded(score, grade, limit, d4=points), guarantee_amount=amount)  # fmt: skip
    # R-S4 D5
    scored("HH_RS4_D5_49999_99", "mortgage 49,999.99: D5 0", _graded(83, "A", 50000, d5=0), mortgage_amount="49999.99")  # fmt: skip
    scored("HH_RS4_D5_50000_00", "mortgage 50,000.00: D5 -5", _graded(78, "无信用", 0, d5=-5), mortgage_amount="50000.00")  # fmt: skip
    # R-S5: 建档立卡 includes 已脱贫
    scored("HH_RS5_REGISTERED_POOR", "建档立卡: +3", _graded(86, "A", 50000, poor_bonus=3, registered_poor=True), registered_poor="是")  # fmt: skip
    scored("HH_RS5_POVERTY_EXITED", "已脱贫 (建档立卡 否): +3, registered_poor true", _graded(86, "A", 50000, poor_bonus=3, registered_poor=True), poverty_exited="是")  # fmt: skip
    scored("HH_RS5_NOT_POOR", "否/否: no bonus", _graded(83, "A", 50000, poor_bonus=0, registered_poor=False))  # fmt: skip
    scored("HH_RS5_POOR_UNKNOWN", "empty/empty: no bonus", _graded(83, "A", 50000, poor_bonus=0, registered_poor=False), registered_poor="", poverty_exited="")  # fmt: skip
    # R-S6 vetoes (V3 in the loan cases)
    scored("HH_RS6_V1_VICE", "黄赌毒: V1", _vetoed(["V1"], 83), vice_record="是")
    scored("HH_RS6_V2_UNDER_ENFORCEMENT", "under enforcement: V2, D6 0", _vetoed(["V2"], 83, d6=0), under_enforcement="是")  # fmt: skip
    scored("HH_RS6_V2_DISHONEST", "失信被执行人: V2 and D6 -15", _vetoed(["V2"], 68, d6=-15), dishonest_debtor="是")  # fmt: skip
    scored("HH_RS6_V4_GUARANTEE_OVERDUE", "guaranteed loan overdue: V4 (+ D4 -5)", _vetoed(["V4"], 78, d4=-5), guarantee_overdue="是", guarantee_amount="100000.00")  # fmt: skip
    scored("HH_RS6_V2_V4", "two vetoes at once, both recorded", _vetoed(["V2", "V4"], 83), under_enforcement="是", guarantee_overdue="是")  # fmt: skip
    scored("HH_RS6_NO_VETO_ALL_NO", "every veto field 否: no veto, 101 stays AAA+", _graded(101, "AAA+", 200000), honor="区级及以上", urban_property_75=2, vice_record="否", under_enforcement="否", dishonest_debtor="否", guarantee_overdue="否", **_RICH)  # fmt: skip

    # R-S4 D6 / R-C3: ended on or after D - 3 years (same calendar day; 29 Feb -> 28 Feb)
    scored("HH_RS4_D6_ENDED_20210630", "D 2024-06-30, ended 2021-06-30: D6 -15", _graded(68, "无信用", 0, d6=-15), enforcement_ended_on="2021-06-30")  # fmt: skip
    f.expect("household_scores", ("HH_RS4_D6_ENDED_20210630", date(2024, 5, 31)), {"d6": -15})
    f.expect("household_scores", ("HH_RS4_D6_ENDED_20210630", AS_OF), _graded(83, "A", 50000, d6=0))  # fmt: skip
    scored("HH_RS4_D6_ENDED_20210629", "D 2024-06-30, ended 2021-06-29: D6 0", _graded(83, "A", 50000, d6=0), enforcement_ended_on="2021-06-29")  # fmt: skip
    f.expect("household_scores", ("HH_RS4_D6_ENDED_20210629", date(2024, 5, 31)), {"d6": -15, "raw_score": 68})  # fmt: skip
    feb29 = date(2024, 2, 29)
    scored("HH_RS4_D6_ENDED_20210228", "D 2024-02-29 -> 2021-02-28: ended then, D6 -15", _graded(68, "无信用", 0, d6=-15), day=feb29, collected_on=date(2023, 12, 1), enforcement_ended_on="2021-02-28")  # fmt: skip
    f.expect("household_scores", ("HH_RS4_D6_ENDED_20210228", date(2024, 3, 31)), {"d6": 0, "score": 83})  # fmt: skip
    f.expect("household_scores", ("HH_RS4_D6_ENDED_20210228", date(2024, 1, 31)), {"d6": -15})
    scored("HH_RS4_D6_ENDED_20210227", "D 2024-02-29 -> 2021-02-28: ended a day earlier, D6 0", _graded(83, "A", 50000, d6=0), day=feb29, collected_on=date(2023, 12, 1), enforcement_ended_on="2021-02-27")  # fmt: skip
    f.expect("household_scores", ("HH_RS4_D6_ENDED_20210227", date(2024, 1, 31)), {"d6": -15})
    f.expect("household_scores", ("HH_RS4_D6_ENDED_20210227", date(2023, 11, 30)), None)

    # R-S1: rated from the first collection on; unrated before
    scored("HH_RS1_COLLECTED_ON_AS_OF", "first collected on the as-of date", _graded(83, "A", 50000, collected_on=AS_OF), day=AS_OF, collected_on=AS_OF)  # fmt: skip
    f.expect("household_scores", ("HH_RS1_COLLECTED_ON_AS_OF", D0), None)


def _recollection_case(f: _Folder) -> None:
    """R-S1 re-collection and R-B1 home village (the latest collection's, for every D)."""
    case_id = f.case(
        "HH_RS1_RECOLLECTED",
        "T in 大安村 on 2023-06-15, re-collected with A1 4 in 小安村 on 2024-04-20; "
        "loan 10,000 from 2023-07-01 counts in 小安村 throughout",
    )
    f.household(case_id, GM_DAAN, collected_on=date(2023, 6, 15))
    f.household(case_id, GM_XIAOAN, collected_on=date(2024, 4, 20), **_A1_FULL)
    f.loan("L_RS1_RECOLLECTED", case_id, "10000.00", date(2023, 7, 1), [(date(2025, 6, 30), "10000.00", "870.00")])  # fmt: skip
    where = {"village_code": GM_XIAOAN, "township_code": GM}
    f.expect("household_scores", (case_id, date(2023, 5, 31)), None)
    f.expect("household_scores", (case_id, date(2023, 6, 30)), _graded(83, "A", 50000, collected_on=date(2023, 6, 15), outstanding_principal=_amount(0), **where))  # fmt: skip
    f.expect("household_scores", (case_id, date(2024, 3, 31)), _graded(83, "A", 50000, 40000, collected_on=date(2023, 6, 15), outstanding_principal=_amount(10000), a1=0, **where))  # fmt: skip
    f.expect("household_scores", (case_id, date(2024, 4, 30)), _graded(87, "AA", 100000, 90000, collected_on=date(2024, 4, 20), a1=4, **where))  # fmt: skip
    f.expect("loan_status", ("L_RS1_RECOLLECTED", date(2024, 3, 31)), _loan(0, "正常", "10000", village_code=GM_XIAOAN))  # fmt: skip
    f.expect("village_breaker", (GM_XIAOAN, date(2024, 3, 31)), _village("10000", "0", "0", "正常"))
    f.expect("village_breaker", (GM_DAAN, date(2024, 3, 31)), _village("0", "0", None, "无贷款"))


def _event_cases(f: _Folder) -> None:
    """R-S7 loan-book events after collected_on, added to the credit report's counts."""
    f.household(
        f.case("HH_RS7_CREDIT_REPORT_COUNTS", "credit report: 2 overdue, 1 NPL -> D3 -20"),
        GM_HUANGDI,
        credit_overdue_count=2,
        credit_npl_count=1,
    )
    f.expect("household_scores", ("HH_RS7_CREDIT_REPORT_COUNTS", D0), _graded(63, "无信用", 0, overdue_events=2, npl_events=1, d3=-20))  # fmt: skip

    # Collected 2024-01-20 with 1 overdue on the report; monthly interest instalments paid
    # late on 01-10 (before collection), 01-20 (on collection), 03-10 (after: counts),
    # on time 04-10, late 06-30 (counts only for D after 06-30).
    case_id = f.case(
        "HH_RS7_BOOK_EVENTS",
        "late instalments due before / on / after collected_on and on D itself",
    )
    f.household(case_id, GM_WEIJIAGOU, collected_on=date(2024, 1, 20), credit_overdue_count=1, forest_cert="是", land_cert="是", homestead_cert="是", **_A1_FULL)  # fmt: skip
    f.loan(
        "L_RS7_BOOK_EVENTS",
        case_id,
        "12000.00",
        date(2023, 10, 10),
        [
            (date(2024, 1, 10), "0.00", "50.00"),
            (date(2024, 1, 20), "0.00", "50.00"),
            (date(2024, 3, 10), "0.00", "50.00"),
            (date(2024, 4, 10), "0.00", "50.00"),
            (date(2024, 6, 30), "0.00", "50.00"),
            (date(2025, 1, 10), "12000.00", "50.00"),
        ],
        [
            (date(2024, 1, 25), "0.00", "50.00"),
            (date(2024, 1, 28), "0.00", "50.00"),
            (date(2024, 3, 20), "0.00", "50.00"),
            (date(2024, 4, 10), "0.00", "50.00"),
            (date(2024, 7, 5), "0.00", "50.00"),
        ],
        method="按月付息到期还本",
    )
    # base 80 + A3 3 + A1 4 + A5 3 = 90
    f.expect("household_scores", (case_id, date(2024, 1, 31)), _graded(85, "A", 50000, 38000, overdue_events=1, npl_events=0, d3=-5))  # fmt: skip
    f.expect("household_scores", (case_id, date(2024, 2, 29)), _graded(85, "A", 50000, 38000, overdue_events=1))  # fmt: skip
    f.expect("household_scores", (case_id, date(2024, 3, 31)), _graded(80, "A", 50000, 38000, overdue_events=2, d3=-10))  # fmt: skip
    f.expect("household_scores", (case_id, D0), _graded(80, "A", 50000, 38000, overdue_events=2, d3=-10))  # fmt: skip
    f.expect("household_scores", (case_id, AS_OF), _graded(75, "无信用", 0, overdue_events=3, d3=-15))  # fmt: skip
    f.expect("loan_status", ("L_RS7_BOOK_EVENTS", D0), _loan(0, "正常", "12000"))  # due on D: DPD 0

    # First NPL date (R-L4) = 2023-11-01 + 91 = 2024-01-31; paid 2024-02-15.
    for case_id, collected_on, npl_events, d3, score, grade, limit in (
        ("HH_RS7_NPL_DATE_EQUALS_COLLECTION", date(2024, 1, 31), 0, 0, 83, "A", 50000),
        ("HH_RS7_NPL_DATE_DAY_AFTER_COLLECTION", date(2024, 1, 30), 1, -10, 73, "无信用", 0),
    ):
        f.household(
            f.case(case_id, f"collected {collected_on}, first NPL date 2024-01-31"),
            GM_XUEZICANG,
            collected_on=collected_on,
        )
        loan_id = "L" + case_id[2:]
        f.loan(
            loan_id,
            case_id,
            "8000.00",
            date(2023, 5, 1),
            [(date(2023, 11, 1), "0.00", "200.00"), (date(2024, 11, 1), "8000.00", "200.00")],
            [(date(2024, 2, 15), "0.00", "200.00")],
            method="按季付息到期还本",
        )
        available = limit - 8000 if limit else 0
        f.expect("household_scores", (case_id, D0), _graded(score, grade, limit, available, overdue_events=0, npl_events=npl_events, d3=d3))  # fmt: skip
        f.expect("household_scores", (case_id, date(2024, 1, 31)), _vetoed(["V3"], 83 + d3, npl_events=npl_events, credit_stopped=True))  # fmt: skip
        f.expect("household_scores", (case_id, date(2024, 2, 29)), {"credit_stopped": False, "vetoes": []})  # fmt: skip
        f.expect("loan_status", (loan_id, date(2024, 1, 31)), _loan(91, "次级", "8000"))
        f.expect("loan_status", (loan_id, D0), _loan(0, "正常", "8000"))
    f.expect("village_breaker", (GM_XUEZICANG, date(2024, 1, 31)), _village("16000", "16000", "1", "熔断"))  # fmt: skip
    f.expect("village_breaker", (GM_XUEZICANG, date(2024, 2, 29)), _village("16000", "0", "0", "正常"))  # fmt: skip
    f.expect("township_breaker", (GM, date(2024, 1, 31)), {"villages_total": 9, "villages_tripped": 1, "tripped": False})  # fmt: skip


def _dpd_cases(f: _Folder) -> None:
    """R-L3 five tiers at a month-end: DPD 90/91, 270/271, 360/361 (磁钟村)."""
    for dpd, due_on, tier in (
        (90, date(2024, 4, 1), "关注"),
        (91, date(2024, 3, 31), "次级"),
        (270, date(2023, 10, 4), "次级"),
        (271, date(2023, 10, 3), "可疑"),
        (360, date(2023, 7, 6), "可疑"),
        (361, date(2023, 7, 5), "损失"),
    ):
        case_id = f.household(
            f.case(f"HH_RL3_DPD_{dpd:03d}", f"bullet due {due_on} unpaid: DPD {dpd} on {D0}"),
            CZ_CIZHONG,
        )
        loan_id = f.loan(f"L_RL3_DPD_{dpd:03d}", case_id, "5000.00", date(2023, 1, 5), [(due_on, "5000.00", "100.00")])  # fmt: skip
        f.expect("loan_status", (loan_id, D0), _loan(dpd, tier, "5000", village_code=CZ_CIZHONG, borrower_type="农户", borrower_id=case_id))  # fmt: skip
    # R-S7 on the borrowers: due after collection -> 1 overdue event; first NPL date
    # 2024-03-31 + 91 = 2024-06-30 = D counts (upper bound inclusive), 04-01 + 91 does not.
    f.expect("household_scores", ("HH_RL3_DPD_090", D0), _vetoed(["V3"], 78, overdue_events=1, npl_events=0))  # fmt: skip
    f.expect("household_scores", ("HH_RL3_DPD_091", D0), _vetoed(["V3"], 68, overdue_events=1, npl_events=1))  # fmt: skip
    f.expect("household_scores", ("HH_RL3_DPD_361", D0), _vetoed(["V3"], 83, overdue_events=0, npl_events=0, credit_stopped=True))  # fmt: skip
    # npl_rate 25000/30000 has no exact decimal: checked by status only
    f.expect("village_breaker", (CZ_CIZHONG, D0), {"township_code": CZ, "outstanding_balance": _amount(30000), "npl_balance": _amount(25000), "status": "熔断", "tripped": True})  # fmt: skip


def _book_cases(f: _Folder) -> None:
    """R-L1 book, R-L2 cover tolerance and prepayment, R-S6 V3 off the book (赵家后村)."""
    # R-L2 cover tolerance: cumulative due 200.00 on 2024-06-10, paid 100.00 + x
    for short, last_payment, dpd, tier, score_row in (
        ("0_99", "99.01", 0, "正常", _graded(83, "A", 50000, 40000, vetoes=[])),
        ("1_00", "99.00", 0, "正常", _graded(83, "A", 50000, 40000, vetoes=[])),
        ("1_01", "98.99", 20, "关注", _vetoed(["V3"], 78, overdue_events=1)),
    ):
        case_id = f.household(
            f.case(
                f"HH_RL2_COVER_SHORT_{short}",
                f"{short.replace('_', '.')} 元 short of the cumulative due",
            ),  # fmt: skip
            CZ_ZHAOJIAHOU,
        )
        loan_id = f.loan(
            f"L_RL2_COVER_SHORT_{short}",
            case_id,
            "10000.00",
            date(2024, 1, 5),
            [
                (date(2024, 4, 10), "0.00", "100.00"),
                (date(2024, 6, 10), "0.00", "100.00"),
                (date(2025, 1, 5), "10000.00", "100.00"),
            ],
            [(date(2024, 4, 10), "0.00", "100.00"), (date(2024, 6, 10), "0.00", last_payment)],
            method="按季付息到期还本",
        )
        f.expect("loan_status", (loan_id, D0), _loan(dpd, tier, "10000"))
        f.expect("household_scores", (case_id, D0), score_row)

    # R-L2 prepayment, FIFO: 3 × (1000 + 50) due 02-10, 05-10, 08-10, prepaid on 01-05
    for name, interest, dpd, tier, score_row in (
        ("AHEAD", "100.00", 0, "正常", _graded(83, "A", 50000, 49000, overdue_events=0)),
        ("SHORT", "0.00", 51, "关注", _vetoed(["V3"], 78, overdue_events=1)),
    ):
        case_id = f.household(
            f.case(f"HH_RL2_PREPAY_{name}", f"prepaid 2000.00 + {interest} on 2024-01-05"),
            CZ_ZHAOJIAHOU,
        )
        loan_id = f.loan(
            f"L_RL2_PREPAY_{name}",
            case_id,
            "3000.00",
            date(2024, 1, 2),
            [
                (date(2024, 2, 10), "1000.00", "50.00"),
                (date(2024, 5, 10), "1000.00", "50.00"),
                (date(2024, 8, 10), "1000.00", "50.00"),
            ],
            [(date(2024, 1, 5), "2000.00", interest)],
            method="等额本息",
        )
        f.expect("loan_status", (loan_id, D0), _loan(dpd, tier, "1000"))
        f.expect("loan_status", (loan_id, date(2024, 2, 29)), _loan(0, "正常", "1000"))
        f.expect("household_scores", (case_id, D0), score_row)
    f.expect("loan_status", ("L_RL2_PREPAY_SHORT", date(2024, 5, 31)), _loan(21, "关注", "1000"))

    # R-L1: 1.00 元 of principal left is off the book, 1.01 元 is on
    for left, principal, on_book in (("1_00", "4999.00", False), ("1_01", "4998.99", True)):
        case_id = f.household(
            f.case(f"HH_RL1_LEFT_{left}", f"principal {left.replace('_', '.')} left"),
            CZ_ZHAOJIAHOU,
        )
        loan_id = f.loan(
            f"L_RL1_LEFT_{left}",
            case_id,
            "5000.00",
            date(2024, 1, 5),
            [(date(2025, 1, 5), "5000.00", "200.00")],
            [(date(2024, 3, 1), principal, "0.00")],
        )
        left_amount = left.replace("_", ".")
        f.expect("loan_status", (loan_id, date(2024, 2, 29)), _loan(0, "正常", "5000"))
        f.expect("loan_status", (loan_id, D0), _loan(0, "正常", left_amount) if on_book else None)
        outstanding = _amount(left_amount if on_book else 0)
        f.expect("household_scores", (case_id, D0), _graded(83, "A", 50000, 50000 - outstanding, outstanding_principal=outstanding))  # fmt: skip

    # R-S6 V3 on a loan off the book: principal repaid, 300.00 interest unpaid since 03-01
    case_id = f.household(
        f.case("HH_RS6_V3_INTEREST_UNPAID", "principal repaid, interest unpaid: off book, V3"),
        CZ_ZHAOJIAHOU,
    )
    f.loan("L_RS6_V3_INTEREST_UNPAID", case_id, "6000.00", date(2023, 9, 1), [(date(2024, 3, 1), "6000.00", "300.00")], [(date(2024, 3, 1), "6000.00", "0.00")])  # fmt: skip
    f.expect("loan_status", ("L_RS6_V3_INTEREST_UNPAID", date(2024, 2, 29)), _loan(0, "正常", "6000"))  # fmt: skip
    f.expect("loan_status", ("L_RS6_V3_INTEREST_UNPAID", D0), None)
    # overdue event 03-01; first NPL date 03-01 + 91 = 05-31: D3 -15
    f.expect("household_scores", (case_id, D0), _vetoed(["V3"], 68, overdue_events=1, npl_events=1, d3=-15, outstanding_principal=_amount(0)))  # fmt: skip

    # R-S6 V3 on a written-off loan later recovered (paid in full 2024-04-15)
    case_id = f.household(
        f.case("HH_RS6_V3_WRITTEN_OFF_RECOVERED", "written off 2023-12-31, paid 2024-04-15"),
        CZ_ZHAOJIAHOU,
        collected_on=date(2024, 1, 10),
        honor="区级及以上",
        credit_overdue_count=1,
        credit_npl_count=1,
        **_RICH,
    )
    f.loan("L_RS6_V3_WRITTEN_OFF_RECOVERED", case_id, "10000.00", date(2023, 1, 5), [(date(2023, 7, 5), "10000.00", "300.00")], [(date(2024, 4, 15), "10000.00", "300.00")], written_off_on=date(2023, 12, 31))  # fmt: skip
    # 80 + 3 + 4 + 3 + 2 + 2 + 3 (A7) - 5 - 10 = 82
    f.expect("household_scores", (case_id, date(2024, 3, 31)), _vetoed(["V3"], 82))
    f.expect("household_scores", (case_id, D0), _graded(82, "A", 50000, overdue_events=1, npl_events=1, outstanding_principal=_amount(0)))  # fmt: skip
    f.expect("loan_status", ("L_RS6_V3_WRITTEN_OFF_RECOVERED", date(2023, 11, 30)), _loan(148, "次级", "10000"))  # fmt: skip
    f.expect("loan_status", ("L_RS6_V3_WRITTEN_OFF_RECOVERED", date(2023, 12, 31)), None)

    # R-S6 all four vetoes at once; the loan is 20 days past due (关注) on D0
    case_id = f.household(
        f.case("HH_RS6_V1_V2_V3_V4", "every veto at once, all recorded, sorted"),
        CZ_ZHAOJIAHOU,
        vice_record="是",
        under_enforcement="是",
        guarantee_overdue="是",
    )
    f.loan("L_RS6_V1_V2_V3_V4", case_id, "10000.00", date(2024, 1, 20), [(date(2024, 6, 10), "0.00", "100.00"), (date(2025, 1, 20), "10000.00", "100.00")], method="按季付息到期还本")  # fmt: skip
    f.expect("household_scores", (case_id, D0), _vetoed(["V1", "V2", "V3", "V4"], 78, overdue_events=1, d3=-5, outstanding_principal=_amount(10000), credit_stopped=False))  # fmt: skip
    f.expect("loan_status", ("L_RS6_V1_V2_V3_V4", D0), _loan(20, "关注", "10000"))

    # 赵家后村 on D0: 10000 + 3 × 10000 + 2 × 1000 + 1.01, nothing past 90 days
    f.expect("village_breaker", (CZ_ZHAOJIAHOU, D0), _village("42001.01", "0", "0", "正常"))
    # on 2023-11-30: the later written-off loan (NPL) + the interest-unpaid loan
    f.expect("village_breaker", (CZ_ZHAOJIAHOU, date(2023, 11, 30)), _village("16000", "10000", "0.625", "熔断"))  # fmt: skip
    f.expect("township_breaker", (CZ, D0), {"villages_total": 8, "villages_tripped": 1, "tripped": False})  # fmt: skip


def _village_rate_cases(f: _Folder) -> None:
    """R-B1 / R-B2 / R-B4 in 交口乡: exactly 3.00 % and 2.00 % against one cent above."""
    for village, good, bad, rate, status in (
        (JK_JIAOKOU, "97000.00", "3000.00", "0.03", "预警"),
        (JK_FU, "96999.99", "3000.01", "0.0300001", "熔断"),
        (JK_CHAOJIAZHUANG, "98000.00", "2000.00", "0.02", "正常"),
        (JK_NANLIANG, "97999.99", "2000.01", "0.0200001", "预警"),
    ):
        suffix = village[-3:]
        for kind, amount, disbursed_on, due_on in (
            ("GOOD", good, date(2024, 3, 1), date(2025, 3, 1)),
            ("NPL", bad, date(2023, 3, 1), date(2024, 3, 1)),  # DPD 121 on D0
        ):
            case_id = f.household(
                f.case(f"HH_RB2_JK{suffix}_{kind}", f"{amount} in {village}: village {status}"),
                village,
            )
            f.loan(f"L_RB2_JK{suffix}_{kind}", case_id, amount, disbursed_on, [(due_on, amount, "100.00")])  # fmt: skip
        f.expect("village_breaker", (village, D0), _village("100000", bad, rate, status) | {"township_code": JK})  # fmt: skip
    f.expect("village_breaker", (JK_BEILIANG, D0), _village("0", "0", None, "无贷款"))

    # R-L1 / R-S6 V3: written-off loan off the book (and out of the village) but vetoing
    case_id = f.household(
        f.case("HH_RS6_V3_WRITTEN_OFF_UNPAID", "written off 2024-01-31, never paid"),
        JK_YANGJIAGOU,
    )
    f.loan("L_RS6_V3_WRITTEN_OFF_UNPAID", case_id, "20000.00", date(2023, 1, 5), [(date(2023, 7, 5), "20000.00", "600.00")], written_off_on=date(2024, 1, 31))  # fmt: skip
    good = f.household(f.case("HH_RB1_JK205_GOOD", "performing 50,000 in 杨家沟村"), JK_YANGJIAGOU)
    f.loan("L_RB1_JK205_GOOD", good, "50000.00", date(2023, 2, 1), [(date(2025, 2, 1), "50000.00", "4350.00")])  # fmt: skip
    # overdue and first NPL date (2023-10-04) both before collected_on: no book events
    f.expect("household_scores", (case_id, D0), _vetoed(["V3"], 83, overdue_events=0, npl_events=0, outstanding_principal=_amount(0)))  # fmt: skip
    f.expect("loan_status", ("L_RS6_V3_WRITTEN_OFF_UNPAID", date(2023, 12, 31)), _loan(179, "次级", "20000"))  # fmt: skip
    f.expect("loan_status", ("L_RS6_V3_WRITTEN_OFF_UNPAID", date(2024, 1, 31)), None)
    f.expect("loan_status", ("L_RS6_V3_WRITTEN_OFF_UNPAID", D0), None)
    f.expect("village_breaker", (JK_YANGJIAGOU, date(2023, 12, 31)), {"outstanding_balance": _amount(70000), "npl_balance": _amount(20000), "status": "熔断"})  # fmt: skip
    f.expect("village_breaker", (JK_YANGJIAGOU, date(2024, 1, 31)), _village("50000", "0", "0", "正常"))  # fmt: skip
    f.expect("village_breaker", (JK_YANGJIAGOU, D0), _village("50000", "0", "0", "正常"))

    # R-B1: entity loans are not in the village breaker; loan_status has the entity's village
    entity = f.entity("ENT_RB1_JK206", JK_HOUJIAGOU)
    f.case("L_RB1_ENTITY_NPL", "entity loan 167 days past due, village still 正常")
    f.loan("L_RB1_ENTITY_NPL", entity, "50000.00", date(2023, 3, 1), [(date(2024, 1, 15), "50000.00", "1000.00")], borrower_type="经营主体")  # fmt: skip
    good = f.household(f.case("HH_RB1_JK206_GOOD", "performing 30,000 in 侯家沟村"), JK_HOUJIAGOU)
    f.loan("L_RB1_JK206_GOOD", good, "30000.00", date(2023, 6, 1), [(date(2025, 6, 1), "30000.00", "2610.00")])  # fmt: skip
    f.expect("loan_status", ("L_RB1_ENTITY_NPL", D0), _loan(167, "次级", "50000", borrower_type="经营主体", borrower_id=entity, village_code=JK_HOUJIAGOU))  # fmt: skip
    f.expect("village_breaker", (JK_HOUJIAGOU, D0), _village("30000", "0", "0", "正常"))
    f.expect("township_breaker", (JK, D0), {"villages_total": 12, "villages_tripped": 1, "tripped": False})  # fmt: skip


def _township_cases(f: _Folder) -> None:
    """R-B2 township share (at least 30 %), R-B3 / R-C2 stopped credit."""

    def npl_loan(case_id, village, disbursed_on, due_on, payments=()):
        f.household(f.case(case_id, f"unpaid bullet due {due_on} in {village}"), village)
        f.loan("L" + case_id[2:], case_id, "10000.00", disbursed_on, [(due_on, "10000.00", "435.00")], list(payments))  # fmt: skip

    # 崖底街道: 崖底村 and 东贺家庄村 trip at 2024-04-30, 西贺家庄村 at 2024-06-30 (DPD 107);
    # 崖底村's loan is repaid on 2024-07-10.
    npl_loan("HH_RB2_YD200_NPL", YD_YADI, date(2023, 1, 10), date(2024, 1, 10), [(date(2024, 7, 10), "10000.00", "435.00")])  # fmt: skip
    npl_loan("HH_RB2_YD201_NPL", YD_DONGHE, date(2023, 1, 20), date(2024, 1, 20))
    npl_loan("HH_RB2_YD202_NPL", YD_XIHE, date(2023, 3, 15), date(2024, 3, 15))
    f.expect("village_breaker", (YD_YADI, date(2024, 3, 31)), _village("10000", "0", "0", "正常"))
    f.expect("village_breaker", (YD_YADI, date(2024, 4, 30)), _village("10000", "10000", "1", "熔断"))  # fmt: skip
    f.expect("village_breaker", (YD_YADI, D0), _village("10000", "10000", "1", "熔断"))
    f.expect("village_breaker", (YD_YADI, AS_OF), _village("0", "0", None, "无贷款"))
    f.expect("village_breaker", (YD_XIHE, date(2024, 5, 31)), _village("10000", "0", "0", "正常"))
    f.expect("village_breaker", (YD_XIHE, D0), _village("10000", "10000", "1", "熔断"))
    f.expect("loan_status", ("L_RB2_YD202_NPL", date(2024, 5, 31)), _loan(77, "关注", "10000"))
    f.expect("loan_status", ("L_RB2_YD200_NPL", D0), _loan(172, "次级", "10000"))
    f.expect("loan_status", ("L_RB2_YD200_NPL", AS_OF), None)
    for day, tripped_villages, share, tripped in (
        (date(2024, 3, 31), 0, "0", False),
        (date(2024, 4, 30), 2, "0.2", False),
        (date(2024, 5, 31), 2, "0.2", False),
        (D0, 3, "0.3", True),
        (AS_OF, 2, "0.2", False),
    ):
        f.expect("township_breaker", (YD, day), {"villages_total": 10, "villages_tripped": tripped_villages, "tripped_share": Decimal(share), "tripped": tripped})  # fmt: skip

    # 会兴街道: 2 of 8 tripped = 25 %
    npl_loan("HH_RB2_HX200_NPL", HX_HUIXING, date(2023, 1, 10), date(2024, 1, 10))
    npl_loan("HH_RB2_HX201_NPL", HX_SHANGCUN, date(2023, 1, 10), date(2024, 1, 10))
    f.expect("township_breaker", (HX, D0), {"villages_total": 8, "villages_tripped": 2, "tripped_share": Decimal("0.25"), "tripped": False})  # fmt: skip

    # R-C2 available credit
    stop = {"credit_stopped": True}
    go = {"credit_stopped": False}
    case_id = f.household(f.case("HH_RC2_STOPPED_BY_VILLAGE", "T in 崖底村 (no loan)"), YD_YADI)
    f.expect("household_scores", (case_id, date(2024, 3, 31)), _graded(83, "A", 50000, **go))
    f.expect("household_scores", (case_id, date(2024, 4, 30)), _graded(83, "A", 50000, 0, **stop))  # fmt: skip
    f.expect("household_scores", (case_id, D0), _graded(83, "A", 50000, 0, **stop))
    # provisional 2024-07-15: 崖底村 has no loan any more, but 2024-06-30 still governs
    f.expect("household_scores", (case_id, AS_OF), _graded(83, "A", 50000, 0, **stop))
    case_id = f.household(f.case("HH_RC2_STOPPED_BY_TOWNSHIP", "T in 陈宋坡村 (no loan)"), YD_CHENSONGPO)  # fmt: skip
    f.expect("household_scores", (case_id, date(2024, 5, 31)), _graded(83, "A", 50000, **go))
    f.expect("household_scores", (case_id, D0), _graded(83, "A", 50000, 0, **stop))
    f.expect("household_scores", (case_id, AS_OF), _graded(83, "A", 50000, 0, **stop))
    f.expect("village_breaker", (YD_CHENSONGPO, D0), _village("0", "0", None, "无贷款"))
    case_id = f.household(f.case("HH_RC2_NOT_STOPPED_HUIXING", "T in 槐树洼村, township at 25 %"), HX_HUAISHUWA)  # fmt: skip
    f.expect("household_scores", (case_id, D0), _graded(83, "A", 50000, **go))

    case_id = f.household(f.case("HH_RC2_AVAILABLE_PARTIAL", "A (50,000) owing 30,000"), GM_LIJIAPO)  # fmt: skip
    f.loan("L_RC2_AVAILABLE_PARTIAL", case_id, "30000.00", date(2024, 2, 1), [(date(2025, 2, 1), "30000.00", "1305.00")])  # fmt: skip
    f.expect("household_scores", (case_id, date(2024, 1, 31)), _graded(83, "A", 50000, outstanding_principal=_amount(0)))  # fmt: skip
    f.expect("household_scores", (case_id, D0), _graded(83, "A", 50000, 20000, outstanding_principal=_amount(30000)))  # fmt: skip
    f.expect("loan_status", ("L_RC2_AVAILABLE_PARTIAL", date(2024, 1, 31)), None)
    case_id = f.household(f.case("HH_RC2_AVAILABLE_FLOOR_ZERO", "AA (100,000) owing 120,000"), GM_LIJIAPO, **_A1_FULL)  # fmt: skip
    f.loan("L_RC2_AVAILABLE_FLOOR_ZERO", case_id, "120000.00", date(2024, 2, 1), [(date(2025, 2, 1), "120000.00", "5220.00")])  # fmt: skip
    f.expect("household_scores", (case_id, date(2024, 1, 31)), _graded(87, "AA", 100000))
    f.expect("household_scores", (case_id, D0), _graded(87, "AA", 100000, 0, outstanding_principal=_amount(120000)))  # fmt: skip


def _compliance_cases(f: _Folder) -> None:
    """R-X1 / R-X2 judged on the disbursement day itself (王家岭村, never tripped), days that are
    not month-ends: the grade that day (R-S1, R-S6) and the outstanding principal on the book at
    the end of that day, the new loan included (R-L1, a payment made that day counted)."""

    def bullet(loan_id, household, amount, disbursed_on, payments=()):
        due = disbursed_on.replace(year=disbursed_on.year + 1)
        f.loan(loan_id, household, amount, disbursed_on, [(due, amount, "100.00")], list(payments))

    # R-X2 exactly at the limit vs 0.01 元 over: an A household (50,000) owing 30,000 borrows again.
    for name, second, over in (("AT_LIMIT", "20000.00", False), ("CENT_OVER", "20000.01", True)):
        household = f.household(
            f.case(f"HH_RX2_{name}", f"A (50,000) owing 30,000 borrows {second} on 2024-03-12"),
            GM_WANGJIALING,
        )
        bullet(f"L_RX2_{name}_FIRST", household, "30000.00", date(2024, 2, 5))
        bullet(f"L_RX2_{name}_SECOND", household, second, date(2024, 3, 12))
        f.expect("loan_compliance", (f"L_RX2_{name}_FIRST",), _judged(83, "A", 50000, "30000", False, False))  # fmt: skip
        total = {"AT_LIMIT": "50000.00", "CENT_OVER": "50000.01"}[name]
        f.expect("loan_compliance", (f"L_RX2_{name}_SECOND",), _judged(83, "A", 50000, total, False, over))  # fmt: skip

    # R-X1 unrated (R-S1): disbursed five days before the household's first collection.
    household = f.household(f.case("HH_RX1_UNRATED", "loan 10,000 on 2024-01-10, collected 2024-01-15"), GM_WANGJIALING)  # fmt: skip
    bullet("L_RX1_UNRATED", household, "10000.00", date(2024, 1, 10))
    f.expect("loan_compliance", ("L_RX1_UNRATED",), _judged(None, "未评级", 0, "10000", True, True))  # fmt: skip

    # R-S1: collected on the disbursement day itself: rated that day.
    household = f.household(f.case("HH_RX1_COLLECTED_SAME_DAY", "collected and lent 50,000 on 2024-03-12"), GM_WANGJIALING, collected_on=date(2024, 3, 12))  # fmt: skip
    bullet("L_RX1_COLLECTED_SAME_DAY", household, "50000.00", date(2024, 3, 12))
    f.expect("loan_compliance", ("L_RX1_COLLECTED_SAME_DAY",), _judged(83, "A", 50000, "50000", False, False))  # fmt: skip

    # R-X1 / R-X2 无信用 (79: four petitions) given 20,000.
    household = f.household(f.case("HH_RX1_NO_CREDIT", "无信用 (79) given 20,000 on 2024-03-12"), GM_WANGJIALING, petitions_12m=4)  # fmt: skip
    bullet("L_RX1_NO_CREDIT", household, "20000.00", date(2024, 3, 12))
    f.expect("loan_compliance", ("L_RX1_NO_CREDIT",), _judged(79, "无信用", 0, "20000", True, True))  # fmt: skip

    # R-S6 V3 on the disbursement day: an interest instalment due 02-10 is unpaid until 03-20.
    household = f.household(f.case("HH_RX1_VETO_ON_DAY", "overdue on 2024-03-12 (V3), lent 10,000"), GM_WANGJIALING)  # fmt: skip
    f.loan("L_RX1_VETO_ON_DAY_FIRST", household, "10000.00", date(2023, 11, 10), [(date(2024, 2, 10), "0.00", "100.00"), (date(2024, 11, 10), "10000.00", "100.00")], [(date(2024, 3, 20), "0.00", "100.00")], method="按季付息到期还本")  # fmt: skip
    bullet("L_RX1_VETO_ON_DAY", household, "10000.00", date(2024, 3, 12))
    # The first loan was judged on 2023-11-10, before any collection.
    f.expect("loan_compliance", ("L_RX1_VETO_ON_DAY_FIRST",), _judged(None, "未评级", 0, "10000", True, True))  # fmt: skip
    # 80 + A3 3 - D3 5 (the missed instalment, due after collected_on) = 78, vetoed: 0.
    f.expect("loan_compliance", ("L_RX1_VETO_ON_DAY",), _judged(0, "无信用", 0, "20000", True, True))  # fmt: skip

    # R-L1 end of day: a loan repaid in full on the disbursement day no longer counts.
    household = f.household(f.case("HH_RX2_REPAID_SAME_DAY", "repays 30,000 and borrows 30,000 on 2024-03-12"), GM_WANGJIALING)  # fmt: skip
    f.loan("L_RX2_REPAID_SAME_DAY_FIRST", household, "30000.00", date(2023, 6, 1), [(date(2024, 6, 1), "30000.00", "1305.00")], [(date(2024, 3, 12), "30000.00", "1305.00")])  # fmt: skip
    bullet("L_RX2_REPAID_SAME_DAY", household, "30000.00", date(2024, 3, 12))
    f.expect("loan_compliance", ("L_RX2_REPAID_SAME_DAY",), _judged(83, "A", 50000, "30000", False, False))  # fmt: skip

    # An entity's loan is not judged by R-X1 / R-X2.
    f.expect("loan_compliance", ("L_RB1_ENTITY_NPL",), {"grade_on_disbursement": None, "outstanding_with_new_loan": None, "x1_no_credit": False, "x2_over_limit": False})  # fmt: skip


def write_policy_cases(out_dir: Path) -> CaseBook:
    """Write the hand-crafted raw folder into ``out_dir`` and return its expectations."""
    folder = _Folder(Path(out_dir))
    _score_cases(folder)
    _recollection_case(folder)
    _event_cases(folder)
    _dpd_cases(folder)
    _book_cases(folder)
    _village_rate_cases(folder)
    _township_cases(folder)
    _compliance_cases(folder)
    return folder.write()
