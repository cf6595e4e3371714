"""Per-customer feature tables and their transformation for clustering.

Three steps, each a pure function:

* :func:`customer_features` turns a clean canonical transactions table (one row per order line,
  see :mod:`analysis.schema`) into one row per customer with the requested RFM-style features;
* :func:`customer_level_features` picks the numeric columns of a customer-level table (one row per
  customer, no transactions);
* :func:`transform_features` log-transforms skewed columns and scales every column, returning a
  :class:`FeatureMatrix` that records what it did.

Everything is vectorised: customers and orders are factorised once to integer codes, and
per-customer aggregates are ``np.bincount`` / ``np.minimum.at`` over those codes. Distinct counts
("how many orders has this customer") are counted on de-duplicated integer pair keys rather than with
``groupby().nunique()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from analysis import schema
from analysis.errors import AnalysisError

_NS_PER_DAY = 86_400 * 10**9
_NS_PER_HOUR = 3_600 * 10**9


# --------------------------------------------------------------------------------------------
# Shared, private: a factorised view of a transactions table (also used by analysis.describe).
# --------------------------------------------------------------------------------------------


def _distinct_count(groups: np.ndarray, items: np.ndarray, n_groups: int, n_items: int) -> np.ndarray:
    """Number of distinct ``items`` per group.

    ``groups`` and ``items`` are equal-length int64 code arrays (``0 <= groups < n_groups``,
    ``0 <= items < n_items``; negative ``items`` are ignored). Returns an int64 array of length
    ``n_groups``.
    """
    keep = items >= 0
    if not keep.all():
        groups, items = groups[keep], items[keep]
    keys = pd.unique(groups.astype(np.int64) * np.int64(max(n_items, 1)) + items)
    return np.bincount(keys // max(n_items, 1), minlength=n_groups).astype(np.int64)


class _TxIndex:
    """Lazily factorised view of a canonical transactions table.

    Each property validates the column it reads (present, right dtype, no missing values) and
    raises :class:`AnalysisError` naming the column otherwise. Customers are coded ``0..n-1`` in
    sorted id order; every per-customer array below is aligned with :attr:`customers`.
    """

    def __init__(
        self,
        tx: pd.DataFrame,
        *,
        customer_col: str = schema.CUSTOMER_ID,
        order_col: str = schema.ORDER_ID,
        date_col: str = schema.ORDER_DATE,
        amount_col: str = schema.AMOUNT,
    ) -> None:
        if not isinstance(tx, pd.DataFrame):
            raise AnalysisError("The transactions must be a table (a pandas DataFrame).")
        if len(tx) == 0:
            raise AnalysisError("The transactions table is empty: there is nothing to analyse.")
        self.tx = tx
        self.customer_col = customer_col
        self.order_col = order_col
        self.date_col = date_col
        self.amount_col = amount_col

    # -- column access ---------------------------------------------------------------------

    def column(self, name: str, *, kind: str | None = None, allow_missing: bool = False) -> pd.Series:
        """The validated column ``name``; ``kind`` is ``"datetime"``, ``"numeric"`` or None."""
        if name not in self.tx.columns:
            raise AnalysisError(
                f"The transactions have no column '{name}'. Available columns: "
                f"{', '.join(map(str, self.tx.columns))}.",
                column=name,
            )
        col = self.tx[name]
        if kind == "datetime" and not pd.api.types.is_datetime64_any_dtype(col.dtype):
            raise AnalysisError(
                f"Column '{name}' must hold dates (datetime), but its type is {col.dtype}.", column=name
            )
        if kind == "numeric" and (
            not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype)
        ):
            raise AnalysisError(
                f"Column '{name}' must hold numbers, but its type is {col.dtype}.", column=name
            )
        if not allow_missing:
            n_missing = int(col.isna().sum())
            if n_missing:
                raise AnalysisError(
                    f"Column '{name}' has {n_missing} missing value(s); the transactions must be "
                    f"cleaned (rows without a {name} removed) before this analysis.",
                    column=name,
                )
        return col

    # -- customers -------------------------------------------------------------------------

    @cached_property
    def _customer_factor(self) -> tuple[np.ndarray, pd.Index]:
        codes, uniques = pd.factorize(self.column(self.customer_col), sort=True)
        return codes.astype(np.int64, copy=False), pd.Index(uniques, name=schema.CUSTOMER_ID)

    @property
    def customer_codes(self) -> np.ndarray:
        """int64 code of each line's customer, shape (n_lines,)."""
        return self._customer_factor[0]

    @property
    def customers(self) -> pd.Index:
        """Sorted distinct customer ids, shape (n_customers,), named ``customer_id``."""
        return self._customer_factor[1]

    @property
    def n_customers(self) -> int:
        return len(self.customers)

    # -- orders ----------------------------------------------------------------------------

    @cached_property
    def _order_factor(self) -> tuple[np.ndarray, int]:
        codes, uniques = pd.factorize(self.column(self.order_col))
        return codes.astype(np.int64, copy=False), len(uniques)

    @property
    def order_codes(self) -> np.ndarray:
        """int64 code of each line's order id, shape (n_lines,)."""
        return self._order_factor[0]

    @property
    def n_orders(self) -> int:
        """Number of distinct order ids."""
        return self._order_factor[1]

    @cached_property
    def orders_per_customer(self) -> np.ndarray:
        """Distinct orders per customer, int64, shape (n_customers,)."""
        return _distinct_count(self.customer_codes, self.order_codes, self.n_customers, self.n_orders)

    # -- amounts and dates -----------------------------------------------------------------

    @cached_property
    def amount(self) -> np.ndarray:
        """Line revenue, float64, shape (n_lines,)."""
        return self.column(self.amount_col, kind="numeric").to_numpy(dtype=np.float64)

    @cached_property
    def revenue_per_customer(self) -> np.ndarray:
        """Total amount per customer, float64, shape (n_customers,)."""
        return np.bincount(self.customer_codes, weights=self.amount, minlength=self.n_customers)

    @cached_property
    def dates(self) -> np.ndarray:
        """Order dates as datetime64[ns] (naive), shape (n_lines,)."""
        col = self.column(self.date_col, kind="datetime")
        if getattr(col.dtype, "tz", None) is not None:
            col = col.dt.tz_localize(None)
        return col.to_numpy(dtype="datetime64[ns]")

    @cached_property
    def first_last(self) -> tuple[np.ndarray, np.ndarray]:
        """First and last order date per customer, datetime64[ns], each shape (n_customers,)."""
        ns = self.dates.view(np.int64)
        first = np.full(self.n_customers, np.iinfo(np.int64).max, dtype=np.int64)
        last = np.full(self.n_customers, np.iinfo(np.int64).min, dtype=np.int64)
        np.minimum.at(first, self.customer_codes, ns)
        np.maximum.at(last, self.customer_codes, ns)
        return first.view("datetime64[ns]"), last.view("datetime64[ns]")

    @cached_property
    def days(self) -> np.ndarray:
        """Calendar day of each line as int64 days since 1970-01-01, shape (n_lines,)."""
        return self.dates.view(np.int64) // _NS_PER_DAY

    @cached_property
    def hours(self) -> np.ndarray:
        """Hour of day (0..23) of each line, int64, shape (n_lines,)."""
        return self.dates.view(np.int64) // _NS_PER_HOUR % 24

    @cached_property
    def months(self) -> np.ndarray:
        """Calendar month of each line as int64 months since 1970-01, shape (n_lines,).

        Computed through a day -> month lookup table over the data's date range (numpy's direct
        datetime64[M] conversion is several times slower on millions of rows).
        """
        days = self.days
        first = int(days.min())
        table = np.arange(first, int(days.max()) + 1, dtype=np.int64).astype("datetime64[D]")
        return table.astype("datetime64[M]").astype(np.int64)[days - first]


