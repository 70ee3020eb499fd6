"""Where reconciliation gets its two sides: a provider's report and our own records.

A source pairs an adapter that has `settlement_report(start, end)` with the function that lists
our records for that provider. Each domain that settles money with a provider registers its
sources with `register(Source(...))` from its own package (bills and bank in their
`settlement` modules), so reconciliation imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from lumipay import settings
from lumipay.providers import BANK_PROVIDERS, bank_provider_named
from lumipay.providers.settlement_report import OurRecord, SettlementReporter


@dataclass(frozen=True)
class Source:
    name: str
    label: str
    reporter: Callable[[], SettlementReporter]
    ours: Callable[[date, date], list[OurRecord]]
    order: int = 100  # where the back office lists it


_REGISTERED: dict[str, Source] = {}


def register(source: Source) -> None:
    _REGISTERED[source.name] = source


def register_provider(
    kind: str,
    provider: str,
    label: str,
    *,
    adapter: Callable[[str], Any],
    ours: Callable[[str, date, date], list[OurRecord]],
    order: int,
) -> None:
    """A provider's source, named `kind-provider`: its adapter's settlement report against our
    records for that provider (`ours(provider, start, end)`)."""
    register(
        Source(
            name=f"{kind}-{provider}",
            label=label,
            reporter=lambda: adapter(provider),
            ours=lambda start, end: ours(provider, start, end),
            order=order,
        )
    )


def all_sources() -> dict[str, Source]:
    """Every registered source, in the order the back office lists them."""
    return dict(sorted(_REGISTERED.items(), key=lambda item: (item[1].order, item[0])))


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
    payouts = settings.bank().payout_provider
    return [
        name
        for name in BANK_PROVIDERS
        if name == payouts or bank_provider_named(name).topup_methods
    ]
