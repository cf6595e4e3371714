"""Pure figure builders for the dashboard and the HTML report: result dicts in, ``go.Figure`` (or rows) out.

Inputs are the JSON results of the analysis core (see the README: ``describe --json``, ``sweep --json`` and
``segments.json``) and the membership table (one row per customer, index ``customer_id``; columns ``segment``,
``segment_name``, the raw features, ``rfm_segment`` for transaction data, ``pc1``/``pc2``).

Rules every builder follows:

* Nothing is computed that belongs to the analysis core (no clustering, no statistics beyond what a chart
  needs: sampling, quartiles for box plots, sums for an "other" bar).
* Never raise on missing or partial data: a chart that cannot be drawn is an empty figure carrying a visible
  annotation with the reason (the analysis core's ``unavailable`` reason when there is one).
* Segments look the same everywhere: colour by segment NUMBER from :data:`PALETTE`, the segment's name in the
  legend or on the axis, order by segment number, and ``legendgroup == "segment-<n>"`` on every per-segment
  trace (so a page can find and link them).
* Text that came from the user's data (names, columns, countries, customer ids) is HTML-escaped before it
  reaches plotly, which renders a subset of HTML in labels; plotly.js turns the entities back into characters,
  so ``<b>`` is shown as written instead of being interpreted.
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.sampling import stratified_sample

__all__ = [
    "PALETTE",
    "advice_cards",
    "cohort_heatmap",
    "crosstab_heatmap",
    "distribution_by_segment",
    "elbow_chart",
    "empty_figure",
    "fmt_money",
    "fmt_number",
    "fmt_pct",
    "frequency_histogram",
    "kpis",
    "lorenz_curve",
    "metric_chart",
    "monthly_trend",
    "outlier_rows",
    "plot_text",
    "profile_heatmap",
    "quality_bridge",
    "revenue_by_country",
    "revenue_deciles",
    "scatter_3d_rfm",
    "segment_bars",
    "segment_color",
    "segment_label",
    "segment_names",
    "segment_numbers",
    "segment_palette",
    "segment_scatter",
    "segment_table_rows",
    "stratified_sample",
    "sweep_panel",
    "weekday_hour_heatmap",
]

# One fixed qualitative palette (Tableau 10, then its light variants): segment n is PALETTE[n % len(PALETTE)].
PALETTE: tuple[str, ...] = (
    "#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F",
    "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F", "#BAB0AC",
    "#A0CBE8", "#FFBE7D", "#FF9D9A", "#86BCB6", "#8CD17D",
    "#F1CE63", "#D4A6C8", "#FABFD2", "#D7B5A6", "#79706E",
)
NEUTRAL = "#555555"
TEMPLATE = "plotly_white"
# Every segment keeps at least this many points in a sampled scatter (all of them when it is smaller).
TOP_COUNTRIES = 15
STABLE_ARI = 0.8  # the analysis core's stability threshold (README: mean adjusted Rand index >= 0.8)

METRICS: dict[str, tuple[str, bool]] = {  # metric -> (title, higher is better)
    "silhouette": ("Silhouette score", True),
    "calinski_harabasz": ("Calinski-Harabasz score", True),
    "davies_bouldin": ("Davies-Bouldin index", False),
    "stability": ("Stability (mean adjusted Rand index)", True),
}
_BEST_KEY = {
    "silhouette": "best_silhouette_k",
    "calinski_harabasz": "best_calinski_harabasz_k",
    "davies_bouldin": "best_davies_bouldin_k",
    "stability": "most_stable_k",
}
_SPEND_WORDS = ("monetary", "spend", "revenue", "amount", "sales", "value")
_RFM_COLUMNS = ("recency_days", "frequency", "monetary")


# ---- formatting -----------------------------------------------------------------------------------------------

def _number(value) -> float | None:
    """``value`` as a finite float, or None (None, NaN, inf, text that is not a number)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def fmt_number(value, decimals: int | None = None) -> str:
    """``4338 -> "4,338"``, ``2.5 -> "2.50"``; ``decimals`` None: no decimals for whole numbers, else 2."""
    x = _number(value)
    if x is None:
        return "n/a"
    if decimals is None:
        decimals = 0 if float(x).is_integer() else 2
    return f"{x:,.{decimals}f}"


def fmt_money(value) -> str:
    """Money in the file's currency, two decimals: ``8911407.904 -> "8,911,407.90"``."""
    return fmt_number(value, 2)


def fmt_pct(value, decimals: int = 1, *, fraction: bool = False) -> str:
    """A percentage: ``34.4167 -> "34.4 %"``; ``fraction=True`` takes 0-1 (``0.746 -> "74.6 %"``)."""
    x = _number(value)
    if x is None:
        return "n/a"
    return f"{x * 100 if fraction else x:.{decimals}f} %"


def plot_text(value) -> str:
    """Text from the data made safe for plotly labels (which render a subset of HTML)."""
    return html.escape("" if value is None else str(value), quote=False)


def _wrap(text: str, width: int = 70) -> str:
    """Escaped text broken into plotly lines (``<br>``)."""
    return "<br>".join(plot_text(line) for line in textwrap.wrap(str(text), width) or [""])


# ---- empty / unavailable --------------------------------------------------------------------------------------

def empty_figure(reason: str, title: str | None = None) -> go.Figure:
    """A figure with no data and ``reason`` written in its middle (what every builder returns instead of raising)."""
    fig = go.Figure()
    fig.add_annotation(text=_wrap(reason), x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font={"size": 14, "color": NEUTRAL}, align="center")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    _layout(fig, title, height=320)
    fig.update_layout(meta={"unavailable": str(reason)})
    return fig


def _unavailable_reason(describe: Mapping | None, *analyses: str, default: str) -> str:
    """The analysis core's reason why one of ``analyses`` is missing, else ``default``."""
    entries = [e for e in (describe or {}).get("unavailable") or [] if isinstance(e, Mapping) and e.get("reason")]
    for analysis in analyses:  # the first named analysis that has a reason wins
        for entry in entries:
            if entry.get("analysis") == analysis:
                return str(entry["reason"])
    return default


