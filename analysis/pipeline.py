"""The product's questions end to end, as functions of already-loaded data.

This is the single entry point the command line, the Celery workers and tests call: load -> normalise ->
clean -> describe / features -> sweep / segment. Each step is a pure function of its inputs; nothing here
reads global state. File reading itself lives in :mod:`analysis.loading`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from analysis import schema as S
from analysis.cleaning import CleanResult, QualityReport, clean_transactions, resolve_rules
from analysis.clustering import check_k, fit_kmeans, sweep_k
from analysis.describe import describe_customers, describe_transactions
from analysis.errors import AnalysisError
from analysis.features import FeatureMatrix, customer_features, customer_level_features, transform_features
from analysis.insights import segment_advice
from analysis.loading import read_table
from analysis.normalize import Dataset, normalize
from analysis.outliers import find_outliers
from analysis.polars_clean import clean_transactions as clean_polars
from analysis.polars_describe import describe_transactions_pl
from analysis.polars_features import customer_features as customer_features_polars
from analysis.polars_load import PolarsDataset, Unsupported, from_pandas, load_transactions, to_pandas
from analysis.rfm import rfm_crosstab, rfm_scores
from analysis.segments import SegmentProfiles, profile_segments

DEMO_NAME = "demo"
DEMO_ROWS = 200_000
DEMO_SEED = 0


def load_dataset(
    path: str | Path,
    *,
    mapping: Mapping[str, str] | None = None,
    sheet: str | int | None = 0,
    name: str | None = None,
    dayfirst: bool | None = None,
) -> Dataset:
    """Read and normalise a file. ``path == "demo"`` gives the built-in demo data (see :func:`demo_dataset`).

    ``name`` is what messages call the file (default: its file name), e.g. the name an upload had.
    ``sheet``: Excel sheet name, or 0-based position (a sheet whose name is the text of the number wins).
    ``dayfirst``: read dates such as ``05.01.2023`` day first (True) or month first (False); None decides
    (see :func:`analysis.normalize.normalize`) and notes the choice when both readings are possible.

    Transactions in Parquet or UTF-8 delimited text are read by the polars fast path
    (:func:`analysis.polars_load.load_transactions`, giving a :class:`~analysis.polars_load.PolarsDataset`);
    anything it cannot read exactly as the pandas path does (Excel, customer-level files, odd encodings, ...)
    is read by :func:`analysis.loading.read_table` and :func:`analysis.normalize.normalize` as before.
    """
    if str(path) == DEMO_NAME:
        return demo_dataset()
    fast = load_transactions(path, mapping=mapping, name=name, dayfirst=dayfirst)
    if fast is not None:
        return fast
    raw = read_table(path, sheet=sheet) if name is None else _read_as(path, name, sheet)
    return normalize(raw, mapping=mapping, source=name or Path(path).name, dayfirst=dayfirst)


def _read_as(path: str | Path, name: str, sheet: str | int | None) -> pd.DataFrame:
    """read_table with errors naming ``name`` instead of the stored file's name."""
    try:
        return read_table(path, sheet=sheet)
    except AnalysisError as exc:
        stored = Path(path).name
        raise AnalysisError(exc.message.replace(stored, name), file=name, column=exc.column, row=exc.row) from exc


def demo_dataset(rows: int = DEMO_ROWS, *, seed: int = DEMO_SEED) -> Dataset:
    """The built-in demo transactions (synthetic, deterministic by ``seed``), normalised."""
    from analysis.demo import generate_transactions

    demo = generate_transactions(rows, seed=seed)
    return as_polars(normalize(demo.transactions, source=f"demo data ({rows:,} rows, seed {seed})"))


def as_polars(dataset: Dataset) -> Dataset:
    """The same dataset with its canonical table also kept in polars (a :class:`PolarsDataset`), so that
    :func:`prepare` takes the fast path; customer-level datasets and tables of other types come back as they are."""
    if isinstance(dataset, PolarsDataset) or dataset.shape == S.CUSTOMERS:
        return dataset
    try:
        frame = from_pandas(dataset.frame)
    except (Unsupported, TypeError, ValueError, pl.exceptions.PolarsError):
        return dataset
    fast = PolarsDataset(frame, shape=dataset.shape, mapping=dict(dataset.mapping), source=dataset.source,
                         notes=list(dataset.notes), raw_rows=dataset.raw_rows, raw_columns=list(dataset.raw_columns))
    fast._pandas = dataset.frame
    return fast


