"""Figure builders of the dashboard: hand-made result dicts, results of the analysis core on demo data, and
(marked realdata) the published Online Retail figures."""

from __future__ import annotations

import copy
import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from webapp import figures as F

# ---- helpers and fixtures -------------------------------------------------------------------------------------


def annotation_texts(fig: go.Figure) -> list[str]:
    """Annotation texts as plain text (line breaks to spaces, entities decoded)."""
    return [html.unescape((a.text or "").replace("<br>", " ")) for a in fig.layout.annotations]


def segment_trace(fig: go.Figure, n: int):
    matches = [t for t in fig.data if t.legendgroup == f"segment-{n}"]
    assert len(matches) == 1, f"expected one trace for segment {n}, got {len(matches)}"
    return matches[0]


def hand_segments() -> dict:
    """Three segments, given out of order, with a name that needs escaping."""
    profiles = [
        {"segment": 2, "name": "Big <b>spenders</b>", "size": 10, "customer_share": 0.1, "revenue": 600.0,
         "revenue_share": 0.6, "mean_monetary": 60.0, "median_monetary": 55.0, "mean_frequency": 9.0,
         "median_frequency": 8.0, "mean_recency_days": 5.0, "median_recency_days": 4.0},
        {"segment": 0, "name": "Lapsed", "size": 60, "customer_share": 0.6, "revenue": 120.0, "revenue_share": 0.12,
         "mean_monetary": 2.0, "median_monetary": 1.5, "mean_frequency": 1.0, "median_frequency": 1.0,
         "mean_recency_days": 300.0, "median_recency_days": 280.0},
        {"segment": 1, "name": "Regulars", "size": 30, "customer_share": 0.3, "revenue": 280.0, "revenue_share": 0.28,
         "mean_monetary": 9.3, "median_monetary": 9.0, "mean_frequency": 4.0, "median_frequency": 4.0,
         "mean_recency_days": 40.0, "median_recency_days": 35.0},
    ]
    return {
        "k": 3,
        "dataset_name": "shop.csv",
        "projection_explained": [0.7516, 0.1870],
        "profiles": {
            "features": ["recency_days", "frequency", "monetary"],
            "recency_col": "recency_days", "frequency_col": "frequency", "monetary_col": "monetary",
            "n_customers": 100,
            "segments": profiles,
            "names": {"0": "Lapsed", "1": "Regulars", "2": "Big <b>spenders</b>"},
            "standardised": {"segments": [2, 0, 1], "names": ["Big <b>spenders</b>", "Lapsed", "Regulars"],
                             "features": ["recency_days", "frequency", "monetary"],
                             "values": [[-0.8, 1.2, 2.5], [0.9, -0.4, -0.3], [-0.2, 0.1, -0.05]]},
        },
        "advice": {"0": {"name": "Lapsed", "headline": "Lapsed: 60 customers", "advice": "Win them back."},
                   "2": {"name": "Big <b>spenders</b>", "headline": "Big: 10", "advice": "Reward them."}},
        "outliers": [{"customer_id": "C9", "score": 8.77336, "flagged": "monetary", "reason": "spent 250x the median",
                      "monetary": 1e5}],
        "rfm_crosstab": {"rows": ["Champions", "Lost"], "columns": ["Lapsed", "Regulars", "Big <b>spenders</b>"],
                         "counts": [[0, 10, 8], [60, 20, 2]]},
    }


NAMES = {0: "Lapsed", 1: "Regulars", 2: "Big <b>spenders</b>"}


