"""Every table, imported in one place so Alembic's autogenerate and the ORM see them all."""

from lumipay.api.models import RefreshToken
from lumipay.audit.models import AuditEvent
from lumipay.auth.models import PasswordResetToken, RecoveryCode, User, UserSession
from lumipay.bank.models import Payout, ReservedAccount, TopUp
from lumipay.bank.reversals import TopUpReversal
from lumipay.beneficiaries.models import Beneficiary
from lumipay.bills.models import BillPayment
from lumipay.cards.models import Card, CardTransaction
from lumipay.fx.models import FxQuote, FxRate
from lumipay.idempotency.models import IdempotencyRecord
from lumipay.jobs.models import OutboxMessage
from lumipay.kyc.models import KycSubmission
from lumipay.ledger.models import (
    Account,
    DailyFlow,
    Entry,
    Hold,
    LedgerTransaction,
    SealBlock,
    VerificationRun,
)
from lumipay.notifications.models import Notification
from lumipay.reconciliation.models import ReconciliationItem, ReconciliationRun
from lumipay.settlements.models import SettlementProposal
from lumipay.transfers.models import Transfer
from lumipay.webhooks.models import WebhookEvent

__all__ = [
    "Account",
    "AuditEvent",
    "Beneficiary",
    "BillPayment",
    "Card",
    "CardTransaction",
    "DailyFlow",
    "Entry",
    "FxQuote",
    "FxRate",
    "Hold",
    "IdempotencyRecord",
    "KycSubmission",
    "LedgerTransaction",
    "Notification",
    "OutboxMessage",
    "PasswordResetToken",
    "Payout",
    "ReconciliationItem",
    "ReconciliationRun",
    "RecoveryCode",
    "RefreshToken",
    "ReservedAccount",
    "SealBlock",
    "SettlementProposal",
    "TopUp",
    "TopUpReversal",
    "Transfer",
    "User",
    "UserSession",
    "VerificationRun",
    "WebhookEvent",
]