# --------------------------------------------------------------------------------------------
# customer_features
# --------------------------------------------------------------------------------------------


def _validate_feature_names(features: str | Iterable[str]) -> list[str]:
    names = [features] if isinstance(features, str) else list(features)
    if not names:
        raise AnalysisError(f"No features were requested. Valid features: {', '.join(schema.FEATURES)}.")
    unknown = [n for n in names if n not in schema.FEATURES]
    if unknown:
        raise AnalysisError(
            f"Unknown feature(s): {', '.join(map(str, unknown))}. Valid features: "
            f"{', '.join(schema.FEATURES)}."
        )
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise AnalysisError(f"Feature(s) requested more than once: {', '.join(duplicated)}.")
    return names


def _as_timestamp(as_of: object) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(as_of)
    except (TypeError, ValueError) as exc:
        raise AnalysisError(f"The as-of date {as_of!r} is not a valid date.") from exc
    if ts is pd.NaT or pd.isna(ts):
        raise AnalysisError("The as-of date is missing; give the date the features are computed at.")
    if ts.tz is not None:
        ts = ts.tz_localize(None)
    return ts


def customer_features(
    tx: pd.DataFrame,
    *,
    as_of: pd.Timestamp,
    features: str | Sequence[str] = schema.DEFAULT_FEATURES,
    returns: pd.DataFrame | None = None,
    customer_col: str = schema.CUSTOMER_ID,
    order_col: str = schema.ORDER_ID,
    date_col: str = schema.ORDER_DATE,
    amount_col: str = schema.AMOUNT,
    product_col: str = schema.PRODUCT_ID,
) -> pd.DataFrame:
    """One row of behavioural features per customer.

    ``tx`` is a clean canonical transactions table, shape (n_lines, k): one row per order line,
    several lines may share an order id, no missing customer id. ``as_of`` is the date the features
    are computed at (usually the day after the last order); it must not be earlier than the last
    order date. Aware timestamps are compared as naive wall-clock times.

    Returns a float64 DataFrame of shape (n_customers, len(features)), indexed by the sorted
    customer ids (index named ``customer_id``), columns exactly ``features`` in the requested order:

    ``recency_days``
        (as_of - last order date) in days; fractional days kept.
    ``frequency``
        number of distinct order ids.
    ``monetary``
        total ``amount`` (currency units).
    ``avg_order_value``
        monetary / frequency (currency units per order).
    ``tenure_days``
        (as_of - first order date) in days.
    ``mean_days_between_orders``
        (last - first order date) / (frequency - 1) in days. For a one-order customer there is no
        gap to measure; the column is then the customer's ``tenure_days`` (time waited so far
        without a second order), so it has no missing values.
    ``distinct_products``
        number of distinct non-missing ``product_id`` values; needs ``product_col``.
    ``return_rate``
        returned value / purchased value, clipped to [0, 1]. ``returns`` holds the return lines
        removed during cleaning (``customer_col`` and ``amount_col``; the sign of the amount is
        ignored). Purchased value is the customer's ``monetary``. Customers without returns get 0;
        returns of customers absent from ``tx`` are ignored.

    Raises :class:`AnalysisError` for an empty table, an unknown or repeated feature name, a
    missing column, an ``as_of`` before the last order, or ``return_rate`` without ``returns``.
    """
    names = _validate_feature_names(features)
    idx = _TxIndex(
        tx, customer_col=customer_col, order_col=order_col, date_col=date_col, amount_col=amount_col
    )
    wanted = set(names)
    if schema.RETURN_RATE in wanted and returns is None:
        raise AnalysisError(
            "The return rate needs the return lines (the negative-quantity rows removed during "
            "cleaning); pass them as `returns` or leave return_rate out."
        )
    if schema.DISTINCT_PRODUCTS in wanted and product_col not in tx.columns:
        raise AnalysisError(
            f"The feature distinct_products needs a product column '{product_col}', which the "
            "transactions do not have.",
            column=product_col,
        )

    as_of_ts = _as_timestamp(as_of)
    first, last = idx.first_last
    as_of_ns = np.datetime64(as_of_ts.as_unit("ns").asm8, "ns")
    last_date = last.max()
    if as_of_ns < last_date:
        raise AnalysisError(
            f"The as-of date {as_of_ts} is before the last order date "
            f"{pd.Timestamp(last_date)}; choose an as-of date on or after the last order."
        )

    out: dict[str, np.ndarray] = {}
    if wanted & {schema.RECENCY, schema.TENURE, schema.MEAN_DAYS_BETWEEN}:
        recency = (as_of_ns - last).astype(np.int64) / _NS_PER_DAY
        tenure = (as_of_ns - first).astype(np.int64) / _NS_PER_DAY
        out[schema.RECENCY] = recency
        out[schema.TENURE] = tenure
        if schema.MEAN_DAYS_BETWEEN in wanted:
            freq = idx.orders_per_customer
            span = (last - first).astype(np.int64) / _NS_PER_DAY
            gaps = np.divide(span, freq - 1, out=np.zeros_like(span), where=freq > 1)
            out[schema.MEAN_DAYS_BETWEEN] = np.where(freq > 1, gaps, tenure)

    if wanted & {schema.FREQUENCY, schema.AVG_ORDER_VALUE}:
        out[schema.FREQUENCY] = idx.orders_per_customer.astype(np.float64)
    if wanted & {schema.MONETARY, schema.AVG_ORDER_VALUE, schema.RETURN_RATE}:
        out[schema.MONETARY] = idx.revenue_per_customer
    if schema.AVG_ORDER_VALUE in wanted:
        out[schema.AVG_ORDER_VALUE] = out[schema.MONETARY] / out[schema.FREQUENCY]
    if schema.DISTINCT_PRODUCTS in wanted:
        prod_codes, prod_uniques = pd.factorize(tx[product_col])
        out[schema.DISTINCT_PRODUCTS] = _distinct_count(
            idx.customer_codes, prod_codes.astype(np.int64, copy=False), idx.n_customers, len(prod_uniques)
        ).astype(np.float64)
    if schema.RETURN_RATE in wanted:
        out[schema.RETURN_RATE] = _return_rate(
            returns, idx.customers, out[schema.MONETARY], customer_col=customer_col, amount_col=amount_col
        )

    return pd.DataFrame({n: out[n] for n in names}, index=idx.customers).astype(np.float64)


