"""The hostile-input corpus: files a user (or a broken export, or an attacker) may upload, built by the tests.

Each :class:`Case` names a file, how to write it and what must happen: ``expect`` is a part of the one specific
message the loader gives (the command line prints it after ``error:``, the web app shows it), or ``None`` when
the file is valid however odd it looks and must load; ``check`` then tests figures of the ``describe --json``
output computed by hand. :func:`build_corpus` writes every file into a folder.

``limit_bytes`` is the web app's upload limit in the test that uses it: ``just_over_limit.csv`` is one byte
larger (a valid file: the command line has no limit, the web app refuses it with a message).
"""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

HEADER = "CustomerID,InvoiceDate,Amount\n"


@dataclass(frozen=True)
class Case:
    name: str
    write: Callable[[Path, int], None]
    expect: str | None = None
    check: Callable[[dict], None] | None = None
    web: str = "upload"  # "upload": through the main upload test; "size": the size-limit test instead


def _text(content: str, encoding: str = "utf-8") -> Callable[[Path, int], None]:
    return lambda path, _limit: path.write_bytes(content.encode(encoding))


def _bytes(content: bytes) -> Callable[[Path, int], None]:
    return lambda path, _limit: path.write_bytes(content)


def _rows(n: int, start: int = 0) -> str:
    return "".join(f"c{i % 7},2023-01-{1 + i % 28:02d},{1 + i % 5}.50\n" for i in range(start, start + n))


# ---- writers for the larger or binary files ------------------------------------------------------------------

def _wide(columns: int, with_customer: bool) -> Callable[[Path, int], None]:
    def write(path: Path, _limit: int) -> None:
        names = (["CustomerID", "InvoiceDate", "Amount"] if with_customer else []) + \
            [f"col{i}" for i in range(columns - (3 if with_customer else 0))]
        values = (["a", "2023-01-05", "1"] if with_customer else []) + ["1"] * (len(names) - (3 if with_customer
                                                                                               else 0))
        path.write_text(",".join(names) + "\n" + ",".join(values) + "\n", encoding="utf-8")
    return write


def _single_line(path: Path, _limit: int) -> None:
    chunk = ("x" * 1023 + ",").encode()
    with path.open("wb") as fh:
        for _ in range(50 * 1024):  # 50 MB, no line break
            fh.write(chunk)


