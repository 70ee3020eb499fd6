"""Statements written out as CSV text and as a PDF document, a chunk at a time."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import cast

from lumipay.accounts.service import HistoryRow
from lumipay.clock import in_lagos, lagos_label
from lumipay.csvsafe import csv_cell, csv_line
from lumipay.money import to_major_str
from lumipay.pdf import LumipayPDF
from lumipay.statements.service import Statement

PDF_CHUNK = 64 * 1024
LINE = 4.5
"""Height in mm of one line of text in the table."""


def filename(statement: Statement, extension: str) -> str:
    return (
        f"lumipay-statement-{statement.currency}-{statement.start.isoformat()}"
        f"-to-{statement.end.isoformat()}.{extension}"
    )


def csv_chunks(statement: Statement, batches: Iterable[list[HistoryRow]]) -> Iterator[str]:
    """The statement as CSV: a summary block, then one line per entry with its running balance.

    Amounts are plain major units ("5000.50") in the wallet's currency, so spreadsheets read
    them as numbers.
    """
    cur = statement.currency
    yield csv_line(["Lumipay statement"])
    yield csv_line(["Account holder", csv_cell(statement.holder_name)])
    yield csv_line(["Account number", statement.account_number])
    yield csv_line(["Currency", cur])
    yield csv_line(["Period", statement.start.isoformat(), statement.end.isoformat()])
    yield csv_line(["Opening balance", to_major_str(statement.opening, cur)])
    yield csv_line(["Money in", to_major_str(statement.total_in, cur)])
    yield csv_line(["Money out", to_major_str(statement.total_out, cur)])
    yield csv_line(["Closing balance", to_major_str(statement.closing, cur)])
    yield "\r\n"
    yield csv_line(
        ["Date", "Reference", "Type", "Details", "Narration", "Money in", "Money out", "Balance"]
    )
    for batch in batches:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        for row in batch:
            writer.writerow(
                [
                    in_lagos(row.created_at).isoformat(timespec="seconds"),
                    row.reference,
                    row.kind,
                    csv_cell(row.description),
                    csv_cell(row.narration),
                    to_major_str(row.amount, cur) if row.amount > 0 else "",
                    to_major_str(-row.amount, cur) if row.amount < 0 else "",
                    to_major_str(row.balance_after, cur) if row.balance_after is not None else "",
                ]
            )
        yield buffer.getvalue()


# Title, width in mm (A4 with 10 mm margins has 190), alignment, font size: dates and
# references in a smaller size so they are never cut.
COLUMNS = (
    ("Date", 26, "L", 7),
    ("Details", 52, "L", 8),
    ("Reference", 38, "L", 7),
    ("Money in", 24, "R", 8),
    ("Money out", 24, "R", 8),
    ("Balance", 26, "R", 8),
)
WRAPPED = 1
"""The details column: its text wraps onto more lines instead of being cut."""


class StatementPDF(LumipayPDF):
    """A4 pages, each headed with the statement's owner and the column titles."""

    def __init__(self, statement: Statement) -> None:
        super().__init__(f"Lumipay statement {statement.start} to {statement.end}")
        self.statement = statement
        self.set_margins(10, 10, 10)
        self.set_auto_page_break(True, margin=16)

    def money(self, minor: int) -> str:
        return self.amount(minor, self.statement.currency)

    def header(self) -> None:
        s = self.statement
        self.set_font(self.family, "B", 14)
        self.set_text_color(58, 43, 209)
        self.cell(0, 8, "Lumipay", new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(20, 33, 61)
        self.set_font(self.family, "", 9)
        self.cell(
            0,
            5,
            self.text_(
                f"Statement of account · {s.holder_name} · {s.account_number} · {s.currency} wallet"
            ),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        self.cell(
            0,
            5,
            f"{s.start:%d %b %Y} to {s.end:%d %b %Y} · "
            f"generated {lagos_label(s.generated_at)} · times in Lagos time (WAT)",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        self.ln(3)
        self.set_font(self.family, "B", 8)
        self.set_fill_color(235, 238, 245)
        for title, width, align, _ in COLUMNS:
            self.cell(width, 6, title, align=align, fill=True)
        self.ln(6)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 8)
        self.set_text_color(82, 96, 122)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(20, 33, 61)

    def fit(self, text: str, width: float) -> str:
        """Cut `text` to fit a column, with an ellipsis when it had to be cut."""
        text = self.text_(text)
        room = width - 2
        if self.get_string_width(text) <= room:
            return text
        while text and self.get_string_width(text + "…") > room:
            text = text[:-1]
        return text + ("…" if self.unicode else "...")

    def line_(self, cells: list[str], *, bold: bool = False) -> None:
        """One statement line; the details column wraps (a narration is never cut short)."""
        style = "B" if bold else ""
        _, details_width, _, details_size = COLUMNS[WRAPPED]
        self.set_font(self.family, style, details_size)
        details = self.text_(cells[WRAPPED])
        # A dry run with output="LINES" returns only the wrapped lines.
        wrapped = cast(
            list[str],
            self.multi_cell(details_width, LINE, details, align="L", dry_run=True, output="LINES"),
        )
        height = max(len(wrapped), 1) * LINE + 1.5
        if self.get_y() + height > self.page_break_trigger:
            self.add_page()
        top = self.get_y()
        for n, ((_, width, align, size), value) in enumerate(zip(COLUMNS, cells, strict=True)):
            self.set_font(self.family, style, size)
            if n == WRAPPED:
                self.multi_cell(width, LINE, details, align="L", new_x="RIGHT", new_y="TOP")
            else:
                self.cell(width, LINE, self.fit(value, width), align=align)
        self.set_xy(self.l_margin, top + height)
        self.set_draw_color(221, 227, 238)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())


def pdf_chunks(statement: Statement, batches: Iterable[list[HistoryRow]]) -> Iterator[bytes]:
    """The statement as a PDF.

    Entries arrive batch by batch and only their drawn page content is kept; the document is
    finished (fonts subset, cross-reference table written) at the end and sent in chunks.
    """
    pdf = StatementPDF(statement)
    pdf.add_page()
    pdf.line_(
        [
            f"{statement.start:%Y-%m-%d}",
            "Opening balance",
            "",
            "",
            "",
            pdf.money(statement.opening),
        ],
        bold=True,
    )
    count = 0
    for batch in batches:
        for row in batch:
            details = row.description
            if row.narration and row.narration != row.description:
                details = f"{details} · {row.narration}"
            pdf.line_(
                [
                    f"{in_lagos(row.created_at):%Y-%m-%d %H:%M}",
                    details,
                    row.reference,
                    pdf.money(row.amount) if row.amount > 0 else "",
                    pdf.money(-row.amount) if row.amount < 0 else "",
                    pdf.money(row.balance_after) if row.balance_after is not None else "",
                ]
            )
            count += 1
    pdf.line_(
        [
            f"{statement.end:%Y-%m-%d}",
            "Closing balance",
            "",
            pdf.money(statement.total_in),
            pdf.money(statement.total_out),
            pdf.money(statement.closing),
        ],
        bold=True,
    )
    if count == 0:
        pdf.ln(4)
        pdf.set_font(pdf.family, "", 9)
        pdf.cell(0, 6, "No transactions in this period.")
    data = bytes(pdf.output())
    for offset in range(0, len(data), PDF_CHUNK):
        yield data[offset : offset + PDF_CHUNK]
