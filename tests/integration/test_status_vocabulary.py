"""Each status column's CHECK constraint, as the migrations built it, names exactly its enum.

The models write the constraint from the enum (lumipay.lifecycle.status_check); a member added
to an enum without a migration would fail here before it failed a customer's insert.
"""

from __future__ import annotations

import re
from enum import StrEnum

import pytest
import sqlalchemy as sa
from flask import Flask

from lumipay.bank.models import PayoutStatus, TopUpStatus
from lumipay.bills.models import BillStatus
from lumipay.cards.models import CardStatus, CardTransactionStatus
from lumipay.extensions import db
from lumipay.fx.models import QuoteStatus
from lumipay.kyc.models import KycStatus
from lumipay.ledger.models import HoldStatus
from lumipay.reconciliation.models import RunStatus
from lumipay.settlements.models import ProposalStatus
from lumipay.transfers.models import TransferStatus

STATUS_COLUMNS = {
    "bill_payments": BillStatus,
    "bank_payouts": PayoutStatus,
    "bank_topups": TopUpStatus,
    "cards": CardStatus,
    "card_transactions": CardTransactionStatus,
    "ledger_holds": HoldStatus,
    "kyc_submissions": KycStatus,
    "settlement_proposals": ProposalStatus,
    "reconciliation_runs": RunStatus,
    "fx_quotes": QuoteStatus,
    "transfers": TransferStatus,
}


@pytest.mark.parametrize(("table", "statuses"), sorted(STATUS_COLUMNS.items()))
def test_the_database_allows_exactly_the_enums_statuses(
    app: Flask, table: str, statuses: type[StrEnum]
) -> None:
    with app.app_context():
        definition = db.session.scalar(
            sa.text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :name"),
            {"name": f"ck_{table}_status_known"},
        )
    assert definition is not None, table
    assert re.findall(r"'([a-z_]+)'", definition) == [status.value for status in statuses]
