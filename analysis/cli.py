"""Command line: ``python -m analysis {describe,sweep,segment,report,demo} ...``.

Bad input exits with status 2 and one line on stderr (``error: ...``); an internal failure exits 1.
FILE may be ``demo`` for the built-in demo data.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from analysis import pipeline
from analysis.errors import AnalysisError
from analysis.loading import preflight
from analysis.normalize import parse_mapping_args

log = logging.getLogger("analysis.cli")


def _rules(pairs: list[str] | None) -> dict[str, bool]:
    out = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        flag = value.strip().lower()
        if not sep or flag not in ("on", "off", "true", "false", "1", "0"):
            raise AnalysisError(f"Rule switch '{pair}' should look like name=on or name=off.")
        out[name.strip()] = flag in ("on", "true", "1")
    return out


def _features(text: str | None) -> list[str] | None:
    return [f.strip() for f in text.split(",") if f.strip()] if text else None


def _log_option(text: str) -> str | list[str] | None:
    if text in ("auto",):
        return "auto"
    if text in ("none", "off", ""):
        return None
    return [c.strip() for c in text.split(",") if c.strip()]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="CSV, XLSX or Parquet file, or 'demo' for the built-in demo data")
    p.add_argument("--map", action="append", metavar="ROLE=COLUMN",
                   help="column for a role (order_id, customer_id, order_date, quantity, unit_price, amount, "
                        "product_id, description, country); repeatable")
    p.add_argument("--rule", action="append", metavar="NAME=on|off", help="switch a cleaning rule; repeatable")
    p.add_argument("--as-of", help="reference date for recency (default: midnight after the last order)")
    p.add_argument("--sheet", default="0",
                   help="Excel sheet name, or its position counting from 0 (a sheet named like the number wins)")
    order = p.add_mutually_exclusive_group()
    order.add_argument("--dayfirst", dest="dayfirst", action="store_const", const=True, default=None,
                       help="read dates such as 05.01.2023 as day.month (default: decide, and say so when both "
                            "readings are possible)")
    order.add_argument("--monthfirst", dest="dayfirst", action="store_const", const=False,
                       help="read dates such as 05/01/2023 as month/day")


def _features_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--features", help="comma-separated feature names (default: recency_days,frequency,monetary;"
                                      " customer-level files: their numeric columns)")
    p.add_argument("--log", default="auto", help="'auto' (skewed features), 'none', or comma-separated columns")
    p.add_argument("--scaling", default="standard", choices=("standard", "robust", "none"))
    p.add_argument("--seed", type=int, default=0, help="random_state for K-means and sampling")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("describe", help="data-quality report and descriptive statistics")
    _common(p)
    p.add_argument("--json", action="store_true", help="print JSON (default: a readable summary)")

    p = sub.add_parser("sweep", help="score every k and recommend one")
    _common(p)
    _features_opts(p)
    p.add_argument("--k", default="2-10", help="k values: '2-10', '2,4,6' or '5'")
    p.add_argument("--n-init", type=int, default=10)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("segment", help="K-means at one k: profiles, names, membership CSV, advice")
    _common(p)
    _features_opts(p)
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--n-init", type=int, default=10)

    p = sub.add_parser("report", help="readable end-to-end report: quality, statistics, sweep, segments")
    _common(p)
    _features_opts(p)
    p.add_argument("--k", default="2-8", help="k values for the sweep")

    p = sub.add_parser("demo", help="write demo transactions")
    p.add_argument("--rows", type=int, default=pipeline.DEMO_ROWS)
    p.add_argument("--seed", type=int, default=pipeline.DEMO_SEED)
    p.add_argument("--out", required=True, help="output file (.parquet or .csv)")
    return parser


def _prepared(args) -> pipeline.Prepared:
    if args.file != pipeline.DEMO_NAME:
        # Whichever reader load_dataset picks, a hostile file gets the loader's message at once.
        preflight(args.file)
    # The sheet stays text: read_table takes a sheet called "2023" by name and "1" as a position otherwise.
    dataset = pipeline.load_dataset(args.file, mapping=parse_mapping_args(args.map), sheet=str(args.sheet),
                                    dayfirst=args.dayfirst)
    return pipeline.prepare(dataset, rules=_rules(args.rule), as_of=args.as_of)


def cmd_describe(args) -> None:
    result = pipeline.describe(_prepared(args))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_description(result))


def cmd_sweep(args) -> None:
    from analysis.clustering import parse_k_range

    ks = parse_k_range(args.k)
    prepared = _prepared(args)
    fs = pipeline.feature_set(prepared, _features(args.features), log=_log_option(args.log), scaling=args.scaling)
    result = pipeline.sweep(fs, ks, random_state=args.seed, n_init=args.n_init)
    result["dataset"] = prepared.dataset.info()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_sweep(result))


def _output_folder(text: str) -> Path:
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise AnalysisError(f"--out '{out}' is a file, not a folder; give a folder for the results.")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise AnalysisError(f"--out '{out}' cannot be created: '{parent}' is a file, not a folder.")
            break
    return out


def cmd_segment(args) -> None:
    out = _output_folder(args.out)
    prepared = _prepared(args)
    fs = pipeline.feature_set(prepared, _features(args.features), log=_log_option(args.log), scaling=args.scaling)
    seg = pipeline.segment(fs, args.k, random_state=args.seed, n_init=args.n_init, prepared=prepared)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"dataset": prepared.dataset.info(), "features": fs.matrix.to_dict(), **seg.to_dict()}
    _write_atomic(out / "segments.json", json.dumps(summary, indent=2))
    _write_atomic(out / "profiles.csv", seg.profiles.table.to_csv(index=False))
    _write_atomic(out / "membership.csv", safe_csv(seg.membership.reset_index()))
    print(f"wrote {out / 'segments.json'}, {out / 'profiles.csv'} and {out / 'membership.csv'} "
          f"({len(seg.membership):,} customers in {seg.k} segments)")
    reason = fs.matrix.dropped.get("reason")
    if reason:
        print(f"note: {reason}")


def cmd_report(args) -> None:
    from analysis.clustering import parse_k_range

    prepared = _prepared(args)
    print(format_description(pipeline.describe(prepared)))
    fs = pipeline.feature_set(prepared, _features(args.features), log=_log_option(args.log), scaling=args.scaling)
    sweep = pipeline.sweep(fs, parse_k_range(args.k), random_state=args.seed)
    print(format_sweep(sweep))
    seg = pipeline.segment(fs, sweep["recommendation"]["k"], random_state=args.seed, prepared=prepared)
    print(format_segments(seg))


def cmd_demo(args) -> None:
    from analysis.demo import MIN_ROWS as MIN_DEMO_ROWS
    from analysis.demo import write_demo

    if args.rows < MIN_DEMO_ROWS:
        raise AnalysisError(f"--rows must be at least {MIN_DEMO_ROWS} (got {args.rows}).")
    out = Path(args.out)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise AnalysisError(f"Output '{out.name}' must end in .parquet or .csv.")
    if out.is_dir():
        raise AnalysisError(f"Output '{out}' is a folder; give a file name ending in .parquet or .csv.")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_demo(out, args.rows, seed=args.seed)
    print(f"wrote {args.rows:,} demo rows to {out}")


def safe_csv(frame) -> str:
    """CSV text with formula-injection neutralised: text cells starting with = + - @ TAB CR get a ``'``."""
    from analysis.exports import neutralise_formulas

    return neutralise_formulas(frame).to_csv(index=False)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# ---- readable output -------------------------------------------------------------------------------------------

