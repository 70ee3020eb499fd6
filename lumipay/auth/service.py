"""Use cases for customers: register, authenticate."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from lumipay import clock, settings
from lumipay.audit import service as audit
from lumipay.audit.service import Origin
from lumipay.auth.models import User
from lumipay.auth.nuban import make_account_number, random_serial
from lumipay.auth.passwords import hash_password, password_problem, verify_password
from lumipay.auth.phone import InvalidPhone, normalise_phone
from lumipay.database import as_utc, run_in_transaction
from lumipay.extensions import db
from lumipay.ledger import service as ledger
from lumipay.ledger.models import WALLET, Account
from lumipay.notifications import service as notifications
from lumipay.notifications.email import send_email
from lumipay.refusals import Refused


def email_of(user_id: int) -> str:
    """The customer's email address, for the notifications layer below (registered next)."""
    return db.session.get_one(User, user_id).email


notifications.use_email_addresses(email_of)


class RegistrationError(Refused):
    """A registration was refused; `field` names the form field to show it on."""

    field: str

    def __init__(self, field: str, message: str, *, code: str | None = None) -> None:
        super().__init__(field, message, code=code)


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
        min_length=settings.auth().password_min_length,
        personal=(*name.split(), email_clean.split("@")[0], phone_clean[-10:]),
    )
    if problem:
        raise RegistrationError("password", problem)
    return Registration(name, email_clean, phone_clean, password)


def _new_account_number() -> str:
    bank_code = settings.core().nuban_bank_code
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


def _user(
    reg: Registration, password_hash: str, role: str, account_number: str | None = None
) -> User:
    """The user row for a clean registration (an admin holds no account number)."""
    return User(
        full_name=reg.full_name,
        email=reg.email,
        phone=reg.phone,
        password_hash=password_hash,
        role=role,
        account_number=account_number,
    )


def register_customer(
    full_name: str, email: str, phone: str, password: str, *, origin: Origin
) -> User:
    """Open a customer: user, account number, NGN wallet and welcome bonus in one transaction."""
    reg = clean_registration(full_name, email, phone, password)
    password_hash = hash_password(reg.password)
    bonus = int(settings.auth().initial_bonus)

    def work() -> User:
        _refuse_duplicates(reg)
        user = _user(reg, password_hash, "customer", account_number=_new_account_number())
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
    except RegistrationError as exc:
        _tell_owner_someone_tried(reg, exc.field, origin)
        raise
    except IntegrityError:
        # A twin registration with the same email or phone committed between check and insert.
        _refuse_duplicates(reg)
        raise


def _tell_owner_someone_tried(reg: Registration, field: str, origin: Origin) -> None:
    """The README's flow says a taken email or phone out loud, so its owner hears of it too."""
    column = User.email if field == "email" else User.phone
    owner = db.session.scalar(
        select(User).where(column == (reg.email if field == "email" else reg.phone))
    )
    if owner is None:
        return
    what = "email address" if field == "email" else "phone number"
    send_email(
        owner.email,
        "Someone tried to open a Lumipay account with your details",
        f"Hello {owner.first_name},\n\nSomeone tried to open a new Lumipay account with your "
        f"{what} at {clock.lagos_label(clock.now())} from "
        f"{origin.ip or 'an unknown address'}. We refused: it is already yours.\n\n"
        "If it was you, sign in instead (or reset your password). If not, nothing changed; "
        "you may want to turn on two-step verification.\n",
    )


def create_admin(full_name: str, email: str, phone: str, password: str) -> User:
    """An admin signs in like a customer but holds no wallet or account number."""
    reg = clean_registration(full_name, email, phone, password)

    def work() -> User:
        _refuse_duplicates(reg)
        user = _user(reg, hash_password(reg.password), "admin")
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


FAILED_LOGIN_MESSAGE = (
    "That email or phone number and password don't match. After several failed attempts, "
    "signing in is paused for a while and the account holder is told by email."
)


def authenticate(login: str, password: str, *, origin: Origin) -> User | None:
    """The user whose email or phone and password match, else None. Both outcomes are audited.

    A locked account answers exactly like a wrong password, and a wrong email costs the same
    password check, so the answer never tells whether an account exists.
    """
    user = _find_by_login(login)
    ok = verify_password(user.password_hash if user else None, password or "")

    def work() -> tuple[User | None, bool]:
        if user is not None and ok and not is_locked(user):
            if not user.has_totp:
                # With a second factor the count runs on until the code is right too, so the
                # password can't be used to wipe out failed code guesses.
                user.failed_logins = 0
            user.locked_until = None
            audit.record("login_password_ok", origin, actor_id=user.id, subject=user.email)
            return user, False
        just_locked = user is not None and _count_failure(user, origin)
        audit.record(
            "login_failed",
            origin,
            actor_id=user.id if user else None,
            subject=(login or "")[:120],
            locked=bool(user is not None and is_locked(user)),
        )
        return None, just_locked

    found, just_locked = run_in_transaction(work)
    if just_locked and user is not None:
        _send_lock_notice(user, origin)
    return found


def is_locked(user: User) -> bool:
    return user.locked_until is not None and as_utc(user.locked_until) > clock.now()


