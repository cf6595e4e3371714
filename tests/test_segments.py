import json
import math

import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisError
from analysis.segments import feature_label, name_segments, profile_segments


@pytest.fixture
def six():
    """Six customers in three segments: 0 = a, b, e (recent, frequent, big); 1 = c, d; 2 = f."""
    features = pd.DataFrame(
        {
            "recency_days": [10.0, 20.0, 200.0, 300.0, 45.0, 250.0],
            "frequency": [5.0, 3.0, 1.0, 1.0, 4.0, 1.0],
            "monetary": [500.0, 300.0, 50.0, 70.0, 1000.0, 30.0],
        },
        index=pd.Index(list("abcdef"), name="customer_id"),
    )
    labels = np.array([0, 0, 1, 1, 0, 2])
    return features, labels


def test_profile_table_hand_computed(six):
    features, labels = six
    p = profile_segments(features, labels)
    t = p.table.set_index("segment")
    assert list(p.table.columns[:6]) == [
        "segment",
        "name",
        "size",
        "customer_share",
        "revenue",
        "revenue_share",
    ]
    assert list(t.index) == [0, 1, 2]
    assert list(t["size"]) == [3, 2, 1]
    assert t["customer_share"].tolist() == pytest.approx([0.5, 1 / 3, 1 / 6])
    # revenue: 500 + 300 + 1000 = 1800; 50 + 70 = 120; 30; total 1950
    assert t["revenue"].tolist() == pytest.approx([1800.0, 120.0, 30.0])
    assert t["revenue_share"].tolist() == pytest.approx([1800 / 1950, 120 / 1950, 30 / 1950])
    # segment 0: recency 10, 20, 45 -> mean 25, median 20; spend 500, 300, 1000 -> mean 600, median 500
    assert t.at[0, "mean_recency_days"] == pytest.approx(25.0)
    assert t.at[0, "median_recency_days"] == pytest.approx(20.0)
    assert t.at[0, "mean_monetary"] == pytest.approx(600.0)
    assert t.at[0, "median_monetary"] == pytest.approx(500.0)
    assert t.at[0, "mean_frequency"] == pytest.approx(4.0)
    assert t.at[1, "mean_monetary"] == pytest.approx(60.0)
    assert t.at[1, "median_recency_days"] == pytest.approx(250.0)
    assert t.at[2, "median_monetary"] == pytest.approx(30.0)
    for f in ("recency_days", "frequency", "monetary"):
        assert f"mean_{f}" in t.columns and f"median_{f}" in t.columns


def test_standardised_heatmap_values(six):
    features, labels = six
    p = profile_segments(features, labels)
    z = p.standardised
    assert z.shape == (3, 3)
    assert list(z.columns) == ["recency_days", "frequency", "monetary"]
    # recency: overall mean 825/6 = 137.5; population variance 81587.5/6
    assert z.at[0, "recency_days"] == pytest.approx((25 - 137.5) / math.sqrt(81587.5 / 6))
    # monetary: overall mean 1950/6 = 325; squared deviations sum to 714550
    assert z.at[2, "monetary"] == pytest.approx((30 - 325) / math.sqrt(714550 / 6))
    # frequency: mean 15/6 = 2.5; squared deviations 6.25+0.25+2.25+2.25+2.25+2.25 = 15.5
    assert z.at[1, "frequency"] == pytest.approx((1 - 2.5) / math.sqrt(15.5 / 6))
    # size-weighted standardised means sum to zero per feature
    sizes = p.table.set_index("segment")["size"]
    assert (z.mul(sizes, axis=0).sum() / sizes.sum()).abs().max() < 1e-12


def test_rfm_names_planted(six):
    features, labels = six
    names = profile_segments(features, labels).names
    # overall medians: recency 122.5 (q75 237.5), frequency 2, monetary 185 (q75 450)
    assert names[0] == "High-value loyal"
    # segments 1 and 2 are both lapsed one-time; they differ only in spend (60 vs 30 on average,
    # both "low" in level words) so the relative word decides
    assert names[1] == "Lapsed one-time, higher spend"
    assert names[2] == "Lapsed one-time, lower spend"
    assert len(set(names.values())) == 3
    assert name_segments(features, labels) == names


def test_disambiguation_prefers_distinctive_remaining_feature(six):
    features, labels = six
    features = features.assign(tenure_days=[300.0, 280.0, 20.0, 30.0, 320.0, 400.0])
    p = profile_segments(features, labels)
    # tenure separates segments 1 (25 days) and 2 (400 days) far more than spend does
    assert p.names[1].startswith("Lapsed one-time, ")
    assert "tenure" in p.names[1] and "tenure" in p.names[2]
    assert p.names[1] != p.names[2]
    assert p.kinds[1] == p.kinds[2] == "lapsed_one_time"


def test_rfm_names_other_rules():
    # 8 customers: new one-timers (recent, 1 order, small), loyal regulars, at-risk big spenders
    features = pd.DataFrame(
        {
            "recency_days": [5, 8, 10, 12, 300, 320, 30, 40],
            "frequency": [1, 1, 6, 7, 2, 3, 2, 2],
            "monetary": [40, 60, 300, 350, 5000, 6000, 200, 220],
        },
        dtype="float64",
    )
    labels = [0, 0, 1, 1, 2, 2, 3, 3]
    names = name_segments(features, labels)
    # overall: recency median 21 / q75 105; frequency median 2; monetary median 260 / q75 1512.5
    assert names[0] == "New customers"  # r 6.5, f 1, m 50
    assert names[1] == "Loyal regulars"  # r 11, f 6.5, m 325 (below q75)
    assert names[2] == "At-risk big spenders"  # r 310 >= q75, m 5500 >= q75
    assert names[3] == "Needs attention"  # r 35 between median and q75, f 2 (= median), m 210


