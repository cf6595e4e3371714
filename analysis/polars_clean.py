"""The cleaning rules of :mod:`analysis.cleaning` on a canonical polars table.

:func:`clean_transactions` gives what :func:`analysis.cleaning.clean_transactions` gives for the same rows
(the same clean rows in the same order, the same return lines, and a :class:`~analysis.cleaning.QualityReport`
with the same rule counts, bridge and warnings; revenues are the same sums, added in another order, so they
may differ in the last bits of a float). The rules, their names, labels, defaults and warnings are the ones of
:mod:`analysis.cleaning`; only the row masks are computed here, all in one polars query.

Input: a canonical table as :func:`analysis.polars_load.canonical` makes it (text String, dates Datetime[ns],
numbers Float64, missing values null, never NaN).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl

from analysis import schema as S
from analysis.cleaning import (
    GIANT_QUANTITY,
    NON_PRODUCT_CODES,
    RETURN_RULES,
    RULES,
    QualityReport,
    RuleCount,
    _warnings,
    resolve_rules,
)
from analysis.polars_load import Unsupported

# Every rule's mask depends on the data only (which rules are enabled decides what is removed, not what each
# rule matches), so the masks of a dataset can be computed once, kept as one integer per row (bit i: RULES[i]
# matches) and reused by every later cleaning of it, with any rules switched on or off. The name of that column
# carries a signature of the rules and their parameters: bits stored under another name are stale and ignored.
# Change RULE_MASKS_VERSION when the logic of a mask changes.
RULE_MASKS_VERSION = 1
RULE_BITS = "__rule_bits_" + hashlib.sha256(json.dumps(
    [RULE_MASKS_VERSION, [r.name for r in RULES], GIANT_QUANTITY, sorted(NON_PRODUCT_CODES)]).encode()).hexdigest()[:12]


@dataclass
class PolarsCleanResult:
    clean: pl.DataFrame  # canonical transactions kept, in file order
    returns: pl.DataFrame  # removed return / cancellation lines with a customer id (customer_id, amount)
    report: QualityReport
    rule_bits: pl.Series  # UInt16 per row of the input (see rule_bits), named RULE_BITS


def rule_bits(masks: Mapping[str, pl.Series]) -> pl.Series:
    """The rule masks of :func:`rule_masks` as one UInt16 per row, named :data:`RULE_BITS` (bit i: RULES[i])."""
    bits = pl.select(pl.sum_horizontal(
        masks[r.name].cast(pl.UInt16) * (1 << i) for i, r in enumerate(RULES)).cast(pl.UInt16)).to_series()
    return bits.alias(RULE_BITS)


def masks_from_bits(bits: pl.Series) -> dict[str, pl.Series]:
    """The inverse of :func:`rule_bits`."""
    return {r.name: (bits & (1 << i)) != 0 for i, r in enumerate(RULES)}


def clean_transactions(tx: pl.DataFrame, *, rules: Mapping[str, bool] | None = None,
                       bits: pl.Series | None = None) -> PolarsCleanResult:
    """Apply the enabled rules of :data:`analysis.cleaning.RULES` in order and count every rule.

    ``bits``: the :func:`rule_bits` of ``tx`` computed before (e.g. stored with the dataset at ingest); the
    masks are then read from them instead of being computed. Bits under another name (another rules'
    signature), of another length or of another dtype are ignored.

    Raises :class:`~analysis.polars_load.Unsupported` when nothing is left (the pandas path words that error).
    """
    enabled = resolve_rules(rules)
    if not (bits is not None and bits.name == RULE_BITS and bits.len() == tx.height and bits.dtype == pl.UInt16
            and bits.null_count() == 0):
        bits = rule_bits(rule_masks(tx))
    # Every count and sum of the report is a sum over the rows' bit patterns (at most a few dozen distinct ones):
    # one group-by of the bits instead of a filtered sum per rule and step.
    amount = tx[S.AMOUNT]
    value = pl.select(pl.when(amount.is_finite().fill_null(False)).then(amount).otherwise(0.0)).to_series()
    patterns = (pl.DataFrame([bits.alias("bits"), value.alias("value")]).group_by("bits")
                .agg(pl.len().alias("rows"), pl.col("value").sum()).sort("bits"))
    table = list(zip(patterns["bits"].to_list(), patterns["rows"].to_list(), patterns["value"].to_list(),
                     strict=True))

    def total(test) -> tuple[int, float]:
        hits = [(n, v) for b, n, v in table if test(b)]
        return sum(n for n, _ in hits), math.fsum(v for _, v in hits)

    raw_rows, raw_revenue = total(lambda b: True)
    counts, bridge, removed_bits = [], [{"step": "Raw data", "rows": raw_rows, "revenue": round(raw_revenue, 2)}], 0
    clean_rows, clean_revenue = raw_rows, raw_revenue
    for i, rule in enumerate(RULES):
        on, bit = enabled[rule.name], 1 << i
        rows_matched, revenue_matched = total(lambda b, bit=bit: b & bit)
        rows_removed, revenue_removed = 0, 0.0
        if on:
            rows_removed, revenue_removed = total(lambda b, bit=bit, before=removed_bits: b & bit and not b & before)
            removed_bits |= bit
            clean_rows, clean_revenue = total(lambda b, gone=removed_bits: not b & gone)
            bridge.append({"step": f"- {rule.label}", "rows": clean_rows, "revenue": round(clean_revenue, 2)})
        counts.append(RuleCount(name=rule.name, label=rule.label, description=rule.description, enabled=on,
                                rows_matched=rows_matched, revenue_matched=revenue_matched,
                                rows_removed=rows_removed, revenue_removed=revenue_removed))
    return_bits = sum(1 << i for i, r in enumerate(RULES) if r.name in RETURN_RULES and enabled[r.name])
    if clean_rows == 0:
        raise Unsupported("nothing left after cleaning")
    clean = tx.filter((bits & removed_bits) == 0) if removed_bits else tx
    returns = tx.filter(((bits & return_bits) != 0) & tx[S.CUSTOMER_ID].is_not_null()).select(S.CUSTOMER_ID,
                                                                                               S.AMOUNT)
    customers = _two_customers(clean[S.CUSTOMER_ID])
    report = QualityReport(
        raw_rows=raw_rows,
        raw_revenue=raw_revenue,
        clean_rows=clean_rows,
        clean_revenue=clean_revenue,
        rules=counts,
        bridge=bridge,
        # _warnings only asks the clean table how many customers it has (none, one or more)
        warnings=_warnings(counts, pd.DataFrame({S.CUSTOMER_ID: pd.Series(customers, dtype="str")}).reindex(
            range(max(len(customers), 1)))),
    )
    return PolarsCleanResult(clean=clean, returns=returns, report=report, rule_bits=bits.alias(RULE_BITS))


def _two_customers(ids: pl.Series) -> list[str]:
    """Up to two distinct customer ids of ``ids`` (the first one and another), without a pass over distinct values."""
    present = ids.drop_nulls()
    if present.len() == 0:
        return []
    first = present[0]
    other = present.filter(present != first)
    return [first] if other.len() == 0 else [first, other[0]]


def rule_masks(tx: pl.DataFrame) -> dict[str, pl.Series]:
    """Rule name -> boolean mask (length ``tx.height``, no nulls) of the rows the rule matches on ``tx``.

    The duplicate rows and the product / description masks are found on two more threads while this one tests
    the order ids; polars releases the GIL."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        duplicates = pool.submit(duplicated, tx)
        text = pool.submit(_product_and_description_masks, tx)
        try:
            return _rule_masks(tx, duplicates, text)
        finally:
            duplicates.cancel()
            text.cancel()


