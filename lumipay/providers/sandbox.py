"""The sandbox bills provider: the embedded default, behaving like a real aggregator.

A purchase is answered "pending" and completes a few seconds later by a signed webhook to our
inbox (over HTTP when SANDBOX_WEBHOOK_URL is set, else handed to the inbox in-process).
Recipients pick the path, so every case can be tried by hand in `make dev`:

- a phone or meter number ending in 0000 is refused at once (failed, money released);
- ending in 1111 is accepted, then fails by webhook;
- ending in 9999 times out (no answer, no webhook); a requery later says it was delivered;
- anything else is delivered by webhook after SANDBOX_DELAY seconds.

Meter numbers ending in 0000 do not verify. Prepaid electricity gets a 20-digit token.

Its settlement report is generated from our own bill records, with what the sandbox finally
said about each. With SANDBOX_RECON_DISCREPANCIES on (`make dev`), it plants one of each kind
of discrepancy among our succeeded bills, oldest first: the first is left off the report
(missing at provider), the second settles ₦50.00 more (amount mismatch), the third is reported
failed (status mismatch), and one line nobody asked for is added (missing at Lumipay).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from lumipay import settings
from lumipay.clock import lagos_day
from lumipay.database import run_in_transaction
from lumipay.jobs import outbox
from lumipay.jobs.queue import job
from lumipay.providers import signing
from lumipay.providers.bills import (
    BillRequest,
    BillResult,
    DataPlan,
    MeterCustomer,
    Outcome,
    ProviderError,
)
from lumipay.providers.settlement_report import SettlementLine

log = logging.getLogger(__name__)

PLANS = {
    "mtn-data": [("mtn-1gb-1d", "1GB, 1 day", 35_000), ("mtn-2gb-30d", "2GB, 30 days", 150_000)],
    "airtel-data": [("airtel-1-5gb-30d", "1.5GB, 30 days", 120_000)],
    "glo-data": [("glo-2-9gb-30d", "2.9GB, 30 days", 100_000)],
    "etisalat-data": [("9mobile-1-5gb-30d", "1.5GB, 30 days", 120_000)],
}
CUSTOMERS = ("ADEBAYO OGUNLESI", "CHIOMA NWOSU", "MUSA ABDULLAHI", "FUNKE ADEYEMI")


def _token(request_id: str) -> str:
    digits = str(int(hashlib.sha256(request_id.encode()).hexdigest(), 16))[:20]
    return "-".join(digits[i : i + 4] for i in range(0, 20, 4))


def _final(request: BillRequest) -> BillResult:
    """What the sandbox eventually says about a request (it is deterministic by recipient)."""
    if request.recipient.endswith(("0000", "1111")):
        return BillResult(Outcome.FAILED, "The recipient could not be credited.")
    token = None
    if request.category == "electricity" and request.variation_code == "prepaid":
        token = _token(request.request_id)
    return BillResult(Outcome.SUCCEEDED, "Delivered.", token=token)


class SandboxBills:
    name = "sandbox"

    def charge(self, request: BillRequest) -> BillResult:
        if request.recipient.endswith("0000"):
            return BillResult(Outcome.FAILED, "The recipient could not be credited.")
        if request.recipient.endswith("9999"):
            return BillResult(Outcome.PENDING, "No answer from the network yet.")
        final = _final(request)
        delay = int(settings.sandbox().delay)
        run_in_transaction(
            lambda: outbox.add(
                "lumipay.providers.sandbox.deliver_webhook",
                request.request_id,
                final.outcome.value,
                final.token,
                queue="default",
                delay=delay,
            )
        )
        return BillResult(Outcome.PENDING, "Processing.")

    def status(self, request: BillRequest) -> BillResult:
        return _final(request)

    def webhook(self, data: dict[str, Any]) -> tuple[str, BillResult]:
        status = str(data.get("status"))
        outcome = {"delivered": Outcome.SUCCEEDED, "failed": Outcome.FAILED}.get(
            status, Outcome.PENDING
        )
        return str(data["request_id"]), BillResult(
            outcome, str(data.get("message", "")), token=data.get("token")
        )

    def data_plans(self, service_id: str) -> list[DataPlan]:
        return [DataPlan(code, name, amount) for code, name, amount in PLANS.get(service_id, [])]

    def verify_meter(self, service_id: str, meter_number: str, meter_type: str) -> MeterCustomer:
        if meter_number.endswith("0000"):
            raise ProviderError("This meter number is not valid for the chosen distributor.")
        name = CUSTOMERS[int(meter_number[-4:]) % len(CUSTOMERS)]
        return MeterCustomer(name, "12 Allen Avenue, Ikeja")

    def settlement_report(self, start: date, end: date) -> list[SettlementLine]:
        sent = _bills_sent[0](self.name, start, end) if _bills_sent else []
        lines = [settlement_line(bill, request) for bill, request, _ in sent]
        if settings.sandbox().recon_discrepancies:
            succeeded = {bill.request_id for bill, _, ours_succeeded in sent if ours_succeeded}
            lines = plant_discrepancies(lines, succeeded, end)
        return lines


# A sandbox keeps no books: its settlement report is our own records, which the bills domain
# (a layer above) hands it: (provider, first day, last day) -> [(bill, its request, succeeded?)].
SentBills = Callable[[str, date, date], list[tuple[Any, BillRequest, bool]]]
_bills_sent: list[SentBills] = []


def use_bills_sent(source: SentBills) -> None:
    """Register where the bills sandbox reads the bills sent to it."""
    _bills_sent[:] = [source]


def settlement_line(bill: Any, request: BillRequest) -> SettlementLine:
    """The sandbox's report line for one of our bills: what it finally said about it."""
    final = _final(request)
    return SettlementLine(
        provider_ref="SBX" + hashlib.sha256(bill.request_id.encode()).hexdigest()[:12].upper(),
        reference=bill.request_id,
        amount=bill.amount,
        currency=bill.currency,
        status=final.outcome.value,
        kind=bill.category,
        settled_on=lagos_day(bill.created_at),
    )


