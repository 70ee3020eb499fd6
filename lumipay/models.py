"""Every table, imported in one place so Alembic's autogenerate and the ORM see them all."""

from lumipay.audit.models import AuditEvent
from lumipay.auth.models import PasswordResetToken, RecoveryCode, User, UserSession
from lumipay.beneficiaries.models import Beneficiary
from lumipay.bills.models import BillPayment
from lumipay.fx.models import FxQuote, FxRate
from lumipay.idempotency.models import IdempotencyRecord
from lumipay.jobs.models import OutboxMessage
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
    "DailyFlow",
    "Entry",
    "FxQuote",
    "FxRate",
    "Hold",
    "IdempotencyRecord",
    "LedgerTransaction",
    "Notification",
    "OutboxMessage",
    "PasswordResetToken",
    "ReconciliationItem",
    "ReconciliationRun",
    "RecoveryCode",
    "SealBlock",
    "SettlementProposal",
    "Transfer",
    "User",
    "UserSession",
    "VerificationRun",
    "WebhookEvent",
]
