"""Use cases for customers: register, authenticate."""

from __future__ import annotations

import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from lumipay.audit import service as audit
from lumipay.audit.service import Origin
from lumipay.auth.models import User
from lumipay.auth.nuban import make_account_number, random_serial
from lumipay.auth.passwords import hash_password, password_problem, verify_password
from lumipay.auth.phone import InvalidPhone, normalise_phone
from lumipay.database import run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.ledger import service as ledger
from lumipay.ledger.models import WALLET, Account


class RegistrationError(Exception):
    """A registration was refused; `field` names the form field to show it on."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Registration:
    full_name: str
    email: str
    phone: str
    password: str


def clean_registration(full_name: str, email: str, phone: str, password: str) -> Registration:
    """Normalise and check what a person typed; raise RegistrationError on the first problem."""
    name = re.sub(r"\s+", " ", full_name or "").strip()
    if len(name) < 2 or len(name) > 120 or not re.search(r"[^\W\d_]", name):
        raise RegistrationError("full_name", "Enter your full name (2 to 120 characters).")
    try:
        email_clean = validate_email(
            (email or "").strip(), check_deliverability=False
        ).normalized.lower()
    except EmailNotValidError:
        raise RegistrationError("email", "Enter a valid email address.") from None
    try:
        phone_clean = normalise_phone(phone or "")
    except InvalidPhone as exc:
        raise RegistrationError("phone", str(exc)) from None
    problem = password_problem(
        password or "",
        min_length=current_app.config["PASSWORD_MIN_LENGTH"],
        personal=(*name.split(), email_clean.split("@")[0], phone_clean[-10:]),
    )
    if problem:
        raise RegistrationError("password", problem)
    return Registration(name, email_clean, phone_clean, password)


def _new_account_number() -> str:
    bank_code = current_app.config["NUBAN_BANK_CODE"]
    for _ in range(20):
        number = make_account_number(bank_code, random_serial())
        taken = db.session.scalar(select(User.id).where(User.account_number == number))
        if taken is None:
            return number
    raise RuntimeError("Could not find a free account number.")


def _refuse_duplicates(reg: Registration) -> None:
    clash = db.session.execute(
        select(User.email, User.phone).where(or_(User.email == reg.email, User.phone == reg.phone))
    ).first()
    if clash is None:
        return
    if clash.email == reg.email:
        raise RegistrationError("email", "An account with this email already exists.")
    raise RegistrationError("phone", "An account with this phone number already exists.")


def register_customer(
    full_name: str, email: str, phone: str, password: str, *, origin: Origin
) -> User:
    """Open a customer: user, account number, NGN wallet and welcome bonus in one transaction."""
    reg = clean_registration(full_name, email, phone, password)
    password_hash = hash_password(reg.password)
    bonus = int(current_app.config["INITIAL_BONUS"])

    def work() -> User:
        _refuse_duplicates(reg)
        user = User(
            full_name=reg.full_name,
            email=reg.email,
            phone=reg.phone,
            password_hash=password_hash,
            role="customer",
            account_number=_new_account_number(),
        )
        db.session.add(user)
        db.session.flush()
        wallet = Account(
            kind=WALLET, user_id=user.id, currency="NGN", name="NGN wallet", balance=0, held=0
        )
        db.session.add(wallet)
        db.session.flush()
        if bonus > 0:
            funding = ledger.system_account(ledger.BONUS_FUNDING, "NGN")
            ledger.transfer(
                "welcome_bonus", funding.id, wallet.id, bonus, narration="Welcome bonus"
            )
        audit.record(
            "register", origin, actor_id=user.id, subject=user.account_number, email=reg.email
        )
        return user

    try:
        return run_in_transaction(work)
    except IntegrityError:
        # A twin registration with the same email or phone committed between check and insert.
        _refuse_duplicates(reg)
        raise


def create_admin(full_name: str, email: str, phone: str, password: str) -> User:
    """An admin signs in like a customer but holds no wallet or account number."""
    reg = clean_registration(full_name, email, phone, password)

    def work() -> User:
        _refuse_duplicates(reg)
        user = User(
            full_name=reg.full_name,
            email=reg.email,
            phone=reg.phone,
            password_hash=hash_password(reg.password),
            role="admin",
        )
        db.session.add(user)
        audit.record("admin_created", audit.SYSTEM, subject=reg.email)
        return user

    return run_in_transaction(work)


def _find_by_login(login: str) -> User | None:
    text = (login or "").strip()
    if "@" in text:
        return db.session.scalar(select(User).where(User.email == text.lower()))
    try:
        phone = normalise_phone(text)
    except InvalidPhone:
        return None
    return db.session.scalar(select(User).where(User.phone == phone))


def authenticate(login: str, password: str, *, origin: Origin) -> User | None:
    """The user whose email or phone and password match, else None. Both outcomes are audited."""
    user = _find_by_login(login)
    ok = verify_password(user.password_hash if user else None, password or "")

    def work() -> User | None:
        if user is not None and ok:
            user.last_login_at = utcnow()
            audit.record("login", origin, actor_id=user.id, subject=user.email)
            return user
        audit.record(
            "login_failed",
            origin,
            actor_id=user.id if user else None,
            subject=(login or "")[:120],
        )
        return None

    return run_in_transaction(work)


def record_logout(user_id: int, *, origin: Origin) -> None:
    run_in_transaction(lambda: audit.record("logout", origin, actor_id=user_id))
