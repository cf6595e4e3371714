"""The HTML report of a run and the membership CSV download."""

from __future__ import annotations

import csv
import html
import io
import re

import pandas as pd
import pytest

from webapp import figures as F
from webapp.exports import membership_csv
from webapp.report import build_report_html

EVIL = "<script>alert(1)</script>"
PLOTLY_BANNER = re.compile(r"\* plotly\.js v\d+\.\d+\.\d+")


def segments_dict(name2: str = "Big spenders", dataset: str = "shop.csv", crosstab: bool = True) -> dict:
    profiles = [
        {"segment": n, "name": name, "size": size, "customer_share": size / 100, "revenue": rev,
         "revenue_share": rev / 1000, "mean_monetary": rev / size, "median_monetary": rev / size - 1,
         "mean_frequency": freq, "median_frequency": freq, "mean_recency_days": rec, "median_recency_days": rec}
        for n, name, size, rev, freq, rec in [(0, "Lapsed", 60, 120.0, 1.0, 300.0),
                                              (1, "Regulars", 30, 280.0, 4.0, 40.0), (2, name2, 10, 600.0, 9.0, 5.0)]
    ]
    return {
        "k": 3,
        "dataset_name": dataset,
        "projection_explained": [0.8, 0.15],
        "features": {"columns": ["recency_days", "frequency", "monetary"], "logged": ["monetary"],
                     "scaling": "standard"},
        "profiles": {"features": ["recency_days", "frequency", "monetary"], "monetary_col": "monetary",
                     "frequency_col": "frequency", "n_customers": 100, "segments": profiles,
                     "names": {str(p["segment"]): p["name"] for p in profiles},
                     "standardised": {"segments": [0, 1, 2], "features": ["recency_days", "frequency", "monetary"],
                                      "values": [[0.9, -0.4, -0.3], [-0.2, 0.1, -0.05], [-0.8, 1.2, 2.5]]}},
        "advice": {str(p["segment"]): {"name": p["name"], "headline": f"{p['name']}: {p['size']} customers",
                                       "advice": f"Advice for {p['name']} & co."} for p in profiles},
        "outliers": [{"customer_id": "C7", "score": 6.25, "flagged": "monetary", "reason": "spent 40x the median"}],
        "rfm_crosstab": {"rows": ["Champions", "Lost"], "columns": [p["name"] for p in profiles],
                         "counts": [[0, 10, 8], [60, 20, 2]]} if crosstab else None,
    }


def membership(names=("Lapsed", "Regulars", "Big spenders")) -> pd.DataFrame:
    rows = []
    for n, size in enumerate((60, 30, 10)):
        for i in range(size):
            rows.append({"customer_id": f"C{n}-{i}", "segment": n, "segment_name": names[n],
                         "recency_days": 5.0 + 10 * i, "frequency": float(1 + n * 3 + i % 3),
                         "monetary": 10.0 * (n + 1) + i, "pc1": n + i / 100, "pc2": -n + i / 50})
    return pd.DataFrame(rows).set_index("customer_id")


JOB = {"id": "job-42", "kind": "cluster", "status": "done", "dataset_id": "ds-1", "created": 1764196000.0,
       "finished": 1764196100.0, "params": {"k": 3, "features": ["recency_days", "frequency", "monetary"],
                                            "scaling": "standard"}}
SWEEP = {"points": [{"k": k, "inertia": 100.0 / k, "silhouette": 0.3 + 0.01 * k, "calinski_harabasz": 10.0 * k,
                     "davies_bouldin": 1.0 - 0.01 * k, "stability": 0.9} for k in range(2, 7)],
         "recommendation": {"k": 4, "knee_k": 4, "reason": "k=4 is recommended: the elbow and the silhouette agree."}}


# ---- membership CSV -------------------------------------------------------------------------------------------


def test_membership_csv_puts_customer_id_first_and_neutralises_formulas():
    mem = pd.DataFrame(
        {"segment": [0, 1, 1], "segment_name": ["Lapsed", "@SUM(A1)", "Regulars"], "monetary": [12.5, -3.25, 0.0],
         "frequency": [1, 2, 3]},
        index=pd.Index(['=HYPERLINK("x")', "C2", "-C3"], name="customer_id"),
    )
    text = membership_csv(mem)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["customer_id", "segment", "segment_name", "monetary", "frequency"]
    assert rows[1] == ["'=HYPERLINK(\"x\")", "0", "Lapsed", "12.5", "1"]
    assert rows[2] == ["C2", "1", "'@SUM(A1)", "-3.25", "2"]  # negative numbers stay numbers
    assert rows[3][0] == "'-C3"
    assert len(rows) == 4
    assert mem.index[0] == '=HYPERLINK("x")'  # the input is not modified


def test_membership_csv_with_customer_id_column_or_unnamed_index():
    with_column = pd.DataFrame({"segment": [1], "customer_id": ["A1"], "monetary": [2.0]})
    assert membership_csv(with_column).splitlines() == ["customer_id,segment,monetary", "A1,1,2.0"]
    unnamed = pd.DataFrame({"segment": [0]}, index=pd.Index([17]))
    assert membership_csv(unnamed).splitlines() == ["customer_id,segment", "17,0"]


