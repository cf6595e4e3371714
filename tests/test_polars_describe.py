"""The polars describe report equals the pandas one: real data, demo data, the hand-computed tiny cases of
tests/test_describe.py, and edge cases (one customer, one order, no country, one month, a year boundary, missing
countries, aware and microsecond timestamps, categorical columns, other column names, invalid input)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import polars as pl
import pytest

from analysis import pipeline
from analysis import schema as S
from analysis.describe import describe_transactions
from analysis.errors import AnalysisError
from analysis.polars_describe import describe_transactions_pl
from tests.test_describe import assert_json_pure, tiny_tx

REL = 1e-9


def assert_same_report(expected, actual, path="$"):
    """Same structure, key order, list lengths and exact types; floats equal to ``REL``, everything else equal."""
    assert type(actual) is type(expected), f"{path}: {type(actual).__name__} != {type(expected).__name__}"
    if isinstance(expected, dict):
        assert list(actual) == list(expected), f"{path}: keys {list(actual)} != {list(expected)}"
        for key in expected:
            assert_same_report(expected[key], actual[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), f"{path}: {len(actual)} items != {len(expected)}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            assert_same_report(e, a, f"{path}[{i}]")
    elif isinstance(expected, float):
        assert math.isclose(actual, expected, rel_tol=REL), f"{path}: {actual!r} != {expected!r}"
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def both(tx: pd.DataFrame, **kwargs) -> dict:
    """The polars report of ``tx`` after checking it equals the pandas report; returns the polars report."""
    expected = describe_transactions(tx, **kwargs)
    actual = describe_transactions_pl(pl.from_pandas(tx), **kwargs)
    assert_same_report(expected, actual)
    assert_json_pure(actual)
    return actual


def lines(rows: list[tuple], country: bool = True) -> pd.DataFrame:
    """A canonical table from (order, customer, "YYYY-MM-DD HH:MM", amount[, country]) tuples."""
    names = [S.ORDER_ID, S.CUSTOMER_ID, S.ORDER_DATE, S.AMOUNT] + ([S.COUNTRY] if country else [])
    tx = pd.DataFrame(rows, columns=names)
    tx[S.ORDER_DATE] = pd.to_datetime(tx[S.ORDER_DATE])
    return tx


# ---------------------------------------------------------------------------------------------
# real and demo data
# ---------------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_online_retail_equals_pandas(online_retail_prepared):
    d = both(online_retail_prepared.table)
    s = d["summary"]  # figures of ../shared/data/README.md
    assert (s["customers"], s["orders"]) == (4338, 18532)
    assert round(s["revenue"], 2) == 8911407.90
    assert d["one_time_vs_repeat"]["one_time_customers"] == 1493
    assert len(d["seasonality"]["monthly"]) == 13 and sum(d["cohorts"]["customers"]) == 4338
    assert d["revenue_contribution"]["by_country"][0]["country"] == "United Kingdom"


def test_demo_data_equals_pandas():
    table = pipeline.prepare(pipeline.demo_dataset()).table
    d = both(table)
    assert d["summary"]["customers"] == table[S.CUSTOMER_ID].nunique()
    assert d["summary"]["orders"] == table[S.ORDER_ID].nunique()


# ---------------------------------------------------------------------------------------------
# the hand-computed cases of tests/test_describe.py
# ---------------------------------------------------------------------------------------------


def test_tiny_case_equals_pandas_and_hand_values():
    d = both(tiny_tx())
    assert d["summary"]["orders"] == 5 and d["summary"]["revenue"] == 240.0
    assert [f["customers"] for f in d["frequency_distribution"]] == [2, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert d["revenue_contribution"]["by_country"] == [
        {"country": "FR", "customers": 2, "revenue": 140.0, "share": pytest.approx(140 / 240)},
        {"country": "UK", "customers": 1, "revenue": 100.0, "share": pytest.approx(100 / 240)},
    ]
    assert [m["orders"] for m in d["seasonality"]["monthly"]] == [2, 1, 0, 2]
    assert d["seasonality"]["weekday_hour"]["orders"][0][10] == 1  # o1's two lines: one order
    assert d["seasonality"]["weekday_hour"]["revenue"][0][10] == 30.0
    assert d["cohorts"]["retention"] == [[1.0, 0.5, 0.0, 0.5], [1.0, None, None, None]]


def test_tiny_case_customer_in_two_countries():
    tx = tiny_tx()
    tx.loc[5, S.COUNTRY] = "FR"  # A also buys in FR: counted in both countries
    by_country = both(tx)["revenue_contribution"]["by_country"]
    assert [(c["country"], c["customers"], c["revenue"]) for c in by_country] == [("FR", 3, 160.0), ("UK", 1, 80.0)]


def test_tiny_case_without_country():
    d = both(tiny_tx().drop(columns=[S.COUNTRY]))
    assert d["revenue_contribution"]["by_country"] is None
    assert [u["analysis"] for u in d["unavailable"]] == ["by_country"]


def test_dates_before_1970():
    tx = lines([("x", "A", "1969-12-31 23:30", 1.0), ("y", "A", "1970-02-02 00:10", 2.0)], country=False)
    d = both(tx)
    assert d["seasonality"]["weekday_hour"]["orders"][2][23] == 1  # Wednesday 23h
    assert d["seasonality"]["weekday_hour"]["orders"][0][0] == 1  # Monday 0h
    assert [m["month"] for m in d["seasonality"]["monthly"]] == ["1969-12", "1970-01", "1970-02"]


# ---------------------------------------------------------------------------------------------
# edge cases
# ---------------------------------------------------------------------------------------------


def test_one_customer_one_order_one_line():
    d = both(lines([("o1", "A", "2022-03-05 12:00", 42.5, "UK")]))
    assert d["summary"]["customers"] == 1 and d["summary"]["orders"] == 1
    assert d["summary"]["first_date"] == d["summary"]["last_date"] == "2022-03-05T12:00:00"
    assert d["revenue_contribution"]["gini"] == 0.0 and d["revenue_contribution"]["top_20pct_share"] == 1.0
    assert d["cohorts"] == {"cohorts": ["2022-03"], "periods": [0], "customers": [1], "retention": [[1.0]]}


def test_one_customer_several_orders_in_a_single_month():
    tx = lines(
        [
            ("o1", "A", "2022-03-05 12:00", 10.0, "UK"),
            ("o1", "A", "2022-03-05 12:00", 5.0, "UK"),
            ("o2", "A", "2022-03-20 08:59", 7.0, "UK"),
        ]
    )
    d = both(tx)
    assert d["seasonality"]["monthly"] == [{"month": "2022-03", "revenue": 22.0, "orders": 2, "customers": 1}]
    assert d["one_time_vs_repeat"]["repeat_customers"] == 1
    assert d["frequency_distribution"][1] == {"orders": "2", "customers": 1, "share": 1.0}


def test_one_order_of_several_customers_and_lines():
    tx = lines([("o1", "A", "2022-03-05 12:00", 10.0, "UK"), ("o1", "B", "2022-03-05 12:00", 30.0, "UK")])
    d = both(tx)
    assert d["summary"]["orders"] == 1 and d["summary"]["customers"] == 2
    assert d["summary"]["mean_orders_per_customer"] == 1.0


def test_orders_across_a_year_boundary_and_an_order_spanning_two_months():
    tx = lines(
        [
            ("o1", "A", "2021-12-31 23:59", 10.0, "UK"),
            ("o1", "A", "2022-01-01 00:01", 20.0, "UK"),  # the same order id, next month, next year
            ("o2", "B", "2021-11-15 10:00", 5.0, "FR"),
            ("o3", "B", "2022-02-01 09:00", 5.0, "FR"),
        ]
    )
    d = both(tx)
    monthly = d["seasonality"]["monthly"]
    assert [m["month"] for m in monthly] == ["2021-11", "2021-12", "2022-01", "2022-02"]
    assert [m["orders"] for m in monthly] == [1, 1, 1, 1]  # o1 counts in December and in January
    assert d["cohorts"]["cohorts"] == ["2021-11", "2021-12"]
    assert d["cohorts"]["retention"] == [[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 0.0, None]]


def test_missing_country_values_are_their_own_row_and_sort_last():
    tx = lines(
        [
            ("o1", "A", "2022-01-05 10:00", 10.0, None),
            ("o2", "B", "2022-01-06 10:00", 10.0, "UK"),
            ("o3", "C", "2022-01-07 10:00", 10.0, "DE"),
            ("o4", "C", "2022-01-08 10:00", 30.0, None),
        ]
    )
    by_country = both(tx)["revenue_contribution"]["by_country"]
    assert [(c["country"], c["customers"], c["revenue"]) for c in by_country] == [
        (None, 2, 40.0),
        ("DE", 1, 10.0),  # tie on revenue: by name
        ("UK", 1, 10.0),
    ]


def test_negative_net_revenue_leaves_every_concentration_figure_undefined():
    tx = lines([("o1", "A", "2022-01-05 10:00", 10.0, "UK"), ("C2", "B", "2022-01-06 10:00", -25.0, "UK")])
    rc = both(tx)["revenue_contribution"]
    assert rc["gini"] is None and rc["top_20pct_share"] is None
    assert all(v is None for v in rc["lorenz"]["revenue_share"])
    assert all(row["share"] is None for row in rc["by_country"])


def test_nanosecond_aware_microsecond_and_date_timestamps():
    tx = lines([("o1", "A", "2022-01-05 10:00", 1.0, "UK"), ("o2", "B", "2022-02-05 23:30", 2.0, "UK")])
    tx[S.ORDER_DATE] = tx[S.ORDER_DATE].astype("datetime64[ns]")
    tx.loc[0, S.ORDER_DATE] += pd.Timedelta(nanoseconds=123)
    assert both(tx)["summary"]["first_date"] == "2022-01-05T10:00:00.000000123"
    # Aware times are read as wall-clock times; millisecond and microsecond columns give the same report.
    both(tx.assign(**{S.ORDER_DATE: tx[S.ORDER_DATE].dt.tz_localize("Europe/Paris")}))
    for unit in ("us", "ms"):
        coarse = pl.from_pandas(tx).with_columns(pl.col(S.ORDER_DATE).dt.cast_time_unit(unit))
        expected = describe_transactions(tx.assign(**{S.ORDER_DATE: tx[S.ORDER_DATE].dt.floor(unit)}))
        assert expected["summary"]["first_date"] == "2022-01-05T10:00:00"
        assert_same_report(expected, describe_transactions_pl(coarse))
    # A polars Date column (pandas has no such type: it reads it as midnight datetimes).
    days = pl.from_pandas(tx).with_columns(pl.col(S.ORDER_DATE).dt.date())
    assert_same_report(describe_transactions(days.to_pandas()), describe_transactions_pl(days))
    assert describe_transactions_pl(days)["summary"]["last_date"] == "2022-02-05T00:00:00"


def test_categorical_ids_and_countries_and_other_column_names():
    tx = tiny_tx()
    names = {S.CUSTOMER_ID: "cust", S.ORDER_ID: "inv", S.ORDER_DATE: "when", S.AMOUNT: "rev", S.COUNTRY: "land"}
    frame = pl.from_pandas(tx.rename(columns=names)).with_columns(
        pl.col("land").cast(pl.Enum(["UK", "FR"])), pl.col("cust").cast(pl.Categorical)
    )
    kwargs = {"customer_col": "cust", "order_col": "inv", "date_col": "when", "amount_col": "rev",
              "country_col": "land"}
    actual = describe_transactions_pl(frame, **kwargs)
    assert_same_report(describe_transactions(tx), actual)
    assert [c["country"] for c in actual["revenue_contribution"]["by_country"]] == ["FR", "UK"]


def test_invalid_input_raises_analysis_error_naming_the_problem():
    frame = pl.from_pandas(tiny_tx())
    with pytest.raises(AnalysisError, match="empty"):
        describe_transactions_pl(frame.head(0))
    with pytest.raises(AnalysisError, match="polars DataFrame"):
        describe_transactions_pl(tiny_tx())
    with pytest.raises(AnalysisError, match="no column 'amount'"):
        describe_transactions_pl(frame.drop(S.AMOUNT))
    with pytest.raises(AnalysisError, match="'customer_id' has 1 missing"):
        describe_transactions_pl(frame.with_columns(pl.when(pl.int_range(6) == 3).then(None)
                                                    .otherwise(pl.col(S.CUSTOMER_ID)).alias(S.CUSTOMER_ID)))
    with pytest.raises(AnalysisError, match="'amount' has 1 missing"):
        describe_transactions_pl(frame.with_columns(pl.Series(S.AMOUNT, [1.0, np.nan, 2.0, 3.0, 4.0, 5.0])))
    with pytest.raises(AnalysisError, match="must hold dates"):
        describe_transactions_pl(frame.with_columns(pl.col(S.ORDER_DATE).cast(pl.String)))
    with pytest.raises(AnalysisError, match="must hold numbers"):
        describe_transactions_pl(frame.with_columns(pl.col(S.AMOUNT).cast(pl.String)))
