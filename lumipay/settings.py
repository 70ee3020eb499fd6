"""Typed settings per domain, parsed once from the app's config.

`lumipay.config` reads the environment into `app.config` (the keys `.env.example` documents,
parsed there: whole numbers, yes/no, lists). This module gives each domain the keys it reads as
one frozen dataclass, `get(FxSettings).quote_seconds`, built from `app.config` the first time it
is asked for (create_app asks for all of them, so a missing key fails at start) and kept on the
config. Nothing in the app changes its config after start; a test that patches `app.config`
drops the built settings with it, and they are rebuilt from the patched mapping at next use.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import flask
from flask import current_app

_NO_DEFAULT = object()


def key(name: str, default: Any = _NO_DEFAULT) -> Any:
    """A field filled from `app.config[name]` (or `default` when the key is absent)."""
    return dataclasses.field(metadata={"key": name, "default": default})


@dataclass(frozen=True)
class Settings:
    """A domain's settings: every field names its config key with `key(...)`."""

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        values = {}
        for found in dataclasses.fields(cls):
            name, default = found.metadata["key"], found.metadata["default"]
            values[found.name] = (
                config[name] if default is _NO_DEFAULT else config.get(name, default)
            )
        return cls(**values)


class Config(flask.Config):
    """Flask's config mapping, which drops the settings built from it when it changes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.built: dict[type[Settings], Settings] = {}
        super().__init__(*args, **kwargs)

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, value)
        self.built.clear()

    def __delitem__(self, name: str) -> None:
        super().__delitem__(name)
        self.built.clear()

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self.built.clear()

    def pop(self, *args: Any) -> Any:
        self.built.clear()
        return super().pop(*args)


class App(flask.Flask):
    config_class = Config


S = TypeVar("S", bound=Settings)


def get(kind: type[S], app: flask.Flask | None = None) -> S:
    """One domain's settings, of `app` or else the current app."""
    config = (app or current_app).config
    built = config.built if isinstance(config, Config) else {}
    found = built.get(kind)
    if found is None:
        found = built[kind] = kind.from_config(config)
    assert isinstance(found, kind)
    return found


@dataclass(frozen=True)
class CoreSettings(Settings):
    env: str = key("LUMIPAY_ENV")
    secret_key: str = key("SECRET_KEY")
    public_url: str = key("PUBLIC_URL")
    redis_url: str | None = key("REDIS_URL")
    nuban_bank_code: str = key("NUBAN_BANK_CODE")
    history_page_size: int = key("HISTORY_PAGE_SIZE")

    @property
    def production(self) -> bool:
        return self.env == "production"


@dataclass(frozen=True)
class AuthSettings(Settings):
    initial_bonus: int = key("INITIAL_BONUS")
    password_min_length: int = key("PASSWORD_MIN_LENGTH")
    password_reset_seconds: int = key("PASSWORD_RESET_SECONDS")
    login_lock_threshold: int = key("LOGIN_LOCK_THRESHOLD")
    login_lock_seconds: int = key("LOGIN_LOCK_SECONDS")
    session_idle_seconds: int = key("SESSION_IDLE_SECONDS")
    session_max_seconds: int = key("SESSION_MAX_SECONDS")
    api_session_idle_seconds: int = key("API_SESSION_IDLE_SECONDS")
    api_session_max_seconds: int = key("API_SESSION_MAX_SECONDS")
    pin_hmac_key: str = key("PIN_HMAC_KEY")
    pin_lock_threshold: int = key("PIN_LOCK_THRESHOLD")
    totp_encryption_keys: list[str] = key("TOTP_ENCRYPTION_KEYS")
    step_up_threshold: int = key("STEP_UP_THRESHOLD")
    step_up_threshold_foreign: int = key("STEP_UP_THRESHOLD_FOREIGN")
    step_up_daily_threshold: int = key("STEP_UP_DAILY_THRESHOLD")
    step_up_daily_threshold_foreign: int = key("STEP_UP_DAILY_THRESHOLD_FOREIGN")


@dataclass(frozen=True)
class ApiSettings(Settings):
    jwt_secret_key: str | None = key("JWT_SECRET_KEY")
    jwt_access_seconds: int = key("JWT_ACCESS_SECONDS")
    jwt_refresh_seconds: int = key("JWT_REFRESH_SECONDS")
    idempotency_ttl_seconds: int = key("IDEMPOTENCY_TTL_SECONDS")
    idempotency_stale_seconds: int = key("IDEMPOTENCY_STALE_SECONDS")