class Prepared:
    """A dataset after cleaning: what every later step starts from.

    ``table``: clean canonical transactions, or the customer-level table (one row per customer).
    ``returns``: return / cancellation lines with a customer id (transactions only; empty otherwise).
    ``as_of``: the reference date for recency and tenure (transactions only).
    ``frame`` / ``returns_frame``: the same clean transactions and return lines as polars DataFrames when the
    dataset came through the polars fast path (canonical columns of :mod:`analysis.schema`: text String, dates
    Datetime[ns], numbers Float64, missing values null), else None. ``table`` and ``returns`` are then made from
    them on first use (pandas, exactly as the pandas path makes them) and kept.
    ``rule_bits``: on the polars path, every cleaning rule's mask of the dataset's rows (one UInt16 per row, see
    :func:`analysis.polars_clean.rule_bits`), which the ingest job stores with the dataset so that later cleanings
    of it (with any rules) skip computing them; else None.
    """

    def __init__(self, dataset: Dataset, table: pd.DataFrame | None, returns: pd.DataFrame | None,
                 quality: QualityReport | None, as_of: pd.Timestamp | None, notes: list[str] | None = None, *,
                 frame: pl.DataFrame | None = None, returns_frame: pl.DataFrame | None = None,
                 rule_bits: pl.Series | None = None) -> None:
        if table is None and frame is None or returns is None and returns_frame is None:
            raise ValueError("Prepared needs the clean table and the returns, as pandas or polars frames")
        self.dataset = dataset
        self._table = table
        self._returns = returns
        self.quality = quality
        self.as_of = as_of
        self.notes = list(notes or [])
        self.frame = frame
        self.returns_frame = returns_frame
        self.rule_bits = rule_bits

    @property
    def table(self) -> pd.DataFrame:
        if self._table is None:
            self._table = to_pandas(self.frame)
        return self._table

    @property
    def returns(self) -> pd.DataFrame:
        if self._returns is None:
            self._returns = to_pandas(self.returns_frame)
        return self._returns

    @property
    def is_customer_level(self) -> bool:
        return self.dataset.shape == S.CUSTOMERS


def prepare(
    dataset: Dataset, *, rules: Mapping[str, bool] | None = None, as_of: str | pd.Timestamp | None = None
) -> Prepared:
    """Clean a dataset and fix the as-of date.

    ``as_of`` defaults to midnight after the last clean order (so the latest buyer has recency < 1 day).
    An explicit ``as_of`` before the last order raises :class:`AnalysisError`.

    A :class:`~analysis.polars_load.PolarsDataset` is cleaned in polars (:mod:`analysis.polars_clean`; same rows,
    report and messages); the returned :class:`Prepared` then keeps the polars frames.
    """
    if dataset.shape == S.CUSTOMERS:
        return Prepared(dataset, dataset.frame, pd.DataFrame(columns=[S.CUSTOMER_ID, S.AMOUNT]), None, None,
                        list(dataset.notes))
    if isinstance(dataset, PolarsDataset):
        resolve_rules(rules)  # an unknown rule name is refused before any work, as the pandas path does
        try:
            fast = clean_polars(dataset.pl_frame, rules=rules, bits=dataset.rule_bits)
        except Unsupported:
            fast = None
        if fast is not None:
            last = pd.Timestamp(fast.clean[S.ORDER_DATE].max())
            reference = _as_of(as_of, last)
            return Prepared(dataset, None, None, fast.report, reference, list(dataset.notes), frame=fast.clean,
                            returns_frame=fast.returns, rule_bits=fast.rule_bits)
    result: CleanResult = clean_transactions(dataset.frame, rules=rules)
    reference = _as_of(as_of, result.clean[S.ORDER_DATE].max())
    return Prepared(dataset, result.clean, result.returns, result.report, reference, list(dataset.notes))


