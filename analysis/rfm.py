"""Classic RFM scoring and the named RFM segments.

Scores
======

Each of recency, frequency and monetary gets a score ``1..bins`` (``bins=5`` by default), higher
is better: the most recent customers (FEWEST days since the last order), the most frequent and
the biggest spenders get ``bins``. Scores are quantiles of the RANK, not of the raw value, and
customers with equal values share their average rank (``rank(method="average")``), so identical
customers always get identical scores. With ``r`` the average rank (1 = worst: most days since
the last order, fewest orders, least spend) of ``n`` customers::

    score = max(1, ceil(bins * (r - 1/2) / n))

i.e. the mid-rank percentile ``(r - 1/2) / n`` cut into ``bins`` equal-width bands. Without ties
this is exactly an equal-count split of the ranks (10 customers, 5 bins: ranks 1-2 -> 1, 3-4 ->
2, ...). A group of tied customers lands in the band of its middle member, so bands are not
equally full when many customers share a value (frequency is typically 1 for a third of the
customers); customers who all share one value get the middle score (3 of 5), as does a single
customer. The score is computed in integers (``2 r`` is whole), so there is no rounding drift.

``rfm_score`` is the three digits concatenated, e.g. ``"545"`` (R=5, F=4, M=5).

Segments
========

``rfm_segment`` follows the usual grid of R score against the FM score, the mean of the F and M
scores (``(f + m) / 2``, so 1, 1.5, ... 5). With ``bins != 5`` the scores are first rescaled
linearly to 1..5. First matching row wins:

===== ============== ====================
R     FM             segment
===== ============== ====================
4-5   >= 4           Champions
3-5   >= 3           Loyal Customers
4-5   >= 2           Potential Loyalists
5     < 2            New Customers
4     < 2            Promising
3     >= 2           Need Attention
3     < 2            About to Sleep
1     >= 4           Can't Lose Them
1-2   >= 3           At Risk
2     < 3            Hibernating
1     >= 2           Hibernating
1     < 2            Lost
===== ============== ====================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.schema import FREQUENCY, MONETARY, RECENCY

__all__ = ["RFM_SEGMENTS", "rfm_crosstab", "rfm_scores", "rfm_segment_for"]

# Every segment name, best first (also the row order of ``rfm_crosstab``).
RFM_SEGMENTS = (
    "Champions",
    "Loyal Customers",
    "Potential Loyalists",
    "New Customers",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "Can't Lose Them",
    "At Risk",
    "Hibernating",
    "Lost",
)

# (min R, max R, min FM, max FM exclusive, segment), first match wins; see module docstring.
_GRID = (
    (4, 5, 4.0, np.inf, "Champions"),
    (3, 5, 3.0, np.inf, "Loyal Customers"),
    (4, 5, 2.0, np.inf, "Potential Loyalists"),
    (5, 5, -np.inf, 2.0, "New Customers"),
    (4, 4, -np.inf, 2.0, "Promising"),
    (3, 3, 2.0, np.inf, "Need Attention"),
    (3, 3, -np.inf, 2.0, "About to Sleep"),
    (1, 1, 4.0, np.inf, "Can't Lose Them"),
    (1, 2, 3.0, np.inf, "At Risk"),
    (2, 2, -np.inf, 3.0, "Hibernating"),
    (1, 1, 2.0, np.inf, "Hibernating"),
    (1, 1, -np.inf, 2.0, "Lost"),
)


def rfm_segment_for(r: float, f: float, m: float) -> str:
    """Named segment for one customer's R, F and M scores on the 1..5 scale (see the grid)."""
    r_int = int(round(float(r)))
    fm = (float(f) + float(m)) / 2
    for r_lo, r_hi, fm_lo, fm_hi, name in _GRID:
        if r_lo <= r_int <= r_hi and fm_lo <= fm < fm_hi:
            return name
    return "Lost"  # unreachable for scores in 1..5