def _money(x) -> str:
    return "n/a" if x is None else f"{x:,.2f}"


def format_description(d: dict) -> str:
    lines = [f"== {d['dataset']['file']} ({d['dataset']['shape'].replace('_', ' ')}, "
             f"{d['dataset']['rows']:,} rows) =="]
    lines += [f"  note: {n}" for n in d["dataset"]["notes"]]
    q = d.get("quality")
    if q:
        lines.append("Data quality (revenue bridge):")
        for step in q["bridge"]:
            lines.append(f"  {step['step']:<40} {step['rows']:>12,} rows {step['revenue']:>16,.2f}")
        for w in q["warnings"]:
            lines.append(f"  warning: {w}")
    s = d["summary"]
    lines.append("Summary:")
    for key in ("customers", "orders", "revenue", "average_order_value", "average_purchase_value_per_customer"):
        value = s.get(key)
        shown = "n/a" if value is None else (f"{value:,}" if isinstance(value, int) else _money(value))
        lines.append(f"  {key.replace('_', ' '):<40} {shown}")
    ot = d.get("one_time_vs_repeat")
    if ot:
        lines.append(f"  one-time buyers: {ot['one_time_customers']:,} ({ot['one_time_pct']:.2f} %), "
                     f"repeat: {ot['repeat_customers']:,} ({ot['repeat_pct']:.2f} %) "
                     f"with {ot['repeat_revenue_pct']:.1f} % of revenue")
    rc = d.get("revenue_contribution")
    if rc:
        top, gini = rc.get("top_20pct_share"), rc.get("gini")
        if top is None or gini is None:
            lines.append("  revenue concentration: n/a (total revenue is not positive)")
        else:
            lines.append(f"  top 20 % of customers bring {100 * top:.1f} % of revenue; Gini {gini:.3f}")
    for item in d.get("unavailable", []):
        lines.append(f"  not available: {item['analysis']}: {item['reason']}")
    return "\n".join(lines)


