"""Per-customer features from a clean canonical polars table, equal to :func:`analysis.features.customer_features`.

Every feature name of :data:`analysis.schema.FEATURES` is supported. The result is the pandas table the pandas
function returns (float64, index ``customer_id`` of the sorted customer ids, columns in the requested order);
sums are added in another order, so values agree to about 1e-12 relative, not bit for bit.

Inputs the pandas function refuses (missing ids, order ids, dates or amounts, an as-of date before the last
order, unknown names, ``return_rate`` without returns, ``distinct_products`` without a product column) raise
:class:`~analysis.polars_load.Unsupported`, so the caller can let the pandas function word the error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import polars as pl

from analysis import schema as S
from analysis.features import _as_timestamp, _validate_feature_names
from analysis.polars_load import Unsupported

_NS_PER_DAY = 86_400 * 10**9


def customer_features(tx: pl.DataFrame, *, as_of: pd.Timestamp, features: str | Sequence[str] = S.DEFAULT_FEATURES,
                      returns: pl.DataFrame | None = None) -> pd.DataFrame:
    """customers x ``features`` (see :func:`analysis.features.customer_features` for each definition)."""
    names = _validate_feature_names(features)
    wanted = set(names)
    if tx.height == 0:
        raise Unsupported("no transactions")
    if S.RETURN_RATE in wanted and returns is None:
        raise Unsupported("return_rate without returns")
    if S.DISTINCT_PRODUCTS in wanted and S.PRODUCT_ID not in tx.columns:
        raise Unsupported("distinct_products without products")
    needed = [S.CUSTOMER_ID, S.ORDER_DATE, S.AMOUNT]
    if wanted & {S.FREQUENCY, S.AVG_ORDER_VALUE, S.MEAN_DAYS_BETWEEN}:
        needed.append(S.ORDER_ID)
    nulls = tx.select(pl.col(c).is_null().any() for c in needed).row(0)
    if any(nulls):
        raise Unsupported("missing values in a column the features need")
    as_of_ns = int(_as_timestamp(as_of).as_unit("ns").value)

    aggs = [pl.col(S.ORDER_DATE).min().alias("_first"), pl.col(S.ORDER_DATE).max().alias("_last"),
            pl.col(S.AMOUNT).sum().alias(S.MONETARY)]
    if wanted & {S.FREQUENCY, S.AVG_ORDER_VALUE, S.MEAN_DAYS_BETWEEN}:
        aggs.append(pl.col(S.ORDER_ID).n_unique().cast(pl.Float64).alias(S.FREQUENCY))
    if S.DISTINCT_PRODUCTS in wanted:
        aggs.append(pl.col(S.PRODUCT_ID).drop_nulls().n_unique().cast(pl.Float64).alias(S.DISTINCT_PRODUCTS))
    per = tx.group_by(S.CUSTOMER_ID).agg(aggs).sort(S.CUSTOMER_ID)
    last_ns = per["_last"].cast(pl.Int64).to_numpy()
    if as_of_ns < last_ns.max():
        raise Unsupported("as-of date before the last order")
    first_ns = per["_first"].cast(pl.Int64).to_numpy()
    out: dict[str, np.ndarray] = {}
    recency = (as_of_ns - last_ns) / _NS_PER_DAY
    tenure = (as_of_ns - first_ns) / _NS_PER_DAY
    out[S.RECENCY], out[S.TENURE] = recency, tenure
    out[S.MONETARY] = per[S.MONETARY].to_numpy().astype(np.float64)
    if S.FREQUENCY in per.columns:
        freq = per[S.FREQUENCY].to_numpy()
        out[S.FREQUENCY] = freq
        out[S.AVG_ORDER_VALUE] = out[S.MONETARY] / freq
        span = (last_ns - first_ns) / _NS_PER_DAY
        gaps = np.divide(span, freq - 1, out=np.zeros_like(span), where=freq > 1)
        out[S.MEAN_DAYS_BETWEEN] = np.where(freq > 1, gaps, tenure)
    if S.DISTINCT_PRODUCTS in wanted:
        out[S.DISTINCT_PRODUCTS] = per[S.DISTINCT_PRODUCTS].to_numpy()
    index = pd.Index(per[S.CUSTOMER_ID].to_numpy().astype(object), name=S.CUSTOMER_ID, dtype="str")
    if S.RETURN_RATE in wanted:
        out[S.RETURN_RATE] = _return_rate(returns, per.select(S.CUSTOMER_ID), out[S.MONETARY])
    return pd.DataFrame({n: out[n] for n in names}, index=index).astype(np.float64)


def _return_rate(returns: pl.DataFrame, customers: pl.DataFrame, purchased: np.ndarray) -> np.ndarray:
    """Returned / purchased value per customer (rows of ``customers``), clipped to [0, 1]."""
    returned = (returns.filter(pl.col(S.AMOUNT).is_not_null())
                .group_by(S.CUSTOMER_ID).agg(pl.col(S.AMOUNT).abs().sum().alias("_returned")))
    joined = customers.join(returned, on=S.CUSTOMER_ID, how="left", maintain_order="left")
    value = joined["_returned"].fill_null(0.0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(purchased > 0, value / purchased, np.where(value > 0, 1.0, 0.0))
    return np.clip(rate, 0.0, 1.0)
