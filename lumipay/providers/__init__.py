"""Provider adapters: one interface per capability, the adapter for each use chosen by config."""

from __future__ import annotations

from lumipay import settings
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

        config = settings.providers()
        return VTpassBills(
            config.vtpass_base_url,
            config.vtpass_api_key,
            config.vtpass_secret_key,
            config.vtpass_public_key,
            timeout=float(config.vtpass_timeout),
        )
    raise LookupError(f"No bills provider called {name!r}.")


def bills_provider_for(category: str) -> BillsProvider:
    """The adapter configured for a bill type (BILLS_PROVIDER_AIRTIME, _DATA, _ELECTRICITY)."""
    return bills_provider_named(settings.bills().providers[category])


def fx_rates_provider() -> RatesProvider:
    """The FX rates source named by `FX_RATES_PROVIDER`."""
    config = settings.providers()
    name = config.fx_rates_provider
    if name == "sandbox":
        return SandboxRates(config.fx_sandbox_seed)
    if name == "openexchangerates":
        return OpenExchangeRates(
            config.fx_rates_url,
            config.fx_rates_app_id,
            timeout=float(config.fx_rates_timeout),
        )
    raise LookupError(f"No FX rates provider called {name!r}.")


def card_provider_named(name: str) -> CardProviderAdapter:
    """The card issuer called `name` (a card keeps the name of the issuer that made it)."""
    if name == "sandbox":
        from lumipay.providers.sandbox_cards import SandboxCards

        return SandboxCards()
    if name == "issuing":
        from lumipay.providers.issuing import IssuingCards

        config = settings.providers()
        return IssuingCards(
            config.cards_api_url,
            config.cards_api_key,
            timeout=float(config.cards_api_timeout),
        )
    raise LookupError(f"No card provider called {name!r}.")


def card_provider() -> CardProviderAdapter:
    """The issuer new cards are made with (`CARDS_PROVIDER`)."""
    return card_provider_named(settings.cards().provider)


BANK_PROVIDERS = ("moniepoint", "uba")


def bank_provider_named(name: str) -> BankProvider:
    """The bank adapter called `name`, sandbox or HTTP by `BANK_PROVIDER_MODE`."""
    config = settings.providers()
    if name not in BANK_PROVIDERS:
        raise LookupError(f"No bank provider called {name!r}.")
    if settings.bank().provider_mode != "http":
        from lumipay.providers.bank_sandbox import MoniepointSandbox, UBASandbox

        return MoniepointSandbox() if name == "moniepoint" else UBASandbox()
    timeout = float(config.bank_timeout)
    if name == "moniepoint":
        from lumipay.providers.moniepoint import MoniepointAdapter

        return MoniepointAdapter(
            config.moniepoint_base_url,
            config.moniepoint_client_id,
            config.moniepoint_client_secret,
            config.moniepoint_contract_code,
            config.moniepoint_source_account,
            redirect_url=settings.core().public_url + "/bank",
            timeout=timeout,
        )
    from lumipay.providers.uba import UBAAdapter

    return UBAAdapter(
        config.uba_base_url,
        config.uba_client_id,
        config.uba_client_secret,
        config.uba_source_account,
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