def _return_rate(
    returns: pd.DataFrame,
    customers: pd.Index,
    purchased: np.ndarray,
    *,
    customer_col: str,
    amount_col: str,
) -> np.ndarray:
    """Returned / purchased value per customer in ``customers`` order, clipped to [0, 1]."""
    if not isinstance(returns, pd.DataFrame):
        raise AnalysisError("The return lines must be a table (a pandas DataFrame).")
    for col in (customer_col, amount_col):
        if col not in returns.columns:
            raise AnalysisError(f"The return lines have no column '{col}'.", column=col)
    if not pd.api.types.is_numeric_dtype(returns[amount_col].dtype):
        raise AnalysisError(
            f"Column '{amount_col}' of the return lines must hold numbers.", column=amount_col
        )
    codes = customers.get_indexer(returns[customer_col])
    value = np.abs(returns[amount_col].to_numpy(dtype=np.float64, na_value=np.nan))
    keep = (codes >= 0) & ~np.isnan(value)
    returned = np.bincount(codes[keep], weights=value[keep], minlength=len(customers))
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(purchased > 0, returned / purchased, np.where(returned > 0, 1.0, 0.0))
    return np.clip(rate, 0.0, 1.0)


# --------------------------------------------------------------------------------------------
# customer_level_features
# --------------------------------------------------------------------------------------------


