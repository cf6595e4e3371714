"""K-means segmentation: one fit, a sweep over k, and a recommendation of k.

Every function takes ``X``, the customer feature table *after* transformation and scaling:
a 2-D float array of shape ``(n_customers, n_features)`` or a DataFrame (converted with
``.to_numpy(float)``). Nothing here scales or transforms features.

The sweep is split so that a task queue can fan it out:

* per k (one task each): :func:`evaluate_k` -> :class:`SweepPoint` (``to_dict()`` is JSON-ready);
  its stability part can itself be fanned out, one task per seed, with :func:`derive_seeds`,
  :func:`fit_labels_for_seed` and :func:`stability_from_labelings`;
* join: :func:`recommend_k` on the points, or :meth:`SweepResult.from_points`, which also
  records the data shape.

:func:`sweep_k` runs both in-process. All results are reproducible from ``random_state``:
``fit_kmeans(X, k, random_state=r, n_init=n)`` gives exactly the fit that
``evaluate_k(X, k, random_state=r, n_init=n)`` scored.

Large data (``_FAST_FROM`` customers or more) take a faster path with the same API and the same
determinism: the restarts run on a seeded sample of ``_FIT_SAMPLE`` customers, the best fit is refined
on all customers, the scores come from per-cluster sums and a float32 distance matrix of a silhouette
pool drawn once for every k (topped up per k so small clusters are represented), and the stability refits
run on the fit sample (see ``_fit_large``, ``_silhouette_pooled``). :func:`sweep_k` runs the ks on one
thread per core. Smaller data take the exact scikit-learn path.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import operator
import os
import re
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from kneed import KneeLocator
from sklearn.cluster import KMeans
from sklearn.cluster._kmeans import _kmeans_single_lloyd
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_samples,
)
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from threadpoolctl import ThreadpoolController

from analysis.errors import AnalysisError

__all__ = [
    "METRICS",
    "Metric",
    "STABILITY_THRESHOLD",
    "KMeansResult",
    "Recommendation",
    "SweepPoint",
    "SweepResult",
    "check_k",
    "derive_seeds",
    "evaluate_k",
    "fit_kmeans",
    "fit_labels_for_seed",
    "parse_k_range",
    "recommend_k",
    "silhouette_sample",
    "stability",
    "stability_from_labelings",
    "sweep_k",
]

#: A k counts as stable when refits from different random starts agree at least this well
#: (mean pairwise adjusted Rand index).
STABILITY_THRESHOLD = 0.8

# Rows looked at before counting distinct rows of the whole table (see _n_distinct_rows).
_DISTINCT_HEAD_ROWS = 10_000

# Below this many customers k-means runs on one OpenMP thread: each Lloyd iteration is then so short
# that starting and synchronising threads costs more than it saves (measured 10-15x slower with two
# threads on 4k-20k rows when the cores are shared with other processes).
_SINGLE_THREAD_BELOW = 100_000

# Large data (at least _FAST_FROM customers) takes the fast path, see _fit_large: the k-means++ restarts and
# their Lloyd iterations run on a fixed random sample of _FIT_SAMPLE customers (drawn from random_state, so
# the same sample for every k), the best fit is then refined with at most _REFINE_ITER Lloyd iterations on
# all customers, and the scores are computed from per-cluster sums (Calinski-Harabasz, Davies-Bouldin) and a
# float32 distance matrix of a silhouette pool shared by every k. Stability refits run on the sample. See
# bench/ (ratios to scikit-learn's KMeans(n_init=10) + metrics, inertia within 1 %) and
# tests/test_sweep_quality.py. Below _FAST_FROM the exact scikit-learn path is used, unchanged.
_FAST_FROM = 100_000
_FIT_SAMPLE = 25_000
_REFINE_ITER = 6
_SILHOUETTE_BLOCK = 256
_SUMS_BLOCK = 1024  # a multiple of _SILHOUETTE_BLOCK: distances recomputed per block equal the matrix's
# The silhouette pool's distance matrix is kept (float32, m x m: 400 MB at the default 10,000) up to this
# many rows; above it distances are recomputed in blocks for each k.
_POOL_MATRIX_MAX = 12_000


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def _as_matrix(X) -> np.ndarray:
    """Return X as a C-contiguous float64 array of shape (n_customers, n_features), or raise."""
    columns = None
    if isinstance(X, pd.DataFrame):
        bad = [str(c) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        if bad:
            raise AnalysisError(
                f"The feature table must be numeric, but column(s) {', '.join(map(repr, bad))} "
                "are not; transform or drop them before clustering.",
                column=bad[0],
            )
        columns = [str(c) for c in X.columns]
        X = X.to_numpy(dtype=float, na_value=np.nan)
    else:
        try:
            X = np.asarray(X, dtype=float)
        except (TypeError, ValueError) as exc:
            raise AnalysisError(
                f"The feature table must contain only numbers, but it could not be read as numbers ({exc})."
            ) from exc
    if X.ndim != 2:
        raise AnalysisError(
            f"The feature table must be 2-D (one row per customer, one column per feature), "
            f"but it has {X.ndim} dimension(s)."
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise AnalysisError(
            f"The feature table is empty ({X.shape[0]} customers x {X.shape[1]} features); "
            "there is nothing to cluster."
        )
    finite = np.isfinite(X)
    if not finite.all():
        row, col = (int(i) for i in np.argwhere(~finite)[0])
        name = columns[col] if columns is not None else f"#{col}"
        raise AnalysisError(
            f"The feature table has a missing or infinite value in row {row}, column {name}; "
            "fill or drop such customers before clustering.",
            column=name,
            row=row,
        )
    return np.ascontiguousarray(X)


def _as_int(value, name: str) -> int:
    if isinstance(value, bool):
        raise AnalysisError(f"{name} must be a whole number, not {value!r}.")
    try:
        return operator.index(value)
    except TypeError:
        raise AnalysisError(f"{name} must be a whole number, not {value!r}.") from None


def _check_options(*, random_state, n_init: int = 1, max_iter: int = 300) -> int:
    """Validate the fit options shared by every entry point; return random_state as int."""
    random_state = _as_int(random_state, "random_state")
    if not 0 <= random_state < 2**32:
        raise AnalysisError(f"random_state must be between 0 and 2**32 - 1, not {random_state}.")
    if _as_int(n_init, "n_init") < 1:
        raise AnalysisError(f"n_init (the number of k-means restarts) must be at least 1, not {n_init}.")
    if _as_int(max_iter, "max_iter") < 1:
        raise AnalysisError(f"max_iter must be at least 1, not {max_iter}.")
    return random_state


def _n_distinct_rows(X: np.ndarray, enough: int | None = None) -> int:
    """Number of distinct rows of X.

    With ``enough``, stop early: if the first ``_DISTINCT_HEAD_ROWS`` rows already hold at least
    ``enough`` distinct rows, that (lower-bound) count is returned. The exact count, which needs a
    sort of the whole table, is only computed when it matters, i.e. when it may be below ``enough``.
    """

    def count(A: np.ndarray) -> int:
        A = np.ascontiguousarray(A + 0.0)  # + 0.0 turns -0.0 into 0.0 so they compare equal
        rows = A.view(np.dtype((np.void, A.dtype.itemsize * A.shape[1]))).ravel()
        return len(np.unique(rows))

    if enough is not None and X.shape[0] > _DISTINCT_HEAD_ROWS:
        head = count(X[:_DISTINCT_HEAD_ROWS])
        if head >= enough:
            return head
    return count(X)


def _check_k_values(X: np.ndarray, ks: Sequence[int], min_k: int) -> None:
    """Raise AnalysisError unless every k is >= min_k and <= the number of distinct rows of X."""
    too_small = [k for k in ks if k < min_k]
    if too_small:
        k = too_small[0]
        if min_k <= 1:
            raise AnalysisError(f"Asked for {k} clusters; the number of clusters k must be at least 1.")
        raise AnalysisError(
            f"Asked for {k} cluster{'' if k == 1 else 's'}, but comparing values of k needs at least "
            f"{min_k} clusters per k (the silhouette and the other scores are undefined for one "
            "cluster); choose k of 2 or more."
        )
    k_max = max(ks)
    n_distinct = _n_distinct_rows(X, enough=k_max)
    if k_max <= n_distinct:
        return
    if n_distinct == 1:
        raise AnalysisError(
            f"Asked for {k_max} clusters but there is only 1 distinct customer: all "
            f"{X.shape[0]} customers have the same feature values, so there is nothing to cluster."
        )
    too_big = [k for k in ks if k > n_distinct]
    listed = "" if len(ks) == 1 else f", so k={', '.join(map(str, too_big))} cannot be used"
    raise AnalysisError(
        f"Asked for {k_max} clusters but there are only {n_distinct} distinct customers "
        f"(customers with different feature values){listed}; choose k between {min_k} and {n_distinct}."
    )


def check_k(X, k: int, *, min_k: int = 1) -> int:
    """Check that ``k`` clusters can be found in ``X``; return ``k`` as an int.

    Parameters
    ----------
    X : array-like of shape (n_customers, n_features)
        Transformed, scaled features.
    k : int
        Number of clusters asked for.
    min_k : int, default=1
        Smallest allowed k. Sweeps use 2: the silhouette and the other scores need two clusters.

    Raises
    ------
    AnalysisError
        If ``k`` is not a whole number, is below ``min_k``, or is greater than the number of
        *distinct* rows of ``X`` (k-means cannot make more clusters than there are different
        customers; sklearn would silently return duplicate centers).
    """
    k = _as_int(k, "k (the number of clusters)")
    _check_k_values(_as_matrix(X), [k], min_k)
    return k


# --------------------------------------------------------------------------------------------
# One fit
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KMeansResult:
    """One k-means fit.

    Clusters are numbered by descending size (0 is the largest); clusters of equal size are
    ordered by their centers, compared coordinate by coordinate. The numbering therefore does not
    depend on sklearn's internal order, and the same partition always gets the same labels.

    Attributes
    ----------
    k : int
    labels : ndarray of shape (n_customers,), dtype intp
        Cluster of each customer, in ``0 .. k-1``.
    centers : ndarray of shape (k, n_features)
        ``centers[j]`` is the center of cluster ``j``.
    inertia : float
        Sum of squared distances of customers to their cluster center.
    n_iter : int
        Lloyd iterations of the best restart.
    random_state : int
    """

    k: int
    labels: np.ndarray
    centers: np.ndarray
    inertia: float
    n_iter: int
    random_state: int

    @property
    def sizes(self) -> np.ndarray:
        """Customers per cluster, shape (k,), non-increasing."""
        return np.bincount(self.labels, minlength=self.k)

    def to_dict(self) -> dict:
        """JSON-ready form; keys ``k, labels, centers, inertia, n_iter, random_state``."""
        return {
            "k": self.k,
            "labels": self.labels.tolist(),
            "centers": self.centers.tolist(),
            "inertia": self.inertia,
            "n_iter": self.n_iter,
            "random_state": self.random_state,
        }

    @classmethod
    def from_dict(cls, d: dict) -> KMeansResult:
        return cls(
            k=int(d["k"]),
            labels=np.asarray(d["labels"], dtype=np.intp),
            centers=np.asarray(d["centers"], dtype=float),
            inertia=float(d["inertia"]),
            n_iter=int(d["n_iter"]),
            random_state=int(d["random_state"]),
        )


def _relabel_by_size(labels: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumber clusters by descending size, ties by center (lexicographic); see KMeansResult."""
    k, p = centers.shape
    sizes = np.bincount(labels, minlength=k)
    # np.lexsort sorts by its last key first: size (descending), then center coordinates 0, 1, ...
    order = np.lexsort(tuple(centers[:, j] for j in range(p - 1, -1, -1)) + (-sizes,))
    new_label = np.empty(k, dtype=np.intp)
    new_label[order] = np.arange(k)
    return new_label[labels], centers[order]


