"""The API side of "authorise this debit": the PIN in `X-Transaction-PIN`, the app's code in
the body's `otp_code` (or `X-OTP-Code`), the emailed code in `X-Email-Code`."""

from __future__ import annotations

from flask import request

from lumipay.api.problems import Problem
from lumipay.auth import debits
from lumipay.auth.models import User
from lumipay.web import request_origin

PIN_HEADER = "X-Transaction-PIN"
OTP_HEADER = "X-OTP-Code"
EMAIL_CODE_HEADER = "X-Email-Code"


def authorise(
    user: User, debit: debits.Debit, idempotency_key: str, otp_code: str | None = None
) -> debits.Authorised:
    """Pass, or raise the refusal as a problem naming the header or field to send."""
    proof = debits.Proof(
        pin=request.headers.get(PIN_HEADER) or None,
        otp_code=otp_code or request.headers.get(OTP_HEADER) or None,
        email_code=request.headers.get(EMAIL_CODE_HEADER) or None,
    )
    try:
        return debits.authorise_debit(
            user.id,
            debit,
            proof,
            origin=request_origin(),
            api=True,
            idempotency_key=idempotency_key,
        )
    except debits.DebitRefused as exc:
        field = {"pin": PIN_HEADER, "email_code": EMAIL_CODE_HEADER}.get(exc.field, exc.field)
        errors = [{"field": field, "message": exc.message}]
        raise Problem(exc.code, exc.message, errors=errors) from None