def _as_of(as_of: str | pd.Timestamp | None, last: pd.Timestamp) -> pd.Timestamp:
    """The as-of date: ``as_of``, or midnight after ``last`` (the last clean order)."""
    if as_of is None:
        return last.normalize() + pd.Timedelta(days=1)
    try:
        reference = pd.Timestamp(as_of)
    except (ValueError, TypeError) as exc:
        raise AnalysisError(f"As-of date '{as_of}' is not a date (use YYYY-MM-DD).") from exc
    if reference < last:
        raise AnalysisError(
            f"As-of date {reference:%Y-%m-%d %H:%M} is before the last order ({last:%Y-%m-%d %H:%M}); "
            "recency would be negative."
        )
    return reference


def customer_count(prepared: Prepared) -> int:
    """Distinct customer ids in the clean data (customer-level files: in the table)."""
    if prepared.frame is not None:
        return int(prepared.frame[S.CUSTOMER_ID].drop_nulls().n_unique())
    return int(prepared.table[S.CUSTOMER_ID].nunique())


def describe(prepared: Prepared) -> dict:
    """The data-quality report and every descriptive statistic, JSON-ready.

    Keys: ``dataset``, ``quality`` (None for customer-level files), ``as_of``, then the keys of
    :func:`analysis.describe.describe_transactions` / :func:`analysis.describe.describe_customers`.
    """
    ds = prepared.dataset
    out: dict = {
        "dataset": ds.info(),
        "quality": prepared.quality.to_dict() if prepared.quality else None,
        "as_of": prepared.as_of.isoformat() if prepared.as_of is not None else None,
    }
    if prepared.is_customer_level:
        out.update(describe_customers(prepared.table, spend_col=ds.mapping.get(S.AMOUNT, S.AMOUNT)))
    elif prepared.frame is not None:  # the polars fast path: same report (tests/test_polars_describe.py)
        out.update(describe_transactions_pl(prepared.frame))
    else:
        out.update(describe_transactions(prepared.table))
    return out


def default_feature_names(prepared: Prepared) -> list[str]:
    """Recency, frequency, monetary for transactions; every numeric column for customer-level files."""
    if prepared.is_customer_level:
        return list(customer_level_features(prepared.table).columns)
    return list(S.DEFAULT_FEATURES)


def build_features(prepared: Prepared, features: Sequence[str] | None = None) -> pd.DataFrame:
    """Raw per-customer features (rows: customers, index ``customer_id``; columns: ``features``)."""
    names = list(features) if features else default_feature_names(prepared)
    if prepared.is_customer_level:
        return customer_level_features(prepared.table, columns=names)
    if prepared.frame is not None:
        try:
            return customer_features_polars(prepared.frame, as_of=prepared.as_of, features=names,
                                            returns=prepared.returns_frame if S.RETURN_RATE in names else None)
        except Unsupported:
            pass  # the pandas function words the error
    returns = prepared.returns if S.RETURN_RATE in names else None
    return customer_features(prepared.table, as_of=prepared.as_of, features=names, returns=returns)


@dataclass
class FeatureSet:
    raw: pd.DataFrame  # customers x features, original units
    matrix: FeatureMatrix  # transformed and scaled values used for clustering
    spend_col: str | None = None  # the spend column of a customer-level file (its mapping["amount"])


def _dropped(prepared: Prepared, names: Sequence[str], kept: int) -> dict:
    """How many customers the feature table left out, and why (customer-level files: missing values)."""
    if not prepared.is_customer_level:
        return {"customers": 0, "by_column": {}, "reason": None}
    table = prepared.table
    n = int(table[S.CUSTOMER_ID].nunique())
    dropped = max(n - kept, 0)
    if not dropped:
        return {"customers": 0, "by_column": {}, "reason": None}
    missing = table[list(names)].isna().sum()
    by_column = {str(c): int(v) for c, v in missing.items() if v}
    detail = ", ".join(f"{c}: {v:,}" for c, v in by_column.items())
    reason = (
        f"{dropped:,} of {n:,} customers have no value in at least one chosen feature ({detail}) and were left "
        "out of the segmentation."
    )
    return {"customers": dropped, "by_column": by_column, "reason": reason}


