"""Making tables safe to open in spreadsheet programs."""

from __future__ import annotations

import pandas as pd

# A cell starting with one of these is run as a formula by Excel / LibreOffice / Google Sheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``frame`` where text cells starting with ``= + - @ TAB CR`` are prefixed with ``'``.

    Numbers stay numbers (a negative number is not text and is left alone). Shape and columns unchanged;
    column names are neutralised too.
    """
    out = frame.copy()
    for col in out.columns:
        series = out[col]
        if pd.api.types.is_string_dtype(series) or series.dtype == object:
            text = series.astype("str")
            risky = series.notna() & text.str.startswith(FORMULA_PREFIXES)
            if risky.any():
                out[col] = series.astype(object).where(~risky, "'" + text)
    out.columns = [("'" + c) if isinstance(c, str) and c.startswith(FORMULA_PREFIXES) else c for c in out.columns]
    return out
