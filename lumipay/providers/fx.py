"""FX rate sources: one interface, a sandbox (the embedded default) and an HTTP adapter.

A source answers `latest()` with each currency's mid-rate as units of that currency per 1 USD
(exact Decimals, never floats) and the time the source published them. Chosen by
`FX_RATES_PROVIDER` (`sandbox` or `openexchangerates`).
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from lumipay import requestid
from lumipay.money import CURRENCIES
from lumipay.providers.sandbox_rates import sandbox_rates


class RatesUnavailable(Exception):
    """The source answered nothing usable; nothing is stored and the old rates age."""


@dataclass(frozen=True)
class PublishedRates:
    per_usd: dict[str, Decimal]
    published_at: datetime
    source: str


class RatesProvider(Protocol):
    def latest(self, now: datetime) -> PublishedRates: ...


class SandboxRates:
    """Realistic mid-rates that drift a little every five minutes, the same for the same time."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def latest(self, now: datetime) -> PublishedRates:
        return PublishedRates(sandbox_rates(now, self.seed), now, "sandbox")


def read_rates(body: Any) -> PublishedRates:
    """An openexchangerates.org `latest.json` answer (numbers already parsed as Decimal):
    `{"timestamp": <unix seconds>, "base": "USD", "rates": {"NGN": 1530.25, ...}}`."""
    if not isinstance(body, dict) or body.get("base") != "USD":
        raise RatesUnavailable("The rates source answered without a USD base.")
    rates = body.get("rates")
    timestamp = body.get("timestamp")
    if not isinstance(rates, dict) or not isinstance(timestamp, int) or timestamp <= 0:
        raise RatesUnavailable("The rates source answered without rates or a timestamp.")
    per_usd: dict[str, Decimal] = {}
    for code in CURRENCIES:
        value = rates.get(code)
        if isinstance(value, int) and not isinstance(value, bool):
            value = Decimal(value)
        if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
            raise RatesUnavailable(f"The rates source gave no usable rate for {code}.")
        per_usd[code] = value
    if per_usd["USD"] != 1:
        raise RatesUnavailable("The rates source's USD rate is not 1.")
    return PublishedRates(per_usd, datetime.fromtimestamp(timestamp, UTC), "openexchangerates")


class OpenExchangeRates:
    """`GET {base_url}/api/latest.json?app_id=…&base=USD&symbols=…`, openexchangerates.org's API."""

    def __init__(self, base_url: str, app_id: str, *, timeout: float = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self.timeout = timeout

    def latest(self, now: datetime) -> PublishedRates:
        query = urllib.parse.urlencode(
            {"app_id": self.app_id, "base": "USD", "symbols": ",".join(sorted(CURRENCIES))}
        )
        request = urllib.request.Request(  # noqa: S310 - the URL is our configuration
            f"{self.base_url}/api/latest.json?{query}",
            headers={"Accept": "application/json", **requestid.outgoing_headers()},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                raw = response.read()
            body = json.loads(raw, parse_float=Decimal)
        except (OSError, ValueError) as exc:
            raise RatesUnavailable(f"The rates source could not be read: {exc}") from exc
        published = read_rates(body)
        if published.published_at > now:  # a source clock ahead of ours: trust ours
            return PublishedRates(published.per_usd, now, published.source)
        return published
