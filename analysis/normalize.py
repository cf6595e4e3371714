"""From a raw table with the file's own column names to the canonical schema of ``analysis.schema``.

Three shapes are recognised:

* ``line_items``: order lines with quantity and unit price (amount = quantity x unit price);
* ``orders``: one row per order or payment with an amount column; without an order id an order is
  one customer on one day (the dataset's notes say so);
* ``customers``: one row per customer and no dates, e.g. a CRM export with total spend per customer.

Columns are recognised by name (UCI Online Retail, Online Retail II and generic names); an explicit
``mapping`` (role -> column) overrides the guess.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis import schema as S
from analysis.errors import AnalysisError

# Column names per role, compared after lower-casing and removing everything but letters and digits.
SYNONYMS: dict[str, tuple[str, ...]] = {
    S.ORDER_ID: ("invoiceno", "invoice", "invoiceid", "invoicenumber", "orderid", "orderno", "ordernumber",
                 "order", "transactionid", "transactionno", "receiptid", "ordercode", "basketid"),
    S.CUSTOMER_ID: ("customerid", "customer", "customerno", "customernumber", "custid", "clientid", "client",
                    "userid", "user", "memberid", "buyerid", "accountid", "shopperid"),
    S.ORDER_DATE: ("invoicedate", "orderdate", "date", "transactiondate", "purchasedate", "orderdatetime",
                   "datetime", "timestamp", "createdat", "orderedat", "purchasedat", "time", "saledate"),
    S.QUANTITY: ("quantity", "qty", "units", "unitssold", "itemsquantity", "quantityordered"),
    S.UNIT_PRICE: ("unitprice", "price", "priceeach", "itemprice", "unitcost", "priceperunit", "saleprice"),
    S.AMOUNT: ("amount", "revenue", "total", "totalamount", "ordertotal", "totalprice", "sales",
               "salesamount", "lineamount", "linetotal", "ordervalue", "value", "totalspend", "spend",
               "totalspent", "monetary", "amountspent", "purchaseamount", "grandtotal", "subtotal"),
    S.PRODUCT_ID: ("stockcode", "productid", "sku", "productcode", "itemid", "itemcode", "product", "article"),
    S.DESCRIPTION: ("description", "productname", "itemname", "productdescription", "itemdescription"),
    S.COUNTRY: ("country", "countryname", "countrycode", "shipcountry", "billingcountry"),
}

ORDER_IS_CUSTOMER_DAY = (
    "The file has no order id, so an order is taken to be one customer's purchases on one calendar day."
)


@dataclass
class Dataset:
    """A loaded, normalised table and what was learnt about it.

    ``frame``: canonical transactions (``line_items`` / ``orders``) with the columns of
    :mod:`analysis.schema`, or for ``customers`` one row per customer with ``customer_id`` first and the
    file's other columns under their own names (``mapping["amount"]`` names the spend column, if found).
    """

    frame: pd.DataFrame
    shape: str
    mapping: dict[str, str]
    source: str = "data"
    notes: list[str] = field(default_factory=list)
    raw_rows: int = 0
    raw_columns: list[str] = field(default_factory=list)

    def info(self) -> dict:
        """JSON-ready description: file, shape, rows, columns, mapping (role -> file column), notes."""
        return {
            "file": self.source,
            "shape": self.shape,
            "rows": int(self.raw_rows),
            "columns": list(self.raw_columns),
            "mapping": dict(self.mapping),
            "notes": list(self.notes),
        }


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def detect_mapping(columns: list[str]) -> dict[str, str]:
    """Guess role -> column from column names.

    Each role takes the first synonym (in the order of :data:`SYNONYMS`) that matches a column, and each
    column serves at most one role. Returns only the roles found.
    """
    by_key: dict[str, str] = {}
    for col in columns:
        by_key.setdefault(_key(col), col)
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for role, names in SYNONYMS.items():
        for candidate in names:
            col = by_key.get(candidate)
            if col is not None and col not in used:
                mapping[role] = col
                used.add(col)
                break
    return mapping


def parse_mapping_args(pairs: list[str] | None) -> dict[str, str]:
    """Turn ``["customer_id=Client", ...]`` (command-line ``--map``) into a dict, validating role names."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        role, sep, column = pair.partition("=")
        role, column = role.strip(), column.strip()
        if not sep or not role or not column:
            raise AnalysisError(f"Column mapping '{pair}' should look like role=column, e.g. customer_id=Client.")
        if role not in S.TRANSACTION_ROLES:
            raise AnalysisError(f"Unknown role '{role}' in mapping; roles are: {', '.join(S.TRANSACTION_ROLES)}.")
        mapping[role] = column
    return mapping


