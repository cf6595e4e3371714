"""Normalised job parameters: what makes two requests "the same request".

Defaults are filled in and values put in one canonical form (sorted lists, full rule table), so that a
request that spells the defaults out and one that leaves them out get the same job. Values a user can get
wrong raise :class:`analysis.errors.AnalysisError` with a message for the user.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from analysis.cleaning import resolve_rules
from analysis.clustering import parse_k_range
from analysis.errors import AnalysisError

SCALINGS = ("standard", "robust", "none")
DEFAULTS = {"random_state": 0, "n_init": 10, "stability_seeds": 3, "silhouette_sample_size": 10_000}


def _int(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise AnalysisError(f"Parameter '{name}' must be a whole number (got {value!r}).") from exc
    if number != value and not isinstance(value, str | int):
        raise AnalysisError(f"Parameter '{name}' must be a whole number (got {value!r}).")
    if not low <= number <= high:
        raise AnalysisError(f"Parameter '{name}' must be between {low:,} and {high:,} (got {number:,}).")
    return number


def _common(params: Mapping[str, Any]) -> dict:
    out: dict[str, Any] = {"rules": resolve_rules(params.get("rules"))}
    as_of = params.get("as_of")
    if as_of in (None, ""):
        out["as_of"] = None
    else:
        try:
            out["as_of"] = pd.Timestamp(as_of).isoformat()
        except (ValueError, TypeError) as exc:
            raise AnalysisError(f"As-of date '{as_of}' is not a date (use YYYY-MM-DD).") from exc
    return out


def _features(params: Mapping[str, Any], default_features: list[str]) -> dict:
    features = params.get("features") or default_features
    if isinstance(features, str):
        features = [f.strip() for f in features.split(",") if f.strip()]
    features = [str(f) for f in features]
    if len(set(features)) != len(features):
        raise AnalysisError(f"Features are listed twice: {', '.join(features)}.")
    log = params.get("log", "auto")
    if log in (None, "", "none", "off", []):
        log = None
    elif log != "auto":
        log = sorted(str(c) for c in (log if isinstance(log, list | tuple) else str(log).split(",")))
        unknown = [c for c in log if c not in features]
        if unknown:
            raise AnalysisError(f"Cannot log-transform {', '.join(unknown)}: not among the chosen features.")
    scaling = params.get("scaling", "standard")
    if scaling not in SCALINGS:
        raise AnalysisError(f"Scaling '{scaling}' is not one of {', '.join(SCALINGS)}.")
    return {"features": features, "log": log, "scaling": scaling}


def normalise(kind: str, params: Mapping[str, Any] | None, *, default_features: list[str]) -> dict:
    """Canonical parameters for a ``describe``, ``cluster`` or ``sweep`` job.

    ``default_features`` are the dataset's default clustering features (used when none are given).
    """
    params = dict(params or {})
    out = _common(params)
    if kind == "describe":
        return out
    out.update(_features(params, default_features))
    out["random_state"] = _int(params, "random_state", DEFAULTS["random_state"], 0, 2**31 - 1)
    out["n_init"] = _int(params, "n_init", DEFAULTS["n_init"], 1, 100)
    if kind == "cluster":
        out["k"] = _int(params, "k", 0, 1, 100_000) if "k" in params else _missing("k")
        return out
    if kind == "sweep":
        ks = params.get("k_values", params.get("k", "2-10"))
        if isinstance(ks, list | tuple):
            ks = ",".join(str(int(k)) for k in ks)
        out["k_values"] = sorted(set(parse_k_range(str(ks))))
        out["stability_seeds"] = _int(params, "stability_seeds", DEFAULTS["stability_seeds"], 0, 20)
        out["silhouette_sample_size"] = _int(params, "silhouette_sample_size",
                                             DEFAULTS["silhouette_sample_size"], 100, 1_000_000)
        return out
    raise AnalysisError(f"Unknown job kind '{kind}'; kinds are describe, cluster and sweep.")


def _missing(name: str):
    raise AnalysisError(f"Parameter '{name}' is required.")
