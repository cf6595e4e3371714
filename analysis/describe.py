"""Descriptive answers about customers: who buys, how often, how concentrated revenue is, when.

Each question is a small public function taking a clean canonical transactions table (see
:mod:`analysis.schema`; one row per order line, several lines per order, no missing customer id) or a
per-customer revenue Series. Two assemblers return JSON-ready dicts (plain Python numbers, strings and
lists; ``None`` where a value is undefined, never NaN):

* :func:`describe_transactions` for transaction files;
* :func:`describe_customers` for customer-level files (one row per customer, no dates), which says
  which analyses cannot be computed instead of inventing them.

Conventions: *shares* are fractions in [0, 1]; only the ``*_pct`` fields of
:func:`one_time_vs_repeat` are percentages (0..100). Revenue concentration (decile shares, top-20 %
share, Lorenz curve, Gini) and country shares are defined only when total (net) revenue is positive;
otherwise every one of them is NaN / None together, never a share of a negative total. With a positive
total, deciles, top share and country shares use each customer's net revenue (so they add up to the
total), while the Lorenz curve and the Gini count a customer's negative total as 0 (a customer cannot
own a negative part of the curve, and the Gini stays within [0, 1]). Money is in the file's currency units. An
order is a distinct order id; a customer is a distinct customer id. Counts and sums are vectorised
over integer codes (see :class:`analysis.features._TxIndex`), so the table is factorised once per
call, and once for all questions in :func:`describe_transactions`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis import schema
from analysis.errors import AnalysisError
from analysis.features import _distinct_count, _TxIndex

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_CATEGORIES = 20

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _py(value: object) -> object:
    """A JSON-ready Python scalar: numpy types unwrapped, NaN/NA/NaT/inf -> None, dates ISO."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return value
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp | np.datetime64):
        return pd.Timestamp(value).isoformat()
    return str(value)


def _records(df: pd.DataFrame) -> list[dict]:
    """DataFrame rows as a list of JSON-ready dicts."""
    return [{str(k): _py(v) for k, v in row.items()} for row in df.to_dict("records")]


def _ratio(num: float, den: float) -> float | None:
    return float(num) / float(den) if den else None


def _tx_index(
    tx: pd.DataFrame, customer_col: str, order_col: str, date_col: str, amount_col: str
) -> _TxIndex:
    return _TxIndex(
        tx, customer_col=customer_col, order_col=order_col, date_col=date_col, amount_col=amount_col
    )


def _month_labels(first_month: int, n: int) -> list[str]:
    """``"YYYY-MM"`` labels of ``n`` consecutive months from ``first_month`` (months since 1970-01)."""
    return (
        np.arange(first_month, first_month + n, dtype=np.int64).astype("datetime64[M]").astype(str).tolist()
    )


