"""Which part of the district a query covers, and the only SQL filters a scope becomes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Scope:
    """Which part of the district a query covers: the whole district, a township or a village.

    Township codes have 9 digits and village codes 12, the first 9 being the township's
    (DATA_CONTRACT.md, villages), so a village scope knows its township.
    """

    level: Literal["district", "township", "village"] = "district"
    code: str | None = None

    def __post_init__(self) -> None:
        if self.level not in ("district", "township", "village"):
            raise ValueError(f"unknown scope level: {self.level}")
        if (self.level == "district") != (self.code is None):
            raise ValueError("a district scope has no code; a township or village scope needs one")

    @classmethod
    def district(cls) -> Scope:
        return cls("district", None)

    @classmethod
    def township(cls, code: str) -> Scope:
        return cls("township", code)

    @classmethod
    def village(cls, code: str) -> Scope:
        return cls("village", code)

    @property
    def township_code(self) -> str | None:
        if self.level == "village":
            return self.code[:9]
        return self.code if self.level == "township" else None

    @property
    def village_code(self) -> str | None:
        return self.code if self.level == "village" else None

    def parent(self) -> Scope:
        if self.level == "village":
            return Scope.township(self.township_code)
        return Scope.district()

    def params(self) -> dict[str, str]:
        """The SQL parameters of ``where_sql``."""
        values = {}
        if self.township_code is not None:
            values["township"] = self.township_code
        if self.village_code is not None:
            values["village"] = self.village_code
        return values

    def township_where_sql(self, alias: str = "") -> str:
        """The filter for a table with townships only (township_breaker)."""
        prefix = f"{alias}." if alias else ""
        return "" if self.level == "district" else f" and {prefix}township_code = $township"

    def where_sql(self, alias: str = "") -> str:
        """The scope's filter, to follow an ``as_of`` condition: one of three fixed fragments."""
        prefix = f"{alias}." if alias else ""
        if self.level == "district":
            return ""
        if self.level == "township":
            return f" and {prefix}township_code = $township"
        return f" and {prefix}township_code = $township and {prefix}village_code = $village"

    def village_code_where_sql(self) -> str:
        """The filter for a mart with village codes but no township code (loan_instalments,
        loan_payments): a township's villages are the codes starting with its 9 digits."""
        if self.level == "village":
            return " and village_code = $village"
        if self.level == "township":
            return " and starts_with(village_code, $township)"
        return ""