def _is_numeric_or_bool(dtype: object) -> bool:
    return pd.api.types.is_bool_dtype(dtype) or (
        pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype)
    )


def customer_level_features(
    customers: pd.DataFrame,
    *,
    columns: str | Sequence[str] | None = None,
    customer_col: str = schema.CUSTOMER_ID,
) -> pd.DataFrame:
    """Numeric feature table from a customer-level file (one row per customer, no transactions).

    ``customers`` has shape (n_rows, k) with an id column ``customer_col``. ``columns`` selects the
    features (default: every numeric or boolean column except the id, in file order). Booleans
    become 0/1. Rows with a missing value in any selected column, or a missing id, are dropped; their
    number is in ``result.attrs["dropped_rows"]``.

    Returns a float64 DataFrame of shape (n_kept, len(columns)), indexed by the sorted customer ids
    (index named ``customer_id``). Raises :class:`AnalysisError` for a missing id column, a missing
    or non-numeric selected column, no usable column, repeated customer ids, or no row left.
    """
    if not isinstance(customers, pd.DataFrame):
        raise AnalysisError("The customer table must be a table (a pandas DataFrame).")
    if customer_col not in customers.columns:
        raise AnalysisError(f"The customer table has no id column '{customer_col}'.", column=customer_col)
    if len(customers) == 0:
        raise AnalysisError("The customer table is empty: there is nothing to analyse.")
    if columns is None:
        selected = [
            c for c in customers.columns if c != customer_col and _is_numeric_or_bool(customers[c].dtype)
        ]
        if not selected:
            raise AnalysisError("The customer table has no numeric or yes/no column to use as a feature.")
    else:
        selected = [columns] if isinstance(columns, str) else list(columns)
        if not selected:
            raise AnalysisError("No feature columns were selected.")
        for c in selected:
            if c not in customers.columns:
                raise AnalysisError(
                    f"The customer table has no column '{c}'. Available columns: "
                    f"{', '.join(map(str, customers.columns))}.",
                    column=c,
                )
            if c == customer_col:
                raise AnalysisError(f"The id column '{c}' cannot be used as a feature.", column=c)
            if not _is_numeric_or_bool(customers[c].dtype):
                raise AnalysisError(
                    f"Column '{c}' is not numeric (its type is {customers[c].dtype}), so it cannot be "
                    "used as a clustering feature.",
                    column=c,
                )
        if len(set(selected)) != len(selected):
            raise AnalysisError("A feature column was selected more than once.")

    table = customers[[customer_col, *selected]]
    complete = table.notna().all(axis=1)
    dropped = int((~complete).sum())
    table = table[complete]
    if len(table) == 0:
        raise AnalysisError("Every row has a missing value in the selected columns; no customer is left.")
    ids = table[customer_col]
    if ids.duplicated().any():
        example = ids[ids.duplicated()].iloc[0]
        raise AnalysisError(
            f"Customer id {example!r} appears more than once in column '{customer_col}'; a customer-level "
            "table must have one row per customer.",
            column=customer_col,
        )
    result = pd.DataFrame(
        {c: table[c].to_numpy(dtype=np.float64) for c in selected},
        index=pd.Index(ids.to_numpy(), name=schema.CUSTOMER_ID),
    ).sort_index()
    result.attrs["dropped_rows"] = dropped
    return result