def _layout(fig: go.Figure, title: str | None, *, height: int = 420, **extra) -> go.Figure:
    fig.update_layout(template=TEMPLATE, height=height, margin={"l": 60, "r": 30, "t": 60 if title else 30, "b": 50},
                      title={"text": title or "", "x": 0.01, "xanchor": "left"}, **extra)
    return fig


def _get(mapping, *keys, default=None):
    """Nested lookup that tolerates missing keys and None on the way."""
    current = mapping
    for key in keys:
        if not isinstance(current, Mapping):
            return default
        current = current.get(key)
        if current is None:
            return default
    return current


# ---- segments: numbers, names, colours ------------------------------------------------------------------------

def _as_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def segment_numbers(segments: Mapping | None, membership: pd.DataFrame | None = None) -> list[int]:
    """Segment numbers in ascending order: from the profiles (or names / advice / ``k``), plus any number that
    only the membership table has."""
    segments = segments or {}
    profiles = segments.get("profiles") or {}
    found: set[int] = set()
    for row in profiles.get("segments") or []:
        n = _as_int(row.get("segment")) if isinstance(row, Mapping) else None
        if n is not None:
            found.add(n)
    for source in (profiles.get("names"), segments.get("advice")):
        if not found and isinstance(source, Mapping):
            found.update(n for n in (_as_int(k) for k in source) if n is not None)
    if not found and _as_int(segments.get("k")):
        found.update(range(_as_int(segments.get("k"))))
    if membership is not None and "segment" in getattr(membership, "columns", ()):
        found.update(int(n) for n in pd.unique(membership["segment"].dropna()))
    return sorted(found)


def segment_palette(segments: Mapping | None, membership: pd.DataFrame | None = None) -> dict[int, str]:
    """Colour per segment number; segment ``n`` is always ``PALETTE[n % len(PALETTE)]``."""
    return {n: segment_color(n) for n in segment_numbers(segments, membership)}


def segment_color(number: int) -> str:
    return PALETTE[int(number) % len(PALETTE)]


def segment_names(segments: Mapping | None, membership: pd.DataFrame | None = None) -> dict[int, str]:
    """Name per segment number (profile names; "Segment n" when a segment has none). Names are made unique by
    appending " (n)" so that charts with names on an axis never merge two segments."""
    segments = segments or {}
    profiles = segments.get("profiles") or {}
    by_number: dict[int, str] = {}
    for row in profiles.get("segments") or []:
        if isinstance(row, Mapping) and _as_int(row.get("segment")) is not None and row.get("name"):
            by_number[_as_int(row["segment"])] = str(row["name"])
    for source in (profiles.get("names"), segments.get("advice")):
        for key, value in (source or {}).items() if isinstance(source, Mapping) else ():
            name = value.get("name") if isinstance(value, Mapping) else value
            if _as_int(key) is not None and name and _as_int(key) not in by_number:
                by_number[_as_int(key)] = str(name)
    if membership is not None and {"segment", "segment_name"} <= set(getattr(membership, "columns", ())):
        pairs = membership[["segment", "segment_name"]].dropna().drop_duplicates("segment")
        for n, name in zip(pairs["segment"], pairs["segment_name"], strict=True):
            by_number.setdefault(int(n), str(name))
    out: dict[int, str] = {}
    for n in segment_numbers(segments, membership):
        name = by_number.get(n) or f"Segment {n}"
        out[n] = f"{name} ({n})" if name in out.values() else name
    return out


def segment_label(segments: Mapping | None, number: int, membership: pd.DataFrame | None = None) -> str:
    """The segment's name as it appears in plotly figures (escaped)."""
    return plot_text(segment_names(segments, membership).get(int(number), f"Segment {number}"))


def _labels(segments, membership=None) -> dict[int, str]:
    return {n: plot_text(name) for n, name in segment_names(segments, membership).items()}


def _profile_rows(segments: Mapping | None) -> dict[int, Mapping]:
    rows = _get(segments, "profiles", "segments", default=[]) or []
    out = {}
    for row in rows:
        n = _as_int(row.get("segment")) if isinstance(row, Mapping) else None
        if n is not None:
            out[n] = row
    return out


def _spend_column(segments: Mapping | None) -> str | None:
    """The spend column of the profiles: ``monetary_col``, else the first feature whose name says spend."""
    profiles = _get(segments, "profiles", default={}) or {}
    if profiles.get("monetary_col"):
        return str(profiles["monetary_col"])
    for feature in profiles.get("features") or []:
        if any(word in str(feature).lower() for word in _SPEND_WORDS):
            return str(feature)
    return None


def _segment_trace_common(n: int, label: str) -> dict:
    return {"name": label, "legendgroup": f"segment-{n}", "meta": {"segment": n}}


def _wrapped_ticks(labels: Iterable[str], width: int = 22) -> list[str]:
    """Already-escaped labels broken into lines (``<br>``) for crowded category axes."""
    out = []
    for label in labels:
        parts = textwrap.wrap(html.unescape(label), width)
        out.append("<br>".join(plot_text(part) for part in parts) if parts else label)
    return out


# ---- overview (describe) --------------------------------------------------------------------------------------

