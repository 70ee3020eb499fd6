"""Moniepoint (Monnify API): top-ups by reserved account and checkout, payouts, its webhooks.

Under MONIEPOINT_BASE_URL, every answer wrapped as {"requestSuccessful", "responseMessage",
"responseCode", "responseBody"}; amounts in naira, kept here in kobo:

- POST /api/v1/auth/login (HTTP Basic client id:secret) -> responseBody.accessToken, expiresIn
- GET  /api/v1/banks
- GET  /api/v1/disbursements/account/validate?accountNumber=&bankCode=
- POST /api/v2/bank-transfer/reserved-accounts (accountReference is ours; the same reference
  again answers the existing account: code R42 "already exists" is read as success)
- POST /api/v1/merchant/transactions/init-transaction -> checkoutUrl
- POST /api/v2/disbursements/single (our reference is Monnify's idempotency key: a second
  request with it is refused as a duplicate, and we then ask for its status)
- GET  /api/v2/disbursements/single/summary?reference= (404: never arrived)
- GET  /api/v1/transactions/search?from=&to= (settlement report)

Webhooks: {"eventType", "eventData"} signed in the `monnify-signature` header as the hex
HMAC-SHA512 of the raw body keyed with the client secret. Monnify signs no timestamp, so the
inbox keys such deliveries by event type and transaction reference (a replay is refused).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from lumipay.providers import signing
from lumipay.providers.bank import (
    CHARGEBACK,
    REFUND,
    REVERSAL,
    AccountName,
    Bank,
    BankEvent,
    Checkout,
    CreditReversal,
    Outcome,
    Payment,
    PayoutRequest,
    PayoutResult,
    ProviderError,
    ReservedAccount,
    SettlementLine,
    settlement_status,
)
from lumipay.providers.oauth import TokenClient, json_call

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "monnify-signature"
PAYMENT_RECEIVED = "SUCCESSFUL_TRANSACTION"
PAYOUT_EVENTS = {
    "SUCCESSFUL_DISBURSEMENT": Outcome.SUCCEEDED,
    "FAILED_DISBURSEMENT": Outcome.FAILED,
    "REVERSED_DISBURSEMENT": Outcome.FAILED,
}
# Money taken back after a collection was reported: (our kind, the field naming the reversal
# itself, the field with the amount taken back).
REVERSAL_EVENTS = {
    "REVERSED_TRANSACTION": (REVERSAL, None, "amount"),
    "CHARGEBACK": (CHARGEBACK, "chargebackReference", "amount"),
    "SUCCESSFUL_REFUND": (REFUND, "refundReference", "refundAmount"),
}
# paymentStatus of a collection: money in, money taken back, or no money (nothing to do).
PAID_STATUSES = frozenset({"PAID", "OVERPAID", "PARTIALLY_PAID"})
UNPAID_STATUSES = frozenset({"PENDING", "ABANDONED", "CANCELLED", "FAILED", "EXPIRED"})
EVENT_TYPES = frozenset({PAYMENT_RECEIVED, *PAYOUT_EVENTS, *REVERSAL_EVENTS})
DUPLICATE = "D01"


def naira(kobo: int) -> str:
    return f"{kobo // 100}.{kobo % 100:02d}"


def kobo(value: Any) -> int:
    """Naira from the wire (a JSON number or string) to kobo, exactly; refuses fractions of kobo."""
    try:
        amount = Decimal(str(value)) * 100
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if amount != amount.to_integral_value() or amount < 0:
        raise ValueError(f"not an amount in kobo: {value!r}")
    return int(amount)


def signature(client_secret: str, raw_body: bytes) -> str:
    return hmac.new(client_secret.encode(), raw_body, hashlib.sha512).hexdigest()


def is_valid_signature(client_secret: str, raw_body: bytes, presented: str | None) -> bool:
    if not client_secret:
        return False
    return signing.same(signature(client_secret, raw_body), (presented or "").lower())


def collection_event(
    transaction_reference: str,
    *,
    amount: int,
    currency: str,
    payment_reference: str | None,
    account_reference: str | None,
) -> tuple[str, dict[str, Any]]:
    """A SUCCESSFUL_TRANSACTION event as Monnify sends it (the sandbox sends the same)."""
    product = (
        {"type": "RESERVED_ACCOUNT", "reference": account_reference}
        if account_reference
        else {"type": "WEB_SDK", "reference": payment_reference}
    )
    return PAYMENT_RECEIVED, {
        "transactionReference": transaction_reference,
        "paymentReference": payment_reference or transaction_reference,
        "amountPaid": naira(amount),
        "totalPayable": naira(amount),
        "currency": currency,
        "paymentStatus": "PAID",
        "paymentMethod": "ACCOUNT_TRANSFER",
        "paidOn": f"{datetime.now():%d/%m/%Y %I:%M:%S %p}",
        "product": product,
        "customer": {},
    }


def disbursement_event(
    reference: str, amount: int, outcome: Outcome, transaction_reference: str
) -> tuple[str, dict[str, Any]]:
    event = "SUCCESSFUL_DISBURSEMENT" if outcome == Outcome.SUCCEEDED else "FAILED_DISBURSEMENT"
    return event, {
        "reference": reference,
        "amount": naira(amount),
        "status": "SUCCESS" if outcome == Outcome.SUCCEEDED else "FAILED",
        "transactionReference": transaction_reference,
        "transactionDescription": "Approved or completed successfully"
        if outcome == Outcome.SUCCEEDED
        else "Beneficiary bank declined the transfer",
    }


def read_event(event_type: str, data: dict[str, Any]) -> BankEvent:
    """A Monnify event's meaning. A collection that brought no money is an empty BankEvent;
    anything we can't read is `unhandled`, for a person."""
    if event_type in REVERSAL_EVENTS:
        return _reversal(event_type, data)
    if event_type == PAYMENT_RECEIVED:
        status = str(data.get("paymentStatus", "PAID")).upper()
        if status == "REVERSED":
            return _reversal("REVERSED_TRANSACTION", {"amount": data.get("amountPaid"), **data})
        if status in UNPAID_STATUSES:
            return BankEvent()
        if status not in PAID_STATUSES:
            return BankEvent(
                unhandled=f"Moniepoint payment status {status[:30]} is not one we know."
            )
        product = data.get("product") or {}
        reserved = str(product.get("type", "")).upper() == "RESERVED_ACCOUNT"
        payment_reference = data.get("paymentReference")
        return BankEvent(
            payment=Payment(
                provider_reference=str(data["transactionReference"]),
                amount=kobo(data["amountPaid"]),
                currency=str(data.get("currency") or "NGN").upper()[:3],
                reference=None
                if reserved
                else _text(product.get("reference") or payment_reference),
                account_reference=_text(product.get("reference")) if reserved else None,
                payer=str((data.get("customer") or {}).get("name") or "")[:120],
            )
        )
    outcome = PAYOUT_EVENTS.get(event_type)
    if outcome is None:
        return BankEvent(unhandled=f"Moniepoint event {event_type[:40]} is not one we act on.")
    return BankEvent(
        payout_reference=str(data.get("reference") or ""),
        payout_result=PayoutResult(
            outcome,
            str(data.get("transactionDescription") or "")[:200],
            _text(data.get("transactionReference")),
        ),
    )


