"""The back office's navigation: each domain registers its own section when its pages load.

The admin package sits below the products (its blueprint and access check, this list), so a
domain adds its pages and its menu entry from its own package and admin imports none of them.
"""

from __future__ import annotations

from flask import current_app, url_for

# (position, endpoint, label); positions keep the menu in the bank's order whatever the
# import order.
_SECTIONS: dict[str, tuple[int, str]] = {}


def register_section(endpoint: str, label: str, position: int) -> None:
    """Add (or replace) the menu entry for a back-office section."""
    _SECTIONS[endpoint] = (position, label)


def admin_sections() -> list[tuple[str, str]]:
    """(url, label) for each section that is served, so the layout never links to a 404."""
    served = current_app.view_functions
    ordered = sorted(_SECTIONS.items(), key=lambda item: item[1][0])
    return [(url_for(endpoint), label) for endpoint, (_, label) in ordered if endpoint in served]
