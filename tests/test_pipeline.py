"""analysis.pipeline.segment / feature_set beyond the clustering itself: revenue, RFM, dropped customers and
result columns that must not collide with the file's own columns."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis import pipeline
from analysis import schema as S
from analysis.errors import AnalysisError
from analysis.features import transform_features
from analysis.rfm import RFM_SEGMENTS


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


CUSTOMERS = "client,spend,{extra}\nA,10,1\nB,20,2\nC,300,1\nD,40,3\nE,500,2\nF,35,1\n"


@pytest.mark.parametrize("extra", ["segment", "segment_name", "rfm_segment", "score", "reason", "flagged",
                                   "customer_id"])
def test_customer_columns_named_like_results(tmp_path, extra):
    path = _write(tmp_path, "c.csv", CUSTOMERS.format(extra=extra))
    prepared = pipeline.prepare(pipeline.load_dataset(path, mapping={S.CUSTOMER_ID: "client"}))
    fs = pipeline.feature_set(prepared)
    seg = pipeline.segment(fs, 2, random_state=0, prepared=prepared)
    m = seg.membership
    assert m.columns.is_unique
    assert m["segment"].isin([0, 1]).all() and m["segment_name"].notna().all()
    d = json.loads(json.dumps(seg.to_dict()))
    for row in d["outliers"]:
        assert isinstance(row["score"], float) and isinstance(row["reason"], str)
        assert set(row["flagged"].split(", ")) <= set(fs.raw.columns)
    # The file's column is still there, under a name that cannot clash.
    renamed = {"segment": "segment_in_file", "segment_name": "segment_name_in_file",
               "rfm_segment": "rfm_segment_in_file", "customer_id": "customer_id_in_file"}.get(extra, extra)
    assert renamed in fs.raw.columns


def test_clashing_feature_built_by_hand_is_refused_clearly():
    raw = pd.DataFrame({"segment": [1.0, 2.0, 3.0, 4.0], "spend": [1.0, 5.0, 2.0, 8.0]},
                       index=pd.Index(list("abcd"), name=S.CUSTOMER_ID))
    fs = pipeline.FeatureSet(raw=raw, matrix=transform_features(raw))
    with pytest.raises(AnalysisError, match="The feature 'segment' has the name of a result column"):
        pipeline.segment(fs, 2)


def test_customer_level_segments_have_revenue(ecommerce_path):
    prepared = pipeline.prepare(pipeline.load_dataset(ecommerce_path))
    total = 295_883.60
    for features in (["Total_Spend", "Items_Purchased"], ["Age", "Items_Purchased"]):  # spend a feature or not
        fs = pipeline.feature_set(prepared, features, log=None)
        seg = pipeline.segment(fs, 4, random_state=0, prepared=prepared)
        table = seg.profiles.table
        assert round(table["revenue"].sum(), 2) == total, features
        assert table["revenue_share"].sum() == pytest.approx(1.0)
        expected = prepared.table.set_index(S.CUSTOMER_ID)["Total_Spend"].groupby(seg.membership["segment"]).sum()
        assert table.set_index("segment")["revenue"].to_numpy() == pytest.approx(expected.sort_index().to_numpy())
        assert all("of revenue" in a["headline"] for a in seg.advice.values())
        json.dumps(seg.to_dict(), allow_nan=False)


def _transactions(tmp_path):
    rows = ["order,customer,date,amount"]
    rng = np.random.default_rng(3)
    order = 0
    for c in range(30):
        for _ in range(1 + c % 4):
            order += 1
            rows.append(f"{order},c{c},2023-{1 + rng.integers(0, 12):02d}-{1 + rng.integers(0, 28):02d},"
                        f"{10 + rng.integers(0, 200)}")
    return pipeline.prepare(pipeline.load_dataset(_write(tmp_path, "tx.csv", "\n".join(rows) + "\n")))


@pytest.mark.parametrize("features", [["recency_days", "frequency", "monetary"], ["tenure_days", "avg_order_value"],
                                      ["frequency"]])
def test_transaction_data_always_has_rfm_segments(tmp_path, features):
    prepared = _transactions(tmp_path)
    fs = pipeline.feature_set(prepared, features)
    seg = pipeline.segment(fs, 3, random_state=0, prepared=prepared)
    assert seg.membership["rfm_segment"].isin(RFM_SEGMENTS).all()
    assert seg.crosstab is not None and int(seg.crosstab.to_numpy().sum()) == 30
    assert seg.to_dict()["rfm_crosstab"] is not None
    # Revenue too, whether or not monetary is a feature.
    assert seg.profiles.table["revenue"].sum() == pytest.approx(prepared.table[S.AMOUNT].sum())


def test_customers_without_a_feature_value_are_reported(tmp_path):
    path = _write(tmp_path, "n.csv", "client,spend,visits\n1,100,5\n2,,3\n3,250,\n4,80,1\n5,90,2\n6,400,9\n")
    prepared = pipeline.prepare(pipeline.load_dataset(path))
    fs = pipeline.feature_set(prepared)
    dropped = fs.matrix.to_dict()["dropped"]
    assert dropped["customers"] == 2
    assert dropped["by_column"] == {"spend": 1, "visits": 1}
    assert "2 of 6 customers" in dropped["reason"]
    sweep = pipeline.sweep(fs, [2], random_state=0)
    assert sweep["features"]["dropped"]["customers"] == 2
    seg = pipeline.segment(fs, 2, random_state=0, prepared=prepared)
    assert seg.to_dict()["dropped_customers"] == 2
    complete = pipeline.feature_set(prepared, ["visits"]).matrix.to_dict()["dropped"]
    assert complete == {"customers": 1, "by_column": {"visits": 1}, "reason": complete["reason"]}
    full = pipeline.feature_set(_transactions(tmp_path)).matrix.to_dict()["dropped"]
    assert full == {"customers": 0, "by_column": {}, "reason": None}
