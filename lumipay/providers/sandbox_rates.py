"""Where mid-rates come from: the sandbox source (the embedded default).

A source returns each currency's mid-rate as units of that currency per 1 USD, as exact
Decimals. The sandbox drifts a little every five minutes, deterministically from the clock and
`FX_SANDBOX_SEED`, so tests and demos see the same rates for the same time.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

SANDBOX_BASE: dict[str, Decimal] = {
    "USD": Decimal("1"),
    "NGN": Decimal("1530.25"),
    "EUR": Decimal("0.9215"),
    "GBP": Decimal("0.7862"),
}
DRIFT_STEP_SECONDS = 300
DRIFT_MAX_BP = 20  # at most ±0.20% away from the base rate


def sandbox_rates(at: datetime, seed: int = 0) -> dict[str, Decimal]:
    """Mid-rates per USD at time `at`: the base rate moved by a pseudo-random ±20 basis points."""
    bucket = int(at.timestamp()) // DRIFT_STEP_SECONDS
    rates = {}
    for index, (code, base) in enumerate(sorted(SANDBOX_BASE.items())):
        if code == "USD":
            rates[code] = base
            continue
        mixed = (bucket * 7919 + seed * 104729 + index * 15485863) % (2 * DRIFT_MAX_BP + 1)
        drift_bp = mixed - DRIFT_MAX_BP
        rates[code] = (base * (10000 + drift_bp) / 10000).quantize(Decimal("0.0000000001"))
    return rates
