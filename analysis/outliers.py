"""Unusual customers, each with a reason a person can read.

Robust z (``method="robust_z"``, default)
=========================================

For every analysed column ``x`` (numeric, non-boolean; all of them unless ``columns`` is given):

* ``t = log1p(x)`` when ``x`` is non-negative and skewed (sample skewness > 1: spend, order
  counts, ...), ``t = x`` otherwise;
* ``z = 0.6745 * (t - median(t)) / MAD(t)`` with ``MAD = median(|t - median(t)|)`` (Iglewicz and
  Hoaglin's modified z-score; 0.6745 makes it comparable to a normal z);
* when MAD is 0 (more than half the customers share one value, e.g. one-time buyers), the scale
  falls back to ``1.2533 * mean(|t - median(t)|)`` (the mean absolute deviation scaled to a normal
  sigma), i.e. ``z = (t - median(t)) / (1.2533 * meanAD)``; when that is 0 too the column is
  constant and skipped.

A customer is flagged when ``|z| > threshold`` (3.5 by default) in any column; ``score`` is the
largest ``|z|``.

Isolation forest (``method="isolation_forest"``)
================================================

scikit-learn's ``IsolationForest`` (``random_state`` fixed, so results are reproducible) on the
same transformed columns scaled by the robust scales above; ``contamination`` is passed through
("auto" by default) and decides who is flagged; ``score = -score_samples`` (higher = more
unusual; about 0.5 is ordinary, values near 1 are very isolated); ``threshold`` is not used.
The reason names the (at most two) features with the largest robust ``|z|``.

Reasons
=======

* monetary high: "spent 40x the median customer (12,345.67 vs 308.60) in 2 orders"
  (multiple = value / median of the raw column; order count from ``frequency_col`` if present
  and not flagged itself);
* frequency high: "placed 120 orders, 30x the median customer (4)";
* anything else, or when the median is not positive: "Items Purchased 5.1 robust SDs above
  typical (95 vs median 12)" (or "below"). Feature names are written in words: the canonical
  features by :data:`FEATURE_WORDS` ("average order value", "days since the last order", ...),
  other columns with underscores as spaces.

Several flagged features are joined with "; ", most extreme first.

Output columns
==============

``score``, ``flagged`` and ``reason`` come first, then the raw value of every analysed column
under its own name. An analysed column that is itself called ``score``, ``flagged`` or
``reason`` is shown as ``<name>_value`` (``score_value``), so that it never collides with, or
overwrites, the result columns; ``flagged`` still names it by its own name.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from analysis.errors import AnalysisError
from analysis.schema import (
    AVG_ORDER_VALUE,
    DISTINCT_PRODUCTS,
    FREQUENCY,
    MEAN_DAYS_BETWEEN,
    MONETARY,
    RECENCY,
    RETURN_RATE,
    TENURE,
)

__all__ = ["FEATURE_WORDS", "RESULT_COLUMNS", "feature_words", "find_outliers", "outlier_records", "robust_z"]

# The result columns of find_outliers; analysed columns with these names are renamed "<name>_value".
RESULT_COLUMNS = ("score", "flagged", "reason")

# How the reasons name the canonical features.
FEATURE_WORDS = {
    RECENCY: "days since the last order",
    FREQUENCY: "number of orders",
    MONETARY: "spend",
    AVG_ORDER_VALUE: "average order value",
    TENURE: "days as a customer",
    MEAN_DAYS_BETWEEN: "days between orders",
    DISTINCT_PRODUCTS: "distinct products",
    RETURN_RATE: "return rate",
}


def feature_words(column) -> str:
    """A feature name as words: :data:`FEATURE_WORDS` for canonical features, otherwise the column
    name with underscores as spaces (``Items_Purchased`` -> "Items Purchased")."""
    if column in FEATURE_WORDS:
        return FEATURE_WORDS[column]
    return " ".join(str(column).replace("_", " ").split())

_METHODS = ("robust_z", "isolation_forest")


def _numeric(features: pd.DataFrame, columns) -> pd.DataFrame:
    if not isinstance(features, pd.DataFrame):
        raise AnalysisError("Outlier detection needs a customer table (a pandas DataFrame).")
    if columns is None:
        cols = [
            c
            for c in features.columns
            if pd.api.types.is_numeric_dtype(features[c]) and not pd.api.types.is_bool_dtype(features[c])
        ]
    else:
        cols = list(columns)
        missing = [c for c in cols if c not in features.columns]
        if missing:
            raise AnalysisError(
                f"Column(s) {', '.join(map(str, missing))} are not in the customer table "
                f"({', '.join(map(str, features.columns))}).",
                column=str(missing[0]),
            )
    out = {}
    for c in cols:
        values = pd.to_numeric(features[c], errors="coerce")
        if pd.api.types.is_bool_dtype(values):
            values = values.astype("float64")
        out[c] = values.astype("float64")
    frame = pd.DataFrame(out, index=features.index)
    if frame.shape[1] == 0:
        raise AnalysisError("There are no numeric columns to look for unusual customers in.")
    return frame


def _transform(x: pd.Series) -> tuple[pd.Series, bool]:
    """(transformed values, whether log1p was used)."""
    valid = x.dropna()
    if len(valid) >= 3 and valid.min() >= 0 and valid.nunique() > 1:
        skew = float(sps.skew(valid.to_numpy(), bias=True))
        if math.isfinite(skew) and skew > 1.0:
            return np.log1p(x), True
    return x, False


def robust_z(features: pd.DataFrame, *, columns=None) -> pd.DataFrame:
    """Robust z-scores (see the module docstring) of every analysed column.

    ``features``: n_customers x n_features raw values. Returns an n_customers x n_kept DataFrame
    of signed robust z (dimensionless; NaN where the value is missing); constant columns are
    dropped.
    """
    X = _numeric(features, columns)
    out = {}
    for c in X.columns:
        t, _ = _transform(X[c])
        med = t.median()
        dev = (t - med).abs()
        mad = dev.median()
        if mad > 0:
            out[c] = 0.6745 * (t - med) / mad
            continue
        mean_ad = dev.mean()
        if mean_ad > 0:
            out[c] = (t - med) / (1.2533 * mean_ad)
    return pd.DataFrame(out, index=X.index)


def _fmt(value: float, money: bool = False) -> str:
    if money:
        return f"{value:,.2f}"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _multiple(value: float, median: float) -> str:
    ratio = value / median
    return f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.1f}x"


def _reason_part(
    col: str,
    value: float,
    z: float,
    median: float,
    *,
    monetary_col: str | None,
    frequency_col: str | None,
    orders: float | None,
) -> str:
    if col == monetary_col and z > 0 and median > 0 and value > median:
        text = (
            f"spent {_multiple(value, median)} the median customer "
            f"({_fmt(value, True)} vs {_fmt(median, True)})"
        )
        if orders is not None and math.isfinite(orders):
            text += f" in {_fmt(orders)} order" + ("" if orders == 1 else "s")
        return text
    if col == frequency_col and z > 0 and median > 0 and value > median:
        return f"placed {_fmt(value)} orders, {_multiple(value, median)} the median customer ({_fmt(median)})"
    side = "above" if z > 0 else "below"
    money = col == monetary_col
    return (
        f"{feature_words(col)} {abs(z):.1f} robust SDs {side} typical "
        f"({_fmt(value, money)} vs median {_fmt(median, money)})"
    )


def find_outliers(
    features: pd.DataFrame,
    *,
    method: str = "robust_z",
    threshold: float = 3.5,
    columns=None,
    monetary_col: str = MONETARY,
    frequency_col: str = FREQUENCY,
    max_rows: int | None = None,
    random_state: int = 0,
    contamination="auto",
) -> pd.DataFrame:
    """Customers who look unusual, most unusual first.

    ``features``: n_customers x n_features raw values indexed by customer_id; ``columns``: the
    columns to analyse (default: every numeric, non-boolean one); ``threshold``: robust-z cut-off
    (dimensionless); ``monetary_col`` (currency units) and ``frequency_col`` (orders) only shape
    the wording of the reasons; ``max_rows``: keep at most this many rows.

    Returns a DataFrame indexed like ``features`` (only flagged customers, sorted by ``score``
    descending) with ``score`` (float; max |robust z|, or the isolation-forest anomaly score),
    ``flagged`` (str, the flagged feature names, most extreme first, ", "-joined), ``reason``
    (str, see the module docstring), then the raw values of every analysed column (a column
    named like a result column appears as ``<name>_value``, see the module docstring).
    """
    if method not in _METHODS:
        raise AnalysisError(f"Unknown outlier method {method!r}; use one of {', '.join(_METHODS)}.")
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold) and threshold > 0):
        raise AnalysisError(f"The outlier threshold must be a positive number, not {threshold!r}.")
    if max_rows is not None and (not isinstance(max_rows, (int, np.integer)) or max_rows < 0):
        raise AnalysisError(f"max_rows must be a non-negative whole number, not {max_rows!r}.")
    X = _numeric(features, columns)
    Z = robust_z(X)
    mc = monetary_col if monetary_col in X.columns else None
    fc = frequency_col if frequency_col in X.columns else None
    medians = X.median()
    absz = Z.abs()

    if method == "robust_z":
        score = absz.max(axis=1, skipna=True)
        flagged_mask = (absz > threshold).any(axis=1)

        def flagged_cols(cid) -> list[str]:
            row = absz.loc[cid]
            row = row[row > threshold].sort_values(ascending=False, kind="stable")
            return list(row.index)

    else:
        from sklearn.ensemble import IsolationForest

        data = Z.fillna(0.0).to_numpy()
        if data.shape[1] == 0 or len(data) < 2:
            raise AnalysisError("An isolation forest needs at least two customers and one varying column.")
        forest = IsolationForest(
            n_estimators=200, contamination=contamination, random_state=random_state
        ).fit(data)
        score = pd.Series(-forest.score_samples(data), index=X.index)
        flagged_mask = pd.Series(forest.predict(data) == -1, index=X.index)

        def flagged_cols(cid) -> list[str]:
            row = absz.loc[cid].dropna().sort_values(ascending=False, kind="stable")
            return list(row.index[:2])

    ids = X.index[flagged_mask.to_numpy()]
    rows = []
    for cid in ids:
        cols = flagged_cols(cid)
        # the order count is quoted with the spend unless frequency has its own clause
        orders = float(X.at[cid, fc]) if fc is not None and fc not in cols else None
        parts = [
            _reason_part(
                c,
                float(X.at[cid, c]),
                float(Z.at[cid, c]),
                float(medians[c]),
                monetary_col=mc,
                frequency_col=fc,
                orders=orders,
            )
            for c in cols
        ]
        reason = "; ".join(parts)
        if method == "isolation_forest":
            reason = "unusual combination of values: " + reason if parts else "unusual combination of values"
        rows.append((float(score.loc[cid]), ", ".join(map(str, cols)), reason))
    out = pd.DataFrame(rows, columns=["score", "flagged", "reason"], index=ids)
    out["flagged"] = out["flagged"].astype("str")
    out["reason"] = out["reason"].astype("str")
    values = X.loc[ids]
    renamed = {}
    for c in values.columns:
        if c in RESULT_COLUMNS:
            new = f"{c}_value"
            while new in values.columns or new in renamed.values():
                new += "_"
            renamed[c] = new
    out = pd.concat([out, values.rename(columns=renamed)], axis=1)
    out.index.name = features.index.name
    out = out.sort_values("score", ascending=False, kind="stable")
    if max_rows is not None:
        out = out.head(int(max_rows))
    return out


def outlier_records(outliers: pd.DataFrame) -> list[dict]:
    """JSON-ready rows of a ``find_outliers`` result: ``{"customer_id": str, "score", "flagged",
    "reason", <column>: value, ...}`` with plain Python types and None for NaN."""
    records = []
    for cid, row in outliers.iterrows():
        rec = {"customer_id": str(cid)}
        for k, v in row.items():
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            rec[str(k)] = v
        records.append(rec)
    return records
