"""Reading files into raw DataFrames: the only module of ``analysis`` that touches the file system for input.

Supported: CSV-like text (comma, semicolon, tab, pipe or whitespace separated; UTF-8 with or without a
byte-order mark, UTF-16 with a byte-order mark, or Latin-1), Excel ``.xlsx`` and Parquet. The format is
decided by the file's first bytes, not only its name, so a Parquet file called ``.csv`` still loads, while an
executable called ``.csv`` gets a clear error. :func:`check_head` is that decision on the first and last bytes
alone (cheap enough for a web process to run on an upload before storing it). Every problem is raised as
:class:`~analysis.errors.AnalysisError` naming the file.

Text cells are returned as text; :mod:`analysis.normalize` parses numbers, dates and ids by their role, using
the decimal separator detected here (``frame.attrs["decimal"]``: ``","`` when the file writes ``12,50`` or
``1.234,50``; only for files not separated by commas).
"""

from __future__ import annotations

import csv
import io
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError

PARQUET_MAGIC = b"PAR1"
ZIP_MAGIC = b"PK\x03\x04"
CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 256 * 1024
# Excel files are zip archives; refuse ones whose content would inflate absurdly (zip bombs).
MAX_XLSX_UNCOMPRESSED = 2 * 1024**3
MAX_XLSX_RATIO = 200
# More columns than this is not a table of customers or transactions (and makes every later step slow).
MAX_COLUMNS = 10_000
# How far to look for the end of the header line when the first SNIFF_BYTES hold no line break.
MAX_HEADER_BYTES = 8 * 1024**2
TAIL_BYTES = 8

# First bytes of files that are certainly not tables: (signature, what it is).
_NOT_DATA = (
    (b"\x7fELF", "an executable program (ELF)"),
    (b"\xcf\xfa\xed\xfe", "an executable program (Mach-O)"),
    (b"\xce\xfa\xed\xfe", "an executable program (Mach-O)"),
    (b"\xfe\xed\xfa\xce", "an executable program (Mach-O)"),
    (b"\xfe\xed\xfa\xcf", "an executable program (Mach-O)"),
    (b"\xca\xfe\xba\xbe", "an executable program or Java class"),
    (b"\x1f\x8b", "a gzip-compressed file; unpack it and upload the file inside"),
    (b"BZh", "a bzip2-compressed file; unpack it and upload the file inside"),
    (b"\xfd7zXZ\x00", "an xz-compressed file; unpack it and upload the file inside"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive; unpack it and upload the file inside"),
    (b"Rar!\x1a\x07", "a RAR archive; unpack it and upload the file inside"),
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"SQLite format 3\x00", "an SQLite database"),
)


def read_table(path: str | Path, *, sheet: str | int | None = 0) -> pd.DataFrame:
    """Read a transactions or customers file into a raw DataFrame, columns as in the file.

    Parameters
    ----------
    path : CSV / TSV / TXT, XLSX or Parquet file.
    sheet : Excel sheet name or index (ignored for other formats).

    Returns
    -------
    DataFrame with one row per data row of the file (header excluded) and the file's column names,
    stripped of surrounding white space. Text files give every cell as text (``str``, missing cells NaN),
    with the file's decimal separator in ``frame.attrs["decimal"]``; Excel and Parquet keep their stored
    types (an Excel frame also carries ``attrs["sheets"]``, every sheet name, and ``attrs["sheet"]``, the
    one read). ``analysis.normalize`` turns them into the canonical schema.
    """
    path = Path(path)
    name = path.name
    kind, head = _preflight(path)
    if kind == "parquet":
        frame = _read_parquet(path)
    elif kind == "xlsx":
        frame = _read_xlsx(path, sheet)
    else:
        frame = _read_text(path, head)

    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.shape[1] == 0:
        raise AnalysisError(f"File '{name}' has no columns.", file=name)
    _check_column_count(frame.shape[1], name)
    if len(frame) == 0:
        raise AnalysisError(f"File '{name}' has a header but no data rows.", file=name)
    _check_duplicate_columns(frame.columns, name)
    return frame


def preflight(path: str | Path) -> str:
    """The checks :func:`read_table` makes before parsing a file, alone: ``"parquet"``, ``"xlsx"`` or ``"text"``,
    or :class:`AnalysisError` with the same message :func:`read_table` would give (a missing or empty file,
    everything :func:`check_head` refuses, and for text: white space only, a first line without a line break in
    :data:`MAX_HEADER_BYTES` or wider than :data:`MAX_COLUMNS`, mixed delimiters, repeated header names).

    Reads at most the first :data:`SNIFF_BYTES` (the header line, up to :data:`MAX_HEADER_BYTES`) and the last
    bytes. Another reader of the same files (a faster path) calls it first, so that hostile files get the same
    answer, quickly, whichever reader handles them."""
    return _preflight(Path(path))[0]


