"""Production refuses weak and sandbox settings at create_app, and each refusal names the
setting: our own secrets under 32 characters or known; development defaults; sandbox providers
of any kind; no SMTP. Provider-issued secrets are taken at their length, never empty or dev."""

from __future__ import annotations

import pytest

from lumipay.config import DEFAULT_SECRET_KEY, DEV_PIN_KEY, DEV_TOTP_KEY, DEV_WEBHOOK_SECRET
from tests.security.test_hardening import production

WEBHOOKS = {"bills": "a-bills-webhook-secret-of-length", "bank": "", "cards": ""}


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"JWT_SECRET_KEY": "a"}, "JWT_SECRET_KEY"),
        ({"JWT_SECRET_KEY": "x" * 64}, "JWT_SECRET_KEY"),
        ({"JWT_SECRET_KEY": "change-me-to-a-long-random-value"}, "JWT_SECRET_KEY"),
        ({"SECRET_KEY": DEFAULT_SECRET_KEY + "-padded-to-be-long-enough"}, "SECRET_KEY"),
        ({"SECRET_KEY": "x" * 48}, "SECRET_KEY"),
        ({"WEBHOOK_SECRETS": {**WEBHOOKS, "bank": "b"}}, "BANK_WEBHOOK_SECRET"),
        ({"WEBHOOK_SECRETS": {**WEBHOOKS, "cards": "c" * 20}}, "CARDS_WEBHOOK_SECRET"),
        ({"WEBHOOK_SECRETS": {**WEBHOOKS, "bills": "short-bills-secret"}}, "BILLS_WEBHOOK_SECRET"),
        ({"METRICS_TOKEN": "a-metrics-token"}, "METRICS_TOKEN"),
        ({"PIN_HMAC_KEY": DEV_PIN_KEY}, "PIN_HMAC_KEY"),
        ({"PIN_HMAC_KEY": "short"}, "PIN_HMAC_KEY"),
        ({"TOTP_ENCRYPTION_KEYS": [DEV_TOTP_KEY]}, "TOTP_ENCRYPTION_KEYS"),
        ({"TOTP_ENCRYPTION_KEYS": []}, "TOTP_ENCRYPTION_KEYS"),
        ({"SMTP_HOST": None}, "SMTP_HOST"),
        ({"BILLS_PROVIDERS": {"airtime": "sandbox", "data": "vtpass", "electricity": "vtpass"}},
         "BILLS_PROVIDER_AIRTIME"),
        ({"CARDS_PROVIDER": "sandbox"}, "CARDS_PROVIDER"),
        ({"FX_RATES_PROVIDER": "sandbox"}, "FX_RATES_PROVIDER"),
        ({"BANK_PROVIDER_MODE": "sandbox"}, "BANK_PROVIDER_MODE"),
        ({"VTPASS_BASE_URL": "https://sandbox.vtpass.com"}, "VTPASS_BASE_URL"),
        ({"MONIEPOINT_BASE_URL": "https://sandbox.monnify.com"}, "MONIEPOINT_BASE_URL"),
        ({"UBA_BASE_URL": "https://sandbox.api.ubagroup.com"}, "UBA_BASE_URL"),
        ({"MONIEPOINT_CLIENT_SECRET": "dev-only-moniepoint"}, "MONIEPOINT_CLIENT_SECRET"),
        ({"VTPASS_SECRET_KEY": ""}, "VTPASS_SECRET_KEY"),
        ({"CARDS_API_KEY": ""}, "CARDS_API_KEY"),
        ({"FX_RATES_APP_ID": "changeme"}, "FX_RATES_APP_ID"),
        ({"SANDBOX_WEBHOOK_URL": "http://127.0.0.1:5000/x"}, "SANDBOX_WEBHOOK_URL"),
        ({"WEBHOOK_SECRETS": {**WEBHOOKS, "bank": DEV_WEBHOOK_SECRET}}, "BANK_WEBHOOK_SECRET"),
    ],
)  # fmt: skip
def test_production_refuses_and_names_the_setting(overrides, setting):
    with pytest.raises(RuntimeError, match=setting):
        production(**overrides)


def test_provider_issued_secrets_are_taken_at_their_length():
    app = production(
        MONIEPOINT_CLIENT_SECRET="short-ish", CARDS_API_KEY="k1", UBA_CLIENT_SECRET="u"
    )
    assert app.config["LUMIPAY_ENV"] == "production"