def kpis(describe: Mapping | None) -> list[dict]:
    """Headline numbers: ``label``, ``value`` (formatted text, "n/a" when unavailable) and ``detail`` (context,
    or the reason it is unavailable)."""
    describe = describe or {}
    s = describe.get("summary") or {}
    otr = describe.get("one_time_vs_repeat") or {}
    quality = describe.get("quality") or {}

    def card(label, value, detail, *reasons, default="Not available for this data."):
        if value is None:
            return {"label": label, "value": "n/a", "detail": _unavailable_reason(describe, *reasons, default=default)}
        return {"label": label, "value": value, "detail": detail}

    first, last = str(s.get("first_date") or "")[:10], str(s.get("last_date") or "")[:10]
    customers = _number(s.get("customers"))
    orders = _number(s.get("orders"))
    revenue = _number(s.get("revenue"))
    aov = _number(s.get("average_order_value"))
    apv = _number(s.get("average_purchase_value_per_customer"))
    raw_revenue = _number(quality.get("raw_revenue"))

    orders_detail = "Distinct orders after cleaning"
    if _number(s.get("mean_orders_per_customer")) is not None:
        orders_detail = (f"{fmt_number(s['mean_orders_per_customer'], 2)} per customer on average"
                         f" (median {fmt_number(s.get('median_orders_per_customer'))})")
    repeat_value = repeat_detail = None
    if _number(otr.get("one_time_pct")) is not None and _number(otr.get("repeat_pct")) is not None:
        repeat_value = f"{fmt_pct(otr['one_time_pct'])} / {fmt_pct(otr['repeat_pct'])}"
        repeat_detail = (f"{fmt_number(otr.get('one_time_customers'))} one-time and "
                         f"{fmt_number(otr.get('repeat_customers'))} repeat customers")
        if _number(otr.get("repeat_revenue_pct")) is not None:
            repeat_detail += f"; repeat customers bring {fmt_pct(otr['repeat_revenue_pct'])} of revenue"
    return [
        card("Customers", None if customers is None else fmt_number(customers),
             f"From {first} to {last}" if first and last else "Customers in the file", "customers"),
        card("Orders", None if orders is None else fmt_number(orders), orders_detail, "orders",
             "frequency_distribution", "average_order_value"),
        card("Revenue", None if revenue is None else fmt_money(revenue),
             f"After cleaning (raw data: {fmt_money(raw_revenue)})" if raw_revenue is not None else "Total spend",
             "revenue"),
        card("Average order value", None if aov is None else fmt_money(aov), "Revenue / orders",
             "average_order_value"),
        card("Average purchase value per customer", None if apv is None else fmt_money(apv), "Revenue / customers",
             "average_purchase_value_per_customer"),
        card("One-time vs repeat customers", repeat_value, repeat_detail, "one_time_vs_repeat"),
    ]


def frequency_histogram(describe: Mapping | None) -> go.Figure:
    """Customers by number of orders ("1" ... "10+")."""
    title = "Customers by number of orders"
    rows = (describe or {}).get("frequency_distribution")
    if not rows:
        return empty_figure(_unavailable_reason(describe, "frequency_distribution",
                                                default="The order-frequency distribution is not available."), title)
    x = [str(r.get("orders")) for r in rows]
    y = [_number(r.get("customers")) or 0 for r in rows]
    text = [f"{fmt_number(c)}<br>{fmt_pct(r.get('share'), fraction=True)}" for c, r in zip(y, rows, strict=True)]
    fig = go.Figure(go.Bar(x=x, y=y, text=text, textposition="outside", marker_color=PALETTE[0], cliponaxis=False,
                           hovertemplate="%{x} orders: %{y:,} customers<extra></extra>"))
    fig.update_xaxes(title="Orders per customer", type="category")
    fig.update_yaxes(title="Customers")
    return _layout(fig, title)


def lorenz_curve(describe: Mapping | None) -> go.Figure:
    """Cumulative revenue share against cumulative customer share (smallest spenders first), the equality line,
    and the share of revenue from the top 20 % of customers annotated."""
    title = "Revenue concentration (Lorenz curve)"
    rc = (describe or {}).get("revenue_contribution") or {}
    lorenz = rc.get("lorenz") or {}
    xs, ys = lorenz.get("customer_share") or [], lorenz.get("revenue_share") or []
    if not xs or len(xs) != len(ys):
        return empty_figure(_unavailable_reason(describe, "lorenz", "revenue_contribution",
                                                default="The revenue concentration is not available."), title)
    x = [(_number(v) or 0.0) * 100 for v in xs]
    y = [(_number(v) or 0.0) * 100 for v in ys]
    gini = _number(rc.get("gini"))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 100], y=[0, 100], mode="lines", name="Equal spending",
                             line={"dash": "dash", "color": "#999999"}, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name="Customers", line={"color": PALETTE[0], "width": 3},
                             fill="tonexty", fillcolor="rgba(78,121,167,0.12)",
                             hovertemplate="Bottom %{x:.0f} % of customers: %{y:.1f} % of revenue<extra></extra>"))
    top = _number(rc.get("top_20pct_share"))
    if top is not None:
        fig.add_annotation(x=80, y=100 - top * 100, ax=-60, ay=-60, showarrow=True, arrowhead=2,
                           text=f"Top 20 % of customers bring {fmt_pct(top, fraction=True)} of revenue",
                           bgcolor="white", bordercolor=NEUTRAL)
    fig.update_xaxes(title="Share of customers, smallest spenders first (%)", range=[0, 100])
    fig.update_yaxes(title="Share of revenue (%)", range=[0, 100])
    if gini is not None:
        title += f" - Gini {gini:.2f}"
    return _layout(fig, title, legend={"x": 0.02, "y": 0.98})


def revenue_deciles(describe: Mapping | None) -> go.Figure:
    """Share of revenue per customer decile (1 = the top 10 % of spenders)."""
    title = "Revenue by customer decile (1 = top spenders)"
    rows = _get(describe, "revenue_contribution", "deciles", default=None)
    if not rows:
        return empty_figure(_unavailable_reason(describe, "deciles", "revenue_contribution",
                                                default="Revenue deciles are not available."), title)
    x = [str(r.get("decile")) for r in rows]
    y = [(_number(r.get("share")) or 0.0) * 100 for r in rows]
    text = [fmt_pct(v) for v in y]
    custom = [fmt_money(r.get("revenue")) for r in rows]
    fig = go.Figure(go.Bar(x=x, y=y, text=text, textposition="outside", cliponaxis=False, marker_color=PALETTE[0],
                           customdata=custom,
                           hovertemplate="Decile %{x}: %{y:.1f} % of revenue (%{customdata})<extra></extra>"))
    fig.update_xaxes(title="Decile", type="category")
    fig.update_yaxes(title="Share of revenue (%)")
    return _layout(fig, title)


