"""Manual settlement under maker-checker, through the back office's forms: a proposal moves
nothing; the proposer can never approve (not even by a forged POST); a second admin's approval
posts through the bills service or the ledger under a reference the proposal keeps."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import select, text

from lumipay.audit.models import AuditEvent
from lumipay.auth.models import User
from lumipay.bills.models import BillPayment
from lumipay.clock import lagos_day
from lumipay.extensions import db
from lumipay.ledger.models import Account, Hold, LedgerTransaction
from lumipay.ledger.verify import verify_ledger
from lumipay.settlements.models import SettlementProposal
from lumipay.settlements.service import for_transaction as service_for_transaction
from tests.integration.helpers.bills import run_worker
from tests.integration.helpers.ledger import money_state
from tests.integration.test_bills import bills_config as bills_config
from tests.integration.test_bills import buy_airtime
from tests.integration.test_transfers import send, wallet

WORKER = {"BILLS_REQUERY_BACKOFF": "600"}


def bills(customer, *phones: str) -> list[BillPayment]:  # type: ignore[no-untyped-def]
    for phone in phones:
        assert buy_airtime(customer, phone, "1,000").status_int == 303
    run_worker(**WORKER)
    db.session.expire_all()
    return list(db.session.scalars(select(BillPayment).order_by(BillPayment.id)))


def propose(admin, **fields: str):  # type: ignore[no-untyped-def]
    page = admin.get("/admin/settlements", params={"bill": fields.pop("bill", "")})
    form = page.forms["proposal-form"]
    for name, value in fields.items():
        form[name] = value
    return form.submit(expect_errors=True)


def proposal() -> SettlementProposal:
    db.session.expire_all()
    return db.session.scalar(select(SettlementProposal).order_by(SettlementProposal.id.desc()))


def user_id(person) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(User.id).where(User.email == person.email))


def test_maker_checker_marks_a_stuck_bill_succeeded(ctx, register, admin):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    (stuck,) = bills(ada, "08031119999")
    assert stuck.status == "processing"
    tola, kemi = admin("Tola Bello"), admin("Kemi Ade")
    before = money_state()
    done = propose(
        tola, bill=stuck.reference, action="mark_succeeded", reason="Provider confirms delivery"
    )
    assert done.status_int == 303
    page = done.follow()
    assert f"Settlement #{proposal().id} proposed" in page.text
    assert "You proposed this: another admin must decide." in page.text
    assert f"approve-{proposal().id}-form" not in page.forms
    assert money_state() == before, "a proposal moves nothing"

    # The proposer forges the approval POST with a valid CSRF token of their own.
    token = page.forms["proposal-form"]["csrf_token"].value
    forged = tola.browser.post(
        f"/admin/settlements/{proposal().id}/approve", {"csrf_token": token, "note": "me"}
    ).follow()
    assert "a different admin must approve or reject it" in forged.text
    assert proposal().status == "pending" and money_state() == before

    approved = kemi.get("/admin/settlements").forms[f"approve-{proposal().id}-form"].submit()
    assert "approved and posted" in approved.follow().text
    settled = proposal()
    assert settled.status == "approved" and settled.decided_by == user_id(kemi)
    bill = db.session.get(BillPayment, stuck.id)
    assert bill.status == "succeeded" and not bill.needs_attention
    assert db.session.get(Hold, bill.hold_id).status == "captured"
    txn = db.session.get(LedgerTransaction, settled.transaction_id)
    assert txn.id == bill.transaction_id and txn.reference.startswith("MS")
    assert wallet(ada).balance == 10_000_000 - 100_000
    detail = kemi.get(f"/admin/transactions/{txn.reference}")
    assert (
        "Provider confirms delivery" in detail.html.find(attrs={"data-testid": "settlement"}).text
    )
    events = db.session.execute(
        select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.details)
        .where(AuditEvent.action.like("settlement.%"))
        .order_by(AuditEvent.id)
    ).all()
    assert [(a, actor) for a, actor, _ in events] == [
        ("settlement.propose", user_id(tola)),
        ("settlement.approve", user_id(kemi)),
    ]
    assert events[1][2]["proposed_by"] == user_id(tola)
    assert events[1][2]["transaction"] == txn.reference
    assert verify_ledger().ok


def test_the_database_refuses_a_proposer_deciding(ctx, register, admin):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    (stuck,) = bills(ada, "08031119999")
    tola = admin()
    propose(tola, bill=stuck.reference, action="mark_failed", reason="Network confirms failure")
    refused = pytest.raises(sa.exc.IntegrityError, match="checker_is_not_maker")
    with refused, db.engine.begin() as conn:
        conn.execute(text("UPDATE settlement_proposals SET decided_by = proposed_by"))


def test_mark_failed_releases_a_processing_bill(ctx, register, admin):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    (stuck,) = bills(ada, "08031119999")
    tola, kemi = admin("Tola Bello"), admin("Kemi Ade")
    propose(tola, bill=stuck.reference, action="mark_failed", reason="Network says not delivered")
    kemi.get("/admin/settlements").forms[f"approve-{proposal().id}-form"].submit()
    bill = db.session.get(BillPayment, stuck.id)
    assert bill.status == "failed"
    assert db.session.get(Hold, bill.hold_id).status == "released"
    assert proposal().transaction_id is None, "a release posts nothing"
    assert wallet(ada).available == 10_000_000
    assert verify_ledger().ok


def test_mark_failed_refunds_a_succeeded_bill_once(ctx, register, admin):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    (paid,) = bills(ada, "08031110001")
    assert paid.status == "succeeded"
    tola, kemi = admin("Tola Bello"), admin("Kemi Ade")
    propose(tola, bill=paid.reference, action="mark_failed", reason="Provider reports it failed")
    kemi.get("/admin/settlements").forms[f"approve-{proposal().id}-form"].submit()
    refund = db.session.get(LedgerTransaction, proposal().transaction_id)
    assert refund.kind == "bill_refund" and refund.parent_id == paid.transaction_id
    assert wallet(ada).balance == 10_000_000
    propose(tola, bill=paid.reference, action="mark_failed", reason="Refund it a second time")
    again = kemi.get("/admin/settlements").forms[f"approve-{proposal().id}-form"].submit()
    assert "refunded already" in again.follow().text
    assert proposal().status == "pending"
    assert wallet(ada).balance == 10_000_000
    assert verify_ledger().ok


def test_reject_moves_nothing(ctx, register, admin):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    (stuck,) = bills(ada, "08031119999")
    tola, kemi = admin("Tola Bello"), admin("Kemi Ade")
    propose(
        tola, bill=stuck.reference, action="mark_succeeded", reason="Provider confirms delivery"
    )
    before = money_state()
    kemi.get("/admin/settlements").forms[f"reject-{proposal().id}-form"].submit()
    assert proposal().status == "rejected" and money_state() == before
    assert db.session.get(BillPayment, stuck.id).status == "processing"


def test_adjustment_between_named_accounts(ctx, register, admin):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    tola, kemi = admin("Tola Bello"), admin("Kemi Ade")
    done = propose(
        tola,
        action="adjustment",
        debit="bonus_funding:NGN",
        credit=ada.account_number,
        amount="1,500.00",
        currency="NGN",
        narration="Goodwill credit from Lumipay",
        reason="Goodwill credit for a failed top-up",
    )
    assert done.status_int == 303
    kemi.get("/admin/settlements").forms[f"approve-{proposal().id}-form"].submit()
    txn = db.session.get(LedgerTransaction, proposal().transaction_id)
    # The customer's history says the narration; the reason stays in the back office.
    assert txn.kind == "adjustment" and txn.narration == "Goodwill credit from Lumipay"
    assert "failed top-up" not in ada.get("/dashboard/history").text
    assert service_for_transaction(txn.id).id == proposal().id
    assert wallet(ada).balance == 10_150_000
    assert verify_ledger().ok


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"debit": "nobody:NGN", "credit": "fees:NGN"}, "Name a system account"),
        ({"debit": "bonus_funding:NGN", "credit": "bonus_funding:NGN"}, "must be different"),
        ({"debit": "{ada}", "credit": "bonus_funding:NGN", "currency": "USD"}, "No USD wallet"),
        ({"debit": "bonus_funding:NGN", "credit": "{ada}", "currency": "USD"}, "not USD"),
        ({"debit": "bonus_funding:NGN", "credit": "{ada}", "amount": "1.234"}, "decimal"),
        ({"debit": "{ada}", "credit": "bonus_funding:NGN", "amount": "100,000.01"}, "available"),
        ({"reason": "short"}, "at least 10"),
    ],
)
def test_bad_proposals_are_refused_and_record_nothing(ctx, register, admin, fields, message):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    values = {
        "action": "adjustment",
        "amount": "10.00",
        "currency": "NGN",
        "reason": "A good enough reason",
        **fields,
    }
    values = {k: v.replace("{ada}", ada.account_number) for k, v in values.items()}
    refused = propose(admin(), **values)
    assert refused.status_int == 422
    assert message in refused.text
    assert proposal() is None


def test_adjustment_respects_available_balance_when_approved(ctx, register, admin):  # type: ignore[no-untyped-def]
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    tola, kemi = admin("Tola Bello"), admin("Kemi Ade")
    propose(
        tola,
        action="adjustment",
        debit=ada.account_number,
        credit="bonus_funding:NGN",
        amount="90,000",
        currency="NGN",
        reason="Recover a bill the provider delivered late",
    )
    send(ada, bayo.account_number, "20,000")  # now only ₦80,000 is available
    before = money_state()
    refused = kemi.get("/admin/settlements").forms[f"approve-{proposal().id}-form"].submit()
    assert "Not posted" in refused.follow().text
    assert proposal().status == "pending" and money_state() == before
    assert (
        db.session.scalar(select(Account.balance).where(Account.id == wallet(ada).id)) == 8_000_000
    )


def test_a_reconciliation_exception_is_resolved_from_its_run_page(
    ctx, register, admin, app, monkeypatch
):  # type: ignore[no-untyped-def]
    from lumipay.audit.service import SYSTEM
    from lumipay.database import utcnow
    from lumipay.reconciliation import service as reconciliation
    from lumipay.settlements import service as settlements

    monkeypatch.setitem(app.config, "SANDBOX_RECON_DISCREPANCIES", True)
    ada = register("Ada Obi")
    (stuck,) = bills(ada, "08031119999")
    today = lagos_day(utcnow())
    run_id = reconciliation.request_run(
        "bills-sandbox", today, today, requested_by=None, origin=SYSTEM
    )
    assert reconciliation.carry_out(run_id) == "completed"
    tola, kemi = admin("Tola Bello"), admin("Kemi Ade")
    run_page = tola.get(f"/admin/reconciliation/{run_id}")
    row = run_page.html.find("tr", class_="outcome-status_mismatch")
    assert stuck.reference in row.text
    form = tola.get(row.find("a")["href"]).forms["proposal-form"]
    assert form["action"].value == "mark_succeeded"
    assert form["bill_reference"].value == stuck.reference
    form["reason"] = "Provider's report says delivered"
    form.submit().follow()
    assert proposal().item_id is not None
    assert settlements.open_exceptions() == 2  # this one and the sandbox's phantom line
    kemi.get("/admin/settlements").forms[f"approve-{proposal().id}-form"].submit()
    assert db.session.get(BillPayment, stuck.id).status == "succeeded"
    assert (
        f"Settlement #{proposal().id}</a> (approved)"
        in tola.get(f"/admin/reconciliation/{run_id}").text
    )
    assert settlements.open_exceptions() == 1
    assert verify_ledger().ok
