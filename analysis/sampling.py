"""Samples of customers for display (scatter plots, distribution charts) that keep small segments visible."""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_POINTS_PER_SEGMENT = 200


def stratified_sample(membership: pd.DataFrame, max_points: int = 5000, *, column: str = "segment",
                      floor: int = MIN_POINTS_PER_SEGMENT, seed: int = 0) -> pd.DataFrame:
    """At most ``max_points`` rows of ``membership``, every segment (values of ``column``) keeping
    ``min(size, floor)`` rows (less only when ``floor`` times the number of segments exceeds ``max_points``), the
    rest shared in proportion to size. Deterministic: the same input gives the same rows, in their original order.
    """
    n = len(membership)
    if n <= max_points:
        return membership
    rng = np.random.default_rng(seed)
    if column not in membership.columns:
        return membership.iloc[np.sort(rng.choice(n, max_points, replace=False))]
    groups = {key: np.asarray(ix) for key, ix in membership.groupby(column, sort=True).indices.items()}
    if not groups:
        return membership.iloc[:0]
    per = max(1, min(floor, max_points // len(groups)))
    quota = {g: min(len(ix), per) for g, ix in groups.items()}
    left = max_points - sum(quota.values())
    rest = {g: len(ix) - quota[g] for g, ix in groups.items()}
    total_rest = sum(rest.values())
    if left > 0 and total_rest > 0:  # share the rest in proportion to size (largest remainder)
        exact = {g: left * rest[g] / total_rest for g in quota}
        extra = {g: int(v) for g, v in exact.items()}
        for g in sorted(exact, key=lambda g: (extra[g] - exact[g], str(g)))[: left - sum(extra.values())]:
            extra[g] += 1
        for g in quota:
            quota[g] += min(rest[g], extra[g])
    chosen = []
    for g in sorted(groups, key=str):
        ix = groups[g]
        chosen.append(ix if quota[g] >= len(ix) else rng.choice(ix, quota[g], replace=False))
    return membership.iloc[np.sort(np.concatenate(chosen))]
