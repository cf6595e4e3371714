"""Reading files into raw DataFrames: the only module of ``analysis`` that touches the file system for input.

Supported: CSV-like text (comma, semicolon, tab, pipe or whitespace separated; UTF-8 with or without a
byte-order mark, or Latin-1), Excel ``.xlsx`` and Parquet. The format is decided by the file's first bytes,
not only its name, so a Parquet file called ``.csv`` still loads, while an executable called ``.csv`` gets a
clear error. Every problem is raised as :class:`~analysis.errors.AnalysisError` naming the file.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pandas as pd

from analysis.errors import AnalysisError

PARQUET_MAGIC = b"PAR1"
ZIP_MAGIC = b"PK\x03\x04"
CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 256 * 1024
# Excel files are zip archives; refuse ones whose content would inflate absurdly (zip bombs).
MAX_XLSX_UNCOMPRESSED = 2 * 1024**3
MAX_XLSX_RATIO = 200


def read_table(path: str | Path, *, sheet: str | int | None = 0) -> pd.DataFrame:
    """Read a transactions or customers file into a raw DataFrame, columns as in the file.

    Parameters
    ----------
    path : CSV / TSV / TXT, XLSX or Parquet file.
    sheet : Excel sheet name or index (ignored for other formats).

    Returns
    -------
    DataFrame with one row per data row of the file (header excluded) and the file's column names,
    stripped of surrounding white space. Values keep the types the reader inferred; ``analysis.normalize``
    turns them into the canonical schema.
    """
    path = Path(path)
    name = path.name
    if not path.exists():
        raise AnalysisError(f"File '{name}' does not exist.", file=name)
    if path.is_dir():
        raise AnalysisError(f"'{name}' is a folder, not a file.", file=name)
    if path.stat().st_size == 0:
        raise AnalysisError(f"File '{name}' is empty (0 bytes).", file=name)
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)

    if head.startswith(PARQUET_MAGIC):
        frame = _read_parquet(path)
    elif head.startswith(ZIP_MAGIC):
        frame = _read_xlsx(path, sheet)
    elif path.suffix.lower() in (".parquet", ".pq"):
        raise AnalysisError(f"File '{name}' is not a valid Parquet file (it lacks the PAR1 signature).", file=name)
    elif path.suffix.lower() in (".xlsx", ".xlsm"):
        raise AnalysisError(f"File '{name}' is not a valid Excel .xlsx file (it is not a zip archive).", file=name)
    elif path.suffix.lower() == ".xls":
        raise AnalysisError(
            f"File '{name}' is an old-style .xls workbook; save it as .xlsx or CSV and upload that.", file=name
        )
    else:
        frame = _read_text(path, head)

    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.shape[1] == 0:
        raise AnalysisError(f"File '{name}' has no columns.", file=name)
    if len(frame) == 0:
        raise AnalysisError(f"File '{name}' has a header but no data rows.", file=name)
    _check_duplicate_columns(frame, name)
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for damaged files
        raise AnalysisError(
            f"File '{path.name}' could not be read as Parquet; it may be truncated or damaged ({_short(exc)}).",
            file=path.name,
        ) from exc


def _read_xlsx(path: Path, sheet: str | int | None) -> pd.DataFrame:
    name = path.name
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = {i.filename for i in infos}
            total = sum(i.file_size for i in infos)
            packed = sum(i.compress_size for i in infos) or 1
    except (zipfile.BadZipFile, OSError) as exc:
        raise AnalysisError(f"File '{name}' is not a valid .xlsx workbook (damaged zip archive).", file=name) from exc
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise AnalysisError(f"File '{name}' is a zip archive but not an Excel .xlsx workbook.", file=name)
    if total > MAX_XLSX_UNCOMPRESSED or total / packed > MAX_XLSX_RATIO:
        raise AnalysisError(
            f"File '{name}' would expand to {total / 1024**2:,.0f} MB when opened; refusing it as a likely "
            "zip bomb. Export the sheet as CSV instead.",
            file=name,
        )
    try:
        return pd.read_excel(path, sheet_name=sheet, engine="openpyxl")
    except ValueError as exc:
        raise AnalysisError(f"File '{name}': {_short(exc)}.", file=name) from exc
    except Exception as exc:
        raise AnalysisError(
            f"File '{name}' could not be read as an Excel workbook ({_short(exc)}).", file=name
        ) from exc


def _decode(head: bytes, name: str) -> tuple[str, str]:
    """Return (encoding, decoded sample) for a text file, or raise if the bytes are not text."""
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


def sniff_delimiter(sample: str) -> str | None:
    """Pick the field delimiter from a text sample.

    Returns one of ``, ; TAB |`` when it splits the first lines into a constant number (>= 2) of fields,
    preferring the one giving most fields; ``None`` when only white space separates fields (or there is a
    single column).
    """
    lines = [ln for ln in sample.splitlines() if ln.strip()][:50]
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line of the sample may be cut
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


def _read_text(path: Path, head: bytes) -> pd.DataFrame:
    name = path.name
    encoding, sample = _decode(head, name)
    if not sample.strip():
        raise AnalysisError(f"File '{name}' contains only white space.", file=name)
    delimiter = sniff_delimiter(sample)
    first_line = sample.splitlines()[0]
    kwargs: dict = {"encoding": encoding, "skipinitialspace": True}
    if delimiter is None and len(first_line.split()) >= 2:
        kwargs["sep"] = r"\s+"
    else:
        kwargs["sep"] = delimiter or ","
        kwargs["low_memory"] = False
    decimal = _guess_decimal_comma(sample, kwargs["sep"])
    if decimal:
        kwargs["decimal"] = ","
    try:
        return pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError as exc:
        raise AnalysisError(f"File '{name}' has no data.", file=name) from exc
    except pd.errors.ParserError as exc:
        raise AnalysisError(f"File '{name}' is not well-formed CSV: {_short(exc)}.", file=name) from exc
    except UnicodeDecodeError:
        # The sample was UTF-8 but a later part is not: read the whole file as Latin-1.
        kwargs["encoding"] = "latin-1"
        try:
            return pd.read_csv(path, **kwargs)
        except pd.errors.ParserError as exc:
            raise AnalysisError(f"File '{name}' is not well-formed CSV: {_short(exc)}.", file=name) from exc


def _guess_decimal_comma(sample: str, sep: str) -> bool:
    """True when a semicolon-separated sample writes numbers like ``1,5`` (European decimal comma)."""
    if sep != ";":
        return False
    lines = sample.splitlines()[1:50]
    comma_numbers = dot_numbers = 0
    for line in lines:
        for field in line.split(";"):
            field = field.strip().strip('"')
            if field.replace(",", "", 1).lstrip("-").isdigit() and "," in field:
                comma_numbers += 1
            elif field.replace(".", "", 1).lstrip("-").isdigit() and "." in field:
                dot_numbers += 1
    return comma_numbers > dot_numbers


def _check_duplicate_columns(frame: pd.DataFrame, name: str) -> None:
    seen: set[str] = set()
    for col in frame.columns:
        if col in seen:
            raise AnalysisError(f"File '{name}' has two columns named '{col}'; rename one.", file=name, column=col)
        seen.add(col)


def _short(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