def _preflight(path: Path) -> tuple[str, bytes]:
    name = path.name
    if not path.exists():
        raise AnalysisError(f"File '{name}' does not exist.", file=name)
    if path.is_dir():
        raise AnalysisError(f"'{name}' is a folder, not a file.", file=name)
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
        fh.seek(max(size - TAIL_BYTES, 0))
        tail = fh.read(TAIL_BYTES)
    kind = check_head(name, head, size=size, tail=tail)
    if kind == "text":
        _text_layout(path, head)
    return kind, head


def check_head(name: str, head: bytes, *, size: int, tail: bytes = b"") -> str:
    """Decide a file's format from its first bytes (``head``, up to :data:`SNIFF_BYTES`), its size in bytes and
    its last bytes (``tail``, optional), without reading the rest: ``"parquet"``, ``"xlsx"`` or ``"text"``.

    Raises :class:`AnalysisError` naming ``name`` for what is certainly not a table: an empty file, a program,
    an image, a compressed archive, a Parquet file cut short, a name promising a format the bytes do not have,
    and text that is binary, HTML, XML or JSON. Cheap (no parsing), so the web process runs it on uploads."""
    suffix = Path(name).suffix.lower()
    if size == 0 or not head:
        raise AnalysisError(f"File '{name}' is empty (0 bytes).", file=name)
    for signature, what in _NOT_DATA:
        if head.startswith(signature):
            binary = "a binary file, " if b"\x00" in head[:4096] or what.startswith("an executable") else ""
            raise AnalysisError(f"File '{name}' is {binary}{what}, not a table. Upload CSV, XLSX or Parquet.",
                                file=name)
    if head.startswith(PARQUET_MAGIC):
        if size < 12 or (tail and not tail.endswith(PARQUET_MAGIC)):
            raise AnalysisError(
                f"File '{name}' could not be read as Parquet; it may be truncated or damaged (it starts like a "
                f"Parquet file but its {size:,} bytes lack the closing PAR1 signature: was the copy cut short?).",
                file=name,
            )
        return "parquet"
    if head.startswith(ZIP_MAGIC):
        return "xlsx"
    if suffix in (".parquet", ".pq"):
        raise AnalysisError(f"File '{name}' is not a valid Parquet file (it lacks the PAR1 signature).", file=name)
    if suffix in (".xlsx", ".xlsm"):
        raise AnalysisError(f"File '{name}' is not a valid Excel .xlsx file (it is not a zip archive).", file=name)
    if suffix == ".xls" or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise AnalysisError(
            f"File '{name}' is an old-style .xls workbook; save it as .xlsx or CSV and upload that.", file=name
        )
    _, sample = _decode(head, name)
    _check_markup(sample, name)
    return "text"


def _check_markup(sample: str, name: str) -> None:
    """Refuse text that is a web page, XML or JSON rather than a table (a common wrong download)."""
    start = sample.lstrip("\ufeff \t\r\n")[:200].lower()
    if start.startswith(("<!doctype html", "<html", "<head", "<body")):
        what = "a web page (HTML)"
    elif start.startswith("<?xml") or re.match(r"<[a-z][\w:.-]*[ >]", start):
        what = "an XML document"
    elif re.match(r"(\[\s*)?\{\s*\"", start) or re.match(r"\[\s*(\[|\"|-?\d|true|false|null)", start):
        what = "JSON"
    else:
        return
    raise AnalysisError(
        f"File '{name}' is {what}, not a table with a header row. Upload CSV, XLSX or Parquet (if this was a "
        "download, it may be an error page instead of the file).",
        file=name,
    )


def _check_column_count(count: int, name: str) -> None:
    if count > MAX_COLUMNS:
        raise AnalysisError(
            f"File '{name}' has {count:,} columns; at most {MAX_COLUMNS:,} are supported. Keep the columns the "
            "analysis needs (customer, date, amount or quantity and price, ...) and upload that.",
            file=name,
        )


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        import pyarrow.parquet as pq

        _check_column_count(len(pq.read_schema(path).names), path.name)
    except AnalysisError:
        raise
    except Exception:  # noqa: BLE001 - the read below names the problem
        pass
    try:
        frame = pd.read_parquet(path)
        _check_utf8(frame)
    except Exception as exc:  # pyarrow raises many types for damaged files
        raise AnalysisError(
            f"File '{path.name}' could not be read as Parquet; it may be truncated or damaged ({_short(exc)}).",
            file=path.name,
        ) from exc
    return frame


