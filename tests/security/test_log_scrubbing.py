"""Secrets never reach the logs: every flow that handles one runs with the JSON log lines
captured (as production writes them), and the capture is searched for reset tokens, passwords,
bearer and refresh tokens, TOTP codes, card numbers and PINs. The access log masks tokens in
paths; development without SMTP prints emails to the console, never to the JSON logs."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest

from lumipay.observability import JSONFormatter
from lumipay.scrub import MASK, scrub_data, scrub_text
from tests.conftest import PASSWORD
from tests.integration.helpers.api import ApiClient, api_register
from tests.integration.test_api import transfer_body
from tests.security.conftest import code_now, enrol_totp, new_browser, submit_login
from tests.security.test_passwords import NEW_PASSWORD, change_form, request_reset

PAN = "4111111111111111"


class Lines(logging.Handler):
    """Keeps each record exactly as the JSON formatter writes it to stdout."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JSONFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture()
def logs() -> Iterator[Lines]:
    keep = Lines()
    loggers = [logging.getLogger(name) for name in ("lumipay", "rq", "werkzeug", "")]
    for logger in loggers:
        logger.addHandler(keep)
    yield keep
    for logger in loggers:
        logger.removeHandler(keep)


def test_no_flow_that_handles_a_secret_logs_it(app, register, ctx, clock, mails, logs):
    secrets: list[str] = [PASSWORD, NEW_PASSWORD]
    ada = register("Ada Obi")
    assert submit_login(new_browser(app), ada.email, "wrong-password-77").status_int == 422
    secrets.append("wrong-password-77")

    api = ApiClient(new_browser(app, ip="192.0.2.31"))
    tokens = api.post("/auth/login", {"login": ada.email, "password": PASSWORD}).json
    api.take(tokens)
    assert api.get("/users/me").status_int == 200
    refreshed = api.post("/auth/refresh", {"refresh_token": api.refresh}).json
    secrets += [tokens["access_token"], tokens["refresh_token"], refreshed["access_token"]]
    api.take(refreshed)
    api.account_number = ada.account_number
    payee = api_register(app, "Bayo Adeyemi", ip="192.0.2.34")
    assert payee.post("/users/me/pin", {"pin": "7395"}).status_int == 204
    payee.pin = "7395"
    body = transfer_body(payee, api, 100)
    assert payee.post("/transfers/", body, key="log-scrub-key-0001").status_int == 201
    secrets += ["7395", payee.access or ""]

    secret = enrol_totp(ada, clock)
    secrets.append(secret)
    browser = new_browser(app, ip="192.0.2.32")
    step = submit_login(browser, ada.email, PASSWORD)
    form = step.follow().forms["two-factor-form"]
    code = code_now(secret, clock)
    form["code"] = code
    assert form.submit().status_int == 303
    secrets.append(code)

    assert change_form(ada, PASSWORD, NEW_PASSWORD).status_int == 303
    web = new_browser(app, ip="192.0.2.33")
    request_reset(web, ada.email)
    token = re.search(r"/auth/reset/(\S+)", mails[-1].body).group(1)
    secrets.append(token)
    form = web.get(f"/auth/reset/{token}").forms["reset-password-form"]
    form["new_password"] = form["confirm_password"] = "yet-another-secret-93"
    assert form.submit().status_int == 303
    secrets.append("yet-another-secret-93")

    assert logs.lines, "the capture saw nothing"
    leaked = [s for s in secrets if s in logs.text]
    assert leaked == []
    assert re.search(r"GET /auth/reset/\[REDACTED\]", logs.text), "the access log masks the token"
    for line in logs.lines:
        json.loads(line)  # every line stays one JSON object


def test_development_without_smtp_prints_emails_to_the_console_not_the_logs(
    app, register, web, ctx, monkeypatch, capsys, logs
):
    ada = register("Ada Obi")
    monkeypatch.setitem(app.config, "MAIL_CAPTURE", False)
    monkeypatch.setitem(app.config, "SMTP_HOST", None)
    request_reset(web, ada.email)
    err = capsys.readouterr().err
    token = re.search(r"/auth/reset/(\S+)", err).group(1)
    assert token not in logs.text
    assert "Reset your Lumipay password" in logs.text, "the subject is still logged"


def test_log_lines_mask_secret_fields_and_patterns(logs):
    log = logging.getLogger("lumipay.test")
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlLWJ5dGVz"
    log.warning(
        "card %s paid with Bearer %s, pin=4826",
        "4111 1111 1111 1111",
        jwt,
        extra={"password": "hunter2-hunter2", "body": {"otp_code": "493817", "cvv": "123"},
               "headers": {"X-Transaction-PIN": "4826", "Cookie": "session=abc"},
               "card_number": PAN},
    )  # fmt: skip
    try:
        raise ValueError(f"declined {PAN} for token {jwt}")
    except ValueError:
        log.exception("provider failed")
    text = logs.text
    for secret in (PAN, "4111 1111 1111 1111", jwt, "4826", "hunter2", "493817", "session=abc"):
        assert secret not in text, secret
    assert '"cvv": "[REDACTED]"' in text


def test_the_scrubber_keeps_what_is_not_a_secret():
    kept = {"amount": 500_000, "bank_code": "058", "to_account_number": "0123456789",
            "reference": "TRF-20261201-ABC", "status_code": 200, "currency": "NGN"}  # fmt: skip
    assert scrub_data(kept) == kept
    assert scrub_text("event evt_1733000000000000000 at 2026-12-01T09:41:50") == (
        "event evt_1733000000000000000 at 2026-12-01T09:41:50"
    )
    assert scrub_text("/auth/reset/AbC-123_x?next=/") == f"/auth/reset/{MASK}?next=/"
    assert scrub_data(["pin", {"pin": "1234"}, ("Bearer abc.def",)]) == [
        "pin",
        {"pin": MASK},
        (f"Bearer {MASK}",),
    ]
