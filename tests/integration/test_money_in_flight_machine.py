"""A Hypothesis state machine over one wallet with bills and payouts in flight (issue 16).

Rules race the provider's answers (webhooks and requeries, repeated), the sweeps, hold expiry,
payout approvals and rejections, and maker-checker settlements, including deterministic
interleavings of an approval or a settlement with hold expiry (tests/integration/helpers/
interleave.py). Examples are derandomized, so a failing case replays exactly.

The invariant, for every operation after every step:
- its hold is captured only if the provider said delivered or two admins recorded it;
- its hold is released only if the provider said failed, two admins recorded it failed, or a
  person (rejection) or time (expiry while awaiting approval) ended it before it was sent;
- its status agrees with its hold (succeeded = captured, failed/rejected = ended, in flight =
  active): never captured and released both, never a hold ended under an operation in flight;
and `ledger verify` is clean.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select, update

from lumipay.audit.service import SYSTEM
from lumipay.auth import service as auth
from lumipay.auth.models import User
from lumipay.bank import service as bank
from lumipay.bank.models import Payout
from lumipay.bills import service as bills
from lumipay.bills.models import BillPayment
from lumipay.database import run_in_transaction
from lumipay.extensions import db
from lumipay.forms import new_idempotency_key
from lumipay.jobs import outbox
from lumipay.ledger import service as ledger
from lumipay.ledger.models import Hold
from lumipay.ledger.verify import verify_ledger
from lumipay.providers.bank import PayoutResult
from lumipay.providers.bills import BillResult, Outcome
from lumipay.settlements import service as settlements
from lumipay.settlements.models import MARK_FAILED, MARK_SUCCEEDED
from tests.conftest import PASSWORD, unique_details
from tests.integration.helpers.bank import use_sandbox_bank
from tests.integration.helpers.interleave import run_other_at
from tests.integration.helpers.machine import AppMachine

APPROVAL_THRESHOLD = 50_000
SAID = {"succeeded": Outcome.SUCCEEDED, "failed": Outcome.FAILED, "pending": Outcome.PENDING}


def make_machine(flask_app: Flask) -> type[AppMachine]:
    class MoneyInFlight(AppMachine):
        operations = Bundle("operations")

        app = flask_app

        def __init__(self) -> None:
            super().__init__()
            details = unique_details("Ada Obi")
            self.user_id = auth.register_customer(**details, origin=SYSTEM).id
            db.session.execute(update(User).where(User.id == self.user_id).values(kyc_tier=3))
            db.session.commit()
            self.admins = []
            for name in ("Maker Admin", "Checker Admin"):
                made = unique_details(name)
                self.admins.append(
                    auth.create_admin(name, made["email"], made["phone"], PASSWORD).id
                )
            # reference -> what the provider said first ("succeeded"/"failed"), and what two
            # admins recorded; and the operations a person or time ended before they were sent.
            self.provider_said: dict[str, str] = {}
            self.by_hand: dict[str, str] = {}
            self.ended_unsent: set[str] = set()
            self.kinds: dict[str, str] = {}

        # --- new money in flight -------------------------------------------------------------

        @precondition(lambda self: len(self.kinds) < 6)
        @rule(target=operations, amount=st.integers(100, 3_000).map(lambda n: n * 100))
        def pay_bill(self, amount: int) -> str:
            plan = bills.BillPlan(
                "airtime", "mtn", "sandbox", "08031234567", "08031234567", None,
                "MTN airtime for 08031234567", amount, 0,
            )  # fmt: skip
            paid = bills.pay_bill(
                self.user_id, plan, idempotency_key=new_idempotency_key(), origin=SYSTEM
            )
            self.kinds[paid.reference] = "bill"
            return paid.reference

        @precondition(lambda self: len(self.kinds) < 6)
        @rule(target=operations, approval=st.booleans())
        def request_payout(self, approval: bool) -> str:
            details = bank.PayoutDetails(
                provider="moniepoint",
                bank_code="058",
                bank_name="GTBank",
                account_number="0123456789",
                account_name="ADA OBI",
                amount=APPROVAL_THRESHOLD + 10_000 if approval else 20_000,
                fee=0,
                narration="",
            )
            requested = bank.request_payout(
                self.user_id, details, idempotency_key=new_idempotency_key(), origin=SYSTEM
            )
            self.kinds[requested.reference] = "payout"
            return requested.reference

        # --- the provider ---------------------------------------------------------------------

        @rule(reference=operations, said=st.sampled_from(sorted(SAID)), requery=st.booleans())
        def provider_answers(self, reference: str, said: str, requery: bool) -> None:
            """A webhook or a requery's answer; a final answer, once given, is the provider's
            truth and is what it repeats."""
            row = self._row(reference)
            if row.status not in ("processing", "succeeded", "failed"):
                return  # never sent: the provider knows nothing of it
            said = self.provider_said.get(reference, said)
            if said != "pending" and row.status == "processing":
                self.provider_said.setdefault(reference, said)
            result = (BillResult if self.kinds[reference] == "bill" else PayoutResult)(SAID[said])
            self._service(reference).apply_result(reference, result, schedule_requery=requery)

        # --- periodic jobs ----------------------------------------------------------------------

        @rule()
        def sweep(self) -> None:
            bills.sweep()
            bank.sweep()

        @rule(reference=operations)
        def expire(self, reference: str) -> None:
            self._expire_now(reference)
            before = self._row(reference).status
            run_in_transaction(ledger.expire_holds)
            after = self._row(reference)
            if before == "awaiting_approval" and after.status == "rejected":
                self.ended_unsent.add(reference)

        # --- people -------------------------------------------------------------------------------

        @rule(reference=operations, approve=st.booleans(), racing_expiry=st.booleans())
        def review_payout(self, reference: str, approve: bool, racing_expiry: bool) -> None:
            if self.kinds[reference] != "payout":
                return
            if racing_expiry:
                self._expire_now(reference)
            with pytest.MonkeyPatch.context() as mp:
                other = None
                if racing_expiry:
                    other = run_other_at(
                        mp, outbox, "add", lambda: run_in_transaction(ledger.expire_holds)
                    )
                with contextlib.suppress(bank.BankError):
                    if approve:
                        bank.approve_payout(self.admins[1], reference, origin=SYSTEM)
                    else:
                        bank.reject_payout(self.admins[1], reference, "No.", origin=SYSTEM)
                        self.ended_unsent.add(reference)
                if other is not None and other.started:
                    other.join()
            if self._row(reference).status == "rejected":
                self.ended_unsent.add(reference)

        @rule(
            reference=operations, succeeded=st.booleans(), meanwhile=st.sampled_from(sorted(SAID))
        )
        def settle_by_hand(self, reference: str, succeeded: bool, meanwhile: str) -> None:
            """Two admins settle it; between proposal and approval the provider may answer."""
            if self._row(reference).status != "processing":
                return
            maker, checker = self.admins
            proposal_id = settlements.propose(
                admin_id=maker,
                action=MARK_SUCCEEDED if succeeded else MARK_FAILED,
                reason="Checked with the provider's portal.",
                origin=SYSTEM,
                bill_reference=reference,
            )
            self.provider_answers(reference, meanwhile, requery=False)
            try:
                proposal = settlements.decide(
                    proposal_id, admin_id=checker, approve=True, note="", origin=SYSTEM
                )
            except settlements.SettlementError:
                settlements.decide(
                    proposal_id, admin_id=checker, approve=False, note="", origin=SYSTEM
                )
                return
            assert proposal.status == "approved"
            self.by_hand[reference] = "succeeded" if succeeded else "failed"

        @rule(reference=operations)
        def settle_by_hand_racing_expiry(self, reference: str) -> None:
            """A "mark succeeded" approved while hold expiry runs on the same hold."""
            if self._row(reference).status != "processing":
                return
            maker, checker = self.admins
            proposal_id = settlements.propose(
                admin_id=maker,
                action=MARK_SUCCEEDED,
                reason="Checked with the provider's portal.",
                origin=SYSTEM,
                bill_reference=reference,
            )
            self._expire_now(reference)
            with pytest.MonkeyPatch.context() as mp:
                other = run_other_at(
                    mp, ledger, "capture_hold", lambda: run_in_transaction(ledger.expire_holds)
                )
                settlements.decide(
                    proposal_id, admin_id=checker, approve=True, note="", origin=SYSTEM
                )
                other.join()
            self.by_hand[reference] = "succeeded"

        # --- helpers ---

        def _service(self, reference: str):  # type: ignore[no-untyped-def]
            return bills if self.kinds[reference] == "bill" else bank

        def _row(self, reference: str) -> BillPayment | Payout:
            db.session.expire_all()
            model = BillPayment if self.kinds[reference] == "bill" else Payout
            return db.session.scalars(select(model).where(model.reference == reference)).one()

        def _expire_now(self, reference: str) -> None:
            hold_id = self._row(reference).hold_id
            db.session.execute(
                update(Hold)
                .where(Hold.id == hold_id)
                .values(expires_at=Hold.created_at - timedelta(seconds=1))
            )
            db.session.commit()

        # --- invariants ---

        @invariant()
        def every_hold_ends_for_a_reason(self) -> None:
            for reference in self.kinds:
                row = self._row(reference)
                hold = db.session.get(Hold, row.hold_id)
                said = self.provider_said.get(reference)
                hand = self.by_hand.get(reference)
                if hold.status == "captured":
                    assert "succeeded" in (said, hand), (reference, said, hand)
                    assert row.status == "succeeded" and row.transaction_id == hold.transaction_id
                elif hold.status in ("released", "expired"):
                    assert "failed" in (said, hand) or reference in self.ended_unsent, (
                        reference,
                        hold.status,
                        said,
                        hand,
                    )
                    assert row.status in ("failed", "rejected"), (reference, row.status)
                else:
                    assert row.status in ("processing", "awaiting_approval"), (reference, row)

        @invariant()
        def ledger_proves_itself(self) -> None:
            db.session.expire_all()
            report = verify_ledger()
            assert report.ok, report.problems

    return MoneyInFlight


def test_money_in_flight_state_machine_keeps_every_hold_honest(
    app: Flask, db_clean: None, redis_clean, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    use_sandbox_bank(app, monkeypatch, approval_threshold=APPROVAL_THRESHOLD)
    monkeypatch.setitem(app.config, "BILLS_REQUERY_BACKOFF", [0])
    monkeypatch.setitem(app.config, "PAYOUT_REQUERY_BACKOFF", [0])
    monkeypatch.setitem(app.config, "BILLS_STUCK_AFTER", 0)
    monkeypatch.setitem(app.config, "PAYOUT_STUCK_AFTER", 0)
    run_state_machine_as_test(
        make_machine(app),
        settings=settings(
            max_examples=25,
            stateful_step_count=16,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