def test_generic_names_mention_columns():
    features = pd.DataFrame(
        {
            "Total_Spend": [1000.0, 1000.0, 200.0, 200.0],
            "Items_Purchased": [20, 20, 5, 5],
            "Age": [30, 30, 30, 30],
            "City": ["a", "b", "c", "d"],
        }
    )
    p = profile_segments(features, [0, 0, 1, 1])
    # two equal groups with no spread inside: z = +1 / -1 exactly; Age is constant -> 0
    assert p.standardised.loc[0].tolist() == pytest.approx([1.0, 1.0, 0.0])
    assert p.names == {
        0: "Very high Total Spend, very high Items Purchased",
        1: "Very low Total Spend, very low Items Purchased",
    }
    assert p.naming == "generic" and p.kinds == {0: "generic", 1: "generic"}
    assert p.monetary_col is None
    assert p.table["revenue"].isna().all() and p.table["revenue_share"].isna().all()
    assert "City" not in p.features


def test_generic_duplicate_names_use_third_feature():
    features = pd.DataFrame(
        {
            "Total_Spend": [1000.0, 1000.0, 1000.0, 1000.0, 100.0, 100.0],
            "Items_Purchased": [20, 20, 20, 20, 2, 2],
            "Age": [20, 50, 30, 60, 25, 55],
        }
    )
    names = name_segments(features, [0, 0, 1, 1, 2, 2])
    # spend and items: z = +0.707 (high) for segments 0 and 1; Age means 35 / 45 vs 40, std 15.55
    assert names[0] == "High Total Spend, high Items Purchased, below-average Age"
    assert names[1] == "High Total Spend, high Items Purchased, above-average Age"
    assert names[2] == "Very low Total Spend, very low Items Purchased"


def test_identical_segments_fall_back_to_number():
    features = pd.DataFrame({"x": [1.0, 2.0, 1.0, 2.0, 9.0, 9.0]})
    names = name_segments(features, [0, 0, 1, 1, 2, 2])
    assert names[0] != names[1]
    assert names[0].endswith("(segment 0)") and names[1].endswith("(segment 1)")
    assert "x" in names[2] and "segment" not in names[2]


def test_labels_series_aligned_by_index(six):
    features, labels = six
    series = pd.Series(labels, index=features.index).iloc[::-1]
    p = profile_segments(features, series)
    assert p.table.set_index("segment").at[0, "revenue"] == pytest.approx(1800.0)


def test_bad_labels_raise(six):
    features, labels = six
    with pytest.raises(AnalysisError, match="6 customers"):
        profile_segments(features, labels[:5])
    with pytest.raises(AnalysisError, match="no segment label"):
        profile_segments(features, [0, 1, None, 1, 0, 1])
    with pytest.raises(AnalysisError, match="numeric"):
        profile_segments(pd.DataFrame({"City": ["a", "b"]}), [0, 1])


def test_to_dict_json_ready(six):
    features, labels = six
    d = profile_segments(features, labels).to_dict()
    assert set(d) == {
        "n_customers",
        "features",
        "naming",
        "recency_col",
        "frequency_col",
        "monetary_col",
        "segments",
        "names",
        "kinds",
        "standardised",
        "overall",
    }
    assert d["n_customers"] == 6 and d["naming"] == "rfm"
    assert d["names"]["0"] == "High-value loyal"
    assert d["segments"][0]["size"] == 3 and isinstance(d["segments"][0]["size"], int)
    assert d["standardised"]["features"] == ["recency_days", "frequency", "monetary"]
    assert len(d["standardised"]["values"]) == 3
    assert d["overall"]["monetary"]["median"] == pytest.approx(185.0)
    json.dumps(d, allow_nan=False)
    generic = profile_segments(pd.DataFrame({"a": [1.0, 2.0, 3.0]}), [0, 0, 1]).to_dict()
    assert generic["segments"][0]["revenue"] is None
    json.dumps(generic, allow_nan=False)


def test_feature_label():
    assert feature_label("Total_Spend") == "Total Spend"
    assert feature_label("monetary") == "spend"
    assert feature_label("Days__Since_Last_Purchase") == "Days Since Last Purchase"


@pytest.mark.realdata
def test_real_customer_file_by_city(ecommerce_path):
    raw = pd.read_csv(ecommerce_path).set_index("Customer_ID")
    labels = pd.Series(pd.factorize(raw["City"])[0], index=raw.index)
    p = profile_segments(raw[["Total_Spend", "Items_Purchased"]], labels, monetary_col="Total_Spend")
    names = list(p.names.values())
    assert len(names) == 6 and len(set(names)) == 6
    assert all("spend" in n.lower() for n in names)
    assert p.table["revenue"].sum() == pytest.approx(295_883.60)
    by_name = dict(zip(p.table["name"], p.table["mean_Total_Spend"], strict=True))
    assert max(by_name, key=by_name.get).startswith("Very high")
