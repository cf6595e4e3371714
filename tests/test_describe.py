"""Descriptive statistics on hand-computed tiny cases, JSON purity, and the real data's known figures."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from analysis import schema as S
from analysis.describe import (
    cohort_retention,
    describe_customers,
    describe_transactions,
    frequency_distribution,
    gini,
    lorenz_curve,
    monthly_trend,
    one_time_vs_repeat,
    revenue_by_country,
    revenue_by_customer,
    revenue_deciles,
    summary,
    top_share,
    weekday_hour,
)
from analysis.errors import AnalysisError


def tiny_tx() -> pd.DataFrame:
    """3 customers, 5 orders, 6 lines, months Jan, Feb, (no March), Apr 2021.

    A (UK): o1 2021-01-04 10:30 Mon, 2 lines 10 + 20; o3 2021-02-13 09:15 Sat, 50; o5 2021-04-07 10:45 Wed, 20
    B (FR): o2 2021-01-06 15:00 Wed, 40
    C (FR): o4 2021-04-04 20:00 Sun, 100
    """
    rows = [
        ("o1", "A", "2021-01-04 10:30", 1.0, 10.0, "UK"),
        ("o1", "A", "2021-01-04 10:30", 2.0, 10.0, "UK"),
        ("o2", "B", "2021-01-06 15:00", 1.0, 40.0, "FR"),
        ("o3", "A", "2021-02-13 09:15", 5.0, 10.0, "UK"),
        ("o4", "C", "2021-04-04 20:00", 1.0, 100.0, "FR"),
        ("o5", "A", "2021-04-07 10:45", 2.0, 10.0, "UK"),
    ]
    tx = pd.DataFrame(rows, columns=[S.ORDER_ID, S.CUSTOMER_ID, "d", S.QUANTITY, S.UNIT_PRICE, S.COUNTRY])
    tx.insert(2, S.ORDER_DATE, pd.to_datetime(tx.pop("d")))
    tx[S.AMOUNT] = tx[S.QUANTITY] * tx[S.UNIT_PRICE]
    return tx


def assert_json_pure(obj, path="$"):
    """Only dict/list/str/int/float/bool/None, exact types (no numpy scalars), no NaN or inf."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert type(k) is str, f"{path}: key {k!r}"
            assert_json_pure(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            assert_json_pure(v, f"{path}[{i}]")
    else:
        assert obj is None or type(obj) in (str, int, float, bool), f"{path}: {type(obj)}"
        if type(obj) is float:
            assert math.isfinite(obj), path


# ---------------------------------------------------------------------------------------------
# small functions
# ---------------------------------------------------------------------------------------------


def test_summary():
    s = summary(tiny_tx())
    assert s == {
        "customers": 3,
        "orders": 5,
        "revenue": 240.0,
        "average_order_value": 48.0,
        "average_purchase_value_per_customer": 80.0,
        "first_date": "2021-01-04T10:30:00",
        "last_date": "2021-04-07T10:45:00",
        "mean_orders_per_customer": pytest.approx(5 / 3),
        "median_orders_per_customer": 1.0,
    }
    assert_json_pure(s)


def test_frequency_distribution_default_bins():
    fd = frequency_distribution(tiny_tx())
    assert fd["orders"].tolist() == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10+"]
    assert fd["customers"].tolist() == [2, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    np.testing.assert_allclose(fd["share"], [2 / 3, 0, 1 / 3] + [0] * 7)


def test_frequency_distribution_open_last_bin():
    # customer X with 12 orders, Y with 10, Z with 9, W with 1
    counts = {"X": 12, "Y": 10, "Z": 9, "W": 1}
    rows = [(f"{c}{i}", c) for c, n in counts.items() for i in range(n)]
    tx = pd.DataFrame(rows, columns=[S.ORDER_ID, S.CUSTOMER_ID])
    fd = frequency_distribution(tx)
    assert dict(zip(fd["orders"], fd["customers"], strict=True)) == {
        "1": 1, "2": 0, "3": 0, "4": 0, "5": 0, "6": 0, "7": 0, "8": 0, "9": 1, "10+": 2,
    }  # fmt: skip
    small = frequency_distribution(tx, max_orders=3)
    assert small["orders"].tolist() == ["1", "2", "3+"] and small["customers"].tolist() == [1, 0, 3]
    with pytest.raises(AnalysisError, match="max_orders"):
        frequency_distribution(tx, max_orders=0)


def test_one_time_vs_repeat():
    r = one_time_vs_repeat(tiny_tx())
    assert r["one_time_customers"] == 2 and r["repeat_customers"] == 1
    assert r["one_time_pct"] == pytest.approx(200 / 3) and r["repeat_pct"] == pytest.approx(100 / 3)
    assert r["one_time_revenue"] == 140.0 and r["repeat_revenue"] == 100.0
    assert r["one_time_revenue_pct"] == pytest.approx(140 / 2.4)
    assert r["repeat_revenue_pct"] == pytest.approx(100 / 2.4)
    assert_json_pure(r)


def test_revenue_by_customer():
    rev = revenue_by_customer(tiny_tx())
    assert rev.to_dict() == {"A": 100.0, "B": 40.0, "C": 100.0}
    assert rev.index.name == "customer_id" and rev.name == "revenue"


def test_revenue_deciles_twenty_customers():
    d = revenue_deciles(pd.Series(np.arange(1.0, 21.0)))
    assert d["decile"].tolist() == list(range(1, 11))
    assert d["customers"].tolist() == [2] * 10
    assert d["revenue"].tolist() == [39.0, 35.0, 31.0, 27.0, 23.0, 19.0, 15.0, 11.0, 7.0, 3.0]
    np.testing.assert_allclose(d["share"], d["revenue"] / 210)


def test_revenue_deciles_fewer_than_ten_customers():
    d = revenue_deciles([1.0, 10.0, 5.0])  # ranks 0, 1, 2 of 3 -> deciles 1, 4, 7
    assert d["customers"].tolist() == [1, 0, 0, 1, 0, 0, 1, 0, 0, 0]
    assert d["revenue"].tolist() == [10.0, 0, 0, 5.0, 0, 0, 1.0, 0, 0, 0]
    assert d["share"].sum() == pytest.approx(1.0)
    with pytest.raises(AnalysisError):
        revenue_deciles([])


def test_top_share():
    assert top_share(np.arange(1.0, 11.0)) == pytest.approx(19 / 55)  # top 2 of 10
    assert top_share([1.0, 2.0, 3.0, 4.0, 5.0], fraction=0.5) == pytest.approx(12 / 15)  # 2.5 rounds up to 3
    assert top_share([5.0, 1.0, 4.0], fraction=0.01) == pytest.approx(0.5)  # at least one customer
    assert top_share([5.0, 1.0, 4.0], fraction=1.0) == 1.0
    assert math.isnan(top_share([0.0, 0.0]))
    with pytest.raises(AnalysisError, match="fraction"):
        top_share([1.0], fraction=0)


def test_concentration_is_undefined_together_when_total_revenue_is_not_positive():
    # Net total -15: no share of a negative total, and the Gini (which clips negatives to 0) does not pretend
    # to measure a concentration either.
    negative = [-5.0, 10.0, -20.0]
    assert revenue_deciles(negative)["share"].isna().all()
    assert math.isnan(top_share(negative))
    assert math.isnan(gini(negative))
    assert lorenz_curve(negative)["revenue_share"].isna().all()
    d = describe_customers(pd.DataFrame({S.CUSTOMER_ID: ["A", "B", "C"], "spend": negative,
                                         S.COUNTRY: ["UK", "UK", "FR"]}), spend_col="spend")
    rc = d["revenue_contribution"]
    assert rc["top_20pct_share"] is None and rc["gini"] is None
    assert all(row["share"] is None for row in rc["deciles"])
    assert all(row["share"] is None for row in rc["by_country"])
    # A positive total with one negative customer: shares of the net total, Gini on clipped values.
    mixed = [-5.0, 10.0, 20.0]
    assert revenue_deciles(mixed)["share"].sum() == pytest.approx(1.0)
    assert gini(mixed) == pytest.approx(gini([0.0, 10.0, 20.0]))


def test_gini_hand_values():
    assert gini([0.0, 0.0, 0.0, 10.0]) == pytest.approx(0.75)
    assert gini([10.0, 0.0, 0.0, 0.0]) == pytest.approx(0.75)  # order does not matter
    assert gini([5.0, 5.0, 5.0]) == 0.0
    assert gini([1.0, 2.0, 3.0, 4.0]) == pytest.approx(0.25)  # (-3 - 2 + 3 + 12) / (4 * 10)
    assert gini([-5.0, 0.0, 0.0, 10.0]) == pytest.approx(0.75)  # negative clipped to 0
    assert gini(pd.Series([7.0])) == 0.0
    assert math.isnan(gini([0.0, 0.0]))
    with pytest.raises(AnalysisError):
        gini([])


def test_lorenz_curve():
    lc = lorenz_curve([0.0, 0.0, 0.0, 10.0], points=5)
    assert lc["customer_share"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert lc["revenue_share"].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]
    lc = lorenz_curve([2.0, 1.0, 1.0], points=4)  # sorted 1, 1, 2: cumulative 0, .25, .5, 1
    np.testing.assert_allclose(lc["revenue_share"], [0, 0.25, 0.5, 1.0])
    lc = lorenz_curve([2.0, 1.0, 1.0], points=3)  # halfway between 1/3 (.25) and 2/3 (.5)
    np.testing.assert_allclose(lc["revenue_share"], [0, 0.375, 1.0])
    default = lorenz_curve(np.arange(1.0, 101.0))
    assert len(default) == 101
    assert (default.iloc[0].tolist(), default.iloc[-1].tolist()) == ([0.0, 0.0], [1.0, 1.0])
    assert (np.diff(default["revenue_share"]) >= 0).all()
    assert (default["revenue_share"] <= default["customer_share"] + 1e-12).all()
    with pytest.raises(AnalysisError, match="points"):
        lorenz_curve([1.0], points=1)


def test_revenue_by_country():
    c = revenue_by_country(tiny_tx())
    assert c.to_dict("list") == {
        "country": ["FR", "UK"],
        "customers": [2, 1],
        "revenue": [140.0, 100.0],
        "share": [pytest.approx(140 / 240), pytest.approx(100 / 240)],
    }
    tx = tiny_tx()
    tx.loc[5, S.COUNTRY] = "FR"  # A also buys in FR: counted in both countries
    c = revenue_by_country(tx).set_index("country")
    assert c.loc["FR", "customers"] == 3 and c.loc["UK", "customers"] == 1
    assert c.loc["FR", "revenue"] == 160.0
    assert revenue_by_country(tiny_tx().drop(columns=[S.COUNTRY])) is None


def test_monthly_trend_zero_fills_missing_month():
    m = monthly_trend(tiny_tx())
    assert m.to_dict("list") == {
        "month": ["2021-01", "2021-02", "2021-03", "2021-04"],
        "revenue": [70.0, 50.0, 0.0, 120.0],
        "orders": [2, 1, 0, 2],
        "customers": [2, 1, 0, 2],
    }


def test_weekday_hour_cells():
    w = weekday_hour(tiny_tx())
    assert w["weekdays"] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert w["hours"] == list(range(24))
    orders, revenue = np.array(w["orders"]), np.array(w["revenue"])
    assert orders.shape == (7, 24) and revenue.shape == (7, 24)
    expected = {
        (0, 10): (1, 30.0),
        (2, 15): (1, 40.0),
        (5, 9): (1, 50.0),
        (6, 20): (1, 100.0),
        (2, 10): (1, 20.0),
    }
    for (day, hour), (n, rev) in expected.items():
        assert (orders[day, hour], revenue[day, hour]) == (n, rev)
    assert orders.sum() == 5 and revenue.sum() == 240.0  # o1's two lines count as one order
    assert_json_pure(w)


def test_weekday_hour_and_months_before_1970():
    tx = pd.DataFrame(
        {
            S.ORDER_ID: ["x", "y"],
            S.CUSTOMER_ID: ["A", "A"],
            S.ORDER_DATE: pd.to_datetime(["1969-12-31 23:30", "1970-02-02 00:10"]),  # Wed 23h, Mon 0h
            S.AMOUNT: [1.0, 2.0],
        }
    )
    w = weekday_hour(tx)
    assert w["orders"][2][23] == 1 and w["orders"][0][0] == 1 and w["revenue"][2][23] == 1.0
    assert monthly_trend(tx)["month"].tolist() == ["1969-12", "1970-01", "1970-02"]


def test_cohort_retention_matrix():
    c = cohort_retention(tiny_tx())
    assert c == {
        "cohorts": ["2021-01", "2021-04"],
        "periods": [0, 1, 2, 3],
        "customers": [2, 1],
        # Jan cohort {A, B}: Jan both, Feb A, Mar nobody, Apr A.  Apr cohort {C}: data ends in April.
        "retention": [[1.0, 0.5, 0.0, 0.5], [1.0, None, None, None]],
    }
    assert_json_pure(c)


def test_functions_reject_empty_and_unclean_input():
    with pytest.raises(AnalysisError, match="empty"):
        summary(tiny_tx().iloc[:0])
    tx = tiny_tx()
    tx.loc[3, S.CUSTOMER_ID] = None
    with pytest.raises(AnalysisError, match="customer_id"):
        summary(tx)
    with pytest.raises(AnalysisError, match="amount"):
        one_time_vs_repeat(tiny_tx().drop(columns=[S.AMOUNT]))


# ---------------------------------------------------------------------------------------------
# assemblers
# ---------------------------------------------------------------------------------------------


def test_describe_transactions_keys_values_and_json():
    d = describe_transactions(tiny_tx())
    assert set(d) == {
        "summary", "frequency_distribution", "one_time_vs_repeat", "revenue_contribution", "seasonality",
        "cohorts", "unavailable",
    }  # fmt: skip
    assert_json_pure(d)
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert d["summary"]["orders"] == 5
    assert d["frequency_distribution"][0] == {"orders": "1", "customers": 2, "share": pytest.approx(2 / 3)}
    assert d["one_time_vs_repeat"]["one_time_customers"] == 2
    rc = d["revenue_contribution"]
    assert set(rc) == {"deciles", "top_20pct_share", "gini", "lorenz", "by_country"}
    assert rc["top_20pct_share"] == pytest.approx(100 / 240)  # round(0.6) = 1 customer of 100
    assert rc["gini"] == pytest.approx((-2 * 40 + 0 * 100 + 2 * 100) / (3 * 240))
    assert len(rc["lorenz"]["customer_share"]) == 101 and rc["lorenz"]["revenue_share"][-1] == 1.0
    assert [r["customers"] for r in rc["deciles"]] == [1, 0, 0, 1, 0, 0, 1, 0, 0, 0]
    assert rc["by_country"][0] == {
        "country": "FR",
        "customers": 2,
        "revenue": 140.0,
        "share": pytest.approx(140 / 240),
    }
    assert [m["month"] for m in d["seasonality"]["monthly"]] == ["2021-01", "2021-02", "2021-03", "2021-04"]
    assert d["seasonality"]["weekday_hour"]["orders"][6][20] == 1
    assert d["cohorts"]["retention"][0] == [1.0, 0.5, 0.0, 0.5]
    assert d["unavailable"] == []


def test_describe_transactions_without_country():
    d = describe_transactions(tiny_tx().drop(columns=[S.COUNTRY]))
    assert d["revenue_contribution"]["by_country"] is None
    assert [u["analysis"] for u in d["unavailable"]] == ["by_country"]
    assert_json_pure(d)


def customers_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4"],
            "amount": [100.0, 300.0, np.nan, 0.0],
            "Gender": ["F", "F", "M", None],
            "Member": [True, False, True, True],
            "Age": [20, 30, 40, 50],
            "Code": ["a", "b", "c", "d"],
        }
    )


