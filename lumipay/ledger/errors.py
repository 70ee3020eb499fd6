"""Errors the ledger raises; each message can be shown to a customer as it is."""

from __future__ import annotations


class LedgerError(Exception):
    """A posting was refused; nothing was written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InsufficientFunds(LedgerError):
    def __init__(self, account_id: int, available: int, needed: int) -> None:
        super().__init__("Insufficient available balance for this payment.")
        self.account_id = account_id
        self.available = available
        self.needed = needed


class UnbalancedTransaction(LedgerError):
    pass


class HoldNotActive(LedgerError):
    pass


class LimitRefused(LedgerError):
    """The limits a posting was given refuse it; `refusal` says which and by how much (the
    caller that decided the limits, lumipay.kyc.limits, words it for the customer)."""

    def __init__(self, refusal: dict[str, object]) -> None:
        super().__init__("Refused by a limit.")
        self.refusal = refusal
