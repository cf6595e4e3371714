"""Built-in demo dataset: realistic synthetic e-commerce transactions with planted customer segments.

The table uses the UCI *Online Retail* column layout (``InvoiceNo``, ``StockCode``, ``Description``,
``Quantity``, ``InvoiceDate``, ``UnitPrice``, ``CustomerID``, ``Country``) so that the product's loader
recognises it like the real file, warts included:

* seasonality (Q4 peak, Nov-Dec about twice the spring level), business-hours ordering, fewer weekend
  orders, quiet Christmas days;
* heavy-tailed spend (lognormal quantities and prices, case-size multiples) and a handful of
  wholesale-like customers with huge quantities;
* cancellations (~2 % of lines): a line ``C<number>`` mirroring an earlier purchase line of the same
  customer and product with a negative quantity, dated later;
* guest orders (~20 % of lines) without ``CustomerID``; a few exact duplicate rows; a few zero-price
  lines; non-product codes (``POST``, ``C2``, ``DOT``, ``M``).

Every identified customer belongs to one of four planted segments (:data:`SEGMENT_NAMES`), chosen to
be well separated in the log-RFM space (recency in days, distinct invoices, revenue; ``log1p`` then
standardised), so that k-means with k = 4 on the cleaned purchases recovers them. ``truth`` holds the
labels.

Everything is vectorised numpy (loops only over segments and products): 10 million rows take a few
seconds. The output is a pure function of the arguments (same seed, same frame).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analysis.errors import AnalysisError
from analysis.schema import CUSTOMER_ID

__all__ = [
    "COLUMNS",
    "PLANTED_K",
    "SEGMENT_NAMES",
    "DemoData",
    "default_n_customers",
    "generate_transactions",
    "write_demo",
]

MIN_ROWS = 100  # the fewest rows generate_transactions accepts

COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
PLANTED_K = 4

# Shares of all rows (the rest are identified customers' purchase lines).
GUEST_SHARE = 0.20
CANCEL_SHARE = 0.02
DUPLICATE_SHARE = 0.001
ZERO_PRICE_SHARE = 0.0005
MANUAL_SHARE = 0.0003

MAX_LINES_PER_ORDER = 30
MIN_DAYS = 180
FIRST_INVOICE = 536365
FIRST_CUSTOMER_ID = 12346
MAX_DEFAULT_CUSTOMERS = 200_000

_SECONDS_PER_DAY = 86_400
_TABLE_SIZE = 1 << 20


@dataclass(frozen=True)
class _Segment:
    name: str
    share: float  # of identified customers
    orders: tuple[int, int]  # number of orders (invoices), inclusive range
    last: tuple[float, float]  # recency of the last order, as a fraction of the period length
    first: tuple[float, float]  # recency of the first order (customers with 2+ orders)
    lines: float  # relative number of lines per order
    qty: float  # median units per line before the case size
    spread: float  # sigma of the lognormal units per line


_SEGMENTS = (
    _Segment("Champions", 0.15, (15, 40), (0.0, 0.025), (0.85, 0.999), 1.6, 3.0, 0.7),
    _Segment("Loyal regulars", 0.30, (4, 10), (0.04, 0.14), (0.45, 0.95), 1.0, 2.0, 0.7),
    _Segment("New one-time", 0.25, (1, 1), (0.004, 0.06), (0.0, 0.0), 0.6, 1.0, 0.5),
    _Segment("Lapsed one-time", 0.30, (1, 1), (0.55, 0.955), (0.0, 0.0), 0.8, 1.6, 0.5),
)
SEGMENT_NAMES = tuple(s.name for s in _SEGMENTS)

_GUEST_LINES = 9.0  # mean lines per guest order
_GUEST_QTY = 1.5

_COUNTRIES = (
    ("United Kingdom", 0.850),
    ("Germany", 0.025),
    ("France", 0.022),
    ("EIRE", 0.020),
    ("Spain", 0.012),
    ("Netherlands", 0.012),
    ("Belgium", 0.010),
    ("Switzerland", 0.009),
    ("Portugal", 0.008),
    ("Australia", 0.007),
    ("Norway", 0.006),
    ("Italy", 0.006),
    ("Channel Islands", 0.005),
    ("Finland", 0.004),
    ("Sweden", 0.004),
)
_UK, _EIRE = 0, 3

# Month weights (Jan..Dec): Nov-Dec about twice the spring level.
_MONTH_WEIGHT = np.array([0.80, 0.78, 0.92, 0.90, 0.95, 0.92, 0.90, 0.95, 1.20, 1.40, 2.00, 1.85])
# Monday..Sunday.
_WEEKDAY_WEIGHT = np.array([1.00, 1.08, 1.05, 1.12, 0.90, 0.35, 0.55])
_HOURS = np.arange(7, 21)
_HOUR_WEIGHT = np.array([1, 4, 8, 11, 13, 14, 13, 11, 8, 6, 4, 3, 2, 1], dtype=float)

_COLOURS = (
    "WHITE", "RED", "PINK", "BLUE", "GREEN", "IVORY", "BLACK", "CREAM",
    "SILVER", "GOLD", "PURPLE", "ORANGE", "YELLOW", "PASTEL", "NATURAL", "ZINC",
)  # fmt: skip
_STYLES = (
    "HANGING HEART", "RETROSPOT", "POLKADOT", "REGENCY", "SPACEBOY", "PAISLEY", "FLORAL", "STAR",
    "BIRD", "SKULL", "CHRISTMAS", "WOODLAND", "ENGLISH ROSE", "DOLLY GIRL", "JUMBO", "VINTAGE",
    "SWEETHEART", "ANTIQUE", "FAIRY CAKE", "LOVE BIRD",
)  # fmt: skip
# (item, typical unit price)
_ITEMS = (
    ("T-LIGHT HOLDER", 2.55), ("LUNCH BAG", 1.65), ("CAKE CASES", 0.55), ("MUG", 1.25),
    ("TEACUP AND SAUCER", 2.95), ("NOTEBOOK", 1.45), ("CUSHION COVER", 3.75), ("PARTY BUNTING", 4.95),
    ("DOORMAT", 7.95), ("WATER BOTTLE", 4.25), ("BAKING SET", 4.95), ("PHOTO FRAME", 2.10),
    ("JAM JAR", 0.85), ("CANDLE", 1.25), ("GIFT WRAP", 0.42), ("LANTERN", 4.95),
    ("KEY RING", 0.65), ("WALL CLOCK", 8.50), ("SHOPPER BAG", 1.95), ("PAPER NAPKINS", 0.85),
    ("STORAGE TIN", 2.95), ("CHALKBOARD", 4.65), ("COAT HANGER", 1.25), ("TRINKET BOX", 1.65),
    ("GARLAND", 3.75), ("ALARM CLOCK", 3.75), ("PENCIL CASE", 0.85), ("BOWL", 1.25),
    ("PLATE", 1.69), ("TEA TOWEL", 2.95), ("APRON", 5.95), ("PURSE", 2.10),
    ("HOT WATER BOTTLE", 4.95), ("SOAP DISH", 2.55), ("METAL SIGN", 2.10), ("ORNAMENT", 0.85),
    ("DRAWER KNOB", 1.25), ("STICKER SHEET", 0.85), ("WRAPPING PAPER", 0.42), ("RIBBON REEL", 1.65),
)  # fmt: skip
_CASE_SIZES = np.array([1, 1, 1, 1, 2, 3, 4, 6, 6, 12, 12, 24])

# Non-product codes (StockCode, Description).
_SPECIAL = (("POST", "POSTAGE"), ("C2", "CARRIAGE"), ("DOT", "DOTCOM POSTAGE"), ("M", "Manual"))


@dataclass(frozen=True)
class DemoData:
    """A generated demo dataset.

    ``transactions``: the UCI-layout line items (:data:`COLUMNS`). ``truth``: one row per identified
    customer, indexed by the customer id as text (``"12346"``, index name ``customer_id``), with the
    planted ``segment`` (int 0..3, see :data:`SEGMENT_NAMES`) and ``segment_name``. ``as_of``: midnight
    after the last day of the period, the reference date for recency. ``planted_k``: number of
    planted segments.
    """

    transactions: pd.DataFrame
    truth: pd.DataFrame
    as_of: pd.Timestamp
    planted_k: int = PLANTED_K


def default_n_customers(n_rows: int) -> int:
    """Customers generated for ``n_rows`` rows when not given: about one per 30 rows, capped at 200k
    (but never so few that orders would need more than ~20 lines on average)."""
    return max(4, min(n_rows // 30, MAX_DEFAULT_CUSTOMERS), n_rows // 150)


def generate_transactions(
    n_rows: int = 200_000,
    *,
    seed: int = 0,
    n_customers: int | None = None,
    start: str | pd.Timestamp = "2023-01-01",
    end: str | pd.Timestamp = "2024-12-31",
    n_products: int = 1000,
) -> DemoData:
    """Generate ``n_rows`` transaction lines with planted customer segments.

    ``start`` and ``end`` are inclusive days (at least 180 days apart). ``n_customers`` defaults to
    :func:`default_n_customers`; every customer has at least one purchase line. Raises
    :class:`AnalysisError` when the parameters cannot be honoured.
    """
    n_rows = _check_int("n_rows", n_rows, MIN_ROWS)
    n_products = _check_int("n_products", n_products, 10)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise AnalysisError(f"The seed must be a non-negative whole number, got {seed!r}.")
    first_day, n_days = _period(start, end)
    if n_customers is None:
        n_customers = default_n_customers(n_rows)
    n_customers = _check_int("n_customers", n_customers, 4)
    rng = np.random.default_rng(seed)

    n_guest_lines = round(GUEST_SHARE * n_rows)
    n_cancel = round(CANCEL_SHARE * n_rows)
    n_dup = round(DUPLICATE_SHARE * n_rows)
    n_ident_lines = n_rows - n_guest_lines - n_cancel - n_dup

    day_cdf = _day_cdf(first_day, n_days)
    catalog = _catalog(rng, n_products)

    # --- customers -------------------------------------------------------------------------------
    counts = _segment_counts(n_customers)
    cust_seg = rng.permutation(np.repeat(np.arange(PLANTED_K), counts))
    id_pool = max(2 * n_customers, 6000)
    cust_id = FIRST_CUSTOMER_ID + np.sort(rng.choice(id_pool, n_customers, replace=False))
    country_p = np.array([p for _, p in _COUNTRIES])
    cust_country = _sample(rng, country_p / country_p.sum(), n_customers)
    cust_qty_mu = rng.normal(0.0, 0.25, n_customers)  # spending propensity
    cust_orders = np.empty(n_customers, dtype=np.int64)
    last_day = np.empty(n_customers, dtype=np.int64)
    first_day_c = np.empty(n_customers, dtype=np.int64)
    for k, seg in enumerate(_SEGMENTS):
        idx = np.flatnonzero(cust_seg == k)
        lo, hi = seg.orders
        cust_orders[idx] = lo + np.floor((hi - lo + 1) * rng.beta(1.2, 1.8, idx.size)).astype(np.int64)
        last_day[idx] = _sample_days(rng, day_cdf, *_recency_window(seg.last, n_days), idx.size)
        if hi > 1:
            first_day_c[idx] = _sample_days(rng, day_cdf, *_recency_window(seg.first, n_days), idx.size)
        else:
            first_day_c[idx] = last_day[idx]
    cust_qty_mu += np.log(np.array([s.qty for s in _SEGMENTS]))[cust_seg]
    # A handful of wholesale-like champions buying huge quantities.
    champions = np.flatnonzero(cust_seg == 0)
    n_wholesale = min(champions.size, int(np.clip(n_customers // 800, 1, 12)))
    wholesale = rng.choice(champions, n_wholesale, replace=False)
    cust_qty_factor = np.ones(n_customers, dtype=np.int64)
    cust_qty_factor[wholesale] = rng.integers(10, 60, n_wholesale)

    # --- identified orders -------------------------------------------------------------------------
    n_orders = int(cust_orders.sum())
    if n_ident_lines < n_orders:
        raise AnalysisError(
            f"{n_rows} rows are too few for {n_customers} customers (they place {n_orders} orders, "
            "each needs a line); ask for more rows or fewer customers."
        )
    if n_ident_lines > MAX_LINES_PER_ORDER * n_orders:
        raise AnalysisError(
            f"{n_rows} rows are too many for {n_customers} customers (orders have at most "
            f"{MAX_LINES_PER_ORDER} lines); ask for more customers or fewer rows."
        )
    o_cust = np.repeat(np.arange(n_customers), cust_orders)
    o_first = np.cumsum(cust_orders) - cust_orders
    o_rank = np.arange(n_orders) - np.repeat(o_first, cust_orders)
    # rank 0 is the last order, rank 1 the first one, the others fall in between.
    lo_day = np.where(o_rank == 0, last_day[o_cust], first_day_c[o_cust])
    hi_day = np.where(o_rank == 1, first_day_c[o_cust], last_day[o_cust])
    o_day = lo_day.copy()  # right for ranks 0 and 1
    mid = o_rank >= 2
    o_day[mid] = _sample_days(rng, day_cdf, lo_day[mid], hi_day[mid], int(mid.sum()))
    o_time = o_day * _SECONDS_PER_DAY + _sample_clock(rng, n_orders)
    line_factor = np.array([s.lines for s in _SEGMENTS])[cust_seg[o_cust]]
    o_lines = _draw_lines(rng, line_factor * (n_ident_lines / line_factor.sum()), n_ident_lines)

    # --- guest orders -------------------------------------------------------------------------------
    n_guest_orders = 0
    if n_guest_lines:
        n_guest_orders = min(n_guest_lines, max(1, round(n_guest_lines / _GUEST_LINES)))
        n_guest_orders = max(n_guest_orders, -(-n_guest_lines // MAX_LINES_PER_ORDER))
    g_day = _sample_days(rng, day_cdf, 0, n_days - 1, n_guest_orders)
    g_time = g_day * _SECONDS_PER_DAY + _sample_clock(rng, n_guest_orders)
    g_lines = _draw_lines(rng, np.full(n_guest_orders, _GUEST_LINES), n_guest_lines)
    guest_country_p = np.full(len(_COUNTRIES), 0.1 / (len(_COUNTRIES) - 1))
    guest_country_p[_UK] = 0.9
    g_country = _sample(rng, guest_country_p, n_guest_orders)

    # --- purchase lines (identified orders first, then guest orders) ---------------------------------
    ord_lines = np.concatenate([o_lines, g_lines])
    ord_time = np.concatenate([o_time, g_time])
    ord_cust = np.concatenate([o_cust, np.full(n_guest_orders, -1)])
    ord_country = np.concatenate([cust_country[o_cust], g_country])
    n_all_orders = ord_lines.size
    n_purchase = n_ident_lines + n_guest_lines
    ord_offset = np.cumsum(ord_lines) - ord_lines
    l_order = np.repeat(np.arange(n_all_orders), ord_lines)
    l_pos = np.arange(n_purchase) - ord_offset[l_order]
    l_cust = ord_cust[l_order]
    ident = l_cust >= 0
    l_cust_safe = np.maximum(l_cust, 0)  # guest lines point at customer 0; always masked by `ident`
    l_prod = _draw_products(rng, catalog, l_order, n_all_orders)
    mu = np.where(ident, cust_qty_mu[l_cust_safe], np.log(_GUEST_QTY))
    spreads = np.array([s.spread for s in _SEGMENTS] + [0.8])
    spread = spreads[np.where(ident, cust_seg[l_cust_safe], PLANTED_K)]
    units = np.ceil(np.exp(mu + spread * rng.standard_normal(n_purchase))).astype(np.int64)
    l_qty = units * catalog.case[l_prod] * np.where(ident, cust_qty_factor[l_cust_safe], 1)
    l_price = catalog.price[l_prod] * np.where(l_qty >= 48, 0.85, 1.0)

    _add_special_lines(rng, catalog, ord_country, ord_cust, ord_lines, ord_offset, l_prod, l_qty, l_price)
    l_price = np.round(l_price, 2)
    # Zero-price lines, never an order's first line (so every customer keeps a paid line).
    cand = rng.integers(0, n_purchase, max(1, round(3 * ZERO_PRICE_SHARE * n_purchase)))
    cand = np.unique(cand[l_pos[cand] > 0])
    l_price[rng.permutation(cand)[: round(ZERO_PRICE_SHARE * n_rows)]] = 0.0

    # --- cancellations: one C-invoice per cancelled order, dated after it ----------------------------
    c_src = np.sort(rng.choice(n_ident_lines, n_cancel, replace=False))  # identified lines come first
    c_order, c_first, c_count = np.unique(l_order[c_src], return_index=True, return_counts=True)
    c_pos = np.arange(n_cancel) - np.repeat(c_first, c_count)
    c_time = _cancel_times(rng, ord_time[c_order], n_days)

    # --- events (invoices) in time order, rows laid out by invoice -----------------------------------
    ev_time = np.concatenate([ord_time, c_time])
    ev_size = np.concatenate([ord_lines, c_count])
    ev_order = np.argsort(ev_time, kind="stable")
    ev_rank = np.empty(ev_order.size, dtype=np.int64)
    ev_rank[ev_order] = np.arange(ev_order.size)
    sorted_size = ev_size[ev_order]
    ev_start = (np.cumsum(sorted_size) - sorted_size)[ev_rank]
    n_base = n_rows - n_dup
    dest_p = ev_start[l_order] + l_pos
    c_event = n_all_orders + np.repeat(np.arange(c_order.size), c_count)
    dest_c = ev_start[c_event] + c_pos
    # Exact duplicates follow their original; shift every base row past the duplicates before it.
    dup_of = np.sort(rng.choice(n_base, n_dup, replace=False))
    shift = np.zeros(n_base, dtype=np.int64)
    shift[dup_of[dup_of + 1 < n_base] + 1] = 1
    np.cumsum(shift, out=shift)
    final = np.arange(n_base) + shift
    dest_p = final[dest_p]
    dest_c = final[dest_c]
    dup_src = final[dup_of]

    def assemble(purchase: np.ndarray, cancel: np.ndarray) -> np.ndarray:
        out = np.empty(n_rows, dtype=np.result_type(purchase, cancel))
        out[dest_p] = purchase
        out[dest_c] = cancel
        out[dup_src + 1] = out[dup_src]
        return out

    ev_code = assemble(ev_rank[l_order].astype(np.int32), ev_rank[c_event].astype(np.int32))
    prod = assemble(l_prod, l_prod[c_src])
    quantity = assemble(l_qty, -l_qty[c_src])
    price = assemble(l_price, l_price[c_src])
    cust_float = np.where(ident, cust_id[l_cust_safe].astype(np.float64), np.nan)
    customer = assemble(cust_float, cust_float[c_src])
    country = assemble(ord_country[l_order].astype(np.int8), ord_country[l_order[c_src]].astype(np.int8))
    seconds = ev_time[ev_order][ev_code]

    invoice_codes, invoices = _invoices(ev_order >= n_all_orders)
    start_ns = first_day.to_datetime64().astype("datetime64[ns]")
    frame = pd.DataFrame(
        {
            "InvoiceNo": _categorical(invoice_codes[ev_code], invoices),
            "StockCode": _categorical(prod, catalog.codes),
            "Description": _categorical(prod, catalog.descriptions),
            "Quantity": quantity,
            "InvoiceDate": start_ns + seconds.astype("timedelta64[s]"),
            "UnitPrice": price,
            "CustomerID": customer,
            "Country": _categorical(country, [c for c, _ in _COUNTRIES]),
        },
        copy=False,
    )
    truth = pd.DataFrame(
        {
            "segment": cust_seg.astype(np.int64),
            "segment_name": pd.array(np.array(SEGMENT_NAMES, dtype=object)[cust_seg], dtype="str"),
        },
        index=pd.Index(pd.array(cust_id.astype(str), dtype="str"), name=CUSTOMER_ID),
    )
    as_of = first_day + pd.Timedelta(days=n_days)
    return DemoData(transactions=frame, truth=truth, as_of=as_of, planted_k=PLANTED_K)


def write_demo(path: str | Path, n_rows: int = 200_000, *, seed: int = 0) -> tuple[Path, DemoData]:
    """Generate a demo dataset and write its transactions to ``path`` (``.parquet`` or ``.csv``,
    by suffix; CSV dates as ``YYYY-MM-DD HH:MM:SS``). Returns the path and the :class:`DemoData`."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise AnalysisError(
            f"Cannot write the demo data to {path.name!r}: use a .parquet or .csv file name.", file=str(path)
        )
    data = generate_transactions(n_rows, seed=seed)
    if suffix == ".parquet":
        data.transactions.to_parquet(path, index=False)
    else:
        data.transactions.to_csv(path, index=False, date_format="%Y-%m-%d %H:%M:%S")
    return path, data


