"""Errors as `application/problem+json` (RFC 9457), each with a stable `type` URI.

Every refusal the API gives is a `Problem`; HTTP errors raised anywhere under /api/ (404, 405,
413, 429, 500, …) are turned into problems too, by `for_http_error`, which the app's error
handlers call before they would render an HTML page.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import json, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Response

from lumipay import requestid
from lumipay.refusals import Refused

BASE = "https://lumipay.ng/problems/"
MEDIA_TYPE = "application/problem+json"
API_PREFIX = "/api/"

# slug: (status, title). The slugs are part of the API: clients branch on them.
TYPES: dict[str, tuple[int, str]] = {
    "malformed-request": (400, "The request body is not a JSON object"),
    "idempotency-key-required": (400, "An Idempotency-Key header is required"),
    "authentication-required": (401, "A bearer access token is required"),
    "invalid-token": (401, "The access token is invalid, expired or revoked"),
    "invalid-refresh-token": (401, "The refresh token is invalid, expired or revoked"),
    "refresh-token-reused": (401, "A refresh token was used twice; its sign-in is revoked"),
    "invalid-credentials": (401, "The login and password don't match"),
    "otp-required": (401, "A one-time code from the authenticator app is required"),
    "otp-invalid": (401, "The one-time code doesn't match"),
    "pin-required": (401, "This debit needs the X-Transaction-PIN header"),
    "pin-invalid": (401, "The transaction PIN is not right"),
    "email-code-required": (401, "This debit needs the one-time code we just emailed"),
    "email-code-invalid": (401, "The emailed one-time code doesn't match"),
    "two-factor-enrolment-required": (403, "Turn on two-step verification on the web first"),
    "pin-locked": (403, "The transaction PIN is locked; reset it on the Security page"),
    "pin-not-set": (403, "Set a transaction PIN first (POST users/me/pin)"),
    "forbidden": (403, "Not allowed"),
    "kyc-tier-required": (403, "The customer's KYC tier doesn't allow this yet"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "request-in-flight": (409, "A request with this Idempotency-Key is still being processed"),
    "wallet-exists": (409, "A wallet in this currency is already open"),
    "pin-already-set": (409, "A transaction PIN is already set; send current_pin to change it"),
    "payload-too-large": (413, "The request body is too large"),
    "unsupported-media-type": (415, "Send the body as application/json"),
    "validation-error": (422, "The request has invalid fields"),
    "idempotency-key-reused": (422, "This Idempotency-Key was used with a different request"),
    "insufficient-funds": (422, "Insufficient available balance"),
    "over-kyc-limit": (422, "Over the limits of the customer's KYC tier"),
    "account-frozen": (422, "The account is frozen: no money can leave it"),
    "transfer-refused": (422, "The transfer was refused"),
    "bill-refused": (422, "The bill payment was refused"),
    "fx-refused": (422, "The conversion was refused"),
    "quote-expired": (422, "The quote has expired"),
    "topup-refused": (422, "The top-up was refused"),
    "payout-refused": (422, "The payout was refused"),
    "card-refused": (422, "The card request was refused"),
    "reconciliation-refused": (422, "The reconciliation run was refused"),
    "rate-limited": (429, "Too many requests"),
    "internal-error": (500, "Something went wrong on our side"),
    "service-unavailable": (503, "The service is unavailable; try again shortly"),
    "rates-unavailable": (503, "Exchange rates are out of date; conversions are paused"),
}

_BY_STATUS = {
    400: "malformed-request",
    401: "authentication-required",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "request-in-flight",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    500: "internal-error",
    503: "service-unavailable",
}


class Problem(Exception):
    """Raise to answer with a problem document; `errors` names the fields at fault."""

    def __init__(
        self,
        slug: str,
        detail: str | None = None,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        status, title = TYPES[slug]
        super().__init__(detail or title)
        self.slug = slug
        self.status = status
        self.title = title
        self.detail = detail or title
        self.errors = errors
        self.headers = headers or {}

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": request.path,
        }
        current = requestid.current()
        if current:
            # Quoted by the customer to support, it finds every log line and error of the call.
            doc["request_id"] = current
        if self.errors is not None:
            doc["errors"] = self.errors
        return doc

    def response(self) -> Response:
        response = Response(json.dumps(self.document()), self.status, mimetype=MEDIA_TYPE)
        response.headers.update(self.headers)
        return response


def field_problem(slug: str, field: str | None, message: str) -> Problem:
    """A refusal by a service, on one field of the request (or on the request as a whole)."""
    return Problem(slug, message, errors=[{"field": field or "", "message": message}])


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def for_http_error(error: HTTPException) -> Response:
    """An HTTP error under /api/ as a problem document (keeping headers such as Allow)."""
    slug = _BY_STATUS.get(error.code or 500, "internal-error")
    problem = Problem(slug)
    if error.code == 429:
        problem.detail = f"Too many requests: {error.description}. Try again later."
    response = problem.response()
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def refusal_problem(refused: Refused, slug: str, *, field: str | None = None) -> Problem:
    """The one API answer to a service's refusal: its own problem type (over-kyc-limit,
    insufficient-funds, …) or the endpoint's `slug`, on `field` (the request's name for it)
    or the refusal's own."""
    return field_problem(refused.code or slug, field or refused.field, refused.message)


T = TypeVar("T")


def found_or_not_found(found: T | None, detail: str) -> T:
    """What a lookup found, or the `not-found` problem with `detail` when it found nothing."""
    if found is None:
        raise Problem("not-found", detail)
    return found