def normalize(raw: pd.DataFrame, *, mapping: Mapping[str, str] | None = None, source: str = "data") -> Dataset:
    """Map columns to roles, parse types, and decide the shape.

    Parameters
    ----------
    raw : the file's table as read by :func:`analysis.loading.read_table`.
    mapping : role -> column overrides; a role mapped to ``""`` is forced absent.
    source : file name used in messages.

    Returns
    -------
    Dataset with the canonical frame. Rows are not filtered here (cleaning does that); values that
    cannot be parsed raise :class:`AnalysisError` naming column, row (1-based data row) and value.
    """
    columns = [str(c) for c in raw.columns]
    guessed = detect_mapping(columns)
    explicit = dict(mapping or {})
    for role, col in explicit.items():
        if role not in S.TRANSACTION_ROLES:
            raise AnalysisError(f"Unknown role '{role}' in mapping; roles are: {', '.join(S.TRANSACTION_ROLES)}.")
        if col and col not in columns:
            raise AnalysisError(
                f"Column '{col}' (given for {role}) is not in {source}; its columns are: {', '.join(columns)}.",
                file=source,
                column=col,
            )
    final = {r: c for r, c in guessed.items() if c not in explicit.values() or explicit.get(r) == c}
    final.update(explicit)
    final = {r: c for r, c in final.items() if c}

    if S.CUSTOMER_ID not in final:
        raise AnalysisError(
            f"No customer id column found in {source}; its columns are: {', '.join(columns)}. "
            "Name the column with a mapping such as customer_id=<column>.",
            file=source,
        )
    if S.ORDER_DATE in final:
        return _normalize_transactions(raw, final, source)
    return _normalize_customers(raw, final, source)