# ---------------------------------------------------------------------------------------------------
# helpers


@dataclass(frozen=True)
class _Catalog:
    codes: list[str]  # products then special codes
    descriptions: list[str]
    price: np.ndarray  # unit price per code
    case: np.ndarray  # case size per code (quantities are multiples of it)
    table: np.ndarray  # product for each of 2**20 equal slices of the popularity distribution
    special: dict[str, int]  # special code -> index


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise AnalysisError(f"{name} must be a whole number, got {value!r}.")
    if value < minimum:
        raise AnalysisError(f"{name} must be at least {minimum}, got {value}.")
    return int(value)


def _period(start: str | pd.Timestamp, end: str | pd.Timestamp) -> tuple[pd.Timestamp, int]:
    try:
        first, last = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    except (ValueError, TypeError) as exc:
        raise AnalysisError(f"start and end must be dates, got {start!r} and {end!r}.") from exc
    if first.tz is not None or last.tz is not None:
        raise AnalysisError("start and end must be dates without a time zone.")
    n_days = (last - first).days + 1
    if n_days < MIN_DAYS:
        raise AnalysisError(
            f"The demo period {first.date()}..{last.date()} is {n_days} days long; it needs at least "
            f"{MIN_DAYS} days."
        )
    return first, n_days


def _segment_counts(n_customers: int) -> np.ndarray:
    """Customers per segment by the largest-remainder method, at least one each."""
    shares = np.array([s.share for s in _SEGMENTS])
    raw = shares * (n_customers - PLANTED_K)
    counts = np.floor(raw).astype(np.int64)
    rest = n_customers - PLANTED_K - counts.sum()
    counts[np.argsort(-(raw - counts), kind="stable")[:rest]] += 1
    return counts + 1


