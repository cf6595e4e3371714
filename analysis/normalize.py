"""From a raw table with the file's own column names to the canonical schema of ``analysis.schema``.

Three shapes are recognised:

* ``line_items``: order lines with quantity and unit price (amount = quantity x unit price);
* ``orders``: one row per order or payment with an amount column; without an order id an order is
  one customer on one day (the dataset's notes say so);
* ``customers``: one row per customer and no dates, e.g. a CRM export with total spend per customer.

Columns are recognised by name (UCI Online Retail, Online Retail II, generic English and common German
names); an explicit ``mapping`` (role -> column) overrides the guess.

Text is parsed by role: ids stay text value by value (``007`` keeps its zeros, ``17850.0`` becomes
``17850``), numbers accept currency signs, thousands separators and the file's decimal separator
(``1.234,50`` in a decimal-comma file), and dates that read both day first and month first follow
``dayfirst`` or a documented default, with a note in the dataset.
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
                 "order", "transactionid", "transactionno", "receiptid", "ordercode", "basketid",
                 "bestellung", "bestellnr", "bestellnummer", "rechnungsnr", "rechnungsnummer"),
    S.CUSTOMER_ID: ("customerid", "customer", "customerno", "customernumber", "custid", "clientid", "client",
                    "userid", "user", "memberid", "buyerid", "accountid", "shopperid", "kunde", "kundennr",
                    "kundennummer", "kundenid"),
    S.ORDER_DATE: ("invoicedate", "orderdate", "date", "transactiondate", "purchasedate", "orderdatetime",
                   "datetime", "timestamp", "createdat", "orderedat", "purchasedat", "time", "saledate", "datum",
                   "bestelldatum", "rechnungsdatum"),
    S.QUANTITY: ("quantity", "qty", "units", "unitssold", "itemsquantity", "quantityordered"),
    S.UNIT_PRICE: ("unitprice", "price", "priceeach", "itemprice", "unitcost", "priceperunit", "saleprice"),
    S.AMOUNT: ("amount", "revenue", "total", "totalamount", "ordertotal", "totalprice", "sales",
               "salesamount", "lineamount", "linetotal", "ordervalue", "value", "totalspend", "spend",
               "totalspent", "monetary", "amountspent", "purchaseamount", "grandtotal", "subtotal", "betrag", "umsatz",
               "gesamtbetrag"),
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
    A customer-level column named like a result column (``customer_id`` when it is not the id,
    ``segment``, ``segment_name``, ``rfm_segment``) gets the suffix ``_in_file``, and a note says so.
    Text columns of a customer-level file that hold only numbers (in the file's decimal convention) or
    only true/false become numeric / boolean.
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


def column_list(columns, limit: int = 30) -> str:
    """Column names for a message, comma-separated; past ``limit`` names the rest are counted, not listed (a
    message about a file with 100,000 columns stays one readable line). Long names are shortened."""
    names = [str(c) if len(str(c)) <= 60 else str(c)[:57] + "..." for c in list(columns)[: limit + 1]]
    total = len(columns)
    if total <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f" and {total - limit:,} more"


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


def normalize(
    raw: pd.DataFrame,
    *,
    mapping: Mapping[str, str] | None = None,
    source: str = "data",
    dayfirst: bool | None = None,
    decimal: str | None = None,
) -> Dataset:
    """Map columns to roles, parse types, and decide the shape.

    Parameters
    ----------
    raw : the file's table as read by :func:`analysis.loading.read_table`.
    mapping : role -> column overrides; a role mapped to ``""`` is forced absent. An explicit mapping always
        wins over the guess (an explicit ``amount`` is the line revenue even when quantity and unit price exist).
    source : file name used in messages.
    dayfirst : how to read dates such as ``05.01.2023`` that are valid either way: True = day first,
        False = month first, None = decide: day first for ``.``-separated dates and for files with a decimal
        comma, month first otherwise. When a column could be read both ways the dataset's notes say which
        reading was used and how to override it.
    decimal : the decimal separator of text numbers, ``"."`` or ``","``; default ``raw.attrs["decimal"]`` (set by
        ``read_table`` for text files), else ``"."``. With ``","`` a ``.`` between digit groups is a thousands
        separator (``1.234,50``); with ``"."`` a ``,`` is.

    Returns
    -------
    Dataset with the canonical frame. Rows are not filtered here (cleaning does that); values that
    cannot be parsed raise :class:`AnalysisError` naming column, row (1-based data row) and value.
    """
    decimal = decimal or raw.attrs.get("decimal", ".")
    if decimal not in (".", ","):
        raise AnalysisError(f"The decimal separator must be '.' or ',', not {decimal!r}.")
    if dayfirst is not None and not isinstance(dayfirst, (bool, np.bool_)):
        raise AnalysisError(f"dayfirst must be True, False or None, not {dayfirst!r}.")
    columns = [str(c) for c in raw.columns]
    guessed = detect_mapping(columns)
    explicit = dict(mapping or {})
    for role, col in explicit.items():
        if role not in S.TRANSACTION_ROLES:
            raise AnalysisError(f"Unknown role '{role}' in mapping; roles are: {', '.join(S.TRANSACTION_ROLES)}.")
        if col and col not in columns:
            raise AnalysisError(
                f"Column '{col}' (given for {role}) is not in {source}; its columns are: {column_list(columns)}.",
                file=source,
                column=col,
            )
    final = {r: c for r, c in guessed.items() if c not in explicit.values() or explicit.get(r) == c}
    final.update(explicit)
    final = {r: c for r, c in final.items() if c}

    if S.CUSTOMER_ID not in final:
        message = (
            f"No customer id column found in {source}; its columns are: {column_list(columns)}. "
            "Name the column with a mapping such as customer_id=<column>."
        )
        sheets = raw.attrs.get("sheets") or []
        if len(sheets) > 1:
            message += (
                f" This is sheet '{raw.attrs.get('sheet', sheets[0])}' of a workbook with the sheets "
                f"{', '.join(repr(str(s)) for s in sheets)}; if the data is on another sheet, choose it with "
                "--sheet NAME."
            )
        raise AnalysisError(message, file=source)
    parser = _Parser(source, decimal=decimal, dayfirst=dayfirst)
    if S.ORDER_DATE in final:
        return _normalize_transactions(raw, final, parser, explicit={r for r, c in explicit.items() if c})
    return _normalize_customers(raw, final, parser)


class _Parser:
    """Parses columns with the file's conventions and collects notes about choices it made."""

    def __init__(self, source: str, *, decimal: str = ".", dayfirst: bool | None = None) -> None:
        self.source = source
        self.decimal = decimal
        self.dayfirst = dayfirst
        self.notes: list[str] = []

    def numbers(self, values: pd.Series, column: str) -> pd.Series:
        return _parse_numbers(values, column, self.source, decimal=self.decimal)

    def dates(self, values: pd.Series, column: str) -> pd.Series:
        out, note = _parse_dates(values, column, self.source, dayfirst=self.dayfirst,
                                 prefer_dayfirst=self.decimal == ",")
        if note:
            self.notes.append(note)
        return out


