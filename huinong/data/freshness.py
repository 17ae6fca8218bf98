"""评级时效: how many ratings of each village rest on a collection older than the policy's
stale_collection_months (household_scores.rating_stale), from village_rating_freshness."""

from __future__ import annotations

from datetime import date

import polars as pl

from huinong.data.connection import Warehouse, cached, frame
from huinong.data.lines import policy_numbers_sql
from huinong.data.scope import Scope


@cached
def rating_freshness(token: Warehouse, as_of: date, scope: Scope) -> pl.DataFrame:
    """Every village of the scope at ``as_of``: households_rated, households_rating_stale, their
    share (rating_stale_share), the oldest collection in use, and stale_collection_months (the
    policy's line, in months). Most stale households first."""
    return frame(
        token,
        scope,
        f"""
        select
            freshness.township_code, freshness.township_name, freshness.village_code,
            freshness.village_name, freshness.households_rated,
            freshness.households_rating_stale, freshness.rating_stale_share,
            freshness.oldest_collected_on,
            cast(lines.stale_collection_months as integer) as stale_collection_months,
        from main.village_rating_freshness as freshness
        cross join ({policy_numbers_sql("stale_collection_months")}) as lines
        where freshness.as_of = $as_of {scope.where_sql("freshness")}
        order by freshness.households_rating_stale desc, freshness.village_code
        """,
        {"as_of": as_of},
    )
