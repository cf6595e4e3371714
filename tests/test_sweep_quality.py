"""Quality bounds of the large-data sweep (analysis.clustering's fast path), on a case small enough for a
unit test: the fast path is forced with lowered thresholds and compared with plain scikit-learn, the same
bounds bench/ asserts at 1M customers (every k's inertia within 1 % of KMeans(n_init=10), same recommended k)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score
from threadpoolctl import threadpool_limits

from analysis import clustering
from analysis.clustering import SweepPoint, evaluate_k, fit_kmeans, recommend_k, silhouette_sample, sweep_k

KS = range(2, 9)


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(n_samples=60_000, n_features=4, centers=5, cluster_std=1.6, random_state=3)
    return X


@pytest.fixture()
def fast(monkeypatch):
    monkeypatch.setattr(clustering, "_FAST_FROM", 20_000)
    monkeypatch.setattr(clustering, "_FIT_SAMPLE", 8_000)


@pytest.fixture(scope="module")
def reference(blobs):
    """scikit-learn's KMeans(n_init=10) per k, scored exactly (silhouette on a same-size sample, no stability)."""
    fits, points = {}, []
    for k in KS:
        km = KMeans(n_clusters=k, n_init=10, random_state=0).fit(blobs)
        sample = silhouette_sample(km.labels_, sample_size=4_000, random_state=0)
        fits[k] = km.inertia_
        points.append(SweepPoint(k=k, inertia=km.inertia_, silhouette=clustering._silhouette(blobs, km.labels_,
                                 sample), calinski_harabasz=calinski_harabasz_score(blobs, km.labels_),
                                 davies_bouldin=davies_bouldin_score(blobs, km.labels_), stability=None,
                                 silhouette_sample_size=sample.size, n_iter=0, seconds=0.0))
    return fits, recommend_k(points).k


def test_fast_sweep_inertia_and_recommendation_match_sklearn(blobs, reference, fast):
    inertia, recommended = reference
    result = sweep_k(blobs, KS, random_state=0, n_init=10, stability_seeds=3, silhouette_sample_size=4_000)
    for p in result.points:
        assert abs(p.inertia / inertia[p.k] - 1) <= 0.01, (p.k, p.inertia / inertia[p.k] - 1)
    assert result.recommendation.k == recommended


def test_fast_scores_equal_sklearn_scores_of_the_same_labels(blobs, fast):
    point = evaluate_k(blobs, 6, random_state=1, n_init=3, stability_seeds=2, silhouette_sample_size=3_000)
    fit = fit_kmeans(blobs, 6, random_state=1, n_init=3)
    assert fit.inertia == pytest.approx(point.inertia, rel=1e-12)
    assert point.calinski_harabasz == pytest.approx(calinski_harabasz_score(blobs, fit.labels), rel=1e-9)
    assert point.davies_bouldin == pytest.approx(davies_bouldin_score(blobs, fit.labels), rel=1e-9)
    # the silhouette: the estimator of the exact path on the pooled sample (float32 distances)
    value, sample = clustering._silhouette_pooled(blobs, fit.labels, clustering._silhouette_pool(blobs, 3_000, 1), 6)
    assert point.silhouette == pytest.approx(value, rel=1e-12)
    assert point.silhouette_sample_size == sample.size >= 3_000
    assert point.silhouette == pytest.approx(clustering._silhouette(blobs, fit.labels, sample), abs=1e-4)
    # centers are the cluster means, labels numbered by size, inertia exact
    assert np.allclose(fit.centers, [blobs[fit.labels == j].mean(axis=0) for j in range(6)])
    assert np.all(np.diff(fit.sizes) <= 0)
    assert fit.inertia == pytest.approx(((blobs - fit.centers[fit.labels]) ** 2).sum(), rel=1e-12)
    assert 0.0 <= point.stability <= 1.0


def test_fast_path_is_deterministic(blobs, fast):
    a = evaluate_k(blobs, 4, random_state=7, n_init=2, stability_seeds=2, silhouette_sample_size=2_000)
    b = evaluate_k(blobs, 4, random_state=7, n_init=2, stability_seeds=2, silhouette_sample_size=2_000)
    assert {**a.to_dict(), "seconds": 0} == {**b.to_dict(), "seconds": 0}


def test_small_data_keeps_the_exact_path(blobs):
    X = blobs[:5_000]
    fit = fit_kmeans(X, 5, random_state=0, n_init=10)
    km = KMeans(n_clusters=5, n_init=10, random_state=0).fit(X)
    assert fit.inertia == pytest.approx(km.inertia_, rel=1e-12)


def test_codes_match_numpy_unique():
    labels = np.random.default_rng(0).integers(0, 9, 10_000)
    want = np.unique(labels, return_inverse=True, return_counts=True)
    for got, expected in zip(clustering._codes(labels), want, strict=True):
        assert np.array_equal(got, expected)


def test_pooled_silhouette_tops_up_small_clusters(blobs):
    """The pool is uniform and the same for every k; a cluster with fewer than 50 pooled members gets extra
    members drawn from outside the pool, and the estimate equals the exact estimator on that sample."""
    labels = np.where(blobs[:, 0] > np.sort(blobs[:, 0])[-31], 2, (blobs[:, 1] > 0).astype(int))  # 30 in cluster 2
    pool = clustering._silhouette_pool(blobs, 2_000, 0)
    assert pool.dist.shape == (2_000, 2_000) and np.all(np.diag(pool.dist) == 0)
    value, sample = clustering._silhouette_pooled(blobs, labels, pool, 3)
    assert np.isin(pool.idx, sample).all() and np.all(np.diff(sample) > 0)
    assert np.count_nonzero(labels[sample] == 2) == 30  # all 30 members: min(size, 50)
    assert value == pytest.approx(clustering._silhouette(blobs, labels, sample), abs=1e-5)
    again, _ = clustering._silhouette_pooled(blobs, labels, pool, 3)
    assert again == value


def test_one_k_scores_without_the_pool_matrix_equal_the_sweep(blobs, fast):
    """One k alone (a fan-out part: evaluate_k) recomputes the pool's distances block by block; the in-process
    sweep builds the pool's distance matrix once for all ks: the silhouettes are the same to the last bit (with
    one BLAS thread, as the sweep runs each k and as workers run; more threads may round the products
    differently)."""
    assert clustering._SUMS_BLOCK % clustering._SILHOUETTE_BLOCK == 0
    swept = sweep_k(blobs, [3, 5], random_state=2, n_init=2, stability_seeds=0, silhouette_sample_size=3_000)
    for point in swept.points:
        with threadpool_limits(1):
            one = evaluate_k(blobs, point.k, random_state=2, n_init=2, stability_seeds=0,
                             silhouette_sample_size=3_000)
        assert one.inertia == point.inertia
        assert one.silhouette == point.silhouette, point.k
        assert one.silhouette_sample_size == point.silhouette_sample_size