# --------------------------------------------------------------------------------------------
# transform_features
# --------------------------------------------------------------------------------------------

SCALINGS = ("standard", "robust", "none")


@dataclass(frozen=True)
class FeatureMatrix:
    """Transformed features ready for clustering.

    ``values``: float64 DataFrame, same index and columns as the input features, equal to
    ``(log1p(x) if column in logged else x - center) / scale``. ``logged``: columns that were
    log1p-transformed, in column order. ``scaling``: "standard", "robust" or "none". ``center`` and
    ``scale``: per-column offset and divisor applied after the log step (for "none": 0 and 1).
    ``dropped``: customers left out before (set by ``analysis.pipeline.feature_set``; see ``to_dict``).
    """

    values: pd.DataFrame
    logged: list[str] = field(default_factory=list)
    scaling: str = "standard"
    center: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    dropped: dict = field(default_factory=lambda: {"customers": 0, "by_column": {}, "reason": None})

    def to_dict(self) -> dict:
        """JSON-ready description of the transformation (without the values). ``dropped``: customers left out
        of the feature table before transforming it: ``customers`` (count), ``by_column`` (feature -> customers
        without a value in it) and ``reason`` (a sentence, None when nobody was left out)."""
        return {
            "columns": [str(c) for c in self.values.columns],
            "rows": int(len(self.values)),
            "logged": [str(c) for c in self.logged],
            "scaling": self.scaling,
            "center": {str(k): float(v) for k, v in self.center.items()},
            "scale": {str(k): float(v) for k, v in self.scale.items()},
            "dropped": {
                "customers": int(self.dropped.get("customers", 0)),
                "by_column": {str(k): int(v) for k, v in (self.dropped.get("by_column") or {}).items()},
                "reason": self.dropped.get("reason"),
            },
        }


