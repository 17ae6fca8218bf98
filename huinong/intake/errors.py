"""The one error the intake raises: a file or delivery that cannot be read at all."""

from __future__ import annotations


class IntakeError(Exception):
    """A raw file or delivery that cannot be read at all; the message is for a clerk."""
