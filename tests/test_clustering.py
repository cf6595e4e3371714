"""Tests for analysis.clustering: hand-computed cases, planted clusters, validation and the JSON forms."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, silhouette_score

from analysis import clustering
from analysis.clustering import (
    METRICS,
    KMeansResult,
    Recommendation,
    SweepPoint,
    SweepResult,
    check_k,
    derive_seeds,
    evaluate_k,
    fit_kmeans,
    fit_labels_for_seed,
    parse_k_range,
    recommend_k,
    silhouette_sample,
    stability,
    stability_from_labelings,
    sweep_k,
)
from analysis.errors import AnalysisError

FOUR = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
FOUR_CENTERS = [(0, 0), (10, 0), (0, 10), (10, 10)]


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=2000, centers=FOUR_CENTERS, cluster_std=1.0, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def blob_sweep(blobs):
    X, _ = blobs
    return sweep_k(X, range(2, 9), random_state=0)


def point(k, inertia, silhouette, davies_bouldin, stability=1.0, calinski_harabasz=100.0):
    return SweepPoint(
        k=k,
        inertia=inertia,
        silhouette=silhouette,
        calinski_harabasz=calinski_harabasz,
        davies_bouldin=davies_bouldin,
        stability=stability,
        silhouette_sample_size=100,
        n_iter=3,
        seconds=0.01,
    )


# ------------------------------------------------------------------------------------------ fit


def test_four_points_inertia_labels_centers():
    res = fit_kmeans(FOUR, 2, random_state=0)
    assert res.inertia == 1.0  # 4 points, each 0.5 from its center
    np.testing.assert_array_equal(res.labels, [0, 0, 1, 1])
    np.testing.assert_allclose(res.centers, [[0.0, 0.5], [10.0, 0.5]])
    assert res.k == 2 and res.random_state == 0 and res.n_iter >= 1
    np.testing.assert_array_equal(res.sizes, [2, 2])


def test_equal_sizes_ordered_by_center_whatever_the_seed_or_row_order():
    for seed in range(6):
        np.testing.assert_array_equal(fit_kmeans(FOUR, 2, random_state=seed, n_init=1).labels, [0, 0, 1, 1])
    shuffled = FOUR[[2, 0, 3, 1]]  # right, left, right, left
    np.testing.assert_array_equal(fit_kmeans(shuffled, 2, random_state=0).labels, [1, 0, 1, 0])


def test_labels_numbered_by_descending_size_deterministically():
    # Sizes 20, 50, 30 placed so that the largest cluster is neither first in the data nor leftmost.
    X, y = make_blobs(
        n_samples=[20, 50, 30], centers=[(0, 0), (20, 0), (40, 0)], cluster_std=0.5, random_state=3
    )
    runs = [fit_kmeans(X, 3, random_state=seed) for seed in range(5)]
    for res in runs:
        np.testing.assert_array_equal(res.labels, runs[0].labels)
        np.testing.assert_array_equal(res.sizes, [50, 30, 20])
    # cluster 0 is exactly the planted 50-point blob, 1 the 30, 2 the 20
    np.testing.assert_array_equal(runs[0].labels, np.select([y == 1, y == 2, y == 0], [0, 1, 2]))
    np.testing.assert_allclose(runs[0].centers[:, 0], [20, 40, 0], atol=0.5)


def test_dataframe_input_same_as_array():
    df = pd.DataFrame(FOUR, columns=["recency", "frequency"])
    a, b = fit_kmeans(df, 2, random_state=1), fit_kmeans(FOUR, 2, random_state=1)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.inertia == b.inertia


def test_kmeans_result_round_trip():
    res = fit_kmeans(FOUR, 2, random_state=0)
    d = json.loads(json.dumps(res.to_dict()))
    assert set(d) == {"k", "labels", "centers", "inertia", "n_iter", "random_state"}
    back = KMeansResult.from_dict(d)
    np.testing.assert_array_equal(back.labels, res.labels)
    np.testing.assert_array_equal(back.centers, res.centers)
    assert (back.k, back.inertia, back.n_iter, back.random_state) == (2, 1.0, res.n_iter, 0)


# ------------------------------------------------------------------------------------------ scores


def test_scores_of_four_points_by_hand():
    p = evaluate_k(FOUR, 2, random_state=0)
    # a = 1 (partner), b = (10 + sqrt(101)) / 2 (other pair), same for all four points
    assert p.silhouette == pytest.approx(1 - 2 / (10 + math.sqrt(101)))
    # between-cluster SS = 4 * 5**2 = 100, within = 1: (100 / 1) / (1 / 2)
    assert p.calinski_harabasz == pytest.approx(200.0)
    # mean distance to centroid 0.5 in both clusters, centroids 10 apart: (0.5 + 0.5) / 10
    assert p.davies_bouldin == pytest.approx(0.1)
    assert p.inertia == 1.0
    assert p.stability == pytest.approx(1.0)
    assert p.silhouette_sample_size == 4


def test_silhouette_one_dimensional_hand_case():
    x = np.array([[0.0], [2.0], [10.0], [11.0], [12.0]])  # clusters {0, 2} and {10, 11, 12}
    # s = 1 - a/b: 0 -> 1-2/11, 2 -> 1-2/9, 10 -> 1-1.5/9, 11 -> 1-1/10, 12 -> 1-1.5/11
    expected = (9 / 11 + 7 / 9 + 5 / 6 + 9 / 10 + 19 / 22) / 5
    assert evaluate_k(x, 2, random_state=0, stability_seeds=0).silhouette == pytest.approx(expected)


def test_sampled_silhouette_is_reweighted_to_the_population():
    # Two overlapping big clusters (low silhouette) and a tiny far one (silhouette near 1).
    X, _ = make_blobs(
        n_samples=[990, 990, 20], centers=[(0, 0), (3, 0), (0, 30)], cluster_std=[1, 1, 0.5], random_state=1
    )
    labels = fit_kmeans(X, 3, random_state=0).labels
    assert np.bincount(labels)[2] == 20
    full = silhouette_score(X, labels)
    weighted, plain = [], []
    for seed in range(5):
        idx = silhouette_sample(labels, sample_size=200, random_state=seed)
        weighted.append(METRICS["silhouette"].score(X, labels, idx))
        plain.append(silhouette_score(X[idx], labels[idx]))
    # a plain mean over the sample over-weights the tiny cluster (20 of 200 instead of 20 of 2000)
    assert np.mean(plain) - full > 0.03
    assert abs(np.mean(weighted) - full) < 0.015
    # with the whole data as the "sample" it is exactly sklearn's silhouette_score
    assert METRICS["silhouette"].score(X, labels, np.arange(len(X))) == pytest.approx(full)


def test_metrics_table_directions():
    assert {name: m.higher_is_better for name, m in METRICS.items()} == {
        "silhouette": True,
        "calinski_harabasz": True,
        "davies_bouldin": False,
    }


def test_scores_are_none_when_every_customer_is_its_own_cluster():
    X = np.array([[0.0], [1.0], [5.0]])
    p = evaluate_k(X, 3, random_state=0)
    assert p.inertia == 0.0
    assert (p.silhouette, p.calinski_harabasz, p.davies_bouldin) == (None, None, None)
    res = sweep_k(X, [2, 3], random_state=0)
    assert res.recommendation.k == 2
    json.dumps(res.to_dict())


# ------------------------------------------------------------------------------------------ sample


def test_silhouette_sample_keeps_small_cluster():
    labels = np.repeat([0, 1, 2], [1000, 980, 20])
    np.random.default_rng(0).shuffle(labels)
    idx = silhouette_sample(labels, sample_size=200, random_state=0)
    assert len(idx) == 200 and len(np.unique(idx)) == 200
    assert np.all(np.diff(idx) > 0)
    # every cluster gets min(size, 50); the other 80 are shared in proportion to the rest (950:930)
    np.testing.assert_array_equal(np.bincount(labels[idx]), [90, 90, 20])
    np.testing.assert_array_equal(idx, silhouette_sample(labels, sample_size=200, random_state=0))
    assert not np.array_equal(idx, silhouette_sample(labels, sample_size=200, random_state=1))


def test_silhouette_sample_many_clusters_and_small_data():
    labels = np.repeat(np.arange(10), 100)
    idx = silhouette_sample(labels, sample_size=300, random_state=0, min_per_cluster=50)
    np.testing.assert_array_equal(np.bincount(labels[idx]), [30] * 10)  # 10 x 50 > 300: split evenly
    everyone = silhouette_sample(labels, sample_size=1000, random_state=0)
    np.testing.assert_array_equal(everyone, np.arange(1000))
    with pytest.raises(AnalysisError, match="at least 2"):
        silhouette_sample(labels, sample_size=1, random_state=0)


# ------------------------------------------------------------------------------------------ stability


def test_stability_separated_blobs_vs_uniform_noise(blobs):
    X, _ = blobs
    assert stability(X, 4, seeds=5, random_state=0) == pytest.approx(1.0)
    noise = np.random.default_rng(0).uniform(size=(600, 2))
    assert stability(noise, 5, seeds=5, random_state=0) < 0.9


def test_stability_from_labelings_by_hand():
    a, a_renamed, b = [0, 0, 1, 1], [1, 1, 0, 0], [0, 1, 0, 1]
    assert stability_from_labelings([a, a_renamed]) == 1.0
    # ARI(a, b) = (0 - 2/3) / (2 - 2/3) = -0.5, so the mean over the three pairs is (1 - 0.5 - 0.5) / 3
    assert stability_from_labelings([a, a_renamed, b]) == pytest.approx(0.0)
    with pytest.raises(AnalysisError):
        stability_from_labelings([a])
    with pytest.raises(ValueError):
        stability_from_labelings([a, [0, 1]])


def test_stability_splits_into_per_seed_tasks():
    noise = np.random.default_rng(1).uniform(size=(300, 3))
    seeds = derive_seeds(7, 4)
    assert len(set(seeds)) == 4 and all(isinstance(s, int) for s in seeds)
    assert seeds == derive_seeds(7, 4)
    labelings = [fit_labels_for_seed(noise, 4, s).tolist() for s in seeds]  # JSON form, as from workers
    assert stability_from_labelings(labelings) == stability(noise, 4, seeds=4, random_state=7)
    with pytest.raises(AnalysisError, match="at least 2"):
        stability(noise, 4, seeds=1, random_state=0)


# ------------------------------------------------------------------------------------------ sweep


def test_sweep_recovers_four_planted_blobs(blobs, blob_sweep):
    X, y = blobs
    rec = blob_sweep.recommendation
    assert rec.k == 4
    assert rec.knee_k == 4 and rec.best_silhouette_k == 4 and rec.best_davies_bouldin_k == 4
    assert rec.votes == {"elbow": 4, "silhouette": 4, "davies_bouldin": 4}
    assert "k=4 is recommended" in rec.reason
    assert [p.k for p in blob_sweep.points] == list(range(2, 9))
    inertia = [p.inertia for p in blob_sweep.points]
    assert all(a > b for a, b in zip(inertia, inertia[1:], strict=False))
    k4 = blob_sweep.points[2]
    assert k4.stability == pytest.approx(1.0) and k4.silhouette > 0.75
    assert f"{k4.silhouette:.3f}" in rec.reason
    shape = (blob_sweep.n_customers, blob_sweep.n_features, blob_sweep.silhouette_sample_size)
    assert shape == (2000, 2, 10000)
    # the sweep scored exactly the fit that fit_kmeans returns with the same seed
    fit = fit_kmeans(X, 4, random_state=0)
    assert fit.inertia == k4.inertia
    assert adjusted_rand_score(y, fit.labels) >= 0.99


def test_sweep_recommends_three_for_three_blobs():
    X, _ = make_blobs(n_samples=600, centers=[(0, 0), (8, 0), (4, 9)], cluster_std=1.0, random_state=2)
    res = sweep_k(X, "2-6", random_state=0, n_init=4)
    assert res.recommendation.k == 3
    assert [p.k for p in res.points] == [2, 3, 4, 5, 6]


def test_sweep_result_round_trip(blob_sweep):
    d = json.loads(json.dumps(blob_sweep.to_dict()))
    assert set(d) == {"points", "recommendation", "n_customers", "n_features", "silhouette_sample_size"}
    assert set(d["points"][0]) == {
        "k", "inertia", "silhouette", "calinski_harabasz", "davies_bouldin", "stability",
        "silhouette_sample_size", "n_iter", "seconds",
    }  # fmt: skip
    assert set(d["recommendation"]) == {
        "k", "reason", "knee_k", "best_silhouette_k", "best_davies_bouldin_k", "best_calinski_harabasz_k",
        "most_stable_k", "votes",
    }  # fmt: skip
    assert SweepResult.from_dict(d) == blob_sweep
    assert SweepPoint.from_dict(d["points"][1]) == blob_sweep.points[1]
    assert Recommendation.from_dict(d["recommendation"]) == blob_sweep.recommendation


def test_join_from_point_dicts_matches_sweep(blob_sweep):
    dicts = [p.to_dict() for p in reversed(blob_sweep.points)]  # as they come back from per-k tasks
    joined = SweepResult.from_points(
        [SweepPoint.from_dict(d) for d in dicts], n_customers=2000, n_features=2, silhouette_sample_size=10000
    )
    assert joined == blob_sweep


def test_evaluate_k_without_stability():
    p = evaluate_k(FOUR, 2, random_state=0, stability_seeds=1)
    assert p.stability is None and p.inertia == 1.0


# ------------------------------------------------------------------------------------------ recommendation


def test_recommend_single_point():
    rec = recommend_k([point(5, 10.0, 0.4, 0.9)])
    assert rec.k == 5 and rec.knee_k is None
    assert "Only one value of k" in rec.reason and "k=5" in rec.reason


def test_recommend_without_elbow_still_answers():
    # perfectly straight inertia: no elbow; silhouette and Davies-Bouldin both prefer k=5
    pts = [point(k, 100.0 - 10 * k, s, db) for k, s, db in [(2, 0.3, 1.0), (3, 0.35, 0.9), (4, 0.4, 0.8),
                                                              (5, 0.5, 0.6), (6, 0.45, 0.7)]]  # fmt: skip
    rec = recommend_k(pts)
    assert rec.knee_k is None
    assert rec.k == 5
    assert rec.votes == {"elbow": None, "silhouette": 5, "davies_bouldin": 5}
    assert "no clear elbow" in rec.reason and "k=5 is recommended" in rec.reason and "0.500" in rec.reason


def test_recommend_skips_unstable_k():
    pts = [
        point(2, 100.0, 0.40, 0.80, stability=0.95),
        point(3, 30.0, 0.45, 0.70, stability=0.90),
        point(4, 25.0, 0.60, 0.50, stability=0.55),  # best scores, but not reproducible
        point(5, 22.0, 0.42, 0.75, stability=0.85),
        point(6, 20.0, 0.30, 0.90, stability=0.82),
    ]
    rec = recommend_k(pts)
    assert rec.best_silhouette_k == 4 and rec.best_davies_bouldin_k == 4  # reported over all k ...
    assert rec.k == 3  # ... but only stable k may win
    assert rec.votes == {"elbow": 3, "silhouette": 3, "davies_bouldin": 3}
    assert rec.most_stable_k == 2
    assert "k=3 is recommended" in rec.reason and "4 were stable" in rec.reason


def test_recommend_when_no_k_is_stable():
    scores = [(2, 0.2, 0.5), (3, 0.3, 0.7), (4, 0.25, 0.6)]
    pts = [point(k, 100.0 / k, s, 1.0, stability=st) for k, s, st in scores]
    rec = recommend_k(pts)
    assert rec.k == 3  # falls back to the best silhouette
    assert "No value of k was stable" in rec.reason and "0.70 at k=3" in rec.reason
    assert rec.votes == {"elbow": None, "silhouette": 3, "davies_bouldin": None}


def test_recommend_split_vote_goes_to_higher_silhouette():
    pts = [
        point(2, 100.0, 0.30, 0.90),
        point(3, 40.0, 0.35, 0.80),  # elbow
        point(4, 35.0, 0.50, 0.70),  # best silhouette
        point(5, 32.0, 0.45, 0.40),  # best Davies-Bouldin
        point(6, 30.0, 0.20, 0.95),
    ]
    rec = recommend_k(pts)
    assert rec.votes == {"elbow": 3, "silhouette": 4, "davies_bouldin": 5}
    assert rec.k == 4
    assert "tie goes to k=4" in rec.reason


def test_recommend_without_stability_measured():
    pts = [point(k, 1000.0 / k**2, 0.1 * k, 1.0 / k, stability=None) for k in (2, 3, 4)]
    rec = recommend_k(pts)
    assert rec.k == 4 and rec.most_stable_k is None
    assert "Stability was not measured" in rec.reason


def test_recommend_rejects_empty_and_duplicate_k():
    with pytest.raises(AnalysisError):
        recommend_k([])
    with pytest.raises(ValueError):
        recommend_k([point(3, 1.0, 0.5, 0.5), point(3, 1.0, 0.5, 0.5)])


# ------------------------------------------------------------------------------------------ validation


def test_k_above_distinct_rows_names_both_numbers():
    X = np.repeat(np.arange(7.0).reshape(7, 1) * [1.0, 2.0], 5, axis=0)  # 35 rows, 7 distinct
    with pytest.raises(AnalysisError, match=r"Asked for 12 clusters but there are only 7 distinct customers"):
        check_k(X, 12)
    assert check_k(X, 7) == 7
    with pytest.raises(AnalysisError, match=r"12 clusters.* 7 distinct"):
        fit_kmeans(X, 12, random_state=0)


def test_sweep_validates_every_k_before_fitting(monkeypatch):
    def no_fit(*args, **kwargs):
        raise AssertionError("fitted before validating")

    monkeypatch.setattr(clustering, "_fit", no_fit)
    X = np.repeat(np.arange(7.0).reshape(7, 1), 3, axis=0)
    with pytest.raises(AnalysisError, match=r"Asked for 9 clusters .* 7 distinct .*k=8, 9"):
        sweep_k(X, range(2, 10), random_state=0)
    with pytest.raises(AnalysisError, match="at least 2"):
        sweep_k(X, [1, 2, 3], random_state=0)
    with pytest.raises(AnalysisError, match="at least 2"):
        evaluate_k(X, 1, random_state=0)
    with pytest.raises(AnalysisError, match="No values of k"):
        sweep_k(X, [], random_state=0)


def test_distinct_rows_counted_beyond_the_first_rows():
    # the first 10,000 rows are identical; the distinct ones come later
    X = np.vstack([np.zeros((10_000, 2)), [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0], [5.0, 5.0]]])
    assert check_k(X, 6) == 6  # 6 distinct rows: zero plus five more
    with pytest.raises(AnalysisError, match="Asked for 7 clusters but there are only 6"):
        check_k(X, 7)


def test_negative_zero_is_not_a_distinct_customer():
    X = np.array([[0.0], [-0.0], [1.0]])
    with pytest.raises(AnalysisError, match="only 2 distinct"):
        check_k(X, 3)


def test_k_below_one_and_identical_customers():
    with pytest.raises(AnalysisError, match="at least 1"):
        check_k(FOUR, 0)
    with pytest.raises(AnalysisError, match="whole number"):
        check_k(FOUR, 2.5)
    with pytest.raises(AnalysisError, match="same feature values"):
        sweep_k(np.ones((10, 3)), [2, 3], random_state=0)


def test_bad_feature_tables():
    df = pd.DataFrame({"recency": [1.0, 2.0, np.nan], "monetary": [1.0, 2.0, 3.0]})
    with pytest.raises(AnalysisError, match="row 2, column recency") as info:
        fit_kmeans(df, 2, random_state=0)
    assert (info.value.row, info.value.column) == (2, "recency")
    with pytest.raises(AnalysisError, match="'country'"):
        fit_kmeans(pd.DataFrame({"x": [1.0, 2.0], "country": ["UK", "FR"]}), 2, random_state=0)
    with pytest.raises(AnalysisError, match="2-D"):
        fit_kmeans(np.arange(5.0), 2, random_state=0)
    with pytest.raises(AnalysisError, match="random_state"):
        fit_kmeans(FOUR, 2, random_state=-1)
    with pytest.raises(AnalysisError, match="n_init"):
        fit_kmeans(FOUR, 2, random_state=0, n_init=0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2-10", list(range(2, 11))),
        ("2..10", list(range(2, 11))),
        ("4", [4]),
        ("2,4,6", [2, 4, 6]),
        (" 2 - 4 , 8 ", [2, 3, 4, 8]),
        ("6,2,2", [2, 6]),
        ("3-3", [3]),
    ],
)
def test_parse_k_range(text, expected):
    assert parse_k_range(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Give the values of k"),
        ("abc", "Could not read 'abc'"),
        ("2-", "Could not read"),
        ("2.5", "Could not read"),
        ("-3", "Could not read"),
        ("2,,4", "Could not read"),
        ("10-2", "runs backwards; write it as 2-10"),
        ("1-5", "at least 2"),
        ("0", "k=0"),
        ("2-100000", "more than 1000 values"),
    ],
)
def test_parse_k_range_rejects(text, message):
    with pytest.raises(AnalysisError, match=message):
        parse_k_range(text)


def test_points_are_frozen_dataclasses():
    p = point(3, 1.0, 0.5, 0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.k = 4  # type: ignore[misc]
    assert dataclasses.replace(p, stability=None).stability is None
