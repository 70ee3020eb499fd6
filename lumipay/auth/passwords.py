"""Password rules and hashing (scrypt through Werkzeug: slow on purpose)."""

from __future__ import annotations

from flask import current_app, has_app_context
from werkzeug.security import check_password_hash, generate_password_hash

DEFAULT_HASH_METHOD = "scrypt"

# The commonest passwords of public breach lists that also pass the length rule.
COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "0123456789",
        "1q2w3e4r5t",
        "qwertyuiop",
        "password12",
        "password123",
        "password1234",
        "iloveyou123",
        "abcdefghij",
        "1111111111",
        "0000000000",
        "qwerty1234",
        "qwerty12345",
        "123456789a",
        "a123456789",
        "passw0rd123",
        "football123",
        "welcome123",
        "admin12345",
        "lumipay123",
        "lumipay2026",
        "nigeria123",
        "naija12345",
    }
)

# Checked against when no user matches, so a wrong email costs as much time as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password-but-a-timing-shield")


def password_problem(
    password: str, *, min_length: int, personal: tuple[str, ...] = ()
) -> str | None:
    """Why `password` is too weak, or None when it is acceptable."""
    if len(password) < min_length:
        return f"Use at least {min_length} characters."
    if len(password) > 128:
        return "Use at most 128 characters."
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(lowered)) < 4:
        return "That password is too easy to guess. Choose another."
    if any(part and len(part) >= 4 and part.lower() in lowered for part in personal):
        return "Don't use your name, email or phone number in your password."
    return None


def hash_password(password: str) -> str:
    """Hash with Werkzeug's scrypt; the test suite sets `PASSWORD_HASH_METHOD` to a cheaper
    scrypt cost (production refuses to start with anything but the default)."""
    method = DEFAULT_HASH_METHOD
    if has_app_context():
        method = current_app.config.get("PASSWORD_HASH_METHOD", DEFAULT_HASH_METHOD)
    return generate_password_hash(password, method=method)


def verify_password(password_hash: str | None, password: str) -> bool:
    if password_hash is None:
        check_password_hash(_DUMMY_HASH, password)
        return False
    return check_password_hash(password_hash, password)
