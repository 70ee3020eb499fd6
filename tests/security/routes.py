"""Every URL the app serves, with who may reach it and where its form lives.

The security tests are driven by this table; `test_every_route_is_in_the_table` fails when a
new route is added without a row here, so no page escapes the attacks. Placeholders in `path`
and `form_page` are filled from the test world: {reference} (a transfer between Ada and Bayo),
{beneficiary_id} (Ada's saved recipient), {token} (a password-reset token), {confirm} (the
confirm step of a transfer, reached by posting step one), {bill} (Ada's airtime bill, failed
by the sandbox so it also left her a notification), {electricity_confirm} (the confirm step of
an electricity bill, reached by posting step one), {fx_quote} (a quote page for Ada's NGN to USD
conversion, reached by posting the convert form).

Back-office rows (ADMIN) name Ada's user id as 1: every test starts from empty tables with
identities restarted, and the world registers Ada first.

Routes that can't take an attack, and why:

- /metrics is PUBLIC while METRICS_TOKEN is unset (the default, and the tests' setting); with a
  token it answers 401 without `Authorization: Bearer <token>` (test_metrics_* in
  test_attacks.py). It takes no input, so no CSRF, XSS or SQL-injection attack applies.
- POST /api/lumipay/v1/webhooks/<channel> is `signed`: providers authenticate with an HMAC
  signature, not a session, and can't hold a CSRF token, so it is CSRF-exempt and has no form
  (no CSRF attack). Anonymous, unsigned, forged, stale, replayed and malformed deliveries get
  400/401/404 and change nothing (test_webhook_*); oversized bodies get 413 like every POST.
"""

from __future__ import annotations

from dataclasses import dataclass

PUBLIC = "public"  # anyone
SIGNED_IN = "signed-in"  # a signed-in customer; anonymous GETs go to the sign-in page
SIGN_IN_STEP = "sign-in-step"  # only half-way through signing in (password done)
ADMIN = "admin"  # an admin with a second factor; customers get 404, anonymous GETs sign in


@dataclass(frozen=True)
class Route:
    rule: str
    path: str
    methods: tuple[str, ...]
    access: str
    form_page: str | None = None  # the page whose form POSTs here
    owned: bool = False  # names a customer's object: another customer must get 404
    signed: bool = False  # authenticated by an HMAC signature, not a session (webhooks)

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
    Route("/wallets", "/wallets", ("POST",), SIGNED_IN, "/dashboard"),
    Route(
        "/transactions/<reference>", "/transactions/{reference}", ("GET",), SIGNED_IN, owned=True
    ),
    Route("/transfers/new", "/transfers/new", ("GET", "POST"), SIGNED_IN, "/transfers/new"),
    Route("/transfers/confirm", "/transfers/confirm", ("POST",), SIGNED_IN, "{confirm}"),
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
    Route("/bills/data", "/bills/data", ("GET", "POST"), SIGNED_IN, "/bills/data"),
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
    ),
    Route("/bills/<reference>", "/bills/{bill}", ("GET",), SIGNED_IN, owned=True),
    Route("/bills/<reference>/status", "/bills/{bill}/status", ("GET",), SIGNED_IN, owned=True),
    Route("/fx", "/fx", ("GET",), SIGNED_IN),
    Route("/fx/convert", "/fx/convert", ("GET", "POST"), SIGNED_IN, "/fx/convert"),
    Route("/fx/confirm", "/fx/confirm", ("POST",), SIGNED_IN, "{fx_quote}"),
    Route("/notifications", "/notifications", ("GET",), SIGNED_IN),
    Route("/notifications/read", "/notifications/read", ("POST",), SIGNED_IN, "/notifications"),
    Route(
        "/api/lumipay/v1/webhooks/<channel>",
        "/api/lumipay/v1/webhooks/bills",
        ("POST",),
        PUBLIC,
        signed=True,
    ),
)

ADMIN_ROUTES: tuple[Route, ...] = (
    Route("/admin", "/admin", ("GET",), ADMIN),
    Route("/admin/customers", "/admin/customers", ("GET",), ADMIN),
    Route("/admin/customers/<int:user_id>", "/admin/customers/1", ("GET",), ADMIN),
    Route(
        "/admin/customers/<int:user_id>/freeze",
        "/admin/customers/1/freeze",
        ("POST",),
        ADMIN,
        "/admin/customers/1",
    ),
    Route(
        "/admin/customers/<int:user_id>/unfreeze", "/admin/customers/1/unfreeze", ("POST",), ADMIN
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
