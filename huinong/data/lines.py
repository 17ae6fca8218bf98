"""The policy numbers a query prints beside its figures (the breaker's 3% line, the 2% watch
line, the 30% share line …), read from policy_profile — the profile the warehouse was built
with — as one row of exact decimals, joined into the query that needs them.
(``data.policy(token, scope)`` serves the same numbers to Python; these joins keep the numbers
next to the figures they judge, in one statement.)
"""

from __future__ import annotations


def policy_numbers_sql(*names: str, **renamed: str) -> str:
    """A one-row query of policy_profile: each parameter of ``names`` as a column of its own
    name, each of ``renamed`` (column="parameter") under the column's name, DECIMAL(18, 6)."""
    columns = [(name, name) for name in names] + list(renamed.items())
    selected = ", ".join(
        f"cast(any_value(parameter_value) filter (where parameter = '{parameter}')"
        f" as decimal(18, 6)) as {column}"
        for column, parameter in columns
    )
    return f"select {selected}, from main.policy_profile"