def _check_utf8(frame: pd.DataFrame) -> None:
    """Raise ``pyarrow.ArrowInvalid`` naming the column when Arrow-backed text (values or categories) holds bytes
    that are not UTF-8: Parquet readers do not check, and the first string operation would fail later."""
    import pyarrow as pa

    for col in frame.columns:
        values = frame[col]
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = pd.Series(values.cat.categories)
        if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
            try:
                pa.array(values.array).validate(full=True)
            except pa.ArrowInvalid as exc:
                raise pa.ArrowInvalid(f"column '{col}': {exc}") from exc


def _read_xlsx(path: Path, sheet: str | int | None) -> pd.DataFrame:
    name = path.name
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = {i.filename for i in infos}
            total = sum(i.file_size for i in infos)
            packed = sum(i.compress_size for i in infos) or 1
    except Exception as exc:  # noqa: BLE001 - BadZipFile, OSError, NotImplementedError (zip versions), ...
        raise AnalysisError(f"File '{name}' is not a valid .xlsx workbook (damaged zip archive: {_short(exc)}).",
                            file=name) from exc
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise AnalysisError(f"File '{name}' is a zip archive but not an Excel .xlsx workbook.", file=name)
    if total > MAX_XLSX_UNCOMPRESSED or total / packed > MAX_XLSX_RATIO:
        raise AnalysisError(
            f"File '{name}' would expand to {total / 1024**2:,.0f} MB when opened; refusing it as a likely "
            "zip bomb. Export the sheet as CSV instead.",
            file=name,
        )
    try:
        with pd.ExcelFile(path, engine="openpyxl") as book:
            sheets = [str(s) for s in book.sheet_names]
            chosen = _resolve_sheet(sheet, sheets, name)
            frame = pd.read_excel(book, sheet_name=chosen)
    except AnalysisError:
        raise
    except ValueError as exc:
        raise AnalysisError(f"File '{name}': {_short(exc)}.", file=name) from exc
    except Exception as exc:
        raise AnalysisError(
            f"File '{name}' could not be read as an Excel workbook ({_short(exc)}).", file=name
        ) from exc
    frame.attrs["sheets"] = sheets
    frame.attrs["sheet"] = chosen
    return frame


def _resolve_sheet(sheet: str | int | None, sheets: list[str], name: str) -> str:
    """The sheet name meant by ``sheet``: a sheet name first (a sheet may be called ``2023``), else a
    0-based position (an int or a string of digits); None means the first sheet."""
    if sheet is None:
        return sheets[0]
    text = str(sheet).strip()
    if text in sheets:
        return text
    if isinstance(sheet, (int, np.integer)) and not isinstance(sheet, bool) or text.isdigit():
        position = int(text)
        if 0 <= position < len(sheets):
            return sheets[position]
        raise AnalysisError(
            f"File '{name}' has {len(sheets)} sheet(s), so there is no sheet number {position} (counting from 0); "
            f"its sheets are: {', '.join(sheets)}.",
            file=name,
        )
    raise AnalysisError(f"File '{name}' has no sheet '{text}'; its sheets are: {', '.join(sheets)}.", file=name)


UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _decode(head: bytes, name: str) -> tuple[str, str]:
    """Return (encoding, decoded sample) for a text file, or raise if the bytes are not text."""
    if head.startswith(UTF16_BOMS):
        # UTF-16 (Excel's "Unicode text" export): NUL bytes are part of the encoding, not binary content.
        sample = head[: len(head) - len(head) % 2]
        return "utf-16", sample.decode("utf-16", errors="ignore")
    bomless = _utf16_without_bom(head)
    if bomless:
        sample = head[: len(head) - len(head) % 2]
        return bomless, sample.decode(bomless, errors="ignore")
    if b"\x00" in head:
        raise AnalysisError(
            f"File '{name}' is a binary file, not CSV text (it contains NUL bytes). Upload CSV, XLSX or Parquet.",
            file=name,
        )
    sample = head
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError as exc:
            # A multi-byte character cut by the sample boundary is not an encoding problem.
            if encoding == "utf-8-sig" and exc.start >= len(sample) - 3:
                text = sample[: exc.start].decode(encoding)
            else:
                continue
        control = sum(1 for ch in text if ord(ch) < 32 and ch not in "\r\n\t")
        if text and control / len(text) > 0.01:
            raise AnalysisError(
                f"File '{name}' does not look like text: {control} control characters in its first "
                f"{len(text):,} characters. Upload CSV, XLSX or Parquet.",
                file=name,
            )
        return encoding, text
    raise AnalysisError(f"File '{name}' is neither UTF-8 nor Latin-1 text.", file=name)  # pragma: no cover


