"""Matching a settlement report against our records: pure, so every case is easy to test.

A line matches a record by our reference (or the id the provider knows as ours), else by the
provider's own reference. Our failed records that the provider never listed are fine: nothing
was charged. Every other record without a line is missing at the provider; every line without
a record is missing at Lumipay.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from lumipay.providers.settlement_report import FAILED, OurRecord, SettlementLine
from lumipay.reconciliation.models import (
    AMOUNT_MISMATCH,
    MATCHED,
    MISSING_AT_LUMIPAY,
    MISSING_AT_PROVIDER,
    STATUS_MISMATCH,
)


@dataclass(frozen=True)
class Match:
    outcome: str
    record: OurRecord | None
    line: SettlementLine | None

    @property
    def day(self) -> date:
        if self.record is not None:
            return self.record.day
        assert self.line is not None
        return self.line.settled_on

    @property
    def kind(self) -> str:
        return self._either.kind

    @property
    def currency(self) -> str:
        return self._either.currency

    @property
    def _either(self) -> OurRecord | SettlementLine:
        """Our record, else the report line: a match has at least one."""
        either = self.record or self.line
        assert either is not None
        return either


def _index(records: Iterable[OurRecord]) -> dict[str, OurRecord]:
    keys: dict[str, OurRecord] = {}
    for record in records:
        for key in (record.reference, record.external_id):
            if key:
                keys[f"ours:{key}"] = record
        if record.provider_ref:
            keys[f"theirs:{record.provider_ref}"] = record
    return keys


def match(
    records: list[OurRecord], lines: list[SettlementLine], start: date, end: date
) -> list[Match]:
    """Every record and line in [start, end], each once, with its outcome.

    `records` may reach a day either side of the range, so a line settled just after midnight
    still finds its record; only records whose own day is in range can be missing at the
    provider.
    """
    keys = _index(records)
    seen: set[str] = set()
    found: list[Match] = []
    for line in sorted(lines, key=lambda x: (x.settled_on, x.provider_ref)):
        record = (keys.get(f"ours:{line.reference}") if line.reference else None) or keys.get(
            f"theirs:{line.provider_ref}"
        )
        if record is None or record.reference in seen:
            if start <= line.settled_on <= end:
                found.append(Match(MISSING_AT_LUMIPAY, None, line))
            continue
        seen.add(record.reference)
        if record.amount != line.amount or record.currency != line.currency:
            outcome = AMOUNT_MISMATCH
        elif record.status != line.status:
            outcome = STATUS_MISMATCH
        else:
            outcome = MATCHED
        found.append(Match(outcome, record, line))
    for record in records:
        if record.reference in seen or not (start <= record.day <= end):
            continue
        if record.status == FAILED:
            continue  # never charged, nothing to settle
        found.append(Match(MISSING_AT_PROVIDER, record, None))
    return found
