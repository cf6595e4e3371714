"""The one error type for problems a user can cause and fix (bad file, bad column, bad parameter)."""

from __future__ import annotations


class AnalysisError(ValueError):
    """A user-fixable problem with the input data or parameters.

    The message is a complete sentence meant for the user: it says what is wrong and where
    (file, column, row), and, where possible, what to do about it. ``file``, ``column`` and
    ``row`` repeat the location for programs that want it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        row: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.column = column
        self.row = row

    def to_dict(self) -> dict:
        """JSON-ready form: ``{"error": message, "file": ..., "column": ..., "row": ...}``."""
        return {"error": self.message, "file": self.file, "column": self.column, "row": self.row}
