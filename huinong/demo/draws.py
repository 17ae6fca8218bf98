"""Random streams and the array helpers every stage shares (groups of rows sorted by key)."""

from __future__ import annotations

import numpy as np

KEY = 1 << 40  # packs (loan or household index, value) into one sortable int64


def stream(seed: int, stage: int) -> np.random.Generator:
    """Each stage draws from its own stream, so one stage's draws never shift another's."""
    return np.random.default_rng(np.random.SeedSequence([seed % (1 << 63), stage]))


def split(total: int, weights: np.ndarray) -> np.ndarray:
    """Integer shares of `total` proportional to `weights` (largest remainder)."""
    raw = total * weights / weights.sum()
    base = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - base), kind="stable")
    base[order[: total - int(base.sum())]] += 1
    return base


def choice(rng: np.random.Generator, size: int, weights: dict) -> np.ndarray:
    """`size` draws of the keys of `weights`, each with its (relative) weight."""
    keys = list(weights)
    p = np.array([weights[key] for key in keys], dtype=float)
    return np.asarray(keys)[rng.choice(len(keys), size=size, p=p / p.sum())]


def group_starts(groups: np.ndarray, n_groups: int) -> np.ndarray:
    """First position of each group in an array sorted by group."""
    return np.searchsorted(groups, np.arange(n_groups), side="left")


def segment_cumsum(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Running total of `values` restarting at each new value of the sorted `groups`."""
    if values.size == 0:
        return values.copy()
    total = np.cumsum(values)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    lengths = np.diff(np.r_[starts, values.size])
    return total - np.repeat(total[starts] - values[starts], lengths)


def first_per_group(groups: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group, row) of the first row of each group where `mask` holds (rows sorted by group)."""
    rows = np.flatnonzero(mask)
    first = rows[np.r_[True, groups[rows][1:] != groups[rows][:-1]]] if rows.size else rows
    return groups[first], first
