"""Settings read from the environment. `.env.example` documents every key."""

from __future__ import annotations

import os
from typing import Any, NoReturn

from lumipay.embedded import database_url as embedded_database_url

DEFAULT_SECRET_KEY = "dev-only-change-me"  # noqa: S105 - refused in production
# Lets the sandbox sign its webhooks in `make dev`; production must set its own secrets.
DEV_WEBHOOK_SECRET = "dev-only-bills-webhook-secret"  # noqa: S105
DEV_CARDS_WEBHOOK_SECRET = "dev-only-cards-webhook-secret"  # noqa: S105
# Keys of the transaction PIN's HMAC and of the TOTP secrets' encryption, for `make dev` only.
DEV_PIN_KEY = "dev-only-transaction-pin-hmac-key"
DEV_TOTP_KEY = "dev-only-totp-secret-encryption-key"
# Values that are public (ours, the examples in `.env.example`, the usual placeholders): a secret
# equal to one of them, or containing one of the markers, is no secret.
KNOWN_WEAK_SECRETS = frozenset(
    {
        DEFAULT_SECRET_KEY,
        DEV_WEBHOOK_SECRET,
        DEV_CARDS_WEBHOOK_SECRET,
        DEV_PIN_KEY,
        DEV_TOTP_KEY,
        "change-me-to-a-long-random-value",
        "changeme",
        "secret",
        "password",
        "test",
        "development",
        "0123456789abcdef0123456789abcdef",
        "abcdefghijklmnopqrstuvwxyz012345",
    }
)
WEAK_MARKERS = ("change-me", "changeme", "dev-only", "example", "placeholder", "your-secret")
SECRET_MIN_LENGTH = 32
BILL_CATEGORIES = ("airtime", "data", "electricity")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be a whole number, got {raw!r}") from exc


TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


def _bool(name: str, default: bool) -> bool:
    """The one reading of a yes/no setting: true/1/yes/on or false/0/no/off (any case); unset
    or empty is the default, anything else refuses to start."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise RuntimeError(f"{name} must be true or false, got {raw!r}")


def normalise_database_url(url: str) -> str:
    """Point PostgreSQL URLs at psycopg2, the driver we ship.

    Heroku hands out `postgres://`, and SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def _database_url(instance_path: str) -> str:
    """DATABASE_URL, or the embedded PostgreSQL of `make dev` under the instance folder."""
    # One engine everywhere, dev included: SQLite (once the dev default) has no row locks, no
    # triggers, no CHECK on an existing table and hands back naive times, and the money rules
    # are proven on PostgreSQL only.
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return embedded_database_url(instance_path)
    return normalise_database_url(url)


def from_environment(instance_path: str) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables."""
    env = os.environ.get("LUMIPAY_ENV", "development").strip().lower()
    production = env == "production"
    return {
        "LUMIPAY_ENV": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        # `make dev`'s cluster; production refuses to run on it.
        "EMBEDDED_DATABASE_URL": embedded_database_url(instance_path),
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
        "PUBLIC_URL": os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000").strip().rstrip("/"),
        **security_settings(),
        **observability_settings(env),
        "WTF_CSRF_TIME_LIMIT": None,
        # Compressed: our static files and the JSON API (bearer tokens, no cookies). Not HTML:
        # every page carries the session's CSRF token beside text the visitor can choose, so a
        # compressed page's size would leak the token to a watcher of its length (BREACH).
        "COMPRESS_MIMETYPES": [
            "text/css",
            "text/javascript",
            "application/javascript",
            "application/json",
            "image/svg+xml",
        ],
        # No pre-ping round trip per request: see lumipay.database (stale connections).
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": 300},
        **_bills_settings(production),
        **fx_settings(),
        **mail_settings(),
        **jobs_settings(),
        **kyc_settings(instance_path),
        **cards_settings(),
        **api_settings(),
        **bank_settings(production),
    }


def observability_settings(env: str) -> dict[str, Any]:
    """Sentry (off unless SENTRY_DSN is set) and the thresholds behind the alert gauges."""
    return {
        "SENTRY_DSN": os.environ.get("SENTRY_DSN", "").strip() or None,
        "SENTRY_ENVIRONMENT": os.environ.get("SENTRY_ENVIRONMENT", "").strip() or env,
        # Heroku sets SOURCE_VERSION at build and HEROKU_SLUG_COMMIT with dyno metadata on.
        "SENTRY_RELEASE": (
            os.environ.get("SENTRY_RELEASE")
            or os.environ.get("HEROKU_SLUG_COMMIT")
            or os.environ.get("SOURCE_VERSION")
            or ""
        ).strip()
        or None,
        "SENTRY_TRACES_SAMPLE_RATE": os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0").strip(),
        # A payout still with the provider after this many seconds counts as stuck.
        "PAYOUT_STUCK_AFTER": _int("PAYOUT_STUCK_AFTER", 3600),
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", "").strip() or None,
    }


def jobs_settings() -> dict[str, Any]:
    """RQ's retries and how long a provider call may be repeated (see `.env.example`)."""
    return {
        "JOB_RETRY_BACKOFF": _ints("JOB_RETRY_BACKOFF", [10, 30, 90, 270]),
        "PROVIDER_RETRY_WINDOW": _int("PROVIDER_RETRY_WINDOW", 300),
    }


