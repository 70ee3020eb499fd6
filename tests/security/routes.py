"""Every URL the app serves, with who may reach it and where its form lives.

The security tests are driven by this table; `test_every_route_is_in_the_table` fails when a
new route is added without a row here, so no page escapes the attacks. Placeholders in `path`
and `form_page` are filled from the test world: {reference} (a transfer between Ada and Bayo),
{beneficiary_id} (Ada's saved recipient), {token} (a password-reset token), {confirm} (the
confirm step of a transfer, reached by posting step one), {bill} (Ada's airtime bill, failed
by the sandbox so it also left her a notification), {electricity_confirm}, {airtime_confirm},
{data_confirm} (the confirm step of each bill kind, reached by posting step one), {fx_quote}
(a quote page for Ada's NGN to USD conversion, reached by posting the convert form),
{kyc_submission} (Bayo's BVN and ID document,
waiting for review), {kyc_address} (the /kyc page of Ada moved to Tier 2, where the
proof-of-address form is), {card} (Ada's active multi-use card),
{card_clear} (the test merchant's answer to a purchase with Ada's card, which carries the form
that clears it), {topup} (Ada's pending checkout top-up), {payout} (Ada's payout awaiting
approval), {payout_confirm} (the confirm step of a payout, reached by posting step one),
{sign_in} (Ada's API sign-in, listed with an End button on her Security page).

The KYC document (/admin/kyc/<id>/document) is ADMIN: the customer who sent it, and everyone
else, gets 404 (test_customers_get_404_on_every_admin_route).

/bank/sandbox/checkout/<reference> is the sandbox provider's payment page, served only in
sandbox mode (the tests' and `make dev`'s): with real providers it is 404.

Back-office rows (ADMIN) name Ada by {ada_id}, her public id (a UUID), as her page's URL does;
{wallet_id} is her NGN wallet's public id.

Routes that can't take an attack, and why:

- /metrics is PUBLIC while METRICS_TOKEN is unset (the default, and the tests' setting); with a
  token it answers 401 without `Authorization: Bearer <token>` (test_metrics_* in
  test_attacks.py). It takes no input, so no CSRF, XSS or SQL-injection attack applies.
- POST /api/lumipay/v1/webhooks/<channel> is `signed`: providers authenticate with an HMAC
  signature, not a session, and can't hold a CSRF token, so it is CSRF-exempt and has no form
  (no CSRF attack). Anonymous, unsigned, forged, stale, replayed and malformed deliveries get
  400/401/404 and change nothing (test_webhook_*); oversized bodies get 413 like every POST.
- The JSON API under /api/lumipay/v1/ is TOKEN (or PUBLIC with bearer=True for register, login
  and refresh, which hand tokens out): it reads no cookie or session, only an
  `Authorization: Bearer` header a cross-site page can't send, so it is CSRF-exempt and no
  CSRF attack applies. Anonymous calls get 401 problem+json, never a redirect
  (test_anonymous_*); a session cookie is no key (test_api_ignores_the_session_cookie);
  another customer's ids are 404 with their own token (test_api_*_not_found); oversized bodies
  are 413 before the token is read. /api/openapi.json and /api/docs are public documentation.
"""

from __future__ import annotations

from dataclasses import dataclass

PUBLIC = "public"  # anyone
SIGNED_IN = "signed-in"  # a signed-in customer; anonymous GETs go to the sign-in page
SIGN_IN_STEP = "sign-in-step"  # only half-way through signing in (password done)
ADMIN = "admin"  # an admin with a second factor; customers get 404, anonymous GETs sign in
TOKEN = "token"  # JSON API: a bearer access token; anonymous gets 401 problem+json, no redirect


@dataclass(frozen=True)
class Route:
    rule: str
    path: str
    methods: tuple[str, ...]
    access: str
    form_page: str | None = None  # the page whose form POSTs here
    owned: bool = False  # names a customer's object: another customer must get 404
    signed: bool = False  # authenticated by an HMAC signature, not a session (webhooks)
    bearer: bool = False  # JSON API without a token yet (register, login, refresh)
    # Moves money: its confirm step is authorised by lumipay.auth.debits (the transaction PIN,
    # and step-up by value, by the Lagos day's total and on a first payment to an account).
    step_up: bool = False

    def __str__(self) -> str:
        return self.rule


