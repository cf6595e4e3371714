"""Per-segment profiles and human-readable segment names.

Input everywhere is ``features``, a per-customer DataFrame (n_customers x n_features) indexed by
``customer_id`` with RAW feature values (days, order counts, currency units, or whatever a
customer-level file holds), and ``labels``, one integer segment label per customer (an array or a
Series aligned to ``features``). Only numeric, non-boolean columns are profiled; other columns are
ignored.

Naming rules (``name_segments``)
================================

Every segment gets a name derived from its profile, never a bare number, and names are unique.

*RFM naming* is used when the recency, frequency and monetary columns are all present. Each
segment's MEDIAN recency ``r`` (days), frequency ``f`` (orders) and monetary ``m`` (currency) are
compared with the distribution over all customers:

* recency state: ``active`` if ``r <= overall median recency``; ``lapsed`` if ``r`` is above the
  overall median and at or above the overall 75th percentile; ``cooling`` in between;
* ``high value`` if ``m >= overall 75th percentile of monetary``; ``low value`` if ``m`` is below
  the overall median;
* ``one-time`` if ``f <= 1``; ``frequent`` if ``f >= 2`` and ``f`` is above the overall median.

============ ============================================ ============================
state        condition (first match wins)                 name
============ ============================================ ============================
active       frequent and high value                      High-value loyal
active       frequent                                     Loyal regulars
active       one-time and high value                      New big spenders
active       one-time                                     New customers
active       high value                                   Promising big spenders
active       otherwise                                    Promising
cooling      high value                                   Big spenders cooling off
cooling      frequent                                     Cooling regulars
cooling      one-time                                     Fading one-time
cooling      otherwise                                    Needs attention
lapsed       high value                                   At-risk big spenders
lapsed       frequent                                     Lapsed regulars
lapsed       one-time                                     Lapsed one-time
lapsed       low value                                    Lapsed low-value
lapsed       otherwise                                    Lapsed occasional buyers
============ ============================================ ============================

*Generic naming* (customer-level files, or any of R/F/M missing) describes a segment by its two
most distinctive features, i.e. the largest absolute standardised mean difference
``z = (segment mean - overall mean) / overall std``, with a level word: ``z >= 1`` "very high",
``>= 0.5`` "high", ``>= 0.2`` "above-average", ``> -0.2`` "average", ``> -0.5`` "below-average",
``> -1`` "low", else "very low". Column names are humanised (underscores become spaces; the
canonical feature names get plain words, e.g. ``monetary`` -> "spend"), giving for example
"High Total Spend, high Items Purchased". Recency reads naturally ("recent", "long inactive").

*Disambiguation*: when several segments would share a name, each of them gets one more clause
for the feature on which they differ most (preferring features not already in their names): its
level word if those differ within the group (", high tenure"), otherwise a relative word
(", higher Age" / ", lower Age"; "lowest" / "mid" / "highest" for three or more). This repeats
until names are unique; only segments identical on every feature get a " (segment k)" suffix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

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

__all__ = [
    "RFM_NAMES",
    "SegmentProfiles",
    "feature_label",
    "feature_phrase",
    "level_word",
    "name_segments",
    "profile_segments",
]

# Plain words for the canonical feature names (used in names and advice).
_LABELS = {
    RECENCY: "recency",
    FREQUENCY: "order frequency",
    MONETARY: "spend",
    AVG_ORDER_VALUE: "order value",
    TENURE: "tenure",
    MEAN_DAYS_BETWEEN: "days between orders",
    DISTINCT_PRODUCTS: "product variety",
    RETURN_RATE: "return rate",
}

# Recency is "days since last order": low is good, so it reads differently.
_RECENCY_PHRASES = {
    "very high": "long inactive",
    "high": "inactive for a while",
    "above-average": "less recent",
    "average": "average recency",
    "below-average": "fairly recent",
    "low": "recent",
    "very low": "very recent",
    "lower": "more recent",
    "higher": "less recent",
    "lowest": "most recent",
    "highest": "least recent",
    "mid": "mid recency",
}

RFM_NAMES = {
    # kind -> name; kinds are stable identifiers other modules (insights) can switch on.
    "high_value_loyal": "High-value loyal",
    "loyal": "Loyal regulars",
    "new_high_value": "New big spenders",
    "new": "New customers",
    "promising_high_value": "Promising big spenders",
    "promising": "Promising",
    "cooling_high_value": "Big spenders cooling off",
    "cooling_regular": "Cooling regulars",
    "cooling_one_time": "Fading one-time",
    "needs_attention": "Needs attention",
    "lapsed_high_value": "At-risk big spenders",
    "lapsed_regular": "Lapsed regulars",
    "lapsed_one_time": "Lapsed one-time",
    "lapsed_low_value": "Lapsed low-value",
    "lapsed_occasional": "Lapsed occasional buyers",
}


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def _clean(value):
    """Plain-Python, JSON-ready scalar: numpy -> python, NaN / NA -> None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict]:
    """DataFrame rows as a list of JSON-ready dicts (index dropped)."""
    cols = [str(c) for c in frame.columns]
    return [
        {c: _clean(v) for c, v in zip(cols, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def feature_label(column: str) -> str:
    """Human-readable label of a feature column: canonical names get plain words
    (``monetary`` -> "spend"), others have underscores replaced by spaces
    (``Total_Spend`` -> "Total Spend")."""
    if column in _LABELS:
        return _LABELS[column]
    return " ".join(str(column).replace("_", " ").split())


def level_word(z: float) -> str:
    """Level word for a standardised difference z, "very high" ... "very low" (see module docstring)."""
    if z is None or not math.isfinite(z):
        return "average"
    if z >= 1.0:
        return "very high"
    if z >= 0.5:
        return "high"
    if z >= 0.2:
        return "above-average"
    if z > -0.2:
        return "average"
    if z > -0.5:
        return "below-average"
    if z > -1.0:
        return "low"
    return "very low"


def feature_phrase(column: str, word: str, recency_col: str | None = None) -> str:
    """``word`` + humanised ``column`` ("high Total Spend"); the recency column reads naturally
    ("recent", "long inactive", "more recent")."""
    if column == recency_col or column == RECENCY:
        return _RECENCY_PHRASES.get(word, f"{word} recency")
    return f"{word} {feature_label(column)}"


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _numeric(features: pd.DataFrame) -> pd.DataFrame:
    """Numeric, non-boolean columns of ``features`` as float64."""
    if not isinstance(features, pd.DataFrame):
        raise AnalysisError("The customer features must be a table (a pandas DataFrame).")
    if len(features) == 0:
        raise AnalysisError("The customer features table is empty: there are no customers to profile.")
    keep = [
        c
        for c in features.columns
        if pd.api.types.is_numeric_dtype(features[c]) and not pd.api.types.is_bool_dtype(features[c])
    ]
    if not keep:
        raise AnalysisError(
            "The customer features table has no numeric columns to profile; "
            "choose at least one numeric column such as spend or number of orders."
        )
    return features[keep].astype("float64")


def _align_labels(features: pd.DataFrame, labels) -> pd.Series:
    """Labels as an int64 Series indexed like ``features``.

    A Series whose index holds exactly the customers of ``features`` is aligned by index;
    anything else (array, list, Series with another index) is taken positionally.
    """
    if isinstance(labels, pd.Series):
        same_customers = (
            labels.index.is_unique
            and features.index.is_unique
            and len(labels) == len(features)
            and labels.index.isin(features.index).all()
        )
        values = labels.reindex(features.index).to_numpy() if same_customers else labels.to_numpy()
    else:
        values = np.asarray(labels)
    values = np.ravel(values)
    if len(values) != len(features):
        raise AnalysisError(
            f"There are {len(values)} segment labels for {len(features)} customers; "
            "give exactly one label per customer."
        )
    series = pd.Series(values, index=features.index)
    if series.isna().any():
        raise AnalysisError(
            f"{int(series.isna().sum())} customers have no segment label; give every customer a label."
        )
    try:
        as_float = pd.to_numeric(series).astype("float64")
    except (TypeError, ValueError) as exc:
        raise AnalysisError("Segment labels must be whole numbers (0, 1, 2, ...).") from exc
    if not np.all(np.mod(as_float.to_numpy(), 1) == 0):
        raise AnalysisError("Segment labels must be whole numbers (0, 1, 2, ...).")
    return as_float.astype("int64").rename("segment")


def _present(column: str | None, columns) -> str | None:
    return column if column is not None and column in columns else None


# --------------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stats:
    X: pd.DataFrame  # n_customers x n_features, float64
    labels: pd.Series  # int64, indexed like X
    sizes: pd.Series  # segment -> customers
    means: pd.DataFrame  # segments x features
    medians: pd.DataFrame  # segments x features
    overall: pd.DataFrame  # features x [mean, median, std, q25, q75]
    standardised: pd.DataFrame  # segments x features


def _stats(features: pd.DataFrame, labels) -> _Stats:
    X = _numeric(features)
    lab = _align_labels(features, labels)
    grouped = X.groupby(lab, sort=True)
    sizes = lab.value_counts().sort_index().astype("int64")
    means = grouped.mean()
    medians = grouped.median()
    overall = pd.DataFrame(
        {
            "mean": X.mean(),
            "median": X.median(),
            "std": X.std(ddof=0),
            "q25": X.quantile(0.25),
            "q75": X.quantile(0.75),
        }
    )
    std = overall["std"].where(overall["std"] > 0)
    standardised = (means - overall["mean"]) / std
    # A constant (or all-missing) feature does not distinguish segments: 0, not NaN.
    standardised = standardised.fillna(0.0)
    for frame in (means, medians, standardised):
        frame.index = frame.index.astype("int64")
        frame.index.name = "segment"
    return _Stats(X, lab, sizes, means, medians, overall, standardised)


# --------------------------------------------------------------------------------------------
# naming
# --------------------------------------------------------------------------------------------


def _rfm_kind(r: float, f: float, m: float, overall: pd.DataFrame, rc: str, fc: str, mc: str) -> str:
    r_med, r_q75 = overall.at[rc, "median"], overall.at[rc, "q75"]
    f_med = overall.at[fc, "median"]
    m_med, m_q75 = overall.at[mc, "median"], overall.at[mc, "q75"]
    high = bool(m >= m_q75)
    low = bool(m < m_med)
    one_time = bool(f <= 1)
    frequent = bool(f >= 2 and f > f_med)
    if r <= r_med:
        if frequent and high:
            return "high_value_loyal"
        if frequent:
            return "loyal"
        if one_time:
            return "new_high_value" if high else "new"
        return "promising_high_value" if high else "promising"
    if r >= r_q75:
        if high:
            return "lapsed_high_value"
        if frequent:
            return "lapsed_regular"
        if one_time:
            return "lapsed_one_time"
        return "lapsed_low_value" if low else "lapsed_occasional"
    if high:
        return "cooling_high_value"
    if frequent:
        return "cooling_regular"
    if one_time:
        return "cooling_one_time"
    return "needs_attention"


def _relative_words(values: pd.Series) -> dict:
    """Segment -> "lower"/"higher" (two distinct values) or "lowest"/"mid"/"highest"."""
    distinct = sorted(set(values.round(12)))
    out = {}
    for seg, v in values.round(12).items():
        pos = distinct.index(v)
        if len(distinct) == 2:
            out[seg] = "lower" if pos == 0 else "higher"
        elif pos == 0:
            out[seg] = "lowest"
        elif pos == len(distinct) - 1:
            out[seg] = "highest"
        else:
            out[seg] = "mid"
    return out


def _disambiguate(
    names: dict[int, str],
    used: dict[int, list[str]],
    z: pd.DataFrame,
    preferred: list[str],
    recency_col: str | None,
) -> dict[int, str]:
    """Make names unique by appending the most distinguishing feature (see module docstring)."""
    names = dict(names)
    used = {s: list(u) for s, u in used.items()}
    for _ in range(2 * z.shape[1] + 2):
        by_name: dict[str, list[int]] = {}
        for seg, name in names.items():
            by_name.setdefault(name, []).append(seg)
        groups = [segs for segs in by_name.values() if len(segs) > 1]
        if not groups:
            return names
        progressed = False
        for segs in groups:
            taken = {c for s in segs for c in used[s]}
            fresh = [c for c in z.columns if c not in taken]
            order = [c for c in preferred if c in fresh] + [c for c in fresh if c not in preferred]
            candidates = order or list(z.columns)
            sub = z.loc[segs, candidates]
            spread = (sub.max() - sub.min()).fillna(0.0).round(9)
            if not (spread > 1e-12).any():
                # nothing differs among the remaining features: try every feature once more
                sub = z.loc[segs]
                spread = (sub.max() - sub.min()).fillna(0.0).round(9)
                if not (spread > 1e-12).any():
                    continue
            # first column reaching the maximum spread (stable with respect to preference order)
            col = spread.index[int(np.argmax(spread.to_numpy()))]
            levels = {s: level_word(float(z.at[s, col])) for s in segs}
            if len(set(levels.values())) == len(segs) and col not in taken:
                words = levels
            else:
                words = _relative_words(z.loc[segs, col])
            for s in segs:
                names[s] = f"{names[s]}, {feature_phrase(col, words[s], recency_col)}"
                used[s].append(col)
            progressed = True
        if not progressed:
            break
    # last resort: segments identical on every feature
    by_name = {}
    for seg, name in names.items():
        by_name.setdefault(name, []).append(seg)
    for segs in by_name.values():
        if len(segs) > 1:
            for s in segs:
                names[s] = f"{names[s]} (segment {s})"
    return names


def _name(
    stats: _Stats,
    recency_col: str | None,
    frequency_col: str | None,
    monetary_col: str | None,
    n_terms: int = 2,
) -> tuple[dict[int, str], dict[int, str], str]:
    """(names, kinds, naming) where naming is "rfm" or "generic"."""
    cols = stats.X.columns
    rc, fc, mc = (_present(c, cols) for c in (recency_col, frequency_col, monetary_col))
    z = stats.standardised
    segments = [int(s) for s in z.index]
    names: dict[int, str] = {}
    kinds: dict[int, str] = {}
    used: dict[int, list[str]] = {}
    if rc and fc and mc:
        naming = "rfm"
        med = stats.medians
        for s in segments:
            kind = _rfm_kind(med.at[s, rc], med.at[s, fc], med.at[s, mc], stats.overall, rc, fc, mc)
            kinds[s] = kind
            names[s] = RFM_NAMES[kind]
            used[s] = []
        preferred = [c for c in cols if c not in (rc, fc, mc)] + [mc, fc, rc]
    else:
        naming = "generic"
        for s in segments:
            row = z.loc[s]
            order = row.abs().round(9).sort_values(ascending=False, kind="stable").index[:n_terms]
            parts = [feature_phrase(c, level_word(float(row[c])), rc) for c in order]
            names[s] = _capitalise(", ".join(parts))
            kinds[s] = "generic"
            used[s] = list(order)
        preferred = list(cols)
    names = _disambiguate(names, used, z, preferred, rc)
    return names, kinds, naming


def name_segments(
    features: pd.DataFrame,
    labels,
    *,
    recency_col: str = RECENCY,
    frequency_col: str = FREQUENCY,
    monetary_col: str = MONETARY,
) -> dict[int, str]:
    """Unique, profile-derived names, ``{segment: name}``; the rules are in the module docstring.

    ``features``: n_customers x n_features raw values indexed by customer_id; ``labels``: one
    integer per customer. RFM business names are used when all three RFM columns are present,
    otherwise names describe the most distinctive features.
    """
    stats = _stats(features, labels)
    names, _, _ = _name(stats, recency_col, frequency_col, monetary_col)
    return names


# --------------------------------------------------------------------------------------------
# profiles
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SegmentProfiles:
    """Profile of every segment.

    ``table``: one row per segment, sorted by segment, columns ``segment`` (int), ``name`` (str),
    ``size`` (customers), ``customer_share`` (fraction 0..1 of all customers), ``revenue`` (sum
    of the monetary column, currency units; None/NaN without one), ``revenue_share`` (fraction
    0..1 of total revenue; NaN when there is no monetary column or total revenue is not
    positive), then ``mean_<feature>`` and ``median_<feature>`` for every profiled feature, in the
    feature's own units.

    ``standardised``: segments x features, ``(segment mean - overall mean) / overall std``
    (population std, ddof=0, as StandardScaler uses, so the values are the segment centroids in
    standardised space); 0 for constant features. Meant for a heatmap.

    ``names``: segment -> unique name; ``kinds``: segment -> stable rule identifier (see
    ``RFM_NAMES``; "generic" for feature-described names); ``overall``: features x [mean,
    median, std, q25, q75] over all customers; ``naming``: "rfm" or "generic"; the ``*_col``
    fields hold the RFM columns that were found (None when absent).
    """

    table: pd.DataFrame
    standardised: pd.DataFrame
    names: dict[int, str]
    kinds: dict[int, str]
    overall: pd.DataFrame
    features: tuple[str, ...]
    naming: str
    recency_col: str | None
    frequency_col: str | None
    monetary_col: str | None

    @property
    def n_customers(self) -> int:
        return int(self.table["size"].sum())

    def to_dict(self) -> dict:
        """JSON-ready form (plain Python types, None for NaN). Keys: ``n_customers``,
        ``features``, ``naming``, ``recency_col``, ``frequency_col``, ``monetary_col``,
        ``segments`` (records of ``table``), ``names`` and ``kinds`` (keyed by the segment number
        as a string), ``standardised`` (``{"segments", "names", "features", "values"}`` with
        ``values`` a segments x features list of lists) and ``overall``
        (``{feature: {mean, median, std, q25, q75}}``)."""
        z = self.standardised
        return {
            "n_customers": self.n_customers,
            "features": [str(c) for c in self.features],
            "naming": self.naming,
            "recency_col": self.recency_col,
            "frequency_col": self.frequency_col,
            "monetary_col": self.monetary_col,
            "segments": _records(self.table),
            "names": {str(k): v for k, v in self.names.items()},
            "kinds": {str(k): v for k, v in self.kinds.items()},
            "standardised": {
                "segments": [int(s) for s in z.index],
                "names": [self.names[int(s)] for s in z.index],
                "features": [str(c) for c in z.columns],
                "values": [[_clean(v) for v in row] for row in z.to_numpy().tolist()],
            },
            "overall": {str(f): {k: _clean(v) for k, v in row.items()} for f, row in self.overall.iterrows()},
        }


def profile_segments(
    features: pd.DataFrame,
    labels,
    *,
    monetary_col: str = MONETARY,
    recency_col: str = RECENCY,
    frequency_col: str = FREQUENCY,
    revenue: pd.Series | None = None,
) -> SegmentProfiles:
    """Profile each segment of a clustering.

    ``features``: n_customers x n_features DataFrame of raw feature values indexed by
    customer_id (non-numeric and boolean columns are ignored). ``labels``: n_customers integer
    segment labels (array, or Series aligned to ``features``). ``monetary_col`` is the spend
    column (currency units) used for revenue; when it is absent the revenue columns are NaN
    (None in ``to_dict``). ``revenue``: per-customer spend (currency units) indexed by
    customer_id, used for the revenue columns instead of ``monetary_col`` when given (for when
    the spend is not one of the clustering features); customers missing from it count as 0.
    ``recency_col`` (days) and ``frequency_col`` (orders) enable RFM business names when all
    three are present. See ``SegmentProfiles`` for the result.
    """
    stats = _stats(features, labels)
    names, kinds, naming = _name(stats, recency_col, frequency_col, monetary_col)
    cols = stats.X.columns
    mc = _present(monetary_col, cols)
    n = len(stats.X)
    seg_index = stats.sizes.index.astype("int64")
    table = pd.DataFrame(
        {
            "segment": seg_index.to_numpy(),
            "name": pd.array([names[int(s)] for s in seg_index], dtype="str"),
            "size": stats.sizes.to_numpy(),
            "customer_share": stats.sizes.to_numpy() / n,
        }
    )
    spend = None
    if revenue is not None:
        spend = pd.to_numeric(pd.Series(revenue), errors="coerce").astype("float64")
        spend = spend.reindex(stats.X.index) if spend.index.is_unique else None
    if spend is None and mc is not None:
        spend = stats.X[mc]
    if spend is not None:
        per_segment = spend.groupby(stats.labels).sum().reindex(seg_index).fillna(0.0).to_numpy()
        total = float(np.nansum(per_segment))
        table["revenue"] = per_segment
        table["revenue_share"] = per_segment / total if total > 0 else np.nan
    else:
        table["revenue"] = np.nan
        table["revenue_share"] = np.nan
    for c in cols:
        table[f"mean_{c}"] = stats.means[c].reindex(seg_index).to_numpy()
        table[f"median_{c}"] = stats.medians[c].reindex(seg_index).to_numpy()
    return SegmentProfiles(
        table=table,
        standardised=stats.standardised,
        names=names,
        kinds=kinds,
        overall=stats.overall,
        features=tuple(cols),
        naming=naming,
        recency_col=_present(recency_col, cols),
        frequency_col=_present(frequency_col, cols),
        monetary_col=mc,
    )
