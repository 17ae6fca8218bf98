"""The raw folder's files and columns, as DATA_CONTRACT.md defines them.

One place names every input column, its Chinese label, its type and whether
it is required, so that the generator, the intake and the tests agree.
The intake turns each file into a typed table ``raw.<file>`` with exactly
these columns, in this order, plus the file's row bookkeeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Column kinds (how the intake parses a cell) and their DuckDB types.
SQL_TYPES = {
    "text": "varchar",
    "date": "date",
    "bool": "boolean",
    "amount": "decimal(18,2)",
    "rate": "decimal(12,8)",
    "int": "integer",
    "enum": "varchar",
}

EDUCATION_LEVELS = ("小学及以下", "初中", "高中", "中专", "大专", "本科", "研究生")
INCOME_PROJECTS = ("无", "果", "牧", "烟", "菌", "药", "菜", "林", "乡村旅游", "务工", "其他")
HONORS = ("无", "村级", "乡级", "区级及以上")
BORROWER_TYPES = ("农户", "经营主体")
# The contract lists borrower_type as 农户/经营主体 (household/entity): the English codes are
# accepted in any letter case and stored as the Chinese value.
BORROWER_TYPE_CODES = (("household", "农户"), ("entity", "经营主体"))
REPAYMENT_METHODS = ("按季付息到期还本", "按月付息到期还本", "等额本息", "到期一次还本付息")
ENTITY_KINDS = ("龙头企业", "合作社", "家庭农场")

# The delivery_id of files being previewed, not yet accepted into the store: the intake
# writes it into raw.load_report and raw.quarantine, the exports read it.
PREVIEW_DELIVERY_ID = "待接收"


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    kind: str
    required: bool = False
    choices: tuple[str, ...] = ()
    # (code, choice): other spellings of a choice the contract lists, e.g. ("entity", "经营主体").
    codes: tuple[tuple[str, str], ...] = ()

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.kind]


@dataclass(frozen=True)
class RawFile:
    name: str
    label: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    required: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)


def _c(
    name: str,
    label: str,
    kind: str,
    required: bool = False,
    choices: tuple = (),
    codes: tuple = (),
) -> Column:
    return Column(name, label, kind, required, choices, codes)


VILLAGES = RawFile(
    "villages",
    "行政区划",
    ("village_code",),
    (
        _c("township_code", "乡镇代码", "text", True),
        _c("township_name", "乡镇名称", "text", True),
        _c("village_code", "行政村代码", "text", True),
        _c("village_name", "行政村名称", "text", True),
    ),
    required=False,
)

HOUSEHOLDS = RawFile(
    "households",
    "农户信用信息采集表",
    ("household_id", "collected_on"),
    (
        _c("household_id", "农户编号", "text", True),
        _c("village_code", "行政村代码", "text", True),
        _c("head_name", "户主姓名", "text", True),
        _c("head_id_number", "户主身份证号", "text", True),
        _c("collected_on", "采集日期", "date", True),
        _c("registered_poor", "建档立卡贫困户", "bool"),
        _c("poverty_exited", "已脱贫", "bool"),
        _c("party_member", "户主中共党员", "bool"),
        _c("education", "户主文化程度", "enum", choices=EDUCATION_LEVELS),
        _c("healthy", "户主身体健康", "bool"),
        _c("military_member", "家庭成员服兵役", "bool"),
        _c("homestead_house_value", "宅基地自建房估值", "amount"),
        _c("income_project", "增收创业项目", "enum", choices=INCOME_PROJECTS),
        _c("work_proof", "务工证明", "bool"),
        _c("entity_registered", "经营实体合规注册", "bool"),
        _c("entity_scale", "经营实体规模", "amount"),
        _c("forest_cert", "林权证", "bool"),
        _c("land_cert", "土地承包经营权证", "bool"),
        _c("homestead_cert", "宅基地证", "bool"),
        _c("equipment_value", "有证号生产运输设备估值", "amount"),
        _c("honor", "最高荣誉", "enum", choices=HONORS),
        _c("family_harmonious", "家庭和睦", "bool"),
        _c("neighbor_harmonious", "邻里和谐", "bool"),
        _c("petitions_12m", "近一年非法上访次数", "int"),
        _c("urban_property_75", "城区房产75平方米以上处数", "int"),
        _c("urban_property_50", "城区房产50至75平方米处数", "int"),
        _c("commercial_insurance", "商业保险在保", "bool"),
        _c("credit_overdue_count", "征信逾期次数", "int"),
        _c("credit_npl_count", "征信不良次数", "int"),
        _c("guarantee_amount", "对外担保金额", "amount"),
        _c("guarantee_overdue", "担保贷款当前逾期", "bool"),
        _c("mortgage_amount", "对外抵押金额", "amount"),
        _c("enforcement_ended_on", "最近被执行结束日期", "date"),
        _c("under_enforcement", "当前被执行", "bool"),
        _c("dishonest_debtor", "失信被执行人", "bool"),
        _c("vice_record", "黄赌毒记录", "bool"),
    ),
)

LOANS = RawFile(
    "loans",
    "贷款台账",
    ("loan_id",),
    (
        _c("loan_id", "贷款编号", "text", True),
        _c("borrower_type", "借款人类型", "enum", True, BORROWER_TYPES, BORROWER_TYPE_CODES),
        _c("borrower_id", "借款人编号", "text", True),
        _c("bank", "贷款银行", "text"),
        _c("product", "贷款产品", "text"),
        _c("amount", "贷款金额", "amount", True),
        _c("disbursed_on", "放款日期", "date", True),
        _c("maturity_on", "到期日期", "date", True),
        _c("annual_rate", "执行年利率", "rate"),
        _c("benchmark_rate", "基准利率", "rate"),
        _c("repayment_method", "还款方式", "enum", choices=REPAYMENT_METHODS),
        _c("written_off_on", "核销日期", "date"),
    ),
)

SCHEDULE = RawFile(
    "schedule",
    "还款计划",
    ("loan_id", "installment_no"),
    (
        _c("loan_id", "贷款编号", "text", True),
        _c("installment_no", "期次", "int", True),
        _c("due_on", "应还日期", "date", True),
        _c("principal_due", "应还本金", "amount", True),
        _c("interest_due", "应还利息", "amount", True),
    ),
)

REPAYMENTS = RawFile(
    "repayments",
    "还款流水",
    ("payment_id",),
    (
        _c("payment_id", "还款流水号", "text", True),
        _c("loan_id", "贷款编号", "text", True),
        _c("paid_on", "还款日期", "date", True),
        _c("principal_paid", "实还本金", "amount", True),
        _c("interest_paid", "实还利息", "amount", True),
    ),
)

ENTITIES = RawFile(
    "entities",
    "带贫经营主体",
    ("entity_id",),
    (
        _c("entity_id", "主体编号", "text", True),
        _c("name", "主体名称", "text", True),
        _c("kind", "主体类型", "enum", True, ENTITY_KINDS),
        _c("village_code", "所在行政村代码", "text", True),
        _c("credit_code", "统一社会信用代码", "text", True),
        _c("poor_households_linked", "带动贫困户数", "int"),
    ),
    required=False,
)

RAW_FILES: dict[str, RawFile] = {
    raw_file.name: raw_file
    for raw_file in (VILLAGES, HOUSEHOLDS, LOANS, SCHEDULE, REPAYMENTS, ENTITIES)
}


def create_table_sql(raw_file: RawFile, schema: str = "raw") -> str:
    """DDL of ``raw.<file>``: the contract's columns, typed."""
    columns = ",\n    ".join(f"{column.name} {column.sql_type}" for column in raw_file.columns)
    return f"create or replace table {schema}.{raw_file.name} (\n    {columns}\n)"
