"""Headers, cookies, body size, templates without inline script, and the production guard."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lumipay import create_app
from lumipay.config import DEFAULT_SECRET_KEY, DEV_CARDS_WEBHOOK_SECRET, DEV_WEBHOOK_SECRET
from tests.conftest import unique_details

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
GOOD_SECRET = "pX7-rQ2vLm9sT4kWz8nB3cYh6JfD1gAe5uNo0iKt"


def test_every_page_sends_the_security_headers(register, web, ctx):
    ada = register("Ada Obi")
    for browser, path in ((web, "/auth/login"), (ada.browser, "/dashboard"), (web, "/healthz")):
        headers = browser.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers  # only in production
    assert ada.get("/dashboard").headers["Cache-Control"] == "no-store"


def test_session_cookie_is_httponly_and_samesite_lax(web, ctx):
    response = web.get("/auth/register")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development serves plain http


def production(**overrides: object):  # type: ignore[no-untyped-def]
    config = {
        "LUMIPAY_ENV": "production",
        "SECRET_KEY": GOOD_SECRET,
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg2://u@127.0.0.1/none",
        "PUBLIC_URL": "https://bank.example",
        "DEBUG": False,
        "TESTING": False,
        "SESSION_COOKIE_SECURE": True,
        "REMEMBER_COOKIE_SECURE": True,
        "WEBHOOK_SECRETS": {"bills": "a-bills-webhook-secret-of-length", "bank": "", "cards": ""},
        "METRICS_TOKEN": "mT4-metrics-token-9fQ2xLw7Zp3Rk8Vb",
        "PIN_HMAC_KEY": "pin-hmac-Qw3Er5Ty7Ui9Op1As2Df4Gh6Jk8",
        "TOTP_ENCRYPTION_KEYS": ["totp-key-Zx1Cv3Bn5Mq7Wr9Ty2Ui4Op6As8"],
        "SMTP_HOST": "smtp.bank.example",
        "BILLS_PROVIDERS": {"airtime": "vtpass", "data": "vtpass", "electricity": "vtpass"},
        "VTPASS_BASE_URL": "https://vtpass.com",
        "VTPASS_API_KEY": "vt-api-key",
        "VTPASS_SECRET_KEY": "SK_vt-secret",
        "VTPASS_PUBLIC_KEY": "PK_vt-public",
        "CARDS_PROVIDER": "issuing",
        "CARDS_API_URL": "https://cards.issuer.example.net",
        "CARDS_API_KEY": "ck_live_123",
        "FX_RATES_PROVIDER": "openexchangerates",
        "FX_RATES_APP_ID": "oxr-app-id",
        "BANK_PROVIDER_MODE": "http",
        "MONIEPOINT_BASE_URL": "https://api.monnify.com",
        "MONIEPOINT_CLIENT_ID": "MK_PROD_CLIENT",
        "MONIEPOINT_CLIENT_SECRET": "a-moniepoint-client-secret",
        "MONIEPOINT_CONTRACT_CODE": "1234567890",
        "UBA_BASE_URL": "https://api.ubagroup.com",
        "UBA_CLIENT_ID": "uba-client",
        "UBA_CLIENT_SECRET": "a-uba-client-secret",
        **overrides,
    }
    return create_app(config)


def test_production_sends_hsts_and_secure_cookies():
    app = production()
    client = app.test_client()
    response = client.get("/auth/login")
    assert "max-age=" in response.headers["Strict-Transport-Security"]
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"SECRET_KEY": DEFAULT_SECRET_KEY}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"DEBUG": True}, "debug"),
        ({"TESTING": True}, "debug"),
        ({"WTF_CSRF_ENABLED": False}, "CSRF"),
        ({"MAIL_CAPTURE": True}, "CSRF"),
        ({"SQLALCHEMY_DATABASE_URI": "mysql+pymysql://bank@db.example/lumipay"}, "DATABASE_URL"),
        ({"PUBLIC_URL": "http://bank.example"}, "PUBLIC_URL"),
        ({"PASSWORD_HASH_METHOD": "scrypt:1024:8:1"}, "scrypt"),
        ({"WEBHOOK_SECRETS": {"bills": DEV_WEBHOOK_SECRET}}, "BILLS_WEBHOOK_SECRET"),
        ({"WEBHOOK_SECRETS": {"bills": ""}}, "BILLS_WEBHOOK_SECRET"),
        (
            {
                "WEBHOOK_SECRETS": {
                    "bills": "a-bills-webhook-secret-of-length",
                    "cards": DEV_CARDS_WEBHOOK_SECRET,
                }
            },
            "CARDS_WEBHOOK_SECRET",
        ),
        ({"METRICS_TOKEN": None}, "METRICS_TOKEN"),
        ({"BANK_PROVIDER_MODE": "sandbox"}, "BANK_PROVIDER_MODE=http"),
        ({"MONIEPOINT_CLIENT_SECRET": ""}, "MONIEPOINT_CLIENT_SECRET"),
        ({"UBA_CLIENT_ID": ""}, "UBA_CLIENT_ID"),
        ({"UBA_BASE_URL": "http://api.ubagroup.com"}, "UBA_BASE_URL"),
        (
            {
                "WEBHOOK_SECRETS": {
                    "bills": "a-bills-webhook-secret-of-length",
                    "bank": DEV_WEBHOOK_SECRET,
                }
            },
            "BANK_WEBHOOK_SECRET",
        ),
    ],
)
def test_production_refuses_to_start_unsafe(overrides, why):
    with pytest.raises(RuntimeError, match=why):
        production(**overrides)


def test_production_refuses_the_embedded_database_of_make_dev():
    """Without DATABASE_URL the settings point at `make dev`'s cluster: never in production."""
    from lumipay import ROOT, embedded

    with pytest.raises(RuntimeError, match="DATABASE_URL"):
        production(SQLALCHEMY_DATABASE_URI=embedded.database_url(Path(ROOT) / "instance"))


def test_production_starts_when_everything_is_set():
    assert production().config["LUMIPAY_ENV"] == "production"


def test_templates_have_no_inline_script_or_handlers():
    """CSP forbids inline script; this keeps templates from needing it."""
    problems = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text, flags=re.I):
            if "src=" not in tag:
                problems.append(f"{path.name}: inline <script>")
        if re.search(r"\son[a-z]+\s*=", text, flags=re.I):
            problems.append(f"{path.name}: inline event handler")
        if re.search(r"javascript:", text, flags=re.I):
            problems.append(f"{path.name}: javascript: URL")
        if re.search(r"\sstyle\s*=", text, flags=re.I):
            problems.append(f"{path.name}: inline style attribute (style-src 'self')")
    assert problems == []


def test_oversized_body_is_refused_with_413_and_nothing_changes(app, web, ctx):
    from sqlalchemy import func, select

    from lumipay.auth.models import User
    from lumipay.extensions import db

    form = web.get("/auth/register").forms["register-form"]
    token = form["csrf_token"].value
    limit = app.config["MAX_CONTENT_LENGTH"]
    fields = {**unique_details("Big Body"), "csrf_token": token, "padding": "a" * (limit + 1)}
    response = web.post("/auth/register", fields, expect_errors=True)
    assert response.status_int == 413
    assert "too large" in response.text.lower() or "larger than we accept" in response.text
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
