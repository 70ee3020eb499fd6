"""KYC through the forms: the /kyc page, uploads checked by content, and the admin's review."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from sqlalchemy import func, select
from webtest import Upload

from lumipay.audit.models import AuditEvent
from lumipay.auth.models import User
from lumipay.extensions import db
from lumipay.kyc.models import KycSubmission
from lumipay.ledger.verify import verify_ledger
from lumipay.notifications.models import Notification
from tests.conftest import set_tier
from tests.integration.test_kyc_limits import confirm

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"
BVN = "22212345689"


def stored_files(app: Any) -> set[str]:
    folder = app.config["KYC_STORAGE_DIR"]
    return set(os.listdir(folder)) if os.path.isdir(folder) else set()


def submissions() -> int:
    return db.session.scalar(select(func.count()).select_from(KycSubmission))


def tier_of(customer: Any) -> int:
    db.session.expire_all()
    return db.session.scalar(select(User.kyc_tier).where(User.email == customer.email))


def send_identity(
    customer: Any,
    content: bytes,
    filename: str = "id.jpg",
    content_type: str = "image/jpeg",
    number: str = BVN,
    id_type: str = "bvn",
) -> Any:
    form = customer.get("/kyc").forms["kyc-identity-form"]
    form["id_type"] = id_type
    form["id_number"] = number
    form["document"] = Upload(filename, content, content_type)
    return form.submit(expect_errors=True)


def send_address(customer: Any, content: bytes, filename: str = "bill.pdf") -> Any:
    form = customer.get("/kyc").forms["kyc-address-form"]
    form["document"] = Upload(filename, content, "application/pdf")
    return form.submit(expect_errors=True)


def latest() -> KycSubmission:
    db.session.expire_all()
    return db.session.scalars(select(KycSubmission).order_by(KycSubmission.id.desc())).first()


def test_the_page_shows_the_tier_its_limits_and_what_the_next_needs(register, ctx):
    ada = register("Ada Obi")
    nav = ada.get("/dashboard").html.find("nav", attrs={"aria-label": "Main"})
    assert nav.find("a", href="/kyc").text == "Verification"
    page = ada.get("/kyc")
    assert 'data-testid="kyc-tier">Tier 1<' in page.text
    for shown in ("₦50,000.00", "₦300,000.00", "₦200,000.00", "₦500,000.00"):
        assert shown in page.text
    assert "BVN or NIN" in page.text and "kyc-identity-form" in page.text
    set_tier(ada.email, 3)
    page = ada.get("/kyc")
    assert "Tier 3 is the highest tier." in page.text and "No limit" in page.text
    assert '<form id="kyc-' not in page.text


def test_identity_approved_by_an_admin_lifts_the_tier_one_limit(app, register, admin):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    files_before = stored_files(app)
    done = send_identity(ada, JPEG, "passport.jpg", number="222 1234 5689")
    assert done.status_int == 303, done.text
    assert 'data-testid="kyc-pending"' in done.follow().text

    submission = latest()
    assert (submission.status, submission.target_tier, submission.id_type) == ("pending", 2, "bvn")
    assert submission.id_number_masked == "222******89"
    assert len(submission.id_number_hash) == 64
    row = db.session.execute(select(KycSubmission.__table__)).one()
    assert not any(BVN in str(value) for value in row), "the full BVN is stored nowhere"
    new_files = stored_files(app) - files_before
    assert new_files == {submission.document_key}
    assert "passport" not in submission.document_key
    with open(os.path.join(app.config["KYC_STORAGE_DIR"], submission.document_key), "rb") as f:
        assert f.read() == JPEG

    tola = admin()
    queue = tola.get("/admin/kyc")
    assert "Ada Obi" in queue.text and "Tier 2" in queue.text
    page = tola.get(f"/admin/kyc/{submission.id}")
    assert "222******89" in page.text and BVN not in page.text
    document = tola.get(f"/admin/kyc/{submission.id}/document")
    assert document.body == JPEG
    assert document.headers["Content-Type"] == "image/jpeg"
    assert document.headers["Content-Disposition"].startswith("attachment;")
    assert document.headers["X-Content-Type-Options"] == "nosniff"

    # Before: Tier 1 refuses ₦60,000.
    assert confirm(ada, bayo.account_number, "60,000").status_int == 422
    approved = page.forms["kyc-approve-form"].submit()
    assert approved.status_int == 303
    assert "Nothing is waiting for review." in approved.follow().text
    assert tier_of(ada) == 2 and latest().status == "approved"
    note = db.session.scalars(select(Notification).order_by(Notification.id.desc())).first()
    assert note.title == "You're now on Tier 2"
    assert db.session.scalar(select(User.id).where(User.email == ada.email)) == note.user_id
    assert db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "kyc.approve")
    )
    assert confirm(ada, bayo.account_number, "60,000").status_int == 303
    assert 'data-testid="kyc-tier">Tier 2<' in ada.get("/kyc").text
    assert verify_ledger().ok


def test_rejection_needs_a_reason_tells_the_customer_and_keeps_the_tier(register, admin):
    ada = register("Ada Obi")
    assert send_identity(ada, PDF, "nin.pdf", "application/pdf", id_type="nin").status_int == 303
    submission = latest()
    tola = admin()
    page = tola.get(f"/admin/kyc/{submission.id}")
    form = page.forms["kyc-reject-form"]
    form["reason"] = "  "
    refused = form.submit(expect_errors=True)
    assert refused.status_int == 422 and "Give a reason." in refused.text
    assert latest().status == "pending"
    form = refused.forms["kyc-reject-form"]
    form["reason"] = "The photo of your ID is too blurred to read."
    assert form.submit().status_int == 303
    assert latest().status == "rejected" and tier_of(ada) == 1
    note = db.session.scalars(select(Notification).order_by(Notification.id.desc())).first()
    assert note.body == "The photo of your ID is too blurred to read."
    page = ada.get("/kyc")
    assert "too blurred to read" in page.text and "kyc-identity-form" in page.text
    # A decision is final: approving the rejected submission changes nothing.
    decided = tola.get(f"/admin/kyc/{submission.id}")
    assert "kyc-approve-form" not in decided.text
    token = decided.html.find("input", attrs={"name": "csrf_token"})["value"]
    late = tola.browser.post(f"/admin/kyc/{submission.id}/approve", {"csrf_token": token})
    assert late.status_int == 303 and "already rejected" in late.follow().text
    assert tier_of(ada) == 1 and latest().status == "rejected"
    assert send_identity(ada, PNG, "id.png", "image/png", id_type="nin").status_int == 303
    assert latest().status == "pending" and latest().document_type == "image/png"


@pytest.mark.parametrize(
    ("filename", "content_type", "content"),
    [
        ("notes.txt", "text/plain", b"just some text, not a document"),
        ("evil.pdf", "application/pdf", HTML),  # an HTML page named and labelled as a PDF
        ("selfie.jpg", "image/jpeg", b"GIF89a" + bytes(64)),  # a GIF: not accepted
        ("late.pdf", "application/pdf", b"\n\n" + PDF),  # the header must come first
    ],
)
def test_a_file_that_is_not_a_jpeg_png_or_pdf_is_refused(
    app, register, ctx, filename, content_type, content
):
    ada = register("Ada Obi")
    files = stored_files(app)
    response = send_identity(ada, content, filename, content_type)
    assert response.status_int == 422
    assert "Upload a JPEG or PNG photo or a PDF" in response.text
    assert submissions() == 0 and stored_files(app) == files


@pytest.mark.parametrize(
    ("filename", "content_type", "content", "sniffed"),
    [
        ("photo.png", "image/png", PDF, "application/pdf"),
        ("scan.pdf", "application/pdf", JPEG, "image/jpeg"),
        ("document", "application/octet-stream", PNG, "image/png"),
    ],
)
def test_the_type_is_told_by_content_not_by_name(
    register, admin, filename, content_type, content, sniffed
):
    ada = register("Ada Obi")
    assert send_identity(ada, content, filename, content_type).status_int == 303
    submission = latest()
    assert submission.document_type == sniffed
    served = admin().get(f"/admin/kyc/{submission.id}/document")
    assert served.headers["Content-Type"] == sniffed and served.body == content


def test_a_file_over_the_size_limit_is_refused(app, register, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "KYC_UPLOAD_MAX_BYTES", 2_000)
    ada = register("Ada Obi")
    files = stored_files(app)
    big = JPEG[:3] + bytes(2_000 - 3 + 1)
    response = send_identity(ada, big)
    assert response.status_int == 422 and "That file is too large: the limit is 0.002 MB." in (
        response.text
    )
    assert submissions() == 0 and stored_files(app) == files
    # Far past the limit, the request itself is refused before anything is read.
    huge = send_identity(ada, JPEG[:3] + bytes(200_000))
    assert huge.status_int == 413
    assert submissions() == 0 and stored_files(app) == files
    assert send_identity(ada, big[:2_000]).status_int == 303
    assert latest().document_size == 2_000


@pytest.mark.parametrize("number", ["2221234568", "222123456890", "2221234568x", ""])
def test_a_bvn_that_is_not_11_digits_is_refused(app, register, ctx, number):
    ada = register("Ada Obi")
    files = stored_files(app)
    response = send_identity(ada, JPEG, number=number)
    assert response.status_int == 422
    assert re.search(r"Your BVN is 11 digits\.|Enter the number\.", response.text)
    assert submissions() == 0 and stored_files(app) == files


def test_one_submission_waits_at_a_time(app, register, ctx):
    ada = register("Ada Obi")
    page = ada.get("/kyc")
    assert send_identity(ada, JPEG).status_int == 303
    form = page.forms["kyc-identity-form"]  # the form from before, sent again
    form["id_number"] = BVN
    form["document"] = Upload("again.jpg", JPEG, "image/jpeg")
    files = stored_files(app)
    again = form.submit(expect_errors=True)
    assert again.status_int == 422 and "already waiting for review" in again.text
    assert submissions() == 1 and stored_files(app) == files


def test_proof_of_address_moves_tier_two_to_tier_three(register, admin):
    ada = register("Ada Obi")
    set_tier(ada.email, 2)
    page = ada.get("/kyc")
    assert "kyc-identity-form" not in page.text and "kyc-address-form" in page.text
    assert send_address(ada, PDF).status_int == 303
    submission = latest()
    assert (submission.kind, submission.target_tier, submission.id_type) == ("address", 3, None)
    tola = admin()
    tola.get(f"/admin/kyc/{submission.id}").forms["kyc-approve-form"].submit()
    assert tier_of(ada) == 3


def test_documents_are_for_admins_only(app, register, admin):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    assert send_identity(ada, JPEG).status_int == 303
    submission = latest()
    path = f"/admin/kyc/{submission.id}/document"
    for customer in (ada, bayo):
        assert customer.get(path, expect_errors=True).status_int == 404
    from tests.conftest import Browser

    anonymous = Browser(app)
    response = anonymous.get(path, expect_errors=True)
    assert response.status_int in (302, 303) and "/auth/login" in response.headers["Location"]
    assert JPEG not in response.body
    assert admin().get("/admin/kyc/999999/document", expect_errors=True).status_int == 404
