"""The fast path from a transactions file to the canonical table, in polars.

:func:`load_transactions` reads Parquet (lazily, only the mapped columns) or delimited UTF-8 text (every cell
as text, converted with explicit formats) and returns a :class:`PolarsDataset`: the same
:class:`~analysis.normalize.Dataset` that :func:`analysis.normalize.normalize` makes, whose canonical frame
is kept as a polars DataFrame (``pl_frame``) and converted to pandas only when someone asks for ``frame``.

Column roles, the shape, the notes and every message come from :mod:`analysis.normalize` itself, run on a
sample of the first :data:`SAMPLE_ROWS` rows; the sample's pandas result must equal the fast path's first rows,
or the fast path gives up. It also gives up (returns None, and the caller uses the pandas path, which gives
today's results and messages) for anything it cannot read exactly the same way:

* Excel files, customer-level files (no date column), any file the pandas path would refuse with an error;
* text that is not UTF-8, separated by white space, with blank lines, or with a field starting with a space;
* Parquet columns of other types than text / categorical, integers, floats and naive or aware datetimes;
* ids or text stored as floats that are not whole numbers, categories that collide once stripped;
* numbers that need more than a plain parse (currency signs, thousands separators, accounting brackets,
  spaces) or are not numbers, true/false columns;
* dates that :mod:`analysis.normalize` refuses.
"""

from __future__ import annotations

import mmap
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
from pandas._libs.parsers import STR_NA_VALUES
from pandas.tseries.api import guess_datetime_format

from analysis import schema as S
from analysis.errors import AnalysisError
from analysis.loading import PARQUET_MAGIC, SNIFF_BYTES, _decode, guess_decimal_comma, sniff_delimiter
from analysis.normalize import Dataset, _parse_dates, normalize

SAMPLE_ROWS = 500
# Text the pandas CSV reader takes for a missing value.
NA_TEXT = sorted(STR_NA_VALUES)
# ISO date formats the fast path parses itself (when pandas guesses one from the first date and every date
# follows it); other dates go through analysis.normalize, once per distinct value.
ISO_FORMATS = frozenset("%Y-%m-%d" + t for t in ("", " %H:%M", " %H:%M:%S", "T%H:%M", "T%H:%M:%S"))
STRING_TYPES = (pl.String, pl.Categorical, pl.Enum)
TEXT_ROLES = (S.ORDER_ID, S.CUSTOMER_ID, S.PRODUCT_ID, S.DESCRIPTION, S.COUNTRY)
NUMBER_ROLES = (S.QUANTITY, S.UNIT_PRICE, S.AMOUNT)
_CANONICAL_TYPES = {S.ORDER_ID: pl.String, S.CUSTOMER_ID: pl.String, S.ORDER_DATE: pl.Datetime("ns"),
                    S.QUANTITY: pl.Float64, S.UNIT_PRICE: pl.Float64, S.AMOUNT: pl.Float64,
                    S.PRODUCT_ID: pl.String, S.DESCRIPTION: pl.String, S.COUNTRY: pl.String}


class Unsupported(Exception):
    """The fast path cannot give exactly the pandas path's result for this input (the reason is the text)."""


class PolarsDataset(Dataset):
    """A :class:`~analysis.normalize.Dataset` of transactions whose canonical table is the polars DataFrame
    ``pl_frame`` (columns and order of :mod:`analysis.schema`; text as String, or Categorical when the file
    stores it so, dates Datetime[ns], numbers Float64, missing values null, never NaN). ``frame`` is its pandas
    version, made on first use and kept."""

    def __init__(self, pl_frame: pl.DataFrame, *, shape: str, mapping: dict[str, str], source: str,
                 notes: list[str], raw_rows: int, raw_columns: list[str],
                 rule_bits: pl.Series | None = None) -> None:
        self._pl_frame = pl_frame
        # the cleaning rules' masks of pl_frame, when known (stored with the dataset; see polars_clean.rule_bits);
        # replacing pl_frame forgets them
        self.rule_bits = rule_bits
        self._pandas: pd.DataFrame | None = None
        self.shape = shape
        self.mapping = mapping
        self.source = source
        self.notes = notes
        self.raw_rows = raw_rows
        self.raw_columns = raw_columns

    @property
    def pl_frame(self) -> pl.DataFrame:
        return self._pl_frame

    @pl_frame.setter
    def pl_frame(self, value: pl.DataFrame) -> None:
        self._pl_frame = value
        self._pandas = None
        self.rule_bits = None

    @property
    def frame(self) -> pd.DataFrame:
        if self._pandas is None:
            self._pandas = to_pandas(self.pl_frame)
        return self._pandas

    @frame.setter
    def frame(self, value: pd.DataFrame) -> None:  # a caller replacing the table gets a pandas dataset back
        self.pl_frame = from_pandas(value)
        self._pandas = value


