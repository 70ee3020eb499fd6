"""Provider adapters: one interface per capability, the adapter for each use chosen by config."""

from __future__ import annotations

from flask import current_app

from lumipay.providers.bills import BillsProvider


def bills_provider_named(name: str) -> BillsProvider:
    """The adapter called `name` (a bill keeps the name of the adapter that took it)."""
    if name == "sandbox":
        from lumipay.providers.sandbox import SandboxBills

        return SandboxBills()
    if name == "vtpass":
        from lumipay.providers.vtpass import VTpassBills

        config = current_app.config
        return VTpassBills(
            config["VTPASS_BASE_URL"],
            config["VTPASS_API_KEY"],
            config["VTPASS_SECRET_KEY"],
            config["VTPASS_PUBLIC_KEY"],
            timeout=float(config["VTPASS_TIMEOUT"]),
        )
    raise LookupError(f"No bills provider called {name!r}.")


def bills_provider_for(category: str) -> BillsProvider:
    """The adapter configured for a bill type (BILLS_PROVIDER_AIRTIME, _DATA, _ELECTRICITY)."""
    return bills_provider_named(current_app.config["BILLS_PROVIDERS"][category])
