"""Settings read from the environment. `.env.example` documents every key."""

from __future__ import annotations

import os
from typing import Any

DEFAULT_SECRET_KEY = "dev-only-change-me"  # noqa: S105 - refused in production


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be a whole number, got {raw!r}") from exc


def normalise_database_url(url: str) -> str:
    """Point PostgreSQL URLs at psycopg2, the driver we ship.

    Heroku hands out `postgres://`, and SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def _database_url(instance_path: str) -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return "sqlite:///" + os.path.join(instance_path, "lumipay.sqlite3")
    return normalise_database_url(url)


def from_environment(instance_path: str) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables."""
    env = os.environ.get("LUMIPAY_ENV", "development").strip().lower()
    production = env == "production"
    return {
        "LUMIPAY_ENV": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        "REDIS_URL": os.environ.get("REDIS_URL", "").strip() or None,
        "INITIAL_BONUS": _int("INITIAL_BONUS", 10_000_000),
        "NUBAN_BANK_CODE": os.environ.get("NUBAN_BANK_CODE", "090").strip(),
        "PASSWORD_MIN_LENGTH": _int("PASSWORD_MIN_LENGTH", 10),
        "HISTORY_PAGE_SIZE": _int("HISTORY_PAGE_SIZE", 20),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 1_000_000),
        "WTF_CSRF_TIME_LIMIT": None,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    }


def check_production(config: dict[str, Any]) -> None:
    """Refuse to start a production app with a default or short secret."""
    if config.get("LUMIPAY_ENV") != "production":
        return
    secret = config.get("SECRET_KEY") or ""
    if secret == DEFAULT_SECRET_KEY or len(secret) < 32:
        raise RuntimeError("Refusing to start: set SECRET_KEY to a random value of 32+ characters.")
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        raise RuntimeError("Refusing to start: production needs DATABASE_URL (PostgreSQL).")