def _normalize_transactions(raw: pd.DataFrame, mapping: dict[str, str], source: str) -> Dataset:
    notes: list[str] = []
    has_items = S.QUANTITY in mapping and S.UNIT_PRICE in mapping
    if not has_items and S.AMOUNT not in mapping:
        present = [r for r in (S.QUANTITY, S.UNIT_PRICE) if r in mapping]
        raise AnalysisError(
            f"{source} has no revenue: it needs an amount column, or both quantity and unit price "
            f"(found: {', '.join(mapping[r] for r in present) or 'neither'}). Columns are: {', '.join(raw.columns)}.",
            file=source,
        )
    out = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    out[S.CUSTOMER_ID] = _id_text(raw[mapping[S.CUSTOMER_ID]])
    out[S.ORDER_DATE] = _parse_dates(raw[mapping[S.ORDER_DATE]], mapping[S.ORDER_DATE], source)
    if has_items:
        shape = S.LINE_ITEMS
        out[S.QUANTITY] = _parse_numbers(raw[mapping[S.QUANTITY]], mapping[S.QUANTITY], source)
        out[S.UNIT_PRICE] = _parse_numbers(raw[mapping[S.UNIT_PRICE]], mapping[S.UNIT_PRICE], source)
        out[S.AMOUNT] = out[S.QUANTITY] * out[S.UNIT_PRICE]
        if S.AMOUNT in mapping:
            notes.append(
                f"Line revenue is quantity x unit price; the column '{mapping[S.AMOUNT]}' was not used."
            )
            del mapping[S.AMOUNT]
    else:
        shape = S.ORDERS
        out[S.AMOUNT] = _parse_numbers(raw[mapping[S.AMOUNT]], mapping[S.AMOUNT], source)
        if S.QUANTITY in mapping:
            out[S.QUANTITY] = _parse_numbers(raw[mapping[S.QUANTITY]], mapping[S.QUANTITY], source)
        else:
            # A negative amount is a refund: give it a negative quantity so returns rules see it.
            out[S.QUANTITY] = np.where(out[S.AMOUNT].to_numpy() < 0, -1.0, 1.0)
        out[S.UNIT_PRICE] = out[S.AMOUNT] / out[S.QUANTITY].where(out[S.QUANTITY] != 0)
        notes.append("The file has an amount per row but no quantity x unit price; each row is one purchase.")
    if S.ORDER_ID in mapping:
        out[S.ORDER_ID] = _id_text(raw[mapping[S.ORDER_ID]])
    else:
        day = out[S.ORDER_DATE].dt.strftime("%Y-%m-%d")
        # Date first, so that no customer id can make it look like a cancellation (C...) or adjustment (A...).
        out[S.ORDER_ID] = day.fillna("") + "|" + out[S.CUSTOMER_ID].fillna("guest")
        notes.append(ORDER_IS_CUSTOMER_DAY)
    for role in (S.PRODUCT_ID, S.DESCRIPTION, S.COUNTRY):
        if role in mapping:
            out[role] = _text(raw[mapping[role]])
    ordered = [c for c in S.TRANSACTION_ROLES if c in out.columns]
    return Dataset(
        frame=out[ordered],
        shape=shape,
        mapping=dict(mapping),
        source=source,
        notes=notes,
        raw_rows=len(raw),
        raw_columns=[str(c) for c in raw.columns],
    )


def _normalize_customers(raw: pd.DataFrame, mapping: dict[str, str], source: str) -> Dataset:
    id_col = mapping[S.CUSTOMER_ID]
    ids = _id_text(raw[id_col])
    missing = ids.isna()
    if missing.any():
        row = int(np.flatnonzero(missing.to_numpy())[0]) + 1
        raise AnalysisError(
            f"Column '{id_col}' of {source} has {int(missing.sum())} empty customer ids, first at data row {row}.",
            file=source,
            column=id_col,
            row=row,
        )
    dup = ids.duplicated(keep=False)
    if dup.any():
        first = ids[dup].iloc[0]
        rows = (np.flatnonzero((ids == first).to_numpy())[:2] + 1).tolist()
        raise AnalysisError(
            f"{source} has no order date column, so it was read as one row per customer, but customer id "
            f"'{first}' in column '{id_col}' appears on data rows {rows[0]} and {rows[1]}. If this is a "
            "transactions file, map its date column (order_date=<column>).",
            file=source,
            column=id_col,
            row=rows[1],
        )
    out = raw.copy()
    out.insert(0, S.CUSTOMER_ID, ids)
    out = out.drop(columns=[id_col])
    kept = {S.CUSTOMER_ID: id_col}
    if S.AMOUNT in mapping:
        # The spend column keeps its own name (users pick features by it); the mapping says which it is.
        col = mapping[S.AMOUNT]
        out[col] = _parse_numbers(raw[col], col, source)
        kept[S.AMOUNT] = col
    for col in out.columns:
        if col in kept.values() or col == S.CUSTOMER_ID:
            continue
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            lowered = out[col].astype("string").str.strip().str.lower()
            if lowered.dropna().isin(["true", "false"]).all() and lowered.notna().any():
                out[col] = lowered.map({"true": True, "false": False}).astype("boolean")
    notes = [
        "One row per customer and no order dates: purchase frequency, repeat rate, seasonality and "
        "cohorts cannot be computed from this file."
    ]
    return Dataset(
        frame=out.reset_index(drop=True),
        shape=S.CUSTOMERS,
        mapping=kept,
        source=source,
        notes=notes,
        raw_rows=len(raw),
        raw_columns=[str(c) for c in raw.columns],
    )