ROUTES: tuple[Route, ...] = (
    Route("/", "/", ("GET",), PUBLIC),
    Route("/healthz", "/healthz", ("GET",), PUBLIC),
    Route("/auth/register", "/auth/register", ("GET", "POST"), PUBLIC, "/auth/register"),
    Route("/auth/login", "/auth/login", ("GET", "POST"), PUBLIC, "/auth/login"),
    Route("/auth/reset", "/auth/reset", ("GET", "POST"), PUBLIC, "/auth/reset"),
    Route(
        "/auth/reset/<token>",
        "/auth/reset/{token}",
        ("GET", "POST"),
        PUBLIC,
        "/auth/reset/{token}",
    ),
    Route("/auth/two-factor", "/auth/two-factor", ("GET", "POST"), SIGN_IN_STEP),
    Route("/auth/logout", "/auth/logout", ("POST",), SIGNED_IN, "/dashboard"),
    Route(
        "/auth/logout-everywhere",
        "/auth/logout-everywhere",
        ("POST",),
        SIGNED_IN,
        "/auth/security",
    ),
    Route("/auth/keepalive", "/auth/keepalive", ("POST",), SIGNED_IN, "/dashboard"),
    Route("/auth/security", "/auth/security", ("GET",), SIGNED_IN),
    Route("/auth/pin", "/auth/pin", ("GET", "POST"), SIGNED_IN, "/auth/pin"),
    Route("/auth/pin/reset", "/auth/pin/reset", ("GET", "POST"), SIGNED_IN, "/auth/pin/reset"),
    Route(
        "/auth/pin/reset/<token>",
        "/auth/pin/reset/{token}",
        ("GET", "POST"),
        SIGNED_IN,
        "/auth/pin/reset/{token}",
    ),
    Route(
        "/auth/sessions/<int:session_id>/end",
        "/auth/sessions/{sign_in}/end",
        ("POST",),
        SIGNED_IN,
        "/auth/security",
        owned=True,
    ),
    Route(
        "/auth/two-factor/setup",
        "/auth/two-factor/setup",
        ("GET", "POST"),
        SIGNED_IN,
        "/auth/two-factor/setup",
    ),
    Route("/auth/password", "/auth/password", ("GET", "POST"), SIGNED_IN, "/auth/password"),
    Route("/dashboard", "/dashboard", ("GET",), SIGNED_IN),
    Route("/dashboard/history", "/dashboard/history", ("GET",), SIGNED_IN),
    Route("/more", "/more", ("GET",), SIGNED_IN),
    Route("/wallets", "/wallets", ("POST",), SIGNED_IN, "/dashboard"),
    Route(
        "/transactions/<reference>", "/transactions/{reference}", ("GET",), SIGNED_IN, owned=True
    ),
    Route(
        "/transactions/<reference>/receipt.pdf",
        "/transactions/{reference}/receipt.pdf",
        ("GET",),
        SIGNED_IN,
        owned=True,
    ),
    Route("/transfers/new", "/transfers/new", ("GET", "POST"), SIGNED_IN, "/transfers/new"),
    Route(
        "/transfers/confirm", "/transfers/confirm", ("POST",), SIGNED_IN, "{confirm}", step_up=True
    ),
    Route("/transfers/name-enquiry", "/transfers/name-enquiry", ("GET",), SIGNED_IN),
    Route("/transfers/<reference>", "/transfers/{reference}", ("GET",), SIGNED_IN, owned=True),
    Route("/statements", "/statements", ("GET",), SIGNED_IN),
    Route("/statements/download", "/statements/download", ("GET",), SIGNED_IN),
    Route("/beneficiaries", "/beneficiaries", ("POST",), SIGNED_IN, "{receipt_unsaved}"),
    Route(
        "/beneficiaries/<int:beneficiary_id>/remove",
        "/beneficiaries/{beneficiary_id}/remove",
        ("POST",),
        SIGNED_IN,
        "/transfers/new",
        owned=True,
    ),
    Route("/metrics", "/metrics", ("GET",), PUBLIC),
    Route("/bills", "/bills", ("GET",), SIGNED_IN),
    Route("/bills/airtime", "/bills/airtime", ("GET", "POST"), SIGNED_IN, "/bills/airtime"),
    Route(
        "/bills/airtime/confirm",
        "/bills/airtime/confirm",
        ("POST",),
        SIGNED_IN,
        "{airtime_confirm}",
        step_up=True,
    ),
    Route("/bills/data", "/bills/data", ("GET", "POST"), SIGNED_IN, "/bills/data"),
    Route(
        "/bills/data/confirm",
        "/bills/data/confirm",
        ("POST",),
        SIGNED_IN,
        "{data_confirm}",
        step_up=True,
    ),
    Route(
        "/bills/electricity",
        "/bills/electricity",
        ("GET", "POST"),
        SIGNED_IN,
        "/bills/electricity",
    ),
    Route(
        "/bills/electricity/confirm",
        "/bills/electricity/confirm",
        ("POST",),
        SIGNED_IN,
        "{electricity_confirm}",
        step_up=True,
    ),
    Route("/bills/<reference>", "/bills/{bill}", ("GET",), SIGNED_IN, owned=True),
    Route("/bills/<reference>/status", "/bills/{bill}/status", ("GET",), SIGNED_IN, owned=True),
    Route("/bank", "/bank", ("GET",), SIGNED_IN),
    Route("/bank/topup", "/bank/topup", ("GET", "POST"), SIGNED_IN, "/bank/topup"),
    Route("/bank/topups/<reference>", "/bank/topups/{topup}", ("GET",), SIGNED_IN, owned=True),
    Route(
        "/bank/topups/<reference>/status",
        "/bank/topups/{topup}/status",
        ("GET",),
        SIGNED_IN,
        owned=True,
    ),
    Route(
        "/bank/sandbox/checkout/<reference>",
        "/bank/sandbox/checkout/{topup}",
        ("GET", "POST"),
        SIGNED_IN,
        "/bank/sandbox/checkout/{topup}",
        owned=True,
    ),
    Route("/bank/payout", "/bank/payout", ("GET", "POST"), SIGNED_IN, "/bank/payout"),
    Route(
        "/bank/payout/confirm",
        "/bank/payout/confirm",
        ("POST",),
        SIGNED_IN,
        "{payout_confirm}",
        step_up=True,
    ),
    Route("/bank/payout/name-enquiry", "/bank/payout/name-enquiry", ("GET",), SIGNED_IN),
    Route("/bank/payouts/<reference>", "/bank/payouts/{payout}", ("GET",), SIGNED_IN, owned=True),
    Route("/admin/payouts", "/admin/payouts", ("GET",), ADMIN),
    Route(
        "/admin/payouts/<reference>/approve",
        "/admin/payouts/{payout}/approve",
        ("POST",),
        ADMIN,
        "/admin/payouts",
    ),
    Route(
        "/admin/payouts/<reference>/reject",
        "/admin/payouts/{payout}/reject",
        ("POST",),
        ADMIN,
        "/admin/payouts",
    ),
    Route("/fx", "/fx", ("GET",), SIGNED_IN),
    Route("/fx/convert", "/fx/convert", ("GET", "POST"), SIGNED_IN, "/fx/convert"),
    Route("/fx/confirm", "/fx/confirm", ("POST",), SIGNED_IN, "{fx_quote}", step_up=True),
    Route("/kyc", "/kyc", ("GET",), SIGNED_IN),
    Route("/kyc/identity", "/kyc/identity", ("POST",), SIGNED_IN, "/kyc"),
    Route("/kyc/address", "/kyc/address", ("POST",), SIGNED_IN, "{kyc_address}"),
    Route("/admin/kyc", "/admin/kyc", ("GET",), ADMIN),
    Route("/admin/kyc/<int:submission_id>", "/admin/kyc/{kyc_submission}", ("GET",), ADMIN),
    Route(
        "/admin/kyc/<int:submission_id>/document",
        "/admin/kyc/{kyc_submission}/document",
        ("GET",),
        ADMIN,
    ),
    Route(
        "/admin/kyc/<int:submission_id>/approve",
        "/admin/kyc/{kyc_submission}/approve",
        ("POST",),
        ADMIN,
        "/admin/kyc/{kyc_submission}",
    ),
    Route(
        "/admin/kyc/<int:submission_id>/reject",
        "/admin/kyc/{kyc_submission}/reject",
        ("POST",),
        ADMIN,
        "/admin/kyc/{kyc_submission}",
    ),
    Route("/notifications", "/notifications", ("GET",), SIGNED_IN),
    Route("/notifications/read", "/notifications/read", ("POST",), SIGNED_IN, "/notifications"),
    Route("/cards", "/cards", ("GET",), SIGNED_IN),
    Route("/cards/new", "/cards/new", ("GET", "POST"), SIGNED_IN, "/cards/new", step_up=True),
    Route("/cards/<reference>", "/cards/{card}", ("GET",), SIGNED_IN, owned=True),
    Route(
        "/cards/<reference>/status",
        "/cards/{card}/status",
        ("POST",),
        SIGNED_IN,
        "/cards/{card}",
        owned=True,
    ),
    Route(
        "/cards/<reference>/terminate",
        "/cards/{card}/terminate",
        ("GET", "POST"),
        SIGNED_IN,
        "/cards/{card}/terminate",
        owned=True,
    ),
    Route(
        "/cards/<reference>/limits",
        "/cards/{card}/limits",
        ("GET", "POST"),
        SIGNED_IN,
        "/cards/{card}/limits",
        owned=True,
    ),
    Route(
        "/cards/<reference>/reveal",
        "/cards/{card}/reveal",
        ("POST",),
        SIGNED_IN,
        "/cards/{card}",
        owned=True,
        step_up=True,
    ),
    Route(
        "/cards/sandbox/merchant",
        "/cards/sandbox/merchant",
        ("GET", "POST"),
        SIGNED_IN,
        "/cards/sandbox/merchant",
    ),
    Route(
        "/cards/sandbox/merchant/clear",
        "/cards/sandbox/merchant/clear",
        ("POST",),
        SIGNED_IN,
        "{card_clear}",
    ),
    Route(
        "/api/lumipay/v1/webhooks/<channel>",
        "/api/lumipay/v1/webhooks/bills",
        ("POST",),
        PUBLIC,
        signed=True,
    ),
    Route("/api/openapi.json", "/api/openapi.json", ("GET",), PUBLIC),
    Route("/api/docs", "/api/docs", ("GET",), PUBLIC),
    Route(
        "/api/lumipay/v1/auth/register",
        "/api/lumipay/v1/auth/register",
        ("POST",),
        PUBLIC,
        bearer=True,
    ),
    Route(
        "/api/lumipay/v1/auth/login", "/api/lumipay/v1/auth/login", ("POST",), PUBLIC, bearer=True
    ),
    Route(
        "/api/lumipay/v1/auth/refresh",
        "/api/lumipay/v1/auth/refresh",
        ("POST",),
        PUBLIC,
        bearer=True,
    ),
    Route("/api/lumipay/v1/auth/logout", "/api/lumipay/v1/auth/logout", ("POST",), TOKEN),
    Route("/api/lumipay/v1/users/me", "/api/lumipay/v1/users/me", ("GET",), TOKEN),
    Route("/api/lumipay/v1/users/me/pin", "/api/lumipay/v1/users/me/pin", ("POST",), TOKEN),
    Route("/api/lumipay/v1/accounts/", "/api/lumipay/v1/accounts/", ("GET",), TOKEN),
    Route(
        "/api/lumipay/v1/accounts/transactions",
        "/api/lumipay/v1/accounts/transactions",
        ("GET",),
        TOKEN,
    ),
    Route("/api/lumipay/v1/wallets/", "/api/lumipay/v1/wallets/", ("POST",), TOKEN),
    Route(
        "/api/lumipay/v1/wallets/<uuid:wallet_id>/balance",
        "/api/lumipay/v1/wallets/{wallet_id}/balance",
        ("GET",),
        TOKEN,
        owned=True,
    ),
    Route(
        "/api/lumipay/v1/wallets/<uuid:wallet_id>/transactions",
        "/api/lumipay/v1/wallets/{wallet_id}/transactions",
        ("GET",),
        TOKEN,
        owned=True,
    ),
    Route(
        "/api/lumipay/v1/transfers/", "/api/lumipay/v1/transfers/", ("POST",), TOKEN, step_up=True
    ),
    Route(
        "/api/lumipay/v1/transfers/<string(maxlength=40):tx_ref>",
        "/api/lumipay/v1/transfers/{reference}",
        ("GET",),
        TOKEN,
        owned=True,
    ),
    Route("/api/lumipay/v1/bills/pay", "/api/lumipay/v1/bills/pay", ("POST",), TOKEN, step_up=True),
    Route(
        "/api/lumipay/v1/bills/<string(maxlength=40):bill_id>",
        "/api/lumipay/v1/bills/{bill}",
        ("GET",),
        TOKEN,
        owned=True,
    ),
    Route("/api/lumipay/v1/fx/rates", "/api/lumipay/v1/fx/rates", ("GET",), TOKEN),
    Route("/api/lumipay/v1/fx/quotes", "/api/lumipay/v1/fx/quotes", ("POST",), TOKEN),
    Route(
        "/api/lumipay/v1/fx/convert", "/api/lumipay/v1/fx/convert", ("POST",), TOKEN, step_up=True
    ),
    Route("/api/lumipay/v1/bank/topup", "/api/lumipay/v1/bank/topup", ("POST",), TOKEN),
    Route(
        "/api/lumipay/v1/bank/payout", "/api/lumipay/v1/bank/payout", ("POST",), TOKEN, step_up=True
    ),
    Route(
        "/api/lumipay/v1/bank/topups/<string(maxlength=40):reference>",
        "/api/lumipay/v1/bank/topups/{topup}",
        ("GET",),
        TOKEN,
        owned=True,
    ),
    Route(
        "/api/lumipay/v1/bank/payouts/<string(maxlength=40):reference>",
        "/api/lumipay/v1/bank/payouts/{payout}",
        ("GET",),
        TOKEN,
        owned=True,
    ),
    Route("/api/lumipay/v1/bank/banks", "/api/lumipay/v1/bank/banks", ("GET",), TOKEN),
    Route("/api/lumipay/v1/cards/", "/api/lumipay/v1/cards/", ("GET", "POST"), TOKEN, step_up=True),
    Route(
        "/api/lumipay/v1/cards/<string(maxlength=40):card_id>",
        "/api/lumipay/v1/cards/{card}",
        ("GET",),
        TOKEN,
        owned=True,
    ),
    Route(
        "/api/lumipay/v1/cards/<string(maxlength=40):card_id>/block",
        "/api/lumipay/v1/cards/{card}/block",
        ("PATCH",),
        TOKEN,
    ),
    Route(
        "/api/lumipay/v1/cards/<string(maxlength=40):card_id>/status",
        "/api/lumipay/v1/cards/{card}/status",
        ("POST",),
        TOKEN,
    ),
    Route(
        "/api/lumipay/v1/cards/<string(maxlength=40):card_id>/limits",
        "/api/lumipay/v1/cards/{card}/limits",
        ("PATCH",),
        TOKEN,
    ),
    # Admin only: a customer's token gets 404 (test_api_bank_cards_admin).
    Route("/api/lumipay/v1/admin/reconcile", "/api/lumipay/v1/admin/reconcile", ("POST",), TOKEN),
    Route(
        "/api/lumipay/v1/admin/provider-report",
        "/api/lumipay/v1/admin/provider-report",
        ("GET",),
        TOKEN,
    ),
)