def as_strings(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its categorical columns as String."""
    return frame.with_columns(pl.col(pl.Categorical).cast(pl.String))


def to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """A canonical polars table as the pandas path makes it (``str`` text with NaN, datetime64[ns], float64)."""
    out = as_strings(frame).to_pandas()
    for col, dtype in frame.schema.items():
        if dtype in (pl.String, pl.Categorical):
            out[col] = out[col].astype("str")
    out.index = pd.RangeIndex(len(out))
    return out


def from_pandas(frame: pd.DataFrame) -> pl.DataFrame:
    """A canonical pandas table in polars (NaN as null), checked against the canonical types."""
    out = pl.from_pandas(frame, nan_to_null=True)
    return canonical(out)


def canonical(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with the canonical column types; raises :class:`Unsupported` for a column that has another."""
    exprs = []
    for col, dtype in frame.schema.items():
        want = _CANONICAL_TYPES.get(col)
        if want is None:
            raise Unsupported(f"column {col!r} is not a canonical column")
        if want == pl.String and dtype in (pl.String, pl.Categorical) or want == dtype:
            exprs.append(pl.col(col))
        elif want == pl.Float64 and dtype.is_numeric():
            exprs.append(pl.col(col).cast(pl.Float64).fill_nan(None))
        elif isinstance(want, pl.Datetime) and isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
            exprs.append(pl.col(col).cast(pl.Datetime("ns")))
        elif want == pl.String and dtype == pl.Null:
            exprs.append(pl.col(col).cast(pl.String))
        else:
            raise Unsupported(f"column {col!r} has type {dtype}")
    return frame.select(exprs)


# ---- reading ------------------------------------------------------------------------------------------------


def load_transactions(path: str | Path, *, mapping=None, name: str | None = None,
                      dayfirst: bool | None = None) -> PolarsDataset | None:
    """The file at ``path`` normalised like :func:`analysis.pipeline.load_dataset`, or None when the fast path
    does not apply (see the module docstring); ``name`` is what messages call the file."""
    try:
        return _load(Path(path), mapping=mapping, name=name, dayfirst=dayfirst)
    # PanicException (a BaseException): polars / pyo3 refusing damaged input (e.g. text that is not UTF-8)
    except (Unsupported, AnalysisError, pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError,
            ValueError, OverflowError):
        return None


def _load(path: Path, *, mapping, name: str | None, dayfirst: bool | None) -> PolarsDataset:
    if not path.is_file() or path.stat().st_size == 0:
        raise Unsupported("not a non-empty file")
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith(PARQUET_MAGIC):
        raw, decimal = _ParquetSource(path), "."
    else:
        raw = _CsvSource(path, head)
        decimal = raw.decimal
    source = name or path.name
    sample = raw.sample()
    sample.attrs["decimal"] = decimal
    ds = normalize(sample, mapping=mapping, source=source, dayfirst=dayfirst)  # may raise: the pandas path decides
    if ds.shape == S.CUSTOMERS:
        raise Unsupported("customer-level file")
    cols = list(dict.fromkeys(ds.mapping.values()))
    # order ids are nearly all distinct: categories would cost more than they save
    kinds = {c: "number" if r in NUMBER_ROLES else "text" if r in TEXT_ROLES and r != S.ORDER_ID else "other"
             for r, c in ds.mapping.items()}
    frame = raw.read(cols, kinds)
    parser = _Normalizer(source, decimal=decimal, dayfirst=dayfirst, text_file=isinstance(raw, _CsvSource))
    out, date_note = parser.canonical(frame, ds)
    expected = from_pandas(ds.frame)
    if not as_strings(out.head(len(expected))).equals(expected):
        raise Unsupported("the fast path reads the first rows differently from the pandas path")
    notes = [n for n in ds.notes if not n.startswith("The dates in column '")] + ([date_note] if date_note else [])
    return PolarsDataset(out, shape=ds.shape, mapping=dict(ds.mapping), source=source, notes=notes,
                         raw_rows=frame.height, raw_columns=list(raw.columns))


class _ParquetSource:
    """Parquet: the schema from pyarrow's metadata reader, the rows read by polars (only the columns the roles
    need). polars refuses damaged files and text that is not UTF-8 with an error (checked by the loader fuzz
    test, which mutates valid Parquet files); the caller then falls back to the pandas path's message."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            meta = pq.ParquetFile(path)
            schema = meta.schema_arrow
        except Exception as exc:  # pyarrow raises many types for damaged files: the pandas path words the error
            raise Unsupported(f"damaged Parquet ({type(exc).__name__})") from exc
        self.names = list(schema.names)
        self.columns = [str(c).strip() for c in self.names]
        if len(set(self.columns)) != len(self.columns) or not self.columns or meta.metadata.num_rows == 0:
            raise Unsupported("duplicate or no column names, or no rows")
        self._by_name = dict(zip(self.columns, self.names, strict=True))

    def sample(self) -> pd.DataFrame:
        """The first rows with text (also dictionary-encoded text) as ``str`` columns."""
        out = as_strings(pl.read_parquet(self.path, columns=self.names, n_rows=SAMPLE_ROWS)).to_pandas()
        out.columns = self.columns
        return out

    def read(self, cols: list[str], kinds: dict[str, str]) -> pl.DataFrame:
        frame = pl.read_parquet(self.path, columns=[self._by_name[c] for c in cols])
        return frame.rename({self._by_name[c]: c for c in cols})


class _CsvSource:
    def __init__(self, path: Path, head: bytes) -> None:
        self.path = path
        encoding, sample = _decode(head, path.name)
        if encoding != "utf-8-sig":
            raise Unsupported(f"encoding {encoding}")
        sep = sniff_delimiter(sample)
        if sep is None:
            raise Unsupported("separated by white space or a single column")
        self.sep = sep
        self.decimal = "," if guess_decimal_comma(sample, sep) else "."
        self.header = pl.read_csv(path, separator=sep, n_rows=0, infer_schema=False, encoding="utf8").columns
        self.columns = [c.strip() for c in self.header]
        if len(set(self.columns)) != len(self.columns):
            raise Unsupported("duplicate column names")

    def sample(self) -> pd.DataFrame:
        with warnings.catch_warnings():
            # rows longer than the header: the pandas path decides what to say about them
            warnings.simplefilter("error", pd.errors.ParserWarning)
            try:
                out = pd.read_csv(self.path, sep=self.sep, nrows=SAMPLE_ROWS, encoding="utf-8-sig",
                                  skipinitialspace=True, dtype=str, index_col=False, low_memory=False)
            except pd.errors.ParserWarning as exc:
                raise Unsupported(f"rows read with a warning ({exc})") from exc
        out.columns = [str(c).strip() for c in out.columns]
        if list(out.columns) != self.columns or len(out) == 0:
            raise Unsupported("header read differently")
        return out

    def read(self, cols: list[str], kinds: dict[str, str]) -> pl.DataFrame:
        """The columns ``cols``: ``kinds[c] == "text"`` (ids and text but order ids) as Categorical, ``"number"`` as
        Float64 when the file writes decimal points, others as String.

        pandas skips spaces after a delimiter. That makes no difference in text columns (stripped anyway) unless
        the rest is a missing-value word or a quoted field; a number with a leading space is not read here (the
        read fails), and a leading space in other columns makes the fast path give up."""
        by_name = dict(zip(self.columns, self.header, strict=True))
        types = {by_name[c]: pl.Categorical for c in cols if kinds.get(c) == "text"}
        if self.decimal == ".":
            types.update({by_name[c]: pl.Float64 for c in cols if kinds.get(c) == "number"})
        frame = pl.read_csv(self.path, separator=self.sep, infer_schema=False, encoding="utf8",
                            columns=[by_name[c] for c in cols], quote_char='"', schema_overrides=types)
        frame = frame.rename({by_name[c]: c for c in cols})
        for c in cols:
            values = frame[c]
            if values.dtype == pl.Categorical:
                text = values.drop_nulls().unique().cast(pl.String)
                rest = text.str.strip_chars_start(" ")
                if (text.str.starts_with(" ") & (rest.is_in(NA_TEXT) | rest.str.starts_with('"'))).any():
                    raise Unsupported("a text field starts with a space and then a missing-value word or a quote")
                if text.is_in(NA_TEXT).any():  # missing-value words (NA, NULL, n/a, ...) are missing
                    frame = frame.with_columns(_recode(values, lambda t: t.replace(NA_TEXT, None)).alias(c))
            elif values.dtype == pl.String:
                if values.str.starts_with(" ").any():
                    raise Unsupported("a field starts with a space that pandas would skip")
                if values.is_in(NA_TEXT).any():
                    frame = frame.with_columns(pl.when(~pl.col(c).is_in(NA_TEXT)).then(pl.col(c)).alias(c))
        if frame.select(pl.all_horizontal(pl.all().is_null()).any()).item():
            _check_no_blank_lines(self.path)
        return frame


def _check_no_blank_lines(path: Path) -> None:
    """polars keeps a blank line as a row of missing values, pandas skips it (only looked for when a row read
    has no value at all)."""
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if data.find(b"\n\n") >= 0 or data.find(b"\n\r\n") >= 0 or data.find(b"\r\r") >= 0:
            raise Unsupported("blank lines")


# ---- normalising ----------------------------------------------------------------------------------------------


class _Normalizer:
    """The polars counterpart of :func:`analysis.normalize._normalize_transactions` for one raw frame."""

    def __init__(self, source: str, *, decimal: str, dayfirst: bool | None, text_file: bool = False) -> None:
        self.source = source
        self.decimal = decimal
        self.dayfirst = dayfirst
        self.stored = not text_file  # categorical columns of a text file are the reader's, not the file's

    def canonical(self, raw: pl.DataFrame, ds: Dataset) -> tuple[pl.DataFrame, str | None]:
        # polars releases the GIL: the customer and order ids (the costliest columns) are made on two more threads
        m = ds.mapping
        with ThreadPoolExecutor(max_workers=2) as pool:
            customers = pool.submit(_id_text, raw[m[S.CUSTOMER_ID]], stored_categories=self.stored)
            orders = pool.submit(self.order_ids, raw[m[S.ORDER_ID]]) if S.ORDER_ID in m else None
            try:
                return self._canonical(raw, ds, customers, orders)
            finally:
                for job in (customers, orders):
                    if job is not None:
                        job.cancel()

    def order_ids(self, order: pl.Series) -> pl.Series:
        stored = self.stored and order.dtype != pl.String
        if order.dtype == pl.String:  # checked, recoded, tested and counted once per distinct order id
            order = order.cast(pl.Categorical)
        return _id_text(order, stored_categories=stored)

    def _canonical(self, raw: pl.DataFrame, ds: Dataset, customers: Future,
                   orders: Future | None) -> tuple[pl.DataFrame, str | None]:
        m = ds.mapping
        cols: dict[str, pl.Series] = {}
        dates, note = self.dates(raw[m[S.ORDER_DATE]], m[S.ORDER_DATE])
        cols[S.ORDER_DATE] = dates
        amount_col = raw[m[S.AMOUNT]] if S.AMOUNT in m else None
        if ds.shape == S.LINE_ITEMS:
            cols[S.QUANTITY] = self.numbers(raw[m[S.QUANTITY]])
            cols[S.UNIT_PRICE] = self.numbers(raw[m[S.UNIT_PRICE]])
            if amount_col is not None:  # still mapped after normalize: the user chose the amount column
                cols[S.AMOUNT] = self.numbers(amount_col)
            else:
                cols[S.AMOUNT] = (cols[S.QUANTITY] * cols[S.UNIT_PRICE]).fill_nan(None)
        else:
            amount = self.numbers(amount_col)
            if S.QUANTITY in m:
                quantity = self.numbers(raw[m[S.QUANTITY]])
            else:
                quantity = pl.select(pl.when(amount.lt(0).fill_null(False)).then(-1.0).otherwise(1.0)).to_series()
            cols[S.AMOUNT] = amount
            cols[S.QUANTITY] = quantity.alias(S.QUANTITY)
            unit = pl.select(amount / pl.when(quantity != 0).then(quantity)).to_series()
            cols[S.UNIT_PRICE] = unit.fill_nan(None)
        for role in (S.PRODUCT_ID, S.DESCRIPTION, S.COUNTRY):
            if role in m:
                cols[role] = _text(raw[m[role]], stored_categories=self.stored)
        cols[S.CUSTOMER_ID] = customers.result()
        if orders is not None:
            cols[S.ORDER_ID] = orders.result()
        else:
            day = cols[S.ORDER_DATE].dt.strftime("%Y-%m-%d").fill_null("")
            cols[S.ORDER_ID] = day + "|" + cols[S.CUSTOMER_ID].fill_null("guest")
        ordered = [c for c in S.TRANSACTION_ROLES if c in cols]
        frame = pl.DataFrame([cols[c].alias(c) for c in ordered])
        return canonical(frame), note

    # -- numbers

    def numbers(self, values: pl.Series) -> pl.Series:
        dtype = values.dtype
        if dtype == pl.Boolean:
            raise Unsupported("true/false column")
        if dtype.is_numeric():
            return values.cast(pl.Float64).fill_nan(None)
        if dtype not in STRING_TYPES:
            raise Unsupported(f"number column of type {dtype}")
        text = values.cast(pl.String)
        if self.decimal == ",":
            if text.str.contains(".", literal=True).any():
                raise Unsupported("a decimal-comma number with a '.'")
            text = text.str.replace(",", ".", literal=True)
        parsed = text.cast(pl.Float64, strict=False)
        if parsed.null_count() != text.null_count():
            raise Unsupported("numbers that need cleaning up, or text")
        return parsed.fill_nan(None)

    # -- dates

    def dates(self, values: pl.Series, column: str) -> tuple[pl.Series, str | None]:
        """(Datetime[ns] series, note) as :func:`analysis.normalize._parse_dates` reads the column.

        Text in one ISO format (as pandas guesses it from the first date) is parsed here with that format.
        Other text is parsed by ``_parse_dates`` itself, once per distinct value: on the first 1,000 dates (which
        decide how dotted dates are read) followed by the other distinct values in the order they first occur,
        which leaves every choice it makes, and its note, as on the whole column."""
        dtype = values.dtype
        if isinstance(dtype, pl.Datetime):
            if dtype.time_zone is not None:
                values = values.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
            return values.cast(pl.Datetime("ns")), None
        if dtype not in STRING_TYPES:
            raise Unsupported(f"date column of type {dtype}")
        text = values.cast(pl.String)
        present = text.drop_nulls()
        if present.len() == 0:
            raise Unsupported("no dates")
        fmt = guess_datetime_format(present[0])
        if fmt in ISO_FORMATS:
            parsed = text.str.strptime(pl.Datetime("ns"), fmt, strict=False, exact=True)
            if parsed.null_count() == text.null_count():
                return parsed, None
        head = present.head(1000)
        distinct = present.unique(maintain_order=True)
        shown = pl.concat([head, distinct.filter(~distinct.is_in(head.implode()))])
        parsed, note = _parse_dates(shown.to_pandas().astype("str"), column, self.source, dayfirst=self.dayfirst,
                                    prefer_dayfirst=self.decimal == ",")
        lookup = pl.DataFrame({"_text": shown, "_date": pl.from_pandas(parsed).cast(pl.Datetime("ns"))})
        lookup = lookup.unique("_text", keep="first", maintain_order=False)
        dates = text.to_frame("_text").join(lookup, on="_text", how="left", maintain_order="left")["_date"]
        return dates, note


# ---- ids and text ---------------------------------------------------------------------------------------------


def _recode(values: pl.Series, change, check=None) -> pl.Series:
    """A categorical column with ``change`` (String Series -> String Series) applied once per distinct value;
    the result is categorical too. ``check`` (optional) is called with the distinct values first (as String)."""
    distinct = values.drop_nulls().unique()
    text = distinct.cast(pl.String)
    if check is not None:
        check(text)
    new = change(text)
    if new.equals(text):
        return values.cast(pl.Categorical)
    codes = distinct.to_physical().to_numpy()
    position = np.zeros(int(codes.max()) + 1 if len(codes) else 1, dtype=np.int64)
    position[codes] = np.arange(len(codes))
    physical = values.to_physical()
    index = pl.Series(position[physical.fill_null(0).to_numpy()])
    out = new.cast(pl.Categorical).gather(index)
    return pl.select(pl.when(physical.is_not_null()).then(out)).to_series().alias(values.name)


def _strip_empty(text: pl.Series) -> pl.Series:
    """``str.strip`` of every value, empty text as missing. Python also strips the separators \\x1c-\\x1f, which
    polars keeps: text starting or ending with one of them is left to the pandas path."""
    if not text.str.contains(r"^[\s\x1c-\x1f]|[\s\x1c-\x1f]$").any() and not (text == "").any():
        return text
    if text.str.contains(r"^[\x1c-\x1f]|[\x1c-\x1f]$").any():
        raise Unsupported("text starting or ending with a separator character (\\x1c-\\x1f)")
    out = text.str.strip_chars()
    return pl.select(pl.when(out != "").then(out)).to_series().alias(text.name)


def _text(values: pl.Series, *, stored_categories: bool = True) -> pl.Series:
    """Strings with surrounding white space removed and empty strings as missing (see normalize._text).
    A categorical column stays categorical (changed once per distinct value). ``stored_categories``: the file
    stores the column as categories (pandas then strips only when the stripped categories stay distinct)."""
    dtype = values.dtype
    if dtype in (pl.Categorical, pl.Enum):
        return _recode(values, _strip_empty, _no_collisions if stored_categories else None)
    if dtype == pl.String:
        return _strip_empty(values)
    if dtype.is_integer():
        return _strip_empty(values.cast(pl.String))
    raise Unsupported(f"text column of type {dtype}")


def _no_collisions(categories: pl.Series) -> None:
    """Stored categories must stay distinct once stripped (else pandas keeps them unstripped)."""
    stripped = categories.str.strip_chars()
    if not stripped.equals(categories) and stripped.n_unique() != categories.len():
        raise Unsupported("categories that collide once stripped")


_WHOLE_NUMBER_TEXT = r"^[-+]?\d+\.0+$"


def _whole_numbers(text: pl.Series) -> pl.Series:
    """``17850.0`` -> ``17850``; other text unchanged."""
    whole = text.str.contains(_WHOLE_NUMBER_TEXT)
    if not whole.any():
        return text
    return pl.select(pl.when(whole).then(text.str.replace(r"\.0+$", "")).otherwise(text)).to_series().alias(text.name)


def _number_ids(values: pl.Series) -> pl.Series:
    """Whole-number ids (integers, or floats holding whole numbers) as categorical text (``17850.0`` ->
    ``"17850"``), written once per distinct id: one hash pass (pandas.factorize), then a gather of the codes."""
    if values.dtype.is_integer() and values.null_count():  # to_numpy would turn them into floats
        distinct = values.unique().drop_nulls()
        text = distinct.cast(pl.String).cast(pl.Categorical)
        return values.replace_strict(distinct, text, return_dtype=pl.Categorical)
    codes, uniques = pd.factorize(values.to_numpy())  # missing (NaN) -> code -1
    distinct = pl.Series(uniques)
    if distinct.dtype.is_float():  # whole numbers (checked by the caller)
        distinct = distinct.cast(pl.Int64)
    text = distinct.cast(pl.String).cast(pl.Categorical)
    index = pl.Series(codes)
    if values.null_count():
        index = pl.select(pl.when(index >= 0).then(index)).to_series()
    return text.gather(index).alias(values.name)


def _id_text(values: pl.Series, *, stored_categories: bool = True) -> pl.Series:
    """Ids as text, value by value, as :func:`analysis.normalize._id_text` writes them."""
    dtype = values.dtype
    if dtype.is_integer():
        return _number_ids(values)
    if dtype.is_float():
        v = values.cast(pl.Float64).fill_nan(None)
        present = v.is_not_null()
        whole = (v.is_finite() & (v == v.floor()) & (v.abs() < 2.0**63)).fill_null(False)
        if (present & ~whole).any():
            raise Unsupported("ids stored as numbers that are not whole")
        return _number_ids(v)
    if dtype not in STRING_TYPES:
        raise Unsupported(f"id column of type {dtype}")
    if dtype in (pl.Categorical, pl.Enum):  # stripped, then whole numbers, in one pass over the categories
        return _recode(values, lambda text: _whole_numbers(_strip_empty(text)),
                       _no_collisions if stored_categories else None)
    return _whole_numbers(_text(values, stored_categories=stored_categories))