def fx_settings() -> dict[str, Any]:
    """Quotes, spread and the rates provider (see `.env.example`)."""
    return {
        "FX_SPREAD_BP": _int("FX_SPREAD_BP", 100),
        "FX_QUOTE_SECONDS": _int("FX_QUOTE_SECONDS", 30),
        "FX_RATE_MAX_AGE": _int("FX_RATE_MAX_AGE", 900),
        "FX_SANDBOX_SEED": _int("FX_SANDBOX_SEED", 0),
        "FX_RATES_PROVIDER": os.environ.get("FX_RATES_PROVIDER", "sandbox").strip() or "sandbox",
        "FX_RATES_URL": os.environ.get("FX_RATES_URL", "https://openexchangerates.org").strip(),
        "FX_RATES_APP_ID": os.environ.get("FX_RATES_APP_ID", "").strip(),
        "FX_RATES_TIMEOUT": _int("FX_RATES_TIMEOUT", 10),
    }


def mail_settings() -> dict[str, Any]:
    """The one mailer's settings (lumipay.notifications.email); see `.env.example`."""
    return {
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Lumipay <no-reply@lumipay.example>").strip(),
        "SMTP_HOST": os.environ.get("SMTP_HOST", "").strip() or None,
        "SMTP_PORT": _int("SMTP_PORT", 587),
        "SMTP_USERNAME": os.environ.get("SMTP_USERNAME", "").strip() or None,
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", "") or None,
        "SMTP_STARTTLS": _bool("SMTP_STARTTLS", True),
        "MAIL_CAPTURE": False,
    }


def api_settings() -> dict[str, Any]:
    """The JSON API's tokens and idempotency windows (see `.env.example`)."""
    return {
        # Signs access tokens (HS256); empty means SECRET_KEY.
        "JWT_SECRET_KEY": os.environ.get("JWT_SECRET_KEY", "").strip() or None,
        "JWT_ACCESS_SECONDS": _int("JWT_ACCESS_SECONDS", 15 * 60),
        "JWT_REFRESH_SECONDS": _int("JWT_REFRESH_SECONDS", 30 * 24 * 3600),
        # An API sign-in ends this long after it began, however often it refreshes ...
        "API_SESSION_MAX_SECONDS": _int("API_SESSION_MAX_SECONDS", 30 * 24 * 3600),
        # ... or after this long without a request or a refresh.
        "API_SESSION_IDLE_SECONDS": _int("API_SESSION_IDLE_SECONDS", 7 * 24 * 3600),
        "IDEMPOTENCY_TTL_SECONDS": _int("IDEMPOTENCY_TTL_SECONDS", 24 * 3600),
        "IDEMPOTENCY_STALE_SECONDS": _int("IDEMPOTENCY_STALE_SECONDS", 300),
    }