def _cell(point: dict, key: str, fmt: str, width: int) -> str:
    value = point.get(key)
    return f"{'-' if value is None else format(value, fmt):>{width}}"


def format_sweep(r: dict) -> str:
    lines = ["K-sweep:", f"  {'k':>3} {'inertia':>14} {'silhouette':>10} {'CH':>12} {'DB':>8} {'stability':>9}"]
    for p in r["points"]:
        lines.append(f"  {p['k']:>3} {p['inertia']:>14,.2f} {_cell(p, 'silhouette', '.3f', 10)} "
                     f"{_cell(p, 'calinski_harabasz', ',.1f', 12)} {_cell(p, 'davies_bouldin', '.3f', 8)} "
                     f"{_cell(p, 'stability', '.3f', 9)}")
    rec = r["recommendation"]
    lines.append(f"Recommended k = {rec['k']}: {rec['reason']}")
    reason = ((r.get("features") or {}).get("dropped") or {}).get("reason")
    if reason:
        lines.append(f"note: {reason}")
    return "\n".join(lines)


def format_segments(seg: pipeline.Segmentation) -> str:
    lines = [f"Segments (k = {seg.k}):"]
    table = seg.profiles.table
    for _, row in table.iterrows():
        rev = "" if row.get("revenue_share") is None or row.get("revenue_share") != row.get("revenue_share") \
            else f", {100 * row['revenue_share']:.1f} % of revenue"
        lines.append(f"  [{int(row['segment'])}] {row['name']}: {int(row['size']):,} customers "
                     f"({100 * row['customer_share']:.1f} %){rev}")
        advice = seg.advice.get(int(row["segment"]), {})
        if advice:
            lines.append(f"      {advice.get('advice', '')}")
    if len(seg.outliers):
        lines.append(f"Outliers ({len(seg.outliers)}), first five:")
        for cid, row in seg.outliers.head(5).iterrows():
            lines.append(f"  customer {cid}: {row['reason']}")
    if seg.dropped.get("reason"):
        lines.append(f"note: {seg.dropped['reason']}")
    return "\n".join(lines)


COMMANDS = {"describe": cmd_describe, "sweep": cmd_sweep, "segment": cmd_segment, "report": cmd_report,
            "demo": cmd_demo}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        COMMANDS[args.command](args)
    except AnalysisError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # pragma: no cover - e.g. piped into head
        return 0
    except Exception as exc:
        if args.debug:
            raise
        log.exception("internal error in %s %s", args.command, getattr(args, "file", ""))
        print(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)", file=sys.stderr)
        return 1
    return 0
