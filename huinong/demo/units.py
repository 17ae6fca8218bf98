"""Policy numbers in the generator's units.

The policy profile speaks in yuan and percent; the generator works in integer fen (分),
and compares rates exactly, as POLICY.md asks ("NPL rate > 3%" is ``npl * 100 > 3 * balance``).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from huinong.policy import Policy


def fen(yuan: object) -> int:
    """An amount of the profile (yuan, maybe with decimals) in whole fen."""
    return int(Decimal(str(yuan)) * 100)


def exact_rate(policy: Policy, name: str) -> Fraction:
    """A ``*_pct`` parameter as an exact fraction (3 -> 3/100), for integer comparisons."""
    return Fraction(policy.rate(name))


def lowest_credit_score(policy: Policy) -> int:
    """The score from which a household gets any credit (grade A in Hubin, R-C1)."""
    return min(int(band["min_score"]) for band in policy.grades)


def lowest_credit_limit(policy: Policy) -> int:
    """The credit limit of the lowest grade that has one, in fen (R-C1)."""
    return min(fen(band["credit_limit"]) for band in policy.grades)