# CBN circular BPS/DIR/GEN/CIR/04/007 (7 September 2017, restated by the 2021 Regulatory
# Framework for Mobile Money Services): per KYC tier, the daily cumulative transaction limit and
# the maximum cumulative balance, in kobo. It sets no separate per-transaction limit, so one
# transaction may use the whole daily limit. A maximum balance of 0 means unlimited.
KYC_TIER_DEFAULTS = {
    1: {"TRANSACTION_LIMIT": 5_000_000, "DAILY_LIMIT": 5_000_000, "MAX_BALANCE": 30_000_000},
    2: {"TRANSACTION_LIMIT": 20_000_000, "DAILY_LIMIT": 20_000_000, "MAX_BALANCE": 50_000_000},
    3: {"TRANSACTION_LIMIT": 500_000_000, "DAILY_LIMIT": 500_000_000, "MAX_BALANCE": 0},
}


def kyc_settings(instance_path: str) -> dict[str, Any]:
    """KYC tier limits and document uploads (see `.env.example` and README's KYC section)."""
    backend = os.environ.get("KYC_STORAGE", "local").strip() or "local"
    if backend not in ("local", "s3"):
        raise RuntimeError(f"KYC_STORAGE must be local or s3, got {backend!r}")
    if backend == "s3" and not os.environ.get("KYC_S3_BUCKET", "").strip():
        raise RuntimeError("KYC_STORAGE=s3 needs KYC_S3_BUCKET.")
    return {
        "KYC_LIMITS": {
            tier: {name: _int(f"KYC_TIER{tier}_{name}", value) for name, value in named.items()}
            for tier, named in KYC_TIER_DEFAULTS.items()
        },
        "KYC_UPLOAD_MAX_BYTES": _int("KYC_UPLOAD_MAX_BYTES", 5_000_000),
        "KYC_STORAGE_DIR": os.environ.get("KYC_STORAGE_DIR", "").strip()
        or os.path.join(instance_path, "kyc-documents"),
        "KYC_STORAGE": backend,
        "KYC_S3_BUCKET": os.environ.get("KYC_S3_BUCKET", "").strip(),
        "KYC_S3_PREFIX": os.environ.get("KYC_S3_PREFIX", "kyc/").strip(),
        "KYC_S3_ENDPOINT_URL": os.environ.get("KYC_S3_ENDPOINT_URL", "").strip() or None,
        "KYC_S3_REGION": os.environ.get("KYC_S3_REGION", "").strip() or None,
        "KYC_S3_ACCESS_KEY_ID": os.environ.get("KYC_S3_ACCESS_KEY_ID", "").strip() or None,
        "KYC_S3_SECRET_ACCESS_KEY": os.environ.get("KYC_S3_SECRET_ACCESS_KEY", "") or None,
    }


def _aliases(name: str, raw: str) -> dict[str, str]:
    """ "Alias=adapter,…" as {alias: adapter}."""
    found: dict[str, str] = {}
    for part in filter(None, (piece.strip() for piece in raw.split(","))):
        alias, sep, adapter = part.partition("=")
        if not sep or not alias.strip() or not adapter.strip():
            raise RuntimeError(f"{name} must be Alias=adapter pairs separated by commas")
        found[alias.strip()] = adapter.strip()
    return found


def _ints(name: str, default: list[int]) -> list[int]:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        values = [int(part) for part in raw.split(",")]
    except ValueError as exc:
        raise RuntimeError(f"{name} must be whole numbers separated by commas") from exc
    if not values or min(values) < 0:
        raise RuntimeError(f"{name} must list non-negative seconds")
    return values