def skewness(values: np.ndarray) -> np.ndarray:
    """Fisher-Pearson moment coefficient of skewness g1 = m3 / m2**1.5 per column.

    ``values`` has shape (n, k); returns shape (k,). Biased (population) moments, as
    ``scipy.stats.skew`` with its default ``bias=True``. A constant column gives NaN.
    """
    x = np.asarray(values, dtype=np.float64)
    dev = x - x.mean(axis=0)
    m2 = (dev**2).mean(axis=0)
    m3 = (dev**3).mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        g1 = m3 / m2**1.5
    return np.where(m2 > 0, g1, np.nan)


def transform_features(
    features: pd.DataFrame,
    *,
    log: str | Sequence[str] | None = "auto",
    scaling: str = "standard",
) -> FeatureMatrix:
    """Log-transform skewed columns, then centre and scale every column.

    ``features`` is a numeric DataFrame of shape (n_customers, k) without missing values (the output
    of :func:`customer_features` or :func:`customer_level_features`).

    ``log``: ``"auto"`` applies ``log1p`` to every column whose values are all >= 0 and whose
    skewness (:func:`skewness`) is > 1; a list of column names log1p-transforms exactly those (a
    column with a negative value raises :class:`AnalysisError`); ``None`` or ``[]`` logs nothing.

    ``scaling``: ``"standard"`` (x - mean) / std with the population std (ddof=0, as scikit-learn's
    StandardScaler); ``"robust"`` (x - median) / IQR with linearly interpolated quartiles (as
    RobustScaler); ``"none"`` leaves the values. A column with zero spread gets scale 1.

    Returns a :class:`FeatureMatrix` whose ``values`` keep the index and columns, as float64.
    """
    if not isinstance(features, pd.DataFrame):
        raise AnalysisError("The features must be a table (a pandas DataFrame).")
    if features.shape[0] == 0 or features.shape[1] == 0:
        raise AnalysisError("The feature table is empty: there is nothing to transform.")
    if scaling not in SCALINGS:
        raise AnalysisError(f"Unknown scaling {scaling!r}; choose one of: {', '.join(SCALINGS)}.")
    for c in features.columns:
        if not _is_numeric_or_bool(features[c].dtype):
            raise AnalysisError(f"Feature column '{c}' is not numeric.", column=str(c))
    x = np.array(features.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64, copy=True)
    bad = ~np.isfinite(x)
    if bad.any():
        col = features.columns[int(np.argmax(bad.any(axis=0)))]
        raise AnalysisError(
            f"Feature column '{col}' has missing or infinite values; remove those customers first.",
            column=str(col),
        )
    columns = list(features.columns)
    nonneg = x.min(axis=0) >= 0

    if isinstance(log, str) and log == "auto":
        mask = nonneg & (np.nan_to_num(skewness(x), nan=0.0) > 1.0)
    elif log is None or (not isinstance(log, str) and len(log) == 0):
        mask = np.zeros(len(columns), dtype=bool)
    elif isinstance(log, str):
        raise AnalysisError(f"log must be 'auto', a list of columns or None, not {log!r}.")
    else:
        mask = np.zeros(len(columns), dtype=bool)
        for c in log:
            if c not in columns:
                raise AnalysisError(
                    f"Cannot log-transform '{c}': there is no such feature column.", column=str(c)
                )
            j = columns.index(c)
            if not nonneg[j]:
                raise AnalysisError(
                    f"Cannot log-transform '{c}': it has negative values (log1p needs values >= 0).",
                    column=str(c),
                )
            mask[j] = True
    if mask.any():
        x[:, mask] = np.log1p(x[:, mask])

    if scaling == "standard":
        center = x.mean(axis=0)
        spread = x.std(axis=0, ddof=0)
    elif scaling == "robust":
        q25, median, q75 = np.quantile(x, [0.25, 0.5, 0.75], axis=0)
        center, spread = median, q75 - q25
    else:
        center, spread = np.zeros(x.shape[1]), np.ones(x.shape[1])
    constant = np.ptp(x, axis=0) == 0
    spread = np.where((spread > 0) & ~constant, spread, 1.0)
    values = pd.DataFrame((x - center) / spread, index=features.index, columns=features.columns)
    return FeatureMatrix(
        values=values,
        logged=[c for c, m in zip(columns, mask, strict=True) if m],
        scaling=scaling,
        center={c: float(v) for c, v in zip(columns, center, strict=True)},
        scale={c: float(v) for c, v in zip(columns, spread, strict=True)},
    )
