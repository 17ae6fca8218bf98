"""Raw files → the ``raw`` schema: typed tables of the rows that pass, and a quarantine for the rest.

The intake reads an office's raw folder, or the store of accepted
deliveries, as the data contract's inputs define them (huinong.schema lists
every file and column), into ``raw.<file>``, ``raw.quarantine`` and
``raw.load_report``. Its modules, from the door inwards:

- store: the raw store of deliveries (list, accept, withdraw, lock,
  manifest); limits: what a delivery may hold; archive: unpacking a
  delivered zip within them; preview: checking a candidate delivery before
  accepting it, run in a memory-limited child process by isolated;
- sources: which files a folder holds, and the default villages;
- csv_reader, xlsx_reader → staging: one file as a table of text cells,
  headers matched by headers, cells normalised by text;
- cells: SQL typing each column kind; rules: check digits and rules
  within a row; keys: supersession and duplicates; cross_file: references
  and cascades between files;
- run: one intake run (stage → validate → cross-file → publish);
  publish: the raw tables, quarantine and load report; summary: what a
  run did, in words for a clerk.
"""

from huinong.intake.errors import IntakeError
from huinong.intake.isolated import PreviewFailed, preview_isolated
from huinong.intake.limits import Limits
from huinong.intake.preview import preview_delivery
from huinong.intake.run import IntakeChecks, load_raw
from huinong.intake.store import (
    Delivery,
    DeliveryFile,
    accept_delivery,
    active_deliveries,
    find_delivery,
    list_deliveries,
    withdraw_delivery,
)
from huinong.intake.summary import ExtraColumn, FileCounts, IntakeSummary
from huinong.schema import PREVIEW_DELIVERY_ID

__all__ = [
    "PREVIEW_DELIVERY_ID",
    "Delivery",
    "DeliveryFile",
    "ExtraColumn",
    "FileCounts",
    "IntakeChecks",
    "IntakeError",
    "IntakeSummary",
    "Limits",
    "PreviewFailed",
    "accept_delivery",
    "active_deliveries",
    "find_delivery",
    "list_deliveries",
    "load_raw",
    "preview_delivery",
    "preview_isolated",
    "withdraw_delivery",
]