def _bills_settings(production: bool) -> dict[str, Any]:
    """Providers, webhooks, fees and timings for bill payments, and the sandboxes' knobs (see
    .env.example)."""
    dev_secret = "" if production else DEV_WEBHOOK_SECRET
    return {
        "WEBHOOK_SECRETS": {
            "bills": os.environ.get("BILLS_WEBHOOK_SECRET", "").strip() or dev_secret,
            "bank": os.environ.get("BANK_WEBHOOK_SECRET", "").strip() or dev_secret,
            "cards": os.environ.get("CARDS_WEBHOOK_SECRET", "").strip()
            or ("" if production else DEV_CARDS_WEBHOOK_SECRET),
        },
        "BILLS_PROVIDERS": {
            category: os.environ.get(f"BILLS_PROVIDER_{category.upper()}", "sandbox").strip()
            for category in BILL_CATEGORIES
        },
        # Provider names API clients may send (the README's `VTUProviderA`), each an alias of a
        # bills adapter: "Alias=adapter,Other=adapter"; `*` is the adapter set for the bill type
        # (BILLS_PROVIDER_<TYPE>). Adapter names work as themselves.
        "BILLS_PROVIDER_ALIASES": _aliases(
            "BILLS_PROVIDER_ALIASES", os.environ.get("BILLS_PROVIDER_ALIASES", "VTUProviderA=*")
        ),
        "BILLS_FEES": {
            "airtime": _int("BILLS_FEE_AIRTIME", 0),
            "data": _int("BILLS_FEE_DATA", 0),
            "electricity": _int("BILLS_FEE_ELECTRICITY", 10_000),
        },
        "BILLS_REQUERY_BACKOFF": _ints("BILLS_REQUERY_BACKOFF", [5, 15, 30, 60, 120, 300, 600]),
        "BILLS_STUCK_AFTER": _int("BILLS_STUCK_AFTER", 900),
        "BILLS_HOLD_HOURS": _int("BILLS_HOLD_HOURS", 72),
        "SANDBOX_DELAY": _int("SANDBOX_DELAY", 3),
        "SANDBOX_WEBHOOK_URL": os.environ.get("SANDBOX_WEBHOOK_URL", "").strip() or None,
        "SANDBOX_BANK_WEBHOOK_URL": os.environ.get("SANDBOX_BANK_WEBHOOK_URL", "").strip() or None,
        "SANDBOX_RECON_DISCREPANCIES": _bool("SANDBOX_RECON_DISCREPANCIES", False),
        "RECONCILE_PROVIDERS": [
            name.strip()
            for name in os.environ.get("RECONCILE_PROVIDERS", "").split(",")
            if name.strip()
        ],
        "VTPASS_BASE_URL": os.environ.get("VTPASS_BASE_URL", "https://sandbox.vtpass.com").strip(),
        "VTPASS_API_KEY": os.environ.get("VTPASS_API_KEY", "").strip(),
        "VTPASS_SECRET_KEY": os.environ.get("VTPASS_SECRET_KEY", "").strip(),
        "VTPASS_PUBLIC_KEY": os.environ.get("VTPASS_PUBLIC_KEY", "").strip(),
        "VTPASS_TIMEOUT": _int("VTPASS_TIMEOUT", 30),
    }


def cards_settings() -> dict[str, Any]:
    """The card issuer, authorisation holds, clearing tolerance and default limits."""
    return {
        "CARDS_PROVIDER": os.environ.get("CARDS_PROVIDER", "sandbox").strip() or "sandbox",
        "CARDS_API_URL": os.environ.get("CARDS_API_URL", "").strip().rstrip("/"),
        "CARDS_API_KEY": os.environ.get("CARDS_API_KEY", "").strip(),
        "CARDS_API_TIMEOUT": _int("CARDS_API_TIMEOUT", 10),
        "CARDS_HOLD_DAYS": _int("CARDS_HOLD_DAYS", 7),
        "CARDS_CLEARING_TOLERANCE_PERCENT": _int("CARDS_CLEARING_TOLERANCE_PERCENT", 20),
        "CARDS_MAX_ACTIVE": _int("CARDS_MAX_ACTIVE", 5),
        "CARDS_DEFAULT_LIMITS": {
            # (per transaction, per month) in minor units
            "NGN": (10_000_000, 50_000_000),
            "USD": (50_000, 200_000),
        },
    }


