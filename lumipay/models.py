"""Every table, imported in one place so Alembic's autogenerate and the ORM see them all."""

from lumipay.audit.models import AuditEvent
from lumipay.auth.models import PasswordResetToken, RecoveryCode, User, UserSession
from lumipay.beneficiaries.models import Beneficiary
from lumipay.idempotency.models import IdempotencyRecord
from lumipay.ledger.models import Account, Entry, Hold, LedgerTransaction
from lumipay.transfers.models import Transfer

__all__ = [
    "Account",
    "AuditEvent",
    "Beneficiary",
    "Entry",
    "Hold",
    "IdempotencyRecord",
    "LedgerTransaction",
    "PasswordResetToken",
    "RecoveryCode",
    "Transfer",
    "User",
    "UserSession",
]
