"""A self-contained HTML report of a segmentation run (pure: result dicts in, HTML text out).

The report works offline: plotly.js is inlined once (in the first chart), the other charts reuse it, and the
styling is a small inline style sheet. Every string that came from the user's data (dataset and column names,
segment names, advice, customer ids, parameters) is HTML-escaped.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from datetime import UTC, datetime

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from webapp import figures as F

__all__ = ["build_report_html"]

OUTLIER_ROWS = 100
_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #222; margin: 0;
       background: #f6f7f9; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { margin: 0 0 4px; font-size: 1.8em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.sub { color: #555; margin: 0 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f2f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; border-radius: 2px; margin-right: 6px;
          vertical-align: -1px; }
.kpis { display: flex; flex-wrap: wrap; gap: 12px; }
.kpi { border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; min-width: 160px; flex: 1 1 160px; }
.kpi .label { color: #555; font-size: 0.85em; } .kpi .value { font-size: 1.4em; font-weight: 600; }
.kpi .detail { color: #666; font-size: 0.8em; }
.card { border: 1px solid #ddd; border-left-width: 6px; border-radius: 6px; padding: 8px 14px; margin: 10px 0; }
.card h3 { margin: 4px 0; font-size: 1.05em; } .card .headline { color: #444; font-weight: 600; }
.recommend { font-size: 1.2em; } .note { color: #666; font-style: italic; }
.chart { margin: 12px 0 24px; }
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _time(value) -> str:
    """Epoch seconds or an ISO text as ``YYYY-MM-DD HH:MM UTC``; anything else as text."""
    if value in (None, ""):
        return ""
    try:
        return datetime.fromtimestamp(float(value), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError, OverflowError, OSError):
        return str(value)


def _param_text(value) -> str:
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str, ensure_ascii=False)
    return "" if value is None else str(value)


def _table(columns: list[str], rows: list[list[str]], numeric: set[str] = frozenset()) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if c in numeric else ""}>{cell}</td>' for c, cell in zip(columns, row,
                                                                                                    strict=False))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _dataset_name(job: Mapping, segments: Mapping, describe: Mapping | None) -> str:
    for value in (
        segments.get("dataset_name"),
        F._get(segments, "dataset", "name"),
        F._get(segments, "dataset", "file"),
        F._get(describe, "dataset", "file"),
        job.get("dataset_name"),
        job.get("dataset_id"),
    ):
        if value:
            return str(value)
    return "unknown dataset"


class _Charts:
    """Figures to HTML divs; plotly.js goes into the first one only."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, fig: go.Figure, note_if_unavailable: bool = True) -> str:
        reason = (fig.layout.meta or {}).get("unavailable") if isinstance(fig.layout.meta, Mapping) else None
        if reason and note_if_unavailable:
            return f'<p class="note">{_e(reason)}</p>'
        div = pio.to_html(fig, full_html=False, include_plotlyjs=self.count == 0, div_id=f"report-chart-{self.count}",
                          default_height=f"{int(fig.layout.height or 450)}px", default_width="100%",
                          config={"displaylogo": False, "responsive": True})
        self.count += 1
        return f'<div class="chart">{div}</div>'