ADMIN_ROUTES: tuple[Route, ...] = (
    Route("/admin", "/admin", ("GET",), ADMIN),
    Route("/admin/customers", "/admin/customers", ("GET",), ADMIN),
    Route("/admin/customers/<uuid:user_id>", "/admin/customers/{ada_id}", ("GET",), ADMIN),
    Route(
        "/admin/customers/<uuid:user_id>/freeze",
        "/admin/customers/{ada_id}/freeze",
        ("POST",),
        ADMIN,
        "/admin/customers/{ada_id}",
    ),
    Route(
        "/admin/customers/<uuid:user_id>/unfreeze",
        "/admin/customers/{ada_id}/unfreeze",
        ("POST",),
        ADMIN,
    ),
    Route("/admin/transactions", "/admin/transactions", ("GET",), ADMIN),
    Route("/admin/transactions/<reference>", "/admin/transactions/{reference}", ("GET",), ADMIN),
    Route("/admin/audit", "/admin/audit", ("GET",), ADMIN),
    Route("/admin/ledger", "/admin/ledger", ("GET",), ADMIN),
    Route("/admin/ledger/check", "/admin/ledger/check", ("POST",), ADMIN, "/admin/ledger"),
    Route("/admin/reconciliation", "/admin/reconciliation", ("GET",), ADMIN),
    Route("/admin/reconcile", "/admin/reconcile", ("POST",), ADMIN, "/admin/reconciliation"),
    Route("/admin/reconciliation/<int:run_id>", "/admin/reconciliation/1", ("GET",), ADMIN),
    Route(
        "/admin/reconciliation/<int:run_id>/export.csv",
        "/admin/reconciliation/1/export.csv",
        ("GET",),
        ADMIN,
    ),
    Route("/admin/provider-report", "/admin/provider-report", ("GET",), ADMIN),
    Route("/admin/settlements", "/admin/settlements", ("GET", "POST"), ADMIN, "/admin/settlements"),
    Route(
        "/admin/settlements/<int:proposal_id>/approve",
        "/admin/settlements/1/approve",
        ("POST",),
        ADMIN,
    ),
    Route(
        "/admin/settlements/<int:proposal_id>/reject",
        "/admin/settlements/1/reject",
        ("POST",),
        ADMIN,
    ),
)
ROUTES = ROUTES + ADMIN_ROUTES

POSTS = tuple(r for r in ROUTES if "POST" in r.methods)
FORMS = tuple(r for r in POSTS if r.form_page is not None)
DEBITS = tuple(r for r in ROUTES if r.step_up)