def feature_set(
    prepared: Prepared,
    features: Sequence[str] | None = None,
    *,
    log: str | Sequence[str] | None = "auto",
    scaling: str = "standard",
) -> FeatureSet:
    """Raw features plus the transformed matrix K-means sees.

    Customers of a customer-level file without a value in a chosen feature are left out; the matrix's
    ``dropped`` (and so ``matrix.to_dict()["dropped"]``) says how many and why.
    """
    names = list(features) if features else default_feature_names(prepared)
    raw = build_features(prepared, names)
    if len(raw) < 2:
        raise AnalysisError(
            f"Only {len(raw)} customer in the data after cleaning; segmentation needs at least two customers."
        )
    matrix = transform_features(raw, log=log, scaling=scaling)
    matrix = replace(matrix, dropped=_dropped(prepared, names, len(raw)))
    spend_col = prepared.dataset.mapping.get(S.AMOUNT) if prepared.is_customer_level else None
    return FeatureSet(raw=raw, matrix=matrix, spend_col=spend_col)


def sweep(fs: FeatureSet, k_values: Sequence[int], *, random_state: int = 0, n_init: int = 10,
          stability_seeds: int = 3, silhouette_sample_size: int = 10_000) -> dict:
    """Score every k and recommend one. JSON-ready: ``features``, ``points``, ``recommendation``, ..."""
    result = sweep_k(
        fs.matrix.values,
        list(k_values),
        random_state=random_state,
        n_init=n_init,
        stability_seeds=stability_seeds,
        silhouette_sample_size=silhouette_sample_size,
    )
    return {"features": fs.matrix.to_dict(), "random_state": random_state, "n_init": n_init,
            "stability_seeds": stability_seeds, **result.to_dict()}


@dataclass
class Segmentation:
    """K-means at one k and everything derived from it."""

    k: int
    membership: pd.DataFrame  # index customer_id: segment, segment_name, features..., rfm_segment
    profiles: SegmentProfiles
    advice: dict
    outliers: pd.DataFrame
    crosstab: pd.DataFrame | None
    inertia: float
    dropped: dict = field(default_factory=dict)  # customers left out of the features (FeatureMatrix.dropped)

    def to_dict(self) -> dict:
        """JSON-ready summary (no per-customer rows): k, inertia, profiles, advice, outliers, crosstab, and
        ``dropped_customers`` (how many customers the features left out; ``features.dropped`` says why)."""
        return {
            "k": self.k,
            "inertia": float(self.inertia),
            "dropped_customers": int(self.dropped.get("customers", 0)),
            "profiles": self.profiles.to_dict(),
            "advice": {str(k): v for k, v in self.advice.items()},
            "outliers": _records(self.outliers.reset_index()),
            "rfm_crosstab": None if self.crosstab is None else {
                "rows": [str(i) for i in self.crosstab.index],
                "columns": [str(c) for c in self.crosstab.columns],
                "counts": self.crosstab.to_numpy().astype(int).tolist(),
            },
        }


# Columns that measure time since something: a long-lapsed customer is not an "unusual" customer.
_TIME_SINCE = re.compile(r"recency|tenure|days|since|last", re.IGNORECASE)
OUTLIER_FEATURES = (S.MONETARY, S.FREQUENCY, S.AVG_ORDER_VALUE)
RFM_FEATURES = (S.RECENCY, S.FREQUENCY, S.MONETARY)
# Columns segment() adds to the membership table (its index is customer_id).
MEMBERSHIP_COLUMNS = (S.CUSTOMER_ID, "segment", "segment_name", "rfm_segment")


def _transaction_features(raw: pd.DataFrame, prepared: Prepared, names: Sequence[str]) -> pd.DataFrame:
    """``raw``'s customers x ``names``: taken from ``raw`` where it has them, computed from ``prepared``
    (transactions) otherwise."""
    missing = [f for f in names if f not in raw.columns]
    table = raw if not missing else raw.join(build_features(prepared, missing).reindex(raw.index))
    return table[list(names)]


def outlier_features(raw: pd.DataFrame, prepared: Prepared | None = None) -> pd.DataFrame:
    """The behaviour columns outliers are looked for in (customers x columns, original units).

    Transactions: spend, order count and average order value (computed here if the clustering did not use
    them). Customer-level files: the chosen features except time-since columns (recency, days since ...).
    """
    if prepared is not None and not prepared.is_customer_level:
        return _transaction_features(raw, prepared, OUTLIER_FEATURES)
    keep = [c for c in raw.columns if not _TIME_SINCE.search(str(c))]
    return raw[keep or list(raw.columns)]


