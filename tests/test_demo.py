"""Tests for analysis.demo: the synthetic demo dataset and its planted segments."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from kneed import KneeLocator
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler

from analysis.demo import (
    COLUMNS,
    PLANTED_K,
    SEGMENT_NAMES,
    DemoData,
    generate_transactions,
    write_demo,
)
from analysis.errors import AnalysisError

N_ROWS = 100_000


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return generate_transactions(N_ROWS, seed=0)


def _clean(df: pd.DataFrame) -> pd.DataFrame:
    keep = df["CustomerID"].notna() & (df["Quantity"] > 0) & (df["UnitPrice"] > 0)
    out = df[keep].copy()
    out["cid"] = out["CustomerID"].astype("int64").astype(str)
    out["revenue"] = out["Quantity"] * out["UnitPrice"]
    return out


def _rfm(data: DemoData) -> pd.DataFrame:
    """The plain per-customer recency / frequency / monetary table."""
    clean = _clean(data.transactions)
    per = clean.groupby("cid", observed=True).agg(
        last=("InvoiceDate", "max"), frequency=("InvoiceNo", "nunique"), monetary=("revenue", "sum")
    )
    per["recency_days"] = (data.as_of - per["last"]).dt.days
    return per[["recency_days", "frequency", "monetary"]]


@pytest.fixture(scope="module")
def rfm(demo: DemoData) -> pd.DataFrame:
    return _rfm(demo)


def test_same_seed_same_frame_other_seed_differs():
    a = generate_transactions(20_000, seed=7)
    b = generate_transactions(20_000, seed=7)
    c = generate_transactions(20_000, seed=8)
    pd.testing.assert_frame_equal(a.transactions, b.transactions)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    assert a.as_of == b.as_of
    assert len(c.transactions) == len(a.transactions)
    assert not a.transactions["Quantity"].equals(c.transactions["Quantity"])
    assert not a.transactions["InvoiceDate"].equals(c.transactions["InvoiceDate"])
    assert not a.truth["segment"].equals(c.truth["segment"])


def test_columns_dtypes_and_shape(demo: DemoData):
    df = demo.transactions
    assert tuple(df.columns) == COLUMNS
    assert len(df) == N_ROWS
    for col in ("InvoiceNo", "StockCode", "Description", "Country"):
        assert isinstance(df[col].dtype, pd.CategoricalDtype), col
        assert df[col].notna().all(), col
        assert df[col].cat.categories.dtype == "str", col
    assert df["Quantity"].dtype == np.int64
    assert df["UnitPrice"].dtype == np.float64
    assert df["CustomerID"].dtype == np.float64
    assert pd.api.types.is_datetime64_dtype(df["InvoiceDate"])
    ids = df["CustomerID"].dropna()
    assert (ids == ids.round()).all() and ids.min() >= 12346
    assert demo.as_of == pd.Timestamp("2025-01-01")
    assert demo.planted_k == PLANTED_K == 4
    assert df["InvoiceDate"].min() >= pd.Timestamp("2023-01-01")
    assert df["InvoiceDate"].max() < demo.as_of
    assert df["InvoiceDate"].is_monotonic_increasing
    # Purchase invoices are numbers; cancellations the same with a C.
    assert df["InvoiceNo"].astype(str).str.fullmatch(r"C?\d{6,}").all()


def test_truth_table(demo: DemoData):
    truth = demo.truth
    assert truth.index.name == "customer_id"
    assert list(truth.columns) == ["segment", "segment_name"]
    assert truth.index.is_unique
    assert truth["segment"].dtype == np.int64
    assert set(truth["segment"]) == {0, 1, 2, 3}
    names = truth["segment"].map(dict(enumerate(SEGMENT_NAMES)))
    assert (names == truth["segment_name"]).all()
    assert truth.index.str.fullmatch(r"\d+").all()
    # Every truth customer appears in the transactions, and only they are identified customers.
    ids = set(demo.transactions["CustomerID"].dropna().astype("int64").astype(str))
    assert ids == set(truth.index)
    assert len(truth) == N_ROWS // 30


def test_data_quality_warts(demo: DemoData):
    df = demo.transactions
    guest = df["CustomerID"].isna().mean()
    assert 0.15 <= guest <= 0.25
    cancel = df["InvoiceNo"].astype(str).str.startswith("C")
    assert 0.015 <= cancel.mean() <= 0.025
    assert (df.loc[cancel, "Quantity"] < 0).all()
    assert (df.loc[~cancel, "Quantity"] > 0).all()
    assert df.loc[cancel, "CustomerID"].notna().all()
    n_dup = int(df.duplicated().sum())
    assert 0 < n_dup <= 0.005 * N_ROWS
    n_zero = int((df["UnitPrice"] == 0).sum())
    assert 0 < n_zero <= 0.005 * N_ROWS
    assert (df["UnitPrice"] >= 0).all()
    codes = set(df["StockCode"].astype(str))
    assert {"POST", "M", "DOT", "C2"} <= codes
    countries = df["Country"].value_counts(normalize=True)
    assert 0.80 <= countries["United Kingdom"] <= 0.90
    assert (countries > 0).sum() >= 12
    # Order lines per invoice vary (1..30; a duplicated row can add one).
    lines = df.groupby("InvoiceNo", observed=True).size()
    assert lines.min() == 1 and 20 <= lines.max() <= 32
    # Heavy tails: a handful of wholesale-like customers buying huge quantities.
    units = df[~cancel].groupby("CustomerID")["Quantity"].sum()
    assert 1 <= (units > 5 * units.quantile(0.99)).sum() <= 12
    assert df["UnitPrice"].max() > 20 * df["UnitPrice"].median()


def test_cancellations_mirror_earlier_purchases(demo: DemoData):
    df = demo.transactions
    is_cancel = df["InvoiceNo"].astype(str).str.startswith("C")
    key = ["CustomerID", "StockCode", "UnitPrice"]
    cancels = df.loc[is_cancel, key + ["Quantity", "InvoiceDate"]].astype({"StockCode": str})
    cancels["Quantity"] = -cancels["Quantity"]
    cancels["cancel_row"] = np.arange(len(cancels))
    buys = df.loc[~is_cancel, key + ["Quantity", "InvoiceDate"]].astype({"StockCode": str})
    pairs = cancels.merge(buys, on=key + ["Quantity"], suffixes=("_c", "_p"))
    pairs = pairs[pairs["InvoiceDate_p"] < pairs["InvoiceDate_c"]]
    assert pairs["cancel_row"].nunique() == len(cancels)
    # One C-invoice per cancelled order: every line of a C-invoice has the same date and customer.
    per_invoice = (
        df[is_cancel]
        .groupby("InvoiceNo", observed=True)
        .agg(dates=("InvoiceDate", "nunique"), customers=("CustomerID", "nunique"))
    )
    assert (per_invoice["dates"] == 1).all() and (per_invoice["customers"] == 1).all()


def test_seasonality_and_clock(demo: DemoData):
    df = demo.transactions
    buys = df[df["Quantity"] > 0]
    revenue = (buys["Quantity"] * buys["UnitPrice"]).groupby(buys["InvoiceDate"].dt.to_period("M")).sum()
    for year in (2023, 2024):
        q4 = revenue[[pd.Period(f"{year}-{m:02d}", "M") for m in (10, 11, 12)]].mean()
        spring = revenue[[pd.Period(f"{year}-{m:02d}", "M") for m in (3, 4, 5)]].mean()
        assert q4 > 1.5 * spring, year
    orders = buys.drop_duplicates("InvoiceNo")
    per_weekday = orders["InvoiceDate"].dt.day_of_week.value_counts()
    assert per_weekday[[5, 6]].max() < 0.7 * per_weekday[[0, 1, 2, 3, 4]].min()
    hours = orders["InvoiceDate"].dt.hour
    assert hours.between(7, 20).all()
    assert hours.between(9, 16).mean() > 0.7


def test_planted_segments_are_recovered(demo: DemoData, rfm: pd.DataFrame):
    assert set(rfm.index) == set(demo.truth.index)
    X = StandardScaler().fit_transform(np.log1p(rfm.to_numpy(dtype=float)))
    truth = demo.truth["segment"].reindex(rfm.index).to_numpy()
    silhouettes, inertias, labels = {}, {}, {}
    for k in range(2, 9):
        km = KMeans(n_clusters=k, n_init=10, random_state=0).fit(X)
        silhouettes[k] = silhouette_score(X, km.labels_)
        inertias[k] = km.inertia_
        labels[k] = km.labels_
    assert max(silhouettes, key=silhouettes.get) == 4, silhouettes
    assert silhouettes[4] > 0.6
    knee = KneeLocator(list(inertias), list(inertias.values()), curve="convex", direction="decreasing").knee
    assert knee == 4, inertias
    assert adjusted_rand_score(truth, labels[4]) >= 0.97


def test_segment_profiles(demo: DemoData, rfm: pd.DataFrame):
    profile = rfm.join(demo.truth)
    by = {name: group for name, group in profile.groupby("segment_name")}
    champions, loyal, new, lapsed = (by[n] for n in SEGMENT_NAMES)
    assert champions["frequency"].between(15, 40).all()
    assert champions["recency_days"].max() <= 30
    assert loyal["frequency"].between(4, 10).all()
    assert (new["frequency"] == 1).all() and new["recency_days"].max() < 60
    assert (lapsed["frequency"] == 1).all() and lapsed["recency_days"].between(400, 700).all()
    medians = [g["monetary"].median() for g in (champions, loyal, new)]
    assert medians[0] > 4 * medians[1] > 4 * medians[2]
    # Segment sizes are balanced enough for k-means (each 10-40 % of customers).
    shares = profile["segment"].value_counts(normalize=True)
    assert shares.between(0.1, 0.4).all() and len(shares) == 4


def test_custom_period_and_customers():
    data = generate_transactions(30_000, seed=3, n_customers=500, start="2022-03-01", end="2022-12-31")
    df = data.transactions
    assert len(df) == 30_000
    assert len(data.truth) == 500
    assert data.as_of == pd.Timestamp("2023-01-01")
    assert df["InvoiceDate"].min() >= pd.Timestamp("2022-03-01")
    assert df["InvoiceDate"].max() < data.as_of
    assert set(_rfm(data).index) == set(data.truth.index)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_rows": 10},
        {"n_rows": 1000, "n_customers": 500},
        {"n_rows": 100_000, "n_customers": 10},
        {"n_rows": 1000, "start": "2024-01-01", "end": "2024-03-01"},
        {"n_rows": 1000, "start": "not a date"},
        {"n_rows": 1000.5},
        {"n_rows": 1000, "seed": -1},
    ],
)
def test_bad_parameters_raise_analysis_error(kwargs):
    with pytest.raises(AnalysisError):
        generate_transactions(**kwargs)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_write_demo_round_trips(tmp_path, suffix):
    path, data = write_demo(tmp_path / f"demo{suffix}", 5_000, seed=2)
    assert path == tmp_path / f"demo{suffix}" and path.exists()
    expected = data.transactions
    if suffix == ".parquet":
        back = pd.read_parquet(path)
    else:
        first = path.read_text().splitlines()[:2]
        assert first[0].split(",") == list(COLUMNS)
        assert re.search(r",\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,", first[1])
        back = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str}, parse_dates=["InvoiceDate"])
    assert list(back.columns) == list(COLUMNS)
    assert len(back) == len(expected)
    for col in ("InvoiceNo", "StockCode", "Description", "Country"):
        assert (back[col].astype(str).to_numpy() == expected[col].astype(str).to_numpy()).all(), col
    np.testing.assert_array_equal(back["Quantity"].to_numpy(), expected["Quantity"].to_numpy())
    np.testing.assert_allclose(back["UnitPrice"].to_numpy(), expected["UnitPrice"].to_numpy())
    np.testing.assert_array_equal(back["CustomerID"].to_numpy(), expected["CustomerID"].to_numpy())
    np.testing.assert_array_equal(
        back["InvoiceDate"].to_numpy(dtype="datetime64[s]"),
        expected["InvoiceDate"].to_numpy(dtype="datetime64[s]"),
    )


def test_write_demo_rejects_unknown_suffix(tmp_path):
    with pytest.raises(AnalysisError):
        write_demo(tmp_path / "demo.xlsx", 1_000)
