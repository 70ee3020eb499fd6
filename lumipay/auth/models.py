from __future__ import annotations

import uuid
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lumipay.database import BigIntPK, UTCDateTime, public_id_column, utcnow
from lumipay.extensions import Model

ROLES = ("customer", "admin")


class User(UserMixin, Model):
    """A person who signs in: a customer (with an account number) or an admin."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('customer', 'admin')", name="role_known"),
        CheckConstraint("kyc_tier BETWEEN 1 AND 3", name="kyc_tier_known"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    public_id: Mapped[uuid.UUID] = public_id_column()
    full_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str] = mapped_column(String(16), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="customer")
    account_number: Mapped[str | None] = mapped_column(String(10), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Consecutive failed sign-ins (password or second factor); the account locks at a threshold.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The TOTP secret, encrypted (lumipay.auth.twofactor); set once confirmed with a first code.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last accepted TOTP time step: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # CBN KYC tier (1-3): sets the customer's transaction and balance limits (lumipay.kyc).
    kyc_tier: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Set by an admin: the customer can still sign in and look, but no money leaves.
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The transaction PIN: HMAC-SHA256 under PIN_HMAC_KEY (lumipay.auth.pin), its own lockout.
    pin_hash: Mapped[str | None] = mapped_column(String(64))
    pin_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pin_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pin_locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # One emailed code in flight at a time: a PIN reset link or a step-up code (SHA-256 only).
    email_code_hash: Mapped[str | None] = mapped_column(String(64))
    email_code_purpose: Mapped[str | None] = mapped_column(String(64))
    email_code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def has_pin(self) -> bool:
        return self.pin_hash is not None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def has_totp(self) -> bool:
        return self.totp_secret is not None and self.totp_enabled_at is not None

    @property
    def first_name(self) -> str:
        return self.full_name.split()[0] if self.full_name.split() else self.full_name


class UserSession(Model):
    """One sign-in: a browser (`kind` web) or a JSON API client (`kind` api).

    A browser's cookie holds a random id; only its SHA-256 is stored. An API sign-in is its
    refresh-token family (`family_id`, carried by every access token). Server-side rows make
    sign-out real (a copied cookie or token stops working), let a customer sign out everywhere,
    and carry the idle and absolute timeouts of both kinds.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8), default="web", server_default="web")
    family_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(32))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))


class RecoveryCode(Model):
    """A single-use second-factor code, shown once at enrolment; only its SHA-256 is stored.

    The codes carry 80 random bits, so a fast hash is enough: nobody can search that space.
    """

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasswordResetToken(Model):
    """An emailed password-reset link: single use, expiring; only the token's SHA-256 is stored."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
