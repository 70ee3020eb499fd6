"""Registration says a taken email or phone (the README's flow) but slowly, and tells its owner;
reset answers alike either way; TOTP secrets are encrypted; LIKE input is literal; KYC
documents download as sandboxed attachments."""

from __future__ import annotations

import re

from sqlalchemy import select

from lumipay.auth import twofactor
from lumipay.auth.models import User
from lumipay.extensions import db
from tests.conftest import register_via_form, unique_details
from tests.integration.test_kyc_documents import JPEG, send_identity
from tests.security.conftest import enrol_totp, new_browser


def test_a_taken_email_is_said_slowly_and_its_owner_is_told(app, register, ctx, mails,
                                                            monkeypatch):  # fmt: skip
    monkeypatch.setitem(app.config, "LIMIT_REGISTER_ADDRESS", "2 per hour")
    ada = register("Ada Obi")
    statuses = []
    for n in range(3):  # three clients, so only the per-address limit can bite
        browser = new_browser(app, ip=f"192.0.2.{120 + n}")
        page = register_via_form(browser, **{**unique_details("Eve"), "email": ada.email})
        statuses.append(page.status_int)
    assert statuses[0] == 422 and statuses[-1] == 429
    told = [m for m in mails if m.to == ada.email and "tried to open" in m.subject]
    assert told and "192.0.2.120" in told[0].body


def test_a_taken_phone_is_limited_per_phone(app, register, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "LIMIT_REGISTER_ADDRESS", "3 per hour")  # Ada's counts
    ada = register("Ada Obi")
    statuses = [
        register_via_form(
            new_browser(app, ip=f"192.0.2.{130 + n}"),
            **{**unique_details("Eve"), "phone": ada.phone},
        ).status_int
        for n in range(3)
    ]
    assert statuses == [422, 422, 429]


def test_reset_answers_the_same_whether_or_not_the_address_exists(app, register, ctx, mails):
    ada = register("Ada Obi")

    def answer(email: str) -> tuple[int, str]:
        browser = new_browser(app, ip="192.0.2.140")
        form = browser.get("/auth/reset").forms["reset-request-form"]
        form["email"] = email
        response = form.submit()
        page = response.follow()
        text = re.sub(r'(name="csrf_token"[^>]*value=")[^"]*', r"\1", page.text)
        return response.status_int, re.sub(r'"X-CSRFToken": "[^"]*"', "", text)

    assert answer(ada.email) == answer("nobody-here@example.com")


def test_totp_secrets_are_encrypted_at_rest_and_keys_rotate(app, register, ctx, clock,
                                                            monkeypatch):  # fmt: skip
    ada = register("Ada Obi")
    secret = enrol_totp(ada, clock)
    stored = db.session.scalar(select(User.totp_secret).where(User.email == ada.email))
    assert stored != secret and secret not in stored
    assert twofactor.unseal(stored) == secret
    monkeypatch.setitem(
        app.config, "TOTP_ENCRYPTION_KEYS", ["a-brand-new-key-0123456789abcdefXYZ", *app.config[
            "TOTP_ENCRYPTION_KEYS"]],
    )  # fmt: skip
    assert twofactor.rotate_keys() == 1
    db.session.expire_all()
    rotated = db.session.scalar(select(User.totp_secret).where(User.email == ada.email))
    monkeypatch.setitem(app.config, "TOTP_ENCRYPTION_KEYS", ["a-brand-new-key-0123456789abcdefXYZ"])
    assert rotated != stored and twofactor.unseal(rotated) == secret


def test_admin_search_treats_like_wildcards_literally(register, admin, ctx):
    register("Ada Obi")
    tola = admin()
    for q in ("%", "_", "%a%", "a_a"):
        page = tola.get("/admin/customers", params={"q": q})
        assert "Ada Obi" not in page.text, q


def test_kyc_documents_are_sandboxed_attachments(register, admin, ctx):
    bayo = register("Bayo Adeyemi")
    assert send_identity(bayo, JPEG).status_int == 303
    from lumipay.kyc.models import KycSubmission

    submission = db.session.scalar(select(KycSubmission.id))
    document = admin().get(f"/admin/kyc/{submission}/document")
    assert document.headers["Content-Disposition"].startswith("attachment;")
    assert document.headers["Content-Security-Policy"] == "sandbox"