def test_describe_customers_with_spend():
    d = describe_customers(customers_table(), max_categories=3)
    assert_json_pure(d)
    assert d["summary"] == {
        "customers": 4,
        "orders": None,
        "revenue": 400.0,
        "average_order_value": None,
        "average_purchase_value_per_customer": pytest.approx(400 / 3),  # c3 has no spend
        "first_date": None,
        "last_date": None,
        "mean_orders_per_customer": None,
        "median_orders_per_customer": None,
    }
    for key in ("frequency_distribution", "one_time_vs_repeat", "seasonality", "cohorts"):
        assert d[key] is None
    names = [u["analysis"] for u in d["unavailable"]]
    assert names == [
        "frequency_distribution", "one_time_vs_repeat", "seasonality", "cohorts", "average_order_value",
        "by_country",
    ]  # fmt: skip
    assert "purchase frequency cannot be computed" in d["unavailable"][0]["reason"]
    rc = d["revenue_contribution"]
    assert rc["gini"] == pytest.approx((-2 * 0 + 0 * 100 + 2 * 300) / (3 * 400))
    assert rc["top_20pct_share"] == pytest.approx(0.75)  # round(0.6) = 1 customer: 300 of 400
    assert rc["by_country"] is None
    # Gender: F x2 (mean 200), M x1 (no spend), missing x1 (0); Age is numeric, Code has 4 > 3 values
    assert set(d["by_category"]) == {"Gender", "Member"}
    assert d["by_category"]["Gender"] == [
        {"value": "F", "customers": 2, "mean_spend": 200.0},
        {"value": "M", "customers": 1, "mean_spend": None},
        {"value": None, "customers": 1, "mean_spend": 0.0},
    ]
    assert d["by_category"]["Member"] == [
        {"value": True, "customers": 3, "mean_spend": 50.0},
        {"value": False, "customers": 1, "mean_spend": 300.0},
    ]