def _day_cdf(first_day: pd.Timestamp, n_days: int) -> np.ndarray:
    """Cumulative order-intensity over the days of the period (length n_days + 1, starting at 0)."""
    days = pd.date_range(first_day, periods=n_days, freq="D")
    month, dow, dom = days.month.to_numpy(), days.day_of_week.to_numpy(), days.day.to_numpy()
    weight = _MONTH_WEIGHT[month - 1] * _WEEKDAY_WEIGHT[dow]
    closed = ((month == 12) & (dom >= 24) & (dom <= 26)) | ((month == 1) & (dom == 1))
    weight = np.where(closed, 0.05, weight)
    weight = np.where((month == 12) & (dom > 26), weight * 0.4, weight)
    # A mild growth trend over the period.
    weight = weight * np.linspace(0.9, 1.1, n_days)
    return np.concatenate([[0.0], np.cumsum(weight)])


def _recency_window(frac: tuple[float, float], n_days: int) -> tuple[int, int]:
    """Day indices (lo, hi) for a recency window given as fractions of the period length."""
    r_lo, r_hi = round(frac[0] * n_days), min(round(frac[1] * n_days), n_days - 1)
    return n_days - 1 - r_hi, n_days - 1 - r_lo


def _sample_days(rng: np.random.Generator, cdf: np.ndarray, lo, hi, size: int) -> np.ndarray:
    """Days in [lo, hi] (inclusive, scalars or arrays) drawn with the seasonal intensity."""
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.asarray(hi, dtype=np.int64)
    a, b = cdf[lo], cdf[hi + 1]
    u = a + rng.random(size) * (b - a)
    day = np.searchsorted(cdf, u, side="right") - 1
    return np.clip(day, lo, hi)


