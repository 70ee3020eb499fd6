"""A receipt as a one-page PDF: what a customer forwards to the person they paid."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from lumipay.clock import lagos_label
from lumipay.pdf import BRAND_RGB, INK_RGB, LumipayPDF
from lumipay.receipts.service import CREDIT, Receipt

MUTED_RGB = (75, 88, 114)
CREDIT_RGB = (10, 122, 61)
LABEL_WIDTH = 38


def filename(receipt: Receipt) -> str:
    return f"lumipay-receipt-{receipt.reference}.pdf"


def receipt_pdf(receipt: Receipt, *, generated_at: datetime) -> bytes:
    """The receipt on an A5 page: brand, amount with its direction in words, then the lines."""
    pdf = LumipayPDF(f"Lumipay receipt {receipt.reference}", page_format="A5")
    pdf.set_subject(f"{receipt.title} {receipt.reference}")
    pdf.set_margins(12, 12, 12)
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    pdf.set_font(pdf.family, "B", 16)
    pdf.set_text_color(*BRAND_RGB)
    pdf.cell(0, 8, "Lumipay", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 10)
    pdf.set_text_color(*MUTED_RGB)
    pdf.cell(0, 6, pdf.text_(f"{receipt.title} receipt"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    sign = "+" if receipt.direction == CREDIT else "−" if receipt.direction == "debit" else ""
    pdf.set_font(pdf.family, "B", 22)
    pdf.set_text_color(*(CREDIT_RGB if receipt.direction == CREDIT else INK_RGB))
    amount = pdf.amount(receipt.amount, receipt.currency)
    pdf.cell(0, 11, pdf.text_(f"{sign}{amount}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "B", 10)
    pdf.set_text_color(*INK_RGB)
    words = f"{receipt.direction_word} · {receipt.status.capitalize()}"
    pdf.cell(0, 6, pdf.text_(words), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    for label, value in lines(receipt, pdf.amount):
        pdf.set_font(pdf.family, "", 9)
        pdf.set_text_color(*MUTED_RGB)
        pdf.cell(LABEL_WIDTH, 6, pdf.text_(label))
        pdf.set_font(pdf.family, "B", 9)
        pdf.set_text_color(*INK_RGB)
        pdf.multi_cell(0, 6, pdf.text_(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font(pdf.family, "", 7)
    pdf.set_text_color(*MUTED_RGB)
    pdf.multi_cell(
        0,
        4,
        pdf.text_(
            f"Generated {lagos_label(generated_at)}. Times are Lagos time (WAT). "
            "Lumipay never asks for your PIN or password by phone, email or chat."
        ),
    )
    return bytes(pdf.output())


def lines(receipt: Receipt, money: Callable[[int, str], str]) -> list[tuple[str, str]]:
    """The receipt's labelled lines, in reading order (`money(minor, currency)` formats)."""
    rows = [
        ("Reference", receipt.reference),
        ("Date", lagos_label(receipt.created_at)),
        ("From", str(receipt.sender)),
        ("To", str(receipt.recipient)),
    ]
    if receipt.received is not None:
        rows.append(("Received", money(*receipt.received)))
    if receipt.rate:
        rows.append(("Rate", receipt.rate))
    if receipt.fee is not None:
        rows.append(("Fee", money(receipt.fee, receipt.fee_currency or receipt.currency)))
    if receipt.total is not None:
        rows.append(("Total", money(receipt.total, receipt.currency)))
    if receipt.narration:
        rows.append(("Narration", receipt.narration))
    rows.extend(receipt.extra)
    return rows
