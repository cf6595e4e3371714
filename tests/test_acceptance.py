"""End-to-end acceptance through analysis.pipeline: real data figures, customer-level data, planted segments."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from analysis import pipeline
from analysis import schema as S
from analysis.demo import generate_transactions
from analysis.normalize import normalize

CITY_GROUPS = {"Chicago": 0, "Houston": 0, "New York": 1, "Los Angeles": 2, "Miami": 2, "San Francisco": 3}


def test_online_retail_description(online_retail_prepared):
    d = pipeline.describe(online_retail_prepared)
    s = d["summary"]
    assert (s["customers"], s["orders"]) == (4_338, 18_532)
    assert round(s["revenue"], 2) == 8_911_407.90
    assert round(s["mean_orders_per_customer"], 2) == 4.27
    assert s["median_orders_per_customer"] == 2
    assert round(s["average_purchase_value_per_customer"], 2) == round(8_911_407.90 / 4_338, 2)
    assert round(s["average_order_value"], 2) == round(8_911_407.90 / 18_532, 2)
    ot = d["one_time_vs_repeat"]
    assert (ot["one_time_customers"], round(ot["one_time_pct"], 2)) == (1_493, 34.42)
    rc = d["revenue_contribution"]
    assert rc["by_country"][0]["country"] == "United Kingdom"
    assert 0.6 < rc["top_20pct_share"] < 0.9 and 0.5 < rc["gini"] < 1
    assert [m["month"] for m in d["seasonality"]["monthly"]][:2] == ["2010-12", "2011-01"]
    assert d["cohorts"]["cohorts"][0] == "2010-12"


def test_online_retail_features_and_segments(online_retail_prepared):
    fs = pipeline.feature_set(online_retail_prepared)
    assert fs.raw.shape == (4_338, 3)
    assert fs.raw[S.FREQUENCY].sum() == 18_532
    assert round(fs.raw[S.MONETARY].sum(), 2) == 8_911_407.90
    assert fs.raw[S.RECENCY].min() >= 0
    seg = pipeline.segment(fs, 4, random_state=0, prepared=online_retail_prepared)
    assert seg.membership["segment"].nunique() == 4
    assert seg.profiles.table["name"].nunique() == 4
    assert seg.profiles.table["size"].sum() == 4_338
    assert seg.crosstab.to_numpy().sum() == 4_338
    # Both buyers of the cancelled giant orders are flagged as outliers.
    assert {"12346", "16446"} <= set(seg.outliers.index.astype(str))


def test_customer_level_city_groups(ecommerce_path):
    prepared = pipeline.prepare(pipeline.load_dataset(ecommerce_path))
    d = pipeline.describe(prepared)
    assert round(d["summary"]["average_purchase_value_per_customer"], 2) == 845.38
    assert round(d["summary"]["revenue"], 2) == 295_883.60
    fs = pipeline.feature_set(prepared, ["Total_Spend", "Items_Purchased"], log=None, scaling="standard")
    seg = pipeline.segment(fs, 4, random_state=0)
    city = prepared.table.set_index(S.CUSTOMER_ID).loc[seg.membership.index, "City"].map(CITY_GROUPS)
    assert adjusted_rand_score(city, seg.membership["segment"]) == 1.0
    assert seg.crosstab is None  # no RFM without transactions


@pytest.fixture(scope="module")
def demo_prepared():
    demo = generate_transactions(150_000, seed=7)
    dataset = normalize(demo.transactions, source="demo")
    return demo, pipeline.prepare(dataset, as_of=demo.as_of)


def test_demo_sweep_recommends_planted_k_and_recovers_labels(demo_prepared):
    demo, prepared = demo_prepared
    fs = pipeline.feature_set(prepared)
    result = pipeline.sweep(fs, range(2, 9), random_state=0)
    assert result["recommendation"]["k"] == demo.planted_k
    seg = pipeline.segment(fs, demo.planted_k, random_state=0)
    truth = demo.truth.reindex(seg.membership.index)["segment"]
    assert truth.notna().all()
    assert adjusted_rand_score(truth, seg.membership["segment"]) >= 0.95


def test_demo_description_sees_the_q4_peak(demo_prepared):
    _, prepared = demo_prepared
    monthly = pd.DataFrame(pipeline.describe(prepared)["seasonality"]["monthly"]).set_index("month")
    nov_dec = monthly.loc[monthly.index.str[5:].isin(["11", "12"]), "revenue"].mean()
    spring = monthly.loc[monthly.index.str[5:].isin(["03", "04", "05"]), "revenue"].mean()
    assert nov_dec > 1.5 * spring