def delivery_id(event_type: str, data: dict[str, Any]) -> str:
    """What identifies one Monnify delivery (Monnify sends no event id): the event type and
    the reference of what it reports. A collection's later news under the same transaction
    reference (paymentStatus REVERSED) and each refund or chargeback (their own references)
    are deliveries of their own, not replays of the payment."""
    reference = data.get("transactionReference") or data.get("reference")
    if not isinstance(reference, str) or not reference:
        # An event of a kind we don't know may name nothing we look for: it is still kept
        # (and flagged when processed), identified by its content.
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return f"{event_type}:sha256:{hashlib.sha256(canonical).hexdigest()[:40]}"[:100]
    field = REVERSAL_EVENTS.get(event_type, (None, None, None))[1]
    own = data.get(field) if field else None
    if isinstance(own, str) and own:
        reference = f"{reference}:{own}"
    status = str(data.get("paymentStatus") or "PAID").upper()
    if event_type == PAYMENT_RECEIVED and status != "PAID":
        reference = f"{reference}:{status}"
    return f"{event_type}:{reference}"[:100]


def _reversal(event_type: str, data: dict[str, Any]) -> BankEvent:
    kind, reference_field, amount_field = REVERSAL_EVENTS[event_type]
    original = _text(data.get("transactionReference"))
    if original is None:
        return BankEvent(unhandled=f"Moniepoint {event_type} names no transaction.")
    own = _text(data.get(reference_field)) if reference_field else None
    raw = data.get(amount_field)
    try:
        amount = kobo(raw) if raw not in (None, "") else None
    except ValueError:
        amount = 0
    if amount == 0:
        return BankEvent(unhandled=f"Moniepoint {event_type} has an unreadable amount.")
    currency = data.get("currency")
    return BankEvent(
        reversal=CreditReversal(
            provider_reference=original,
            reversal_reference=own or f"{kind}:{original}"[:64],
            kind=kind,
            amount=amount,
            currency=str(currency).upper()[:3] if currency else None,
        )
    )