def monthly_trend(describe: Mapping | None) -> go.Figure:
    """Revenue per month (bars) and orders per month (line, right axis)."""
    title = "Revenue and orders per month"
    rows = _get(describe, "seasonality", "monthly", default=None)
    if not rows:
        return empty_figure(_unavailable_reason(describe, "seasonality", "monthly",
                                                default="Monthly figures are not available."), title)
    months = [str(r.get("month")) for r in rows]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=months, y=[_number(r.get("revenue")) for r in rows], name="Revenue",
                         marker_color=PALETTE[0], hovertemplate="%{x}: revenue %{y:,.2f}<extra></extra>"),
                  secondary_y=False)
    fig.add_trace(go.Scatter(x=months, y=[_number(r.get("orders")) for r in rows], name="Orders",
                             mode="lines+markers", line={"color": PALETTE[1], "width": 3},
                             hovertemplate="%{x}: %{y:,} orders<extra></extra>"), secondary_y=True)
    fig.update_xaxes(title="Month", type="category")
    fig.update_yaxes(title_text="Revenue", secondary_y=False)
    fig.update_yaxes(title_text="Orders", secondary_y=True, showgrid=False, rangemode="tozero", tickmode="auto")
    fig.update_yaxes(rangemode="tozero", secondary_y=False)
    _layout(fig, title, legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"})
    fig.update_layout(margin={"t": 80})
    return fig


def weekday_hour_heatmap(describe: Mapping | None) -> go.Figure:
    """Orders by weekday (rows, Mon at the top) and hour of day (columns 0-23)."""
    title = "Orders by weekday and hour"
    wh = _get(describe, "seasonality", "weekday_hour", default=None)
    z = (wh or {}).get("orders")
    if not z:
        return empty_figure(_unavailable_reason(describe, "seasonality", "weekday_hour",
                                                default="Weekday and hour patterns are not available."), title)
    weekdays = wh.get("weekdays") or ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][: len(z)]
    hours = wh.get("hours") or list(range(len(z[0])))
    fig = go.Figure(go.Heatmap(z=z, x=[int(h) for h in hours], y=list(weekdays), colorscale="Blues",
                               colorbar={"title": {"text": "Orders"}},
                               hovertemplate="%{y} %{x}:00: %{z:,} orders<extra></extra>"))
    fig.update_xaxes(title="Hour of day", tickmode="linear", dtick=1, range=[-0.5, 23.5])
    fig.update_yaxes(title="", autorange="reversed", type="category")
    return _layout(fig, title, height=360)


def cohort_heatmap(describe: Mapping | None) -> go.Figure:
    """Retention (% of each first-purchase cohort active n months later), with the value in every cell."""
    title = "Cohort retention (% of customers active n months after their first purchase)"
    co = (describe or {}).get("cohorts") or {}
    retention = co.get("retention")
    if not retention:
        return empty_figure(_unavailable_reason(describe, "cohorts",
                                                default="Cohort retention is not available."), title)
    cohorts = [str(c) for c in co.get("cohorts") or range(len(retention))]
    sizes = co.get("customers") or []
    labels = [f"{c} ({fmt_number(sizes[i])})" if i < len(sizes) else c for i, c in enumerate(cohorts)]
    periods = co.get("periods") or list(range(max(len(r) for r in retention)))
    z = [[None if _number(v) is None else _number(v) * 100 for v in row] for row in retention]
    text = [["" if v is None else f"{v:.0f}" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=[str(p) for p in periods], y=labels, text=text, texttemplate="%{text}",
                               textfont={"size": 10}, colorscale="Blues", zmin=0, zmax=100, hoverongaps=False,
                               colorbar={"title": {"text": "%"}},
                               hovertemplate="Cohort %{y}, month %{x}: %{z:.1f} %<extra></extra>"))
    fig.update_xaxes(title="Months since first purchase", type="category")
    fig.update_yaxes(title="First-purchase month (customers)", autorange="reversed", type="category")
    return _layout(fig, title, height=max(360, 28 * len(labels) + 120))