def _sample(rng: np.random.Generator, p: np.ndarray, size: int) -> np.ndarray:
    cdf = np.cumsum(p)
    return np.minimum(np.searchsorted(cdf / cdf[-1], rng.random(size), side="right"), p.size - 1)


def _sample_clock(rng: np.random.Generator, size: int) -> np.ndarray:
    """Seconds after midnight: business hours, whole minutes."""
    hour = _HOURS[_sample(rng, _HOUR_WEIGHT, size)]
    return hour * 3600 + rng.integers(0, 60, size) * 60


def _draw_lines(rng: np.random.Generator, mean: np.ndarray, total: int) -> np.ndarray:
    """Lines per order, 1..MAX_LINES_PER_ORDER, overdispersed around ``mean``, summing to ``total``."""
    extra = np.maximum(mean - 1.0, 0.0)
    lines = 1 + rng.negative_binomial(1.5, 1.5 / (1.5 + extra))
    np.clip(lines, 1, MAX_LINES_PER_ORDER, out=lines)
    for _ in range(100):
        diff = total - int(lines.sum())
        if diff == 0:
            return lines
        room = (MAX_LINES_PER_ORDER - lines) if diff > 0 else (lines - 1)
        change = rng.multinomial(abs(diff), room / room.sum())
        lines = np.clip(lines + np.sign(diff) * np.minimum(change, room), 1, MAX_LINES_PER_ORDER)
    raise AssertionError("could not fit the number of lines")  # pragma: no cover


