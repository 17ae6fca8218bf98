"""找人: find a household anywhere in the user's scope by the head's name, the household id or
the head's ID number, with its village, township and grade at one snapshot date.

Searches household_directory (one row per household, its latest collection's name and ID
number); grades come from household_scores for the households found only.

What masking permits: a user without ``view_full_id`` sees ID numbers as 411202********1234 —
the region code and the last four characters, the birth date hidden. Such a user may search by
the last 4 characters only: an answer to a search by the last 5 or 6, or by a full 18-character
number, would reveal hidden digits (try birth dates until one matches). A user who may read full
numbers searches by the full 18 characters or by the last 4 to 6.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

import polars as pl

from huinong.data.connection import Warehouse, cached, frame
from huinong.data.scope import Scope

SEARCH_LIMIT = 50
_FULL_ID = re.compile(r"\d{17}[\dX]")
_ID_TAIL = re.compile(r"\d{3,5}[\dX]")
_DIGITS = re.compile(r"[\dX]+")


class SearchRefused(ValueError):
    """A search text that cannot be searched (the message is for the clerk)."""


def search_kind(text: str, full_ids: bool) -> tuple[str, str, str | None]:
    """The normalised search text, what it is searched as, and why it is not searched as an ID
    number when the user may not (see the module's note on masking; None otherwise).

    Kinds: ``id_number`` (18 characters), ``id_tail`` (the last 4 to 6), ``name_or_id`` (a name
    or a household id) and ``household_id`` (digits that can only be a household id for this
    user). A household id is always matched exactly, whatever the text looks like.
    SearchRefused for an empty text."""
    normalised = unicodedata.normalize("NFKC", text).strip().replace(" ", "")
    if not normalised:
        raise SearchRefused("请输入户主姓名、农户编号或身份证号")
    upper = normalised.upper()
    if not _DIGITS.fullmatch(upper):
        return normalised, "name_or_id", None
    if _FULL_ID.fullmatch(upper):
        if full_ids:
            return upper, "id_number", None
        return (
            upper,
            "household_id",
            "本账号看不到完整身份证号，不能按完整身份证号查找：请按身份证号后4位或户主姓名查找",
        )
    if _ID_TAIL.fullmatch(upper):
        if full_ids or len(upper) == 4:
            return upper, "id_tail", None
        return (
            upper,
            "household_id",
            f"本账号只能看到身份证号后4位，请按后4位查找（输入了{len(upper)}位）",
        )
    return (
        upper,
        "household_id",
        "没有这个农户编号；身份证号请输入完整的18位，或后4至6位"
        if full_ids
        else "没有这个农户编号；身份证号请输入后4位（本账号看不到完整身份证号）",
    )


# Each way of matching is its own simple filter (an index, a narrow column), united.
_BY_HOUSEHOLD_ID = "household_id in ($text, upper($text))"
_BY_KIND = {
    "id_number": "head_id_number = $text",
    "id_tail": "ends_with(head_id_tail, $text)",
    "household_id": None,
    "name_or_id": "contains(head_name, $text)",
}
_MATCHED_BY = {
    "id_number": "'身份证号'",
    "id_tail": "'身份证号后' || length($text) || '位'",
    "household_id": "'农户编号'",
    "name_or_id": "'户主姓名'",
}


@cached
def find_households(
    token: Warehouse, as_of: date, scope: Scope, text: str, limit: int = SEARCH_LIMIT
) -> pl.DataFrame:
    """Households of the user's scope matching ``text`` — a household id, the head's name (the
    whole name first, then names starting with it, then names containing it), the head's full
    ID number, or its last 4 to 6 characters (4 only without ``view_full_id``) — at most
    ``limit`` rows: household_id, head_name, head_id_number (as the user may read it),
    village_code, village_name, township_code, township_name, grade (未评级 when the household
    has no rating at ``as_of``), score, rating_stale, matched_by, total_matches (before the
    limit). SearchRefused (a message for the clerk) for an empty text, and for digits this user
    may not search ID numbers by that match no household id either."""
    scope.require("view_named_households", "查找农户")
    value, kind, refusal = search_kind(text, scope.full_ids)
    columns = """
        household_id, head_name, head_id_number, village_code, village_name, township_code,
        township_name,
    """
    branches = [
        f"select {columns} from main.household_directory where {condition} {scope.where_sql()}"
        for condition in (_BY_HOUSEHOLD_ID, _BY_KIND[kind])
        if condition
    ]
    found = frame(
        token,
        scope,
        f"""
        with

        matched as ({" union ".join(branches)}),

        found as (
            select
                *,
                case
                    when household_id in ($text, upper($text)) then 0
                    when head_name = $text then 1
                    when starts_with(head_name, $text) then 2
                    else 3
                end as match_rank,
                case
                    when household_id in ($text, upper($text)) then '农户编号'
                    else {_MATCHED_BY[kind]}
                end as matched_by,
                count(*) over () as total_matches,
            from matched
            order by match_rank, head_name, household_id
            limit $limit
        ),

        scores as (
            select scores.household_id, scores.grade, scores.score, scores.rating_stale,
            from main.household_scores as scores
            semi join found
                on scores.village_code = found.village_code
                and scores.household_id = found.household_id
            where scores.as_of = $as_of {scope.where_sql("scores")}
        )

        select
            found.household_id,
            found.head_name,
            {scope.id_number_sql("found.head_id_number")} as head_id_number,
            found.village_code,
            found.village_name,
            found.township_code,
            found.township_name,
            coalesce(scores.grade, '未评级') as grade,
            scores.score,
            scores.rating_stale,
            found.matched_by,
            found.total_matches,
        from found
        left join scores on found.household_id = scores.household_id
        order by found.match_rank, found.head_name, found.household_id
        """,
        {"as_of": as_of, "text": value, "limit": min(limit, SEARCH_LIMIT)},
    )
    if found.is_empty() and refusal:
        raise SearchRefused(refusal)
    return found