def _just_over_limit(path: Path, limit: int) -> None:
    """A valid file of exactly ``limit + 1`` bytes: rows, then a last row whose note pads it to the size."""
    head = "CustomerID,InvoiceDate,Amount,Note\n" + "".join(f"c{i % 7},2023-01-{1 + i % 28:02d},{1 + i % 5}.50,\n"
                                                            for i in range(max(limit // 40, 1)))
    last = "z,2023-02-01,1,"
    pad = limit + 1 - len(head) - len(last) - 1
    path.write_bytes((head + last + "x" * pad + "\n").encode())
    assert path.stat().st_size == limit + 1


def _zip_bomb(path: Path, _limit: int) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"0" * 50_000_000)


def _zip_not_workbook(path: Path, _limit: int) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("holiday.txt", "photos")


SMALL = pd.DataFrame({"InvoiceNo": ["1", "2", "3"], "CustomerID": ["a", "b", "c"],
                      "InvoiceDate": pd.to_datetime(["2023-01-05", "2023-01-06", "2023-02-01"]),
                      "Quantity": [2, 1, 3], "UnitPrice": [1.5, 10.0, 2.0]})


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _truncated_parquet(path: Path, _limit: int) -> None:
    data = _parquet_bytes(SMALL)
    path.write_bytes(data[: len(data) * 2 // 3])


def _bad_text_parquet(path: Path, _limit: int) -> None:
    """A Parquet file whose text column holds a byte that is not UTF-8 (written plain, then patched)."""
    frame = SMALL.assign(Country=["UK", "QQQ", "FR"])
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, compression=None, use_dictionary=False)
    data = buffer.getvalue()
    assert data.count(b"QQQ") == 1  # the value only: the column statistics hold its min and max, FR and UK
    path.write_bytes(data.replace(b"QQQ", b"Q\xffQ"))


def _empty_sheet(path: Path, _limit: int) -> None:
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame().to_excel(writer, sheet_name="Empty", index=False)


def _latin1_after_utf8(path: Path, _limit: int) -> None:
    # 300 KB of plain ASCII (UTF-8 as far as the first 256 KB show), then a Latin-1 byte.
    body = "CustomerID,InvoiceDate,Amount,Description\n" + "".join(
        f"c{i % 50},2023-01-{1 + i % 28:02d},1,plain\n" for i in range(12_000))
    path.write_bytes(body.encode() + "z,2023-03-01,7,Crème\n".encode("latin-1"))


PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(44) + b"\x80\x00\x00\x00" + \
    b"This program cannot be run in DOS mode.\r\r\n$" + bytes(64) + b"PE\x00\x00L\x01"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


# ---- checks of accepted files (describe --json) --------------------------------------------------------------

def _summary(**expected) -> Callable[[dict], None]:
    def check(d: dict) -> None:
        got = {k: d["summary"][k] for k in expected}
        assert got == expected, got
    return check


def _nan_inf_check(d: dict) -> None:
    q = d["quality"]
    assert (q["raw_rows"], q["clean_rows"], q["clean_revenue"]) == (6, 2, 12.5)
    missing = next(r for r in q["rules"] if r["name"] == "missing_values")
    assert missing["rows_matched"] == 3  # NaN, inf, -inf
    assert d["summary"]["customers"] == 1


def _duplicates_check(d: dict) -> None:
    rule = next(r for r in d["quality"]["rules"] if r["name"] == "duplicates")
    assert (d["quality"]["raw_rows"], rule["rows_matched"], rule["enabled"]) == (10, 5, False)
    assert d["summary"]["revenue"] == 2 * (1.5 + 2.5 + 3.5 + 4.5 + 5.5)


def _dates_check(d: dict) -> None:
    assert (d["summary"]["first_date"], d["summary"]["last_date"]) == ("2023-01-05T00:00:00", "2023-01-14T09:00:00")
    assert not any("day first or month first" in n for n in d["dataset"]["notes"])


def _customer_inf_check(d: dict) -> None:
    assert d["dataset"]["shape"] == "customers"
    assert any("Column 'spend' has 1 infinite values (first at data row 2)" in n for n in d["dataset"]["notes"])
    assert d["summary"]["revenue"] == 30.0 and d["summary"]["customers"] == 3


def _columns_check(*columns: str, **summary) -> Callable[[dict], None]:
    def check(d: dict) -> None:
        assert d["dataset"]["columns"][: len(columns)] == list(columns)
        _summary(**summary)(d)
    return check


CASES: tuple[Case, ...] = (
    # -- refused, with the message saying why --
    Case("empty.csv", _bytes(b""), "File 'empty.csv' is empty (0 bytes)"),
    Case("header_only.csv", _text(HEADER), "File 'header_only.csv' has a header but no data rows"),
    Case("only_white_space.csv", _text(" \n\t\n\n"), "contains only white space"),
    Case("mixed_delimiters.csv", _text(HEADER + "a;2023-01-05;1\nb;2023-01-06;2\n"),
         "mixes delimiters: its header is separated by commas but its data rows by semicolons"),
    Case("wide_100000_columns.csv", _wide(100_000, True), "has 100,000 columns; at most 10,000 are supported"),
    Case("single_line_50mb.csv", _single_line, "has no line break in its first 8 MB"),
    Case("zip_bomb.xlsx", _zip_bomb, "refusing it as a likely zip bomb"),
    Case("truncated.parquet", _truncated_parquet, "may be truncated or damaged"),
    Case("bad_text.parquet", _bad_text_parquet,
         "may be truncated or damaged (column 'Country': Invalid UTF8 sequence at string index 1)"),
    Case("program.csv", _bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x03\x00\x3e\x00" + bytes(range(256)) * 4),
         "File 'program.csv' is a binary file, an executable program (ELF)"),
    Case("setup.csv", _bytes(PE), "File 'setup.csv' is a binary file, not CSV text (it contains NUL bytes)"),
    Case("orders.csv", _bytes(gzip.compress((HEADER + _rows(20)).encode(), mtime=0)),
         "is a binary file, a gzip-compressed file; unpack it"),
    Case("invoice.csv", _bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"),
         "File 'invoice.csv' is a PDF document, not a table"),
    Case("picture.xlsx", _bytes(PNG), "File 'picture.xlsx' is a binary file, a PNG image"),
    Case("error_page.csv", _text("<!DOCTYPE html>\n<html><body><h1>502 Bad Gateway</h1></body></html>\n"),
         "is a web page (HTML), not a table"),
    Case("api_dump.csv", _text('[{"CustomerID": "a", "Amount": 1}, {"CustomerID": "b", "Amount": 2}]\n'),
         "File 'api_dump.csv' is JSON, not a table"),
    Case("not_parquet.parquet", _text(HEADER + _rows(3)), "is not a valid Parquet file (it lacks the PAR1"),
    Case("holiday.xlsx", _zip_not_workbook, "is a zip archive but not an Excel .xlsx workbook"),
    Case("legacy.xls", _bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)), "is an old-style .xls workbook"),
    Case("empty_sheet.xlsx", _empty_sheet, "File 'empty_sheet.xlsx' has no columns"),
    Case("no_rows.parquet", _bytes(_parquet_bytes(SMALL.iloc[:0])), "has a header but no data rows"),
    Case("duplicate_header.csv", _text("CustomerID,InvoiceDate,Amount,CustomerID\na,2023-01-05,1,b\n"),
         "has two columns named 'CustomerID'"),
    Case("extra_field.csv", _text(HEADER + "a,2023-01-05,1\nb,2023-01-06,2,oops\n"),
         "Data row 2 of 'extra_field.csv' has 4 fields but the header has 3"),
    Case("unterminated_quote.csv", _text(HEADER + '"a,2023-01-05,1\nb,2023-01-06,2\n'),
         "is not well-formed CSV: Error tokenizing data. C error: EOF inside string"),
    Case("dates_out_of_range.csv", _text(HEADER + "a,2023-01-05,1\nb,0001-01-01,2\n"),
         "has 1 dates outside the years 1678 to 2261, first at data row 2: '0001-01-01'"),
    Case("not_dates.csv", _text(HEADER + "a,2023-01-05,1\nb,someday,2\n"),
         "Column 'InvoiceDate' of not_dates.csv has 1 values that are not dates, first at data row 2: 'someday'"),
    Case("text_amount.csv", _text(HEADER + "a,2023-01-05,1\nb,2023-01-06,twelve\n"),
         "Column 'Amount' of text_amount.csv should hold numbers but has 1 non-numeric values, first at data row 2"),
    Case("no_customer_column.csv", _text("who,when,paid\na,2023-01-05,1\n"),
         "No customer id column found in no_customer_column.csv; its columns are: who, when, paid."),
    Case("wide_no_customer.csv", _wide(2_000, False),
         "its columns are: col0, col1, col2, col3, col4, col5, col6, col7, col8, col9, col10, col11, col12, col13, "
         "col14, col15, col16, col17, col18, col19, col20, col21, col22, col23, col24, col25, col26, col27, col28, "
         "col29 and 1,970 more. Name the column"),
    Case("no_revenue.csv", _text("CustomerID,InvoiceDate,Country\na,2023-01-05,UK\n"), "has no revenue"),
    Case("all_guests.csv", _text(HEADER + ",2023-01-05,1\n,2023-01-06,2\n"),
         "No rows are left after cleaning (2 raw rows); check the column mapping and the rules: Missing customer "
         "id: 2"),
    Case("customer_ids_repeat.csv", _text("customer,spend\na,1\na,2\n"), "appears on data rows 1 and 2"),
    # -- valid however odd: must load, with the figures computed by hand --
    Case("bom.csv", _text("\ufeff" + HEADER + "a,2023-01-05,10\nb,2023-01-06,5\n"),
         check=_columns_check("CustomerID", "InvoiceDate", "Amount", customers=2, revenue=15.0)),
    Case("latin1.csv", _text("Kunde;Datum;Betrag;Beschreibung\n1;05.01.2023;12,50;Crème brûlée\n"
                             "2;06.01.2023;1.234,50;Café\n", "latin-1"),
         check=_summary(customers=2, revenue=1247.0, first_date="2023-01-05T00:00:00")),
    Case("quoted_newlines.csv", _text('CustomerID,InvoiceDate,Amount,Description\na,2023-01-05,1.5,"two\nlines"\n'
                                      'b,2023-01-06,2,plain\n'), check=_summary(customers=2, revenue=3.5)),
    Case("nan_inf_negative.csv", _text(HEADER + "a,2023-01-05,10\nb,2023-01-06,NaN\nc,2023-01-07,inf\n"
                                       "d,2023-01-08,-5\na,2023-01-09,2.5\ne,2023-01-10,-inf\n"), check=_nan_inf_check),
    Case("dates_several_formats.csv", _text(HEADER + 'a,2023-01-05,1\nb,2023-01-06 10:30,2\nc,7 Jan 2023,3\n'
                                            'd,"January 8, 2023",4\ne,13/01/2023,5\nf,2023-01-14T09:00:00Z,6\n'),
         check=_dates_check),
    Case("one_customer.csv", _text(HEADER + "a,2023-01-05,1\na,2023-02-05,2\na,2023-03-05,3\n"),
         check=_summary(customers=1, orders=3, revenue=6.0)),
    Case("all_rows_duplicated.csv", _text(HEADER + _rows(5) * 2), check=_duplicates_check),
    Case("formula_injection.csv", _text('CustomerID,InvoiceDate,Amount,Description\n'
                                        '"=HYPERLINK(""http://evil.example"",""x"")",2023-01-05,1,=1+1\n'
                                        '+41,2023-01-06,2,@SUM(A1)\n-3,2023-01-07,3,"=cmd|\' /C calc\'!A0"\n'),
         check=_summary(customers=3, revenue=6.0)),
    Case("just_over_limit.csv", _just_over_limit, web="size"),
    Case("utf16_without_bom.csv", _bytes((HEADER + "a,2023-01-05,3\nb,2023-01-06,4\n").encode("utf-16-le")),
         check=_summary(customers=2, revenue=7.0)),
    Case("excel_sep_line.csv", _text("sep=;\nCustomerID;InvoiceDate;Amount\na;2023-01-05;1,5\nb;2023-01-06;2\n"),
         check=_summary(customers=2, revenue=3.5)),
    Case("old_mac_line_endings.csv", _text(HEADER.replace("\n", "\r") + "a,2023-01-05,1\rb,2023-01-06,2\r"),
         check=_summary(customers=2, revenue=3.0)),
    Case("customer_level_inf.csv", _text("customer,spend\na,10\nb,inf\nc,20\n"), check=_customer_inf_check),
    Case("latin1_after_utf8.csv", _latin1_after_utf8, check=_summary(customers=51, revenue=12_007.0)),
)


def build_corpus(folder: Path, *, limit_bytes: int) -> dict[str, Path]:
    """Write every case's file into ``folder``; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for case in CASES:
        path = folder / case.name
        case.write(path, limit_bytes)
        paths[case.name] = path
    return paths
