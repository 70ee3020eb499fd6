"""UBA (an open-banking style API): account verification (name enquiry) and payouts.

Under UBA_BASE_URL, standard OAuth2 client credentials at POST /oauth2/token; amounts in kobo:

- GET  /v1/banks -> {"data": [{"code", "name"}]}
- POST /v1/accounts/verify {"bankCode", "accountNumber"} -> {"status": "00", "data":
  {"accountName"}}; status "25" = no such account
- POST /v1/transfers with header Idempotency-Key: our reference -> {"status": "00" | "09" |
  "51" …, "data": {"reference", "transactionId", "state": SUCCESSFUL | PENDING | FAILED}};
  the same key again answers the first transfer, it never pays twice
- GET  /v1/transfers/<reference> -> the same shape; 404 when it never arrived

UBA sends no webhooks to us in HTTP mode: payouts settle by requery. Its sandbox twin does
send one (`uba.transfer.completed`) through our own signed scheme.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import requests

from lumipay.providers.bank import (
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
    settlement_status,
)
from lumipay.providers.oauth import TokenClient, json_call

log = logging.getLogger(__name__)

TRANSFER_COMPLETED = "uba.transfer.completed"
EVENT_TYPES = frozenset({TRANSFER_COMPLETED})
NO_SUCH_ACCOUNT = "25"


def transfer_event(
    reference: str, outcome: Outcome, transaction_id: str
) -> tuple[str, dict[str, Any]]:
    state = "SUCCESSFUL" if outcome == Outcome.SUCCEEDED else "FAILED"
    return TRANSFER_COMPLETED, {
        "reference": reference,
        "transactionId": transaction_id,
        "state": state,
    }


def _result(data: dict[str, Any], message: str = "") -> PayoutResult:
    state = str(data.get("state") or "").upper()
    reference = str(data["transactionId"])[:64] if data.get("transactionId") else None
    if state == "SUCCESSFUL":
        return PayoutResult(Outcome.SUCCEEDED, message or "Paid.", reference)
    if state in ("FAILED", "REVERSED"):
        return PayoutResult(Outcome.FAILED, message or "The transfer failed.", reference)
    return PayoutResult(Outcome.PENDING, message or "Processing.", reference)


def read_event(event_type: str, data: dict[str, Any]) -> BankEvent:
    if event_type != TRANSFER_COMPLETED:
        return BankEvent(unhandled=f"UBA event {event_type[:40]} is not one we act on.")
    return BankEvent(payout_reference=str(data.get("reference") or ""), payout_result=_result(data))


class UBAAdapter:
    name = "uba"
    label = "UBA"
    topup_methods: tuple[str, ...] = ()

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        source_account: str,
        *,
        timeout: float = 30.0,
    ) -> None:
        self.client = TokenClient(
            base_url, "/oauth2/token", client_id, client_secret, timeout=timeout
        )
        self.source_account = source_account

    def _call(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        return json_call(self.client, "UBA", method, path, **kwargs)

    def banks(self) -> list[Bank]:
        try:
            _, body = self._call("GET", "/v1/banks")
        except (OSError, requests.RequestException) as exc:
            raise ProviderError("We couldn't reach UBA for the bank list. Try again.") from exc
        rows = body.get("data") or []
        return [Bank(str(r["code"]), str(r["name"])) for r in rows if r.get("code")]

    def name_enquiry(self, bank_code: str, account_number: str) -> AccountName:
        try:
            status, body = self._call(
                "POST",
                "/v1/accounts/verify",
                json={"bankCode": bank_code, "accountNumber": account_number},
            )
        except (OSError, requests.RequestException) as exc:
            log.warning("uba: name enquiry failed", extra={"error": str(exc)})
            message = "We couldn't check the account right now. Try again shortly."
            raise ProviderError(message) from None
        name = (body.get("data") or {}).get("accountName")
        if status >= 400 or str(body.get("status")) != "00" or not name:
            raise ProviderError("No account with that number at the chosen bank.")
        return AccountName(bank_code, account_number, str(name).strip())

    def reserve_account(self, account_reference: str, name: str, email: str) -> ReservedAccount:
        raise ProviderError("UBA does not offer reserved accounts.")

    def start_checkout(
        self, reference: str, amount: int, currency: str, name: str, email: str
    ) -> Checkout:
        raise ProviderError("UBA does not offer a checkout page.")

    def send_payout(self, request: PayoutRequest) -> PayoutResult:
        status, body = self._call(
            "POST",
            "/v1/transfers",
            headers={"Idempotency-Key": request.reference},
            json={
                "reference": request.reference,
                "amount": request.amount,
                "currency": request.currency,
                "sourceAccount": self.source_account,
                "bankCode": request.bank_code,
                "accountNumber": request.account_number,
                "accountName": request.account_name,
                "narration": request.narration or f"Lumipay {request.reference}",
            },
        )
        message = str(body.get("message") or "")
        if status in (400, 422):
            return PayoutResult(Outcome.FAILED, message or "UBA refused the transfer.")
        return _result(body.get("data") or {}, message)

    def payout_status(self, request: PayoutRequest) -> PayoutResult:
        status, body = self._call("GET", f"/v1/transfers/{request.reference}")
        if status == 404:
            return PayoutResult(Outcome.NOT_FOUND, str(body.get("message") or ""))
        return _result(body.get("data") or {}, str(body.get("message") or ""))

    def read_webhook(self, event_type: str, data: dict[str, Any]) -> BankEvent:
        return read_event(event_type, data)

    def settlement_report(self, start: date, end: date) -> list[SettlementLine]:
        _, body = self._call(
            "GET", "/v1/transfers", params={"from": start.isoformat(), "to": end.isoformat()}
        )
        return [
            SettlementLine(
                provider_ref=str(row["transactionId"]),
                reference=str(row["reference"]) if row.get("reference") else None,
                amount=int(row["amount"]),
                currency=str(row.get("currency") or "NGN"),
                status=settlement_status(row.get("state")),
                kind="payout",
                settled_on=date.fromisoformat(str(row["settledOn"])[:10]),
            )
            for row in body.get("data") or []
        ]
