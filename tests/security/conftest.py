"""Helpers for the security suite: a clock tests can move, the captured outbox, sign-in and
two-step helpers that go through the real forms."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest
from flask import Flask
from webtest import TestApp

from lumipay.notifications.email import Email, outbox
from tests.conftest import Browser, FakeClock


@pytest.fixture()
def mails(app: Flask) -> list[Email]:
    return outbox(app)


def new_browser(app: Flask, ip: str = "192.0.2.10", agent: str = "SecurityTest/1.0") -> Browser:
    return Browser(app, extra_environ={"REMOTE_ADDR": ip, "HTTP_USER_AGENT": agent})


def submit_login(browser: TestApp, login: str, password: str, next_: str | None = None) -> Any:
    url = "/auth/login" + (f"?next={next_}" if next_ else "")
    form = browser.get(url).forms["login-form"]
    form["email"] = login
    form["password"] = password
    return form.submit(expect_errors=True)


def enrol_totp(customer: Any, clock: FakeClock) -> str:
    """Turn two-step verification on through the setup page; returns the TOTP secret."""
    page = customer.get("/auth/two-factor/setup")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1)
    form = page.forms["two-factor-setup-form"]
    form["code"] = pyotp.TOTP(secret).at(clock())
    done = form.submit()
    assert done.status_int == 200 and "recovery-codes" in done.text, done.text
    clock.advance(30)  # the code just used is spent; later steps use the next one
    return secret


def recovery_codes_on(page: Any) -> list[str]:
    return re.findall(r"<li><code>([A-Z0-9-]{19})</code></li>", page.text)


def code_now(secret: str, clock: FakeClock) -> str:
    return pyotp.TOTP(secret).at(clock())