def _text(values: pd.Series) -> pd.Series:
    """Strings with surrounding white space removed and empty strings as missing."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = pd.Series(values.cat.categories).astype("str").str.strip()
        values = values.cat.rename_categories(cats.to_numpy()) if cats.is_unique else values.astype("str")
        return values.astype("str").replace("", pd.NA)
    out = values.astype("str").str.strip()
    out = out.where(values.notna())
    return out.replace("", pd.NA)


def _id_text(values: pd.Series) -> pd.Series:
    """Ids as text; integral floats lose their ``.0`` (17850.0 -> "17850")."""
    if pd.api.types.is_float_dtype(values):
        finite = values.dropna()
        if (finite == np.floor(finite)).all():
            return values.astype("Int64").astype("str").where(values.notna())
    if pd.api.types.is_integer_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.astype("str")
    return _text(values)


def _first_bad(original: pd.Series, parsed: pd.Series) -> tuple[int, int, object]:
    bad = original.notna().to_numpy() & parsed.isna().to_numpy()
    if isinstance(original.dtype, object) or pd.api.types.is_string_dtype(original):
        blank = original.astype("str").str.strip().eq("").fillna(False).to_numpy()
        bad &= ~blank
    positions = np.flatnonzero(bad)
    if len(positions) == 0:
        return 0, 0, None
    return len(positions), int(positions[0]) + 1, original.iloc[positions[0]]


def _parse_dates(values: pd.Series, column: str, source: str) -> pd.Series:
    """Parse a date column; raise naming the first value that is not a date."""
    if pd.api.types.is_datetime64_any_dtype(values):
        out = values
    else:
        text = values if pd.api.types.is_string_dtype(values) else values.astype("str").where(values.notna())
        out = None
        attempts = ({"format": "ISO8601"}, {"format": "ISO8601", "utc": True}, {}, {"dayfirst": True},
                    {"format": "mixed"}, {"format": "mixed", "utc": True})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pandas' "could not infer format" chatter
            for kwargs in attempts:
                try:
                    out = pd.to_datetime(text, errors="raise", **kwargs)
                    break
                except (ValueError, TypeError, OverflowError):
                    continue
            if out is None:
                out = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
                count, row, value = _first_bad(text, out)
                raise AnalysisError(
                    f"Column '{column}' of {source} has {count:,} values that are not dates, first at data row "
                    f"{row}: {value!r}.",
                    file=source,
                    column=column,
                    row=row,
                )
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out.astype("datetime64[ns]")


_CURRENCY = re.compile(r"[£$€¥₹\s]|(?<=\d),(?=\d{3}(?:\D|$))")


def _parse_numbers(values: pd.Series, column: str, source: str) -> pd.Series:
    """Parse a numeric column (currency signs and thousands separators allowed); raise on text."""
    if pd.api.types.is_bool_dtype(values):
        raise AnalysisError(f"Column '{column}' of {source} holds true/false values, not numbers.",
                            file=source, column=column)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    text = values.astype("str").where(values.notna())
    cleaned = text.str.replace(_CURRENCY, "", regex=True)
    cleaned = cleaned.str.replace(r"^\((.*)\)$", r"-\1", regex=True)  # accounting negatives
    parsed = pd.to_numeric(cleaned, errors="coerce")
    count, row, value = _first_bad(text, parsed)
    if count:
        raise AnalysisError(
            f"Column '{column}' of {source} should hold numbers but has {count:,} non-numeric values, first at "
            f"data row {row}: {value!r}.",
            file=source,
            column=column,
            row=row,
        )
    return parsed.astype("float64")
