"""Each bank provider's clearing account in the ledger (its own module: the payouts and the
reversals both post to it, and neither imports the other for it)."""

from __future__ import annotations

from lumipay.ledger import service as ledger
from lumipay.ledger.models import Account


def clearing_account(provider: str, currency: str) -> Account:
    """The provider's clearing account: what it holds for us (top-ups) or owes out (payouts)."""
    return ledger.system_account(f"{provider}_clearing", currency)