def _normalize_transactions(raw: pd.DataFrame, mapping: dict[str, str], parser: _Parser, *,
                            explicit: set[str] = frozenset()) -> Dataset:
    source = parser.source
    notes: list[str] = []
    has_items = S.QUANTITY in mapping and S.UNIT_PRICE in mapping
    if not has_items and S.AMOUNT not in mapping:
        present = [r for r in (S.QUANTITY, S.UNIT_PRICE) if r in mapping]
        raise AnalysisError(
            f"{source} has no revenue: it needs an amount column, or both quantity and unit price "
            f"(found: {', '.join(mapping[r] for r in present) or 'neither'}). Columns are: {column_list(raw.columns)}.",
            file=source,
        )
    out = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    out[S.CUSTOMER_ID] = _id_text(raw[mapping[S.CUSTOMER_ID]])
    out[S.ORDER_DATE] = parser.dates(raw[mapping[S.ORDER_DATE]], mapping[S.ORDER_DATE])
    if has_items:
        shape = S.LINE_ITEMS
        out[S.QUANTITY] = parser.numbers(raw[mapping[S.QUANTITY]], mapping[S.QUANTITY])
        out[S.UNIT_PRICE] = parser.numbers(raw[mapping[S.UNIT_PRICE]], mapping[S.UNIT_PRICE])
        if S.AMOUNT in mapping and S.AMOUNT in explicit:
            # The user said which column is the revenue: it wins over quantity x unit price.
            out[S.AMOUNT] = parser.numbers(raw[mapping[S.AMOUNT]], mapping[S.AMOUNT])
            notes.append(
                f"Line revenue is the column '{mapping[S.AMOUNT]}' (mapped to amount), not quantity x unit price."
            )
        else:
            out[S.AMOUNT] = out[S.QUANTITY] * out[S.UNIT_PRICE]
            if S.AMOUNT in mapping:
                notes.append(
                    f"Line revenue is quantity x unit price; the column '{mapping[S.AMOUNT]}' was not used "
                    f"(map it with amount={mapping[S.AMOUNT]} to use it instead)."
                )
                del mapping[S.AMOUNT]
    else:
        shape = S.ORDERS
        out[S.AMOUNT] = parser.numbers(raw[mapping[S.AMOUNT]], mapping[S.AMOUNT])
        if S.QUANTITY in mapping:
            out[S.QUANTITY] = parser.numbers(raw[mapping[S.QUANTITY]], mapping[S.QUANTITY])
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
        notes=notes + parser.notes,
        raw_rows=len(raw),
        raw_columns=[str(c) for c in raw.columns],
    )


