"""Downloads the dashboard offers, as pure functions (data in, text out)."""

from __future__ import annotations

import pandas as pd

from analysis.exports import neutralise_formulas

__all__ = ["membership_csv"]


def membership_csv(membership: pd.DataFrame) -> str:
    """The membership table as CSV text: ``customer_id`` first, then the table's columns in their order.

    The customer id comes from a ``customer_id`` column when there is one, else from the index. Text cells and
    column names a spreadsheet would run as a formula (``= + - @`` TAB CR) are prefixed with ``'``; numbers stay
    numbers.
    """
    frame = membership
    if "customer_id" in frame.columns:
        frame = frame.reset_index(drop=True)
    else:
        frame = frame.rename_axis("customer_id").reset_index()
    frame = frame[["customer_id", *[c for c in frame.columns if c != "customer_id"]]]
    return neutralise_formulas(frame).to_csv(index=False, lineterminator="\n")