def bank_settings(production: bool) -> dict[str, Any]:
    """Top-ups and payouts through Moniepoint and UBA (see .env.example)."""
    mode = os.environ.get("BANK_PROVIDER_MODE", "sandbox").strip().lower() or "sandbox"
    return {
        "BANK_PROVIDER_MODE": mode,
        "BANK_PAYOUT_PROVIDER": os.environ.get("BANK_PAYOUT_PROVIDER", "moniepoint").strip(),
        "BANK_NAME_ENQUIRY_PROVIDER": os.environ.get("BANK_NAME_ENQUIRY_PROVIDER", "uba").strip(),
        "PAYOUT_FEE": _int("PAYOUT_FEE", 5_000),
        "PAYOUT_APPROVAL_THRESHOLD": _int("PAYOUT_APPROVAL_THRESHOLD", 10_000_000),
        "PAYOUT_MIN": _int("PAYOUT_MIN", 10_000),
        "PAYOUT_MAX": _int("PAYOUT_MAX", 500_000_000),
        "PAYOUT_HOLD_DAYS": _int("PAYOUT_HOLD_DAYS", 30),
        "PAYOUT_REQUERY_BACKOFF": _ints("PAYOUT_REQUERY_BACKOFF", [10, 30, 60, 120, 300, 600]),
        # Seconds a payout may sit at the provider unsettled before it is flagged for a person
        # (it keeps its hold and is requeried; it never ends by time).
        "PAYOUT_STUCK_AFTER": _int("PAYOUT_STUCK_AFTER", 3600),
        "TOPUP_MIN": _int("TOPUP_MIN", 10_000),
        "TOPUP_MAX": _int("TOPUP_MAX", 500_000_000),
        "MONIEPOINT_BASE_URL": os.environ.get(
            "MONIEPOINT_BASE_URL", "https://sandbox.monnify.com"
        ).strip(),
        "MONIEPOINT_CLIENT_ID": os.environ.get("MONIEPOINT_CLIENT_ID", "").strip(),
        "MONIEPOINT_CLIENT_SECRET": os.environ.get("MONIEPOINT_CLIENT_SECRET", "").strip(),
        "MONIEPOINT_CONTRACT_CODE": os.environ.get("MONIEPOINT_CONTRACT_CODE", "").strip(),
        "MONIEPOINT_SOURCE_ACCOUNT": os.environ.get("MONIEPOINT_SOURCE_ACCOUNT", "").strip(),
        "UBA_BASE_URL": os.environ.get("UBA_BASE_URL", "https://sandbox.api.ubagroup.com").strip(),
        "UBA_CLIENT_ID": os.environ.get("UBA_CLIENT_ID", "").strip(),
        "UBA_CLIENT_SECRET": os.environ.get("UBA_CLIENT_SECRET", "").strip(),
        "UBA_SOURCE_ACCOUNT": os.environ.get("UBA_SOURCE_ACCOUNT", "").strip(),
        "BANK_PROVIDER_TIMEOUT": _int("BANK_PROVIDER_TIMEOUT", 30),
        # Seconds the payout provider's bank list is kept between asks (0: asked every
        # request), and how long a provider that could not answer is left alone.
        "BANK_LIST_TTL": _int("BANK_LIST_TTL", 3600),
        "BANK_LIST_RETRY_SECONDS": _int("BANK_LIST_RETRY_SECONDS", 30),
    }


def _check_bank(config: dict[str, Any]) -> None:
    """Production moves real money: no sandbox (its checkout page credits wallets for free)."""
    if config.get("BANK_PROVIDER_MODE") != "http":
        raise RuntimeError("Refusing to start: production needs BANK_PROVIDER_MODE=http.")
    needed: tuple[str, ...] = (
        "MONIEPOINT_CLIENT_ID",
        "MONIEPOINT_CLIENT_SECRET",
        "MONIEPOINT_CONTRACT_CODE",
    )
    needed += ("UBA_CLIENT_ID", "UBA_CLIENT_SECRET")
    missing = [key for key in needed if not config.get(key)]
    if missing:
        raise RuntimeError(f"Refusing to start: set {', '.join(missing)}.")
    for key in ("MONIEPOINT_BASE_URL", "UBA_BASE_URL"):
        _https(key, config.get(key))
    for key in needed:
        _provider_secret(key, config.get(key))