def test_describe_customers_without_spend():
    d = describe_customers(customers_table().drop(columns=["amount"]))
    assert_json_pure(d)
    assert d["summary"]["customers"] == 4
    assert d["summary"]["revenue"] is None and d["summary"]["average_purchase_value_per_customer"] is None
    assert d["revenue_contribution"] is None
    names = {u["analysis"] for u in d["unavailable"]}
    assert {"revenue", "average_purchase_value_per_customer", "revenue_contribution", "cohorts"} <= names
    assert d["by_category"]["Member"][0] == {"value": True, "customers": 3, "mean_spend": None}
    assert d["unavailable"][-1]["reason"].startswith("The file has no spend column")
    empty_spend = describe_customers(customers_table().assign(amount=np.nan))
    assert empty_spend["summary"]["revenue"] is None
    assert empty_spend["unavailable"][-1]["reason"].startswith("The spend column 'amount' has no values")


def test_describe_customers_country_and_errors():
    t = customers_table().assign(country=["UK", "FR", "UK", "UK"])
    rc = describe_customers(t)["revenue_contribution"]
    assert rc["by_country"] == [
        {"country": "FR", "customers": 1, "revenue": 300.0, "share": 0.75},
        {"country": "UK", "customers": 3, "revenue": 100.0, "share": 0.25},
    ]
    assert all(type(r["customers"]) is int for r in rc["by_country"])
    with pytest.raises(AnalysisError, match="must hold numbers"):
        describe_customers(customers_table(), spend_col="Gender")
    with pytest.raises(AnalysisError, match="id column"):
        describe_customers(customers_table().drop(columns=["customer_id"]))
    with pytest.raises(AnalysisError, match="empty"):
        describe_customers(customers_table().iloc[:0])