def _revenue(fs: FeatureSet, prepared: Prepared | None) -> tuple[str | None, pd.Series | None]:
    """(spend column for the profiles, per-customer spend) for the segment revenue figures.

    Transactions: ``monetary`` (computed from ``prepared`` when it is not a clustering feature).
    Customer-level files: the file's spend column (``mapping["amount"]``), from the features or the table.
    """
    if prepared is None or not prepared.is_customer_level:
        if S.MONETARY in fs.raw.columns:
            return S.MONETARY, None
        if prepared is None:
            return None, None
        return S.MONETARY, _transaction_features(fs.raw, prepared, [S.MONETARY])[S.MONETARY]
    spend_col = fs.spend_col or prepared.dataset.mapping.get(S.AMOUNT)
    if spend_col is None:
        return None, None
    if spend_col in fs.raw.columns:
        return spend_col, None
    if spend_col not in prepared.table.columns:
        return None, None
    spend = prepared.table.set_index(S.CUSTOMER_ID)[spend_col]
    return spend_col, pd.to_numeric(spend, errors="coerce").reindex(fs.raw.index)


def segment(fs: FeatureSet, k: int, *, random_state: int = 0, n_init: int = 10,
            prepared: Prepared | None = None) -> Segmentation:
    """K-means at ``k`` on the transformed features; named profiles, RFM cross-tab, outliers and advice.

    ``prepared`` (the data the features came from) lets the results use more than the clustering features:
    segment revenue from the spend (``monetary``, or a customer-level file's spend column) even when it is not
    a feature; RFM scores (``rfm_segment`` in the membership and the cross-tab) for transaction data whatever
    the features; outliers on spend, frequency and average order value.

    The membership table (index ``customer_id``) has ``segment``, ``segment_name``, the raw features and, for
    transaction data, ``rfm_segment``. A feature with one of those names raises :class:`AnalysisError`
    (:func:`analysis.normalize.normalize` renames such columns of customer-level files, so files loaded with
    :func:`load_dataset` never have one).
    """
    clash = [c for c in fs.raw.columns if c in MEMBERSHIP_COLUMNS]
    if clash:
        raise AnalysisError(
            f"The feature '{clash[0]}' has the name of a result column ({', '.join(MEMBERSHIP_COLUMNS)}); "
            "rename that column (loading the file with load_dataset does it for you).",
            column=str(clash[0]),
        )
    values = fs.matrix.values
    check_k(values.to_numpy(dtype=float), k)
    km = fit_kmeans(values, k, random_state=random_state, n_init=n_init)
    labels = pd.Series(km.labels, index=fs.raw.index, name="segment")
    monetary_col, revenue = _revenue(fs, prepared)
    profiles = profile_segments(fs.raw, labels, monetary_col=monetary_col or S.MONETARY, revenue=revenue)
    names = profiles.names
    membership = fs.raw.copy()
    membership.insert(0, "segment", labels.astype(int))
    membership.insert(1, "segment_name", labels.map(names))
    crosstab = None
    rfm_input = None
    if set(RFM_FEATURES) <= set(fs.raw.columns):
        rfm_input = fs.raw[list(RFM_FEATURES)]
    elif prepared is not None and not prepared.is_customer_level:
        rfm_input = _transaction_features(fs.raw, prepared, RFM_FEATURES)
    if rfm_input is not None:
        rfm = rfm_scores(rfm_input, recency_col=S.RECENCY, frequency_col=S.FREQUENCY, monetary_col=S.MONETARY)
        membership["rfm_segment"] = rfm["rfm_segment"]
        crosstab = rfm_crosstab(rfm["rfm_segment"], labels, names=names)
    outliers = find_outliers(outlier_features(fs.raw, prepared), monetary_col=monetary_col or S.MONETARY)
    return Segmentation(
        k=k,
        membership=membership,
        profiles=profiles,
        advice=segment_advice(profiles),
        outliers=outliers,
        crosstab=crosstab,
        inertia=km.inertia,
        dropped=dict(fs.matrix.dropped),
    )


def _records(frame: pd.DataFrame) -> list[dict]:
    """DataFrame rows as JSON-ready dicts (numpy scalars to Python, NaN to None)."""
    out = []
    for row in frame.to_dict(orient="records"):
        out.append({str(k): _plain(v) for k, v in row.items()})
    return out


def _plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if value is pd.NA:
        return None
    return value