# Column names the results of a customer-level analysis add next to the file's own columns (membership:
# customer_id, segment, segment_name, rfm_segment). A file column with one of these names (other than the id
# column itself) is renamed with this suffix so that results never overwrite or collide with it.
RESERVED_CUSTOMER_COLUMNS = (S.CUSTOMER_ID, "segment", "segment_name", "rfm_segment")
RENAMED_SUFFIX = "_in_file"


def _normalize_customers(raw: pd.DataFrame, mapping: dict[str, str], parser: _Parser) -> Dataset:
    source = parser.source
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
    out = raw.drop(columns=[id_col])
    out.columns = [str(c) for c in out.columns]
    notes = [
        "One row per customer and no order dates: purchase frequency, repeat rate, seasonality and "
        "cohorts cannot be computed from this file."
    ]
    renamed: dict[str, str] = {}
    for col in out.columns:
        if col in RESERVED_CUSTOMER_COLUMNS:
            new = col + RENAMED_SUFFIX
            while new in out.columns or new in renamed.values():
                new += "_"
            renamed[col] = new
            notes.append(f"The column '{col}' is called '{new}' here, because the results use the name '{col}'.")
    out = out.rename(columns=renamed)
    out.insert(0, S.CUSTOMER_ID, ids.to_numpy())
    kept = {S.CUSTOMER_ID: id_col}
    if S.AMOUNT in mapping:
        # The spend column keeps its own name (users pick features by it); the mapping says which it is.
        col = renamed.get(mapping[S.AMOUNT], mapping[S.AMOUNT])
        out[col] = parser.numbers(raw[mapping[S.AMOUNT]], mapping[S.AMOUNT])
        kept[S.AMOUNT] = col
    for col in out.columns:
        if col in kept.values() or col == S.CUSTOMER_ID:
            continue
        values = out[col]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values)):
            continue
        lowered = values.astype("string").str.strip().str.lower()
        if lowered.dropna().isin(["true", "false"]).all() and lowered.notna().any():
            out[col] = lowered.map({"true": True, "false": False}).astype("boolean")
            continue
        numbers = _try_numbers(values, parser.decimal)
        if numbers is not None:
            out[col] = numbers
    notes += _infinite_as_missing(out)
    return Dataset(
        frame=out.reset_index(drop=True),
        shape=S.CUSTOMERS,
        mapping=kept,
        source=source,
        notes=notes + parser.notes,
        raw_rows=len(raw),
        raw_columns=[str(c) for c in raw.columns],
    )


def _infinite_as_missing(frame: pd.DataFrame) -> list[str]:
    """Set infinite values of the numeric columns of a customer-level table to missing (in place), as
    transactions' cleaning does with infinite amounts; one note per column that had any."""
    notes = []
    for col in frame.columns:
        values = frame[col]
        if not pd.api.types.is_float_dtype(values):
            continue
        infinite = np.isinf(values.to_numpy(dtype="float64", na_value=np.nan))
        if infinite.any():
            frame[col] = values.mask(infinite)
            row = int(np.flatnonzero(infinite)[0]) + 1
            notes.append(f"Column '{col}' has {int(infinite.sum()):,} infinite values (first at data row {row}); "
                         "they are treated as missing.")
    return notes


