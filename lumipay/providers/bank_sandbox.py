"""Sandbox twins of the bank adapters: the embedded default, behaving like the real providers.

Payments and payout results arrive by signed webhook to our bank channel (over HTTP when
SANDBOX_BANK_WEBHOOK_URL is set, else handed to the inbox in-process), shaped like each
provider's own events so the same reader serves the sandbox and the HTTP adapter.

Destination account numbers pick a payout's path, so every case can be tried by hand:

- ending in 0000: the name enquiry finds no such account;
- ending in 1111: the payout is refused at once (the hold is released);
- ending in 2222: accepted, then fails by webhook;
- ending in 9999: times out (no answer, no webhook); a requery later says it was paid;
- anything else: paid, confirmed by webhook after SANDBOX_DELAY seconds.

Top-ups (Moniepoint only): the checkout page is served by our own app at
/bank/sandbox/checkout/<reference> (sandbox mode only); its "Pay" button makes the sandbox send
the payment webhook, for any amount typed there (to try partial payments).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from flask import url_for

from lumipay import settings
from lumipay.database import run_in_transaction, utcnow
from lumipay.jobs import outbox
from lumipay.jobs.queue import job
from lumipay.providers import moniepoint, uba
from lumipay.providers.bank import (
    CBN_BANKS,
    AccountName,
    Bank,
    BankEvent,
    Checkout,
    Outcome,
    PayoutRequest,
    PayoutResult,
    ProviderError,
    ReservedAccount,
    SettlementLine,
)
from lumipay.providers.sandbox import deliver_signed, plant_discrepancies

log = logging.getLogger(__name__)

HOLDERS = ("ADEBAYO OGUNLESI", "CHIOMA NWOSU", "MUSA ABDULLAHI", "FUNKE ADEYEMI", "EMEKA OKAFOR")
DELIVER = "lumipay.providers.bank_sandbox.deliver_webhook"


def _digits(seed: str, length: int) -> str:
    return str(int(hashlib.sha256(seed.encode()).hexdigest(), 16))[:length]


def _final(account_number: str) -> PayoutResult:
    if account_number.endswith(("1111", "2222")):
        return PayoutResult(Outcome.FAILED, "The beneficiary bank declined the transfer.")
    return PayoutResult(Outcome.SUCCEEDED, "Paid.")


class SandboxBank:
    """Name enquiry and payouts, shared by both sandbox twins."""

    name = "sandbox"
    label = "Sandbox"
    topup_methods: tuple[str, ...] = ()

    def banks(self) -> list[Bank]:
        return [Bank(code, name) for code, name in CBN_BANKS]

    def name_enquiry(self, bank_code: str, account_number: str) -> AccountName:
        if bank_code not in dict(CBN_BANKS) or account_number.endswith("0000"):
            raise ProviderError("No account with that number at the chosen bank.")
        holder = HOLDERS[int(account_number[-4:]) % len(HOLDERS)]
        return AccountName(bank_code, account_number, holder)

    def reserve_account(self, account_reference: str, name: str, email: str) -> ReservedAccount:
        raise ProviderError(f"{self.label} does not offer reserved accounts.")

    def start_checkout(
        self, reference: str, amount: int, currency: str, name: str, email: str
    ) -> Checkout:
        raise ProviderError(f"{self.label} does not offer a checkout page.")

    def send_payout(self, request: PayoutRequest) -> PayoutResult:
        if request.account_number.endswith("1111"):
            return PayoutResult(Outcome.FAILED, "The beneficiary bank declined the transfer.")
        if request.account_number.endswith("9999"):
            return PayoutResult(Outcome.PENDING, "No answer from the beneficiary bank yet.")
        final = _final(request.account_number)
        event_type, data = self.payout_event(request, final)
        _schedule(event_type, data)
        return PayoutResult(Outcome.PENDING, "Processing.", provider_reference=self._ref(request))

    def payout_status(self, request: PayoutRequest) -> PayoutResult:
        final = _final(request.account_number)
        return PayoutResult(final.outcome, final.message, provider_reference=self._ref(request))

    def _ref(self, request: PayoutRequest) -> str:
        return f"SBX{_digits(request.reference, 12)}"

    def payout_event(
        self, request: PayoutRequest, result: PayoutResult
    ) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def settlement_report(self, start: date, end: date) -> list[SettlementLine]:
        """The sandbox's records are ours: every top-up whose money arrived through it, and
        every payout sent to it with what it finally said. With SANDBOX_RECON_DISCREPANCIES on
        it plants one discrepancy of each kind, as the bills sandbox does."""
        topups, payouts = _bank_records[0](self.name, start, end) if _bank_records else ([], [])
        lines = [topup_line(topup, day) for topup, day in topups]
        lines += [payout_line(payout, day) for payout, day in payouts]
        if settings.sandbox().recon_discrepancies:
            settled = {line.provider_ref for line in lines if line.status == Outcome.SUCCEEDED}
            lines = plant_discrepancies(lines, settled, end, kind="topup")
        return lines


# A sandbox keeps no books: the bank domain (a layer above) hands it our records,
# (provider, first day, last day) -> ([(top-up, its Lagos day)], [(payout, its Lagos day)]).
BankRecords = Callable[[str, date, date], tuple[list[tuple[Any, date]], list[tuple[Any, date]]]]
_bank_records: list[BankRecords] = []


def use_bank_records(source: BankRecords) -> None:
    """Register where the bank sandboxes read the top-ups and payouts that went through them."""
    _bank_records[:] = [source]


def topup_line(topup: Any, day: date) -> SettlementLine:
    return SettlementLine(
        provider_ref=topup.provider_reference or "",
        reference=topup.reference if topup.method == "checkout" else None,
        amount=topup.amount_paid or 0,
        currency=topup.currency_paid or topup.currency,
        status=Outcome.SUCCEEDED.value,
        kind="topup",
        settled_on=day,
    )


def payout_line(payout: Any, day: date) -> SettlementLine:
    return SettlementLine(
        provider_ref=payout.provider_reference or payout.reference,
        reference=payout.reference,
        amount=payout.amount,
        currency=payout.currency,
        status=_final(payout.account_number).outcome.value,
        kind="payout",
        settled_on=day,
    )


class MoniepointSandbox(SandboxBank):
    name = "moniepoint"
    label = "Moniepoint"
    topup_methods = ("reserved_account", "checkout")

    def reserve_account(self, account_reference: str, name: str, email: str) -> ReservedAccount:
        return ReservedAccount(
            account_reference,
            "5" + _digits(account_reference, 9),
            f"LUMIPAY/{name.upper()}"[:60],
            "Moniepoint MFB",
        )

    def start_checkout(
        self, reference: str, amount: int, currency: str, name: str, email: str
    ) -> Checkout:
        return Checkout(
            url_for("bank.sandbox_checkout", reference=reference), f"MNFY|SBX|{reference}"
        )

    def read_webhook(self, event_type: str, data: dict[str, Any]) -> BankEvent:
        return moniepoint.read_event(event_type, data)

    def payout_event(
        self, request: PayoutRequest, result: PayoutResult
    ) -> tuple[str, dict[str, Any]]:
        return moniepoint.disbursement_event(
            request.reference, request.amount, result.outcome, self._ref(request)
        )


class UBASandbox(SandboxBank):
    name = "uba"
    label = "UBA"

    def read_webhook(self, event_type: str, data: dict[str, Any]) -> BankEvent:
        return uba.read_event(event_type, data)

    def payout_event(
        self, request: PayoutRequest, result: PayoutResult
    ) -> tuple[str, dict[str, Any]]:
        return uba.transfer_event(request.reference, result.outcome, self._ref(request))


def pay_into(
    *, amount: int, currency: str, reference: str | None, account_reference: str | None
) -> str:
    """The sandbox receiving a payment (checkout "Pay", or a transfer into a reserved account):
    its webhook follows after SANDBOX_DELAY seconds. Returns the provider's transaction ref."""
    transaction_reference = f"MNFY|SBX|{utcnow():%Y%m%d%H%M%S}|{secrets.token_hex(4).upper()}"
    event_type, data = moniepoint.collection_event(
        transaction_reference,
        amount=amount,
        currency=currency,
        payment_reference=reference,
        account_reference=account_reference,
    )
    _schedule(event_type, data)
    return transaction_reference


def _schedule(event_type: str, data: dict[str, Any]) -> None:
    delay = int(settings.sandbox().delay)
    run_in_transaction(lambda: outbox.add(DELIVER, event_type, data, queue="default", delay=delay))


@job
def deliver_webhook(event_type: str, data: dict[str, Any]) -> None:
    """The sandbox calling us back: a signed delivery to the bank webhook inbox."""
    raw = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": event_type, "data": data}).encode()
    deliver_signed("bank", raw, settings.sandbox().bank_webhook_url)