@functools.cache
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


def _fit(X: np.ndarray, k: int, random_state: int, n_init: int, max_iter: int) -> KMeansResult:
    """Unchecked fit; X must come from _as_matrix and k from _check_k_values."""
    if _is_large(X):
        return _fit_large(X, k, random_state, n_init, max_iter)[0]
    km = KMeans(n_clusters=k, init="k-means++", n_init=n_init, max_iter=max_iter, random_state=random_state)
    small = X.shape[0] < _SINGLE_THREAD_BELOW
    with _threadpools().limit(limits=1, user_api="openmp") if small else contextlib.nullcontext():
        km.fit(X)
    labels, centers = _relabel_by_size(km.labels_, km.cluster_centers_)
    return KMeansResult(
        k=k,
        labels=labels,
        centers=centers,
        inertia=float(km.inertia_),
        n_iter=int(km.n_iter_),
        random_state=random_state,
    )


def fit_kmeans(X, k: int, *, random_state: int, n_init: int = 10, max_iter: int = 300) -> KMeansResult:
    """Fit k-means (sklearn ``KMeans``, k-means++ init, Lloyd iterations).

    With ``_FAST_FROM`` customers or more the restarts run on a seeded random sample of ``_FIT_SAMPLE``
    customers and the best one is refined with a few Lloyd iterations on all customers; ``centers`` are then
    the means of the final clusters and ``inertia`` the exact within-cluster sum of squares (float64).

    Parameters
    ----------
    X : array-like of shape (n_customers, n_features)
        Transformed, scaled features.
    k : int
        Number of clusters, 1 <= k <= number of distinct rows of X.
    random_state : int
        Seed; the same seed gives the same result.
    n_init : int, default=10
        Restarts from different k-means++ seeds; the one with the lowest inertia is kept.
    max_iter : int, default=300
        Lloyd iterations per restart.

    Returns
    -------
    KMeansResult
        Labels numbered by descending cluster size (see :class:`KMeansResult`).
    """
    X = _as_matrix(X)
    random_state = _check_options(random_state=random_state, n_init=n_init, max_iter=max_iter)
    k = _as_int(k, "k (the number of clusters)")
    _check_k_values(X, [k], min_k=1)
    return _fit(X, k, random_state, n_init, max_iter)


# --------------------------------------------------------------------------------------------
# Large data: sample fit + full refinement, scores from cluster sums
# --------------------------------------------------------------------------------------------


def _is_large(X: np.ndarray) -> bool:
    return X.shape[0] >= _FAST_FROM and X.shape[0] > _FIT_SAMPLE


def _fit_rows(n: int, random_state: int) -> np.ndarray:
    """Sorted indices of the fit sample: ``_FIT_SAMPLE`` rows drawn from ``random_state`` (same for every k)."""
    rng = np.random.default_rng([random_state, 0x5EED])
    return np.sort(rng.choice(n, size=_FIT_SAMPLE, replace=False))


@dataclass(frozen=True)
class _Large:
    """What every k of a large-data fit shares, made once per X (:func:`_large`).

    ``X``: (n, p) float64 as given; ``Xc32``: X minus its column means, float32, C order (the Lloyd
    iterations and sample fits run on it); ``columns``: (p, n) float64, X's columns contiguous (for the
    per-cluster sums); ``weights``: (n,) float32 ones; ``tol``: scikit-learn's default convergence
    tolerance for X (1e-4 x the mean feature variance)."""

    X: np.ndarray
    Xc32: np.ndarray
    columns: np.ndarray
    weights: np.ndarray
    tol: float


