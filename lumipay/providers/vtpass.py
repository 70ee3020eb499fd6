"""A bills adapter shaped like VTpass, a Nigerian bill aggregator.

Endpoints (under VTPASS_BASE_URL): POST /api/pay, POST /api/requery, POST /api/merchant-verify,
GET /api/service-variations?serviceID=…; `api-key` and `secret-key` headers on POST, `api-key`
and `public-key` on GET. Codes: 000 = the request was taken (then `content.transactions.status`
says delivered / pending / failed), 099 = processing (requery), 016 = failed, 015 = no such
request id. Amounts go over the wire in naira; we keep kobo.

Settlement report (for reconciliation): GET /api/settlement-report?from=YYYY-MM-DD&to=YYYY-MM-DD
with `api-key` and `secret-key` headers answers CSV with the header
`transaction_id,request_id,product,amount,status,date`: amount in naira with two decimals,
status delivered | failed | reversed | pending, date the day it settled (Africa/Lagos).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from lumipay import requestid
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

SUCCESS, PROCESSING, FAILED, NO_SUCH_REQUEST = "000", "099", "016", "015"
REPORT_COLUMNS = ("transaction_id", "request_id", "product", "amount", "status", "date")
REPORT_STATUS = {
    "delivered": Outcome.SUCCEEDED.value,
    "failed": Outcome.FAILED.value,
    "reversed": Outcome.FAILED.value,
    "pending": Outcome.PENDING.value,
}


def _naira(kobo: int) -> str:
    return f"{kobo // 100}.{kobo % 100:02d}"


def _kobo(naira: Any) -> int:
    return int((Decimal(str(naira)) * 100).to_integral_value())


def _token(purchased_code: Any) -> str | None:
    """VTpass writes "Token : 1234-5678-…"; keep the digits and dashes."""
    if not purchased_code:
        return None
    text = str(purchased_code)
    return text.split(":", 1)[1].strip() if ":" in text else text.strip()


def read_settlement_report(text: str) -> list[SettlementLine]:
    """Parse the settlement report CSV; raises ProviderError naming the first bad line."""
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != REPORT_COLUMNS:
        raise ProviderError(f"VTpass settlement report has columns {reader.fieldnames}.")
    lines = []
    for number, row in enumerate(reader, start=2):
        try:
            status = REPORT_STATUS[row["status"].strip().lower()]
            lines.append(
                SettlementLine(
                    provider_ref=row["transaction_id"].strip(),
                    reference=row["request_id"].strip() or None,
                    amount=_kobo(row["amount"].strip()),
                    currency="NGN",
                    status=status,
                    kind=row["product"].strip(),
                    settled_on=date.fromisoformat(row["date"].strip()),
                )
            )
        except (KeyError, ValueError, InvalidOperation, AttributeError):
            raise ProviderError(f"VTpass settlement report line {number} is malformed.") from None
    return lines


def read_result(body: dict[str, Any]) -> BillResult:
    """Turn a pay / requery / webhook answer into our outcome; anything unclear is PENDING."""
    code = str(body.get("code", ""))
    description = str(body.get("response_description", ""))
    transaction = (body.get("content") or {}).get("transactions") or {}
    reference = transaction.get("transactionId")
    reference = str(reference) if reference else None
    if code == FAILED:
        return BillResult(Outcome.FAILED, description or "Failed.", provider_reference=reference)
    if code == NO_SUCH_REQUEST:
        return BillResult(Outcome.NOT_FOUND, description)
    if code == SUCCESS:
        status = str(transaction.get("status", "")).lower()
        if status == "delivered":
            return BillResult(
                Outcome.SUCCEEDED,
                description or "Delivered.",
                token=_token(body.get("purchased_code") or body.get("token")),
                provider_reference=reference,
            )
        if status in ("failed", "reversed"):
            return BillResult(
                Outcome.FAILED, description or "Failed.", provider_reference=reference
            )
    return BillResult(Outcome.PENDING, description or "Processing.", provider_reference=reference)


class VTpassBills:
    name = "vtpass"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        secret_key: str,
        public_key: str,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.secret_key = secret_key
        self.public_key = public_key
        self.timeout = timeout

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - the URL is our configuration
            f"{self.base_url}{path}",
            data=json.dumps(payload).encode(),
            headers={
                "Content-Type": "application/json",
                "api-key": self.api_key,
                "secret-key": self.secret_key,
                **requestid.outgoing_headers(),
            },
            method="POST",
        )
        return self._send(request)

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - the URL is our configuration
            f"{self.base_url}{path}?{urllib.parse.urlencode(params)}",
            headers={
                "api-key": self.api_key,
                "public-key": self.public_key,
                **requestid.outgoing_headers(),
            },
        )
        return self._send(request)

    def _send(self, request: urllib.request.Request) -> dict[str, Any]:
        """The decoded JSON answer. Timeouts, refused connections and 5xx raise (= pending)."""
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            body = json.loads(response.read())
        if not isinstance(body, dict):
            raise ValueError("VTpass answered something that is not a JSON object")
        return body

    def charge(self, request: BillRequest) -> BillResult:
        payload = {
            "request_id": request.request_id,
            "serviceID": request.service_id,
            "billersCode": request.recipient,
            "amount": _naira(request.amount),
            "phone": request.phone,
        }
        if request.variation_code:
            payload["variation_code"] = request.variation_code
        return read_result(self._post("/api/pay", payload))

    def status(self, request: BillRequest) -> BillResult:
        return read_result(self._post("/api/requery", {"request_id": request.request_id}))

    def webhook(self, data: dict[str, Any]) -> tuple[str, BillResult]:
        return str(data.get("requestId") or data["request_id"]), read_result(data)

    def data_plans(self, service_id: str) -> list[DataPlan]:
        try:
            body = self._get("/api/service-variations", {"serviceID": service_id})
        except (OSError, ValueError) as exc:
            log.warning("vtpass: service-variations failed", extra={"error": str(exc)})
            raise ProviderError("Data plans are unavailable right now. Try again shortly.") from exc
        variations = (body.get("content") or {}).get("variations") or []
        return [
            DataPlan(str(v["variation_code"]), str(v["name"]), _kobo(v["variation_amount"]))
            for v in variations
            if v.get("variation_code") and v.get("variation_amount") is not None
        ]

    def settlement_report(self, start: date, end: date) -> list[SettlementLine]:
        params = urllib.parse.urlencode({"from": start.isoformat(), "to": end.isoformat()})
        request = urllib.request.Request(  # noqa: S310 - the URL is our configuration
            f"{self.base_url}/api/settlement-report?{params}",
            headers={
                "api-key": self.api_key,
                "secret-key": self.secret_key,
                **requestid.outgoing_headers(),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                text = response.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProviderError(f"VTpass settlement report unavailable: {exc}") from exc
        return read_settlement_report(text)

    def verify_meter(self, service_id: str, meter_number: str, meter_type: str) -> MeterCustomer:
        try:
            body = self._post(
                "/api/merchant-verify",
                {"billersCode": meter_number, "serviceID": service_id, "type": meter_type},
            )
        except (OSError, ValueError) as exc:
            log.warning("vtpass: merchant-verify failed", extra={"error": str(exc)})
            raise ProviderError(
                "We couldn't check the meter right now. Try again shortly."
            ) from exc
        content = body.get("content") or {}
        name = content.get("Customer_Name")
        if str(body.get("code")) != SUCCESS or content.get("error") or not name:
            raise ProviderError("This meter number is not valid for the chosen distributor.")
        return MeterCustomer(str(name).strip(), str(content.get("Address", "")).strip())
