"""What a delivery may hold: one set of limits for every door (the 数据管理 page's upload and
preview, ``python -m huinong deliver``, and the build that reads the store).

A limit exists so that nothing accepted can fail a later build or take the machine down:

- an archive (a delivered zip, and the zip every xlsx is) may unpack to at most
  ``max_total_bytes``, each member at most ``max_ratio`` times its packed size (a zip bomb shows a
  ratio in the thousands; real CSV and xlsx parts stay below 20), and a zip may list at most
  ``max_members`` entries;
- one file may hold at most ``max_rows`` rows, and one CSV field at most ``max_field_chars``
  characters (a longer one is nearly always an unpaired quote that swallowed the rest of the file);
- an amount must stay below ``MAX_AMOUNT`` 元, and the amounts of one file must sum below
  ``MAX_AMOUNT_TOTAL`` 元.

The amount bound comes from the warehouse's types: every amount of the contract marts is
DECIMAL(18,2), which holds less than 10^16 元. The widest sum the marts compute adds one amount
column over every row of a file (the district's outstanding balance over every loan,
kpi_monthly.total_outstanding_balance; a loan's cumulative amount due over its plan). With each
amount below 10^9 元 and at most 10^7 rows in a file, no such sum over one file can reach 10^16;
the total check catches the same rows spread over several deliveries.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

MAX_AMOUNT = Decimal(1_000_000_000)
MAX_AMOUNT_TOTAL = Decimal(10) ** 16


@dataclass(frozen=True)
class Limits:
    max_members: int = 50
    max_total_bytes: int = 1 << 30
    max_ratio: int = 100
    max_rows: int = 10_000_000
    max_field_chars: int = 131_072


DEFAULT_LIMITS = Limits()


def amount_text(value: Decimal | int) -> str:
    """An amount as the messages write it: 1,000,000,000 元."""
    return f"{Decimal(value):,.0f} 元" if Decimal(value) == int(value) else f"{value:,.2f} 元"


def too_many_rows(display_name: str, limits: Limits) -> str:
    return (
        f"{display_name} 超过 {limits.max_rows:,} 行的上限，拒绝读取。"
        "请核对文件是否重复粘贴了数据，或分成几批报送"
    )


def field_too_long(display_name: str, row_number: int, limits: Limits) -> str:
    return (
        f"{display_name} 第 {row_number:,} 行有一个字段超过 {limits.max_field_chars:,} 个字符，"
        '无法读取：多半是某个单元格里有未配对的英文双引号（"），把后面的内容都并进了这一格。'
        "请改正该行后重新报送"
    )
