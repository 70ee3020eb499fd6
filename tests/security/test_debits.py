"""Step-up on every money-moving action, by value, by the Lagos day's total and on the first
payment to an account never paid before; every debit route's confirm step asks for the PIN."""

from __future__ import annotations

from datetime import UTC, datetime

import pyotp

from lumipay import clock as lagos
from tests.conftest import set_tier, submit_debit
from tests.integration.helpers.api import api_register
from tests.integration.helpers.ledger import money_state
from tests.integration.test_api import assert_problem, transfer_body
from tests.integration.test_transfers import send, step_one
from tests.security.routes import DEBITS, SIGNED_IN
from tests.security.test_stepup import signed_in_with_totp


def test_the_lagos_day_starts_at_23_00_utc(app, ctx):
    late = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    assert lagos.lagos_day(late).isoformat() == "2026-12-02"
    start = lagos.day_start(lagos.lagos_day(late))
    assert start == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)


def test_splitting_under_the_threshold_steps_up_on_the_days_total(app, register, ctx, mails):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    set_tier(ada.email, 3)
    set_tier(bayo.email, 3)
    send(bayo, ada.account_number, "50,000")  # Ada holds ₦150,000
    send(ada, bayo.account_number, "40,000")  # each under the ₦50,000 threshold
    send(ada, bayo.account_number, "40,000")
    confirm = step_one(ada, bayo.account_number, "40,000").forms["confirm-form"]  # ₦120,000
    asked = confirm.submit(expect_errors=True)
    assert asked.status_int == 422 and "We emailed you a one-time code" in asked.text
    assert submit_debit(app, asked.forms["confirm-form"]).status_int == 303


def test_a_first_payment_to_a_new_account_needs_the_code_with_two_step_on(
    app, register, ctx, clock
):
    ada, secret = signed_in_with_totp(app, register, clock)
    bayo = api_register(app, "Bayo Adeyemi")
    before = money_state()
    first = ada.post("/transfers/", transfer_body(ada, bayo, 100), key="f" * 20)
    assert_problem(first, 401, "otp-required")
    assert money_state() == before
    code = pyotp.TOTP(secret).at(clock())
    paid = ada.post("/transfers/", transfer_body(ada, bayo, 100, otp_code=code), key="g" * 20)
    assert paid.status_int == 201
    again = ada.post("/transfers/", transfer_body(ada, bayo, 100), key="h" * 20)
    assert again.status_int == 201, "a known account, a small amount: the PIN is enough"


def test_the_route_table_marks_every_debit():
    marked = {r.rule for r in DEBITS}
    for rule in ("/transfers/confirm", "/bills/airtime/confirm", "/bills/data/confirm",
                 "/bank/payout/confirm", "/fx/confirm", "/cards/<reference>/reveal", "/cards/new",
                 "/api/lumipay/v1/transfers/", "/api/lumipay/v1/cards/"):  # fmt: skip
        assert rule in marked, rule
    assert all(r.access in (SIGNED_IN, "token") for r in DEBITS)


def test_the_first_payment_check_finds_the_payee_by_index_whatever_the_history(app, register, ctx):
    """Whether money went to an account before is looked up by the payee (the partial
    indexes of migration efa93d6bbbf0), in the generic plan a prepared statement settles on,
    not by reading every audit row a long-standing customer has."""
    import sqlalchemy as sa

    from lumipay.auth import debits
    from lumipay.extensions import db

    ada = register("Ada Obi")
    user_id = db.session.scalar(sa.text("SELECT id FROM users WHERE email = :e"), {"e": ada.email})
    db.session.execute(
        sa.text(
            "INSERT INTO audit_events (actor_id, action, details, created_at) "
            "SELECT :u, 'auth.login', '{}', now() FROM generate_series(1, 3000)"
        ),
        {"u": user_id},
    )
    db.session.execute(sa.text("ANALYZE audit_events"))
    db.session.commit()
    for paid, index, values in (
        ("lumipay", "ix_audit_events_transfer_payee", {"number": "1000000000"}),
        ("bank", "ix_audit_events_payout_payee", {"number": "0123456789", "bank_code": "058"}),
    ):
        weighing = debits._weighing(False, paid, False)
        connection = db.session.connection()
        connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        connection.exec_driver_sql(f"PREPARE probe_{paid} {weighing.body}")
        keys = [key for key, _ in weighing._types]
        arguments = {"user_id": user_id, **values}
        plan = connection.exec_driver_sql(
            f"EXPLAIN EXECUTE probe_{paid}(" + ", ".join(f"%({key})s" for key in keys) + ")",
            {key: arguments[key] for key in keys},
        ).scalars()
        text = "\n".join(plan)
        assert index in text, text
        db.session.rollback()