def test_membership_csv_of_analysis_results():
    mem = membership()
    rows = list(csv.DictReader(io.StringIO(membership_csv(mem))))
    assert len(rows) == 100
    assert rows[0]["customer_id"] == "C0-0" and rows[-1]["segment_name"] == "Big spenders"
    assert float(rows[5]["monetary"]) == mem["monetary"].iloc[5]


# ---- HTML report ----------------------------------------------------------------------------------------------


def test_report_inlines_plotly_once_and_has_the_content():
    out = build_report_html(title="Spring run", job=JOB, segments=segments_dict(), membership=membership(),
                            sweep=SWEEP)
    assert out.startswith("<!DOCTYPE html>")
    assert len(PLOTLY_BANNER.findall(out)) == 1
    assert out.count("window.PlotlyConfig") == 1
    assert "<script src" not in out and "<link" not in out  # nothing loaded from the network
    # sweep panel, scatter, size, revenue share, profile heatmap, crosstab
    assert out.count("Plotly.newPlot(") == 6
    assert "<title>Spring run</title>" in out and "<h1>Spring run</h1>" in out
    assert "Recommended number of segments: <strong>k = 4</strong> (this run uses k = 3)" in out
    assert "k=4 is recommended: the elbow and the silhouette agree." in out
    for name in ("Lapsed", "Regulars", "Big spenders"):
        assert out.count(name) >= 3  # table, advice, chart data
    assert "Advice for Regulars &amp; co." in out
    assert "shop.csv" in out and "job-42" in out and "2025-11-26 22:26 UTC" in out
    assert ("<td>Parameter features</td><td>[&quot;recency_days&quot;, &quot;frequency&quot;, &quot;monetary&quot;]"
            in out)
    # segment table: size, shares, medians
    assert "<td class=num>60</td><td class=num>60.0 %</td><td class=num>12.0 %</td>" in out
    # outliers
    assert "<td>C7</td><td class=num>6.25</td><td>spent 40x the median</td>" in out


def test_report_escapes_user_text():
    seg = segments_dict(name2=EVIL, dataset=f"shop{EVIL}.csv")
    seg["advice"]["1"]["advice"] = f"Try {EVIL}"
    seg["outliers"][0]["customer_id"] = EVIL
    job = dict(JOB, params={"note": EVIL})
    out = build_report_html(title=f"Run {EVIL}", job=job, segments=seg,
                            membership=membership(names=("Lapsed", "Regulars", EVIL)), sweep=SWEEP)
    assert EVIL not in out
    assert "alert(1)</script>" not in out
    escaped = html.escape(EVIL)
    assert f"<h1>Run {escaped}</h1>" in out
    assert f"shop{escaped}.csv" in out
    assert f"Try {escaped}" in out
    assert out.count(escaped) >= 6  # title x2, dataset x2, name in table and advice, outlier, parameter
    assert len(PLOTLY_BANNER.findall(out)) == 1


def test_report_every_segment_name_and_recommended_k_on_analysis_results():
    from analysis import pipeline
    from analysis.projection import project_2d

    prepared = pipeline.prepare(pipeline.demo_dataset(rows=20_000))
    fs = pipeline.feature_set(prepared)
    sweep = pipeline.sweep(fs, range(2, 6), n_init=3, stability_seeds=2)
    k = sweep["recommendation"]["k"]
    seg = pipeline.segment(fs, k, prepared=prepared)
    coords, explained = project_2d(fs.matrix.values)
    segments = {"projection_explained": explained, "dataset_name": "demo", **seg.to_dict()}
    out = build_report_html(title="Demo", job={"id": "j1", "params": {"k": k}}, segments=segments,
                            membership=seg.membership.join(coords), sweep=sweep)
    assert f"<strong>k = {k}</strong>" in out
    for name in F.segment_names(segments).values():
        assert html.escape(name) in out
    assert len(PLOTLY_BANNER.findall(out)) == 1
    assert out.count("Plotly.newPlot(") == 6


def test_report_for_customer_level_data_without_sweep():
    seg = segments_dict(crosstab=False)
    for p in seg["profiles"]["segments"]:
        p["revenue"] = p["revenue_share"] = None
    seg["outliers"] = []
    out = build_report_html(title="Customers", job={}, segments=seg, membership=membership())
    assert "Recommended number of segments" not in out
    assert "The RFM cross-tab needs transaction data" in out  # a note instead of an empty chart
    assert "No outliers were found." in out
    assert "Share of revenue" not in out.split("<h2>Charts</h2>")[0]  # no revenue column in the table
    assert len(PLOTLY_BANNER.findall(out)) == 1
    # scatter, size, average purchase value (instead of revenue share), profile heatmap
    assert out.count("Plotly.newPlot(") == 4


def test_report_with_describe_shows_kpis():
    describe = {"summary": {"customers": 4338, "orders": 18532, "revenue": 8911407.904}, "unavailable": []}
    out = build_report_html(title="R", job=JOB, segments=segments_dict(), membership=membership(),
                            describe=describe)
    assert '<div class="value">4,338</div>' in out
    assert '<div class="value">8,911,407.90</div>' in out


@pytest.mark.parametrize("seg", [{}, {"k": 2}])
def test_report_survives_sparse_results(seg):
    out = build_report_html(title="Sparse", job={}, segments=seg, membership=pd.DataFrame())
    assert "<h1>Sparse</h1>" in out and "No customers to show." in out