def _product_and_description_masks(tx: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """(description says "adjust bad debt", product id is a non-product code), each False where missing."""
    none = pl.repeat(False, tx.height, eager=True)
    debt = products = none
    if S.DESCRIPTION in tx.columns:
        debt = TextColumn(tx[S.DESCRIPTION]).mask(
            lambda t: t.str.to_lowercase().str.contains("adjust bad debt", literal=True))
    if S.PRODUCT_ID in tx.columns:
        codes = sorted(NON_PRODUCT_CODES)
        products = TextColumn(tx[S.PRODUCT_ID]).mask(lambda t: t.str.to_uppercase().is_in(codes))
    return debt, products


def _rule_masks(tx: pl.DataFrame, duplicates: Future, text: Future) -> dict[str, pl.Series]:
    q, amount = pl.col(S.QUANTITY), pl.col(S.AMOUNT)
    none = pl.repeat(False, tx.height, eager=True)
    m = tx.select(**{
        "missing_values": pl.col(S.ORDER_DATE).is_null() | ~amount.is_finite().fill_null(False),
        "missing_customer_id": pl.col(S.CUSTOMER_ID).is_null(),
        "non_positive_quantity": (q <= 0).fill_null(False),
        "non_positive_price": (pl.coalesce(pl.col(S.UNIT_PRICE), amount) <= 0).fill_null(False),
        "_q_neg": (q < 0).fill_null(False),
        "_a_neg": (amount < 0).fill_null(False),
    })
    order = TextColumn(tx[S.ORDER_ID])
    numeric = order.mask(lambda t: t.str.contains("^[0-9]"))
    present = tx[S.ORDER_ID].is_not_null()
    numeric_share = float(numeric.filter(present).mean()) if present.any() else 0.0

    def prefix(letter: str, negative: pl.Series) -> pl.Series:
        mask = order.mask(lambda t: t.str.contains(f"^[{letter}{letter.lower()}][0-9]"))
        if not mask.any() or numeric_share > 0.5:
            return mask
        if negative.filter(mask).mean() > 0.5:
            return mask
        return none

    out = {name: m[name] for name in ("missing_values", "missing_customer_id", "non_positive_quantity",
                                      "non_positive_price")}
    out["cancellations"] = prefix("C", m["_q_neg"])
    bad_debt = prefix("A", m["_a_neg"])
    debt, out["non_product_codes"] = text.result()
    out["bad_debt"] = bad_debt | debt
    out["duplicates"] = duplicates.result()
    out["cancelled_giant_orders"] = cancelled_giant_purchases(tx, out["cancellations"])
    return {r.name: out[r.name].alias(r.name) for r in RULES}


class TextColumn:
    """A text column whose values are computed on once per distinct value when it is categorical (the results
    are then looked up by category code)."""

    def __init__(self, values: pl.Series) -> None:
        self.values = values
        if values.dtype == pl.Categorical:
            self.codes = values.to_physical()
            distinct = values.drop_nulls().unique()
            self.distinct_codes = distinct.to_physical().to_numpy()
            self.distinct = distinct.cast(pl.String)
            self.size = int(self.distinct_codes.max()) + 1 if len(self.distinct_codes) else 1

    def apply(self, function) -> pl.Series:
        """``function`` (String Series -> Series of the same length, numbers or booleans) of every value; missing
        values give null for a categorical column, whatever ``function`` gives for null otherwise."""
        if self.values.dtype != pl.Categorical:
            return function(self.values)
        return self._by_code(function(self.distinct).to_numpy())

    def mask(self, test) -> pl.Series:
        """``test`` (String Series -> Boolean Series) of every value; missing values False."""
        if self.values.dtype != pl.Categorical:
            return test(self.values).fill_null(False)
        hit = test(self.distinct).fill_null(False).to_numpy()
        if not hit.any():
            return pl.repeat(False, self.values.len(), eager=True)
        return self._by_code(hit).fill_null(False)

    def _by_code(self, per_distinct: np.ndarray) -> pl.Series:
        table = np.zeros(self.size, dtype=per_distinct.dtype)
        table[self.distinct_codes] = per_distinct
        return pl.Series(table).gather(self.codes)


def _row_keys(tx: pl.DataFrame, *, packed: bool = True) -> pl.Series:
    """A UInt64 per row, equal for equal rows (unequal rows may share one).

    ``packed`` and order and product ids both categorical: their two 32-bit codes side by side (no hashing). Else
    a hash of every column but customer id and description (categorical ones by their codes, which stand for
    distinct strings), one column at a time so that only three 8-byte columns are alive at once."""
    order, product = tx.schema.get(S.ORDER_ID), tx.schema.get(S.PRODUCT_ID)
    if packed and order == pl.Categorical and product == pl.Categorical:
        codes = [tx[c].to_physical().cast(pl.UInt64).fill_null(2**32 - 1) for c in (S.ORDER_ID, S.PRODUCT_ID)]
        return (codes[0] * 2**32) | codes[1]
    cheap = [c for c in tx.columns if c not in (S.CUSTOMER_ID, S.DESCRIPTION)]
    key = [pl.col(c).to_physical() if tx.schema[c] == pl.Categorical else pl.col(c) for c in cheap]
    hashes = tx.select(key[0].hash(seed=0)).to_series()
    for i, k in enumerate(key[1:], start=1):
        hashes = (hashes * 1_000_003) ^ tx.select(k.hash(seed=i)).to_series()
    return hashes


_MAX_CANDIDATE_SHARE = 0.02


def _candidates(keys: pl.Series) -> pl.Series | None:
    """Boolean mask of the rows whose key occurs more than once; None when every key is unique."""
    ordered = keys.sort()
    repeated = ordered.filter(ordered == ordered.shift(1)).unique()
    return keys.is_in(repeated.implode()) if repeated.len() else None


def duplicated(tx: pl.DataFrame) -> pl.Series:
    """Rows equal in every column to an earlier row (pandas ``duplicated(keep="first")``).

    Rows with a key (:func:`_row_keys`) that occurs twice are candidates, compared value by value in every
    column. When the cheap packed key leaves more than :data:`_MAX_CANDIDATE_SHARE` of the rows as candidates
    (e.g. no product ids, or products repeated within orders), the rows are keyed again by a hash of every column.
    """
    hashes = _row_keys(tx)
    candidates = _candidates(hashes)
    if candidates is not None and candidates.sum() > max(1_000, _MAX_CANDIDATE_SHARE * tx.height):
        hashes = _row_keys(tx, packed=False)
        candidates = _candidates(hashes)
    mask = np.zeros(tx.height, dtype=bool)
    if candidates is not None:
        rows = candidates.arg_true().to_numpy()
        first = tx.filter(candidates).select(pl.struct(pl.all()).is_first_distinct()).to_series().to_numpy()
        mask[rows[~first]] = True
    return pl.Series("duplicates", mask)


def cancelled_giant_purchases(tx: pl.DataFrame, cancellations: pl.Series, *,
                              min_quantity: float = GIANT_QUANTITY) -> pl.Series:
    """As :func:`analysis.cleaning.cancelled_giant_purchases`, given the cancellation mask."""
    q = tx[S.QUANTITY]
    big = (q >= min_quantity).fill_null(False)
    none = pl.repeat(False, tx.height, eager=True)
    if not big.any():
        return none
    keys = [S.CUSTOMER_ID, S.PRODUCT_ID] if S.PRODUCT_ID in tx.columns else [S.CUSTOMER_ID]
    undo = tx.filter(cancellations & (q <= -min_quantity).fill_null(False))
    if undo.height == 0:
        return none
    buys = tx.with_row_index("_row").filter(big).select(["_row", *keys, S.QUANTITY, S.ORDER_DATE])
    undo = undo.select([*keys, (-pl.col(S.QUANTITY)).alias(S.QUANTITY), pl.col(S.ORDER_DATE).alias("_cancel")])
    pairs = buys.join(undo, on=[*keys, S.QUANTITY], how="inner", nulls_equal=True)
    rows = pairs.filter(pl.col("_cancel") >= pl.col(S.ORDER_DATE))["_row"].unique().to_numpy()
    mask = np.zeros(tx.height, dtype=bool)
    mask[rows] = True
    return pl.Series(mask)