def _utf16_without_bom(head: bytes) -> str | None:
    """``"utf-16-le"`` / ``"utf-16-be"`` when ``head`` is plain text in UTF-16 without a byte-order mark (every
    other byte NUL, the others not), else None."""
    pairs = head[: min(len(head), 4096) // 2 * 2]
    if len(pairs) < 4:
        return None
    even, odd = pairs[0::2], pairs[1::2]
    for encoding, zeros, chars in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if zeros.count(0) >= 0.95 * len(zeros) and chars.count(0) == 0:
            return encoding
    return None


def sniff_delimiter(sample: str) -> str | None:
    """Pick the field delimiter from a text sample.

    Returns one of ``, ; TAB |`` when it splits the first lines into a constant number (>= 2) of fields,
    preferring the one giving most fields; ``None`` when only white space separates fields (or there is a
    single column).
    """
    lines = _sample_lines(sample)
    best, best_fields = None, 1
    for delim in CANDIDATE_DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delim)]
        except csv.Error:
            continue
        if not counts:
            continue
        header = counts[0]
        consistent = sum(c == header for c in counts) / len(counts)
        if header >= 2 and consistent >= 0.9 and header > best_fields:
            best, best_fields = delim, header
    return best


def _sample_lines(sample: str) -> list[str]:
    lines = [ln for ln in sample.splitlines() if ln.strip()][:50]
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line of the sample may be cut
    return lines


WHITESPACE = r"\s+"
WIDE_WHITESPACE = r"\s{2,}"


def _whitespace_separator(sample: str) -> str:
    """``\\s+``, or ``\\s{2,}`` when columns are aligned with two or more spaces and single spaces occur
    inside values (``RED MUG``, ``2023-01-05 10:00``)."""
    lines = _sample_lines(sample)

    def consistent(pattern: str) -> bool:
        counts = [len(re.split(pattern, ln.strip())) for ln in lines]
        return counts[0] >= 2 and all(c == counts[0] for c in counts)

    if not consistent(WHITESPACE) and consistent(WIDE_WHITESPACE):
        return WIDE_WHITESPACE
    return WHITESPACE


def _read_text(path: Path, head: bytes) -> pd.DataFrame:
    """Read delimited text. Every cell is kept as text (``str``, missing as NaN): numbers, dates and ids
    are parsed by :mod:`analysis.normalize`, which knows each column's role. The file's decimal separator
    (``"."`` or ``","``) is recorded in ``frame.attrs["decimal"]`` for it."""
    name = path.name
    sample, kwargs = _text_layout(path, head)
    try:
        frame = _read_csv_checked(path, kwargs, name)
    except UnicodeDecodeError:
        # The sample was UTF-8 but a later part is not: read the whole file as Latin-1.
        kwargs["encoding"] = "latin-1"
        frame = _read_csv_checked(path, kwargs, name)
    frame.attrs["decimal"] = "," if guess_decimal_comma(sample, kwargs["sep"]) else "."
    return frame


def _text_layout(path: Path, head: bytes) -> tuple[str, dict]:
    """(sample without an Excel ``sep=`` line, ``pd.read_csv`` arguments) for a text file, after the checks
    that need no parsing: white space only, the header line's length and width, mixed delimiters, repeated
    header names. Raises :class:`AnalysisError` naming the file."""
    name = path.name
    encoding, sample = _decode(head, name)
    if not sample.strip("\ufeff \t\r\n"):
        raise AnalysisError(f"File '{name}' contains only white space.", file=name)
    _check_header_line(path, sample, encoding, len(head))
    sample, declared, skip = _declared_separator(sample)
    if not sample.strip("\ufeff \t\r\n"):
        raise AnalysisError(f"File '{name}' has a 'sep=' line but no header row or data after it.", file=name)
    delimiter = declared or sniff_delimiter(sample)
    if delimiter is None:
        _check_mixed_delimiters(sample, name)
    first_line = sample.lstrip("\ufeff").splitlines()[0]
    kwargs: dict = {"encoding": encoding, "skipinitialspace": True, "dtype": str, "index_col": False}
    if skip:
        kwargs["skiprows"] = skip
    if delimiter is None and len(first_line.split()) >= 2:
        kwargs["sep"] = _whitespace_separator(sample)
        if kwargs["sep"] != WHITESPACE:
            kwargs["engine"] = "python"
    else:
        kwargs["sep"] = delimiter or ","
        kwargs["low_memory"] = False
    _check_header_names(sample, kwargs["sep"], name)
    return sample, kwargs


