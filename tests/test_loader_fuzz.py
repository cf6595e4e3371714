"""Property-based fuzzing of the loader (``analysis.loading.read_table`` + ``analysis.normalize.normalize``).

The property: whatever bytes a file holds, under whatever name, loading it either gives a canonical
:class:`~analysis.normalize.Dataset` or raises :class:`~analysis.errors.AnalysisError` with a message naming the
file; never another exception. The same holds for the product's entry point, :func:`analysis.pipeline.load_dataset`
(which may read with a faster reader first). Three generators feed real files with
``.csv`` / ``.txt`` / ``.xlsx`` / ``.parquet`` suffixes: arbitrary bytes, structured delimited text built from
awkward cells (dates in several formats, decimal commas, currency, NaN / inf, quotes, formulas, stray
delimiters, several encodings), and mutations (cut, flipped, inserted bytes) of valid CSV, Excel and Parquet
files.

Bounded for CI: a fixed number of examples per generator, derandomised when ``CI=true`` (the same cases on
every run there), well under a minute in all on a 2-core machine. ``pytest --hypothesis-show-statistics``
prints the cases run and the time taken; ``LOADER_FUZZ_SCALE=20`` runs twenty times as many.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import pipeline
from analysis import schema as S
from analysis.errors import AnalysisError
from analysis.loading import SNIFF_BYTES, check_head, read_table
from analysis.normalize import normalize

CI = os.environ.get("CI") == "true"
SCALE = float(os.environ.get("LOADER_FUZZ_SCALE", "1"))  # e.g. 20 for a deeper search outside CI
FUZZ = settings(deadline=None, derandomize=CI, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".parquet")

HEADERS = ("InvoiceNo", "CustomerID", "Customer ID", "InvoiceDate", "Quantity", "UnitPrice", "Price", "Amount",
           "Country", "Description", "StockCode", "date", "customer", "spend", "total", "", "segment", "x", "Datum",
           "Kunde", "Betrag", "=cmd", "a,b", 'quo"te')
CELLS = ("", " ", "1", "0", "-1", "2.5", "1,5", "1.234,50", "1,234.50", "(15.00)", "€ 12", "$-3", "12 EUR",
         "NaN", "nan", "inf", "-inf", "1e400", "-0", "007", "17850.0", "2023-01-05", "05/01/2023", "13/02/2023",
         "05.01.2023", "2023-01-05T10:00:00Z", "Jan 5 2023", "0001-01-01", "9999-12-31", "20230105", "45000",
         "true", "false", "C536379", "A563185", "=HYPERLINK(\"x\")", "+1+1", "@SUM(A1)", "\"", "\"\"", "a\"b",
         "line\nbreak", "tab\there", "semi;colon", "pipe|x", "ä ö ü", "Crème", "日本", "\x00", "\x01", "\ufeff",
         "  padded  ", "NULL", "N/A", "-", "99999999999999999999")
DELIMITERS = (",", ";", "\t", "|", " ", "  ")
ENCODINGS = ("utf-8", "utf-8-sig", "latin-1", "utf-16", "utf-16-le", "cp1252")
NEWLINES = ("\n", "\r\n", "\r")


def load(path: Path, name: str) -> None:
    """The property: a Dataset with the canonical columns, or an AnalysisError naming the file, with one line of
    message; and the same of the product's entry point (:func:`analysis.pipeline.load_dataset`, which may take
    a faster reader first): nothing else escapes, not even a ``BaseException`` such as a panic of a native
    library."""
    try:
        raw = read_table(path)
        dataset = normalize(raw, source=name)
    except AnalysisError as exc:
        assert exc.message.strip() and "\n" not in exc.message, repr(exc.message)  # one line, never empty
        assert name in exc.message or exc.file == name or exc.column is not None, exc.message
    else:
        assert S.CUSTOMER_ID in dataset.frame.columns
        if dataset.shape != S.CUSTOMERS:
            assert str(dataset.frame[S.ORDER_DATE].dtype) == "datetime64[ns]"
            assert dataset.frame[S.AMOUNT].dtype == "float64"
    try:
        product = pipeline.load_dataset(path)
    except AnalysisError:
        return
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - the property under test
        raise AssertionError(f"load_dataset raised {type(exc).__name__}: {exc}") from exc
    assert S.CUSTOMER_ID in product.frame.columns


def load_bytes(content: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(content)
        # The cheap check the web process runs on uploads has the same contract.
        try:
            check_head(path.name, content[:SNIFF_BYTES], size=len(content), tail=content[-8:])
        except AnalysisError as exc:
            assert path.name in exc.message
        load(path, path.name)


@settings(FUZZ, max_examples=int(600 * SCALE))
@given(content=st.binary(max_size=2048), suffix=st.sampled_from(SUFFIXES),
       prefix=st.sampled_from((b"", b"PAR1", b"PK\x03\x04", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"sep=;\n",
                               b"CustomerID,InvoiceDate,Amount\n")))
def test_arbitrary_bytes(content, suffix, prefix):
    load_bytes(prefix + content, suffix)


@st.composite
def delimited_text(draw) -> tuple[bytes, str]:
    n_cols = draw(st.integers(1, 7))
    header = draw(st.lists(st.sampled_from(HEADERS), min_size=n_cols, max_size=n_cols))
    cell = st.one_of(st.sampled_from(CELLS), st.text(max_size=12))
    rows = draw(st.lists(st.lists(cell, min_size=max(n_cols - 1, 0), max_size=n_cols + 1), max_size=12))
    delim = draw(st.sampled_from(DELIMITERS))
    quote = draw(st.booleans())

    def fmt(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if quote and draw(st.booleans()) else value

    newline = draw(st.sampled_from(NEWLINES))
    text = newline.join(delim.join(fmt(v) for v in row) for row in [header, *rows])
    if draw(st.booleans()):
        text += newline
    encoding = draw(st.sampled_from(ENCODINGS))
    return text.encode(encoding, errors="replace"), draw(st.sampled_from((".csv", ".txt", ".tsv")))


@settings(FUZZ, max_examples=int(1000 * SCALE))
@given(case=delimited_text())
def test_delimited_text(case):
    content, suffix = case
    load_bytes(content, suffix)


def _valid_files() -> dict[str, bytes]:
    frame = pd.DataFrame({"InvoiceNo": ["536365", "536366", "C536367"], "CustomerID": [17850.0, 13047.0, None],
                          "InvoiceDate": pd.to_datetime(["2010-12-01 08:26", "2010-12-01 08:28", "2010-12-02 09:00"]),
                          "Quantity": [6, 2, -1], "UnitPrice": [2.55, 3.39, 1.0], "Country": ["UK", "FR", "UK"]})
    out = {".csv": frame.to_csv(index=False).encode()}
    for suffix, write in ((".parquet", frame.to_parquet), (".xlsx", lambda b: frame.to_excel(b, index=False))):
        buffer = io.BytesIO()
        write(buffer)
        out[suffix] = buffer.getvalue()
    return out


VALID = _valid_files()


@st.composite
def mutated_file(draw) -> tuple[bytes, str]:
    suffix = draw(st.sampled_from(sorted(VALID)))
    data = bytearray(VALID[suffix])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("cut", "flip", "insert", "delete")))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "cut":
            del data[at:]
        elif op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif data:
            del data[at:at + draw(st.integers(1, 64))]
    return bytes(data), draw(st.sampled_from((suffix, suffix, ".csv")))


@settings(FUZZ, max_examples=int(600 * SCALE))
@given(case=mutated_file())
def test_mutated_valid_files(case):
    content, suffix = case
    load_bytes(content, suffix)


@pytest.mark.parametrize("suffix", sorted(VALID))
def test_the_unmutated_files_load(tmp_path, suffix):
    """The seeds of the mutations are valid: the property is not vacuously met by rejecting everything."""
    path = tmp_path / f"seed{suffix}"
    path.write_bytes(VALID[suffix])
    dataset = normalize(read_table(path), source=path.name)
    assert dataset.shape == S.LINE_ITEMS
    assert dataset.frame[S.AMOUNT].round(2).tolist() == [15.3, 6.78, -1.0]
    assert dataset.frame[S.CUSTOMER_ID].tolist()[:2] == ["17850", "13047"]