def _catalog(rng: np.random.Generator, n_products: int) -> _Catalog:
    n_combos = len(_COLOURS) * len(_STYLES) * len(_ITEMS)
    if n_products > n_combos:
        raise AnalysisError(f"n_products must be at most {n_combos}, got {n_products}.")
    combo = rng.choice(n_combos, n_products, replace=False)
    colour, rest = np.divmod(combo, len(_STYLES) * len(_ITEMS))
    style, item = np.divmod(rest, len(_ITEMS))
    descriptions = [
        f"{_COLOURS[c]} {_STYLES[s]} {_ITEMS[i][0]}" for c, s, i in zip(colour, style, item, strict=True)
    ]
    numbers = rng.choice(np.arange(10002, 90000), n_products, replace=False)
    letters = np.array(["", "A", "B", "C", "D", "E", "F", "L", "S"])
    suffix = np.where(rng.random(n_products) < 0.15, rng.integers(1, letters.size, n_products), 0)
    codes = [f"{n}{letters[s]}" for n, s in zip(numbers, suffix, strict=True)]
    base = np.array([p for _, p in _ITEMS])[item] * np.exp(rng.normal(0.0, 0.35, n_products))
    # Shop-like prices: x.x5 steps, many ending in .95 above a pound.
    price = np.maximum(np.round(base * 20) / 20, 0.19)
    price = np.where((price >= 1) & (rng.random(n_products) < 0.5), np.floor(price) + 0.95, price)
    case = _CASE_SIZES[rng.integers(0, _CASE_SIZES.size, n_products)]
    popularity = 1.0 / np.arange(1, n_products + 1) ** 0.6
    popularity = popularity[rng.permutation(n_products)]
    special = {code: n_products + i for i, (code, _) in enumerate(_SPECIAL)}
    return _Catalog(
        codes=codes + [c for c, _ in _SPECIAL],
        descriptions=descriptions + [d for _, d in _SPECIAL],
        price=np.concatenate([price, np.zeros(len(_SPECIAL))]),
        case=np.concatenate([case, np.ones(len(_SPECIAL), dtype=np.int64)]),
        table=np.searchsorted(
            np.cumsum(popularity) / popularity.sum(), (np.arange(_TABLE_SIZE) + 0.5) / _TABLE_SIZE
        ).astype(np.int32),
        special=special,
    )