# ---------------------------------------------------------------------------------------------
# real data
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def online_retail_tx(online_retail_path) -> pd.DataFrame:
    raw = pd.read_parquet(online_retail_path)
    raw = raw[raw["CustomerID"].notna() & (raw["Quantity"] > 0) & (raw["UnitPrice"] > 0)]
    tx = pd.DataFrame(
        {
            S.ORDER_ID: raw["InvoiceNo"],
            S.CUSTOMER_ID: raw["CustomerID"].astype("int64").astype(str),
            S.ORDER_DATE: pd.to_datetime(raw["InvoiceDate"]),
            S.QUANTITY: raw["Quantity"].astype("float64"),
            S.UNIT_PRICE: raw["UnitPrice"],
            S.PRODUCT_ID: raw["StockCode"],
            S.COUNTRY: raw["Country"],
        }
    )
    tx[S.AMOUNT] = tx[S.QUANTITY] * tx[S.UNIT_PRICE]
    return tx.reset_index(drop=True)


@pytest.mark.realdata
def test_real_online_retail_figures(online_retail_tx):
    d = describe_transactions(online_retail_tx)
    s = d["summary"]
    assert (s["customers"], s["orders"]) == (4338, 18532)
    assert round(s["revenue"], 2) == 8911407.90
    assert round(s["mean_orders_per_customer"], 2) == 4.27 and s["median_orders_per_customer"] == 2
    assert (s["first_date"], s["last_date"]) == ("2010-12-01T08:26:00", "2011-12-09T12:50:00")
    r = d["one_time_vs_repeat"]
    assert r["one_time_customers"] == 1493 and round(r["one_time_pct"], 2) == 34.42
    assert sum(f["customers"] for f in d["frequency_distribution"]) == 4338
    assert d["frequency_distribution"][0]["customers"] == 1493
    assert sum(m["orders"] for m in d["seasonality"]["monthly"]) >= 18532  # an order may span months
    assert len(d["seasonality"]["monthly"]) == 13
    assert sum(map(sum, d["seasonality"]["weekday_hour"]["orders"])) >= 18532
    assert sum(d["cohorts"]["customers"]) == 4338
    rc = d["revenue_contribution"]
    assert 0.6 < rc["gini"] < 0.9 and 0.6 < rc["top_20pct_share"] < 0.9
    assert (
        sum(c["customers"] for c in rc["by_country"]) >= 4338
        and rc["by_country"][0]["country"] == "United Kingdom"
    )
    assert_json_pure(d)


@pytest.mark.realdata
def test_real_customer_level_file(ecommerce_path):
    raw = pd.read_csv(ecommerce_path)
    customers = raw.rename(columns={"Customer_ID": "customer_id", "Total_Spend": "amount"})
    d = describe_customers(customers)
    assert d["summary"]["customers"] == 350
    assert round(d["summary"]["revenue"], 2) == 295883.60
    assert round(d["summary"]["average_purchase_value_per_customer"], 2) == 845.38
    assert d["frequency_distribution"] is None and d["seasonality"] is None
    assert {"City", "Gender", "Membership_Type"} <= set(d["by_category"])
    assert_json_pure(d)