def _text(value: Any) -> str | None:
    return str(value)[:64] if value else None


def _unwrap_token(response: requests.Response) -> requests.Response:
    """Monnify's login answers {"responseBody": {"accessToken", "expiresIn"}}; Authlib reads
    the standard OAuth2 names, so the answer is rewritten before Authlib parses it."""
    try:
        body = (response.json() or {}).get("responseBody") or {}
    except ValueError:
        return response
    if "accessToken" in body:
        import json

        response._content = json.dumps(
            {
                "access_token": body["accessToken"],
                "token_type": "Bearer",
                "expires_in": int(body.get("expiresIn") or 3600),
            }
        ).encode()
    return response


def _payout_status(status: Any, message: str, reference: str | None) -> PayoutResult:
    text = str(status or "").upper()
    if text in ("SUCCESS", "SUCCESSFUL", "COMPLETED"):
        return PayoutResult(Outcome.SUCCEEDED, message or "Paid.", reference)
    if text in ("FAILED", "REVERSED", "EXPIRED"):
        return PayoutResult(Outcome.FAILED, message or "The transfer failed.", reference)
    return PayoutResult(Outcome.PENDING, message or "Processing.", reference)


class MoniepointAdapter:
    name = "moniepoint"
    label = "Moniepoint"
    topup_methods = ("reserved_account", "checkout")

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        contract_code: str,
        source_account: str,
        *,
        redirect_url: str,
        timeout: float = 30.0,
    ) -> None:
        self.client = TokenClient(
            base_url,
            "/api/v1/auth/login",
            client_id,
            client_secret,
            timeout=timeout,
            token_response=_unwrap_token,
        )
        self.contract_code = contract_code
        self.source_account = source_account
        self.redirect_url = redirect_url

    def _call(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        return json_call(self.client, "Moniepoint", method, path, **kwargs)

    def _lookup(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        """A call whose failure the customer sees as "try again" (ProviderError)."""
        try:
            status, body = self._call(method, path, **kwargs)
        except (OSError, requests.RequestException) as exc:
            log.warning("moniepoint: call failed", extra={"path": path, "error": str(exc)})
            message = f"We couldn't reach Moniepoint to {what}. Try again shortly."
            raise ProviderError(message) from None
        if status >= 400 or not body.get("requestSuccessful"):
            message = str(body.get("responseMessage") or f"Moniepoint refused to {what}.")
            raise ProviderError(message)
        return body.get("responseBody") or {}

    def banks(self) -> list[Bank]:
        rows = self._lookup("GET", "/api/v1/banks", "list banks")
        return [Bank(str(r["code"]), str(r["name"])) for r in rows if r.get("code")]

    def name_enquiry(self, bank_code: str, account_number: str) -> AccountName:
        body = self._lookup(
            "GET",
            "/api/v1/disbursements/account/validate",
            "check the account",
            params={"accountNumber": account_number, "bankCode": bank_code},
        )
        if not body.get("accountName"):
            raise ProviderError("No account with that number at the chosen bank.")
        return AccountName(bank_code, account_number, str(body["accountName"]).strip())

    def reserve_account(self, account_reference: str, name: str, email: str) -> ReservedAccount:
        body = self._lookup(
            "POST",
            "/api/v2/bank-transfer/reserved-accounts",
            "open your account",
            json={
                "accountReference": account_reference,
                "accountName": name,
                "currencyCode": "NGN",
                "contractCode": self.contract_code,
                "customerEmail": email,
                "customerName": name,
                "getAllAvailableBanks": False,
                "preferredBanks": ["50515"],
            },
        )
        accounts = body.get("accounts") or []
        if not accounts:
            raise ProviderError("Moniepoint opened no account. Try again shortly.")
        first = accounts[0]
        return ReservedAccount(
            account_reference,
            str(first["accountNumber"]),
            str(first.get("accountName") or body.get("accountName") or name),
            str(first.get("bankName") or "Moniepoint MFB"),
        )

    def start_checkout(
        self, reference: str, amount: int, currency: str, name: str, email: str
    ) -> Checkout:
        body = self._lookup(
            "POST",
            "/api/v1/merchant/transactions/init-transaction",
            "start the payment",
            json={
                "amount": naira(amount),
                "customerName": name,
                "customerEmail": email,
                "paymentReference": reference,
                "paymentDescription": f"Lumipay top-up {reference}",
                "currencyCode": currency,
                "contractCode": self.contract_code,
                "redirectUrl": self.redirect_url,
                "paymentMethods": ["CARD", "ACCOUNT_TRANSFER"],
            },
        )
        url = str(body.get("checkoutUrl") or "")
        if not url.startswith("https://") and not url.startswith("http://127.0.0.1"):
            raise ProviderError("Moniepoint gave no payment page. Try again shortly.")
        return Checkout(url, _text(body.get("transactionReference")))

    def send_payout(self, request: PayoutRequest) -> PayoutResult:
        status, body = self._call(
            "POST",
            "/api/v2/disbursements/single",
            json={
                "amount": naira(request.amount),
                "reference": request.reference,
                "narration": request.narration or f"Lumipay {request.reference}",
                "destinationBankCode": request.bank_code,
                "destinationAccountNumber": request.account_number,
                "currency": request.currency,
                "sourceAccountNumber": self.source_account,
            },
        )
        if str(body.get("responseCode")) == DUPLICATE:
            # Our reference reached them before (a retry after a lost answer): ask, don't resend.
            return self.payout_status(request)
        result = body.get("responseBody") or {}
        message = str(body.get("responseMessage") or "")
        if status >= 400 or not body.get("requestSuccessful"):
            # A clear refusal (bad account, insufficient float) before anything moved.
            return PayoutResult(Outcome.FAILED, message or "Moniepoint refused the transfer.")
        reference = _text(result.get("transactionReference"))
        return _payout_status(result.get("status"), message, reference)

    def payout_status(self, request: PayoutRequest) -> PayoutResult:
        status, body = self._call(
            "GET",
            "/api/v2/disbursements/single/summary",
            params={"reference": request.reference},
        )
        if status == 404:
            return PayoutResult(Outcome.NOT_FOUND, str(body.get("responseMessage") or ""))
        result = body.get("responseBody") or {}
        return _payout_status(
            result.get("status"),
            str(body.get("responseMessage") or ""),
            _text(result.get("transactionReference")),
        )

    def read_webhook(self, event_type: str, data: dict[str, Any]) -> BankEvent:
        return read_event(event_type, data)

    def settlement_report(self, start: date, end: date) -> list[SettlementLine]:
        body = self._lookup(
            "GET",
            "/api/v1/transactions/search",
            "fetch the settlement report",
            params={"from": start.isoformat(), "to": end.isoformat(), "size": 1000},
        )
        lines = []
        for row in body.get("content") or []:
            kind = "payout" if row.get("type") == "DISBURSEMENT" else "topup"
            lines.append(
                SettlementLine(
                    provider_ref=str(row["transactionReference"]),
                    reference=_text(row.get("paymentReference") or row.get("reference")),
                    amount=kobo(row["amount"]),
                    currency=str(row.get("currency") or "NGN"),
                    status=settlement_status(row.get("status") or row.get("paymentStatus")),
                    kind=kind,
                    settled_on=date.fromisoformat(str(row["settledOn"])[:10]),
                )
            )
        return lines
