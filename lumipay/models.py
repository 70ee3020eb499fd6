"""Every table, imported in one place so Alembic's autogenerate and the ORM see them all."""

from lumipay.audit.models import AuditEvent
from lumipay.auth.models import User
from lumipay.idempotency.models import IdempotencyRecord
from lumipay.ledger.models import Account, DailyFlow, Entry, Hold, LedgerTransaction
from lumipay.transfers.models import Transfer

__all__ = [
    "Account",
    "AuditEvent",
    "DailyFlow",
    "Entry",
    "Hold",
    "IdempotencyRecord",
    "LedgerTransaction",
    "Transfer",
    "User",
]
