"""Per-customer features, customer-level features and their transformation, on hand-computed cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import schema as S
from analysis.errors import AnalysisError
from analysis.features import (
    FeatureMatrix,
    customer_features,
    customer_level_features,
    skewness,
    transform_features,
)

AS_OF = pd.Timestamp("2021-04-08 00:00")


def tiny_tx() -> pd.DataFrame:
    """3 customers, 5 orders, 6 lines.

    A: o1 2021-01-04 10:30 (Mon, 2 lines 10 + 20, P1 P2), o3 2021-02-13 09:15 (Sat, 50, P1),
       o5 2021-04-07 10:45 (Wed, 20, P3)                      -> 3 orders, 100, products {P1, P2, P3}
    B: o2 2021-01-06 15:00 (Wed, 40, P1)                      -> 1 order, 40
    C: o4 2021-04-04 20:00 (Sun, 100, P3)                     -> 1 order, 100
    """
    rows = [
        ("o1", "A", "2021-01-04 10:30", 1.0, 10.0, "P1", "UK"),
        ("o1", "A", "2021-01-04 10:30", 2.0, 10.0, "P2", "UK"),
        ("o2", "B", "2021-01-06 15:00", 1.0, 40.0, "P1", "FR"),
        ("o3", "A", "2021-02-13 09:15", 5.0, 10.0, "P1", "UK"),
        ("o4", "C", "2021-04-04 20:00", 1.0, 100.0, "P3", "FR"),
        ("o5", "A", "2021-04-07 10:45", 2.0, 10.0, "P3", "UK"),
    ]
    tx = pd.DataFrame(
        rows, columns=[S.ORDER_ID, S.CUSTOMER_ID, "d", S.QUANTITY, S.UNIT_PRICE, S.PRODUCT_ID, S.COUNTRY]
    )
    tx.insert(2, S.ORDER_DATE, pd.to_datetime(tx.pop("d")))
    tx[S.AMOUNT] = tx[S.QUANTITY] * tx[S.UNIT_PRICE]
    return tx


# ---------------------------------------------------------------------------------------------
# customer_features
# ---------------------------------------------------------------------------------------------


def test_all_features_hand_computed():
    returns = pd.DataFrame({S.CUSTOMER_ID: ["A", "A", "B", "Z"], S.AMOUNT: [-10.0, -15.0, -50.0, -5.0]})
    f = customer_features(tiny_tx(), as_of=AS_OF, features=S.FEATURES, returns=returns)
    assert list(f.columns) == list(S.FEATURES)
    assert list(f.index) == ["A", "B", "C"] and f.index.name == "customer_id"
    assert (f.dtypes == np.float64).all()
    a, b, c = f.loc["A"], f.loc["B"], f.loc["C"]
    # A: last 2021-04-07 10:45 -> 13 h 15 min before as_of; first 2021-01-04 10:30 -> 93 d 13.5 h.
    assert a[S.RECENCY] == pytest.approx(13.25 / 24)
    assert a[S.TENURE] == pytest.approx(93 + 13.5 / 24)
    assert a[S.FREQUENCY] == 3 and a[S.MONETARY] == 100
    assert a[S.AVG_ORDER_VALUE] == pytest.approx(100 / 3)
    assert a[S.MEAN_DAYS_BETWEEN] == pytest.approx((93 + 0.25 / 24) / 2)  # span 93 d 15 min, 2 gaps
    assert a[S.DISTINCT_PRODUCTS] == 3
    assert a[S.RETURN_RATE] == pytest.approx(0.25)  # 25 returned of 100
    # B: one order 2021-01-06 15:00 -> 91 d 9 h; one-order gap := tenure.
    assert b[S.RECENCY] == pytest.approx(91.375) and b[S.TENURE] == pytest.approx(91.375)
    assert b[S.MEAN_DAYS_BETWEEN] == pytest.approx(91.375)
    assert (b[S.FREQUENCY], b[S.MONETARY], b[S.AVG_ORDER_VALUE], b[S.DISTINCT_PRODUCTS]) == (1, 40, 40, 1)
    assert b[S.RETURN_RATE] == 1.0  # 50 returned of 40 purchased, clipped
    # C: 2021-04-04 20:00 -> 3 d 4 h.
    assert c[S.RECENCY] == pytest.approx(3 + 4 / 24) and c[S.MEAN_DAYS_BETWEEN] == pytest.approx(3 + 4 / 24)
    assert c[S.RETURN_RATE] == 0.0  # no returns; Z's return is ignored
    assert not f.isna().any().any()


def test_default_features_and_requested_order():
    f = customer_features(tiny_tx(), as_of=AS_OF)
    assert list(f.columns) == [S.RECENCY, S.FREQUENCY, S.MONETARY]
    g = customer_features(tiny_tx(), as_of=AS_OF, features=[S.MONETARY, S.RECENCY])
    assert list(g.columns) == [S.MONETARY, S.RECENCY]
    assert g[S.MONETARY].tolist() == [100.0, 40.0, 100.0]
    single = customer_features(tiny_tx(), as_of=AS_OF, features=S.FREQUENCY)
    assert single[S.FREQUENCY].tolist() == [3.0, 1.0, 1.0]


def test_as_of_equal_to_last_order_gives_zero_recency():
    f = customer_features(tiny_tx(), as_of="2021-04-07 10:45")
    assert f.loc["A", S.RECENCY] == 0.0


def test_frequency_counts_distinct_orders_per_customer():
    tx = tiny_tx()
    tx.loc[2, S.ORDER_ID] = "o1"  # B's line is now in A's order o1 too -> B still 1 order
    tx.loc[4, S.ORDER_DATE] = tx.loc[5, S.ORDER_DATE]
    tx.loc[4, S.CUSTOMER_ID] = "A"  # A: o1, o3, o4, o5
    f = customer_features(tx, as_of=AS_OF, features=[S.FREQUENCY, S.MEAN_DAYS_BETWEEN])
    assert f.loc["A", S.FREQUENCY] == 4 and f.loc["B", S.FREQUENCY] == 1
    assert f.loc["A", S.MEAN_DAYS_BETWEEN] == pytest.approx((93 + 0.25 / 24) / 3)


def test_custom_column_names():
    tx = tiny_tx().rename(
        columns={S.CUSTOMER_ID: "cust", S.ORDER_ID: "inv", S.ORDER_DATE: "when", S.AMOUNT: "rev"}
    )
    f = customer_features(
        tx,
        as_of=AS_OF,
        features=S.FEATURES[:5],
        customer_col="cust",
        order_col="inv",
        date_col="when",
        amount_col="rev",
    )
    expected = customer_features(tiny_tx(), as_of=AS_OF, features=S.FEATURES[:5])
    pd.testing.assert_frame_equal(f, expected)


def test_return_rate_sign_is_ignored_and_missing_amounts_skipped():
    returns = pd.DataFrame({S.CUSTOMER_ID: ["A", "A", "C"], S.AMOUNT: [10.0, -30.0, np.nan]})
    f = customer_features(tiny_tx(), as_of=AS_OF, features=[S.RETURN_RATE], returns=returns)
    assert f[S.RETURN_RATE].tolist() == [0.4, 0.0, 0.0]
    empty = returns.iloc[:0]
    assert customer_features(tiny_tx(), as_of=AS_OF, features=[S.RETURN_RATE], returns=empty)[
        S.RETURN_RATE
    ].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"features": ["recency_days", "loyalty"]}, "loyalty"),
        ({"features": [S.RETURN_RATE]}, "return lines"),
        ({"features": [S.FREQUENCY, S.FREQUENCY]}, "more than once"),
        ({"features": []}, "No features"),
    ],
)
def test_feature_name_errors(kwargs, fragment):
    with pytest.raises(AnalysisError, match=fragment) as info:
        customer_features(tiny_tx(), as_of=AS_OF, **kwargs)
    if "loyalty" in kwargs.get("features", []):
        assert all(name in info.value.message for name in S.FEATURES)  # lists the valid names


def test_as_of_before_last_order_is_an_error():
    with pytest.raises(AnalysisError, match="before the last order"):
        customer_features(tiny_tx(), as_of=pd.Timestamp("2021-04-07 10:44"))


def test_invalid_as_of():
    with pytest.raises(AnalysisError, match="not a valid date"):
        customer_features(tiny_tx(), as_of="yesterday-ish")
    with pytest.raises(AnalysisError, match="missing"):
        customer_features(tiny_tx(), as_of=pd.NaT)


def test_distinct_products_needs_product_column():
    tx = tiny_tx().drop(columns=[S.PRODUCT_ID])
    with pytest.raises(AnalysisError, match="product_id") as info:
        customer_features(tx, as_of=AS_OF, features=[S.DISTINCT_PRODUCTS])
    assert info.value.column == "product_id"


def test_distinct_products_ignores_missing_product():
    tx = tiny_tx()
    tx[S.PRODUCT_ID] = tx[S.PRODUCT_ID].where(tx.index != 1)  # A's P2 line has no product
    f = customer_features(tx, as_of=AS_OF, features=[S.DISTINCT_PRODUCTS])
    assert f[S.DISTINCT_PRODUCTS].tolist() == [2.0, 1.0, 1.0]


def test_empty_and_invalid_transactions():
    with pytest.raises(AnalysisError, match="empty"):
        customer_features(tiny_tx().iloc[:0], as_of=AS_OF)
    with pytest.raises(AnalysisError, match="order_date"):
        customer_features(tiny_tx().drop(columns=[S.ORDER_DATE]), as_of=AS_OF)
    tx = tiny_tx()
    tx.loc[0, S.CUSTOMER_ID] = None
    with pytest.raises(AnalysisError, match="missing value") as info:
        customer_features(tx, as_of=AS_OF)
    assert info.value.column == S.CUSTOMER_ID
    tx = tiny_tx()
    tx[S.ORDER_DATE] = tx[S.ORDER_DATE].astype(str)
    with pytest.raises(AnalysisError, match="dates"):
        customer_features(tx, as_of=AS_OF)


# ---------------------------------------------------------------------------------------------
# customer_level_features
# ---------------------------------------------------------------------------------------------


def customers_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["c3", "c1", "c2", "c4"],
            "Age": [30, 40, 50, 60],
            "amount": [300.0, 100.0, np.nan, 400.0],
            "Member": [True, False, True, False],
            "Gender": ["F", "M", "F", "M"],
        }
    )


def test_customer_level_default_columns_bool_and_dropped_rows():
    f = customer_level_features(customers_table())
    assert list(f.columns) == ["Age", "amount", "Member"]
    assert list(f.index) == ["c1", "c3", "c4"] and f.index.name == "customer_id"  # c2 dropped (no amount)
    assert f.attrs["dropped_rows"] == 1
    assert f["Member"].tolist() == [0.0, 1.0, 0.0]
    assert f["Age"].tolist() == [40.0, 30.0, 60.0]
    assert (f.dtypes == np.float64).all()


def test_customer_level_selected_columns():
    f = customer_level_features(customers_table(), columns=["Member", "Age"])
    assert list(f.columns) == ["Member", "Age"]
    assert len(f) == 4 and f.attrs["dropped_rows"] == 0  # amount not selected, so c2 kept


def test_customer_level_errors():
    with pytest.raises(AnalysisError, match="Gender") as info:
        customer_level_features(customers_table(), columns=["Age", "Gender"])
    assert info.value.column == "Gender"
    with pytest.raises(AnalysisError, match="Income") as info:
        customer_level_features(customers_table(), columns=["Income"])
    assert info.value.column == "Income"
    dup = customers_table()
    dup.loc[1, "customer_id"] = "c3"
    with pytest.raises(AnalysisError, match="more than once"):
        customer_level_features(dup)
    with pytest.raises(AnalysisError, match="id column"):
        customer_level_features(customers_table().drop(columns=["customer_id"]))
    with pytest.raises(AnalysisError, match="no numeric"):
        customer_level_features(customers_table()[["customer_id", "Gender"]])


# ---------------------------------------------------------------------------------------------
# transform_features
# ---------------------------------------------------------------------------------------------


def test_skewness_matches_hand_value_and_scipy():
    x = np.array([[0.0, 1.0], [0.0, 2.0], [0.0, 3.0], [0.0, 4.0], [10.0, 5.0]])
    # column 0: mean 2, m2 = 80/5 = 16, m3 = 480/5 = 96 -> 96 / 16**1.5 = 1.5; column 1 symmetric -> 0
    np.testing.assert_allclose(skewness(x), [1.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(skewness(x), stats.skew(x, axis=0, bias=True), atol=1e-12)
    assert np.isnan(skewness(np.array([[3.0], [3.0]]))[0])


def test_log_auto_logs_only_skewed_nonnegative_columns():
    feats = pd.DataFrame(
        {"skewed": [0.0, 0, 0, 0, 10], "flat": [1.0, 2, 3, 4, 5], "negative": [-1.0, -1, -1, -1, 9]},
        index=pd.Index(list("abcde"), name="customer_id"),
    )
    fm = transform_features(feats, log="auto", scaling="none")
    assert fm.logged == ["skewed"]  # "negative" has skew 1.5 too but values < 0
    np.testing.assert_allclose(fm.values["skewed"], [0, 0, 0, 0, math.log(11)])
    np.testing.assert_allclose(fm.values["flat"], [1, 2, 3, 4, 5])
    assert fm.center == {"skewed": 0.0, "flat": 0.0, "negative": 0.0}
    assert fm.scale == {"skewed": 1.0, "flat": 1.0, "negative": 1.0}
    assert list(fm.values.index) == list("abcde") and fm.values.index.name == "customer_id"


def test_standard_scaling_numbers():
    feats = pd.DataFrame({"x": [1.0, 2.0, 3.0], "const": [5.0, 5.0, 5.0]})
    fm = transform_features(feats, log=None, scaling="standard")
    sd = math.sqrt(2 / 3)  # population std
    np.testing.assert_allclose(fm.values["x"], [-1 / sd, 0, 1 / sd])
    assert fm.center["x"] == 2.0 and fm.scale["x"] == pytest.approx(sd)
    assert fm.scale["const"] == 1.0 and fm.values["const"].tolist() == [0.0, 0.0, 0.0]
    assert fm.logged == [] and fm.scaling == "standard"
    assert (fm.values.dtypes == np.float64).all()


def test_standard_scaling_matches_sklearn():
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(1)
    feats = pd.DataFrame(rng.gamma(2.0, 3.0, size=(50, 3)), columns=["a", "b", "c"])
    fm = transform_features(feats, log=[], scaling="standard")
    np.testing.assert_allclose(fm.values.to_numpy(), StandardScaler().fit_transform(feats.to_numpy()))


def test_robust_scaling_numbers():
    feats = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 100.0], "mostly_zero": [0.0, 0.0, 0.0, 0.0, 10.0]})
    fm = transform_features(feats, log=None, scaling="robust")
    # x: median 3, quartiles 2 and 4 -> IQR 2
    np.testing.assert_allclose(fm.values["x"], [-1.0, -0.5, 0.0, 0.5, 48.5])
    assert fm.center["x"] == 3.0 and fm.scale["x"] == 2.0
    # mostly_zero: IQR 0 -> scale 1
    assert fm.scale["mostly_zero"] == 1.0
    np.testing.assert_allclose(fm.values["mostly_zero"], [0, 0, 0, 0, 10])


def test_robust_scaling_interpolates_quartiles_like_sklearn():
    from sklearn.preprocessing import RobustScaler

    feats = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})  # quartiles 1.75 and 3.25 (linear), median 2.5
    fm = transform_features(feats, log=None, scaling="robust")
    assert fm.center["x"] == 2.5 and fm.scale["x"] == 1.5
    np.testing.assert_allclose(fm.values["x"], [-1.0, -1 / 3, 1 / 3, 1.0])
    np.testing.assert_allclose(fm.values.to_numpy(), RobustScaler().fit_transform(feats.to_numpy()))


def test_log_list_then_standard():
    feats = pd.DataFrame({"m": [0.0, math.e - 1, math.e**2 - 1], "r": [1.0, 2.0, 3.0]})
    fm = transform_features(feats, log=["m"], scaling="standard")
    assert fm.logged == ["m"]
    np.testing.assert_allclose(fm.values["m"], fm.values["r"])  # log1p(m) = 0, 1, 2 scales like 1, 2, 3
    assert fm.center["m"] == pytest.approx(1.0)


def test_transform_errors():
    feats = pd.DataFrame({"a": [1.0, -2.0, 3.0], "b": [1.0, 2.0, 3.0]})
    with pytest.raises(AnalysisError, match="negative") as info:
        transform_features(feats, log=["a"])
    assert info.value.column == "a"
    with pytest.raises(AnalysisError, match="no such"):
        transform_features(feats, log=["zzz"])
    with pytest.raises(AnalysisError, match="log must be"):
        transform_features(feats, log="always")
    with pytest.raises(AnalysisError, match="scaling"):
        transform_features(feats, scaling="minmax")
    with pytest.raises(AnalysisError, match="missing or infinite"):
        transform_features(pd.DataFrame({"a": [1.0, np.nan]}))
    with pytest.raises(AnalysisError, match="not numeric"):
        transform_features(pd.DataFrame({"a": ["x", "y"]}))
    with pytest.raises(AnalysisError, match="empty"):
        transform_features(pd.DataFrame({"a": []}, dtype=float))


def test_transform_does_not_modify_input_and_to_dict_is_json():
    feats = pd.DataFrame({"a": [0.0, 0, 0, 0, 10], "b": [1.0, 2, 3, 4, 5]})
    before = feats.copy()
    fm = transform_features(feats)
    pd.testing.assert_frame_equal(feats, before)
    d = fm.to_dict()
    assert isinstance(fm, FeatureMatrix)
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert set(d) == {"columns", "rows", "logged", "scaling", "center", "scale", "dropped"}
    assert d["dropped"] == {"customers": 0, "by_column": {}, "reason": None}
    assert d["logged"] == ["a"] and d["rows"] == 5 and d["columns"] == ["a", "b"]


# ---------------------------------------------------------------------------------------------
# real data
# ---------------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_data_features_add_up(online_retail_path):
    columns = ["InvoiceNo", "CustomerID", "InvoiceDate", "Quantity", "UnitPrice"]
    raw = pd.read_parquet(online_retail_path, columns=columns)
    raw = raw[raw["CustomerID"].notna() & (raw["Quantity"] > 0) & (raw["UnitPrice"] > 0)]
    tx = pd.DataFrame(
        {
            S.ORDER_ID: raw["InvoiceNo"],
            S.CUSTOMER_ID: raw["CustomerID"].astype("int64").astype(str),
            S.ORDER_DATE: pd.to_datetime(raw["InvoiceDate"]),
            S.AMOUNT: raw["Quantity"] * raw["UnitPrice"],
        }
    )
    f = customer_features(tx, as_of=pd.Timestamp("2011-12-10"), features=S.FEATURES[:6])
    assert len(f) == 4338
    assert f[S.FREQUENCY].sum() == 18532
    assert round(f[S.MONETARY].sum(), 2) == 8911407.90
    assert (f[S.FREQUENCY] == 1).sum() == 1493
    assert f[S.RECENCY].min() == pytest.approx(
        (pd.Timestamp("2011-12-10") - pd.Timestamp("2011-12-09 12:50")).total_seconds() / 86400
    )
    assert not f.isna().any().any()