def _add_special_lines(rng, catalog, ord_country, ord_cust, ord_lines, ord_offset, l_prod, l_qty, l_price):
    """Turn some lines into postage (POST for abroad, C2 for Ireland, DOT for web guests) and manual
    adjustments (M). Only an order's last line of two or more becomes postage; never a first line."""
    n_orders = ord_lines.size
    last = ord_offset + ord_lines - 1
    u = rng.random(n_orders)
    multi = ord_lines >= 2
    ident = ord_cust >= 0
    rules = (
        ("POST", multi & ident & (ord_country != _UK) & (ord_country != _EIRE) & (u < 0.6)),
        ("C2", multi & ident & (ord_country == _EIRE) & (u < 0.5)),
        ("DOT", (ord_lines >= 3) & ~ident & (u < 0.08)),
    )
    for code, mask in rules:
        rows = last[mask]
        l_prod[rows] = catalog.special[code]
        if code == "POST":
            l_qty[rows] = rng.integers(1, 4, rows.size)
            l_price[rows] = rng.choice(np.array([18.0, 28.0, 40.0]), rows.size)
        elif code == "C2":
            l_qty[rows] = 1
            l_price[rows] = 50.0
        else:
            l_qty[rows] = 1
            l_price[rows] = np.exp(rng.normal(np.log(120.0), 0.8, rows.size))
    n_lines = l_prod.size
    rows = rng.integers(0, n_lines, max(1, round(MANUAL_SHARE * n_lines)))
    order_of = np.searchsorted(ord_offset, rows, side="right") - 1
    rows = rows[(rows != ord_offset[order_of]) & (rows != last[order_of])]
    l_prod[rows] = catalog.special["M"]
    l_qty[rows] = 1
    l_price[rows] = np.exp(rng.normal(np.log(2.5), 1.2, rows.size))


