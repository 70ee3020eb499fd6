"""Customer name helpers."""

from __future__ import annotations


def mask_name(full_name: str) -> str:
    """Shorten a name for display to others: ``"Ada Chioma Obi"`` -> ``"Ada O."``.

    Shows the first name and the initial of the last name, so a payee can be recognised without
    revealing the full name. A single name is returned as is; whitespace is collapsed.
    """
    parts = full_name.split()
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return f"{parts[0]} {parts[-1][0].upper()}."