def security_settings() -> dict[str, Any]:
    """Sessions, sign-in lockout, second factor and rate limits (see `.env.example`)."""
    return {
        "SESSION_IDLE_SECONDS": _int("SESSION_IDLE_SECONDS", 600),
        "SESSION_WARNING_SECONDS": _int("SESSION_WARNING_SECONDS", 60),
        "SESSION_MAX_SECONDS": _int("SESSION_MAX_SECONDS", 12 * 3600),
        "LOGIN_LOCK_THRESHOLD": _int("LOGIN_LOCK_THRESHOLD", 5),
        "LOGIN_LOCK_SECONDS": _int("LOGIN_LOCK_SECONDS", 15 * 60),
        "STEP_UP_THRESHOLD": _int("STEP_UP_THRESHOLD", 5_000_000),
        "STEP_UP_THRESHOLD_FOREIGN": _int("STEP_UP_THRESHOLD_FOREIGN", 3_000),
        # The Lagos day's debits (this one included) above these step up too (no splitting).
        "STEP_UP_DAILY_THRESHOLD": _int("STEP_UP_DAILY_THRESHOLD", 10_000_000),
        "STEP_UP_DAILY_THRESHOLD_FOREIGN": _int("STEP_UP_DAILY_THRESHOLD_FOREIGN", 6_000),
        "PASSWORD_RESET_SECONDS": _int("PASSWORD_RESET_SECONDS", 30 * 60),
        # The transaction PIN is stored as HMAC-SHA256 under this key (production: 32+ chars).
        "PIN_HMAC_KEY": os.environ.get("PIN_HMAC_KEY", "").strip() or DEV_PIN_KEY,
        "PIN_LOCK_THRESHOLD": _int("PIN_LOCK_THRESHOLD", 5),
        # TOTP secrets are encrypted at rest: the first key encrypts, every listed key decrypts
        # (comma-separated, so a new key can be put in front and the old one retired later).
        "TOTP_ENCRYPTION_KEYS": [
            key.strip()
            for key in (os.environ.get("TOTP_ENCRYPTION_KEYS", "").strip() or DEV_TOTP_KEY).split(
                ","
            )
            if key.strip()
        ],
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "").strip() or None,
        "LIMIT_LOGIN": os.environ.get("LIMIT_LOGIN", "10 per minute;100 per day"),
        "LIMIT_REGISTER": os.environ.get("LIMIT_REGISTER", "10 per hour"),
        # Registrations naming one email or phone (each address can be asked about this often).
        "LIMIT_REGISTER_ADDRESS": os.environ.get("LIMIT_REGISTER_ADDRESS", "3 per hour"),
        "LIMIT_API_PUBLIC": os.environ.get("LIMIT_API_PUBLIC", "30 per minute;300 per hour"),
        "LIMIT_WEBHOOK_FAILURES": os.environ.get("LIMIT_WEBHOOK_FAILURES", "20 per minute"),
        "LIMIT_NAME_ENQUIRY": os.environ.get("LIMIT_NAME_ENQUIRY", "30 per minute;300 per day"),
        "LIMIT_TOTP": os.environ.get("LIMIT_TOTP", "5 per minute;30 per hour"),
        "LIMIT_PASSWORD_RESET": os.environ.get("LIMIT_PASSWORD_RESET", "5 per hour"),
    }


def _is_weak(value: str) -> bool:
    lowered = value.lower()
    return (
        lowered in KNOWN_WEAK_SECRETS
        or any(marker in lowered for marker in WEAK_MARKERS)
        or len(set(value)) < 10  # "x" * 48, "abababab…"
    )


def _refuse(message: str) -> NoReturn:
    raise RuntimeError(f"Refusing to start: {message}")


def _own_secret(name: str, value: str | None, *, required: bool = True) -> None:
    """A secret we make (and hand to no one who chose it): 32+ random characters."""
    if not value:
        if required:
            _refuse(f"set {name} to a random value of {SECRET_MIN_LENGTH}+ characters.")
        return
    if len(value) < SECRET_MIN_LENGTH or _is_weak(value):
        _refuse(
            f"{name} is too short or a known value: use {SECRET_MIN_LENGTH}+ random characters."
        )


def _provider_secret(name: str, value: str | None) -> None:
    """A secret a provider issues: taken at its length, but never empty or a development one."""
    if not value:
        _refuse(f"set {name}.")
    if value.lower() in KNOWN_WEAK_SECRETS or any(m in value.lower() for m in WEAK_MARKERS):
        _refuse(f"{name} is a development or example value.")


def _https(name: str, value: str | None) -> None:
    url = str(value or "")
    if not url.startswith("https://"):
        _refuse(f"{name} must be https://.")
    if "sandbox" in url.lower():
        _refuse(f"{name} points at a sandbox.")


