"""The measurements. Each runs in its own child process (see bench/run.py) and returns a JSON-ready dict with
``seconds`` (wall of the measured part only: data generation and imports are excluded) and ``peak_rss`` (bytes,
the peak resident set of the process; worker processes report theirs as ``worker_peak_rss``)."""

from __future__ import annotations

import time


def _peak_rss() -> int:
    """Peak resident set of this process (VmHWM, bytes).

    Not ``ru_maxrss``: on Linux that survives fork + exec, so a child would report its parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


# ---- ingest -----------------------------------------------------------------------------------------------


def _scan(path: str):
    """The reference's scan of the demo file (CSV dates parsed with their explicit format)."""
    import polars as pl

    if path.endswith(".csv"):
        lf = pl.scan_csv(path, schema_overrides={"InvoiceNo": pl.String, "StockCode": pl.String,
                                                 "CustomerID": pl.Float64, "InvoiceDate": pl.String})
        return lf.with_columns(pl.col("InvoiceDate").str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S"))
    return pl.scan_parquet(path)


def _rfm(lf, keep):
    """The reference's per-customer query on the rows ``keep`` selects."""
    import polars as pl

    return (
        lf.filter(keep)
        .group_by("CustomerID")
        .agg(
            last=pl.col("InvoiceDate").max(),
            first_purchase=pl.col("InvoiceDate").min(),
            frequency=pl.col("InvoiceNo").n_unique(),
            monetary=(pl.col("Quantity") * pl.col("UnitPrice")).sum(),
        )
        .with_columns(
            recency_days=((pl.col("last").max().dt.truncate("1d") + pl.duration(days=1)) - pl.col("last"))
            .dt.total_seconds() / 86400.0,
            avg_order_value=pl.col("monetary") / pl.col("frequency"),
        )
        .select("CustomerID", "recency_days", "frequency", "monetary", "first_purchase", "avg_order_value")
        .collect()
    )


def polars_features(path: str) -> dict:
    """Reference: a minimal polars lazy query for recency, frequency, monetary, first purchase date and average
    order value per customer, with the usual filters (identified customers, positive quantity and price).
    CSV dates are parsed with their explicit format."""
    import polars as pl

    t = time.perf_counter()
    out = _rfm(_scan(path), pl.col("CustomerID").is_not_null() & (pl.col("Quantity") > 0) & (pl.col("UnitPrice") > 0))
    return {"seconds": time.perf_counter() - t, "customers": out.height}


def polars_rules_floor(path: str) -> dict:
    """Not a product path: the reference query with the product's six default cleaning rules added as plain
    filters on the raw columns (dates and amounts present; no C/A order-id prefix; description not "adjust bad
    debt"), i.e. the least that any implementation applying those rules must read and test. No normalisation,
    no quality report (the rules' counts, also of the rules that are off), nothing kept for later steps."""
    import polars as pl

    t = time.perf_counter()
    amount = pl.col("Quantity") * pl.col("UnitPrice")
    keep = (pl.col("CustomerID").is_not_null() & (pl.col("Quantity") > 0) & (pl.col("UnitPrice") > 0)
            & pl.col("InvoiceDate").is_not_null() & amount.is_finite()
            & ~pl.col("InvoiceNo").cast(pl.String).str.contains("^[CcAa][0-9]")
            & ~pl.col("Description").cast(pl.String).str.to_lowercase().str.contains("adjust bad debt", literal=True))
    out = _rfm(_scan(path), keep)
    return {"seconds": time.perf_counter() - t, "customers": out.height}


def product_features(path: str) -> dict:
    """The product's path: pipeline.load_dataset -> prepare -> build_features (the same five features)."""
    from analysis import pipeline
    from analysis import schema as S

    t = time.perf_counter()
    prepared = pipeline.prepare(pipeline.load_dataset(path))
    feats = pipeline.build_features(prepared, [S.RECENCY, S.FREQUENCY, S.MONETARY, S.TENURE, S.AVG_ORDER_VALUE])
    return {"seconds": time.perf_counter() - t, "customers": len(feats)}


def product_describe(path: str) -> dict:
    """The full describe report: pipeline.load_dataset -> prepare -> describe."""
    from analysis import pipeline

    t = time.perf_counter()
    report = pipeline.describe(pipeline.prepare(pipeline.load_dataset(path)))
    return {"seconds": time.perf_counter() - t, "keys": len(report)}


def store_dataset(path: str, data_dir: str) -> dict:
    """What the ingest job does once per upload: load_dataset -> prepare (the quality report) -> store the
    normalised table and its rule masks under ``data_dir`` (workers.storage). Returns the stored dataset's id
    and metadata."""
    from analysis import pipeline
    from workers import storage
    from workers.config import load_settings

    t = time.perf_counter()
    dataset = pipeline.load_dataset(path)
    prepared = pipeline.prepare(dataset)
    ds_id = storage.store_dataset(load_settings({"SEGMENTS_DATA_DIR": data_dir}), dataset,
                                  rule_bits=prepared.rule_bits)
    meta = {"shape": dataset.shape, "mapping": dict(dataset.mapping), "source": dataset.source,
            "notes": list(dataset.notes), "raw_rows": dataset.raw_rows, "raw_columns": list(dataset.raw_columns)}
    return {"seconds": time.perf_counter() - t, "ds_id": ds_id, "meta": meta}


def describe_job(data_dir: str, ds_id: str, meta: dict) -> dict:
    """A describe job as a worker runs it (workers.tasks.describe): read the stored dataset -> prepare (the
    quality report, every rule counted; the masks come from the ingest job) -> describe (every descriptive
    statistic, cohorts)."""
    from analysis import pipeline
    from workers import storage
    from workers.config import load_settings

    settings = load_settings({"SEGMENTS_DATA_DIR": data_dir})
    t = time.perf_counter()
    report = pipeline.describe(pipeline.prepare(storage.load_dataset(settings, ds_id, **meta)))
    return {"seconds": time.perf_counter() - t, "keys": len(report), "quality": report["quality"] is not None}


# ---- sweep ------------------------------------------------------------------------------------------------


def sweep_product(n: int, ks: list[int]) -> dict:
    """The product's in-process sweep with its defaults (n_init=10, 3 stability seeds, 10,000 silhouette sample)."""
    from analysis.clustering import sweep_k
    from bench.data import customer_matrix

    X, _ = customer_matrix(n, seed=0)
    t = time.perf_counter()
    result = sweep_k(X, ks, random_state=0, n_init=10, stability_seeds=3, silhouette_sample_size=10_000)
    seconds = time.perf_counter() - t
    return {
        "seconds": seconds,
        "inertia": {str(p.k): p.inertia for p in result.points},
        "silhouette": {str(p.k): p.silhouette for p in result.points},
        "recommended_k": result.recommendation.k,
    }


def sweep_sklearn(n: int, ks: list[int]) -> dict:
    """Reference: what a user would write with scikit-learn. Its recommended k is the product's rule
    (:func:`analysis.clustering.recommend_k`) applied to these scores (no stability)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    from analysis.clustering import SweepPoint, recommend_k
    from bench.data import customer_matrix

    X, _ = customer_matrix(n, seed=0)
    t = time.perf_counter()
    scores = []
    for k in ks:
        km = KMeans(n_clusters=k, n_init=10, random_state=0).fit(X)
        sil = silhouette_score(X, km.labels_, sample_size=10_000, random_state=0)
        ch = calinski_harabasz_score(X, km.labels_)
        db = davies_bouldin_score(X, km.labels_)
        scores.append((k, float(km.inertia_), float(sil), float(ch), float(db)))
    seconds = time.perf_counter() - t
    points = [SweepPoint(k=k, inertia=i, silhouette=s, calinski_harabasz=c, davies_bouldin=d, stability=None,
                         silhouette_sample_size=10_000, n_iter=0, seconds=0.0) for k, i, s, c, d in scores]
    return {
        "seconds": seconds,
        "inertia": {str(k): i for k, i, *_ in scores},
        "silhouette": {str(k): s for k, _, s, *_ in scores},
        "recommended_k": recommend_k(points).k,
    }


_X = None


def _worker_init(n: int) -> None:
    """A worker process as Celery starts one: one thread, the analysis modules imported (workers.tasks imports
    them at boot), and the customer matrix in memory."""
    global _X
    from threadpoolctl import threadpool_limits

    from analysis.clustering import evaluate_k  # noqa: F401  (imported at worker boot, as workers.tasks does)
    from bench.data import customer_matrix

    threadpool_limits(1)
    _X, _ = customer_matrix(n, seed=0)


def _warm(_: int) -> int:
    """One small evaluate_k per worker before timing: long-lived workers have run tasks before (first-call costs
    such as OpenMP start-up and the first touch of the silhouette pool's memory are not part of a sweep)."""
    from analysis.clustering import evaluate_k

    evaluate_k(_X[:20_000], 3, random_state=0, n_init=1, stability_seeds=1, silhouette_sample_size=10_000)
    time.sleep(0.5)
    return 0


def _part(k: int) -> dict:
    from analysis.clustering import evaluate_k

    point = evaluate_k(_X, k, random_state=0, n_init=10, stability_seeds=3, silhouette_sample_size=10_000)
    return {**point.to_dict(), "peak_rss": _peak_rss()}


def sweep_workers(n: int, ks: list[int], workers: int) -> dict:
    """The worker fan-out: ``workers`` processes, one OpenMP/BLAS thread each, one evaluate_k task per k (largest
    k first, as workers.client dispatches them, each to the next free worker), then the join
    (SweepResult.from_points). The matrix is built in each worker before timing starts (the real workers read it
    from Parquet)."""
    import multiprocessing as mp

    from analysis.clustering import SweepPoint, SweepResult

    with mp.get_context("fork").Pool(workers, initializer=_worker_init, initargs=(n,)) as pool:
        pool.map(_warm, range(workers), chunksize=1)
        t = time.perf_counter()
        parts = list(pool.imap_unordered(_part, sorted(ks, reverse=True), chunksize=1))
        worker_peak = max(p.pop("peak_rss") for p in parts)
        result = SweepResult.from_points([SweepPoint.from_dict(p) for p in parts], n_customers=n, n_features=6,
                                         silhouette_sample_size=10_000)
        seconds = time.perf_counter() - t
    return {"seconds": seconds, "recommended_k": result.recommendation.k, "worker_peak_rss": worker_peak,
            "inertia": {str(p.k): p.inertia for p in result.points}}


# ---- web ---------------------------------------------------------------------------------------------------


def web_overview(data: str, clients: int, seconds: float) -> dict:
    """``clients`` browser-like clients opening the Overview of ``data`` for ``seconds`` against gunicorn with 2
    processes while 2 sweeps run (the load test's stack, see bench/load.py and tests/test_load.py). Latencies
    are over every request but static assets."""
    import argparse

    from bench.load import with_stack

    _, report = with_stack(data, argparse.Namespace(clients=clients, seconds=seconds, scenario="overview"))
    total = report.total()
    return {"seconds": report.seconds, "requests": total["count"], "errors": report.errors,
            "p50_ms": total["p50"], "p95_ms": total["p95"], "p99_ms": total["p99"]}


CASES = {f.__name__: f for f in (polars_features, polars_rules_floor, product_features, product_describe,
                                 store_dataset, describe_job, sweep_product, sweep_sklearn, sweep_workers,
                                 web_overview)}


def run_case(name: str, args: dict) -> dict:
    answer = CASES[name](**args)
    answer["peak_rss"] = max(_peak_rss(), answer.pop("worker_peak_rss", 0))
    return answer