def _check_header_names(sample: str, sep: str, name: str) -> None:
    """Two header cells with the same name (pandas would silently call the second ``name.1``)."""
    lines = _sample_lines(sample.lstrip("\ufeff"))
    if not lines:
        return
    if sep in (WHITESPACE, WIDE_WHITESPACE):
        header = re.split(sep, lines[0].strip())
    else:
        header = next(csv.reader([lines[0]], delimiter=sep, skipinitialspace=True), [])
    _check_duplicate_columns([h.strip() for h in header if h.strip()], name)


_SEP_LINE = re.compile(r"^\ufeff?sep=(.)\s*$", re.IGNORECASE)


def _declared_separator(sample: str) -> tuple[str, str | None, int]:
    """Excel's ``sep=;`` first line: (sample without it, the declared delimiter, lines to skip); else
    (sample, None, 0)."""
    lines = sample.splitlines(keepends=True)
    match = _SEP_LINE.match(lines[0]) if lines else None
    if not match or match.group(1) not in CANDIDATE_DELIMITERS + (" ",):
        return sample, None, 0
    return "".join(lines[1:]), match.group(1), 1


def _check_header_line(path: Path, sample: str, encoding: str, sampled: int) -> None:
    """Refuse a text file whose first line is not a header: longer than the sample without a line break (a
    50 MB single line, a minified export), or with more than :data:`MAX_COLUMNS` fields."""
    name = path.name
    body = sample.lstrip("\ufeff")
    end = min((i for i in (body.find("\n"), body.find("\r")) if i >= 0), default=-1)
    line = body if end < 0 else body[:end]
    if end < 0 and path.stat().st_size > sampled:
        # Look further for the end of the header line, in bounded pieces.
        with path.open("r", encoding=encoding, errors="replace", newline="") as fh:
            line = fh.readline(MAX_HEADER_BYTES)
        if len(line.encode(encoding, errors="replace")) >= MAX_HEADER_BYTES and not line.endswith(("\n", "\r")):
            raise AnalysisError(
                f"File '{name}' has no line break in its first {MAX_HEADER_BYTES // 1024**2} MB, so it is not a "
                "table with a header row and one row per line. Upload CSV, XLSX or Parquet.",
                file=name,
            )
    fields = max(line.count(d) for d in CANDIDATE_DELIMITERS) + 1
    _check_column_count(fields, name)


def _check_mixed_delimiters(sample: str, name: str) -> None:
    """No delimiter splits every line alike: say so when the header uses one delimiter and the data rows
    another (a header typed by hand over exported rows), instead of reading one wide text column."""
    lines = _sample_lines(sample)
    if len(lines) < 2:
        return
    header, rows = lines[0], lines[1:]

    def fields(line: str, delim: str) -> int:
        return len(next(csv.reader([line], delimiter=delim), []))

    for head_delim in CANDIDATE_DELIMITERS:
        n = fields(header, head_delim)
        if n < 2:
            continue
        for row_delim in CANDIDATE_DELIMITERS:
            if row_delim == head_delim:
                continue
            if all(fields(r, row_delim) == n and fields(r, head_delim) == 1 for r in rows):
                raise AnalysisError(
                    f"File '{name}' mixes delimiters: its header is separated by {_delim_name(head_delim)} but "
                    f"its data rows by {_delim_name(row_delim)}. Save it with one delimiter throughout.",
                    file=name,
                )