def build_report_html(*, title: str, job: dict, segments: dict, membership: pd.DataFrame,
                      sweep: dict | None = None, describe: dict | None = None) -> str:
    """The report of one clustering run: run and parameters, recommended k (with ``sweep``), headline numbers
    (with ``describe``), the segment table, advice per segment, the main charts and the outliers."""
    job = job or {}
    segments = segments or {}
    chart = _Charts()
    parts: list[str] = []
    names = F.segment_names(segments, membership)
    n_customers = F._get(segments, "profiles", "n_customers") or (len(membership) if membership is not None else None)
    dataset = _dataset_name(job, segments, describe)

    sub = [f"Dataset: <strong>{_e(dataset)}</strong>", f"{_e(F.fmt_number(n_customers))} customers",
           f"{len(names)} segments"]
    if job.get("finished"):
        sub.append(f"run finished {_e(_time(job['finished']))}")
    parts.append(f"<h1>{_e(title)}</h1><p class=sub>{' &middot; '.join(sub)}</p>")

    # Run and parameters
    run_rows = [[_e(label), _e(value)] for label, value in (
        ("Job", job.get("id")), ("Kind", job.get("kind")), ("Status", job.get("status")),
        ("Dataset", dataset), ("Dataset id", job.get("dataset_id")), ("Created", _time(job.get("created"))),
        ("Finished", _time(job.get("finished"))), ("Number of segments (k)", segments.get("k")),
    ) if value not in (None, "")]
    params = job.get("params") or {}
    run_rows += [[_e(f"Parameter {key}"), _e(_param_text(value))] for key, value in sorted(params.items())]
    logged = F._get(segments, "features", "logged")
    if logged is not None and "log" not in params:
        run_rows.append(["Log-transformed features", _e(", ".join(map(str, logged)) or "none")])
    scaling = F._get(segments, "features", "scaling")
    if scaling and "scaling" not in params:
        run_rows.append(["Scaling", _e(scaling)])
    parts.append("<h2>Run and parameters</h2>" + _table(["Item", "Value"], run_rows))

    # Recommended k
    if sweep:
        rec = F._get(sweep, "recommendation", default={}) or {}
        parts.append("<h2>Number of segments</h2>")
        if rec.get("k") is not None:
            used = segments.get("k")
            note = "" if used in (None, rec["k"]) else f" (this run uses k = {_e(used)})"
            parts.append(f'<p class="recommend">Recommended number of segments: <strong>k = {_e(rec["k"])}</strong>'
                         f"{note}</p>")
        if rec.get("reason"):
            parts.append(f"<p>{_e(rec['reason'])}</p>")
        parts.append(chart(F.sweep_panel(sweep)))

    # Headline numbers
    if describe:
        cards = "".join(f'<div class="kpi"><div class="label">{_e(k["label"])}</div>'
                        f'<div class="value">{_e(k["value"])}</div><div class="detail">{_e(k["detail"])}</div></div>'
                        for k in F.kpis(describe))
        parts.append(f'<h2>Overview</h2><div class="kpis">{cards}</div>')

    # Segment table
    columns, rows = F.segment_table_rows(segments)
    table_rows = []
    for row in rows:
        cells = [f'<span class="swatch" style="background:{_e(row["color"])}"></span>{_e(row["Segment"])}']
        cells += [_e(row.get(c, "")) for c in columns[1:]]
        table_rows.append(cells)
    parts.append("<h2>Segments</h2>" + _table(columns, table_rows, numeric=set(columns[1:])))

    # Advice
    cards = []
    for card in F.advice_cards(segments):
        cards.append(f'<div class="card" style="border-left-color:{_e(card["color"])}">'
                     f'<h3><span class="swatch" style="background:{_e(card["color"])}"></span>{_e(card["name"])}</h3>'
                     f'<div class="headline">{_e(card["headline"])}</div><p>{_e(card["advice"])}</p></div>')
    if cards:
        parts.append("<h2>What to do with each segment</h2>" + "".join(cards))

    # Charts
    parts.append("<h2>Charts</h2>")
    parts.append(chart(F.segment_scatter(membership, segments)))
    parts.append(chart(F.segment_bars(segments, "size")))
    revenue = F.segment_bars(segments, "revenue_share")
    if isinstance(revenue.layout.meta, Mapping) and revenue.layout.meta.get("unavailable"):
        revenue = F.segment_bars(segments, "avg_purchase_value")
    parts.append(chart(revenue))
    parts.append(chart(F.profile_heatmap(segments)))
    parts.append(chart(F.crosstab_heatmap(segments)))

    # Outliers
    outliers = F.outlier_rows(segments)
    parts.append("<h2>Outliers</h2>")
    if outliers:
        shown = outliers[:OUTLIER_ROWS]
        parts.append(f"<p>{_e(F.fmt_number(len(outliers)))} unusual customers, most extreme first"
                     f"{f' (the first {len(shown)} are listed)' if len(shown) < len(outliers) else ''}.</p>")
        parts.append(_table(["Customer", "Score", "Reason"],
                            [[_e(o["customer"]), _e(o["score"]), _e(o["reason"])] for o in shown], numeric={"Score"}))
    else:
        parts.append('<p class="note">No outliers were found.</p>')

    parts.append('<p class="note">Report generated by the segmentation workbench.</p>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n<body><main>\n"
            + "\n".join(parts) + "\n</main></body></html>\n")
