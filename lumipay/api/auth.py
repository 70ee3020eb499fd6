"""auth/register, auth/login, auth/refresh, auth/logout and users/me.

Sign-in through the API runs the pages' use cases (`authenticate`, the second factor,
`complete_login`), so failures count towards the same lockout, the same per-address rate
limit, and the customer gets the same new-sign-in email. Admins always have a second factor,
so they must send `otp_code` with their password; an admin who has not enrolled yet (on the
web) is refused with 403.

These endpoints take no Idempotency-Key: register and login mint fresh secrets that must not
be replayed to whoever repeats the request; a refresh token is single use by design (a repeat
is a reuse, which revokes the sign-in); logout is idempotent by nature.
"""

from __future__ import annotations

from flask import g
from werkzeug.wrappers import Response

from lumipay.accounts.service import wallets_for
from lumipay.api import schemas, tokens
from lumipay.api.accounts import wallet_out
from lumipay.api.problems import Problem, field_problem, refusal_problem
from lumipay.api.routing import operation
from lumipay.auth import pin, service, twofactor
from lumipay.auth.models import User
from lumipay.ratelimit import (
    login_limit,
    register_email_limit,
    register_limit,
    register_phone_limit,
)
from lumipay.web import request_origin


def tokens_out(pair: tokens.TokenPair) -> schemas.TokensOut:
    return schemas.TokensOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        refresh_expires_in=pair.refresh_expires_in,
    )


@operation(
    "POST", "/auth/register", summary="Open an account", tag="auth", auth=False,
    body=schemas.RegisterIn, responses={201: schemas.RegisteredOut}, problems=(422, 429),
    limits=(register_limit, register_email_limit, register_phone_limit),
)  # fmt: skip
def register(body: schemas.RegisterIn) -> tuple[int, schemas.RegisteredOut]:
    """A customer with an account number and an NGN wallet holding the welcome bonus, signed in."""
    try:
        user = service.register_customer(
            body.full_name, body.email, body.phone, body.password, origin=request_origin()
        )
    except service.RegistrationError as exc:
        raise refusal_problem(exc, "validation-error") from None
    pair = tokens.issue(user.id, origin=request_origin())
    return 201, schemas.RegisteredOut(
        user_id=user.public_id, account_number=user.account_number or "", tokens=tokens_out(pair)
    )


@operation(
    "POST", "/auth/login", summary="Sign in: an access and a refresh token", tag="auth",
    auth=False, body=schemas.LoginIn, responses={200: schemas.TokensOut},
    problems=(401, 403, 422, 429), limits=(login_limit,),
)  # fmt: skip
def login(body: schemas.LoginIn) -> tuple[int, schemas.TokensOut]:
    """`email` (or `login`, or `phone`) and `password`; `email` may hold a phone number. With
    two-step verification on (always for admins), `otp_code` is required too."""
    login_as = body.login or body.email or body.phone
    if not login_as:
        raise field_problem("validation-error", "email", "Give your email address or phone number.")
    origin = request_origin()
    user = service.authenticate(login_as, body.password, origin=origin)
    if user is None:
        raise Problem("invalid-credentials", service.FAILED_LOGIN_MESSAGE)
    if user.is_admin and not user.has_totp:
        raise Problem("two-factor-enrolment-required")
    if user.has_totp:
        _check_second_factor(user, body.otp_code)
    service.complete_login(user.id, origin=origin)
    return 200, tokens_out(tokens.issue(user.id, origin=origin))


def _check_second_factor(user: User, code: str | None) -> None:
    if not code:
        raise Problem("otp-required")
    origin = request_origin()
    if not service.is_locked(user) and twofactor.verify(user.id, code, origin=origin):
        return
    service.record_failed_second_factor(user.id, origin=origin)
    raise Problem("otp-invalid")


@operation(
    "POST", "/auth/refresh", summary="Swap a refresh token for a new pair", tag="auth",
    auth=False, body=schemas.RefreshIn, responses={200: schemas.TokensOut},
    problems=(401, 422, 429),
)  # fmt: skip
def refresh(body: schemas.RefreshIn) -> tuple[int, schemas.TokensOut]:
    """The refresh token is used up. Presenting a used one again revokes the whole sign-in."""
    try:
        pair = tokens.rotate(body.refresh_token, origin=request_origin())
    except tokens.TokenError as exc:
        raise Problem(exc.slug) from None
    return 200, tokens_out(pair)


@operation(
    "POST", "/auth/logout", summary="Sign out this sign-in", tag="auth",
    responses={204: None}, problems=(401,),
)  # fmt: skip
def logout(user: User) -> Response:
    """Revokes the refresh token family and, with it, every access token it issued."""
    tokens.revoke(g.api_claims.family_id, user_id=user.id, origin=request_origin())
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response


@operation(
    "GET", "/users/me", summary="The signed-in user", tag="auth",
    responses={200: schemas.UserOut}, problems=(401,),
)  # fmt: skip
def me(user: User) -> tuple[int, schemas.UserOut]:
    """The profile and a summary of every wallet (the same as `accounts/`' `wallets`)."""
    return 200, schemas.UserOut(
        user_id=user.public_id,
        full_name=user.full_name,
        email=user.email,
        phone=user.phone,
        account_number=user.account_number,
        role=schemas.one_of(schemas.ROLES, user.role),
        is_active=user.frozen_at is None,
        kyc_tier=user.kyc_tier,
        kyc_status=f"tier_{user.kyc_tier}",
        two_factor_enabled=user.has_totp,
        wallets=[wallet_out(wallet) for wallet in wallets_for(user.id)],
        created_at=user.created_at,
    )


@operation(
    "POST", "/users/me/pin", summary="Set or change the transaction PIN", tag="auth",
    body=schemas.PinIn, responses={204: None}, problems=(401, 403, 409, 422, 429),
    limits=(login_limit,),
)  # fmt: skip
def set_pin(user: User, body: schemas.PinIn) -> Response:
    """Once set, every debit over the API carries it in `X-Transaction-PIN`. Until then API
    debits stay within Tier 1 amounts. Five wrong PINs lock it until it is reset on the web."""
    origin = request_origin()
    try:
        if body.current_pin is None:
            pin.set_first_pin(user.id, body.pin, origin=origin)
        else:
            pin.change_pin(user.id, body.current_pin, body.pin, origin=origin)
    except pin.PinError as exc:
        if exc.code == "validation-error":
            raise Problem(
                exc.code, exc.message, errors=[{"field": exc.field, "message": exc.message}]
            ) from None
        raise Problem(exc.code, exc.message) from None
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response