@dataclass(frozen=True)
class MailSettings(Settings):
    sender: str = key("MAIL_FROM")
    smtp_host: str | None = key("SMTP_HOST")
    smtp_port: int = key("SMTP_PORT")
    smtp_username: str | None = key("SMTP_USERNAME")
    smtp_password: str | None = key("SMTP_PASSWORD")
    smtp_starttls: bool = key("SMTP_STARTTLS")
    # Tests: keep each message in memory (lumipay.notifications.email.outbox) instead.
    capture: bool = key("MAIL_CAPTURE")


@dataclass(frozen=True)
class JobsSettings(Settings):
    retry_backoff: list[int] = key("JOB_RETRY_BACKOFF")
    provider_retry_window: int = key("PROVIDER_RETRY_WINDOW")


@dataclass(frozen=True)
class BillsSettings(Settings):
    providers: dict[str, str] = key("BILLS_PROVIDERS")
    provider_aliases: dict[str, str] = key("BILLS_PROVIDER_ALIASES")
    fees: dict[str, int] = key("BILLS_FEES")
    hold_hours: int = key("BILLS_HOLD_HOURS")
    requery_backoff: list[int] = key("BILLS_REQUERY_BACKOFF")
    stuck_after: int = key("BILLS_STUCK_AFTER")


@dataclass(frozen=True)
class BankSettings(Settings):
    provider_mode: str = key("BANK_PROVIDER_MODE")
    payout_provider: str = key("BANK_PAYOUT_PROVIDER")
    name_enquiry_provider: str = key("BANK_NAME_ENQUIRY_PROVIDER")
    # Seconds the payout provider's bank list is kept (lumipay.providers.bank_list), and a
    # failure to get it.
    bank_list_ttl: int = key("BANK_LIST_TTL")
    bank_list_retry_seconds: int = key("BANK_LIST_RETRY_SECONDS")
    payout_fee: int = key("PAYOUT_FEE")
    payout_approval_threshold: int = key("PAYOUT_APPROVAL_THRESHOLD")
    payout_min: int = key("PAYOUT_MIN")
    payout_max: int = key("PAYOUT_MAX")
    payout_hold_days: int = key("PAYOUT_HOLD_DAYS")
    payout_requery_backoff: list[int] = key("PAYOUT_REQUERY_BACKOFF")
    payout_stuck_after: int = key("PAYOUT_STUCK_AFTER")
    topup_min: int = key("TOPUP_MIN")
    topup_max: int = key("TOPUP_MAX")


@dataclass(frozen=True)
class CardsSettings(Settings):
    provider: str = key("CARDS_PROVIDER")
    hold_days: int = key("CARDS_HOLD_DAYS")
    clearing_tolerance_percent: int = key("CARDS_CLEARING_TOLERANCE_PERCENT")
    max_active: int = key("CARDS_MAX_ACTIVE")
    # currency -> (per transaction, per month) in minor units
    default_limits: dict[str, tuple[int, int]] = key("CARDS_DEFAULT_LIMITS")


@dataclass(frozen=True)
class ProviderSettings(Settings):
    """Which HTTP adapters serve FX rates, and every HTTP adapter's address and credentials."""

    fx_rates_provider: str = key("FX_RATES_PROVIDER")
    fx_sandbox_seed: int = key("FX_SANDBOX_SEED")
    fx_rates_url: str = key("FX_RATES_URL")
    fx_rates_app_id: str = key("FX_RATES_APP_ID")
    fx_rates_timeout: int = key("FX_RATES_TIMEOUT")
    vtpass_base_url: str = key("VTPASS_BASE_URL")
    vtpass_api_key: str = key("VTPASS_API_KEY")
    vtpass_secret_key: str = key("VTPASS_SECRET_KEY")
    vtpass_public_key: str = key("VTPASS_PUBLIC_KEY")
    vtpass_timeout: int = key("VTPASS_TIMEOUT")
    cards_api_url: str = key("CARDS_API_URL")
    cards_api_key: str = key("CARDS_API_KEY")
    cards_api_timeout: int = key("CARDS_API_TIMEOUT")
    bank_timeout: int = key("BANK_PROVIDER_TIMEOUT")
    moniepoint_base_url: str = key("MONIEPOINT_BASE_URL")
    moniepoint_client_id: str = key("MONIEPOINT_CLIENT_ID")
    moniepoint_client_secret: str = key("MONIEPOINT_CLIENT_SECRET")
    moniepoint_contract_code: str = key("MONIEPOINT_CONTRACT_CODE")
    moniepoint_source_account: str = key("MONIEPOINT_SOURCE_ACCOUNT")
    uba_base_url: str = key("UBA_BASE_URL")
    uba_client_id: str = key("UBA_CLIENT_ID")
    uba_client_secret: str = key("UBA_CLIENT_SECRET")
    uba_source_account: str = key("UBA_SOURCE_ACCOUNT")