def revenue_by_country(describe: Mapping | None, top: int = TOP_COUNTRIES) -> go.Figure:
    """Revenue of the ``top`` countries and one "Other countries" bar, largest first."""
    title = "Revenue by country"
    rows = _get(describe, "revenue_contribution", "by_country", default=None)
    if not rows:
        return empty_figure(_unavailable_reason(describe, "by_country",
                                                default="Revenue by country is not available."), title)
    ordered = sorted(rows, key=lambda r: _number(r.get("revenue")) or 0.0, reverse=True)
    shown = [(plot_text(r.get("country")), _number(r.get("revenue")) or 0.0, _number(r.get("share")),
              _number(r.get("customers"))) for r in ordered[:top]]
    rest = ordered[top:]
    if rest:
        shown.append((f"Other countries ({len(rest)})", sum(_number(r.get("revenue")) or 0.0 for r in rest),
                      sum(_number(r.get("share")) or 0.0 for r in rest),
                      sum(_number(r.get("customers")) or 0.0 for r in rest)))
    fig = go.Figure(go.Bar(
        x=[s[1] for s in shown], y=[s[0] for s in shown], orientation="h", marker_color=PALETTE[0],
        text=[fmt_pct(s[2], fraction=True) for s in shown], textposition="outside", cliponaxis=False,
        customdata=[fmt_number(s[3]) for s in shown],
        hovertemplate="%{y}: %{x:,.2f} (%{text}), %{customdata} customers<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(title="Revenue")
    return _layout(fig, title, height=max(360, 26 * len(shown) + 100))


def quality_bridge(describe: Mapping | None) -> go.Figure:
    """Waterfall from raw to clean revenue: one step per enabled cleaning rule (``quality["bridge"]``)."""
    title = "From raw to clean revenue"
    quality = (describe or {}).get("quality") or {}
    bridge = quality.get("bridge") or []
    if not bridge:
        default = ("No cleaning report: the file has one row per customer, so there are no transactions to clean."
                   if _get(describe, "dataset", "shape") == "customers" else "The revenue bridge is not available.")
        return empty_figure(_unavailable_reason(describe, "quality", "bridge", default=default), title)
    revenue = [_number(b.get("revenue")) or 0.0 for b in bridge]
    rows = [_number(b.get("rows")) for b in bridge]
    x = [plot_text(bridge[0].get("step") or "Raw data")]
    y, measure, text = [revenue[0]], ["absolute"], [fmt_money(revenue[0])]
    hover = [f"{fmt_money(revenue[0])} in {fmt_number(rows[0])} rows"]
    for i in range(1, len(bridge)):
        delta = revenue[i] - revenue[i - 1]
        x.append(plot_text(bridge[i].get("step")))
        y.append(delta)
        measure.append("relative")
        text.append(("+" if delta > 0 else "") + fmt_money(delta))
        removed = None if rows[i] is None or rows[i - 1] is None else rows[i - 1] - rows[i]
        hover.append(f"{text[-1]} revenue, {fmt_number(removed)} rows removed")
    clean = _number(quality.get("clean_revenue"))
    x.append("Clean data")
    y.append(clean if clean is not None else revenue[-1])
    measure.append("total")
    text.append(fmt_money(y[-1]))
    hover.append(f"{fmt_money(y[-1])} in {fmt_number(quality.get('clean_rows', rows[-1]))} rows")
    fig = go.Figure(go.Waterfall(x=x, y=y, measure=measure, text=text, textposition="outside", cliponaxis=False,
                                 customdata=hover, hovertemplate="%{x}<br>%{customdata}<extra></extra>",
                                 connector={"line": {"color": "#bbbbbb"}},
                                 increasing={"marker": {"color": PALETTE[4]}},
                                 decreasing={"marker": {"color": PALETTE[2]}},
                                 totals={"marker": {"color": PALETTE[0]}}))
    fig.update_xaxes(tickvals=x, ticktext=_wrapped_ticks(x, 18), type="category")
    fig.update_yaxes(title="Revenue")
    return _layout(fig, title, height=440, showlegend=False)


# ---- k-sweep --------------------------------------------------------------------------------------------------

def _points(sweep: Mapping | None, metric: str) -> tuple[list[int], list[float]]:
    ks, vals = [], []
    for p in sorted((sweep or {}).get("points") or [], key=lambda p: _number(p.get("k")) or 0):
        k, v = _as_int(p.get("k")), _number(p.get(metric))
        if k is not None and v is not None:
            ks.append(k)
            vals.append(v)
    return ks, vals


def _recommended_k(sweep: Mapping | None) -> int | None:
    return _as_int(_get(sweep, "recommendation", "k"))


def _best_k(sweep: Mapping | None, metric: str, ks: list[int], vals: list[float]) -> int | None:
    best = _as_int(_get(sweep, "recommendation", _BEST_KEY.get(metric, ""), default=None))
    if best is None and ks:
        pick = max if METRICS.get(metric, ("", True))[1] else min
        best = ks[vals.index(pick(vals))]
    return best


def _add_elbow(fig: go.Figure, sweep: Mapping | None, row=None, col=None) -> None:
    ks, inertia = _points(sweep, "inertia")
    fig.add_trace(go.Scatter(x=ks, y=inertia, mode="lines+markers", name="Inertia", showlegend=False,
                             line={"color": PALETTE[0]}, hovertemplate="k=%{x}: inertia %{y:,.1f}<extra></extra>"),
                  row=row, col=col)
    rec = _recommended_k(sweep)
    if rec in ks:
        fig.add_trace(go.Scatter(x=[rec], y=[inertia[ks.index(rec)]], mode="markers", name=f"Recommended k={rec}",
                                 showlegend=False, marker={"symbol": "star", "size": 18, "color": PALETTE[2],
                                                           "line": {"color": "black", "width": 1}},
                                 hovertemplate=f"Recommended k={rec}<extra></extra>"), row=row, col=col)
        fig.add_annotation(x=rec, y=inertia[ks.index(rec)], text=f"recommended k={rec}", showarrow=True, ax=40,
                           ay=-30, arrowhead=2, font={"color": PALETTE[2]}, row=row, col=col)
    knee = _as_int(_get(sweep, "recommendation", "knee_k"))
    if knee in ks:
        fig.add_annotation(x=knee, y=inertia[ks.index(knee)], text=f"elbow (knee) at k={knee}", showarrow=True,
                           ax=50, ay=40, arrowhead=2, bgcolor="white", bordercolor=NEUTRAL, row=row, col=col)
        fig.add_trace(go.Scatter(x=[knee], y=[inertia[ks.index(knee)]], mode="markers", name=f"Elbow k={knee}",
                                 showlegend=False, marker={"symbol": "circle-open", "size": 16, "color": "black",
                                                           "line": {"width": 2}},
                                 hovertemplate=f"Elbow k={knee}<extra></extra>"), row=row, col=col)
    elif ks:
        fig.add_annotation(x=ks[-1], y=max(inertia), text="no clear elbow", showarrow=False, xanchor="right",
                           font={"color": NEUTRAL}, row=row, col=col)
    fig.update_xaxes(title_text="k (number of segments)", dtick=1, row=row, col=col)
    fig.update_yaxes(title_text="Inertia (lower is better)", row=row, col=col)


def _add_metric(fig: go.Figure, sweep: Mapping | None, metric: str, row=None, col=None) -> None:
    title, higher = METRICS[metric]
    ks, vals = _points(sweep, metric)
    fig.add_trace(go.Scatter(x=ks, y=vals, mode="lines+markers", name=title, showlegend=False,
                             line={"color": PALETTE[0]}, hovertemplate="k=%{x}: %{y:.3f}<extra></extra>"),
                  row=row, col=col)
    best = _best_k(sweep, metric, ks, vals)
    if best in ks:
        fig.add_trace(go.Scatter(x=[best], y=[vals[ks.index(best)]], mode="markers", name=f"Best k={best}",
                                 showlegend=False, marker={"symbol": "diamond", "size": 14, "color": PALETTE[4],
                                                           "line": {"color": "black", "width": 1}},
                                 hovertemplate=f"Best k={best}<extra></extra>"), row=row, col=col)
        fig.add_annotation(x=best, y=vals[ks.index(best)], text=f"best k={best}", showarrow=True, ax=30,
                           ay=-30 if higher else 30, arrowhead=2, row=row, col=col)
    rec = _recommended_k(sweep)
    if rec in ks and rec != best:
        fig.add_trace(go.Scatter(x=[rec], y=[vals[ks.index(rec)]], mode="markers", name=f"Recommended k={rec}",
                                 showlegend=False, marker={"symbol": "star", "size": 16, "color": PALETTE[2]},
                                 hovertemplate=f"Recommended k={rec}<extra></extra>"), row=row, col=col)
    if metric == "stability":
        where = {} if row is None else {"row": row, "col": col}
        fig.add_hline(y=STABLE_ARI, line={"dash": "dot", "color": NEUTRAL},
                      annotation_text=f"stable >= {STABLE_ARI:.2f}", annotation_position="bottom right", **where)
    fig.update_xaxes(title_text="k (number of segments)", dtick=1, row=row, col=col)
    fig.update_yaxes(title_text=f"{'higher' if higher else 'lower'} is better", row=row, col=col)


def _no_sweep(sweep: Mapping | None) -> str | None:
    if not (sweep or {}).get("points"):
        return "No k-sweep results: run a k-sweep to compare numbers of segments."
    return None


def elbow_chart(sweep: Mapping | None) -> go.Figure:
    """Inertia against k, the elbow (``knee_k``) marked and labelled, the recommended k as a star."""
    title = "Elbow: inertia by number of segments"
    if _no_sweep(sweep):
        return empty_figure(_no_sweep(sweep), title)
    fig = go.Figure()
    _add_elbow(fig, sweep)
    return _layout(fig, title)


def metric_chart(sweep: Mapping | None, metric: str) -> go.Figure:
    """One quality score against k (silhouette, calinski_harabasz, davies_bouldin, stability), best k marked."""
    if metric not in METRICS:
        return empty_figure(f"Unknown metric '{metric}'; choose one of {', '.join(METRICS)}.", "k-sweep")
    title, higher = METRICS[metric]
    title = f"{title} by k ({'higher' if higher else 'lower'} is better)"
    if _no_sweep(sweep):
        return empty_figure(_no_sweep(sweep), title)
    if not _points(sweep, metric)[0]:
        return empty_figure(f"The sweep has no {METRICS[metric][0].lower()} values.", title)
    fig = go.Figure()
    _add_metric(fig, sweep, metric)
    return _layout(fig, title)


def sweep_panel(sweep: Mapping | None) -> go.Figure:
    """The elbow and the four scores in one figure (2 x 3 grid)."""
    title = "k-sweep"
    if _no_sweep(sweep):
        return empty_figure(_no_sweep(sweep), title)
    rec = _recommended_k(sweep)
    if rec is not None:
        title += f": recommended k={rec}"
    names = ["Inertia (elbow)"] + [f"{t} ({'higher' if h else 'lower'} is better)" for t, h in METRICS.values()]
    fig = make_subplots(rows=2, cols=3, subplot_titles=names, horizontal_spacing=0.08, vertical_spacing=0.16)
    _add_elbow(fig, sweep, 1, 1)
    for i, metric in enumerate(METRICS, start=1):
        _add_metric(fig, sweep, metric, 1 + i // 3, 1 + i % 3)
    fig.update_annotations(font_size=11)
    return _layout(fig, title, height=640)


# ---- insights (segments + membership) -------------------------------------------------------------------------

def _explained_title(segments: Mapping | None, axis: str) -> str:
    explained = (segments or {}).get("projection_explained") or []
    i = {"pc1": 0, "pc2": 1}.get(axis)
    if i is not None:
        name = axis.upper()
        if i < len(explained) and _number(explained[i]) is not None:
            return f"{name} ({fmt_pct(explained[i], fraction=True)} of variance)"
        return name
    return plot_text(axis)


def _customer_text(frame: pd.DataFrame) -> list[str]:
    return [plot_text(v) for v in frame.index]


def segment_scatter(membership: pd.DataFrame | None, segments: Mapping | None, x: str = "pc1", y: str = "pc2",
                    max_points: int = 5000) -> go.Figure:
    """Customers on two axes (default: the 2-D PCA projection), one trace per segment; large tables are shown
    as a stratified sample so that small segments stay visible."""
    title = "Customers by segment"
    if membership is None or len(membership) == 0:
        return empty_figure("No customers to show.", title)
    missing = [c for c in (x, y, "segment") if c not in membership.columns]
    if missing:
        return empty_figure(f"The membership table has no column {', '.join(missing)}.", title)
    shown = stratified_sample(membership, max_points)
    labels = _labels(segments, membership)
    fig = go.Figure()
    for n, label in labels.items():
        part = shown[shown["segment"] == n]
        if part.empty:
            continue
        fig.add_trace(go.Scattergl(
            x=part[x], y=part[y], mode="markers", customdata=_customer_text(part),
            marker={"color": segment_color(n), "size": 5, "opacity": 0.7}, **_segment_trace_common(n, label),
            hovertemplate=f"Customer %{{customdata}}<br>{label}<extra></extra>"))
    fig.update_xaxes(title=_explained_title(segments, x))
    fig.update_yaxes(title=_explained_title(segments, y))
    if len(shown) < len(membership):
        title += f" (sample of {fmt_number(len(shown))} of {fmt_number(len(membership))} customers)"
    return _layout(fig, title, height=520, legend={"title": {"text": "Segment"}, "itemsizing": "constant"})


def scatter_3d_rfm(membership: pd.DataFrame | None, segments: Mapping | None, max_points: int = 5000) -> go.Figure:
    """Recency, frequency, monetary in 3-D (log axes for frequency and monetary), one trace per segment."""
    title = "Recency, frequency and monetary value"
    cols = list(_RFM_COLUMNS)
    have = list(getattr(membership, "columns", []))
    if membership is None or not set(cols) <= set(have):
        features = [c for c in have if c not in ("segment", "segment_name", "rfm_segment", "pc1", "pc2")]
        return empty_figure("The 3-D RFM view needs recency_days, frequency and monetary (transaction data); "
                            f"this data has {', '.join(map(str, features)) or 'no such columns'}.", title)
    shown = stratified_sample(membership, max_points)
    fig = go.Figure()
    for n, label in _labels(segments, membership).items():
        part = shown[shown["segment"] == n]
        if part.empty:
            continue
        fig.add_trace(go.Scatter3d(
            x=part["recency_days"], y=part["frequency"], z=part["monetary"], mode="markers",
            customdata=_customer_text(part), marker={"color": segment_color(n), "size": 3, "opacity": 0.7},
            **_segment_trace_common(n, label),
            hovertemplate=(f"Customer %{{customdata}}<br>{label}<br>recency %{{x:.0f}} days<br>"
                           "%{y:,} orders<br>spend %{z:,.2f}<extra></extra>")))
    fig.update_layout(scene={"xaxis": {"title": {"text": "Recency (days)"}},
                             "yaxis": {"title": {"text": "Frequency (orders, log)"}, "type": "log"},
                             "zaxis": {"title": {"text": "Monetary (log)"}, "type": "log"}})
    if len(shown) < len(membership):
        title += f" (sample of {fmt_number(len(shown))} of {fmt_number(len(membership))} customers)"
    return _layout(fig, title, height=600, legend={"title": {"text": "Segment"}, "itemsizing": "constant"})


_BAR_TITLES = {
    "size": "Customers per segment",
    "revenue_share": "Share of revenue per segment",
    "avg_purchase_value": "Average purchase value per customer",
    "frequency": "Average number of orders per customer",
}


def segment_bars(segments: Mapping | None, metric: str = "size") -> go.Figure:
    """One bar per segment (horizontal, segment 0 at the top): ``size``, ``revenue_share``,
    ``avg_purchase_value`` (mean spend) or ``frequency`` (mean orders)."""
    if metric not in _BAR_TITLES:
        return empty_figure(f"Unknown segment metric '{metric}'; choose one of {', '.join(_BAR_TITLES)}.",
                            "Segments")
    title = _BAR_TITLES[metric]
    rows = _profile_rows(segments)
    if not rows:
        return empty_figure("No segment profiles to show.", title)
    profiles = _get(segments, "profiles", default={}) or {}
    column, axis, money = None, "", False
    if metric == "size":
        column, axis = "size", "Customers"
    elif metric == "revenue_share":
        column, axis = "revenue_share", "Share of revenue (%)"
    elif metric == "avg_purchase_value":
        spend = _spend_column(segments)
        column, axis, money = (f"mean_{spend}" if spend else None), f"Mean {spend or 'spend'} per customer", True
    elif metric == "frequency":
        freq = profiles.get("frequency_col")
        column, axis = (f"mean_{freq}" if freq else None), "Mean number of orders"
    values = {n: _number(r.get(column)) if column else None for n, r in rows.items()}
    if all(v is None for v in values.values()):
        reason = {
            "revenue_share": "Revenue per segment is not available: this data has no spend column the segments "
                             "could be summed over.",
            "avg_purchase_value": "Average purchase value is not available: this data has no spend column.",
            "frequency": "Purchase frequency is not available: this data has no orders or order dates "
                         "(one row per customer).",
        }.get(metric, "Segment sizes are not available.")
        return empty_figure(reason, title)
    labels = _labels(segments)
    fig = go.Figure()
    for n, label in labels.items():
        v = values.get(n)
        if v is None:
            continue
        row = rows[n]
        if metric == "size":
            shown, text = v, f"{fmt_number(v)} ({fmt_pct(row.get('customer_share'), fraction=True)})"
        elif metric == "revenue_share":
            shown, text = v * 100, fmt_pct(v, fraction=True)
        else:
            shown, text = v, fmt_money(v) if money else fmt_number(v, 2)
        fig.add_trace(go.Bar(x=[shown], y=[label], orientation="h", text=[text], textposition="outside",
                             cliponaxis=False, marker_color=segment_color(n), showlegend=False,
                             **_segment_trace_common(n, label), hovertemplate=f"{label}: {text}<extra></extra>"))
    if metric == "revenue_share":
        shares = [(labels[n], (_number(rows[n].get("customer_share")) or 0) * 100) for n in labels if n in rows]
        fig.add_trace(go.Scatter(x=[s[1] for s in shares], y=[s[0] for s in shares], mode="markers",
                                 name="Share of customers (%)", marker={"symbol": "line-ns-open", "size": 22,
                                                                        "color": "black", "line": {"width": 3}},
                                 hovertemplate="%{y}: %{x:.1f} % of customers<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category", categoryorder="array",
                     categoryarray=list(labels.values()))
    longest = max([abs(t.x[0]) for t in fig.data if t.type == "bar"] +
                  [x for t in fig.data if t.type == "scatter" for x in t.x] + [0.0])
    fig.update_xaxes(title=axis, range=[0, longest * 1.25 or 1])  # room for the text outside the bars
    return _layout(fig, title, height=max(300, 60 * len(labels) + 120), barmode="overlay",
                   legend={"orientation": "h", "y": -0.2})


def profile_heatmap(segments: Mapping | None) -> go.Figure:
    """Standardised profile: segments (rows, by number) x features, diverging colours centred at 0."""
    title = "Segment profiles (standardised: 0 = all customers)"
    std = _get(segments, "profiles", "standardised", default=None)
    values = (std or {}).get("values")
    if not values:
        return empty_figure("The standardised segment profile is not available.", title)
    numbers = [_as_int(s) for s in std.get("segments") or range(len(values))]
    features = [plot_text(f) for f in std.get("features") or []]
    labels = _labels(segments)
    order = sorted(range(len(values)), key=lambda i: numbers[i] if numbers[i] is not None else i)
    z = [[_number(v) for v in values[i]] for i in order]
    y = [labels.get(numbers[i], plot_text((std.get("names") or [])[i] if i < len(std.get("names") or []) else
                                          f"Segment {numbers[i]}")) for i in order]
    text = [["" if v is None else f"{v:+.2f}" for v in row] for row in z]
    bound = max([abs(v) for row in z for v in row if v is not None] or [1.0])
    fig = go.Figure(go.Heatmap(z=z, x=features, y=y, text=text, texttemplate="%{text}", colorscale="RdBu",
                               reversescale=True, zmid=0, zmin=-bound, zmax=bound,
                               colorbar={"title": {"text": "SDs"}},
                               hovertemplate="%{y}<br>%{x}: %{z:+.2f} SD from all customers<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", side="top")
    return _layout(fig, title, height=max(300, 50 * len(y) + 140))


def _box_stats(values: pd.Series) -> dict:
    q1, med, q3 = (float(v) for v in values.quantile([0.25, 0.5, 0.75]))
    iqr = q3 - q1
    low = float(values[values >= q1 - 1.5 * iqr].min())
    high = float(values[values <= q3 + 1.5 * iqr].max())
    return {"q1": [q1], "median": [med], "q3": [q3], "lowerfence": [low], "upperfence": [high],
            "mean": [float(values.mean())]}


def distribution_by_segment(membership: pd.DataFrame | None, segments: Mapping | None, feature: str) -> go.Figure:
    """Box plot of one feature per segment (quartiles and 1.5 IQR whiskers computed here; log axis for
    strictly positive, skewed features)."""
    title = f"{plot_text(feature)} by segment"
    if membership is None or feature not in getattr(membership, "columns", ()) or "segment" not in membership:
        return empty_figure(f"The membership table has no column '{feature}'.", title)
    values = pd.Series(pd.to_numeric(membership[feature], errors="coerce").to_numpy(dtype=float, na_value=np.nan),
                       index=membership.index)
    ok = np.isfinite(values.to_numpy())
    segment = membership["segment"].to_numpy()
    finite = values[ok]
    if finite.empty:
        return empty_figure(f"'{feature}' has no numeric values.", title)
    skew = float(finite.skew()) if len(finite) > 2 else 0.0
    log = bool(finite.min() > 0 and (skew > 1 or finite.max() > 20 * max(float(finite.median()), 1e-12)))
    fig = go.Figure()
    for n, label in _labels(segments, membership).items():
        part = values[(segment == n) & ok]
        if part.empty:
            continue
        fig.add_trace(go.Box(y=[label], orientation="h", **_box_stats(part), marker_color=segment_color(n),
                             fillcolor=segment_color(n), line={"color": "#333333"}, opacity=0.85,
                             showlegend=False, boxpoints=False, **_segment_trace_common(n, label)))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(title=f"{plot_text(feature)}{' (log scale)' if log else ''}", type="log" if log else "linear")
    return _layout(fig, title, height=max(300, 60 * len(fig.data) + 120))


def crosstab_heatmap(segments: Mapping | None) -> go.Figure:
    """Customers per RFM segment (rows) and K-means segment (columns); colour = % of the K-means segment."""
    title = "RFM segments within each K-means segment"
    ct = (segments or {}).get("rfm_crosstab")
    counts = (ct or {}).get("counts")
    if not counts:
        return empty_figure("The RFM cross-tab needs transaction data (order dates, orders and spend per "
                            "customer); this data has one row per customer or no RFM features.", title)
    rows = [plot_text(r) for r in ct.get("rows") or range(len(counts))]
    cols = [plot_text(c) for c in ct.get("columns") or range(len(counts[0]))]
    matrix = np.asarray([[(_number(v) or 0.0) for v in row] for row in counts], dtype=float)
    totals = matrix.sum(axis=0)
    share = np.divide(matrix * 100, totals, out=np.zeros_like(matrix), where=totals > 0)
    text = [[fmt_number(v) if v else "" for v in row] for row in matrix]
    fig = go.Figure(go.Heatmap(z=share.round(2).tolist(), x=cols, y=rows, text=text, texttemplate="%{text}",
                               colorscale="Blues", zmin=0, customdata=matrix.tolist(),
                               colorbar={"title": {"text": "% of segment"}},
                               hovertemplate="%{y} in %{x}: %{customdata:,} customers (%{z:.1f} %)<extra></extra>"))
    fig.update_xaxes(type="category", side="top", tickvals=cols, ticktext=_wrapped_ticks(cols))
    fig.update_yaxes(autorange="reversed", type="category", title="RFM segment")
    return _layout(fig, title, height=max(380, 32 * len(rows) + 160))


# ---- rows for tables ------------------------------------------------------------------------------------------

def outlier_rows(segments: Mapping | None, limit: int | None = None) -> list[dict]:
    """Outliers as display rows: ``customer``, ``reason``, ``score`` (text), ``flagged`` (text)."""
    out = []
    records = (segments or {}).get("outliers") or []
    if isinstance(records, Mapping):  # tolerate a {"records": [...]} or column-oriented shape
        records = records.get("records") or []
    for rec in records:
        if not isinstance(rec, Mapping):
            continue
        customer = next((rec.get(k) for k in ("customer_id", "customer", "index", "id") if rec.get(k) is not None),
                        "")
        score = _number(rec.get("score"))
        flagged = rec.get("flagged")
        if isinstance(flagged, list | tuple):
            flagged = ", ".join(map(str, flagged))
        out.append({"customer": str(customer), "reason": str(rec.get("reason") or ""),
                    "score": "" if score is None else f"{score:.2f}",
                    "flagged": "" if flagged is None else str(flagged)})
        if limit is not None and len(out) >= limit:
            break
    return out


def advice_cards(segments: Mapping | None) -> list[dict]:
    """Per segment (by number): ``segment``, ``name``, ``color``, ``headline``, ``advice`` (plain text)."""
    advice = (segments or {}).get("advice") or {}
    names = segment_names(segments)
    cards = []
    for n, name in names.items():
        entry = advice.get(str(n)) or advice.get(n) or {}
        if not isinstance(entry, Mapping):
            entry = {"advice": str(entry)}
        cards.append({"segment": n, "name": name, "color": segment_color(n),
                      "headline": str(entry.get("headline") or name), "advice": str(entry.get("advice") or "")})
    return cards


def segment_table_rows(segments: Mapping | None) -> tuple[list[str], list[dict]]:
    """The segment table: ``(columns, rows)``; columns ``Segment``, ``Customers``, ``Share of customers``,
    ``Share of revenue`` (when known) and ``Median <feature>`` per profile feature; values are formatted text,
    plus ``segment`` (number) and ``color`` in every row."""
    rows = _profile_rows(segments)
    features = [str(f) for f in _get(segments, "profiles", "features", default=[]) or []]
    has_revenue = any(_number(r.get("revenue_share")) is not None for r in rows.values())
    spend = _spend_column(segments)
    columns = ["Segment", "Customers", "Share of customers"] + (["Share of revenue"] if has_revenue else [])
    columns += [f"Median {f}" for f in features]
    out = []
    for n, name in segment_names(segments).items():
        r = rows.get(n, {})
        row = {"segment": n, "color": segment_color(n), "Segment": name, "Customers": fmt_number(r.get("size")),
               "Share of customers": fmt_pct(r.get("customer_share"), fraction=True)}
        if has_revenue:
            row["Share of revenue"] = fmt_pct(r.get("revenue_share"), fraction=True)
        for f in features:
            v = r.get(f"median_{f}")
            row[f"Median {f}"] = fmt_money(v) if f == spend else fmt_number(v, None if _is_whole(v) else 2)
        out.append(row)
    return columns, out


def _is_whole(value) -> bool:
    x = _number(value)
    return x is not None and float(x).is_integer()