def _score(values: pd.Series, bins: int, *, higher_is_better: bool) -> np.ndarray:
    """Scores 1..bins from mid-rank percentiles; tied values share their average rank (module docstring)."""
    n = len(values)
    twice_rank = np.rint(2 * values.rank(method="average", ascending=higher_is_better).to_numpy()).astype(np.int64)
    # ceil(bins * (r - 1/2) / n) = ceil(bins * (2r - 1) / (2n)), in integers
    numerator = bins * (twice_rank - 1)
    score = -(-numerator // (2 * n))
    return np.clip(score, 1, bins).astype(np.int64)


def rfm_scores(
    features: pd.DataFrame,
    *,
    recency_col: str = RECENCY,
    frequency_col: str = FREQUENCY,
    monetary_col: str = MONETARY,
    bins: int = 5,
) -> pd.DataFrame:
    """R, F and M scores and the named RFM segment of every customer.

    ``features``: n_customers x n_features DataFrame indexed by customer_id with recency (days
    since the last order), frequency (orders) and monetary (currency units) columns.
    ``bins``: number of score levels, 2..9.

    Returns an n_customers DataFrame indexed like ``features`` with ``r_score``, ``f_score``,
    ``m_score`` (int64, 1..bins, higher is better), ``rfm_score`` (str, e.g. "545") and
    ``rfm_segment`` (str, one of ``RFM_SEGMENTS``). Scoring and segment rules are in the module
    docstring.
    """
    if not isinstance(features, pd.DataFrame):
        raise AnalysisError("RFM scoring needs a customer table (a pandas DataFrame).")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or not 2 <= bins <= 9:
        raise AnalysisError(
            f"The number of RFM score levels must be a whole number from 2 to 9, not {bins!r}."
        )
    bins = int(bins)
    if len(features) == 0:
        raise AnalysisError("The customer table is empty: there are no customers to score.")
    columns = {}
    for role, col in (("recency", recency_col), ("frequency", frequency_col), ("monetary", monetary_col)):
        if col not in features.columns:
            raise AnalysisError(
                f"RFM scoring needs a {role} column, but '{col}' is not among the customer columns "
                f"({', '.join(map(str, features.columns))}).",
                column=str(col),
            )
        values = pd.to_numeric(features[col], errors="coerce").astype("float64")
        missing = int(values.isna().sum())
        if missing:
            raise AnalysisError(
                f"The {role} column '{col}' has {missing} missing or non-numeric values; "
                "every customer needs one to be scored.",
                column=str(col),
            )
        columns[role] = values
    r = _score(columns["recency"], bins, higher_is_better=False)
    f = _score(columns["frequency"], bins, higher_is_better=True)
    m = _score(columns["monetary"], bins, higher_is_better=True)
    scale = 4.0 / (bins - 1)

    def to5(s: np.ndarray) -> np.ndarray:
        return 1.0 + (s - 1) * scale

    r5, f5, m5 = to5(r), to5(f), to5(m)
    segment = [rfm_segment_for(a, b, c) for a, b, c in zip(r5, f5, m5, strict=True)]
    out = pd.DataFrame(
        {
            "r_score": r,
            "f_score": f,
            "m_score": m,
            "rfm_score": pd.array([f"{a}{b}{c}" for a, b, c in zip(r, f, m, strict=True)], dtype="str"),
            "rfm_segment": pd.array(segment, dtype="str"),
        },
        index=features.index,
    )
    return out


def rfm_crosstab(rfm_segment, labels, names: dict | None = None) -> pd.DataFrame:
    """Customers per (RFM segment, clustering segment).

    ``rfm_segment``: n_customers RFM segment names (the ``rfm_segment`` column of
    ``rfm_scores``); ``labels``: n_customers integer cluster labels, a Series aligned by index
    when it holds the same customers as a Series ``rfm_segment``, otherwise positional;
    ``names``: optional ``{label: name}`` for the column headers (labels without a name keep
    their number).

    Returns a DataFrame of int64 counts: rows = RFM segments that occur, in ``RFM_SEGMENTS``
    order (index name ``rfm_segment``); columns = clustering segments in label order, headed by
    their names (column index name ``segment``).
    """
    seg = rfm_segment if isinstance(rfm_segment, pd.Series) else pd.Series(np.ravel(np.asarray(rfm_segment)))
    if (
        isinstance(labels, pd.Series)
        and labels.index.is_unique
        and seg.index.is_unique
        and (len(labels) == len(seg) and labels.index.isin(seg.index).all())
    ):
        lab = labels.reindex(seg.index).to_numpy()
    else:
        lab = np.ravel(np.asarray(labels))
    if len(lab) != len(seg):
        raise AnalysisError(
            f"There are {len(lab)} segment labels for {len(seg)} RFM segments; give one label per customer."
        )
    lab_series = pd.Series(lab, index=seg.index)
    if lab_series.isna().any() or seg.isna().any():
        raise AnalysisError(
            "Some customers have no segment label or no RFM segment; every customer needs both."
        )
    table = pd.crosstab(seg.astype("str").to_numpy(), lab_series.astype("int64").to_numpy())
    known = [s for s in RFM_SEGMENTS if s in table.index]
    other = sorted(s for s in table.index if s not in RFM_SEGMENTS)
    table = table.reindex(known + other).fillna(0).astype("int64")
    table = table.reindex(sorted(table.columns), axis=1)
    names = names or {}
    table.columns = pd.Index([names.get(int(c), int(c)) for c in table.columns], name="segment")
    table.index.name = "rfm_segment"
    return table
