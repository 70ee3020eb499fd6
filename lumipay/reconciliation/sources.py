"""Where reconciliation gets its two sides: a provider's report and our own records.

A source pairs an adapter that has `settlement_report(start, end)` with the function that lists
our records for that provider. Bills providers and the bank providers (top-ups and payouts) are
built in; anything else joins with `register(Source(...))` from its own package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from lumipay import settings
from lumipay.reconciliation.report import OurRecord, SettlementReporter


@dataclass(frozen=True)
class Source:
    name: str
    label: str
    reporter: Callable[[], SettlementReporter]
    ours: Callable[[date, date], list[OurRecord]]


_REGISTERED: dict[str, Source] = {}


def register(source: Source) -> None:
    _REGISTERED[source.name] = source


def _bills_source(provider: str, label: str) -> Source:
    from lumipay.bills.settlement import our_bills
    from lumipay.providers import bills_provider_named

    return Source(
        name=f"bills-{provider}",
        label=label,
        reporter=lambda: bills_provider_named(provider),
        ours=lambda start, end: our_bills(provider, start, end),
    )


def _bank_source(provider: str, label: str) -> Source:
    from lumipay.bank.settlement import our_bank_records
    from lumipay.providers import bank_provider_named

    return Source(
        name=f"bank-{provider}",
        label=label,
        reporter=lambda: bank_provider_named(provider),
        ours=lambda start, end: our_bank_records(provider, start, end),
    )


def all_sources() -> dict[str, Source]:
    built_in = {
        source.name: source
        for source in (
            _bills_source("sandbox", "Bills sandbox"),
            _bills_source("vtpass", "VTpass (bills)"),
            _bank_source("moniepoint", "Moniepoint (top-ups and payouts)"),
            _bank_source("uba", "UBA (payouts)"),
        )
    }
    return {**built_in, **_REGISTERED}


def source_named(name: str) -> Source | None:
    return all_sources().get(name)


def nightly_sources() -> list[str]:
    """RECONCILE_PROVIDERS, else every bills and bank provider the configuration uses."""
    configured = settings.reconciliation().providers
    if configured:
        return [name for name in configured if name in all_sources()]
    bills = sorted(set(settings.bills().providers.values()))
    names = [f"bills-{name}" for name in bills] + [f"bank-{name}" for name in banks_in_use()]
    return [name for name in names if name in all_sources()]


def banks_in_use() -> list[str]:
    """The payout provider, and every bank provider whose adapter (sandbox or HTTP, by
    BANK_PROVIDER_MODE) takes top-ups."""
    from lumipay.providers import BANK_PROVIDERS, bank_provider_named

    payouts = settings.bank().payout_provider
    return [
        name
        for name in BANK_PROVIDERS
        if name == payouts or bank_provider_named(name).topup_methods
    ]
