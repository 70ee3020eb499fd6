"""KYC use cases: what a customer's tier allows, sending documents, and an admin's review."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from lumipay import settings
from lumipay.audit import service as audit
from lumipay.audit.service import Origin
from lumipay.auth.models import User
from lumipay.database import locked, locked_one, run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.kyc import documents
from lumipay.kyc.limits import NEXT_TIER_NEEDS, TOP_TIER, TierLimits, tier_limits
from lumipay.kyc.models import (
    ADDRESS,
    APPROVED,
    IDENTITY,
    PENDING,
    REJECTED,
    KycSubmission,
)
from lumipay.kyc.storage import storage
from lumipay.notifications.service import notify
from lumipay.refusals import Refused

ID_TYPES = {"bvn": "BVN", "nin": "NIN"}
KIND_FOR_TIER = {1: IDENTITY, 2: ADDRESS}  # what a customer on the tier sends to move up
REASON_MAX = 300


class KycError(Refused):
    """A submission or review was refused; `field` names the form field it belongs to."""


@dataclass(frozen=True)
class KycStatus:
    tier: int
    limits: TierLimits
    next_limits: TierLimits | None
    next_needs: str
    pending: KycSubmission | None
    last_rejected: KycSubmission | None


def status_for(user_id: int) -> KycStatus:
    """The customer's tier, its limits, the next tier's, and their latest submission."""
    user = db.session.get_one(User, user_id)
    tier = user.kyc_tier
    latest = db.session.scalar(
        select(KycSubmission)
        .where(KycSubmission.user_id == user_id)
        .order_by(KycSubmission.id.desc())
        .limit(1)
    )
    return KycStatus(
        tier,
        tier_limits(tier),
        tier_limits(tier + 1) if tier < TOP_TIER else None,
        NEXT_TIER_NEEDS[tier],
        latest if latest is not None and latest.status == PENDING else None,
        latest if latest is not None and latest.status == REJECTED else None,
    )


def mask_id_number(number: str) -> str:
    return f"{number[:3]}******{number[-2:]}"


def hash_id_number(id_type: str, number: str) -> str:
    """A keyed hash: spots one number behind two customers without keeping the number.

    Keyed with SECRET_KEY because 11 digits are few enough to hash them all; without the key
    a leaked table gives nothing away.
    """
    key = settings.core().secret_key.encode()
    return hmac.new(key, f"kyc:{id_type}:{number}".encode(), hashlib.sha256).hexdigest()


def _checked_document(data: bytes) -> str:
    """The sniffed media type of an acceptable document; KycError otherwise."""
    limit = settings.kyc().upload_max_bytes
    if not data:
        raise KycError("document", "Choose a file to upload.")
    if len(data) > limit:
        raise KycError(
            "document", f"That file is too large: the limit is {limit / 1_000_000:g} MB."
        )
    media_type = documents.sniff(data)
    if media_type is None:
        raise KycError(
            "document", "Upload a JPEG or PNG photo or a PDF; that file is none of these."
        )
    return media_type


def submit_identity(
    user_id: int, id_type: str, id_number: str, data: bytes, *, origin: Origin
) -> KycSubmission:
    """A BVN or NIN and an ID document, to move from Tier 1 to Tier 2."""
    if id_type not in ID_TYPES:
        raise KycError("id_type", "Choose BVN or NIN.")
    number = re.sub(r"[\s-]", "", id_number or "")
    if not re.fullmatch(r"\d{11}", number):
        raise KycError("id_number", f"Your {ID_TYPES[id_type]} is 11 digits.")
    return _submit(
        user_id,
        IDENTITY,
        data,
        origin,
        id_type=id_type,
        id_number_masked=mask_id_number(number),
        id_number_hash=hash_id_number(id_type, number),
    )


def submit_address(user_id: int, data: bytes, *, origin: Origin) -> KycSubmission:
    """A proof of address (a utility bill, a bank statement), to move from Tier 2 to Tier 3."""
    return _submit(user_id, ADDRESS, data, origin)


def _submit(user_id: int, kind: str, data: bytes, origin: Origin, **identity: str) -> KycSubmission:
    media_type = _checked_document(data)
    key = storage().save(data)

    def work() -> KycSubmission:
        user = db.session.scalars(
            select(User).where(User.id == user_id).with_for_update(key_share=True)
        ).one()
        if KIND_FOR_TIER.get(user.kyc_tier) != kind:
            raise KycError(None, f"You are on Tier {user.kyc_tier}: this isn't what it needs.")
        waiting = db.session.scalar(
            select(KycSubmission.id).where(
                KycSubmission.user_id == user_id, KycSubmission.status == PENDING
            )
        )
        if waiting is not None:
            raise KycError(None, "Your documents are already waiting for review.")
        submission = KycSubmission(
            user_id=user_id,
            kind=kind,
            target_tier=user.kyc_tier + 1,
            document_key=key,
            document_type=media_type,
            document_size=len(data),
            status=PENDING,
            created_at=utcnow(),
            **identity,
        )
        db.session.add(submission)
        db.session.flush()
        _audit("kyc.submit", submission, user_id, origin, kind=kind, document_type=media_type)
        return submission

    try:
        return run_in_transaction(work)
    except BaseException:
        storage().delete(key)
        raise


def pending_queue() -> list[tuple[KycSubmission, User]]:
    """Submissions waiting for review, oldest first, with their customers."""
    rows = db.session.execute(
        select(KycSubmission, User)
        .join(User, User.id == KycSubmission.user_id)
        .where(KycSubmission.status == PENDING)
        .order_by(KycSubmission.id)
    )
    return [(submission, user) for submission, user in rows]


def submission_with_customer(submission_id: int) -> tuple[KycSubmission, User] | None:
    row = db.session.execute(
        select(KycSubmission, User)
        .join(User, User.id == KycSubmission.user_id)
        .where(KycSubmission.id == submission_id)
    ).first()
    return None if row is None else (row[0], row[1])


def document(submission: KycSubmission) -> bytes:
    return storage().read(submission.document_key)


def _locked_pending(submission_id: int) -> KycSubmission:
    submission = locked(KycSubmission, KycSubmission.id == submission_id)
    if submission is None:
        raise KycError(None, "No such submission.")
    if submission.status != PENDING:
        raise KycError(None, f"This submission was already {submission.status}.")
    return submission


def _audit(
    action: str, submission: KycSubmission, actor_id: int, origin: Origin, **details: Any
) -> None:
    """A submission's audit row: its subject is the submission's id, whoever acts on it."""
    audit.record(action, origin, actor_id=actor_id, subject=str(submission.id), **details)


def _decide(submission: KycSubmission, status: str, admin_id: int) -> None:
    submission.move_to(status)
    submission.reviewer_id = admin_id
    submission.reviewed_at = utcnow()


def approve(submission_id: int, admin_id: int, *, origin: Origin) -> KycSubmission:
    """Approve: the customer moves up to the submission's tier and is told so."""

    def work() -> KycSubmission:
        submission = _locked_pending(submission_id)
        user = locked_one(User, User.id == submission.user_id, key_share=True)
        user.kyc_tier = max(user.kyc_tier, submission.target_tier)
        _decide(submission, APPROVED, admin_id)
        notify(
            user.id,
            f"You're now on Tier {user.kyc_tier}",
            "Your documents were approved and your limits are higher.",
            link="/kyc",
        )
        _audit(
            "kyc.approve",
            submission,
            admin_id,
            origin,
            customer=user.account_number,
            tier=user.kyc_tier,
        )
        db.session.flush()
        return submission

    return run_in_transaction(work)


def reject(submission_id: int, admin_id: int, reason: str, *, origin: Origin) -> KycSubmission:
    """Reject with a reason the customer reads; their tier stays as it was."""
    clean = re.sub(r"\s+", " ", reason or "").strip()
    if len(clean) < 3:
        raise KycError("reason", "Tell the customer why, so they can put it right.")
    if len(clean) > REASON_MAX:
        raise KycError("reason", f"Keep the reason to {REASON_MAX} characters.")

    def work() -> KycSubmission:
        submission = _locked_pending(submission_id)
        _decide(submission, REJECTED, admin_id)
        submission.reason = clean
        notify(submission.user_id, "Your documents were not approved", clean, link="/kyc")
        _audit("kyc.reject", submission, admin_id, origin, reason=clean)
        db.session.flush()
        return submission

    return run_in_transaction(work)
