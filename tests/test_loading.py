"""File reading: formats, delimiters, encodings, and specific errors for bad files."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.errors import AnalysisError
from analysis.loading import read_table, sniff_delimiter

ROWS = [("A1", "c1", "2024-01-05", 2, 1.5), ("A2", "c2", "2024-02-06", 1, 10.0)]
HEADER = ["InvoiceNo", "CustomerID", "InvoiceDate", "Quantity", "UnitPrice"]


def _text(delim: str) -> str:
    lines = [delim.join(HEADER)] + [delim.join(str(v) for v in row) for row in ROWS]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("delim", [",", ";", "\t", "|", "   "])
def test_delimiters(tmp_path, delim):
    path = tmp_path / "t.csv"
    path.write_text(_text(delim), encoding="utf-8")
    frame = read_table(path)
    assert list(frame.columns) == HEADER
    assert frame["UnitPrice"].tolist() == [1.5, 10.0]
    assert frame["CustomerID"].tolist() == ["c1", "c2"]


def test_sniff_delimiter_prefers_consistent_split():
    assert sniff_delimiter("a;b;c\n1;2,5;3\n4;5;6\n") == ";"
    assert sniff_delimiter("a b c\n1 2 3\n") is None
    assert sniff_delimiter('a,b\n"x,y",2\n') == ","


def test_utf8_bom_and_latin1(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + "Customer,Description\n1,Café\n".encode())
    frame = read_table(bom)
    assert list(frame.columns) == ["Customer", "Description"]
    assert frame["Description"].iloc[0] == "Café"

    latin = tmp_path / "latin.csv"
    latin.write_bytes("Customer;Description\n1;Crème brûlée\n".encode("latin-1"))
    assert read_table(latin)["Description"].iloc[0] == "Crème brûlée"


def test_decimal_comma_with_semicolons(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("Kunde;Datum;Betrag\n1;2024-01-01;12,50\n2;2024-01-02;3,25\n", encoding="utf-8")
    assert read_table(path)["Betrag"].tolist() == [12.5, 3.25]


def test_quoted_newlines(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('id,description,amount\n1,"two\nlines",3.5\n2,plain,4\n', encoding="utf-8")
    frame = read_table(path)
    assert frame["description"].tolist() == ["two\nlines", "plain"]


def test_xlsx_and_parquet_round_trip(tmp_path):
    frame = pd.DataFrame(ROWS, columns=HEADER)
    xlsx = tmp_path / "t.xlsx"
    frame.to_excel(xlsx, index=False)
    assert read_table(xlsx)["Quantity"].tolist() == [2, 1]
    pq = tmp_path / "t.parquet"
    frame.to_parquet(pq)
    assert read_table(pq)["UnitPrice"].tolist() == [1.5, 10.0]
    # Content decides the format: a Parquet file with a .csv name still loads.
    renamed = tmp_path / "really_parquet.csv"
    renamed.write_bytes(pq.read_bytes())
    assert len(read_table(renamed)) == 2


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("empty.csv", b"", "is empty"),
        ("blank.csv", b"   \n\n", "only white space"),
        ("header.csv", b"InvoiceNo,CustomerID\n", "no data rows"),
        ("program.csv", b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)) * 4, "binary file"),
        ("bad.parquet", b"this is not parquet", "not a valid Parquet"),
        ("bad.xlsx", b"plain text", "not a valid Excel"),
        ("old.xls", b"\xd0\xcf\x11\xe0 but as text", "old-style .xls"),
    ],
)
def test_bad_files_name_file_and_problem(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AnalysisError) as err:
        read_table(path)
    assert expected in err.value.message
    assert name in err.value.message
    assert err.value.file == name


def test_truncated_parquet(tmp_path):
    pq = tmp_path / "t.parquet"
    pd.DataFrame(ROWS, columns=HEADER).to_parquet(pq)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(pq.read_bytes()[:200])
    with pytest.raises(AnalysisError, match="truncated or damaged"):
        read_table(cut)


def test_zip_that_is_not_a_workbook(tmp_path):
    import zipfile

    path = tmp_path / "archive.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(AnalysisError, match="not an Excel .xlsx workbook"):
        read_table(path)


def test_zip_bomb_renamed_xlsx_is_refused(tmp_path):
    import zipfile

    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"0" * 50_000_000)
    with pytest.raises(AnalysisError, match="zip bomb"):
        read_table(path)


def test_missing_file():
    with pytest.raises(AnalysisError, match="does not exist"):
        read_table("/nonexistent/nowhere.csv")
