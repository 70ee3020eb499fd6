"""The one setup for Lumipay's PDFs (statements, receipts): fpdf2 with a font that has ₦ and €.

Debian's fonts-dejavu-core (on every machine we run on) has them; the PDF core fonts know
Latin-1 only. Without DejaVu a PDF falls back to Helvetica and currency codes.
"""

from __future__ import annotations

import os

from fpdf import FPDF

from lumipay.money import format_amount, get_currency

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
BRAND_RGB = (58, 43, 209)
INK_RGB = (20, 33, 61)


class LumipayPDF(FPDF):
    """An A4 document in the body font, with the text and money helpers every Lumipay PDF uses."""

    def __init__(self, title: str, page_format: str = "A4") -> None:
        super().__init__(format=page_format)
        self.unicode = all(os.path.exists(os.path.join(FONT_DIR, f)) for f in FONT_FILES.values())
        if self.unicode:
            for style, name in FONT_FILES.items():
                self.add_font("Body", style, os.path.join(FONT_DIR, name))
            self.family = "Body"
        else:
            self.family = "Helvetica"
        self.set_title(title)
        self.set_author("Lumipay")
        self.set_creator("Lumipay")

    def text_(self, value: str) -> str:
        """Text the current font can draw (the core fonts know Latin-1 only)."""
        return value if self.unicode else value.encode("latin-1", "replace").decode("latin-1")

    def amount(self, minor: int, currency: str, *, sign: bool = False) -> str:
        text = format_amount(minor, currency, sign=sign)
        if self.unicode:
            return text
        symbol = get_currency(currency).symbol
        return self.text_(text.replace(symbol, f"{currency} "))
