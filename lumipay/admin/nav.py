"""The back office's navigation: each section adds its (endpoint, label) here once it exists."""

from __future__ import annotations

from flask import current_app, url_for

SECTIONS: tuple[tuple[str, str], ...] = (
    ("admin.overview", "Overview"),
    ("admin.customers", "Customers"),
    ("admin.transactions", "Transactions"),
    ("kyc_admin.queue", "KYC reviews"),
    ("bank_admin.payouts", "Payouts"),
    ("admin.reconciliation", "Reconciliation"),
    ("admin.settlements", "Settlements"),
    ("admin.audit", "Audit log"),
    ("admin.ledger", "Ledger"),
)


def admin_sections() -> list[tuple[str, str]]:
    """(url, label) for each section that is served, so the layout never links to a 404."""
    served = current_app.view_functions
    return [(url_for(endpoint), label) for endpoint, label in SECTIONS if endpoint in served]