def _large(X: np.ndarray) -> _Large:
    Xc32 = np.ascontiguousarray(X - X.mean(axis=0), dtype=np.float32)
    return _Large(X=X, Xc32=Xc32, columns=np.ascontiguousarray(X.T), weights=np.ones(X.shape[0], np.float32),
                  tol=float(np.mean(np.var(Xc32, axis=0))) * 1e-4)


@dataclass(frozen=True)
class _ClusterStats:
    """Per-cluster sums of a labelling of X (float64)."""

    counts: np.ndarray  # (k,)
    means: np.ndarray  # (k, p)
    sq_dist: np.ndarray  # (n,) squared distance of each customer to its cluster mean
    inertia: float


def _cluster_stats(data: _Large, labels: np.ndarray, k: int, fallback: np.ndarray) -> _ClusterStats:
    """Counts, means (``fallback`` rows for empty clusters) and squared distances to the means, one column
    at a time (a column lookup in a k-long table is much cheaper than gathering (n, p) rows)."""
    labels = labels.astype(np.intp, copy=False)
    counts = np.bincount(labels, minlength=k)
    sums = np.stack([np.bincount(labels, weights=col, minlength=k) for col in data.columns], axis=1)
    means = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], fallback)
    sq = np.zeros(labels.shape[0])
    for j, col in enumerate(data.columns):
        d = col - means[:, j].take(labels)
        d *= d
        sq += d
    return _ClusterStats(counts=counts, means=means, sq_dist=sq, inertia=float(sq.sum()))


def _fit_sample(data: _Large, random_state: int) -> np.ndarray:
    """The fit sample's rows of ``data.Xc32`` as float64 (the same values). scikit-learn's k-means++ computes
    float32 distances through a chunked float64 up-cast, mostly Python holding the GIL: on float64 it is one
    BLAS product per step: the sample fits take 25 % less time, and sweep_k's two threads overlap them better."""
    return data.Xc32[_fit_rows(data.Xc32.shape[0], random_state)].astype(np.float64)


def _sample_kmeans(Xs: np.ndarray, k: int, seed: int, n_init: int, max_iter: int) -> KMeans:
    with _threadpools().limit(limits=1, user_api="openmp"):
        return KMeans(n_clusters=k, init="k-means++", n_init=n_init, max_iter=max_iter, random_state=seed).fit(Xs)


def _fit_large(
    X: np.ndarray, k: int, random_state: int, n_init: int, max_iter: int, data: _Large | None = None
) -> tuple[KMeansResult, _ClusterStats]:
    """Fast fit for large X: restarts on the fit sample, then <= _REFINE_ITER Lloyd iterations on all rows.

    The refinement calls scikit-learn's Lloyd loop directly (``_kmeans_single_lloyd``, what
    ``KMeans(init=centers, n_init=1).fit`` runs after copying, centring and validating X and computing
    its variance - work that is the same for every k and is done once in :func:`_large`)."""
    if data is None:
        data = _large(X)
    km = _sample_kmeans(_fit_sample(data, random_state), k, random_state, n_init, max_iter)
    labels, _, centers, n_iter = _kmeans_single_lloyd(  # returns labels, inertia, centers, n_iter
        data.Xc32, data.weights, np.array(km.cluster_centers_, dtype=np.float32), max_iter=min(_REFINE_ITER,
        max_iter), tol=data.tol, n_threads=_openmp_effective_n_threads())
    stats = _cluster_stats(data, labels, k, centers.astype(float) + X.mean(axis=0))
    labels, centers = _relabel_by_size(labels, stats.means)
    stats = _ClusterStats(np.bincount(labels, minlength=k), centers, stats.sq_dist, stats.inertia)
    result = KMeansResult(
        k=k,
        labels=labels,
        centers=centers,
        inertia=stats.inertia,
        n_iter=int(km.n_iter_) + int(n_iter),
        random_state=random_state,
    )
    return result, stats


@dataclass(frozen=True)
class _SilhouettePool:
    """The k-independent part of the large-data silhouette: a uniform random sample of customers and,
    when it is small enough, its float32 distance matrix (``dist``, shape (m, m); None above
    ``_POOL_MATRIX_MAX`` rows, then distances are recomputed in blocks for each k).

    ``idx``: sorted row indices (m,); ``Xc``: the sampled rows, centred, float32 (m, p); ``rng_key``: the
    seed material for the per-k top-up draws."""

    idx: np.ndarray
    Xc: np.ndarray
    dist: np.ndarray | None
    rng_key: int


def _pool_rows(n: int, size: int, random_state: int) -> np.ndarray:
    rng = np.random.default_rng([random_state, 0x511])
    return np.sort(rng.choice(n, size=min(size, n), replace=False))


def _silhouette_pool(X: np.ndarray, sample_size: int, random_state: int, *, matrix: bool = True) -> _SilhouettePool:
    """Draw the pool and (``matrix`` and m <= ``_POOL_MATRIX_MAX``) compute its distance matrix once for every k.

    Without the matrix each k recomputes the distances block by block, with the same products (the blocks are
    aligned), so the scores are identical: cheaper for a single k (one fan-out part), which would use the
    400 MB matrix once."""
    idx = _pool_rows(X.shape[0], sample_size, random_state)
    Xs = X[idx]
    Xc = (Xs - Xs.mean(axis=0)).astype(np.float32)
    dist = _distances(Xc, Xc, same=True) if matrix and idx.size <= _POOL_MATRIX_MAX else None
    return _SilhouettePool(idx=idx, Xc=Xc, dist=dist, rng_key=random_state)


def _distances(A: np.ndarray, B: np.ndarray, *, same: bool = False, offset: int = 0) -> np.ndarray:
    """Euclidean distances (float32, shape (len(A), len(B))) in one product per block of rows:
    [a, |a|^2, 1] . [-2b, 1, |b|^2] = |a - b|^2. ``same``: row i of A is row ``offset + i`` of B, so that
    distance is set to exactly 0."""
    na = np.einsum("ij,ij->i", A, A)[:, None]
    nb = np.einsum("ij,ij->i", B, B)[:, None]
    left = np.hstack([A, na, np.ones_like(na)])
    right_t = np.ascontiguousarray(np.hstack([-2.0 * B, np.ones_like(nb), nb]).T)
    out = np.empty((A.shape[0], B.shape[0]), dtype=np.float32)
    for lo in range(0, A.shape[0], _SILHOUETTE_BLOCK):
        hi = min(lo + _SILHOUETTE_BLOCK, A.shape[0])
        d = np.matmul(left[lo:hi], right_t, out=out[lo:hi])
        np.maximum(d, 0.0, out=d)
        np.sqrt(d, out=d)
        if same:
            d[np.arange(hi - lo), np.arange(offset + lo, offset + hi)] = 0.0
    return out


def _top_up(labels: np.ndarray, pool: _SilhouettePool, k: int, min_per_cluster: int) -> np.ndarray:
    """Sorted extra rows so that every cluster has min(size, min_per_cluster) sampled members, drawn
    uniformly from the cluster's members outside the pool (seeded by the pool's key and k)."""
    have = np.bincount(labels[pool.idx], minlength=k)
    sizes = np.bincount(labels, minlength=k)
    short = np.flatnonzero(have < np.minimum(sizes, min_per_cluster))
    if short.size == 0:
        return np.empty(0, dtype=np.intp)
    outside = np.ones(labels.shape[0], dtype=bool)
    outside[pool.idx] = False
    rng = np.random.default_rng([pool.rng_key, 0x70F, k])
    picked = []
    for c in short:
        members = np.flatnonzero((labels == c) & outside)
        picked.append(rng.choice(members, size=min(members.size, min_per_cluster - have[c]), replace=False))
    return np.sort(np.concatenate(picked)).astype(np.intp, copy=False)