@dataclass(frozen=True)
class ReconciliationSettings(Settings):
    # Sources the nightly run reconciles; empty: every provider the configuration uses.
    providers: list[str] = key("RECONCILE_PROVIDERS")


@dataclass(frozen=True)
class FxSettings(Settings):
    spread_bp: int = key("FX_SPREAD_BP")
    quote_seconds: int = key("FX_QUOTE_SECONDS")
    rate_max_age: int = key("FX_RATE_MAX_AGE")


@dataclass(frozen=True)
class KycSettings(Settings):
    # tier -> {"TRANSACTION_LIMIT", "DAILY_LIMIT", "MAX_BALANCE"} in kobo
    limits: dict[int, dict[str, int]] = key("KYC_LIMITS")
    upload_max_bytes: int = key("KYC_UPLOAD_MAX_BYTES")
    storage: str = key("KYC_STORAGE")
    storage_dir: str = key("KYC_STORAGE_DIR")
    s3_bucket: str = key("KYC_S3_BUCKET")
    s3_prefix: str = key("KYC_S3_PREFIX")


@dataclass(frozen=True)
class SandboxSettings(Settings):
    """The embedded providers' knobs (development and tests)."""

    delay: int = key("SANDBOX_DELAY")
    webhook_url: str | None = key("SANDBOX_WEBHOOK_URL")
    bank_webhook_url: str | None = key("SANDBOX_BANK_WEBHOOK_URL")
    recon_discrepancies: bool = key("SANDBOX_RECON_DISCREPANCIES")


@dataclass(frozen=True)
class WebhookSettings(Settings):
    # channel ("bills", "bank", "cards") -> the HMAC secret its deliveries are signed with
    secrets: dict[str, str] = key("WEBHOOK_SECRETS")


@dataclass(frozen=True)
class ObservabilitySettings(Settings):
    # /metrics wants `Authorization: Bearer <this>` when set.
    metrics_token: str | None = key("METRICS_TOKEN")


ALL: tuple[type[Settings], ...] = (
    CoreSettings,
    AuthSettings,
    ApiSettings,
    MailSettings,
    JobsSettings,
    BillsSettings,
    BankSettings,
    CardsSettings,
    FxSettings,
    KycSettings,
    SandboxSettings,
    WebhookSettings,
    ObservabilitySettings,
    ProviderSettings,
    ReconciliationSettings,
)


def load(app: flask.Flask) -> None:
    """Build every domain's settings now, so a missing key fails at start, not mid-request."""
    for kind in ALL:
        get(kind, app)


def core() -> CoreSettings:
    return get(CoreSettings)


def auth() -> AuthSettings:
    return get(AuthSettings)


def api() -> ApiSettings:
    return get(ApiSettings)


def mail() -> MailSettings:
    return get(MailSettings)


def jobs() -> JobsSettings:
    return get(JobsSettings)


def bills() -> BillsSettings:
    return get(BillsSettings)


def bank() -> BankSettings:
    return get(BankSettings)


def cards() -> CardsSettings:
    return get(CardsSettings)


def fx() -> FxSettings:
    return get(FxSettings)


def kyc() -> KycSettings:
    return get(KycSettings)


def sandbox() -> SandboxSettings:
    return get(SandboxSettings)


def webhooks() -> WebhookSettings:
    return get(WebhookSettings)


def observability() -> ObservabilitySettings:
    return get(ObservabilitySettings)


def providers() -> ProviderSettings:
    return get(ProviderSettings)


def reconciliation() -> ReconciliationSettings:
    return get(ReconciliationSettings)