def hand_membership(sizes=(60, 30, 10), seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    seg = np.repeat(np.arange(len(sizes)), sizes)
    n = len(seg)
    return pd.DataFrame(
        {"segment": seg, "segment_name": [NAMES.get(s, f"Segment {s}") for s in seg],
         "recency_days": rng.uniform(1, 300, n), "frequency": rng.integers(1, 20, n).astype(float),
         "monetary": rng.lognormal(5, 1.5, n), "pc1": rng.normal(size=n), "pc2": rng.normal(size=n)},
        index=pd.Index([f"C{i}" for i in range(n)], name="customer_id"),
    )


RETAIL_DESCRIBE = {
    "dataset": {"file": "online_retail.parquet", "shape": "line_items"},
    "quality": {"raw_rows": 541909, "raw_revenue": 9747747.93, "clean_rows": 397884, "clean_revenue": 8911407.9,
                "bridge": [{"step": "Raw data", "rows": 541909, "revenue": 9747747.93},
                           {"step": "- Missing customer id", "rows": 406829, "revenue": 8300065.81},
                           {"step": "- Cancellations", "rows": 397924, "revenue": 8911407.9},
                           {"step": "- Zero or negative price", "rows": 397884, "revenue": 8911407.9}]},
    "summary": {"customers": 4338, "orders": 18532, "revenue": 8911407.904, "average_order_value": 480.8659563997409,
                "average_purchase_value_per_customer": 2054.2664601198708, "first_date": "2010-12-01T08:26:00",
                "last_date": "2011-12-09T12:50:00", "mean_orders_per_customer": 4.272014753342554,
                "median_orders_per_customer": 2.0},
    "one_time_vs_repeat": {"one_time_customers": 1493, "one_time_pct": 34.41678192715537, "repeat_customers": 2845,
                           "repeat_pct": 65.58321807284463, "repeat_revenue_pct": 93.08401391071594},
    "revenue_contribution": {"top_20pct_share": 0.7461713718676612, "gini": 0.7151396179369511,
                             "lorenz": {"customer_share": [0.0, 0.5, 0.8, 1.0],
                                        "revenue_share": [0.0, 0.08, 0.2538286281323388, 1.0]},
                             "deciles": [{"decile": d, "customers": 10, "revenue": 100.0 * (11 - d),
                                          "share": (11 - d) / 55} for d in range(1, 11)],
                             "by_country": [{"country": f"Country {i}", "customers": 20 - i, "revenue": 100.0 - i,
                                             "share": 0.01} for i in range(20)]},
    "frequency_distribution": [{"orders": "1", "customers": 1493, "share": 0.344}, {"orders": "10+", "customers": 391,
                                                                                      "share": 0.09}],
    "seasonality": {"monthly": [{"month": "2011-01", "revenue": 10.0, "orders": 2, "customers": 1}],
                    "weekday_hour": {"weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
                                     "hours": list(range(24)), "orders": [[d * 100 + h for h in range(24)]
                                                                          for d in range(7)]}},
    "cohorts": {"cohorts": ["2011-01", "2011-02"], "periods": [0, 1], "customers": [10, 4],
                "retention": [[1.0, 0.3], [1.0, None]]},
    "unavailable": [],
}

FREQ_REASON = ("The file has one row per customer and no orders or order dates, so purchase frequency cannot be "
               "computed.")
CUSTOMERS_DESCRIBE = {
    "dataset": {"file": "ecommerce_customer_behavior.csv", "shape": "customers"},
    "quality": None, "as_of": None,
    "summary": {"customers": 350, "orders": None, "revenue": 295883.6, "average_order_value": None,
                "average_purchase_value_per_customer": 845.3817142857142},
    "frequency_distribution": None, "one_time_vs_repeat": None, "seasonality": None, "cohorts": None,
    "revenue_contribution": {"by_country": None, "top_20pct_share": 0.3346795834578194, "gini": 0.238,
                             "lorenz": {"customer_share": [0.0, 1.0], "revenue_share": [0.0, 1.0]}, "deciles": []},
    "unavailable": [
        {"analysis": "frequency_distribution", "reason": FREQ_REASON},
        {"analysis": "one_time_vs_repeat", "reason": "No orders, so no repeat rate."},
        {"analysis": "seasonality", "reason": "No order dates, so no seasonality."},
        {"analysis": "cohorts", "reason": "No order dates, so no cohorts."},
        {"analysis": "average_order_value", "reason": "No orders, so no average order value."},
        {"analysis": "by_country", "reason": "The file has no country column."},
    ],
}


def hand_sweep(knee=4, recommended=3, with_best=True) -> dict:
    points = [
        {"k": 2, "inertia": 6478.7, "silhouette": 0.43, "calinski_harabasz": 4373.9, "davies_bouldin": 0.89,
         "stability": 1.0},
        {"k": 3, "inertia": 4868.1, "silhouette": 0.45, "calinski_harabasz": 3626.9, "davies_bouldin": 1.04,
         "stability": 0.96},
        {"k": 4, "inertia": 3941.7, "silhouette": 0.34, "calinski_harabasz": 3325.1, "davies_bouldin": 0.81,
         "stability": 0.90},
        {"k": 5, "inertia": 3300.0, "silhouette": 0.31, "calinski_harabasz": 3190.0, "davies_bouldin": 0.98,
         "stability": 0.75},
    ]
    rec = {"k": recommended, "knee_k": knee, "reason": f"k={recommended} is recommended."}
    if with_best:
        rec.update(best_silhouette_k=3, best_davies_bouldin_k=4, best_calinski_harabasz_k=2, most_stable_k=2)
    return {"points": list(reversed(points)), "recommendation": rec}


@pytest.fixture(scope="module")
def demo_results():
    """Results of the analysis core on a small demo data set: (segments dict, membership with pc1/pc2)."""
    from analysis import pipeline
    from analysis.projection import project_2d

    prepared = pipeline.prepare(pipeline.demo_dataset(rows=30_000))
    fs = pipeline.feature_set(prepared)
    seg = pipeline.segment(fs, 4, prepared=prepared)
    coords, explained = project_2d(fs.matrix.values)
    segments = {"features": fs.matrix.to_dict(), "projection_explained": explained, "dataset_name": "demo",
                **seg.to_dict()}
    return segments, seg.membership.join(coords)


# ---- palette and names ----------------------------------------------------------------------------------------


def test_palette_is_fixed_by_segment_number():
    seg = hand_segments()
    shuffled = copy.deepcopy(seg)
    shuffled["profiles"]["segments"].reverse()
    assert F.segment_palette(seg) == F.segment_palette(seg) == F.segment_palette(shuffled)
    assert F.segment_palette(seg) == {0: F.PALETTE[0], 1: F.PALETTE[1], 2: F.PALETTE[2]}
    assert len(set(F.PALETTE)) == len(F.PALETTE) >= 12
    # the same number has the same colour whatever else is in the result
    assert F.segment_palette({"k": 6})[2] == F.segment_palette(seg)[2]
    assert F.segment_color(len(F.PALETTE) + 1) == F.PALETTE[1]


def test_segment_names_come_from_profiles_in_number_order():
    assert F.segment_names(hand_segments()) == {0: "Lapsed", 1: "Regulars", 2: "Big <b>spenders</b>"}
    only_names = {"profiles": {"names": {"1": "B", "0": "A"}}}
    assert F.segment_names(only_names) == {0: "A", 1: "B"}
    dup = {"profiles": {"names": {"0": "Same", "1": "Same"}}}
    assert F.segment_names(dup) == {0: "Same", 1: "Same (1)"}
    assert F.segment_names({"k": 2}) == {0: "Segment 0", 1: "Segment 1"}


def test_segment_two_looks_the_same_on_every_chart():
    seg, mem = hand_segments(), hand_membership()
    label = html.escape("Big <b>spenders</b>", quote=False)
    charts = [
        F.segment_scatter(mem, seg),
        F.scatter_3d_rfm(mem, seg),
        F.segment_bars(seg, "size"),
        F.segment_bars(seg, "revenue_share"),
        F.segment_bars(seg, "avg_purchase_value"),
        F.distribution_by_segment(mem, seg, "monetary"),
    ]
    for fig in charts:
        trace = segment_trace(fig, 2)
        color = trace.marker.color
        assert color == F.PALETTE[2] == "#E15759"
        assert trace.name == label
        assert segment_trace(fig, 0).marker.color == F.PALETTE[0]
        # order by segment number everywhere
        order = [t.legendgroup for t in fig.data if (t.legendgroup or "").startswith("segment-")]
        assert order == ["segment-0", "segment-1", "segment-2"]


def test_consistent_colours_on_analysis_results(demo_results):
    segments, membership = demo_results
    names = F.segment_names(segments)
    assert len(names) == 4
    assert names == {int(k): v for k, v in segments["profiles"]["names"].items()}
    for n in names:
        for fig in (F.segment_scatter(membership, segments), F.segment_bars(segments, "frequency"),
                    F.distribution_by_segment(membership, segments, "frequency")):
            trace = segment_trace(fig, n)
            assert trace.marker.color == F.PALETTE[n]
            assert trace.name == html.escape(names[n], quote=False)


# ---- overview -------------------------------------------------------------------------------------------------


def test_kpis_for_the_published_retail_figures():
    cards = {c["label"]: c for c in F.kpis(RETAIL_DESCRIBE)}
    assert [c["label"] for c in F.kpis(RETAIL_DESCRIBE)] == [
        "Customers", "Orders", "Revenue", "Average order value", "Average purchase value per customer",
        "One-time vs repeat customers"]
    assert cards["Customers"]["value"] == "4,338"
    assert cards["Customers"]["detail"] == "From 2010-12-01 to 2011-12-09"
    assert cards["Orders"]["value"] == "18,532"
    assert cards["Orders"]["detail"] == "4.27 per customer on average (median 2)"
    assert cards["Revenue"]["value"] == "8,911,407.90"
    assert cards["Revenue"]["detail"] == "After cleaning (raw data: 9,747,747.93)"
    assert cards["Average order value"]["value"] == "480.87"
    assert cards["Average purchase value per customer"]["value"] == "2,054.27"
    assert cards["One-time vs repeat customers"]["value"] == "34.4 % / 65.6 %"
    assert cards["One-time vs repeat customers"]["detail"] == (
        "1,493 one-time and 2,845 repeat customers; repeat customers bring 93.1 % of revenue")


def test_kpis_unavailable_say_why():
    cards = {c["label"]: c for c in F.kpis(CUSTOMERS_DESCRIBE)}
    assert cards["Customers"]["value"] == "350"
    assert cards["Revenue"]["value"] == "295,883.60"
    assert cards["Average purchase value per customer"]["value"] == "845.38"
    assert cards["Average order value"] == {"label": "Average order value", "value": "n/a",
                                            "detail": "No orders, so no average order value."}
    assert cards["One-time vs repeat customers"]["value"] == "n/a"
    assert cards["One-time vs repeat customers"]["detail"] == "No orders, so no repeat rate."
    assert cards["Orders"]["value"] == "n/a"
    assert cards["Orders"]["detail"] == FREQ_REASON
    # nothing at all: still six cards, no exception
    assert [c["value"] for c in F.kpis(None)] == ["n/a"] * 6


def test_lorenz_annotates_top_20_share_and_has_the_diagonal():
    fig = F.lorenz_curve(RETAIL_DESCRIBE)
    texts = annotation_texts(fig)
    assert texts == ["Top 20 % of customers bring 74.6 % of revenue"]
    ann = fig.layout.annotations[0]
    assert ann.x == 80 and ann.y == pytest.approx(100 - 74.61713718676612)
    diagonal = fig.data[0]
    assert list(diagonal.x) == [0, 100] and list(diagonal.y) == [0, 100]
    assert list(fig.data[1].y) == pytest.approx([0.0, 8.0, 25.38286281323388, 100.0])
    assert "Gini 0.72" in fig.layout.title.text


def test_overview_charts_carry_the_data():
    hist = F.frequency_histogram(RETAIL_DESCRIBE)
    assert list(hist.data[0].x) == ["1", "10+"] and list(hist.data[0].y) == [1493, 391]
    assert hist.data[0].text[0] == "1,493<br>34.4 %"

    deciles = F.revenue_deciles(RETAIL_DESCRIBE)
    assert list(deciles.data[0].x) == [str(d) for d in range(1, 11)]
    assert deciles.data[0].y[0] == pytest.approx(100 * 10 / 55)

    trend = F.monthly_trend(RETAIL_DESCRIBE)
    assert [t.type for t in trend.data] == ["bar", "scatter"]
    assert trend.data[1].yaxis == "y2"  # orders on the second axis

    heat = F.weekday_hour_heatmap(RETAIL_DESCRIBE)
    assert list(heat.data[0].y) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert list(heat.data[0].x) == list(range(24))
    assert heat.data[0].z[6][23] == 623

    cohort = F.cohort_heatmap(RETAIL_DESCRIBE)
    assert cohort.data[0].z[0] == (100.0, 30.0) or list(cohort.data[0].z[0]) == [100.0, 30.0]
    assert [list(r) for r in cohort.data[0].text] == [["100", "30"], ["100", ""]]
    assert list(cohort.data[0].y) == ["2011-01 (10)", "2011-02 (4)"]


def test_revenue_by_country_keeps_top_15_and_sums_the_rest():
    fig = F.revenue_by_country(RETAIL_DESCRIBE)
    bar = fig.data[0]
    assert len(bar.y) == 16
    assert list(bar.y[:2]) == ["Country 0", "Country 1"]
    assert bar.y[-1] == "Other countries (5)"
    assert bar.x[-1] == pytest.approx(sum(100.0 - i for i in range(15, 20)))


def test_quality_bridge_walks_from_raw_to_clean_revenue():
    fig = F.quality_bridge(RETAIL_DESCRIBE)
    w = fig.data[0]
    assert list(w.measure) == ["absolute", "relative", "relative", "relative", "total"]
    assert w.y[0] == 9747747.93
    assert w.y[1] == pytest.approx(8300065.81 - 9747747.93)
    assert w.y[0] + sum(w.y[1:4]) == pytest.approx(w.y[-1]) and w.y[-1] == 8911407.9
    assert w.text[2] == "+611,342.09"
    assert "135,080 rows removed" in w.customdata[1]


@pytest.mark.parametrize(
    "builder, expected",
    [
        (F.frequency_histogram, FREQ_REASON),
        (F.monthly_trend, "No order dates, so no seasonality."),
        (F.weekday_hour_heatmap, "No order dates, so no seasonality."),
        (F.cohort_heatmap, "No order dates, so no cohorts."),
        (F.revenue_by_country, "The file has no country column."),
        (F.quality_bridge, "one row per customer"),
        (F.revenue_deciles, "not available"),
    ],
)
def test_unavailable_overview_charts_show_the_reason(builder, expected):
    fig = builder(CUSTOMERS_DESCRIBE)
    assert len(fig.data) == 0
    texts = annotation_texts(fig)
    assert len(texts) == 1 and expected in texts[0]
    assert fig.layout.meta["unavailable"] == texts[0]


ALL_BUILDERS = [
    F.frequency_histogram, F.lorenz_curve, F.revenue_deciles, F.monthly_trend, F.weekday_hour_heatmap,
    F.cohort_heatmap, F.revenue_by_country, F.quality_bridge, F.elbow_chart, F.sweep_panel,
    lambda d: F.metric_chart(d, "silhouette"), F.profile_heatmap, F.crosstab_heatmap,
    lambda d: F.segment_bars(d, "size"), lambda d: F.segment_scatter(None, d),
    lambda d: F.scatter_3d_rfm(None, d), lambda d: F.distribution_by_segment(None, d, "monetary"),
]


@pytest.mark.parametrize("builder", ALL_BUILDERS)
@pytest.mark.parametrize("data", [None, {}, {"unavailable": None, "profiles": None, "points": None}])
def test_builders_never_raise_on_missing_data(builder, data):
    fig = builder(data)
    assert isinstance(fig, go.Figure)
    assert len(fig.data) == 0 and len(annotation_texts(fig)[0]) > 10


# ---- sweep ----------------------------------------------------------------------------------------------------


def test_elbow_marks_the_knee_and_the_recommended_k():
    fig = F.elbow_chart(hand_sweep(knee=4, recommended=3))
    line = fig.data[0]
    assert list(line.x) == [2, 3, 4, 5]  # sorted although the points came reversed
    knee = [a for a in fig.layout.annotations if "elbow" in a.text]
    assert len(knee) == 1 and knee[0].text == "elbow (knee) at k=4"
    assert knee[0].x == 4 and knee[0].y == 3941.7
    star = [t for t in fig.data if t.marker.symbol == "star"]
    assert len(star) == 1 and list(star[0].x) == [3] and list(star[0].y) == [4868.1]
    assert star[0].name == "Recommended k=3"


def test_elbow_without_knee_says_so():
    fig = F.elbow_chart(hand_sweep(knee=None, recommended=2))
    assert "no clear elbow" in annotation_texts(fig)
    assert not any("elbow (knee)" in t for t in annotation_texts(fig))


@pytest.mark.parametrize("metric, best, words", [
    ("silhouette", 3, "higher is better"),
    ("calinski_harabasz", 2, "higher is better"),
    ("davies_bouldin", 4, "lower is better"),
    ("stability", 2, "higher is better"),
])
def test_metric_chart_marks_best_k(metric, best, words):
    for with_best in (True, False):  # from the recommendation, or worked out from the points
        fig = F.metric_chart(hand_sweep(with_best=with_best), metric)
        assert words in fig.layout.title.text and fig.layout.yaxis.title.text == words
        assert f"best k={best}" in annotation_texts(fig)
        marked = [t for t in fig.data if t.marker.symbol == "diamond"]
        assert len(marked) == 1 and list(marked[0].x) == [best]


def test_metric_chart_unknown_metric_is_an_annotated_figure():
    fig = F.metric_chart(hand_sweep(), "accuracy")
    assert "Unknown metric 'accuracy'" in annotation_texts(fig)[0]


def test_sweep_panel_has_all_five_panels():
    fig = F.sweep_panel(hand_sweep())
    titles = annotation_texts(fig)
    for expected in ("Inertia (elbow)", "Silhouette score (higher is better)", "Davies-Bouldin index (lower is better)",
                     "Stability (mean adjusted Rand index) (higher is better)",
                     "Calinski-Harabasz score (higher is better)", "elbow (knee) at k=4"):
        assert expected in titles
    assert fig.layout.title.text == "k-sweep: recommended k=3"
    assert {t.xaxis for t in fig.data} == {"x", "x2", "x3", "x4", "x5"}


# ---- insights -------------------------------------------------------------------------------------------------


def test_stratified_sample_keeps_small_segments_and_is_deterministic():
    mem = hand_membership(sizes=(9000, 5, 300, 2000), seed=1)
    a = F.stratified_sample(mem, 1000, floor=200)
    b = F.stratified_sample(mem.copy(), 1000, floor=200)
    assert a.index.equals(b.index)
    assert len(a) == 1000
    counts = a["segment"].value_counts().to_dict()
    assert counts[1] == 5  # every member of the tiny segment
    assert counts[2] >= 200 and counts[0] >= 200 and counts[3] >= 200
    assert counts[0] > counts[3] > counts[2]  # the rest in proportion to size
    assert a.index.is_unique and a.index.isin(mem.index).all()
    # order of the input is kept; a small table is returned whole
    assert list(a.index) == [i for i in mem.index if i in set(a.index)]
    assert F.stratified_sample(mem.iloc[:500], 1000).index.equals(mem.iloc[:500].index)
    # more segments than the floor allows: each still gets max_points // k
    many = pd.DataFrame({"segment": np.repeat(np.arange(10), 100)})
    assert F.stratified_sample(many, 50, floor=200)["segment"].value_counts().to_dict() == {i: 5 for i in range(10)}


def test_scatter_samples_but_keeps_every_segment(demo_results):
    segments, membership = demo_results
    fig = F.segment_scatter(membership, segments, max_points=300)
    sizes = membership["segment"].value_counts()
    shown = {t.meta["segment"]: len(t.x) for t in fig.data}
    assert sum(shown.values()) == 300
    assert set(shown) == set(sizes.index)
    for n, count in shown.items():
        assert count >= min(sizes[n], 300 // len(sizes))
    assert "sample of 300 of" in fig.layout.title.text
    again = F.segment_scatter(membership, segments, max_points=300)
    assert [list(t.customdata) for t in again.data] == [list(t.customdata) for t in fig.data]


def test_scatter_axis_titles_show_explained_variance():
    fig = F.segment_scatter(hand_membership(), hand_segments())
    assert fig.layout.xaxis.title.text == "PC1 (75.2 % of variance)"
    assert fig.layout.yaxis.title.text == "PC2 (18.7 % of variance)"
    other = F.segment_scatter(hand_membership(), hand_segments(), x="monetary", y="frequency")
    assert other.layout.xaxis.title.text == "monetary"
    assert sum(len(t.x) for t in other.data) == 100


def test_3d_rfm_uses_log_axes_and_explains_missing_columns():
    fig = F.scatter_3d_rfm(hand_membership(), hand_segments())
    assert fig.layout.scene.yaxis.type == "log" and fig.layout.scene.zaxis.type == "log"
    assert fig.layout.scene.xaxis.type != "log"
    assert sum(len(t.x) for t in fig.data) == 100
    customers = pd.DataFrame({"segment": [0, 1], "Total_Spend": [1.0, 2.0], "Items_Purchased": [3.0, 4.0]})
    empty = F.scatter_3d_rfm(customers, {"k": 2})
    text = annotation_texts(empty)[0]
    assert "recency_days, frequency and monetary" in text and "Total_Spend, Items_Purchased" in text


def test_segment_bars_values():
    seg = hand_segments()
    size = F.segment_bars(seg, "size")
    assert [t.x[0] for t in size.data] == [60, 30, 10]
    assert segment_trace(size, 0).text[0] == "60 (60.0 %)"
    revenue = F.segment_bars(seg, "revenue_share")
    assert segment_trace(revenue, 2).x[0] == pytest.approx(60.0)
    customers_marker = [t for t in revenue.data if t.type == "scatter"][0]
    assert list(customers_marker.x) == pytest.approx([60.0, 30.0, 10.0])
    assert segment_trace(F.segment_bars(seg, "avg_purchase_value"), 1).text[0] == "9.30"
    assert segment_trace(F.segment_bars(seg, "frequency"), 2).x[0] == 9.0


def test_segment_bars_for_customer_level_segments():
    seg = {"profiles": {"features": ["Total_Spend", "Items_Purchased"], "monetary_col": None, "frequency_col": None,
                        "segments": [{"segment": 0, "name": "A", "size": 5, "customer_share": 0.5, "revenue": None,
                                      "revenue_share": None, "mean_Total_Spend": 748.43},
                                     {"segment": 1, "name": "B", "size": 5, "customer_share": 0.5, "revenue": None,
                                      "revenue_share": None, "mean_Total_Spend": 1165.0}]}}
    assert [t.x[0] for t in F.segment_bars(seg, "avg_purchase_value").data] == [748.43, 1165.0]
    assert "no spend column" in annotation_texts(F.segment_bars(seg, "revenue_share"))[0]
    assert "one row per customer" in annotation_texts(F.segment_bars(seg, "frequency"))[0]
    assert "Unknown segment metric" in annotation_texts(F.segment_bars(seg, "median"))[0]


def test_profile_heatmap_is_centred_and_ordered_by_segment():
    fig = F.profile_heatmap(hand_segments())
    hm = fig.data[0]
    assert hm.zmid == 0
    assert list(hm.y) == ["Lapsed", "Regulars", "Big &lt;b&gt;spenders&lt;/b&gt;"]
    assert [list(r) for r in hm.z] == [[0.9, -0.4, -0.3], [-0.2, 0.1, -0.05], [-0.8, 1.2, 2.5]]
    assert list(hm.text[2]) == ["-0.80", "+1.20", "+2.50"]
    assert hm.zmin == -2.5 and hm.zmax == 2.5


def test_distribution_uses_log_axis_only_for_skewed_positive_features():
    mem = hand_membership()
    seg = hand_segments()
    assert F.distribution_by_segment(mem, seg, "monetary").layout.xaxis.type == "log"
    assert F.distribution_by_segment(mem, seg, "pc1").layout.xaxis.type == "linear"
    box = segment_trace(F.distribution_by_segment(mem, seg, "monetary"), 1)
    values = mem.loc[mem["segment"] == 1, "monetary"]
    assert box.median[0] == pytest.approx(values.median())
    assert box.q1[0] == pytest.approx(values.quantile(0.25)) and box.q3[0] == pytest.approx(values.quantile(0.75))
    assert values.min() <= box.lowerfence[0] <= box.q1[0] and box.upperfence[0] <= values.max()
    missing = F.distribution_by_segment(mem, seg, "Items_Purchased")
    assert "no column 'Items_Purchased'" in annotation_texts(missing)[0]


def test_crosstab_heatmap_counts_and_missing_crosstab():
    fig = F.crosstab_heatmap(hand_segments())
    hm = fig.data[0]
    assert list(hm.y) == ["Champions", "Lost"]
    assert list(hm.x) == ["Lapsed", "Regulars", "Big &lt;b&gt;spenders&lt;/b&gt;"]
    assert [list(r) for r in hm.text] == [["", "10", "8"], ["60", "20", "2"]]
    assert hm.z[1][0] == 100.0 and hm.z[0][2] == 80.0  # % of the K-means segment
    empty = F.crosstab_heatmap({"rfm_crosstab": None})
    assert "RFM cross-tab needs transaction data" in annotation_texts(empty)[0]


def test_user_text_is_escaped_in_figures():
    seg = hand_segments()
    seg["profiles"]["segments"][1]["name"] = "<script>alert(1)</script>"
    fig = F.segment_bars(seg, "size")
    names = [t.name for t in fig.data]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in names
    assert not any("<script>" in n for n in names)


# ---- tables ---------------------------------------------------------------------------------------------------


def test_outlier_rows_are_formatted_and_tolerant():
    assert F.outlier_rows(hand_segments()) == [
        {"customer": "C9", "reason": "spent 250x the median", "score": "8.77", "flagged": "monetary"}]
    odd = {"outliers": [{"customer": 12, "reason": "odd"}, "not a record", {"customer_id": "X", "score": None,
                                                                          "flagged": ["a", "b"]}]}
    assert F.outlier_rows(odd) == [{"customer": "12", "reason": "odd", "score": "", "flagged": ""},
                                   {"customer": "X", "reason": "", "score": "", "flagged": "a, b"}]
    assert F.outlier_rows({"outliers": None}) == [] and F.outlier_rows(None) == []


def test_advice_cards_in_segment_order_with_colours():
    cards = F.advice_cards(hand_segments())
    assert [(c["segment"], c["name"], c["color"]) for c in cards] == [
        (0, "Lapsed", F.PALETTE[0]), (1, "Regulars", F.PALETTE[1]), (2, "Big <b>spenders</b>", F.PALETTE[2])]
    assert cards[0]["headline"] == "Lapsed: 60 customers" and cards[0]["advice"] == "Win them back."
    assert cards[1]["headline"] == "Regulars" and cards[1]["advice"] == ""  # no advice for segment 1


def test_segment_table_rows():
    columns, rows = F.segment_table_rows(hand_segments())
    assert columns == ["Segment", "Customers", "Share of customers", "Share of revenue", "Median recency_days",
                       "Median frequency", "Median monetary"]
    assert rows[0]["Segment"] == "Lapsed" and rows[0]["Customers"] == "60"
    assert rows[2]["Share of revenue"] == "60.0 %" and rows[2]["Median monetary"] == "55.00"
    assert rows[1]["Median recency_days"] == "35"


# ---- the real data (../shared/data) ---------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_retail_kpis_and_lorenz(online_retail_prepared):
    from analysis import pipeline

    describe = pipeline.describe(online_retail_prepared)
    values = {c["label"]: c["value"] for c in F.kpis(describe)}
    assert values["Customers"] == "4,338"
    assert values["Orders"] == "18,532"
    assert values["Revenue"] == "8,911,407.90"
    assert values["One-time vs repeat customers"].startswith("34.4 % / ")
    top = describe["revenue_contribution"]["top_20pct_share"]
    assert annotation_texts(F.lorenz_curve(describe)) == [
        f"Top 20 % of customers bring {top * 100:.1f} % of revenue"]
    bridge = F.quality_bridge(describe).data[0]
    assert bridge.y[-1] == pytest.approx(8911407.9, abs=0.01)
    for builder in (F.frequency_histogram, F.monthly_trend, F.weekday_hour_heatmap, F.cohort_heatmap,
                    F.revenue_by_country):
        assert len(builder(describe).data) >= 1


@pytest.mark.realdata
def test_real_customer_level_file_explains_what_is_missing(ecommerce_path):
    from analysis import pipeline

    describe = pipeline.describe(pipeline.prepare(pipeline.load_dataset(ecommerce_path)))
    reasons = {u["analysis"]: u["reason"] for u in describe["unavailable"]}
    assert annotation_texts(F.frequency_histogram(describe)) == [reasons["frequency_distribution"]]
    assert annotation_texts(F.cohort_heatmap(describe)) == [reasons["cohorts"]]
    cards = {c["label"]: c for c in F.kpis(describe)}
    assert cards["One-time vs repeat customers"]["detail"] == reasons["one_time_vs_repeat"]
    assert cards["Customers"]["value"] == "350"
