"""The temporary tables of one intake run, shared by its steps (run, keys, cross_file, publish).

- ``_hn_s_<n>``: one staged file's text cells (huinong.intake.staging).
- ``validated(file)``: every row of every delivery of one file, typed:
  ``_seq`` (delivery order), ``_row`` (row number in its file), the
  contract's columns, ``_text_<column>`` for messages, ``_key``,
  ``_superseded`` and ``_reasons`` (the row's own reasons).
- ``FOUND_REASONS``: reasons found beyond a row's own cells (duplicates,
  references, cascades), one row per reason, in the order found:
  ``source_file, _seq, _row, reason``.

A row is loaded when it is not superseded, has no reason of its own and
none in ``FOUND_REASONS``.
"""

from __future__ import annotations

FOUND_REASONS = "_hn_x"


def staged(index: int) -> str:
    return f"_hn_s_{index}"


def validated(file_name: str) -> str:
    return f"_hn_v_{file_name}"
