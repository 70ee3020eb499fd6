"""Provider adapters: one interface per capability, the adapter for each use chosen by config."""

from __future__ import annotations

from flask import current_app

from lumipay.providers.bank import BankProvider
from lumipay.providers.bills import BillsProvider
from lumipay.providers.cards import CardProviderAdapter
from lumipay.providers.fx import OpenExchangeRates, RatesProvider, SandboxRates

BILLS_ADAPTERS = ("sandbox", "vtpass")


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


def fx_rates_provider() -> RatesProvider:
    """The FX rates source named by `FX_RATES_PROVIDER`."""
    config = current_app.config
    name = config["FX_RATES_PROVIDER"]
    if name == "sandbox":
        return SandboxRates(config["FX_SANDBOX_SEED"])
    if name == "openexchangerates":
        return OpenExchangeRates(
            config["FX_RATES_URL"],
            config["FX_RATES_APP_ID"],
            timeout=float(config["FX_RATES_TIMEOUT"]),
        )
    raise LookupError(f"No FX rates provider called {name!r}.")


def card_provider_named(name: str) -> CardProviderAdapter:
    """The card issuer called `name` (a card keeps the name of the issuer that made it)."""
    if name == "sandbox":
        from lumipay.providers.sandbox_cards import SandboxCards

        return SandboxCards()
    if name == "issuing":
        from lumipay.providers.issuing import IssuingCards

        config = current_app.config
        return IssuingCards(
            config["CARDS_API_URL"],
            config["CARDS_API_KEY"],
            timeout=float(config["CARDS_API_TIMEOUT"]),
        )
    raise LookupError(f"No card provider called {name!r}.")


def card_provider() -> CardProviderAdapter:
    """The issuer new cards are made with (`CARDS_PROVIDER`)."""
    return card_provider_named(current_app.config["CARDS_PROVIDER"])


BANK_PROVIDERS = ("moniepoint", "uba")


def bank_provider_named(name: str) -> BankProvider:
    """The bank adapter called `name`, sandbox or HTTP by `BANK_PROVIDER_MODE`."""
    config = current_app.config
    if name not in BANK_PROVIDERS:
        raise LookupError(f"No bank provider called {name!r}.")
    if config["BANK_PROVIDER_MODE"] != "http":
        from lumipay.providers.bank_sandbox import MoniepointSandbox, UBASandbox

        return MoniepointSandbox() if name == "moniepoint" else UBASandbox()
    timeout = float(config["BANK_PROVIDER_TIMEOUT"])
    if name == "moniepoint":
        from lumipay.providers.moniepoint import MoniepointAdapter

        return MoniepointAdapter(
            config["MONIEPOINT_BASE_URL"],
            config["MONIEPOINT_CLIENT_ID"],
            config["MONIEPOINT_CLIENT_SECRET"],
            config["MONIEPOINT_CONTRACT_CODE"],
            config["MONIEPOINT_SOURCE_ACCOUNT"],
            redirect_url=config["PUBLIC_URL"] + "/bank",
            timeout=timeout,
        )
    from lumipay.providers.uba import UBAAdapter

    return UBAAdapter(
        config["UBA_BASE_URL"],
        config["UBA_CLIENT_ID"],
        config["UBA_CLIENT_SECRET"],
        config["UBA_SOURCE_ACCOUNT"],
        timeout=timeout,
    )


def bank_provider_for_event(event_type: str) -> BankProvider | None:
    """Which adapter reads a bank webhook, by the provider's own event names."""
    from lumipay.providers import moniepoint, uba

    if event_type in moniepoint.EVENT_TYPES:
        return bank_provider_named("moniepoint")
    if event_type in uba.EVENT_TYPES:
        return bank_provider_named("uba")
    return None
