"""Named, switchable cleaning rules and the data-quality report they produce.

Rules run in the order of :data:`RULES` on a canonical transactions frame. Each is counted twice:
``rows_matched`` / ``revenue_matched`` on the raw data (what the rule would catch on its own, reported
even when it is switched off) and ``rows_removed`` / ``revenue_removed`` in sequence (what it actually took
out after the rules before it). The bridge walks revenue from raw to clean, one enabled rule a step.

The default rules (missing values, missing customer id, cancellations, bad-debt adjustments, non-positive
quantity and non-positive price) reproduce the usual definition of a clean Online Retail table: customer id
present, quantity > 0, unit price > 0. Exact duplicates, non-product stock codes and cancelled giant orders
are counted but kept unless switched on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from analysis import schema as S
from analysis.errors import AnalysisError

# Stock codes of the UCI data that are not products: postage, fees, manual adjustments, samples.
NON_PRODUCT_CODES = frozenset(
    {"POST", "DOT", "M", "D", "C2", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "ADJUST", "ADJUST2",
     "TEST001", "TEST002", "GIFT", "CARRIAGE", "SHIPPING", "FEE", "DISCOUNT"}
)
GIANT_QUANTITY = 10_000


@dataclass(frozen=True)
class Rule:
    """One cleaning rule: ``matches(frame) -> bool mask`` of the rows it removes."""

    name: str
    label: str
    description: str
    default: bool
    matches: Callable[[pd.DataFrame], np.ndarray]


def _missing_values(tx: pd.DataFrame) -> np.ndarray:
    amount = tx[S.AMOUNT].to_numpy(dtype="float64", na_value=np.nan)
    return tx[S.ORDER_DATE].isna().to_numpy() | ~np.isfinite(amount)


def _missing_customer(tx: pd.DataFrame) -> np.ndarray:
    return tx[S.CUSTOMER_ID].isna().to_numpy()


def _prefix(tx: pd.DataFrame, letter: str, sign_col: str) -> np.ndarray:
    """Order ids made of ``letter`` followed by a digit (``C536379``), when the ids follow the UCI convention.

    ``CA-2016-1`` or ``Customer 7`` never match. A file whose own ids merely start with letters (``A1001``,
    ``B1002``) must not lose its ``A`` orders as bad debt, so the prefix only counts when most order ids are
    numeric (as in UCI Online Retail, where only cancellations and adjustments carry a letter) or when the
    prefixed rows are negative in ``sign_col`` (quantity for cancellations, amount for bad debt).
    """
    ids = tx[S.ORDER_ID]
    mask = ids.str.contains(f"^[{letter}{letter.lower()}][0-9]", regex=True).fillna(False).to_numpy(dtype=bool)
    if not mask.any():
        return mask
    present = ids.dropna()
    numeric_share = float(present.str.match(r"[0-9]").mean()) if len(present) else 0.0
    if numeric_share > 0.5:
        return mask
    sign = tx[sign_col].to_numpy(dtype="float64", na_value=np.nan)[mask]
    if np.mean(sign < 0) > 0.5:
        return mask
    return np.zeros(len(tx), dtype=bool)


def _cancellations(tx: pd.DataFrame) -> np.ndarray:
    return _prefix(tx, "C", S.QUANTITY)


def _bad_debt(tx: pd.DataFrame) -> np.ndarray:
    mask = _prefix(tx, "A", S.AMOUNT)
    if S.DESCRIPTION in tx.columns:
        desc = tx[S.DESCRIPTION].str.lower().str.contains("adjust bad debt", regex=False).fillna(False)
        mask = mask | desc.to_numpy(dtype=bool)
    return mask


def _non_positive_quantity(tx: pd.DataFrame) -> np.ndarray:
    return (tx[S.QUANTITY] <= 0).fillna(False).to_numpy(dtype=bool)


def _non_positive_price(tx: pd.DataFrame) -> np.ndarray:
    price = tx[S.UNIT_PRICE].where(tx[S.UNIT_PRICE].notna(), tx[S.AMOUNT])
    return (price <= 0).fillna(False).to_numpy(dtype=bool)


def _duplicates(tx: pd.DataFrame) -> np.ndarray:
    return tx.duplicated(keep="first").to_numpy()


def _non_product(tx: pd.DataFrame) -> np.ndarray:
    if S.PRODUCT_ID not in tx.columns:
        return np.zeros(len(tx), dtype=bool)
    return tx[S.PRODUCT_ID].str.upper().isin(NON_PRODUCT_CODES).to_numpy(dtype=bool)


def cancelled_giant_purchases(tx: pd.DataFrame, *, min_quantity: float = GIANT_QUANTITY) -> np.ndarray:
    """Mask of purchase lines of at least ``min_quantity`` units that a later cancellation line of the same
    customer and product (with the opposite quantity) undoes. Length ``len(tx)``."""
    big = (tx[S.QUANTITY] >= min_quantity).fillna(False).to_numpy(dtype=bool)
    if not big.any():
        return np.zeros(len(tx), dtype=bool)
    keys = [S.CUSTOMER_ID, S.PRODUCT_ID] if S.PRODUCT_ID in tx.columns else [S.CUSTOMER_ID]
    cancels = tx.loc[_cancellations(tx) & (tx[S.QUANTITY] <= -min_quantity).to_numpy()]
    if cancels.empty:
        return np.zeros(len(tx), dtype=bool)
    buys = tx.loc[big, keys + [S.QUANTITY, S.ORDER_DATE]].reset_index()
    undo = cancels[keys + [S.QUANTITY, S.ORDER_DATE]].assign(**{S.QUANTITY: -cancels[S.QUANTITY]})
    pairs = buys.merge(undo, on=keys + [S.QUANTITY], suffixes=("", "_cancel"))
    pairs = pairs[pairs[f"{S.ORDER_DATE}_cancel"] >= pairs[S.ORDER_DATE]]
    mask = np.zeros(len(tx), dtype=bool)
    mask[tx.index.get_indexer(pairs["index"].unique())] = True
    return mask


RULES: tuple[Rule, ...] = (
    Rule("missing_values", "Missing date or amount", "Rows without an order date or with a missing or "
         "infinite amount.", True, _missing_values),
    Rule("missing_customer_id", "Missing customer id", "Guest orders: rows without a customer id cannot be "
         "attributed to a customer.", True, _missing_customer),
    Rule("cancellations", "Cancellations", "Invoices numbered C + digits cancel earlier purchases (when order "
         "ids are mostly numeric, as in UCI Online Retail, or the C lines have negative quantities).", True,
         _cancellations),
    Rule("bad_debt", "Adjust bad debt", "Accounting entries ('Adjust bad debt'; invoices A + digits when order "
         "ids are mostly numeric or the A lines are negative).", True, _bad_debt),
    Rule("non_positive_quantity", "Returns / non-positive quantity", "Lines with quantity 0 or below "
         "(returns, corrections).", True, _non_positive_quantity),
    Rule("non_positive_price", "Zero or negative price", "Lines with a unit price (or amount) of 0 or below: "
         "free samples, damages, write-offs.", True, _non_positive_price),
    Rule("duplicates", "Exact duplicate rows", "Extra copies of rows identical in every column.", False,
         _duplicates),
    Rule("non_product_codes", "Non-product stock codes", "Postage, fees, manual adjustments and similar "
         "stock codes (POST, DOT, M, BANK CHARGES, AMAZONFEE, ...).", False, _non_product),
    Rule("cancelled_giant_orders", "Cancelled giant orders", f"Purchase lines of {GIANT_QUANTITY:,}+ units that "
         "were cancelled later; kept, they make their buyers look like the best customers.", False,
         cancelled_giant_purchases),
)
RULE_NAMES = tuple(r.name for r in RULES)
DEFAULT_RULES = {r.name: r.default for r in RULES}
# Rows these rules remove (when switched on) are the customers' returns, used for the return-rate feature.
RETURN_RULES = ("cancellations", "non_positive_quantity")


@dataclass
class RuleCount:
    name: str
    label: str
    description: str
    enabled: bool
    rows_matched: int
    revenue_matched: float
    rows_removed: int
    revenue_removed: float


@dataclass
class QualityReport:
    """Rows and revenue (sum of line amounts, currency units) before and after cleaning, per rule."""

    raw_rows: int
    raw_revenue: float
    clean_rows: int
    clean_revenue: float
    rules: list[RuleCount]
    bridge: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("raw_revenue", "clean_revenue"):
            out[key] = round(out[key], 2)
        for rule in out["rules"]:
            rule["revenue_matched"] = round(rule["revenue_matched"], 2)
            rule["revenue_removed"] = round(rule["revenue_removed"], 2)
        return out


@dataclass
class CleanResult:
    clean: pd.DataFrame  # canonical transactions kept
    returns: pd.DataFrame  # removed return / cancellation lines with a customer id (customer_id, amount)
    report: QualityReport


def resolve_rules(rules: Mapping[str, bool] | None) -> dict[str, bool]:
    """Defaults overridden by ``rules``; unknown names raise :class:`AnalysisError`."""
    resolved = dict(DEFAULT_RULES)
    for name, on in (rules or {}).items():
        if name not in resolved:
            raise AnalysisError(f"Unknown cleaning rule '{name}'; rules are: {', '.join(RULE_NAMES)}.")
        resolved[name] = bool(on)
    return resolved


def clean_transactions(tx: pd.DataFrame, *, rules: Mapping[str, bool] | None = None) -> CleanResult:
    """Apply the enabled rules in order and count every rule.

    Parameters
    ----------
    tx : canonical transactions (``analysis.normalize``), any number of rows.
    rules : rule name -> on/off, overriding :data:`DEFAULT_RULES`.

    Returns
    -------
    CleanResult: the kept rows (index reset), the removed return lines, and the quality report.
    """
    enabled = resolve_rules(rules)
    amount = tx[S.AMOUNT].to_numpy(dtype="float64", na_value=np.nan)
    finite_amount = np.where(np.isfinite(amount), amount, 0.0)
    keep = np.ones(len(tx), dtype=bool)
    counts: list[RuleCount] = []
    bridge = [{"step": "Raw data", "rows": int(len(tx)), "revenue": round(float(finite_amount.sum()), 2)}]
    returns_mask = np.zeros(len(tx), dtype=bool)
    for rule in RULES:
        matched = rule.matches(tx)
        removed = matched & keep if enabled[rule.name] else np.zeros(len(tx), dtype=bool)
        counts.append(
            RuleCount(
                name=rule.name,
                label=rule.label,
                description=rule.description,
                enabled=enabled[rule.name],
                rows_matched=int(matched.sum()),
                revenue_matched=float(finite_amount[matched].sum()),
                rows_removed=int(removed.sum()),
                revenue_removed=float(finite_amount[removed].sum()),
            )
        )
        if rule.name in RETURN_RULES and enabled[rule.name]:
            # Only lines the cleaning takes out are returns; a line kept in the clean data already lowers the
            # customer's spend, and counting it as a return too would count it twice.
            returns_mask |= matched
        if enabled[rule.name]:
            keep &= ~matched
            bridge.append(
                {
                    "step": f"- {rule.label}",
                    "rows": int(keep.sum()),
                    "revenue": round(float(finite_amount[keep].sum()), 2),
                }
            )
    clean = tx.loc[keep].reset_index(drop=True)
    has_customer = tx[S.CUSTOMER_ID].notna().to_numpy()
    returns = tx.loc[returns_mask & has_customer, [S.CUSTOMER_ID, S.AMOUNT]].reset_index(drop=True)
    report = QualityReport(
        raw_rows=int(len(tx)),
        raw_revenue=float(finite_amount.sum()),
        clean_rows=int(keep.sum()),
        clean_revenue=float(finite_amount[keep].sum()),
        rules=counts,
        bridge=bridge,
        warnings=_warnings(counts, clean),
    )
    if clean.empty:
        raise AnalysisError(
            f"No rows are left after cleaning ({len(tx):,} raw rows); check the column mapping and the rules: "
            + "; ".join(f"{c.label}: {c.rows_removed:,}" for c in counts if c.rows_removed)
            + "."
        )
    return CleanResult(clean=clean, returns=returns, report=report)


def _warnings(counts: list[RuleCount], clean: pd.DataFrame) -> list[str]:
    out = []
    by_name = {c.name: c for c in counts}
    giant = by_name["cancelled_giant_orders"]
    if not giant.enabled and giant.rows_matched:
        out.append(
            f"{giant.rows_matched} purchase line(s) of {GIANT_QUANTITY:,}+ units worth {giant.revenue_matched:,.2f} "
            "were cancelled later but are kept; switch on 'cancelled_giant_orders' to drop them."
        )
    dups = by_name["duplicates"]
    if not dups.enabled and dups.rows_matched:
        out.append(f"{dups.rows_matched:,} rows are exact duplicates of another row and are kept.")
    if not clean.empty and S.CUSTOMER_ID in clean:
        customers = clean[S.CUSTOMER_ID].nunique()
        if customers == 1:
            out.append("Only one customer is left after cleaning: segmentation needs at least two.")
    return out