def _delim_name(delim: str) -> str:
    return {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes"}[delim]


def _read_csv_checked(path: Path, kwargs: dict, name: str) -> pd.DataFrame:
    """``pd.read_csv`` that refuses rows with more fields than the header.

    A row with more fields than the header would make pandas take the first column as the index and shift
    every value one column to the left. Extra fields that are all empty (a trailing delimiter, as some
    Excel exports write) are dropped; anything else raises :class:`AnalysisError` naming the first such row.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError as exc:
        raise AnalysisError(f"File '{name}' has no data.", file=name) from exc
    except (pd.errors.ParserWarning, pd.errors.ParserError) as exc:
        problem = exc
    n_header, bad = _overlong_row(path, kwargs)
    if bad is not None:
        row, fields = bad
        shown = ", ".join(repr(f) for f in fields[:8]) + (", ..." if len(fields) > 8 else "")
        hint = ""
        if kwargs["sep"] in (WHITESPACE, WIDE_WHITESPACE):
            hint = (" The file is separated by white space, so a value containing a space (such as a date with "
                    "a time) splits in two; save it with commas, semicolons or tabs between the columns.")
        raise AnalysisError(
            f"Data row {row} of '{name}' has {len(fields)} fields but the header has {n_header} ({shown}).{hint}",
            file=name,
            row=row,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            return pd.read_csv(path, usecols=range(n_header), **kwargs)
    except (pd.errors.ParserError, ValueError) as exc:
        raise AnalysisError(f"File '{name}' is not well-formed CSV: {_short(exc)}.", file=name) from exc
    except Exception as exc:  # pragma: no cover - the first read already failed for a reason we could not place
        raise AnalysisError(f"File '{name}' is not well-formed CSV: {_short(problem)}.", file=name) from exc


def _overlong_row(path: Path, kwargs: dict) -> tuple[int, tuple[int, list[str]] | None]:
    """(header field count, (1-based data row, fields) of the first row with non-empty fields beyond the
    header, or None)."""
    sep = kwargs["sep"]
    with path.open("r", encoding=kwargs["encoding"], errors="replace", newline="") as fh:
        if sep in (WHITESPACE, WIDE_WHITESPACE):
            rows = (re.split(sep, line.strip()) for line in fh if line.strip())
        else:
            rows = (r for r in csv.reader(fh, delimiter=sep, skipinitialspace=True) if r)
        for _ in range(kwargs.get("skiprows") or 0):
            next(rows, None)
        header = next(rows, [])
        n_header = len(header)
        for number, fields in enumerate(rows, start=1):
            if len(fields) > n_header and any(f.strip() for f in fields[n_header:]):
                return n_header, (number, fields)
    return n_header, None


# A number written with a decimal comma (12,50  1.234,50  -3,5) or a decimal point (12.50  1,234.50), with
# optional currency sign and accounting parentheses. "1,500" and "1.500" are ambiguous and not counted.
_NUMBER_CORE = r"^\(?[-+]?[^\d\s,.()+-]{0,3}\s?[-+]?(?P<int>\d{1,3}(?:[{t}]\d{{3}})+|\d+){d}(?P<frac>\d+)\)?$"
_COMMA_NUMBER = re.compile(_NUMBER_CORE.replace("{t}", ".").replace("{d}", ",").replace("{{3}}", "{3}"))
_DOT_NUMBER = re.compile(_NUMBER_CORE.replace("{t}", ",").replace("{d}", r"\.").replace("{{3}}", "{3}"))


def guess_decimal_comma(sample: str, sep: str) -> bool:
    """True when a sample that is not comma-separated writes numbers like ``1,5`` or ``1.234,50`` (decimal
    comma) more often than ``1.5`` or ``1,234.50``. Values with a single separator followed by exactly three
    digits (``1,500``) could be either and are not counted."""
    if sep == ",":
        return False
    lines = sample.splitlines()[1:200]
    comma_numbers = dot_numbers = 0
    for line in lines:
        fields = re.split(sep, line.strip()) if sep in (WHITESPACE, WIDE_WHITESPACE) else line.split(sep)
        for field in fields:
            field = field.strip().strip('"').strip()
            for pattern, is_comma in ((_COMMA_NUMBER, True), (_DOT_NUMBER, False)):
                m = pattern.match(field)
                if not m:
                    continue
                grouped = not m.group("int").isdigit()
                if not grouped and len(m.group("frac")) == 3:
                    continue  # 1,500 / 1.500: thousands or decimals?
                if is_comma:
                    comma_numbers += 1
                else:
                    dot_numbers += 1
    return comma_numbers > dot_numbers


def _check_duplicate_columns(columns, name: str) -> None:
    seen: set[str] = set()
    for col in columns:
        if col in seen:
            raise AnalysisError(f"File '{name}' has two columns named '{col}'; rename one.", file=name, column=col)
        seen.add(col)


def _short(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