def _check_own_secrets(config: dict[str, Any]) -> None:
    webhooks = config.get("WEBHOOK_SECRETS") or {}
    _own_secret("SECRET_KEY", config.get("SECRET_KEY"))
    _own_secret("JWT_SECRET_KEY", config.get("JWT_SECRET_KEY"), required=False)
    _own_secret("BILLS_WEBHOOK_SECRET", webhooks.get("bills"))
    _own_secret("BANK_WEBHOOK_SECRET", webhooks.get("bank"), required=False)
    _own_secret("CARDS_WEBHOOK_SECRET", webhooks.get("cards"), required=False)
    _own_secret("METRICS_TOKEN", config.get("METRICS_TOKEN"))
    _own_secret("PIN_HMAC_KEY", config.get("PIN_HMAC_KEY"))
    keys = config.get("TOTP_ENCRYPTION_KEYS") or []
    if not keys:
        _refuse("set TOTP_ENCRYPTION_KEYS.")
    for key in keys:
        _own_secret("TOTP_ENCRYPTION_KEYS", key)


def _check_providers(config: dict[str, Any]) -> None:
    """No sandbox of any kind: they invent money, bills, cards and rates."""
    for category, name in (config.get("BILLS_PROVIDERS") or {}).items():
        if name == "sandbox":
            _refuse(f"BILLS_PROVIDER_{category.upper()} is the sandbox.")
    if "vtpass" in (config.get("BILLS_PROVIDERS") or {}).values():
        _https("VTPASS_BASE_URL", config.get("VTPASS_BASE_URL"))
        for key in ("VTPASS_API_KEY", "VTPASS_SECRET_KEY", "VTPASS_PUBLIC_KEY"):
            _provider_secret(key, config.get(key))
    if config.get("CARDS_PROVIDER") == "sandbox":
        _refuse("CARDS_PROVIDER is the sandbox.")
    if config.get("CARDS_PROVIDER") == "issuing":
        _https("CARDS_API_URL", config.get("CARDS_API_URL"))
        _provider_secret("CARDS_API_KEY", config.get("CARDS_API_KEY"))
    if config.get("FX_RATES_PROVIDER") == "sandbox":
        _refuse("FX_RATES_PROVIDER is the sandbox.")
    if config.get("FX_RATES_PROVIDER") == "openexchangerates":
        _https("FX_RATES_URL", config.get("FX_RATES_URL"))
        _provider_secret("FX_RATES_APP_ID", config.get("FX_RATES_APP_ID"))
    for key in ("SANDBOX_WEBHOOK_URL", "SANDBOX_BANK_WEBHOOK_URL"):
        if config.get(key):
            _refuse(f"{key} is a development setting.")
    _check_bank(config)


def check_production(config: dict[str, Any]) -> None:
    """Refuse to start a production app that is not safe to face the internet.

    Our own secrets short or known, any development default, a sandbox provider of any kind,
    debug or testing mode, CSRF switched off, captured or unsent email (no SMTP_HOST). Each
    refusal names the setting to fix.
    """
    if config.get("LUMIPAY_ENV") != "production":
        return
    _check_own_secrets(config)
    uri = str(config["SQLALCHEMY_DATABASE_URI"])
    if not uri.startswith("postgresql") or uri == config.get("EMBEDDED_DATABASE_URL"):
        _refuse("production needs DATABASE_URL (PostgreSQL).")
    if config.get("PASSWORD_HASH_METHOD", "scrypt") != "scrypt":
        _refuse("passwords are hashed with the default scrypt (PASSWORD_HASH_METHOD).")
    if config.get("DEBUG") or config.get("TESTING"):
        _refuse("debug and testing modes are off in production (DEBUG, TESTING).")
    if config.get("WTF_CSRF_ENABLED") is False or config.get("MAIL_CAPTURE"):
        _refuse("CSRF must be on and email must really be sent (WTF_CSRF_ENABLED, MAIL_CAPTURE).")
    if not config.get("SMTP_HOST"):
        _refuse("set SMTP_HOST: production sends its email (reset links, notices) over SMTP.")
    if not str(config.get("PUBLIC_URL") or "").startswith("https://"):
        _refuse("set PUBLIC_URL to the site's https:// address.")
    _check_providers(config)