def _try_numbers(values: pd.Series, decimal: str) -> pd.Series | None:
    """The column as numbers when every non-empty value is one (int64 when all are whole and none is
    missing, else float64), otherwise None (it is text)."""
    text = values.astype("str").where(values.notna())
    present = text.notna() & text.str.strip().ne("")
    if not present.any():
        return None
    parsed = _to_numbers(text, decimal)
    if parsed[present].isna().any():
        return None
    parsed = parsed.where(present).astype("float64")
    finite = parsed.dropna()
    if len(finite) == len(parsed) and np.isfinite(finite).all() and (finite == np.floor(finite)).all():
        if finite.abs().max() < 2**53:
            return parsed.astype("int64")
    return parsed


def _text(values: pd.Series) -> pd.Series:
    """Strings with surrounding white space removed and empty strings as missing."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = pd.Series(values.cat.categories).astype("str").str.strip()
        values = values.cat.rename_categories(cats.to_numpy()) if cats.is_unique else values.astype("str")
        return values.astype("str").replace("", pd.NA)
    out = values.astype("str").str.strip()
    out = out.where(values.notna())
    return out.replace("", pd.NA)


_WHOLE_NUMBER_TEXT = r"[-+]?\d+\.0+"


def _id_text(values: pd.Series) -> pd.Series:
    """Ids as text, value by value: whole numbers lose a ``.0`` (17850.0 -> "17850") while other values keep
    their digits (12583.5 stays "12583.5"; the text "007" stays "007")."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("str").where(values.notna())
    if pd.api.types.is_integer_dtype(values):
        return values.astype("str").where(values.notna())
    if pd.api.types.is_float_dtype(values):
        v = values.to_numpy(dtype="float64", na_value=np.nan)
        whole = np.isfinite(v) & (v == np.floor(v)) & (np.abs(v) < 2**63)
        out = pd.Series(values.astype("str").to_numpy(dtype=object), index=values.index)
        out[whole] = v[whole].astype(np.int64).astype("str")
        return out.where(values.notna())
    out = _text(values)
    whole = out.str.fullmatch(_WHOLE_NUMBER_TEXT).fillna(False).to_numpy(dtype=bool)
    if whole.any():
        out = out.copy()
        # no back-reference in the replacement, so Arrow-backed strings stay vectorised
        out[whole] = out[whole].str.replace(r"\.0+$", "", regex=True)
    return out


def _first_bad(original: pd.Series, parsed: pd.Series) -> tuple[int, int, object]:
    """(count, 1-based data row of the first, its value) of values present in ``original`` but not parsed.
    Blank text cells count as missing, not as bad."""
    bad = original.notna().to_numpy() & parsed.isna().to_numpy()
    if original.dtype == object or pd.api.types.is_string_dtype(original):
        blank = original.astype("str").str.strip().eq("").fillna(False).to_numpy(dtype=bool)
        bad &= ~blank
    positions = np.flatnonzero(bad)
    if len(positions) == 0:
        return 0, 0, None
    return len(positions), int(positions[0]) + 1, original.iloc[positions[0]]


_DOTTED_DATE = re.compile(r"^\s*\d{1,2}\.\d{1,2}\.\d{2,4}\b")


def _to_datetime(text: pd.Series, kwargs: dict) -> pd.Series | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pandas' "could not infer format" chatter
            return pd.to_datetime(text, errors="raise", **kwargs)
    except (ValueError, TypeError, OverflowError):
        return None


# The dates a canonical column (datetime64[ns]) can hold.
_EARLIEST, _LATEST = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")


def _naive(out: pd.Series, original: pd.Series | None = None, column: str = "", source: str = "") -> pd.Series:
    """Naive UTC datetime64[ns]; a date outside what that holds (years 1678 to 2261) raises
    :class:`AnalysisError` naming the column, the row and the value as written in ``original``."""
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    try:
        return out.astype("datetime64[ns]")
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        pass
    outside = ((out < _EARLIEST) | (out > _LATEST)).fillna(False).to_numpy(dtype=bool)
    positions = np.flatnonzero(outside)
    i = int(positions[0]) if len(positions) else 0
    shown = (original if original is not None else out).iloc[i]
    raise AnalysisError(
        f"Column '{column}' of {source} has {len(positions):,} dates outside the years {_EARLIEST.year + 1} to "
        f"{_LATEST.year - 1}, first at data row {i + 1}: {str(shown)!r}. Fix or remove those rows.",
        file=source,
        column=column,
        row=i + 1,
    )


