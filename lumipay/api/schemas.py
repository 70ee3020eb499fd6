"""Request and response bodies of the JSON API (pydantic v2).

The same classes validate requests and produce the OpenAPI document's schemas (JSON Schema
2020-12, the dialect of OpenAPI 3.1). Requests are strict: an amount must be a JSON integer
in minor units ("100" or 100.0 is refused), unknown fields are refused, and text may not hold
control characters. These are shapes only; every business rule stays in the services.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel

from lumipay.database import as_utc
from lumipay.money import MAX_MINOR

NO_CONTROL = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$"
MAX_ID = 2**63 - 1


def text(max_length: int, **extra: object) -> object:
    return Field(max_length=max_length, pattern=NO_CONTROL, **extra)  # type: ignore[call-overload]


Amount = Annotated[int, Field(gt=0, le=MAX_MINOR, description="Minor units (kobo, cents).")]
MinorUnits = Annotated[int, Field(description="Minor units (kobo, cents).")]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Currency = Literal["NGN", "USD", "EUR", "GBP"]
# SQLite (make dev) hands back naive times; every stored time is UTC, and says so on the wire.
Timestamp = Annotated[datetime, AfterValidator(as_utc)]
OtpCode = Annotated[str, text(32, description="A TOTP code or an unused recovery code.")]


class Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")


# auth


class RegisterIn(Request):
    full_name: Annotated[str, text(120, examples=["Ada Obi"])]
    email: Annotated[str, text(254, examples=["ada@example.com"])]
    phone: Annotated[str, text(32, examples=["08031234567"])]
    password: Annotated[str, text(256)]


class LoginIn(Request):
    login: Annotated[str, text(254, description="Email address or phone number.")]
    password: Annotated[str, text(256)]
    otp_code: OtpCode | None = Field(
        default=None,
        description="Required when two-step verification is on (always for admins).",
    )


class RefreshIn(Request):
    refresh_token: Annotated[str, text(128)]


class PinIn(Request):
    """Set the transaction PIN (4 digits); to change it, send the current one too."""

    pin: Annotated[str, text(8)]
    current_pin: Annotated[str | None, text(8)] = None


class TokensOut(Reply):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name
    expires_in: int = Field(description="Seconds the access token is valid.")
    refresh_expires_in: int = Field(description="Seconds the refresh token is valid (one use).")


class RegisteredOut(Reply):
    user_id: int
    account_number: str
    tokens: TokensOut


class UserOut(Reply):
    user_id: int
    full_name: str
    email: str
    phone: str
    account_number: str | None
    role: Literal["customer", "admin"]
    two_factor_enabled: bool
    created_at: Timestamp


# accounts and wallets


class WalletOut(Reply):
    wallet_id: int
    currency: Currency
    name: str
    balance: MinorUnits
    held: MinorUnits
    available: MinorUnits


class AccountsOut(Reply):
    account_number: str | None
    wallets: list[WalletOut]


class OpenWalletIn(Request):
    currency: Currency


class HistoryQuery(BaseModel):
    """Query strings are text: numbers in them are read as numbers (not strict)."""

    model_config = ConfigDict(extra="forbid")
    cursor: Annotated[str, Field(pattern=r"^[0-9]{1,18}$")] | None = Field(
        default=None, description="`next_cursor` of the previous page; omit for the newest."
    )
    limit: Annotated[int, Field(ge=1, le=100)] = 20


class HistoryItemOut(Reply):
    entry_id: int
    transaction_ref: str
    kind: str
    description: str
    narration: str
    currency: Currency
    amount: MinorUnits = Field(description="Signed: negative when money left the wallet.")
    balance_after: MinorUnits | None
    status: str
    created_at: Timestamp


class HistoryPageOut(Reply):
    items: list[HistoryItemOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


# transfers


class TransferIn(Request):
    from_wallet_id: Id
    to_account_number: Annotated[str, text(20, examples=["0901234567"])]
    amount: Amount
    narration: Annotated[str, text(200)] = ""
    otp_code: OtpCode | None = Field(
        default=None,
        description="Needed above the step-up threshold when two-step verification is on.",
    )


class TransferCreatedOut(Reply):
    transfer_id: int
    transaction_ref: str
    status: Literal["succeeded", "reversed"]


class TransferOut(TransferCreatedOut):
    direction: Literal["sent", "received"]
    currency: Currency
    amount: MinorUnits
    narration: str
    counterparty_name: str = Field(description="Masked as banks show it.")
    counterparty_account_number: str
    created_at: Timestamp


# bills


class AirtimeIn(Request):
    category: Literal["airtime"]
    network: Annotated[str, text(40, examples=["mtn"])]
    phone: Annotated[str, text(32)]
    amount: Amount


class DataIn(Request):
    category: Literal["data"]
    plan: Annotated[str, text(120, examples=["mtn-data:mtn-1gb-1d"])]
    phone: Annotated[str, text(32)]


class ElectricityIn(Request):
    category: Literal["electricity"]
    disco: Annotated[str, text(40, examples=["ikeja-electric"])]
    meter_type: Literal["prepaid", "postpaid"]
    meter_number: Annotated[str, text(20)]
    amount: Amount
    phone: Annotated[str, text(32)]


class BillIn(RootModel[AirtimeIn | DataIn | ElectricityIn]):
    root: Annotated[AirtimeIn | DataIn | ElectricityIn, Field(discriminator="category")]


BillStatus = Literal["processing", "succeeded", "failed"]


class BillPaidOut(Reply):
    bill_id: str
    status: BillStatus
    provider_ref: str | None


class BillOut(BillPaidOut):
    category: Literal["airtime", "data", "electricity"]
    service_id: str
    description: str
    recipient: str
    currency: Currency
    amount: MinorUnits
    fee: MinorUnits
    total: MinorUnits
    token: str | None
    message: str
    created_at: Timestamp
    settled_at: Timestamp | None


# fx


class PairOut(Reply):
    base: Currency
    quote: Currency
    mid: str = Field(description="Units of `quote` per 1 `base`, as a decimal string.")
    buy: str
    sell: str


class RatesOut(Reply):
    updated_at: Timestamp | None
    stale: bool
    spread_bp: int
    pairs: list[PairOut]


class QuoteIn(Request):
    from_wallet_id: Id
    to_wallet_id: Id
    debit_amount: Amount | None = Field(default=None, description="Give this or credit_amount.")
    credit_amount: Amount | None = None


class QuoteOut(Reply):
    quote_id: str
    from_wallet_id: int
    to_wallet_id: int
    from_currency: Currency
    to_currency: Currency
    mid_rate: str
    rate: str
    debit_amount: MinorUnits
    credit_amount: MinorUnits
    fee_amount: MinorUnits
    expires_at: Timestamp


class ConvertIn(Request):
    quote_id: Annotated[str, text(32)]


class ConversionOut(Reply):
    transaction_ref: str
    quote_id: str
    from_currency: Currency
    to_currency: Currency
    debit_amount: MinorUnits
    credit_amount: MinorUnits
    fee_amount: MinorUnits


# bank: top-ups and payouts


class TopUpIn(Request):
    amount: Amount
    method: Annotated[
        str,
        text(
            40,
            examples=["moniepoint:checkout", "moniepoint:reserved_account"],
            description="provider:method, one of GET bank/banks' `topup_methods`.",
        ),
    ]


class ReservedAccountOut(Reply):
    account_number: str
    account_name: str
    bank_name: str


class TopUpOut(Reply):
    reference: str
    status: str = Field(description="pending until the provider reports the payment; credited.")
    method: str
    currency: Currency
    amount: MinorUnits | None
    amount_paid: MinorUnits | None
    reserved_account: ReservedAccountOut | None = Field(
        description="Pay this account by bank transfer (method reserved_account)."
    )
    checkout_url: str | None = Field(description="Pay on this page (method checkout).")
    created_at: Timestamp
    credited_at: Timestamp | None


class PayoutIn(Request):
    bank_code: Annotated[str, text(8, examples=["058"])]
    account_number: Annotated[str, text(20, examples=["0123456789"])]
    amount: Amount
    narration: Annotated[str, text(100)] = ""


class PayoutOut(Reply):
    reference: str
    status: str = Field(description="awaiting_approval, processing, succeeded, failed or rejected.")
    bank_code: str
    bank_name: str
    account_number: str
    account_name: str = Field(description="The holder, from the name enquiry.")
    currency: Currency
    amount: MinorUnits
    fee: MinorUnits
    narration: str
    message: str
    created_at: Timestamp
    settled_at: Timestamp | None


class BankOut(Reply):
    code: str
    name: str


class BanksOut(Reply):
    banks: list[BankOut]
    topup_methods: list[str]


# cards


class CardIn(Request):
    wallet_id: Id
    type: Literal["single", "multi"]
    label: Annotated[str, text(40, examples=["Online shopping"])]
    per_transaction_limit: Amount
    monthly_limit: Amount
    groups: list[Annotated[str, text(40)]] | None = Field(
        default=None,
        max_length=20,
        description="Merchant kinds allowed (MCC groups: travel, utilities, retail, food, "
        "digital, services, gambling, quasi_cash, other); default all but gambling and quasi_cash.",
    )


class CardOut(Reply):
    """Never the card number or CVV: those are shown once, on the web, after a password."""

    card_id: str
    status: str = Field(description="issuing, active, frozen, terminated or failed.")
    label: str
    type: Literal["single", "multi"]
    wallet_id: int
    currency: Currency
    brand: str | None
    last4: str | None
    expiry: str | None = Field(description="MM/YY once issued.")
    per_transaction_limit: MinorUnits
    monthly_limit: MinorUnits
    groups: list[str]
    created_at: Timestamp


class CardsPageOut(Reply):
    items: list[CardOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


class CardBlockIn(Request):
    blocked: bool = Field(default=True, description="false unfreezes a frozen card.")


# admin


class ReconcileIn(Request):
    provider: Annotated[str, text(40, examples=["bills-sandbox"])]
    start: Annotated[date, Field(strict=False, description="First day (YYYY-MM-DD).")]
    end: Annotated[date, Field(strict=False, description="Last day, at most 93 days on.")]


class ReconcileOut(Reply):
    run_id: int
    status: str


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: date | None = Field(default=None, description="Default: 13 days before `end`.")
    end: date | None = Field(default=None, description="Default: today (UTC).")


class ReportRowOut(Reply):
    provider: str
    day: date
    expected: MinorUnits = Field(description="What our succeeded records say it should settle.")
    settled: MinorUnits
    outstanding: MinorUnits
    run_id: int


class ReportOut(Reply):
    start: date
    end: date
    rows: list[ReportRowOut]


# problems and health (documentation only: these are built elsewhere)


class FieldError(Reply):
    field: str = Field(description="The request field at fault; empty for the whole request.")
    message: str


class ProblemOut(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(examples=["https://lumipay.ng/problems/insufficient-funds"])
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FieldError] | None = None


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    database: str
    redis: str
