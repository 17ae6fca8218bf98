"""The temporary tables of one intake run, shared by its steps (run, keys, cross_file, publish).

- ``_hn_s_<n>``: one staged file's text cells (huinong.intake.staging).
- ``validated(file)``: every row of every delivery of one file, typed:
  ``_seq`` (delivery order), ``_row`` (row number in its file), the
  contract's columns, ``_text_<column>`` for messages, ``_key``,
  ``_reasons`` (the row's own reasons), ``_own_ok`` (no reason of its own
  and no duplicate in its delivery), and its place among the rows of its key
  (huinong.intake.keys): ``_superseded`` (an earlier row a later passing row
  replaces), ``_rejected`` (a later row that failed, the earlier one stays),
  ``_earlier_ok`` (an earlier passing row of its key exists) and
  ``_disqualified`` (failed a rule across files while replacing one).
- ``DUPLICATES``: the duplicate reasons of rows sharing a key in one delivery.
- ``FOUND_REASONS``: reasons found across files (references, cascades), one
  row per reason, in the order found: ``source_file, _seq, _row, reason``.
- ``KEPT_REASONS``: the reasons across files of corrections that lost their
  place for them, kept for the quarantine.

A row is in force when it is neither superseded nor rejected; it is loaded when it is in force,
``_own_ok`` and has no reason in ``FOUND_REASONS``.
"""

from __future__ import annotations

FOUND_REASONS = "_hn_x"
DUPLICATES = "_hn_d"
KEPT_REASONS = "_hn_k"


def staged(index: int) -> str:
    return f"_hn_s_{index}"


def validated(file_name: str) -> str:
    return f"_hn_v_{file_name}"