def plant_discrepancies(
    lines: list[SettlementLine], ours_succeeded: set[str], end: date, kind: str = "airtime"
) -> list[SettlementLine]:
    """One discrepancy of each kind, among lines for records we consider succeeded (named by
    our reference or the provider's), and a phantom line of `kind` nobody asked for."""
    candidates = [line for line in lines if {line.reference, line.provider_ref} & ours_succeeded]
    planted = list(lines)
    if candidates:
        planted.remove(candidates[0])
    if len(candidates) > 1:
        planted[planted.index(candidates[1])] = replace(
            candidates[1], amount=candidates[1].amount + 5_000
        )
    if len(candidates) > 2:
        planted[planted.index(candidates[2])] = replace(candidates[2], status=Outcome.FAILED.value)
    planted.append(
        SettlementLine(
            provider_ref=f"SBX-PHANTOM-{end:%Y%m%d}",
            reference=None,
            amount=150_000,
            currency="NGN",
            status=Outcome.SUCCEEDED.value,
            kind=kind,
            settled_on=end,
        )
    )
    return planted


def webhook_body(request_id: str, outcome: str, token: str | None) -> bytes:
    status = "delivered" if outcome == Outcome.SUCCEEDED else "failed"
    return json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": "bill.completed",
            "data": {"request_id": request_id, "status": status, "token": token},
        }
    ).encode()


@job
def deliver_webhook(request_id: str, outcome: str, token: str | None) -> None:
    """The sandbox calling us back: a signed delivery to the bills webhook inbox."""
    deliver_signed(
        "bills",
        webhook_body(request_id, outcome, token),
        settings.sandbox().webhook_url,
    )


def deliver_signed(channel: str, raw: bytes, url: str | None) -> None:
    """A sandbox's signed delivery to a channel: over HTTP to `url`, else to the inbox here."""
    inbox = signing.local_inbox()
    secret = inbox.secret_for(channel)
    if secret is None:
        log.warning("sandbox: no webhook secret, nothing delivered", extra={"channel": channel})
        return
    headers = signing.signed_headers(secret, int(time.time()), raw)
    if url:
        req = urllib.request.Request(url, data=raw, headers=headers, method="POST")  # noqa: S310
        with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310
            response.read()
        return
    inbox.receive(
        channel, raw, headers[signing.TIMESTAMP_HEADER], headers[signing.SIGNATURE_HEADER]
    )