def _revenue_array(per_customer_revenue: pd.Series | np.ndarray | list) -> np.ndarray:
    """Per-customer revenue as a float64 array without missing values; AnalysisError if empty."""
    try:
        values = np.asarray(per_customer_revenue, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AnalysisError("The per-customer revenue must be numbers.") from exc
    values = values.ravel()
    values = values[~np.isnan(values)]
    if values.size == 0:
        raise AnalysisError("There is no customer revenue to analyse.")
    return values


# --------------------------------------------------------------------------------------------
# summary and purchase frequency
# --------------------------------------------------------------------------------------------


def summary(
    tx: pd.DataFrame,
    *,
    customer_col: str = schema.CUSTOMER_ID,
    order_col: str = schema.ORDER_ID,
    date_col: str = schema.ORDER_DATE,
    amount_col: str = schema.AMOUNT,
) -> dict:
    """Headline figures of a transactions table, as a JSON-ready dict.

    Keys: ``customers`` (distinct ids), ``orders`` (distinct order ids), ``revenue`` (sum of
    ``amount``), ``average_order_value`` (revenue / orders), ``average_purchase_value_per_customer``
    (revenue / customers), ``first_date`` and ``last_date`` (ISO 8601 strings),
    ``mean_orders_per_customer`` and ``median_orders_per_customer`` (distinct orders per customer).
    """
    return _summary(_tx_index(tx, customer_col, order_col, date_col, amount_col))


def _summary(idx: _TxIndex) -> dict:
    revenue = float(idx.amount.sum())
    per_customer = idx.orders_per_customer
    dates = idx.dates
    return {
        "customers": int(idx.n_customers),
        "orders": int(idx.n_orders),
        "revenue": revenue,
        "average_order_value": _ratio(revenue, idx.n_orders),
        "average_purchase_value_per_customer": _ratio(revenue, idx.n_customers),
        "first_date": pd.Timestamp(dates.min()).isoformat(),
        "last_date": pd.Timestamp(dates.max()).isoformat(),
        "mean_orders_per_customer": float(per_customer.mean()),
        "median_orders_per_customer": float(np.median(per_customer)),
    }


def frequency_distribution(
    tx: pd.DataFrame,
    *,
    max_orders: int = 10,
    customer_col: str = schema.CUSTOMER_ID,
    order_col: str = schema.ORDER_ID,
) -> pd.DataFrame:
    """How many customers placed 1, 2, ... orders.

    Returns ``max_orders`` rows with columns ``orders`` (label ``"1"`` .. ``str(max_orders - 1)``,
    then ``f"{max_orders}+"`` for the open last bin), ``customers`` (int) and ``share`` (fraction of
    all customers, 0..1). Every bin is present, with 0 customers if empty.
    """
    if isinstance(max_orders, bool) or not isinstance(max_orders, int | np.integer) or max_orders < 1:
        raise AnalysisError(f"max_orders must be a whole number of at least 1, not {max_orders!r}.")
    idx = _TxIndex(tx, customer_col=customer_col, order_col=order_col)
    return _frequency_distribution(idx, int(max_orders))


def _frequency_distribution(idx: _TxIndex, max_orders: int) -> pd.DataFrame:
    capped = np.minimum(idx.orders_per_customer, max_orders)
    counts = np.bincount(capped, minlength=max_orders + 1)[1:]
    labels = [str(i) for i in range(1, max_orders)] + [f"{max_orders}+"]
    return pd.DataFrame({"orders": labels, "customers": counts, "share": counts / counts.sum()})


def one_time_vs_repeat(
    tx: pd.DataFrame,
    *,
    customer_col: str = schema.CUSTOMER_ID,
    order_col: str = schema.ORDER_ID,
    amount_col: str = schema.AMOUNT,
) -> dict:
    """One-time buyers (exactly one distinct order) against repeat buyers (two or more).

    Returns a JSON-ready dict: ``one_time_customers``, ``repeat_customers`` (counts),
    ``one_time_pct``, ``repeat_pct`` (percent of customers, 0..100), ``one_time_revenue``,
    ``repeat_revenue`` (sum of amount) and ``one_time_revenue_pct``, ``repeat_revenue_pct``
    (percent of total revenue, None if total revenue is 0).
    """
    return _one_time_vs_repeat(
        _TxIndex(tx, customer_col=customer_col, order_col=order_col, amount_col=amount_col)
    )


def _one_time_vs_repeat(idx: _TxIndex) -> dict:
    one = idx.orders_per_customer == 1
    revenue = idx.revenue_per_customer
    n = idx.n_customers
    n_one = int(one.sum())
    rev_one = float(revenue[one].sum())
    rev_repeat = float(revenue[~one].sum())
    total = rev_one + rev_repeat

    def pct(part: float, whole: float) -> float | None:
        return 100.0 * part / whole if whole else None

    return {
        "one_time_customers": n_one,
        "one_time_pct": pct(n_one, n),
        "repeat_customers": n - n_one,
        "repeat_pct": pct(n - n_one, n),
        "one_time_revenue": rev_one,
        "one_time_revenue_pct": pct(rev_one, total),
        "repeat_revenue": rev_repeat,
        "repeat_revenue_pct": pct(rev_repeat, total),
    }


# --------------------------------------------------------------------------------------------
# revenue concentration
# --------------------------------------------------------------------------------------------


def revenue_by_customer(
    tx: pd.DataFrame,
    *,
    customer_col: str = schema.CUSTOMER_ID,
    amount_col: str = schema.AMOUNT,
) -> pd.Series:
    """Total amount per customer: float64 Series named ``revenue``, indexed by sorted customer id."""
    idx = _TxIndex(tx, customer_col=customer_col, amount_col=amount_col)
    return _revenue_by_customer(idx)


def _revenue_by_customer(idx: _TxIndex) -> pd.Series:
    return pd.Series(idx.revenue_per_customer, index=idx.customers, name="revenue")


def revenue_deciles(per_customer_revenue: pd.Series | np.ndarray) -> pd.DataFrame:
    """Revenue of each tenth of customers, ranked from the top spenders down.

    Customers are sorted by revenue, highest first (ties keep input order); the customer at 0-based
    rank ``r`` of ``n`` is in decile ``floor(10 r / n) + 1``, so decile 1 is the top 10 %. With fewer
    than 10 customers some deciles are empty (0 customers, 0 revenue). Missing values are ignored.

    Returns 10 rows: ``decile`` (1..10), ``customers`` (int), ``revenue`` (sum) and ``share``
    (fraction of total revenue, NaN if the total is 0 or negative).
    """
    values = _revenue_array(per_customer_revenue)
    n = values.size
    ranked = values[np.argsort(-values, kind="stable")]
    decile = np.arange(n, dtype=np.int64) * 10 // n
    customers = np.bincount(decile, minlength=10)
    revenue = np.bincount(decile, weights=ranked, minlength=10)
    total = ranked.sum()
    share = revenue / total if total > 0 else np.full(10, np.nan)
    return pd.DataFrame(
        {"decile": np.arange(1, 11), "customers": customers, "revenue": revenue, "share": share}
    )


def top_share(per_customer_revenue: pd.Series | np.ndarray, fraction: float = 0.2) -> float:
    """Share of total revenue (0..1) earned from the top ``fraction`` of customers.

    The top group is the ``k = round(n * fraction)`` highest spenders, rounding halves up, and at
    least one customer. Missing values are ignored. Returns NaN if total revenue is <= 0.
    """
    if not 0 < fraction <= 1:
        raise AnalysisError(f"fraction must be greater than 0 and at most 1, not {fraction!r}.")
    values = _revenue_array(per_customer_revenue)
    n = values.size
    k = min(n, max(1, math.floor(n * fraction + 0.5)))
    total = values.sum()
    if total <= 0:
        return float("nan")
    top = np.partition(values, n - k)[n - k :]
    return float(top.sum() / total)


def lorenz_curve(per_customer_revenue: pd.Series | np.ndarray, points: int = 101) -> pd.DataFrame:
    """Lorenz curve of revenue over customers, sampled at ``points`` evenly spaced customer shares.

    Customers are sorted by revenue ascending (negative totals count as 0, missing values are
    ignored); ``revenue_share`` at ``customer_share = p`` is the share of revenue earned by the
    poorest fraction ``p`` of customers, linearly interpolated between customers. Returns ``points``
    rows with ``customer_share`` 0..1 and ``revenue_share`` from 0 to 1 (NaN if total net revenue is 0 or
    negative).
    """
    if isinstance(points, bool) or not isinstance(points, int | np.integer) or points < 2:
        raise AnalysisError(f"points must be a whole number of at least 2, not {points!r}.")
    net = _revenue_array(per_customer_revenue)
    values = np.sort(np.clip(net, 0.0, None))
    n = values.size
    cumulative = np.concatenate(([0.0], np.cumsum(values)))
    grid = np.linspace(0.0, 1.0, int(points))
    total = cumulative[-1]
    if total > 0 and net.sum() > 0:
        share = np.interp(grid, np.arange(n + 1) / n, cumulative / total)
    else:
        share = np.full(grid.size, np.nan)
    return pd.DataFrame({"customer_share": grid, "revenue_share": share})


def gini(per_customer_revenue: pd.Series | np.ndarray) -> float:
    """Gini coefficient of per-customer revenue: 0 when everyone spends the same, towards 1 when a few
    customers earn everything.

    Exact formula on the ascending values ``x_1 <= .. <= x_n`` (negatives clipped to 0, missing
    ignored): ``G = sum_i (2 i - n - 1) x_i / (n sum_i x_i)``. NaN if total net revenue (before
    clipping) is 0 or negative, as the other concentration figures.
    """
    net = _revenue_array(per_customer_revenue)
    values = np.sort(np.clip(net, 0.0, None))
    n = values.size
    total = values.sum()
    if total <= 0 or net.sum() <= 0:
        return float("nan")
    weights = 2.0 * np.arange(1, n + 1, dtype=np.float64) - n - 1
    return float(np.dot(weights, values) / (n * total))


def revenue_by_country(
    tx: pd.DataFrame,
    *,
    country_col: str = schema.COUNTRY,
    customer_col: str = schema.CUSTOMER_ID,
    amount_col: str = schema.AMOUNT,
) -> pd.DataFrame | None:
    """Customers and revenue per country, or None if the table has no ``country_col``.

    Returns one row per country (missing country kept as its own row with country NaN): ``country``,
    ``customers`` (distinct ids that bought there; a customer in two countries counts in both),
    ``revenue`` (sum of amount), ``share`` (fraction of total revenue), sorted by revenue
    descending, then country name.
    """
    if not isinstance(tx, pd.DataFrame) or country_col not in tx.columns:
        return None
    return _revenue_by_country(_TxIndex(tx, customer_col=customer_col, amount_col=amount_col), country_col)


def _revenue_by_country(idx: _TxIndex, country_col: str) -> pd.DataFrame:
    codes, countries = pd.factorize(idx.tx[country_col], use_na_sentinel=False)
    codes = codes.astype(np.int64, copy=False)
    k = len(countries)
    revenue = np.bincount(codes, weights=idx.amount, minlength=k)
    customers = _distinct_count(codes, idx.customer_codes, k, idx.n_customers)
    total = revenue.sum()
    out = pd.DataFrame(
        {
            "country": countries,
            "customers": customers,
            "revenue": revenue,
            "share": revenue / total if total > 0 else np.nan,
        }
    )
    return out.sort_values(["revenue", "country"], ascending=[False, True], kind="stable").reset_index(
        drop=True
    )


# --------------------------------------------------------------------------------------------
# seasonality and cohorts
# --------------------------------------------------------------------------------------------


def monthly_trend(
    tx: pd.DataFrame,
    *,
    customer_col: str = schema.CUSTOMER_ID,
    order_col: str = schema.ORDER_ID,
    date_col: str = schema.ORDER_DATE,
    amount_col: str = schema.AMOUNT,
) -> pd.DataFrame:
    """Revenue, orders and active customers per calendar month.

    Returns one row per month from the first to the last month with data, months without data
    included with zeros: ``month`` ("YYYY-MM"), ``revenue`` (sum of amount of the month's lines),
    ``orders`` (distinct order ids with a line that month), ``customers`` (distinct customers with
    a line that month).
    """
    return _monthly_trend(_tx_index(tx, customer_col, order_col, date_col, amount_col))


def _monthly_trend(idx: _TxIndex) -> pd.DataFrame:
    months = idx.months
    first = int(months.min())
    rel = months - first
    n = int(rel.max()) + 1
    return pd.DataFrame(
        {
            "month": _month_labels(first, n),
            "revenue": np.bincount(rel, weights=idx.amount, minlength=n),
            "orders": _distinct_count(rel, idx.order_codes, n, idx.n_orders),
            "customers": _distinct_count(rel, idx.customer_codes, n, idx.n_customers),
        }
    )


def weekday_hour(
    tx: pd.DataFrame,
    *,
    order_col: str = schema.ORDER_ID,
    date_col: str = schema.ORDER_DATE,
    amount_col: str = schema.AMOUNT,
) -> dict:
    """Orders and revenue by weekday and hour of day, as a JSON-ready dict.

    Keys: ``weekdays`` (["Mon", .., "Sun"]), ``hours`` ([0, .., 23]), ``orders`` (7 x 24 list of
    lists: distinct order ids with a line timed in that weekday/hour cell) and ``revenue`` (7 x 24:
    sum of amount of the lines in the cell). Rows are weekdays, columns hours.
    """
    return _weekday_hour(_TxIndex(tx, order_col=order_col, date_col=date_col, amount_col=amount_col))


def _weekday_hour(idx: _TxIndex) -> dict:
    weekday = (idx.days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    cell = weekday * 24 + idx.hours
    orders = _distinct_count(cell, idx.order_codes, 7 * 24, idx.n_orders).reshape(7, 24)
    revenue = np.bincount(cell, weights=idx.amount, minlength=7 * 24).reshape(7, 24)
    return {
        "weekdays": list(WEEKDAYS),
        "hours": list(range(24)),
        "orders": orders.tolist(),
        "revenue": revenue.tolist(),
    }


def cohort_retention(
    tx: pd.DataFrame,
    *,
    customer_col: str = schema.CUSTOMER_ID,
    date_col: str = schema.ORDER_DATE,
) -> dict:
    """Monthly acquisition cohorts and the share of each cohort buying again in later months.

    A customer's cohort is the calendar month of their first order; they are active in period ``p``
    if they have an order in month cohort + ``p``. Returns a JSON-ready dict: ``cohorts``
    ("YYYY-MM" of every month in which at least one customer first bought, ascending), ``periods``
    ([0, .., last month - first cohort month]), ``customers`` (cohort sizes) and ``retention``
    (one list per cohort: fraction 0..1 of the cohort active in each period; period 0 is 1.0;
    None for periods after the last month of data).
    """
    return _cohort_retention(_TxIndex(tx, customer_col=customer_col, date_col=date_col))


def _cohort_retention(idx: _TxIndex) -> dict:
    months = idx.months
    first_month = int(months.min())
    n = int(months.max()) - first_month + 1
    rel = months - first_month
    cohort = np.full(idx.n_customers, n, dtype=np.int64)
    np.minimum.at(cohort, idx.customer_codes, rel)
    keys = pd.unique(idx.customer_codes * n + rel)  # distinct (customer, active month)
    customer, active = keys // n, keys % n
    period = active - cohort[customer]
    active_counts = np.bincount(cohort[customer] * n + period, minlength=n * n).reshape(n, n)
    sizes = np.bincount(cohort, minlength=n)
    present = np.flatnonzero(sizes)
    retention = []
    for c in present:
        row = (active_counts[c] / sizes[c]).tolist()
        retention.append([row[p] if c + p < n else None for p in range(n)])
    return {
        "cohorts": [_month_labels(first_month, n)[c] for c in present],
        "periods": list(range(n)),
        "customers": sizes[present].tolist(),
        "retention": retention,
    }


# --------------------------------------------------------------------------------------------
# assemblers
# --------------------------------------------------------------------------------------------


def _concentration(per_customer_revenue: np.ndarray | pd.Series) -> dict:
    lorenz = lorenz_curve(per_customer_revenue)
    return {
        "deciles": _records(revenue_deciles(per_customer_revenue)),
        "top_20pct_share": _py(top_share(per_customer_revenue, 0.2)),
        "gini": _py(gini(per_customer_revenue)),
        "lorenz": {
            "customer_share": [_py(v) for v in lorenz["customer_share"]],
            "revenue_share": [_py(v) for v in lorenz["revenue_share"]],
        },
    }


def describe_transactions(
    tx: pd.DataFrame,
    *,
    customer_col: str = schema.CUSTOMER_ID,
    order_col: str = schema.ORDER_ID,
    date_col: str = schema.ORDER_DATE,
    amount_col: str = schema.AMOUNT,
    country_col: str = schema.COUNTRY,
) -> dict:
    """Every descriptive answer for a clean transactions table, as one JSON-ready dict.

    Keys: ``summary`` (:func:`summary`), ``frequency_distribution`` (records of
    :func:`frequency_distribution`), ``one_time_vs_repeat``, ``revenue_contribution`` (``deciles``
    records, ``top_20pct_share``, ``gini``, ``lorenz`` {``customer_share``, ``revenue_share``},
    ``by_country`` records or None), ``seasonality`` {``monthly`` records, ``weekday_hour``},
    ``cohorts`` (:func:`cohort_retention`) and ``unavailable`` (list of {``analysis``, ``reason``};
    it names ``by_country`` when there is no country column).
    """
    idx = _tx_index(tx, customer_col, order_col, date_col, amount_col)
    contribution = _concentration(idx.revenue_per_customer)
    unavailable = []
    if country_col in tx.columns:
        contribution["by_country"] = _records(_revenue_by_country(idx, country_col))
    else:
        contribution["by_country"] = None
        unavailable.append(
            {
                "analysis": "by_country",
                "reason": "The file has no country column, so revenue by country cannot be computed.",
            }
        )
    return {
        "summary": _summary(idx),
        "frequency_distribution": _records(_frequency_distribution(idx, 10)),
        "one_time_vs_repeat": _one_time_vs_repeat(idx),
        "revenue_contribution": contribution,
        "seasonality": {"monthly": _records(_monthly_trend(idx)), "weekday_hour": _weekday_hour(idx)},
        "cohorts": _cohort_retention(idx),
        "unavailable": unavailable,
    }


_NO_ORDERS = "The file has one row per customer and no orders or order dates, so "
_CUSTOMER_LEVEL_UNAVAILABLE = {
    "frequency_distribution": _NO_ORDERS + "purchase frequency cannot be computed.",
    "one_time_vs_repeat": _NO_ORDERS
    + "the share of one-time and repeat buyers (repeat rate) cannot be computed.",
    "seasonality": _NO_ORDERS + "monthly, weekday and hourly patterns cannot be computed.",
    "cohorts": _NO_ORDERS + "acquisition cohorts and retention cannot be computed.",
    "average_order_value": _NO_ORDERS
    + "the average order value cannot be computed; the average spend per customer is shown instead.",
}


def describe_customers(
    customers: pd.DataFrame,
    *,
    spend_col: str = schema.AMOUNT,
    customer_col: str = schema.CUSTOMER_ID,
    country_col: str = schema.COUNTRY,
    max_categories: int = MAX_CATEGORIES,
) -> dict:
    """Descriptive answers for a customer-level table (one row per customer, no dates).

    Same keys as :func:`describe_transactions`, plus ``by_category``. What the file cannot answer is
    None and listed in ``unavailable`` with a plain-sentence reason, never estimated:
    ``frequency_distribution``, ``one_time_vs_repeat``, ``seasonality`` and ``cohorts`` are None;
    ``summary`` has ``customers`` (distinct ids), ``revenue`` (sum of ``spend_col``) and
    ``average_purchase_value_per_customer`` (mean spend over customers with a spend value) and None
    for orders, average order value, dates and orders per customer. ``revenue_contribution`` is
    computed on per-customer spend (rows of one id summed, missing spend ignored). Without a spend
    column the revenue figures are None and listed as unavailable too.

    ``by_category``: for each text, category or yes/no column (other than id and spend) with at most
    ``max_categories`` distinct values, records {``value``, ``customers``, ``mean_spend``} sorted by
    customers descending (mean_spend None without spend); ``{}`` if there is none.
    """
    if not isinstance(customers, pd.DataFrame):
        raise AnalysisError("The customer table must be a table (a pandas DataFrame).")
    if len(customers) == 0:
        raise AnalysisError("The customer table is empty: there is nothing to analyse.")
    if customer_col not in customers.columns:
        raise AnalysisError(f"The customer table has no id column '{customer_col}'.", column=customer_col)

    ids = customers[customer_col]
    n_customers = int(ids.dropna().drop_duplicates().size)
    unavailable = [{"analysis": k, "reason": v} for k, v in _CUSTOMER_LEVEL_UNAVAILABLE.items()]

    spend = None
    if spend_col in customers.columns:
        col = customers[spend_col]
        if not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            raise AnalysisError(
                f"The spend column '{spend_col}' must hold numbers, but its type is {col.dtype}.",
                column=spend_col,
            )
        if col.notna().any():
            spend = col.astype("float64")
    if spend is not None:
        per_customer = spend.groupby(ids, sort=True).sum(min_count=1).dropna()
        revenue = float(per_customer.sum())
        contribution = _concentration(per_customer)
        apv = revenue / len(per_customer)
    else:
        revenue = apv = None
        contribution = None
        cause = (
            f"The spend column '{spend_col}' has no values"
            if spend_col in customers.columns
            else "The file has no spend column"
        )
        reason = (
            f"{cause}, so revenue, average spend per customer and revenue concentration cannot be computed."
        )
        unavailable += [
            {"analysis": "revenue", "reason": reason},
            {"analysis": "average_purchase_value_per_customer", "reason": reason},
            {"analysis": "revenue_contribution", "reason": reason},
        ]

    if country_col in customers.columns and contribution is not None:
        by_country = pd.DataFrame({"country": customers[country_col], "id": ids, "spend": spend})
        grouped = by_country.groupby("country", dropna=False, sort=False)
        table = pd.DataFrame(
            {
                "customers": by_country.dropna(subset=["id"])
                .drop_duplicates(["country", "id"])
                .groupby("country", dropna=False, sort=False)
                .size(),
                "revenue": grouped["spend"].sum(),
            }
        )
        table["customers"] = table["customers"].fillna(0).astype("int64")
        table["share"] = table["revenue"] / revenue if revenue > 0 else np.nan
        table = table.rename_axis("country").reset_index()
        table = table.sort_values(["revenue", "country"], ascending=[False, True], kind="stable")
        contribution["by_country"] = _records(table)
    elif contribution is not None:
        contribution["by_country"] = None
        unavailable.append(
            {
                "analysis": "by_country",
                "reason": "The file has no country column, so revenue by country cannot be computed.",
            }
        )

    return {
        "summary": {
            "customers": n_customers,
            "orders": None,
            "revenue": revenue,
            "average_order_value": None,
            "average_purchase_value_per_customer": apv,
            "first_date": None,
            "last_date": None,
            "mean_orders_per_customer": None,
            "median_orders_per_customer": None,
        },
        "frequency_distribution": None,
        "one_time_vs_repeat": None,
        "revenue_contribution": contribution,
        "seasonality": None,
        "cohorts": None,
        "by_category": _by_category(customers, spend, customer_col, spend_col, max_categories),
        "unavailable": unavailable,
    }


def _by_category(
    customers: pd.DataFrame,
    spend: pd.Series | None,
    customer_col: str,
    spend_col: str,
    max_categories: int,
) -> dict:
    """{column: records of value, customers, mean_spend} for low-cardinality categorical columns."""
    out = {}
    for name in customers.columns:
        if name in (customer_col, spend_col):
            continue
        col = customers[name]
        dtype = col.dtype
        categorical = (
            pd.api.types.is_bool_dtype(dtype)
            or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype)
            or pd.api.types.is_object_dtype(dtype)
        )
        if not categorical or col.nunique(dropna=False) > max_categories:
            continue
        frame = pd.DataFrame({"value": col, "spend": spend if spend is not None else np.nan})
        grouped = frame.groupby("value", dropna=False, sort=False, observed=True)["spend"]
        table = pd.DataFrame({"customers": grouped.size(), "mean_spend": grouped.mean()})
        table = table.rename_axis("value").reset_index()
        table = table.sort_values(["customers", "value"], ascending=[False, True], kind="stable")
        out[str(name)] = _records(table)
    return out
