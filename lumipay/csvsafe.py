"""CSV lines for exports (statements, reconciliation) that spreadsheets read safely."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

# Spreadsheet programs run a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """Text a spreadsheet shows as text, never evaluates (CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_line(values: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(list(values))
    return buffer.getvalue()
