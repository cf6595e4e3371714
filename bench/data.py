"""Seeded benchmark data.

* Transactions: the product's own demo generator (:func:`analysis.demo.write_demo` layout), written once per
  (rows, seed, format) under ``bench/results/data/`` and reused by later runs.
* Customer feature matrices for the k-sweep: :func:`customer_matrix`, a documented seeded generator of
  RFM-like skewed customer features (recency in days, frequency in orders, monetary in revenue, plus tenure,
  average order value and distinct products), drawn from ``PLANTED_K`` planted segments that overlap, then
  ``log1p``-transformed and standardised the way the product's ``transform_features(log="auto",
  scaling="standard")`` does for skewed columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
DATA = RESULTS / "data"

PLANTED_K = 5
FEATURES = ("recency", "frequency", "monetary", "tenure", "avg_order_value", "n_products")
# Per segment: medians of the six raw features and its share of customers.
_MEDIANS = np.array(
    [
        # recency, frequency, monetary, tenure, aov, n_products
        [20.0, 12.0, 2400.0, 600.0, 200.0, 60.0],  # loyal high spenders
        [45.0, 4.0, 500.0, 400.0, 120.0, 20.0],  # regulars
        [250.0, 2.0, 180.0, 500.0, 90.0, 8.0],  # lapsing
        [15.0, 1.0, 60.0, 15.0, 60.0, 3.0],  # new one-off buyers
        [400.0, 1.0, 25.0, 420.0, 25.0, 2.0],  # lost low-value
    ]
)
_SHARES = np.array([0.12, 0.28, 0.22, 0.18, 0.20])
_LOG_SD = 0.35  # spread of each feature around its segment median, in log units


def customer_matrix(n_customers: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(X, planted labels): X is float64 (n_customers, 6), log1p'd and standardised (mean 0, sd 1)."""
    rng = np.random.default_rng(seed)
    seg = rng.choice(PLANTED_K, size=n_customers, p=_SHARES)
    raw = np.exp(np.log(_MEDIANS[seg]) + rng.normal(0.0, _LOG_SD, size=(n_customers, len(FEATURES))))
    raw[:, 1] = np.maximum(1.0, np.round(raw[:, 1]))  # whole orders, at least one
    raw[:, 5] = np.maximum(1.0, np.round(raw[:, 5]))
    X = np.log1p(raw)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return np.ascontiguousarray(X), seg


def transactions_file(n_rows: int, fmt: str, seed: int = 0) -> Path:
    """Path of the demo transactions file with ``n_rows`` rows (``fmt`` 'parquet' or 'csv'); made if missing."""
    from analysis.demo import write_demo

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"demo_{n_rows}_seed{seed}.{fmt}"
    if not path.exists():
        tmp = path.with_name(path.stem + ".tmp" + path.suffix)
        write_demo(tmp, n_rows, seed=seed)
        tmp.replace(path)
    return path


def frame_info(df: pd.DataFrame) -> str:
    return f"{len(df):,} rows x {df.shape[1]} columns"
