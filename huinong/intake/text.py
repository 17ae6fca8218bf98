"""Unicode normalisation of cells: NFKC (full-width digits and letters folded), zero-width
characters removed, surrounding whitespace trimmed; in SQL where trimming is all a cell needs,
through a Python function where NFKC could change it.
"""

from __future__ import annotations

import contextlib
import re
import sys
import unicodedata
from functools import cache

import duckdb
import pyarrow as pa

NFKC_FUNCTION = "_hn_nfkc"
WHITESPACE_SQL = "' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)"


@cache
def nfkc_sensitive_class() -> str:
    """An RE2 character class of every character that NFKC or trimming could change.

    Most cells are plain ASCII or CJK text that NFKC leaves alone; only cells
    holding one of these characters go through Python's NFKC, the rest are
    trimmed in SQL.
    """
    points = {
        point
        for point in range(sys.maxunicode + 1)
        if not 0xD800 <= point < 0xE000
        and (not unicodedata.is_normalized("NFKC", chr(point)) or unicodedata.combining(chr(point)))
    }
    # Hangul vowel and final jamo compose with what precedes them.
    points |= set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    # Tabs, line breaks and zero-width characters are stripped by the Python path.
    points |= {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF}
    ranges: list[list[int]] = []
    for point in sorted(points):
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    parts = [
        f"\\x{{{low:x}}}" if low == high else f"\\x{{{low:x}}}-\\x{{{high:x}}}"
        for low, high in ranges
    ]
    return "[" + "".join(parts) + "]"


_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")


def normalize_text(value: str | None) -> str | None:
    """NFKC, zero-width characters removed, surrounding whitespace stripped; '' becomes None."""
    if value is None:
        return None
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", value)).strip()
    return text or None


def _nfkc_arrow(values: pa.Array) -> pa.Array:
    return pa.array([normalize_text(value) for value in values.to_pylist()], type=pa.string())


def register_nfkc(con: duckdb.DuckDBPyConnection) -> None:
    unregister_nfkc(con)
    con.create_function(NFKC_FUNCTION, _nfkc_arrow, ["VARCHAR"], "VARCHAR", type="arrow")


def unregister_nfkc(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        con.remove_function(NFKC_FUNCTION)


_ODD_WHITESPACE = re.compile("[\t\x0b\x0c\u200b\u200c\u200d\u2060\ufeff]")


def needs_nfkc(text: str) -> bool:
    """Whether some cell may change under normalisation beyond trimming spaces."""
    return not unicodedata.is_normalized("NFKC", text) or _ODD_WHITESPACE.search(text) is not None


def normalised_cell(cell: str, nfkc: bool) -> str:
    """SQL for a cell's normalised text: NFKC, surrounding whitespace trimmed, '' as NULL."""
    if not nfkc:
        # The file holds no character NFKC would change and no tab or form feed
        # (read_text checked), so only spaces can surround a value; trim() of
        # spaces alone is several times faster than trim() of a character set.
        return f"nullif(trim({cell}), '')"
    trimmed = f"trim({cell}, {WHITESPACE_SQL})"
    # Only non-ASCII cells holding a character NFKC would change pay for the Python call.
    return (
        f"nullif(case when strlen({cell}) <> length({cell}) "
        f"and regexp_matches({cell}, '{nfkc_sensitive_class()}') "
        f"then {NFKC_FUNCTION}({cell}) else {trimmed} end, '')"
    )
