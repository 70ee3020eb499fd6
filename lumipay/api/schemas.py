"""Request and response bodies of the JSON API (pydantic v2).

The same classes validate requests and produce the OpenAPI document's schemas (JSON Schema
2020-12, the dialect of OpenAPI 3.1). Requests are strict: an amount must be a JSON integer
in minor units ("100" or 100.0 is refused), unknown fields are refused, and text may not hold
control characters. These are shapes only; every business rule stays in the services.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, RootModel, Tag

from lumipay.bank.models import PayoutStatus, TopUpStatus
from lumipay.bills.models import BillStatus
from lumipay.cards.models import CardStatus
from lumipay.database import as_utc
from lumipay.ledger.models import TransactionStatus
from lumipay.money import MAX_MINOR
from lumipay.reconciliation.models import RunStatus
from lumipay.transfers.models import TransferStatus

NO_CONTROL = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$"
MAX_ID = 2**63 - 1


def text(max_length: int, **extra: Any) -> Any:
    return Field(max_length=max_length, pattern=NO_CONTROL, **extra)


Amount = Annotated[int, Field(gt=0, le=MAX_MINOR, description="Minor units (kobo, cents).")]
MinorUnits = Annotated[int, Field(description="Minor units (kobo, cents).")]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# A public id, as a JSON string: rows are never named by their sequential keys.
PublicId = Annotated[uuid.UUID, Field(strict=False, description="A public id (UUID).")]
Currency = Literal["NGN", "USD", "EUR", "GBP"]
Role = Literal["customer", "admin"]
# Every time is sent in UTC and says so on the wire, whatever the database session's TimeZone.
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
    """Give one of `email` (the README's name), `login` or `phone`: each takes an email
    address or a phone number."""

    email: Annotated[str, text(254, description="Email address (or phone number).")] | None = None
    login: Annotated[str, text(254, description="Email address or phone number.")] | None = None
    phone: Annotated[str, text(32, description="Phone number.")] | None = None
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
    user_id: uuid.UUID
    account_number: str
    tokens: TokensOut


# accounts and wallets


class WalletOut(Reply):
    wallet_id: uuid.UUID
    currency: Currency
    name: str
    balance: MinorUnits = Field(description="Posted balance.")
    held: MinorUnits = Field(description="Reserved by payments in flight.")
    available: MinorUnits = Field(description="`balance` − `held`.")
    available_balance: MinorUnits = Field(description="The same as `available`.")
    reserved: MinorUnits = Field(description="The same as `held`.")


class UserOut(Reply):
    user_id: uuid.UUID
    full_name: str
    email: str
    phone: str
    account_number: str | None
    role: Role
    is_active: bool = Field(description="false while the account is frozen.")
    kyc_tier: int = Field(description="1, 2 or 3.")
    kyc_status: str = Field(description="`tier_1`, `tier_2` or `tier_3`.")
    two_factor_enabled: bool
    wallets: list[WalletOut] = Field(description="Every wallet, NGN first.")
    created_at: Timestamp


class LumipayAccountOut(Reply):
    account_id: uuid.UUID = Field(description="The wallet this account number pays into.")
    account_number: str
    account_type: Literal["wallet"]
    currency: Currency


class AccountsOut(Reply):
    account_number: str | None
    accounts: list[LumipayAccountOut] = Field(description="Bank-style: one per wallet.")
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
    status: TransactionStatus
    created_at: Timestamp


class HistoryPageOut(Reply):
    items: list[HistoryItemOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


# transfers


class TransferIn(Request):
    """Name the recipient by `to_account_number` or by `to_wallet_id` (one of them)."""

    from_wallet_id: PublicId
    to_account_number: Annotated[str, text(20, examples=["0901234567"])] | None = None
    to_wallet_id: PublicId | None = Field(default=None, description="Another customer's wallet.")
    amount: Amount
    currency: Currency | None = Field(
        default=None, description="If given, it must be the currency of `from_wallet_id`."
    )
    narration: Annotated[str, text(200)] = ""
    otp_code: OtpCode | None = Field(
        default=None,
        description="Needed above the step-up threshold when two-step verification is on.",
    )


class TransferCreatedOut(Reply):
    transfer_id: uuid.UUID
    transaction_ref: str
    status: TransferStatus


class TransferOut(TransferCreatedOut):
    direction: Literal["sent", "received"]
    wallet_id: uuid.UUID = Field(description="Your wallet the money left or reached.")
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


BillType = Literal["airtime", "data", "electricity"]

L = TypeVar("L", bound=str)


def one_of(allowed: tuple[L, ...], value: str) -> L:
    """A stored value as the schema's Literal type; the database's CHECKs allow only these."""
    for known in allowed:
        if known == value:
            return known
    raise ValueError(f"{value!r} is not one of {allowed}")


CURRENCY_CODES: tuple[Currency, ...] = get_args(Currency)
ROLES: tuple[Role, ...] = get_args(Role)
BILL_TYPES: tuple[BillType, ...] = get_args(BillType)


def currency(code: str) -> Currency:
    return one_of(CURRENCY_CODES, code)


class BillPayIn(Request):
    """The README's shape. `recipient` is the phone number (airtime, data) or the meter number
    (electricity). Airtime: `amount`; `network` is read from the number's prefix unless given
    (numbers are portable). Data: `plan` (one of the provider's plan codes). Electricity:
    `disco`, `meter_type` and `amount`; `phone` (for the token) defaults to yours."""

    wallet_id: PublicId | None = Field(default=None, description="Your NGN wallet (the default).")
    bill_type: BillType
    recipient: Annotated[str, text(32)]
    provider: Annotated[str, text(40, examples=["VTUProviderA"])] | None = Field(
        default=None, description="A configured provider name; default the one set up for it."
    )
    amount: Amount | None = None
    network: Annotated[str, text(40, examples=["mtn"])] | None = None
    plan: Annotated[str, text(120, examples=["mtn-data:mtn-1gb-1d"])] | None = None
    disco: Annotated[str, text(40, examples=["ikeja-electric"])] | None = None
    meter_type: Literal["prepaid", "postpaid"] | None = None
    phone: Annotated[str, text(32)] | None = None


def _bill_shape(value: Any) -> str | None:
    """`bill_type` (the README's shape) or `category` (the first API's) picks the model."""
    if not isinstance(value, dict):
        return None
    if "bill_type" in value:
        return "readme"
    category = value.get("category")
    return category if category in ("airtime", "data", "electricity") else None


BillShapes = Annotated[
    Annotated[AirtimeIn, Tag("airtime")]
    | Annotated[DataIn, Tag("data")]
    | Annotated[ElectricityIn, Tag("electricity")]
    | Annotated[BillPayIn, Tag("readme")],
    Discriminator(
        _bill_shape,
        custom_error_type="bill_type_missing",
        custom_error_message="Give bill_type: airtime, data or electricity.",
    ),
]


class BillIn(RootModel[BillShapes]):
    root: BillShapes


class BillPaidOut(Reply):
    bill_id: uuid.UUID
    reference: str
    status: BillStatus
    provider_ref: str = Field(
        description="Our own request id for the provider: stable, known before it is called."
    )
    provider: str = Field(description="The provider adapter that takes the bill.")
    network: str | None = Field(description="Airtime and data: the network charged.")


class BillOut(BillPaidOut):
    bill_type: BillType
    category: BillType
    wallet_id: uuid.UUID
    provider_reference: str | None = Field(description="The provider's own reference, once known.")
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
    from_wallet_id: PublicId
    to_wallet_id: PublicId
    debit_amount: Amount | None = Field(default=None, description="Give this or credit_amount.")
    credit_amount: Amount | None = None


class QuoteOut(Reply):
    quote_id: uuid.UUID
    reference: str
    from_wallet_id: uuid.UUID
    to_wallet_id: uuid.UUID
    from_currency: Currency
    to_currency: Currency
    mid_rate: str
    rate: str
    debit_amount: MinorUnits
    credit_amount: MinorUnits
    fee_amount: MinorUnits
    expires_at: Timestamp


class ConvertIn(Request):
    """Either `quote_id` (convert at a quote you asked for), or `from_wallet_id`,
    `to_wallet_id` and `amount` (what leaves the first wallet): quoted and converted at once."""

    quote_id: Annotated[str, text(40, description="A quote's id (or its reference).")] | None = None
    from_wallet_id: PublicId | None = None
    to_wallet_id: PublicId | None = None
    amount: Amount | None = Field(default=None, description="Minor units leaving from_wallet_id.")


class ConversionOut(Reply):
    transaction_ref: str
    status: Literal["succeeded"] = "succeeded"
    quote_id: uuid.UUID
    from_wallet_id: uuid.UUID
    to_wallet_id: uuid.UUID
    rate: str
    from_currency: Currency
    to_currency: Currency
    debit_amount: MinorUnits
    credit_amount: MinorUnits
    fee_amount: MinorUnits


# bank: top-ups and payouts


class TopUpIn(Request):
    """Give `method`, or the README's `provider` (with `return_url` for its payment page;
    without, its bank transfer details when it has them)."""

    amount: Amount
    method: (
        Annotated[
            str,
            text(
                40,
                examples=["moniepoint:checkout", "moniepoint:reserved_account"],
                description="provider:method, one of GET bank/banks' `topup_methods`.",
            ),
        ]
        | None
    ) = None
    wallet_id: PublicId | None = Field(default=None, description="Your NGN wallet (the default).")
    provider: Annotated[str, text(40, examples=["Moniepoint"])] | None = None
    return_url: Annotated[str, text(300, examples=["https://example.com/paid"])] | None = Field(
        default=None, description="Asks for the payment page (http or https URL)."
    )


class ReservedAccountOut(Reply):
    account_number: str
    account_name: str
    bank_name: str


class TopUpOut(Reply):
    topup_id: uuid.UUID
    reference: str
    provider: str
    wallet_id: uuid.UUID
    status: TopUpStatus = Field(
        description="pending until the provider reports the payment; credited."
    )
    method: str
    currency: Currency
    amount: MinorUnits | None
    amount_paid: MinorUnits | None
    reserved_account: ReservedAccountOut | None = Field(
        description="Pay this account by bank transfer (method reserved_account)."
    )
    checkout_url: str | None = Field(description="Pay on this page (method checkout).")
    payment_url: str | None = Field(description="The same as `checkout_url`.")
    return_url: str | None = Field(description="As sent, when sent.")
    created_at: Timestamp
    credited_at: Timestamp | None


class BankAccountIn(Request):
    bank_code: Annotated[str, text(8, examples=["058"])]
    account_number: Annotated[str, text(20, examples=["0123456789"])]


class PayoutIn(Request):
    """The account as `bank_code` and `account_number`, or as `to_bank_account` (one way)."""

    bank_code: Annotated[str, text(8, examples=["058"])] | None = None
    account_number: Annotated[str, text(20, examples=["0123456789"])] | None = None
    to_bank_account: BankAccountIn | None = None
    from_wallet_id: PublicId | None = Field(default=None, description="Your NGN wallet (default).")
    amount: Amount
    narration: Annotated[str, text(100)] = ""


class BankAccountOut(Reply):
    bank_code: str
    bank_name: str
    account_number: str
    account_name: str


class PayoutOut(Reply):
    payout_id: uuid.UUID
    reference: str
    provider: str
    from_wallet_id: uuid.UUID
    to_bank_account: BankAccountOut
    status: PayoutStatus = Field(
        description="awaiting_approval, processing, succeeded, failed or rejected."
    )
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
    """The README's `{wallet_id, currency, limit, type}` or the full form. `limit` is the
    monthly limit; the limit per purchase defaults to it, within your KYC tier's cap per
    transaction."""

    wallet_id: PublicId
    type: Literal["single", "multi", "single_use", "multi_use"]
    currency: Currency | None = Field(default=None, description="If given, the wallet's.")
    label: Annotated[str, text(40, examples=["Online shopping"])] = "Virtual card"
    limit: Amount | None = Field(default=None, description="The same as monthly_limit.")
    per_transaction_limit: Amount | None = None
    monthly_limit: Amount | None = None
    groups: list[Annotated[str, text(40)]] | None = Field(
        default=None,
        max_length=20,
        description="Merchant kinds allowed (MCC groups: travel, utilities, retail, food, "
        "digital, services, gambling, quasi_cash, other); default all but gambling and quasi_cash.",
    )


class CardOut(Reply):
    """Never the card number or CVV: those are shown once, on the web, after a password."""

    card_id: uuid.UUID
    reference: str
    status: CardStatus = Field(description="issuing, active, frozen, terminated or failed.")
    label: str
    type: Literal["single", "multi"]
    wallet_id: uuid.UUID
    currency: Currency
    brand: str | None
    last4: str | None
    expiry: str | None = Field(description="MM/YY once issued.")
    exp_month: int | None
    exp_year: int | None
    limit: MinorUnits = Field(description="The monthly limit.")
    per_transaction_limit: MinorUnits
    monthly_limit: MinorUnits
    groups: list[str]
    created_at: Timestamp


class CardsPageOut(Reply):
    items: list[CardOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


class CardsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cursor: uuid.UUID | None = Field(
        default=None, description="`next_cursor` of the previous page; omit for the newest."
    )
    limit: Annotated[int, Field(ge=1, le=100)] = 20


class CardBlockIn(Request):
    """No body blocks (freezes) the card, as `{"blocked": true}` does."""

    blocked: bool = Field(default=True, description="false unfreezes a frozen card.")


class CardLimitsIn(Request):
    """Give the limits to change; the others stay. `limit` is the monthly limit."""

    limit: Amount | None = None
    per_transaction_limit: Amount | None = None
    monthly_limit: Amount | None = None
    groups: list[Annotated[str, text(40)]] | None = Field(default=None, max_length=20)


class CardStatusIn(Request):
    action: Literal["freeze", "unfreeze", "terminate"] = Field(
        description="terminate is final: the card can't be used again."
    )


# admin


class ReconcileIn(Request):
    provider: Annotated[str, text(40, examples=["bills-sandbox"])]
    start: Annotated[date, Field(strict=False, description="First day (YYYY-MM-DD).")]
    end: Annotated[date, Field(strict=False, description="Last day, at most 93 days on.")]


class ReconcileOut(Reply):
    run_id: int
    status: RunStatus


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: date | None = Field(default=None, description="Default: 13 days before `end`.")
    end: date | None = Field(default=None, description="Default: today (the Lagos day).")


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
    request_id: str | None = Field(
        default=None,
        description="This request's id (also the X-Request-ID header): quote it to support.",
    )
    errors: list[FieldError] | None = None


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    database: str
    database_engine: str = Field(description="The server's product name, never its version.")
    redis: str
