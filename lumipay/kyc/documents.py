"""What an uploaded document really is, told by its first bytes, never by its name or the
Content-Type the browser sent (both are the uploader's to choose)."""

from __future__ import annotations

# (leading bytes, media type). PDF readers accept a header a little way in, but a genuine PDF
# starts with it, and requiring that keeps HTML with a "%PDF-" inside out.
SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)
LABELS = {"image/jpeg": "JPEG image", "image/png": "PNG image", "application/pdf": "PDF"}


def sniff(data: bytes) -> str | None:
    """The document's media type if it is a JPEG, PNG or PDF, else None."""
    for signature, media_type in SIGNATURES:
        if data.startswith(signature):
            return media_type
    return None
