import itertools

import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisError
from analysis.rfm import RFM_SEGMENTS, rfm_crosstab, rfm_scores, rfm_segment_for


@pytest.fixture
def ten():
    return pd.DataFrame(
        {
            "recency_days": [5, 40, 10, 10, 100, 200, 3, 60, 10, 30],
            "frequency": [1, 1, 1, 1, 2, 2, 3, 5, 8, 1],
            "monetary": [100.0, 20.0, 50.0, 50.0, 300.0, 80.0, 500.0, 1000.0, 2000.0, 60.0],
        },
        index=pd.Index([f"c{i}" for i in range(1, 11)], name="customer_id"),
    )


def test_scores_hand_computed_with_ties(ten):
    s = rfm_scores(ten)
    assert list(s.columns) == ["r_score", "f_score", "m_score", "rfm_score", "rfm_segment"]
    assert s.index.equals(ten.index)
    # 10 customers, 5 bins: ranks 1-2 -> 1, 3-4 -> 2, 5-6 -> 3, 7-8 -> 4, 9-10 -> 5.
    # recency ranked from most days (c6: 200 -> rank 1) to fewest (c7: 3 -> rank 10);
    # the three 10-day customers c3, c4, c9 take ranks 6, 7, 8 in row order.
    assert s["r_score"].tolist() == [5, 2, 3, 4, 1, 1, 5, 2, 4, 3]
    # frequency: the five one-time buyers c1, c2, c3, c4, c10 take ranks 1..5 in row order
    assert s["f_score"].tolist() == [1, 1, 2, 2, 3, 4, 4, 5, 5, 3]
    # monetary: 20 (c2) < 50 (c3) = 50 (c4) < 60 (c10) < 80 (c6) < 100 (c1) < 300 < 500 < 1000 < 2000
    assert s["m_score"].tolist() == [3, 1, 1, 2, 4, 3, 4, 5, 5, 2]
    assert s.loc["c7", "rfm_score"] == "544"
    assert s.loc["c2", "rfm_score"] == "211"
    assert s["r_score"].dtype == np.int64


def test_segments_hand_computed(ten):
    s = rfm_scores(ten)
    assert s["rfm_segment"].to_dict() == {
        "c1": "Potential Loyalists",  # R5, FM (1+3)/2 = 2
        "c2": "Hibernating",  # R2, FM 1
        "c3": "About to Sleep",  # R3, FM 1.5
        "c4": "Potential Loyalists",  # R4, FM 2
        "c5": "At Risk",  # R1, FM 3.5
        "c6": "At Risk",  # R1, FM 3.5
        "c7": "Champions",  # R5, FM 4
        "c8": "At Risk",  # R2, FM 5
        "c9": "Champions",  # R4, FM 5
        "c10": "Need Attention",  # R3, FM 2.5
    }


@pytest.mark.parametrize(
    ("r", "f", "m", "expected"),
    [
        (5, 5, 5, "Champions"),
        (4, 4, 4, "Champions"),
        (3, 4, 4, "Loyal Customers"),
        (5, 3, 3, "Loyal Customers"),
        (4, 2, 2, "Potential Loyalists"),
        (5, 1, 1, "New Customers"),
        (4, 1, 2, "Promising"),
        (3, 2, 2, "Need Attention"),
        (3, 1, 1, "About to Sleep"),
        (1, 5, 3, "Can't Lose Them"),
        (1, 3, 3, "At Risk"),
        (2, 4, 4, "At Risk"),
        (2, 1, 1, "Hibernating"),
        (1, 2, 2, "Hibernating"),
        (1, 1, 2, "Lost"),
    ],
)
def test_segment_grid(r, f, m, expected):
    assert rfm_segment_for(r, f, m) == expected


def test_grid_covers_every_score_and_every_segment():
    seen = {rfm_segment_for(r, f, m) for r, f, m in itertools.product(range(1, 6), repeat=3)}
    assert seen == set(RFM_SEGMENTS)


def test_bins_other_than_five(ten):
    s = rfm_scores(ten, bins=2)
    assert set(s["r_score"]) == {1, 2}
    # recency ranks 6..10 (the three 10-day customers c3, c4, c9, then c1 and c7) get 2
    assert s["r_score"].tolist() == [2, 1, 2, 2, 1, 1, 2, 1, 2, 1]
    with pytest.raises(AnalysisError, match="2 to 9"):
        rfm_scores(ten, bins=1)


def test_single_customer_and_missing_values(ten):
    one = rfm_scores(ten.iloc[:1])
    assert one.iloc[0]["rfm_score"] == "333"
    bad = ten.copy()
    bad.loc["c3", "monetary"] = np.nan
    with pytest.raises(AnalysisError, match="1 missing"):
        rfm_scores(bad)
    with pytest.raises(AnalysisError, match="'spend'"):
        rfm_scores(ten, monetary_col="spend")


def test_crosstab_counts(ten):
    s = rfm_scores(ten)
    labels = [0, 0, 0, 1, 1, 1, 2, 2, 2, 0]
    ct = rfm_crosstab(s["rfm_segment"], labels, names={0: "Alpha", 1: "Beta", 2: "Gamma"})
    assert list(ct.columns) == ["Alpha", "Beta", "Gamma"]
    assert list(ct.index) == [
        "Champions",
        "Potential Loyalists",
        "Need Attention",
        "About to Sleep",
        "At Risk",
        "Hibernating",
    ]
    assert ct.loc["Champions"].tolist() == [0, 0, 2]
    assert ct.loc["Potential Loyalists"].tolist() == [1, 1, 0]
    assert ct.loc["At Risk"].tolist() == [0, 2, 1]
    assert ct.loc["Hibernating"].tolist() == [1, 0, 0]
    assert int(ct.to_numpy().sum()) == 10
    # a Series of labels is aligned by customer id, whatever its order
    shuffled = pd.Series(labels, index=ten.index).iloc[[9, 3, 0, 7, 1, 5, 2, 8, 4, 6]]
    assert rfm_crosstab(s["rfm_segment"], shuffled).equals(rfm_crosstab(s["rfm_segment"], labels))
    with pytest.raises(AnalysisError):
        rfm_crosstab(s["rfm_segment"], labels[:9])