def _count_failure(user: User, origin: Origin) -> bool:
    """Count one failed sign-in step; lock at the threshold. True when this failure locked it."""
    if is_locked(user):
        return False
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins < settings.auth().login_lock_threshold:
        return False
    user.failed_logins = 0
    user.locked_until = clock.now() + timedelta(seconds=settings.auth().login_lock_seconds)
    audit.record("account_locked", origin, actor_id=user.id, subject=user.email)
    return True


def record_failed_second_factor(user_id: int, *, origin: Origin) -> None:
    """A wrong TOTP or recovery code counts towards the same lock as a wrong password."""
    _record_failure(user_id, "second_factor_failed", origin)


def record_failed_password(user_id: int, *, origin: Origin) -> None:
    """A wrong password typed while signed in (changing it, revealing a card) counts too."""
    _record_failure(user_id, "password_check_failed", origin)


def _record_failure(user_id: int, action: str, origin: Origin) -> None:
    def work() -> bool:
        user = db.session.get(User, user_id, with_for_update=True, populate_existing=True)
        if user is None:
            return False
        audit.record(action, origin, actor_id=user.id)
        return _count_failure(user, origin)

    if run_in_transaction(work):
        user = db.session.get(User, user_id)
        if user is not None:
            _send_lock_notice(user, origin)


def _send_lock_notice(user: User, origin: Origin) -> None:
    minutes = settings.auth().login_lock_seconds // 60
    send_email(
        user.email,
        "Signing in to your Lumipay account is paused",
        f"Hello {user.first_name},\n\n"
        f"We paused signing in to your account for {minutes} minutes after several failed "
        "attempts.\n"
        f"The last attempt came from {origin.ip or 'an unknown address'} "
        f"({origin.user_agent or 'unknown browser'}).\n\n"
        "If this was you, wait and try again, or reset your password. If it wasn't, reset your "
        "password as soon as the pause ends: someone may know your email.\n",
    )


def complete_login(user_id: int, *, origin: Origin) -> None:
    """Every sign-in step passed: record it and tell the customer (new sign-in notice)."""

    def work() -> User:
        user = db.session.get(User, user_id)
        assert user is not None
        user.last_login_at = clock.now()
        user.failed_logins = 0
        audit.record("login", origin, actor_id=user.id, subject=user.email)
        return user

    user = run_in_transaction(work)
    send_email(
        user.email,
        "New sign-in to your Lumipay account",
        f"Hello {user.first_name},\n\n"
        f"Someone signed in to your account at {clock.lagos_label(clock.now())}\n"
        f"from {origin.ip or 'an unknown address'} using "
        f"{origin.user_agent or 'an unknown browser'}.\n\n"
        "If this wasn't you, change your password now and sign out everywhere from the "
        "Security page.\n",
    )


class PasswordChangeError(Refused):
    """A password change was refused; `field` names the form field to show it on."""

    field: str

    def __init__(self, field: str, message: str, *, code: str | None = None) -> None:
        super().__init__(field, message, code=code)


def check_new_password(user: User, new_password: str) -> None:
    """Raise PasswordChangeError when `new_password` breaks the password rules."""
    problem = password_problem(
        new_password or "",
        min_length=settings.auth().password_min_length,
        personal=(*user.full_name.split(), user.email.split("@")[0], user.phone[-10:]),
    )
    if problem:
        raise PasswordChangeError("new_password", problem)


def change_password(
    user_id: int, current_password: str, new_password: str, *, origin: Origin
) -> None:
    """Set a new password after checking the current one; ends every other session.

    A wrong current password counts towards the same lock as a wrong sign-in (a hijacked
    session must not be an unthrottled password oracle), and a locked account can't change it.
    """
    user = db.session.get(User, user_id)
    if user is None:
        raise PasswordChangeError("current_password", "That is not your current password.")
    if is_locked(user):
        raise PasswordChangeError("current_password", FAILED_LOGIN_MESSAGE)
    if not verify_password(user.password_hash, current_password or ""):
        record_failed_password(user_id, origin=origin)
        raise PasswordChangeError("current_password", "That is not your current password.")
    check_new_password(user, new_password)
    if verify_password(user.password_hash, new_password):
        raise PasswordChangeError("new_password", "Choose a password you are not using now.")
    new_hash = hash_password(new_password)

    def work() -> User:
        fresh = db.session.get(User, user_id)
        assert fresh is not None
        fresh.password_hash = new_hash
        fresh.password_changed_at = clock.now()
        audit.record("password_changed", origin, actor_id=user_id)
        return fresh

    changed = run_in_transaction(work)
    send_email(
        changed.email,
        "Your Lumipay password was changed",
        f"Hello {changed.first_name},\n\nYour password was changed at "
        f"{clock.lagos_label(clock.now())} from {origin.ip or 'an unknown address'}. "
        "Other browsers were signed out.\n\nIf this wasn't you, reset your password now.\n",
    )


def record_session_ended(user_id: int, session_id: int, *, origin: Origin) -> None:
    run_in_transaction(
        lambda: audit.record(
            "session_ended", origin, actor_id=user_id, subject=f"session:{session_id}"
        )
    )


def record_logout(user_id: int, *, origin: Origin, everywhere: bool = False) -> None:
    action = "logout_everywhere" if everywhere else "logout"
    run_in_transaction(lambda: audit.record(action, origin, actor_id=user_id))