def _parse_dates(values: pd.Series, column: str, source: str, *, dayfirst: bool | None = None,
                 prefer_dayfirst: bool = False) -> tuple[pd.Series, str | None]:
    """Parse a date column; raise naming the first value that is not a date.

    ISO dates (``2023-01-05``) are read as such. Other dates are tried both day first and month first
    (one format for the whole column, then, if that fails, value by value). ``dayfirst`` True / False forces
    a reading. Otherwise a column that only one reading accepts gets that reading; one both readings accept
    (every day <= 12) is read day first when ``prefer_dayfirst`` or when the dates are written with dots
    (``05.01.2023``), month first otherwise, and the returned note says so and how to override it.

    Returns (naive datetime64[ns] Series, note or None).
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        return _naive(values, values, column, source), None
    text = values if pd.api.types.is_string_dtype(values) else values.astype("str").where(values.notna())
    for kwargs in ({"format": "ISO8601"}, {"format": "ISO8601", "utc": True}):
        out = _to_datetime(text, kwargs)
        if out is not None:
            return _naive(out, text, column, source), None
    present = text.dropna()
    dotted = bool(len(present)) and present.head(1000).str.match(_DOTTED_DATE).mean() > 0.5
    prefer = (prefer_dayfirst or dotted) if dayfirst is None else bool(dayfirst)
    # A numeric date whose first part is above 12 (13/01/2023) can only be day first, and one whose second part
    # is (01/13/2023) only month first: when the column shows only one of these, its order is decided.
    decided = _decided_order(text) if dayfirst is None else None
    if decided is not None:
        prefer = decided
    iso = text.str.match(_ISO_DATE).fillna(False).to_numpy(dtype=bool)
    readings: dict[bool, pd.Series] = {}
    for extra in ({}, {"format": "mixed"}, {"format": "mixed", "utc": True}):
        for day_first in (True, False):
            if (dayfirst is not None and day_first != dayfirst) or (decided is not None and day_first != decided):
                continue
            out = _to_datetime(text, {**extra, "dayfirst": day_first})
            if out is not None:
                readings[day_first] = _naive(out, text, column, source)
        if readings:
            break
    if True in readings and iso.any():
        # Year-first dates (2023-01-05) are never day first: a day-first reading must not turn them round.
        iso_read = _to_datetime(text.where(iso), {"format": "mixed", "dayfirst": False, "utc": True})
        if iso_read is not None:
            readings[True] = readings[True].where(~iso, _naive(iso_read, text, column, source))
    if not readings:
        out = pd.to_datetime(text, errors="coerce", format="mixed", utc=True, dayfirst=prefer)
        count, row, value = _first_bad(text, out)
        how = "" if dayfirst is None else (" read day first" if dayfirst else " read month first")
        raise AnalysisError(
            f"Column '{column}' of {source} has {count:,} values that are not dates{how}, first at data row "
            f"{row}: {value!r}.",
            file=source,
            column=column,
            row=row,
        )
    if dayfirst is not None:
        _check_forced_order(text, dayfirst, column, source)
    if len(readings) == 1:
        return next(iter(readings.values())), None
    chosen, other = readings[prefer], readings[not prefer]
    differ = (chosen != other).to_numpy() & chosen.notna().to_numpy()
    if not differ.any():
        return chosen, None
    i = int(np.flatnonzero(differ)[0])
    example, read_as = text.iloc[i], chosen.iloc[i]
    if prefer:
        reading, flag, value = "day first", "--monthfirst", "False"
    else:
        reading, flag, value = "month first", "--dayfirst", "True"
    why = (" (the file writes decimal commas)" if prefer_dayfirst else " (dates written with dots)") if prefer \
        else ""
    note = (
        f"The dates in column '{column}' can be read day first or month first (every day is 12 or less); they "
        f"were read {reading}{why}, so {str(example).strip()!r} is {read_as:%d %B %Y}. If that is wrong, "
        f"load the file again with {flag} (dayfirst={value})."
    )
    return chosen, note


_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})[./-](\d{1,2})[./-]\d{2,4}\b")
_ISO_DATE = re.compile(r"^\s*\d{4}-\d{1,2}-\d{1,2}")


def _decided_order(text: pd.Series) -> bool | None:
    """True when some numeric date reads only day first (13/01/2023) and none only month first, False for the
    reverse, None when neither (or both) occur."""
    parts = text.str.extract(_NUMERIC_DATE).astype("float64")
    day_only, month_only = bool((parts[0] > 12).any()), bool((parts[1] > 12).any())
    if day_only != month_only:
        return day_only
    return None


def _check_forced_order(text: pd.Series, dayfirst: bool, column: str, source: str) -> None:
    """With a forced reading, a numeric date that only the other reading allows (``13/2/2023`` read month
    first) is an error, not silently read the other way."""
    parts = text.str.extract(_NUMERIC_DATE).astype("float64")
    impossible = (parts[1] > 12) if dayfirst else (parts[0] > 12)
    bad = np.flatnonzero(impossible.fillna(False).to_numpy(dtype=bool))
    if len(bad):
        row = int(bad[0]) + 1
        reading = "day first" if dayfirst else "month first"
        raise AnalysisError(
            f"Column '{column}' of {source} has {len(bad):,} values that are not dates read {reading}, first at "
            f"data row {row}: {text.iloc[bad[0]]!r}.",
            file=source,
            column=column,
            row=row,
        )


_CURRENCY_SIGNS = re.compile(r"[£$€¥₹'’\s]")
_CURRENCY_CODES = re.compile(r"^(?:EUR|USD|GBP|CHF|JPY|CNY|INR|AUD|CAD|SEK|NOK|DKK|PLN|CZK)|"
                             r"(?:EUR|USD|GBP|CHF|JPY|CNY|INR|AUD|CAD|SEK|NOK|DKK|PLN|CZK)$")
_THOUSANDS = {
    ".": re.compile(r"(?<=\d),(?=\d{3}(?:\D|$))"),
    ",": re.compile(r"(?<=\d)\.(?=\d{3}(?:\D|$))"),
}


def _clean_number_text(text: pd.Series, decimal: str) -> pd.Series:
    """Number text without currency signs / codes, spaces, thousands separators and accounting brackets,
    with a ``.`` as the decimal separator: ``"€ 1.234,50"`` (decimal ``,``) -> ``"1234.50"``, ``"(15.00)"`` ->
    ``"-15.00"``."""
    cleaned = text.str.strip().str.replace(_CURRENCY_CODES, "", regex=True)
    cleaned = cleaned.str.replace(_CURRENCY_SIGNS, "", regex=True)
    cleaned = cleaned.str.replace(r"^\((.*)\)$", r"-\1", regex=True)  # accounting negatives
    cleaned = cleaned.str.replace(_THOUSANDS[decimal], "", regex=True)
    if decimal == ",":
        cleaned = cleaned.str.replace(",", ".", regex=False)
    return cleaned


def _to_numbers(text: pd.Series, decimal: str) -> pd.Series:
    """Text to float64 (NaN where it is not a number), as :func:`_clean_number_text` reads it.

    Plain numbers take the fast path (``pd.to_numeric``; with a decimal comma, after swapping the comma for a
    point in values without a ``.``); only the rest go through the slower clean-up.
    """
    if decimal == ",":
        plain = ~text.str.contains(".", regex=False).fillna(False).to_numpy(dtype=bool)
        swapped = text.str.replace(",", ".", regex=False).where(plain)  # values with a "." take the slow path
        parsed = pd.to_numeric(swapped, errors="coerce").astype("float64")
    else:
        parsed = pd.to_numeric(text, errors="coerce").astype("float64")
    redo = (parsed.isna() & text.notna()).to_numpy()
    if redo.any():
        parsed = parsed.copy()
        parsed[redo] = pd.to_numeric(_clean_number_text(text[redo], decimal), errors="coerce").astype("float64")
    return parsed


def _parse_numbers(values: pd.Series, column: str, source: str, *, decimal: str = ".") -> pd.Series:
    """Parse a numeric column (currency signs, thousands separators and the file's decimal separator
    allowed, see :func:`_clean_number_text`); raise on text."""
    if pd.api.types.is_bool_dtype(values):
        raise AnalysisError(f"Column '{column}' of {source} holds true/false values, not numbers.",
                            file=source, column=column)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    text = values.astype("str").where(values.notna())
    lowered = text.str.strip().str.lower()
    if len(lowered.dropna()) and lowered.dropna().isin(["true", "false"]).all():
        raise AnalysisError(f"Column '{column}' of {source} holds true/false values, not numbers.",
                            file=source, column=column)
    parsed = _to_numbers(text, decimal)
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
