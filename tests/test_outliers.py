import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from analysis.errors import AnalysisError
from analysis.outliers import find_outliers, outlier_records, robust_z


@pytest.fixture
def planted():
    """20 ordinary customers spending 300..490 plus c20 spending 16,000 = 40x the median (400)."""
    spend = [300.0 + 10 * i for i in range(20)] + [16_000.0]
    orders = [1.0 + i % 5 for i in range(20)] + [2.0]
    recency = [float(3 * i) for i in range(21)]
    return pd.DataFrame(
        {"recency_days": recency, "frequency": orders, "monetary": spend},
        index=pd.Index([f"c{i}" for i in range(21)], name="customer_id"),
    )


def test_planted_big_spender_found(planted):
    out = find_outliers(planted)
    assert list(out.index) == ["c20"]
    row = out.loc["c20"]
    assert row["flagged"] == "monetary"
    assert row["reason"] == "spent 40x the median customer (16,000.00 vs 400.00) in 2 orders"
    assert row["monetary"] == 16_000.0
    assert out.index.name == "customer_id"
    # skewed non-negative spend is scored on log1p: z = 0.6745 * (log1p(x) - median) / MAD
    t = np.log1p(planted["monetary"])
    expected = 0.6745 * (t["c20"] - t.median()) / (t - t.median()).abs().median()
    assert row["score"] == pytest.approx(expected)
    assert row["score"] > 3.5


def test_tight_normal_sample_has_no_outliers():
    n = 200
    q = norm.ppf((np.arange(n) + 0.5) / n)  # |z| <= 2.81
    rng = np.random.default_rng(7)
    sample = pd.DataFrame({"a": 100 + 5 * rng.permutation(q), "b": 50 + 2 * rng.permutation(q)})
    out = find_outliers(sample)
    assert out.empty
    assert list(out.columns[:3]) == ["score", "flagged", "reason"]


def test_robust_z_plain_and_mad_fallback():
    frame = pd.DataFrame(
        {
            # negative values -> plain x; median 0.5, MAD 1.5
            "plain": [-2.0, -1.0, 0.0, 1.0, 2.0, 10.0, 0.5],
            # MAD 0 (five 5s) -> 1.2533 * mean absolute deviation (7 / 7 = 1)
            "flat": [5.0, 5.0, 5.0, 5.0, 5.0, 6.0, -1.0],
            "constant": [3.0] * 7,
        }
    )
    z = robust_z(frame)
    assert list(z.columns) == ["plain", "flat"]  # constant column skipped
    assert z["plain"].iloc[5] == pytest.approx(0.6745 * (10 - 0.5) / 1.5)
    assert z["flat"].iloc[6] == pytest.approx(-6 / 1.2533)
    assert z["flat"].iloc[5] == pytest.approx(1 / 1.2533)


def test_generic_reason_and_low_side():
    frame = pd.DataFrame({"Temp": [-2.0, -1.0, 0.0, 1.0, 2.0, 10.0, 0.5, -9.0]}, index=list("abcdefgh"))
    out = find_outliers(frame)
    # median 0.25; |dev| = 2.25 1.25 0.25 0.75 1.75 9.75 0.25 9.25 -> MAD 1.5
    z_f = 0.6745 * 9.75 / 1.5
    z_h = 0.6745 * 9.25 / 1.5
    assert list(out.index) == ["f", "h"]  # sorted by score
    assert out.loc["f", "reason"] == f"Temp {z_f:.1f} robust SDs above typical (10 vs median 0.25)"
    assert out.loc["h", "reason"] == f"Temp {z_h:.1f} robust SDs below typical (-9 vs median 0.25)"
    assert out["score"].tolist() == pytest.approx([z_f, z_h])
    assert len(find_outliers(frame, max_rows=1)) == 1
    assert find_outliers(frame, threshold=5.0).empty


def test_frequency_reason_and_combined(planted):
    frame = planted.copy()
    frame.loc["c20", "frequency"] = 90.0
    reason = find_outliers(frame).loc["c20", "reason"]
    # frequency median of 1..5 repeated plus 90 is 3; its clause carries the order count
    assert "placed 90 orders, 30x the median customer (3)" in reason
    assert "spent 40x the median customer (16,000.00 vs 400.00)" in reason
    assert "in 90 orders" not in reason


def test_isolation_forest_ranks_planted_first(planted):
    out = find_outliers(planted, method="isolation_forest", random_state=0)
    assert out.index[0] == "c20"
    assert "spent 40x the median customer" in out.loc["c20", "reason"]
    assert out.loc["c20", "flagged"].startswith("monetary")
    again = find_outliers(planted, method="isolation_forest", random_state=0)
    assert again["score"].tolist() == out["score"].tolist()


def test_columns_and_errors(planted):
    only_recency = find_outliers(planted, columns=["recency_days"])
    assert only_recency.empty
    with pytest.raises(AnalysisError, match="nope"):
        find_outliers(planted, columns=["nope"])
    with pytest.raises(AnalysisError, match="method"):
        find_outliers(planted, method="dbscan")
    with pytest.raises(AnalysisError, match="threshold"):
        find_outliers(planted, threshold=0)


def test_records_json_ready(planted):
    records = outlier_records(find_outliers(planted))
    assert records[0]["customer_id"] == "c20"
    assert isinstance(records[0]["score"], float)
    json.dumps(records, allow_nan=False)


@pytest.mark.parametrize("name", ["score", "flagged", "reason"])
def test_feature_named_like_a_result_column_does_not_collide(planted, name):
    frame = planted.rename(columns={"monetary": name})
    out = find_outliers(frame)
    assert list(out.columns[:3]) == ["score", "flagged", "reason"]
    assert out.columns.is_unique
    row = out.loc["c20"]
    assert row[f"{name}_value"] == 16_000.0  # the feature's value, under a name that cannot clash
    assert row["flagged"] == name
    assert isinstance(row["score"], float) and row["score"] > 3.5
    assert "robust SDs above typical" in row["reason"]  # the reason is not overwritten by the feature


def test_reasons_name_features_in_words():
    frame = pd.DataFrame({"avg_order_value": [20.0 + i for i in range(20)] + [900.0],
                          "Items_Purchased": [10.0 + i % 3 for i in range(20)] + [11.0]})
    reason = find_outliers(frame).iloc[0]["reason"]
    assert reason.startswith("average order value ") and "avg_order_value" not in reason
    frame = pd.DataFrame({"Items_Purchased": [10.0 + i % 3 for i in range(20)] + [95.0]})
    assert find_outliers(frame).iloc[0]["reason"].startswith("Items Purchased ")
