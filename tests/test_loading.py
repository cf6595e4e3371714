"""File reading: formats, delimiters, encodings, and specific errors for bad files."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.errors import AnalysisError
from analysis.loading import guess_decimal_comma, read_table, sniff_delimiter

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
    # Text cells stay text; analysis.normalize parses them by role.
    assert frame["UnitPrice"].tolist() == ["1.5", "10.0"]
    assert frame["CustomerID"].tolist() == ["c1", "c2"]
    assert frame.attrs["decimal"] == "."


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
    frame = read_table(path)
    assert frame.attrs["decimal"] == ","
    assert frame["Betrag"].tolist() == ["12,50", "3,25"]


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


# ---- rows with more fields than the header ---------------------------------------------------------------------


def test_trailing_delimiter_does_not_shift_columns(tmp_path):
    # Excel exports often end every row (or only some rows) with a delimiter; pandas then took the first column
    # as the index and shifted every value one column to the left.
    path = tmp_path / "trailing.csv"
    path.write_text("customer,date,amount\nA,2023-01-05,10,\nB,2023-01-06,5,\nC,2023-02-05,7,\n", encoding="utf-8")
    frame = read_table(path)
    assert list(frame.columns) == ["customer", "date", "amount"]
    assert frame["customer"].tolist() == ["A", "B", "C"]
    assert frame["amount"].tolist() == ["10", "5", "7"]
    some = tmp_path / "some.csv"
    some.write_text("customer,date,amount\nA,2023-01-05,10\nB,2023-01-06,5,\n", encoding="utf-8")
    assert read_table(some)["amount"].tolist() == ["10", "5"]


def test_extra_field_with_content_names_the_row(tmp_path):
    path = tmp_path / "extra.csv"
    path.write_text("customer,date,amount\nA,2023-01-05,10\nB,2023-01-06,5,oops\nC,2023-01-07,1\n",
                    encoding="utf-8")
    with pytest.raises(AnalysisError) as err:
        read_table(path)
    assert "Data row 2 of 'extra.csv' has 4 fields but the header has 3" in err.value.message
    assert err.value.row == 2


def test_whitespace_file_with_date_and_time_is_refused_clearly(tmp_path):
    path = tmp_path / "ws.txt"
    path.write_text("customer date amount\nA 2023-01-05 10:00 10\nB 2023-01-06 11:00 5\n", encoding="utf-8")
    with pytest.raises(AnalysisError) as err:
        read_table(path)
    assert "Data row 1 of 'ws.txt' has 4 fields but the header has 3" in err.value.message
    assert "separated by white space" in err.value.message


def test_columns_aligned_with_two_spaces_keep_single_spaces_in_values(tmp_path):
    path = tmp_path / "aligned.txt"
    path.write_text("CustomerID  InvoiceDate       Amount  Description\n"
                    "A           2023-01-05 10:00  1.5     RED MUG\n"
                    "B           2023-01-06 11:30  2.0     BLUE CUP\n", encoding="utf-8")
    frame = read_table(path)
    assert frame["InvoiceDate"].tolist() == ["2023-01-05 10:00", "2023-01-06 11:30"]
    assert frame["Description"].tolist() == ["RED MUG", "BLUE CUP"]


# ---- decimal comma, encodings, Excel sheets -------------------------------------------------------------------


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_decimal_comma_detected_for_every_separator_but_comma(tmp_path, sep):
    rows = [["customer", "date", "amount"], ["A", "2023-01-05", "€ 1.234,50"], ["B", "2023-01-06", "20,00"]]
    path = tmp_path / "eu.txt"
    path.write_text("\n".join(sep.join(r) for r in rows) + "\n", encoding="utf-8")
    frame = read_table(path)
    assert frame.attrs["decimal"] == ","
    assert frame["amount"].tolist() == ["€ 1.234,50", "20,00"]


def test_guess_decimal_comma():
    assert guess_decimal_comma("a;b\n1;12,50\n2;3,5\n", ";")
    assert guess_decimal_comma("a\tb\n1\t1.234,50\n", "\t")
    assert not guess_decimal_comma("a;b\n1;12.50\n2;1,234.50\n", ";")
    assert not guess_decimal_comma('a,b\n1,"12,50"\n', ",")  # comma files write decimal points
    assert not guess_decimal_comma("a;b\n1;1,500\n2;05.01.2023\n", ";")  # 1,500 alone could be either


def test_utf16_text_is_decoded(tmp_path):
    text = "customer\tdate\tamount\r\nA\t2023-01-05\t10\r\nB\t2023-01-06\t5\r\n"
    for encoding, bom in (("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")):
        path = tmp_path / f"{encoding}.txt"
        path.write_bytes(bom + text.encode(encoding))
        frame = read_table(path)
        assert list(frame.columns) == ["customer", "date", "amount"]
        assert frame["customer"].tolist() == ["A", "B"]


def test_excel_sheet_by_name_even_when_it_looks_like_a_number(tmp_path):
    path = tmp_path / "years.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="Notes", index=False)
        pd.DataFrame({"y": [2]}).to_excel(writer, sheet_name="2023", index=False)
    assert list(read_table(path, sheet="2023").columns) == ["y"]  # the sheet called 2023, not position 2023
    assert list(read_table(path, sheet=2023).columns) == ["y"]
    assert list(read_table(path, sheet="1").columns) == ["y"]  # no sheet called "1": position 1
    assert list(read_table(path).columns) == ["x"]
    assert read_table(path).attrs["sheets"] == ["Notes", "2023"]
    with pytest.raises(AnalysisError, match="has no sheet 'Data'; its sheets are: Notes, 2023"):
        read_table(path, sheet="Data")
    with pytest.raises(AnalysisError, match="no sheet number 5"):
        read_table(path, sheet=5)