def _draw_products(
    rng: np.random.Generator, catalog: _Catalog, l_order: np.ndarray, n_orders: int
) -> np.ndarray:
    """A product per line by popularity, each product at most once per order."""
    l_prod = catalog.table[rng.integers(0, _TABLE_SIZE, l_order.size)]
    width = len(catalog.codes)
    lines = None  # lines to check: all at first, then only those of orders that were changed
    for _ in range(50):
        order = l_order if lines is None else l_order[lines]
        key = order.astype(np.int64) * width + (l_prod if lines is None else l_prod[lines])
        by_key = np.argsort(key, kind="stable")  # nearly sorted already: lines are grouped by order
        repeat = by_key[1:][key[by_key[1:]] == key[by_key[:-1]]]
        if lines is not None:
            repeat = lines[repeat]
        if repeat.size == 0:
            break
        l_prod[repeat] = catalog.table[rng.integers(0, _TABLE_SIZE, repeat.size)]
        changed = np.zeros(n_orders, dtype=bool)
        changed[l_order[repeat]] = True
        lines = np.flatnonzero(changed[l_order])
    return l_prod


def _invoices(is_cancel: np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """Invoice numbers for the events in time order: consecutive numbers, ``C`` for cancellations.

    Returns the category code of each event and the categories. All numbers have the same number of
    digits, and the categories are listed in lexical order (plain numbers, then ``C`` numbers), which
    keeps building the categorical cheap."""
    n = is_cancel.size
    first = FIRST_INVOICE
    while first + n > 10 ** len(str(first)):  # keep a constant number of digits
        first *= 10
    is_plain = ~is_cancel
    n_plain = int(is_plain.sum())
    codes = np.where(is_plain, np.cumsum(is_plain) - 1, n_plain + np.cumsum(is_cancel) - 1)
    numbers = first + np.arange(n)
    plain = pa.array(numbers[is_plain]).cast(pa.string())
    cancel = pc.binary_join_element_wise("C", pa.array(numbers[is_cancel]).cast(pa.string()), "")
    categories = pd.Index(pd.array(pa.concat_arrays([plain, cancel]), dtype="str"))
    return codes.astype(np.int32), categories


def _cancel_times(rng: np.random.Generator, src_time: np.ndarray, n_days: int) -> np.ndarray:
    """A later time for each cancelled order: minutes later the same day, or a few days later in
    business hours, never after the period."""
    src_day = src_time // _SECONDS_PER_DAY
    day = np.minimum(src_day + np.floor(rng.exponential(3.0, src_time.size)).astype(np.int64), n_days - 1)
    same = day == src_day
    later = day * _SECONDS_PER_DAY + _sample_clock(rng, src_time.size)
    # Sources are placed before 21:00, so +5..150 minutes stays on the same day.
    soon = src_time + rng.integers(5, 151, src_time.size) * 60
    return np.where(same, soon, later)


def _categorical(codes: np.ndarray, categories) -> pd.Categorical:
    dtype = pd.CategoricalDtype(pd.Index(categories, dtype="str"))
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
