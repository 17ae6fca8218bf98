"""What a user may read of a household's sensitive fields: ID numbers and V1/V2 vetoes.

The data layer and the exports call these with the signed-in user; the rules themselves (who
holds ``view_full_id`` …) are in permissions.csv.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from huinong.auth.scope import User
from huinong.format import VETO_WORDS, mask_id_number

# V1 vice (黄赌毒) and V2 court enforcement / dishonest debtor (POLICY.md R-S6).
SENSITIVE_VETOES = ("V1", "V2")
# The code the data layer puts in place of V1/V2 for a user who may not read them, and its words.
HIDDEN_VETO_CODE = "VS"
HIDDEN_VETO_WORDS = VETO_WORDS[HIDDEN_VETO_CODE]

# An ID number (15 to 18 characters) anywhere in a text, such as a quarantined row as read; the
# same pattern serves Python's re and DuckDB's regexp_replace (RE2), so both mask alike.
ID_NUMBER_IN_TEXT = r"(^|[^0-9])([0-9]{6})[0-9]{5,8}([0-9]{3}[0-9Xx])([^0-9Xx]|$)"
ID_NUMBER_IN_TEXT_MASKED = r"\1\2********\3\4"
_ID_NUMBER_IN_TEXT = re.compile(ID_NUMBER_IN_TEXT)


def id_number_for(user: User, id_number: str | None, *, exporting: bool = False) -> str:
    """The full ID number for a user allowed it (``view_full_id`` on screen, ``export_full_id``
    in a file), else with the middle digits hidden: 411202********001X."""
    if not id_number:
        return ""
    allowed = user.has("export_full_id" if exporting else "view_full_id")
    return id_number if allowed else mask_id_number(id_number)


def id_numbers_in_text_for(user: User, text: str | None) -> str:
    """A free text (a quarantined row as read) with every ID number in it masked, unless the
    user may read them in full (``view_full_id``)."""
    if not text or user.has("view_full_id"):
        return text or ""
    # Twice: a match consumes the character after a number, which may start the next one.
    masked = _ID_NUMBER_IN_TEXT.sub(ID_NUMBER_IN_TEXT_MASKED, text)
    return _ID_NUMBER_IN_TEXT.sub(ID_NUMBER_IN_TEXT_MASKED, masked)


def visible_vetoes(user: User, vetoes: Sequence[str] | None) -> list[str]:
    """The veto codes the user may read; V1 and V2 are left out without
    ``view_sensitive_vetoes`` (``veto_words_for`` says that one is hidden)."""
    if not vetoes:
        return []
    if user.has("view_sensitive_vetoes"):
        return list(vetoes)
    return [veto for veto in vetoes if veto not in SENSITIVE_VETOES]


def veto_words_for(user: User, vetoes: Sequence[str] | None) -> str:
    """The vetoes in words: V1 and V2 (both at once, too) read "一票否决（不宜公开事项）" for a
    user without ``view_sensitive_vetoes``, so the bank sees that a veto holds, not which."""
    if not vetoes:
        return ""
    shown = visible_vetoes(user, vetoes)
    words = [VETO_WORDS.get(veto, f"{veto} 一票否决") for veto in shown]
    if len(shown) < len(vetoes):
        words.insert(0, HIDDEN_VETO_WORDS)
    return "；".join(words)
