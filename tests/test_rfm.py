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
    # 10 customers, 5 bins: score = ceil(5 * (r - 1/2) / 10) for average rank r, so untied ranks 1-2 -> 1,
    # 3-4 -> 2, 5-6 -> 3, 7-8 -> 4, 9-10 -> 5, and tied customers share the score of their average rank.
    # recency ranked from most days (c6: 200 -> rank 1) to fewest (c7: 3 -> rank 10);
    # the three 10-day customers c3, c4, c9 share ranks 6, 7, 8 -> 7 -> ceil(3.25) = 4.
    assert s["r_score"].tolist() == [5, 2, 4, 4, 1, 1, 5, 2, 4, 3]
    # frequency: the five one-time buyers c1, c2, c3, c4, c10 share ranks 1..5 -> 3 -> ceil(1.25) = 2;
    # the two 2-order customers c5, c6 share ranks 6, 7 -> 6.5 -> ceil(3.0) = 3
    assert s["f_score"].tolist() == [2, 2, 2, 2, 3, 3, 4, 5, 5, 2]
    # monetary: 20 (c2, rank 1) < 50 (c3) = 50 (c4) (ranks 2, 3 -> 2.5 -> ceil(1.0) = 1) < 60 (c10, rank 4)
    # < 80 (c6, 5) < 100 (c1, 6) < 300 (c5, 7) < 500 (c7, 8) < 1000 (c8, 9) < 2000 (c9, 10)
    assert s["m_score"].tolist() == [3, 1, 1, 1, 4, 3, 4, 5, 5, 2]
    assert s.loc["c7", "rfm_score"] == "544"
    assert s.loc["c2", "rfm_score"] == "221"
    assert s["r_score"].dtype == np.int64


def test_identical_customers_get_identical_scores():
    same = pd.DataFrame({"recency_days": [3.0] * 4, "frequency": [1.0] * 4, "monetary": [10.0] * 4},
                        index=list("ABCD"))
    s = rfm_scores(same)
    assert s["rfm_score"].tolist() == ["333"] * 4  # everyone in the middle, whatever the row order
    mixed = pd.DataFrame({"recency_days": [5.0, 1.0, 5.0, 9.0, 5.0], "frequency": [2.0, 1.0, 2.0, 3.0, 2.0],
                          "monetary": [50.0, 10.0, 50.0, 90.0, 50.0]}, index=list("abcde"))
    s = rfm_scores(mixed)
    assert s.loc["a"].tolist() == s.loc["c"].tolist() == s.loc["e"].tolist()
    assert s.loc[list("ace"), "rfm_score"].nunique() == 1


def test_segments_hand_computed(ten):
    s = rfm_scores(ten)
    assert s["rfm_segment"].to_dict() == {
        "c1": "Potential Loyalists",  # R5, FM (2+3)/2 = 2.5
        "c2": "Hibernating",  # R2, FM 1.5
        "c3": "Promising",  # R4, FM 1.5
        "c4": "Promising",  # identical to c3, so the same scores and segment
        "c5": "At Risk",  # R1, FM 3.5
        "c6": "At Risk",  # R1, FM 3
        "c7": "Champions",  # R5, FM 4
        "c8": "At Risk",  # R2, FM 5
        "c9": "Champions",  # R4, FM 5
        "c10": "Need Attention",  # R3, FM 2
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
    # score = ceil(2 * (r - 1/2) / 10): ranks up to 5.5 get 1; the three 10-day customers c3, c4, c9
    # (average rank 7), c1 (9) and c7 (10) get 2
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
        "Promising",
        "Need Attention",
        "At Risk",
        "Hibernating",
    ]
    assert ct.loc["Champions"].tolist() == [0, 0, 2]
    assert ct.loc["Potential Loyalists"].tolist() == [1, 0, 0]
    assert ct.loc["Promising"].tolist() == [1, 1, 0]
    assert ct.loc["At Risk"].tolist() == [0, 2, 1]
    assert ct.loc["Hibernating"].tolist() == [1, 0, 0]
    assert int(ct.to_numpy().sum()) == 10
    # a Series of labels is aligned by customer id, whatever its order
    shuffled = pd.Series(labels, index=ten.index).iloc[[9, 3, 0, 7, 1, 5, 2, 8, 4, 6]]
    assert rfm_crosstab(s["rfm_segment"], shuffled).equals(rfm_crosstab(s["rfm_segment"], labels))
    with pytest.raises(AnalysisError):
        rfm_crosstab(s["rfm_segment"], labels[:9])