def _silhouette_pooled(X: np.ndarray, labels: np.ndarray, pool: _SilhouettePool, k: int,
                       min_per_cluster: int = 50) -> tuple[float, np.ndarray]:
    """The large-data silhouette estimate and the rows it used (sorted).

    The sample is the pool (uniform, the same for every k, so its distances are computed once) topped up
    so that each cluster has at least ``min(size, min_per_cluster)`` members (:func:`_top_up`). Within a
    cluster the sample is uniform, so the estimator of :func:`_silhouette` applies unchanged: each sampled
    customer's silhouette within the sample, weighted by cluster size / sampled members of its cluster."""
    extra = _top_up(labels, pool, k, min_per_cluster)
    m0 = pool.idx.size
    if extra.size:
        Xe = (X[extra] - X[pool.idx].mean(axis=0)).astype(np.float32)
        rows = np.concatenate([pool.idx, extra])
        cross = _distances(Xe, pool.Xc)  # (e, m0)
        inner = _distances(Xe, Xe, same=True)  # (e, e)
    else:
        rows = pool.idx
    sub = labels[rows]
    m = rows.size
    onehot = np.zeros((m, k), dtype=np.float32)
    onehot[np.arange(m), sub] = 1.0
    sums = np.empty((m0, k), dtype=np.float64)
    for lo in range(0, m0, _SUMS_BLOCK):  # pool rows: distances from the stored matrix or recomputed per block
        hi = min(lo + _SUMS_BLOCK, m0)
        block = pool.dist[lo:hi] if pool.dist is not None else _distances(pool.Xc[lo:hi], pool.Xc, same=True,
                                                                          offset=lo)
        sums[lo:hi] = block @ onehot[:m0]
    if extra.size:
        sums[:m0] += cross.T @ onehot[m0:]
        sums = np.vstack([sums, cross @ onehot[:m0] + inner @ onehot[m0:]])
    n_in = np.bincount(sub, minlength=k).astype(float)
    own = n_in[sub]
    a = sums[np.arange(m), sub] / np.maximum(own - 1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_to = sums / n_in
    mean_to[np.arange(m), sub] = np.inf
    mean_to[:, n_in == 0] = np.inf
    b = mean_to.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.nan_to_num((b - a) / np.maximum(a, b))
    values[own <= 1] = 0.0
    weight = np.bincount(labels, minlength=k) / np.maximum(n_in, 1)
    order = np.argsort(rows, kind="stable")
    return float(np.dot(weight[sub], values) / labels.shape[0]), rows[order]


def _calinski_harabasz_fast(X: np.ndarray, stats: _ClusterStats) -> float:
    """sklearn's calinski_harabasz_score from the cluster sums."""
    n, k = X.shape[0], int(np.count_nonzero(stats.counts))
    extra = float(np.sum(stats.counts * np.sum((stats.means - X.mean(axis=0)) ** 2, axis=1)))
    if stats.inertia == 0.0:
        return 1.0
    return extra * (n - k) / (stats.inertia * (k - 1.0))


def _davies_bouldin_fast(labels: np.ndarray, stats: _ClusterStats) -> float:
    """sklearn's davies_bouldin_score from the cluster sums and each customer's distance to its mean."""
    present = stats.counts > 0
    k = stats.counts.size
    intra = np.bincount(labels, weights=np.sqrt(stats.sq_dist), minlength=k)[present] / stats.counts[present]
    centers = stats.means[present]
    dist = np.sqrt(np.maximum(((centers[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2), 0.0))
    if np.allclose(intra, 0) or np.allclose(dist, 0):
        return 0.0
    dist[dist == 0] = np.inf
    combined = intra[:, None] + intra[None, :]
    return float(np.mean(np.max(combined / dist, axis=1)))


def _stability_large(data: _Large, k: int, seeds: int, random_state: int) -> float:
    """Stability on the fit sample: single-restart refits from each derived seed, compared on the sample."""
    Xs = _fit_sample(data, random_state)
    labelings = [_sample_kmeans(Xs, k, seed, 1, 300).labels_ for seed in derive_seeds(random_state, seeds)]
    return stability_from_labelings(labelings)


# --------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------


def _largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``weights`` summing to ``total`` (largest-remainder rounding)."""
    share = weights * (total / weights.sum())
    counts = np.floor(share).astype(np.int64)
    short = total - int(counts.sum())
    if short > 0:
        counts[np.argsort(-(share - counts), kind="stable")[:short]] += 1
    return counts


def _water_fill(caps: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` as evenly as possible with ``counts[i] <= caps[i]`` (sum(caps) >= total)."""
    counts = np.zeros_like(caps)
    remaining = total
    order = np.argsort(caps, kind="stable")
    for done, i in enumerate(order):
        counts[i] = min(caps[i], remaining // (len(caps) - done))
        remaining -= counts[i]
    return counts


def _codes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(labels, return_inverse=True, return_counts=True)``, by counting for small non-negative ints."""
    if labels.dtype.kind in "iu" and labels.size and 0 <= labels.min() and labels.max() < 2**16:
        counts = np.bincount(labels)
        values = np.flatnonzero(counts)
        code_of = np.zeros(counts.size, dtype=np.intp)
        code_of[values] = np.arange(values.size)
        return values.astype(labels.dtype), code_of[labels], counts[values]
    return np.unique(labels, return_inverse=True, return_counts=True)


def silhouette_sample(
    labels, *, sample_size: int = 10_000, random_state: int, min_per_cluster: int = 50
) -> np.ndarray:
    """Indices of a stratified sample of customers for the silhouette, keeping small clusters.

    A uniform sample of 10,000 from a million customers may hold only a handful of a small
    segment's members. Here every cluster first gets ``min(size, min_per_cluster)`` customers;
    the rest of ``sample_size`` is shared among clusters in proportion to their remaining
    members (largest-remainder rounding), so large clusters get about their proportional share.
    If the guarantees alone exceed ``sample_size`` (many clusters), ``sample_size`` is split as
    evenly as possible instead. Within a cluster customers are drawn uniformly without replacement.

    Parameters
    ----------
    labels : array-like of shape (n_customers,)
        Cluster of each customer (any integers).
    sample_size : int, default=10000
        Sample size; if ``n_customers <= sample_size`` all customers are used.
    random_state : int
    min_per_cluster : int, default=50

    Returns
    -------
    ndarray of shape (min(n_customers, sample_size),), dtype intp
        Sorted row indices into ``labels``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}.")
    sample_size = _as_int(sample_size, "The silhouette sample size")
    if sample_size < 2:
        raise AnalysisError(f"The silhouette sample size must be at least 2, not {sample_size}.")
    if _as_int(min_per_cluster, "min_per_cluster") < 1:
        raise AnalysisError(f"min_per_cluster must be at least 1, not {min_per_cluster}.")
    random_state = _check_options(random_state=random_state)
    n = labels.shape[0]
    if n <= sample_size:
        return np.arange(n, dtype=np.intp)

    _, codes, sizes = _codes(labels)
    guaranteed = np.minimum(sizes, min_per_cluster)
    if guaranteed.sum() >= sample_size:
        quota = _water_fill(guaranteed, sample_size)
    else:
        quota = guaranteed + _largest_remainder(
            (sizes - guaranteed).astype(float), sample_size - int(guaranteed.sum())
        )
    quota = np.minimum(quota, sizes)

    rng = np.random.default_rng(random_state)
    # A stable sort of small integer codes is a radix sort in numpy: same order, O(n).
    members = np.argsort(codes.astype(np.int16) if len(sizes) < 2**15 else codes, kind="stable")
    starts = np.concatenate(([0], np.cumsum(sizes)))
    picked = [
        rng.choice(members[starts[c] : starts[c + 1]], size=quota[c], replace=False)
        for c in range(len(sizes))
        if quota[c] > 0
    ]
    return np.sort(np.concatenate(picked)).astype(np.intp, copy=False)


def _silhouette(X: np.ndarray, labels: np.ndarray, sample: np.ndarray) -> float:
    """Mean silhouette over all customers, estimated from the stratified ``sample``.

    Each sampled customer's silhouette is computed within the sample. Because sampling is
    uniform within a cluster, a customer's mean distance to each cluster is estimated without
    bias; the per-customer values are then weighted by ``cluster size / sampled from cluster`` so
    over-sampled small clusters do not count more than they should. With the whole data as the
    sample this is exactly sklearn's ``silhouette_score``.
    """
    sub = labels[sample]
    values = silhouette_samples(X[sample], sub)
    k = int(labels.max()) + 1
    weight = np.bincount(labels, minlength=k) / np.maximum(np.bincount(sub, minlength=k), 1)
    return float(np.dot(weight[sub], values) / labels.shape[0])


def _calinski_harabasz(X: np.ndarray, labels: np.ndarray, sample: np.ndarray) -> float:
    return float(calinski_harabasz_score(X, labels))


def _davies_bouldin(X: np.ndarray, labels: np.ndarray, sample: np.ndarray) -> float:
    return float(davies_bouldin_score(X, labels))


@dataclass(frozen=True)
class Metric:
    """A cluster-quality score: ``score(X, labels, sample) -> float``.

    ``sample`` holds the row indices from :func:`silhouette_sample`; scores that are cheap on the
    full data (linear in n_customers) ignore it.
    """

    score: Callable[[np.ndarray, np.ndarray, np.ndarray], float]
    higher_is_better: bool
    label: str


#: Scores computed for every k, by :class:`SweepPoint` field name.
METRICS: dict[str, Metric] = {
    "silhouette": Metric(_silhouette, higher_is_better=True, label="silhouette"),
    "calinski_harabasz": Metric(
        _calinski_harabasz, higher_is_better=True, label="Calinski-Harabasz score"
    ),
    "davies_bouldin": Metric(_davies_bouldin, higher_is_better=False, label="Davies-Bouldin index"),
}


# --------------------------------------------------------------------------------------------
# Stability
# --------------------------------------------------------------------------------------------


def derive_seeds(random_state: int, n: int) -> list[int]:
    """``n`` independent seeds (ints < 2**32) derived from ``random_state``; the same for every k."""
    random_state = _check_options(random_state=random_state)
    return [int(s) for s in np.random.SeedSequence(random_state).generate_state(n)]


def fit_labels_for_seed(X, k: int, seed: int, *, n_init: int = 1, max_iter: int = 300) -> np.ndarray:
    """Labels of one k-means fit started from ``seed``: one unit of work of :func:`stability`.

    Parameters
    ----------
    X : array-like of shape (n_customers, n_features)
    k : int
    seed : int
        Typically one of :func:`derive_seeds`.
    n_init : int, default=1
    max_iter : int, default=300

    Returns
    -------
    ndarray of shape (n_customers,), dtype intp
        ``.tolist()`` is its JSON form.
    """
    return fit_kmeans(X, k, random_state=seed, n_init=n_init, max_iter=max_iter).labels


def stability_from_labelings(labelings: Sequence) -> float:
    """Mean adjusted Rand index over all pairs of labelings of the same customers.

    Parameters
    ----------
    labelings : sequence of array-like of shape (n_customers,)
        At least two; lists (from JSON) are fine. Label numbering does not matter.

    Returns
    -------
    float
        1.0 when all labelings are the same partition; about 0 for unrelated partitions.
    """
    arrays = [np.asarray(lab) for lab in labelings]
    if len(arrays) < 2:
        raise AnalysisError(f"Stability needs at least 2 labelings to compare, got {len(arrays)}.")
    if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
        shapes = [a.shape for a in arrays]
        raise ValueError(f"All labelings must be 1-D and of equal length; got shapes {shapes}.")
    return float(np.mean([adjusted_rand_score(a, b) for a, b in itertools.combinations(arrays, 2)]))


def _stability(X: np.ndarray, k: int, seeds: int, random_state: int, n_init: int) -> float:
    if _is_large(X) and n_init == 1:
        return _stability_large(_large(X), k, seeds, random_state)
    labelings = [_fit(X, k, seed, n_init, 300).labels for seed in derive_seeds(random_state, seeds)]
    return stability_from_labelings(labelings)


def stability(X, k: int, *, seeds: int = 3, random_state: int, n_init: int = 1) -> float:
    """How reproducible the k-cluster partition is: mean pairwise ARI over seeded refits.

    ``seeds`` fits are made on the full data, each with ``n_init`` restarts (default 1) from a
    different seed (:func:`derive_seeds`); the result is :func:`stability_from_labelings` of their
    labels. Only the random start differs between fits (no bootstrap resampling), so this measures
    whether k-means finds the same segments regardless of initialisation: close to 1 when the
    data have k clear groups, clearly lower when k-means carves arbitrary boundaries (e.g. noise,
    or a k that splits one natural group in varying ways). With ``_FAST_FROM`` customers or more the
    refits (``n_init=1``) are made and compared on the seeded fit sample of ``_FIT_SAMPLE`` customers.

    Parameters
    ----------
    X : array-like of shape (n_customers, n_features)
    k : int
    seeds : int, default=3
        Number of refits, at least 2.
    random_state : int
    n_init : int, default=1

    Returns
    -------
    float
        Mean adjusted Rand index, at most 1.
    """
    X = _as_matrix(X)
    random_state = _check_options(random_state=random_state, n_init=n_init)
    k = _as_int(k, "k (the number of clusters)")
    if _as_int(seeds, "seeds") < 2:
        raise AnalysisError(f"Stability needs at least 2 seeded refits, not {seeds}.")
    _check_k_values(X, [k], min_k=1)
    return _stability(X, k, seeds, random_state, n_init)


# --------------------------------------------------------------------------------------------
# One point of the sweep
# --------------------------------------------------------------------------------------------


def _opt_float(v) -> float | None:
    return None if v is None else float(v)


@dataclass(frozen=True)
class SweepPoint:
    """Scores of the k-means fit for one k. JSON-ready through :meth:`to_dict`.

    Attributes
    ----------
    k : int
    inertia : float
        Within-cluster sum of squares (lower is tighter; always falls as k grows).
    silhouette : float or None
        Mean silhouette, -1..1, higher is better; estimated on ``silhouette_sample_size``
        customers (see :func:`silhouette_sample`). None when undefined (k equal to the number of
        customers).
    calinski_harabasz : float or None
        Between- over within-cluster dispersion, higher is better (full data).
    davies_bouldin : float or None
        Mean worst-case cluster overlap ratio, >= 0, lower is better (full data).
    stability : float or None
        Mean pairwise adjusted Rand index of seeded refits (:func:`stability`); None when fewer
        than 2 seeds were used.
    silhouette_sample_size : int
        Customers actually used for the silhouette.
    n_iter : int
        Lloyd iterations of the kept fit.
    seconds : float
        Wall time of :func:`evaluate_k` for this k.
    """

    k: int
    inertia: float
    silhouette: float | None
    calinski_harabasz: float | None
    davies_bouldin: float | None
    stability: float | None
    silhouette_sample_size: int
    n_iter: int
    seconds: float

    def to_dict(self) -> dict:
        """Keys: ``k, inertia, silhouette, calinski_harabasz, davies_bouldin, stability,
        silhouette_sample_size, n_iter, seconds``; values are int, float or None."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SweepPoint:
        return cls(
            k=int(d["k"]),
            inertia=float(d["inertia"]),
            silhouette=_opt_float(d["silhouette"]),
            calinski_harabasz=_opt_float(d["calinski_harabasz"]),
            davies_bouldin=_opt_float(d["davies_bouldin"]),
            stability=_opt_float(d["stability"]),
            silhouette_sample_size=int(d["silhouette_sample_size"]),
            n_iter=int(d["n_iter"]),
            seconds=float(d["seconds"]),
        )


def _check_sweep_options(random_state, n_init, stability_seeds, silhouette_sample_size) -> int:
    random_state = _check_options(random_state=random_state, n_init=n_init)
    if _as_int(stability_seeds, "stability_seeds") < 0:
        raise AnalysisError(f"stability_seeds must be 0 or more, not {stability_seeds}.")
    size = _as_int(silhouette_sample_size, "The silhouette sample size")
    if size < 2:
        raise AnalysisError(f"The silhouette sample size must be at least 2, not {size}.")
    return random_state


def _evaluate(
    X: np.ndarray, k: int, random_state: int, n_init: int, stability_seeds: int, sample_size: int
) -> SweepPoint:
    """Unchecked evaluate_k."""
    if _is_large(X):
        return _evaluate_large(X, k, random_state, n_init, stability_seeds, sample_size)
    start = time.perf_counter()
    fit = _fit(X, k, random_state, n_init, 300)
    sample = silhouette_sample(fit.labels, sample_size=sample_size, random_state=random_state)
    n_labels = int(np.unique(fit.labels[sample]).size)
    scores: dict[str, float | None] = dict.fromkeys(METRICS)
    # sklearn's scores need 2 <= number of clusters <= number of customers - 1.
    if 2 <= k < X.shape[0] and 2 <= n_labels < sample.size:
        scores = {name: m.score(X, fit.labels, sample) for name, m in METRICS.items()}
    stab = _stability(X, k, stability_seeds, random_state, 1) if stability_seeds >= 2 else None
    return _point(k, fit, scores, stab, sample, start)


def _point(k: int, fit, scores: dict, stab: float | None, sample: np.ndarray, start: float) -> SweepPoint:
    """The SweepPoint of a fit and its scores (``start``: perf_counter at the beginning of the evaluation)."""
    return SweepPoint(
        k=k,
        inertia=fit.inertia,
        silhouette=scores["silhouette"],
        calinski_harabasz=scores["calinski_harabasz"],
        davies_bouldin=scores["davies_bouldin"],
        stability=stab,
        silhouette_sample_size=int(sample.size),
        n_iter=fit.n_iter,
        seconds=time.perf_counter() - start,
    )


def _evaluate_large(
    X: np.ndarray, k: int, random_state: int, n_init: int, stability_seeds: int, sample_size: int,
    pool: _SilhouettePool | None = None, data: _Large | None = None,
) -> SweepPoint:
    """evaluate_k on large X: the fast fit (:func:`_fit_large`) and scores from its cluster sums.

    ``pool`` / ``data``: the k-independent silhouette pool and prepared copies of X, shared by a sweep's ks."""
    start = time.perf_counter()
    if data is None:
        data = _large(X)
    fit, stats = _fit_large(X, k, random_state, n_init, 300, data)
    if pool is None:  # one k: its distances block by block (same values; no matrix built for one use)
        pool = _silhouette_pool(X, sample_size, random_state, matrix=False)
    silhouette, sample = _silhouette_pooled(X, fit.labels, pool, k)
    n_labels = int(np.unique(fit.labels[sample]).size)
    scores: dict[str, float | None] = dict.fromkeys(METRICS)
    if 2 <= k < X.shape[0] and 2 <= n_labels < sample.size:
        scores = {
            "silhouette": silhouette,
            "calinski_harabasz": _calinski_harabasz_fast(X, stats),
            "davies_bouldin": _davies_bouldin_fast(fit.labels, stats),
        }
    stab = _stability_large(data, k, stability_seeds, random_state) if stability_seeds >= 2 else None
    return _point(k, fit, scores, stab, sample, start)


def _sweep_large(
    X: np.ndarray, ks: Sequence[int], random_state: int, n_init: int, stability_seeds: int, sample_size: int
) -> list[SweepPoint]:
    """The large-data sweep in-process: the float32 copy and silhouette pool are made once and the ks run
    on one thread per available core (each with one OpenMP and BLAS thread: the fits, products and
    distance blocks release the GIL). Same points as :func:`evaluate_k` for each k."""
    data = _large(X)
    pool = _silhouette_pool(X, sample_size, random_state)
    threads = max(1, min(len(ks), len(os.sched_getaffinity(0))))

    def one(k: int) -> SweepPoint:
        with _threadpools().limit(limits=1, user_api="openmp"):
            return _evaluate_large(X, k, random_state, n_init, stability_seeds, sample_size, pool, data)

    with _threadpools().limit(limits=1, user_api="blas"):
        if threads == 1:
            return [one(k) for k in ks]
        # Largest k first: they take longest, so the threads finish together.
        with ThreadPoolExecutor(threads, thread_name_prefix="sweep") as ex:
            done = dict(zip(sorted(ks, reverse=True), ex.map(one, sorted(ks, reverse=True)), strict=True))
    return [done[k] for k in ks]


def evaluate_k(
    X,
    k: int,
    *,
    random_state: int,
    n_init: int = 10,
    stability_seeds: int = 3,
    silhouette_sample_size: int = 10_000,
) -> SweepPoint:
    """Fit k-means for one k and score it: the per-k unit of work of :func:`sweep_k`.

    The fit is ``fit_kmeans(X, k, random_state=random_state, n_init=n_init)``. Silhouette is
    estimated on a stratified sample (:func:`silhouette_sample`, same ``random_state``);
    Calinski-Harabasz and Davies-Bouldin use all customers. Stability is
    ``stability(X, k, seeds=stability_seeds, random_state=random_state, n_init=1)``.

    With ``_FAST_FROM`` customers or more, the fit is the large-data fit of :func:`fit_kmeans`, the
    scores are computed from its cluster sums (same values as scikit-learn's for the same labels; the
    silhouette's distances in float32) and the stability refits run on the fit sample.

    Parameters
    ----------
    X : array-like of shape (n_customers, n_features)
    k : int
        2 <= k <= number of distinct rows of X.
    random_state : int
    n_init : int, default=10
    stability_seeds : int, default=3
        Extra single-restart fits for stability; 0 or 1 skips it (``stability`` is None).
        To fan them out instead, pass 0 and fill ``stability`` with
        ``dataclasses.replace(point, stability=stability_from_labelings(...))``.
    silhouette_sample_size : int, default=10000

    Returns
    -------
    SweepPoint
    """
    X = _as_matrix(X)
    random_state = _check_sweep_options(random_state, n_init, stability_seeds, silhouette_sample_size)
    k = _as_int(k, "k (the number of clusters)")
    _check_k_values(X, [k], min_k=2)
    return _evaluate(X, k, random_state, n_init, stability_seeds, silhouette_sample_size)


# --------------------------------------------------------------------------------------------
# Recommendation (the join)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recommendation:
    """The recommended k and why.

    Attributes
    ----------
    k : int
        Recommended number of clusters.
    reason : str
        One paragraph of plain English quoting the numbers behind the choice.
    knee_k : int or None
        Elbow of the inertia curve (kneed, convex, decreasing); None if there is no clear elbow
        or fewer than three k were tried.
    best_silhouette_k, best_davies_bouldin_k, best_calinski_harabasz_k, most_stable_k : int or None
        Best k by each score over *all* k tried (ties go to the smaller k); None if the score
        was never computed.
    votes : dict
        ``{"elbow": k or None, "silhouette": k or None, "davies_bouldin": k or None}``: the k each
        criterion voted for among the stable candidates (None: abstained). When no k is stable
        only ``"silhouette"`` is set, since it alone decided.
    """

    k: int
    reason: str
    knee_k: int | None
    best_silhouette_k: int | None
    best_davies_bouldin_k: int | None
    best_calinski_harabasz_k: int | None
    most_stable_k: int | None
    votes: dict[str, int | None] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Keys: ``k, reason, knee_k, best_silhouette_k, best_davies_bouldin_k,
        best_calinski_harabasz_k, most_stable_k, votes``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Recommendation:
        def opt(v):
            return None if v is None else int(v)

        return cls(
            k=int(d["k"]),
            reason=str(d["reason"]),
            knee_k=opt(d["knee_k"]),
            best_silhouette_k=opt(d["best_silhouette_k"]),
            best_davies_bouldin_k=opt(d["best_davies_bouldin_k"]),
            best_calinski_harabasz_k=opt(d["best_calinski_harabasz_k"]),
            most_stable_k=opt(d["most_stable_k"]),
            votes={str(name): opt(k) for name, k in d["votes"].items()},
        )


def _best_k(points: Sequence[SweepPoint], name: str) -> int | None:
    """k with the best value of ``name`` (ties: smaller k); None if never computed."""
    higher = METRICS[name].higher_is_better if name in METRICS else True  # stability: higher
    scored = [(getattr(p, name), p.k) for p in points if getattr(p, name) is not None]
    if not scored:
        return None
    return min(scored, key=lambda vk: (-vk[0] if higher else vk[0], vk[1]))[1]


def _elbow(ks: Sequence[int], inertias: Sequence[float]) -> int | None:
    if len(ks) < 3 or max(inertias) - min(inertias) <= 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        knee = KneeLocator(list(ks), list(inertias), curve="convex", direction="decreasing").knee
    return None if knee is None else int(knee)


def _ks_text(ks: Sequence[int]) -> str:
    if len(ks) > 2 and list(ks) == list(range(ks[0], ks[-1] + 1)):
        return f"k={ks[0]} to {ks[-1]}"
    return "k=" + ", ".join(map(str, ks))


def _num(v: float | None, digits: int) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _scores_text(p: SweepPoint) -> str:
    parts = [
        f"silhouette {_num(p.silhouette, 3)}",
        f"Davies-Bouldin index {_num(p.davies_bouldin, 3)}",
        f"Calinski-Harabasz score {_num(p.calinski_harabasz, 1)}",
    ]
    if p.stability is not None:
        parts.append(f"stability {_num(p.stability, 2)}")
    return ", ".join(parts)


def recommend_k(
    points: Sequence[SweepPoint], *, stability_threshold: float = STABILITY_THRESHOLD
) -> Recommendation:
    """Recommend k from the scores of a sweep: the join step of :func:`sweep_k`.

    Rule:

    1. Candidates are the stable k: stability >= ``stability_threshold`` (mean pairwise ARI of
       seeded refits). A k whose stability was not measured is a candidate.
    2. Three criteria vote among the candidates: the elbow of the inertia curve (kneed's
       ``KneeLocator``, convex, decreasing; abstains if there is no clear elbow or it is not a
       candidate), the highest silhouette and the lowest Davies-Bouldin index.
    3. The candidate with most votes wins; ties go to the higher silhouette, then the smaller k.
    4. If no k is stable, this is said plainly and the k with the highest silhouette is suggested
       (the most stable k if silhouette was never computed).

    Calinski-Harabasz is reported but does not vote (it tends to favour larger k on real data).
    With a single point that k is returned, and the reason says there was nothing to compare.

    Parameters
    ----------
    points : sequence of SweepPoint
        One per k, any order, k distinct.
    stability_threshold : float, default=0.8

    Returns
    -------
    Recommendation
    """
    if not points:
        raise AnalysisError("No values of k were evaluated, so there is nothing to recommend; try k=2 to 10.")
    pts = sorted(points, key=lambda p: p.k)
    ks = [p.k for p in pts]
    if len(set(ks)) != len(ks):
        raise ValueError(f"Each k must be evaluated once; got k values {ks}.")
    by_k = {p.k: p for p in pts}
    knee_k = _elbow(ks, [p.inertia for p in pts])
    best = {name: _best_k(pts, name) for name in (*METRICS, "stability")}
    measured = [p for p in pts if p.stability is not None]
    candidates = [p for p in pts if p.stability is None or p.stability >= stability_threshold]
    thr = f"{stability_threshold:.2f}"
    stable_def = (
        f"refits from different random starts agreed with a mean adjusted Rand index of at least {thr}"
    )

    def answer(k: int, reason: str, votes: dict[str, int | None]) -> Recommendation:
        return Recommendation(
            k=k,
            reason=reason,
            knee_k=knee_k,
            best_silhouette_k=best["silhouette"],
            best_davies_bouldin_k=best["davies_bouldin"],
            best_calinski_harabasz_k=best["calinski_harabasz"],
            most_stable_k=best["stability"],
            votes=votes,
        )

    def sil(k: int) -> float:
        v = by_k[k].silhouette
        return -math.inf if v is None else v

    if not candidates:
        k = best["silhouette"] if best["silhouette"] is not None else best["stability"]
        votes = {"elbow": None, "silhouette": best["silhouette"], "davies_bouldin": None}
        top = by_k[best["stability"]]
        why = (
            f"it has the highest silhouette ({_num(by_k[k].silhouette, 3)})"
            if best["silhouette"] is not None
            else f"it is the most stable ({_num(top.stability, 2)}); the silhouette could not be computed"
        )
        if len(pts) == 1:
            reason = (
                f"Only one value of k was evaluated (k={k}), so there was nothing to compare it with, and "
                f"it is not stable: refits from different random starts agreed with a mean adjusted Rand "
                f"index of only {_num(top.stability, 2)} (below {thr}), so its clusters are not reliable. "
                f"Scores at k={k}: {_scores_text(by_k[k])}."
            )
        else:
            reason = (
                f"No value of k was stable: for every k tried ({_ks_text(ks)}) refits from different "
                f"random starts agreed with a mean adjusted Rand index below {thr} (the best was "
                f"{_num(top.stability, 2)} at k={top.k}), so the clusters found are not reliable. "
                f"k={k} is suggested only because {why}. Consider fewer or different features, or a "
                f"different scaling. Scores at k={k}: {_scores_text(by_k[k])}."
            )
        return answer(k, reason, votes)

    cand_ks = [p.k for p in candidates]
    votes = {
        "elbow": knee_k if knee_k in cand_ks else None,
        "silhouette": _best_k(candidates, "silhouette"),
        "davies_bouldin": _best_k(candidates, "davies_bouldin"),
    }
    tally = Counter(v for v in votes.values() if v is not None)
    k = max(cand_ks, key=lambda c: (tally[c], sil(c), -c))
    chosen = by_k[k]

    if len(pts) == 1:
        reason = (
            f"Only one value of k was evaluated (k={k}), so there was nothing to compare it with and "
            f"k={k} is returned as it is. Scores at k={k}: {_scores_text(chosen)}."
        )
        if chosen.stability is not None:
            reason += f" It is stable: {stable_def}."
        return answer(k, reason, votes)

    sentences = [f"k={k} is recommended."]
    if not measured:
        sentences.append(
            f"Stability was not measured (that needs at least two seeded refits per k), so all "
            f"{len(pts)} values tried ({_ks_text(ks)}) were candidates."
        )
    elif len(candidates) == len(pts):
        sentences.append(f"All {len(pts)} values tried ({_ks_text(ks)}) were stable: {stable_def}.")
    else:
        sentences.append(
            f"Of the {len(pts)} values tried ({_ks_text(ks)}), {len(candidates)} "
            f"{'was' if len(candidates) == 1 else 'were'} stable "
            f"({_ks_text(cand_ks)}): {stable_def}."
        )
    if not measured:
        lead = "Among them"
    elif len(candidates) == len(pts):
        lead = "Among all of them"
    else:
        lead = "Among the stable values"
    said = []
    if votes["elbow"] is not None:
        said.append(f"the inertia curve has its elbow at k={votes['elbow']}")
    elif knee_k is not None:
        said.append(f"the inertia curve has its elbow at k={knee_k}, which is not stable, so it did not vote")
    else:
        said.append("the inertia curve has no clear elbow, so it did not vote")
    for name, word in (("silhouette", "highest"), ("davies_bouldin", "lowest")):
        if votes[name] is not None:
            v = getattr(by_k[votes[name]], name)
            said.append(f"the {word} {METRICS[name].label} ({_num(v, 3)}) is at k={votes[name]}")
        else:
            said.append(f"the {METRICS[name].label} could not be computed")
    text = f"{lead}, {said[0]}; {said[1]}; and {said[2]}"
    cast = sum(tally.values())
    if cast == 0:
        text += f". As no criterion could vote, the smallest candidate, k={k}, is suggested."
    else:
        n_top = tally[k]
        tied = [c for c in cand_ks if tally[c] == n_top and c != k]
        text += f"; so k={k} got {n_top} of the {cast} vote{'' if cast == 1 else 's'} cast"
        if tied:
            text += (
                f", tied with k={', '.join(map(str, tied))}; the tie goes to k={k}, which has the higher "
                f"silhouette ({_num(chosen.silhouette, 3)})."
            )
        else:
            text += "."
    sentences.append(text)
    sentences.append(f"Scores at k={k}: {_scores_text(chosen)}.")
    return answer(k, " ".join(sentences), votes)


# --------------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    """A sweep over k: one :class:`SweepPoint` per k (ascending) and the :class:`Recommendation`.

    ``silhouette_sample_size`` is the requested sample size; each point records the size used.
    """

    points: list[SweepPoint]
    recommendation: Recommendation
    n_customers: int
    n_features: int
    silhouette_sample_size: int

    @classmethod
    def from_points(
        cls, points: Iterable[SweepPoint], *, n_customers: int, n_features: int, silhouette_sample_size: int
    ) -> SweepResult:
        """The join: sort the points by k and recommend k (:func:`recommend_k`)."""
        pts = sorted(points, key=lambda p: p.k)
        return cls(
            points=pts,
            recommendation=recommend_k(pts),
            n_customers=int(n_customers),
            n_features=int(n_features),
            silhouette_sample_size=int(silhouette_sample_size),
        )

    def to_dict(self) -> dict:
        """Keys: ``points`` (list of :meth:`SweepPoint.to_dict`), ``recommendation``
        (:meth:`Recommendation.to_dict`), ``n_customers``, ``n_features``, ``silhouette_sample_size``."""
        return {
            "points": [p.to_dict() for p in self.points],
            "recommendation": self.recommendation.to_dict(),
            "n_customers": self.n_customers,
            "n_features": self.n_features,
            "silhouette_sample_size": self.silhouette_sample_size,
        }

    @classmethod
    def from_dict(cls, d: dict) -> SweepResult:
        return cls(
            points=[SweepPoint.from_dict(p) for p in d["points"]],
            recommendation=Recommendation.from_dict(d["recommendation"]),
            n_customers=int(d["n_customers"]),
            n_features=int(d["n_features"]),
            silhouette_sample_size=int(d["silhouette_sample_size"]),
        )


def sweep_k(
    X,
    k_values: Iterable[int] | str,
    *,
    random_state: int,
    n_init: int = 10,
    stability_seeds: int = 3,
    silhouette_sample_size: int = 10_000,
) -> SweepResult:
    """Evaluate each k (:func:`evaluate_k`) and recommend one (:func:`recommend_k`).

    Every k is validated (k >= 2, k <= number of distinct rows of X), and so are the options,
    before any fitting starts.

    Parameters
    ----------
    X : array-like of shape (n_customers, n_features)
    k_values : iterable of int, or str
        E.g. ``range(2, 11)``, or text for :func:`parse_k_range` such as ``"2-10"``. Duplicates are
        dropped; points come out in ascending k.
    random_state : int
    n_init : int, default=10
    stability_seeds : int, default=3
    silhouette_sample_size : int, default=10000

    Returns
    -------
    SweepResult
    """
    X = _as_matrix(X)
    random_state = _check_sweep_options(random_state, n_init, stability_seeds, silhouette_sample_size)
    if isinstance(k_values, str):
        k_values = parse_k_range(k_values)
    ks = sorted({_as_int(k, "k (the number of clusters)") for k in k_values})
    if not ks:
        raise AnalysisError("No values of k were given to try; give a range such as 2-10.")
    _check_k_values(X, ks, min_k=2)
    if _is_large(X):
        points = _sweep_large(X, ks, random_state, n_init, stability_seeds, silhouette_sample_size)
    else:
        points = [_evaluate(X, k, random_state, n_init, stability_seeds, silhouette_sample_size) for k in ks]
    return SweepResult.from_points(
        points, n_customers=X.shape[0], n_features=X.shape[1], silhouette_sample_size=silhouette_sample_size
    )


_INT = re.compile(r"^[0-9]+$")
_RANGE = re.compile(r"^([0-9]+)\s*(?:-|\.\.|\u2013|to)\s*([0-9]+)$")
_MAX_K_VALUES = 1000


def parse_k_range(text: str) -> list[int]:
    """Parse the k values typed by a user into a sorted list without duplicates.

    Accepts ``"2-10"``, ``"2..10"`` (both ends included), a single ``"4"``, a list ``"2,4,6"``
    and mixtures such as ``"2-4, 8"``; spaces are ignored.

    Raises
    ------
    AnalysisError
        On anything else, on a backwards range such as ``"10-2"``, or if any k is below 2.
    """
    if not isinstance(text, str) or not text.strip():
        raise AnalysisError(f"Give the values of k to try, such as 2-10, 2..10, 4 or 2,4,6; got {text!r}.")
    ks: set[int] = set()
    for item in text.split(","):
        item = item.strip()
        if _INT.match(item):
            ks.add(int(item))
            continue
        m = _RANGE.match(item)
        if not m:
            raise AnalysisError(
                f"Could not read {item!r} in the k values {text!r}; write them as 2-10, 2..10, 4 or 2,4,6."
            )
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo > hi:
            raise AnalysisError(f"The k range {item!r} runs backwards; write it as {hi}-{lo}.")
        if hi - lo >= _MAX_K_VALUES:
            raise AnalysisError(
                f"The k range {item!r} has more than {_MAX_K_VALUES} values; try a narrower range."
            )
        ks.update(range(lo, hi + 1))
    if min(ks) < 2:
        raise AnalysisError(
            f"Every k must be at least 2 (one cluster cannot be scored), but {text!r} includes k={min(ks)}."
        )
    return sorted(ks)
