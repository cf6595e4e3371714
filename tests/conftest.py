"""Shared fixtures: paths to the real data in ../shared/data.

Outside CI a missing data folder skips the real-data tests; in CI (CI=true) it fails them, because CI must
run every test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def _data_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing; CI must have ../shared/data")
        pytest.skip(f"{path} not available")
    return path


@pytest.fixture(scope="session")
def online_retail_path() -> Path:
    return _data_file("online_retail.parquet")


@pytest.fixture(scope="session")
def ecommerce_path() -> Path:
    return _data_file("ecommerce_customer_behavior.csv")


@pytest.fixture(scope="session")
def online_retail_prepared(online_retail_path):
    """The real Online Retail data, loaded and cleaned with the default rules (shared: read-only!)."""
    from analysis import pipeline

    return pipeline.prepare(pipeline.load_dataset(online_retail_path))
