"""Fake Moniepoint (Monnify API) and UBA servers, served over real HTTP on loopback.

Both check client-credentials tokens: Moniepoint's login (HTTP Basic, token under
responseBody) and UBA's standard /oauth2/token. `revoke()` makes the issued tokens invalid,
so the next call gets 401. `transfers` records every payout that arrived, by our reference.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

CLIENT_ID, CLIENT_SECRET = "test-client-id", "test-client-secret-0123456789"


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status, mimetype="application/json")


def _basic_ok(request: Request) -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return False
    pair = base64.b64decode(header[6:]).decode()
    return pair == f"{CLIENT_ID}:{CLIENT_SECRET}"


@dataclass
class FakeProvider:
    """What both fakes share: tokens, a request log, recorded transfers and their answers."""

    expires_in: int = 3600
    pay_mode: str = "success"  # success | pending | failed | timeout | error500
    pay_modes: list[str] = field(default_factory=list)  # used first, in order
    status_answer: str = "SUCCESS"  # what a requery says of a transfer that arrived
    status_script: list[str] = field(default_factory=list)
    banks_down: bool = False  # the bank list answers 503
    logins: int = 0
    tokens: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def revoke(self) -> None:
        with self.lock:
            self.tokens.clear()

    def issue(self) -> str:
        with self.lock:
            self.logins += 1
            token = f"token-{self.logins}"
            self.tokens.add(token)
        return token

    def bearer_ok(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        with self.lock:
            return header.startswith("Bearer ") and header[7:] in self.tokens

    def next_pay_mode(self) -> str:
        with self.lock:
            return self.pay_modes.pop(0) if self.pay_modes else self.pay_mode

    def next_status(self) -> str:
        with self.lock:
            return self.status_script.pop(0) if self.status_script else self.status_answer

    def paths(self) -> list[str]:
        with self.lock:
            return [path for _, path, _ in self.requests if "auth" not in path]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_json(silent=True) or dict(request.args)
        with self.lock:
            self.requests.append((request.method, request.path, body))
        return self.handle(request, body)(environ, start_response)

    def handle(self, request: Request, body: dict[str, Any]) -> Response:
        raise NotImplementedError


class FakeMoniepoint(FakeProvider):
    def wrap(self, body: Any, message: str = "success", code: str = "0") -> dict[str, Any]:
        return {
            "requestSuccessful": True,
            "responseMessage": message,
            "responseCode": code,
            "responseBody": body,
        }

    def refuse(self, message: str, code: str = "99", status: int = 400) -> Response:
        return _json(
            {"requestSuccessful": False, "responseMessage": message, "responseCode": code}, status
        )

    def handle(self, request: Request, body: dict[str, Any]) -> Response:
        if request.path == "/api/v1/auth/login":
            if not _basic_ok(request):
                return self.refuse("Invalid client credentials", status=401)
            token = self.issue()
            return _json(self.wrap({"accessToken": token, "expiresIn": self.expires_in}))
        if not self.bearer_ok(request):
            return self.refuse("Unauthorized", status=401)
        if request.path == "/api/v1/banks":
            if self.banks_down:
                return Response("down", 503)
            return _json(self.wrap([{"name": "Guaranty Trust Bank", "code": "058"},
                                    {"name": "Zenith Bank", "code": "057"}]))  # fmt: skip
        if request.path == "/api/v1/disbursements/account/validate":
            if body.get("accountNumber", "").endswith("0000"):
                return self.refuse("Could not resolve account name", status=400)
            holder = {"accountNumber": body["accountNumber"], "accountName": "MONIE HOLDER"}
            return _json(self.wrap({**holder, "bankCode": body["bankCode"]}))
        if request.path == "/api/v2/bank-transfer/reserved-accounts":
            number = "60" + str(abs(hash(body["accountReference"])))[:8]
            return _json(self.wrap({
                "accountReference": body["accountReference"],
                "accountName": body["accountName"],
                "accounts": [{"bankCode": "50515", "bankName": "Moniepoint Microfinance Bank",
                              "accountNumber": number, "accountName": body["accountName"]}],
            }))  # fmt: skip
        if request.path == "/api/v1/merchant/transactions/init-transaction":
            reference = body["paymentReference"]
            return _json(self.wrap({
                "transactionReference": f"MNFY|{reference}",
                "paymentReference": reference,
                "checkoutUrl": f"https://sandbox.sdk.monnify.com/checkout/MNFY|{reference}",
            }))  # fmt: skip
        if request.path == "/api/v2/disbursements/single":
            return self.disburse(body)
        if request.path == "/api/v1/transactions/search":
            rows = [
                {"transactionReference": "MNFY|1", "paymentReference": "TU1", "amount": "5000.00",
                 "currency": "NGN", "paymentStatus": "PAID", "type": "COLLECTION",
                 "settledOn": f"{body['from']}T10:00:00"},
                {"transactionReference": "MFDS1", "reference": "PO1", "amount": "100.50",
                 "currency": "NGN", "status": "SUCCESS", "type": "DISBURSEMENT",
                 "settledOn": body["to"]},
            ]  # fmt: skip
            return _json(self.wrap({"content": rows}))
        if request.path == "/api/v2/disbursements/single/summary":
            with self.lock:
                known = body.get("reference") in self.transfers
            if not known:
                return self.refuse("Transfer not found", status=404)
            found = {"reference": body["reference"], "status": self.next_status()}
            return _json(self.wrap({**found, "transactionReference": f"MFDS{body['reference']}"}))
        return self.refuse("Not found", status=404)

    def disburse(self, body: dict[str, Any]) -> Response:
        mode = self.next_pay_mode()
        if mode == "error500":
            return Response("upstream down", 502)
        with self.lock:
            duplicate = body["reference"] in self.transfers
            if not duplicate and mode != "failed":
                self.transfers[body["reference"]] = body
        if duplicate:
            return self.refuse("Duplicate reference", code="D01")
        if mode == "failed":
            return self.refuse("Insufficient balance in source account")
        if mode == "timeout":
            time.sleep(3)  # longer than BANK_PROVIDER_TIMEOUT in these tests
        status = "PENDING" if mode in ("pending", "timeout") else "SUCCESS"
        return _json(self.wrap({"amount": body["amount"], "reference": body["reference"],
                                "status": status,
                                "transactionReference": f"MFDS{body['reference']}"}))  # fmt: skip


class FakeUBA(FakeProvider):
    def handle(self, request: Request, body: dict[str, Any]) -> Response:
        if request.path == "/oauth2/token":
            form = request.form
            if not _basic_ok(request) or form.get("grant_type") != "client_credentials":
                return _json({"error": "invalid_client"}, 401)
            token = self.issue()
            return _json(
                {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
            )
        if not self.bearer_ok(request):
            return _json({"message": "Unauthorized"}, 401)
        if request.path == "/v1/accounts/verify":
            if self.pay_mode == "error500":
                return Response("down", 503)
            if body["accountNumber"].endswith("0000"):
                return _json({"status": "25", "message": "No such account"})
            return _json({"status": "00", "data": {"accountName": "UBA HOLDER"}})
        if request.path == "/v1/banks":
            if self.banks_down:
                return Response("down", 503)
            return _json({"data": [{"code": "058", "name": "Guaranty Trust Bank"}]})
        if request.path == "/v1/transfers" and request.method == "POST":
            key = request.headers.get("Idempotency-Key", "")
            mode = self.next_pay_mode()
            if mode == "error500":
                return Response("down", 503)
            with self.lock:
                first = self.transfers.setdefault(key, body)
            state = "PENDING" if mode in ("pending", "timeout") else "SUCCESSFUL"
            if mode == "timeout":
                time.sleep(3)
            data = {"reference": first["reference"], "transactionId": f"UBA{key}", "state": state}
            return _json({"status": "00", "data": data})
        if request.path == "/v1/transfers" and request.method == "GET":
            row = {"transactionId": "UBA1", "reference": "PO2", "amount": 250_000}
            rows = [{**row, "currency": "NGN", "state": "SUCCESSFUL", "settledOn": body["from"]}]
            return _json({"status": "00", "data": rows})
        if request.path.startswith("/v1/transfers/"):
            reference = request.path.rsplit("/", 1)[-1]
            with self.lock:
                known = reference in self.transfers
            if not known:
                return _json({"message": "Not found"}, 404)
            said = self.next_status()
            state = "SUCCESSFUL" if said == "SUCCESS" else said
            return _json({"status": "00", "data": {"reference": reference,
                                                   "transactionId": f"UBA{reference}",
                                                   "state": state}})  # fmt: skip
        return _json({"message": "Not found"}, 404)
