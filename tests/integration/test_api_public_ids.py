"""Public ids (UUIDs) and the README's body shapes: one canonical request behind both shapes,
so an Idempotency-Key replays across them, even when the twins race; `to_wallet_id` is no
oracle; the migration gives every existing row its own public id."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import sqlalchemy as sa

from lumipay.bills.models import BillPayment
from lumipay.transfers.models import Transfer
from tests.conftest import _database_url
from tests.integration.helpers.api import api_register, new_key, ngn_wallet_id
from tests.integration.helpers.ledger import assert_ledger_ok
from tests.integration.test_api import (  # noqa: F401 (fixture)
    BONUS,
    assert_problem,
    bills_sandbox,
    count,
)
from tests.integration.test_migrations_and_cli import flask, fresh_database

PUBLIC_TABLES = (
    "users",
    "ledger_accounts",
    "transfers",
    "bill_payments",
    "cards",
    "bank_topups",
    "bank_payouts",
    "fx_quotes",
)


def test_no_sequential_id_in_the_answers(app, ctx):
    ada, bayo = api_register(app, "Ada Obi"), api_register(app, "Bayo Adeyemi")
    ids = [ada.user_id, ngn_wallet_id(ada)]
    sent = ada.post(
        "/transfers/",
        {"from_wallet_id": ngn_wallet_id(ada), "to_account_number": bayo.account_number,
         "amount": 1_000},
        key=new_key(),
    ).json  # fmt: skip
    ids.append(sent["transfer_id"])
    assert all(uuid.UUID(value) for value in ids)
    sequential = ada.get(f"/wallets/{ada.pk}/balance")
    assert sequential.status_int == 404, "a wallet's sequential key names nothing"


def test_the_same_transfer_in_either_shape_replays(app, ctx):
    ada, bayo = api_register(app, "Ada Obi"), api_register(app, "Bayo Adeyemi")
    bayo_wallet = ngn_wallet_id(bayo)
    by_number = {"from_wallet_id": ngn_wallet_id(ada), "to_account_number": bayo.account_number,
                 "amount": 5_000, "narration": "Lunch"}  # fmt: skip
    by_wallet = {"from_wallet_id": ngn_wallet_id(ada), "to_wallet_id": bayo_wallet,
                 "amount": 5_000, "currency": "NGN", "narration": "Lunch"}  # fmt: skip
    key = "lunch"
    first = ada.post("/transfers/", by_wallet, key=key)
    assert first.status_int == 201, first.text
    again = ada.post("/transfers/", by_number, key=key)
    assert (again.status_int, again.json) == (201, first.json)
    assert again.headers["Idempotent-Replayed"] == "true"
    other = ada.post("/transfers/", {**by_number, "amount": 6_000}, key=key)
    assert_problem(other, 422, "idempotency-key-reused")
    assert count(Transfer) == 1
    assert_ledger_ok()


def test_twins_in_both_shapes_racing_pay_once(app, ctx):
    """Two clients send the same transfer with one key at once, one in each shape: one
    transfer, and each answer is the first one, a 409 in flight, or its replay."""
    ada, bayo = api_register(app, "Ada Obi"), api_register(app, "Bayo Adeyemi")
    bodies = [
        {"from_wallet_id": ngn_wallet_id(ada), "to_account_number": bayo.account_number,
         "amount": 7_000},
        {"from_wallet_id": ngn_wallet_id(ada), "to_wallet_id": ngn_wallet_id(bayo),
         "amount": 7_000},
    ]  # fmt: skip
    key = new_key()
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        with app.app_context():
            barrier.wait()
            response = ada.post("/transfers/", bodies[i], key=key)
            results[i] = (response.status_int, response.json)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(status for status, _ in results)
    assert statuses in ([201, 201], [201, 409]), results
    created = [body for status, body in results if status == 201]
    assert all(body == created[0] for body in created)
    assert count(Transfer) == 1
    balance = ada.get(f"/wallets/{ngn_wallet_id(ada)}/balance").json["balance"]
    assert balance == BONUS - 7_000
    assert_ledger_ok()


def test_the_same_bill_in_either_shape_replays(app, ctx, bills_sandbox):  # noqa: F811
    ada = api_register(app, "Ada Obi")
    readme = {
        "wallet_id": ngn_wallet_id(ada),
        "bill_type": "airtime",
        "recipient": "+2348031234567",
        "provider": "VTUProviderA",
        "amount": 50_000,
    }
    legacy = {"category": "airtime", "network": "mtn", "phone": "0803 123 4567", "amount": 50_000}
    first = ada.post("/bills/pay", readme, key="bill-123")
    assert first.status_int == 202, first.text
    assert first.json["network"] == "mtn" and first.json["provider"] == "sandbox"
    again = ada.post("/bills/pay", legacy, key="bill-123")
    assert (again.status_int, again.json) == (202, first.json)
    assert count(BillPayment) == 1
    ported = ada.post("/bills/pay", {**readme, "network": "glo"}, key=new_key())
    assert ported.status_int == 202 and ported.json["network"] == "glo", "numbers are portable"
    unknown = ada.post("/bills/pay", {**readme, "provider": "VTUProviderZ"}, key=new_key())
    doc = assert_problem(unknown, 422, "validation-error")
    assert doc["errors"][0]["field"] == "provider"
    assert "VTUProviderA" in doc["detail"] and "sandbox" in doc["detail"]


def test_to_wallet_id_refusals_are_one_and_count_as_name_enquiries(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "LIMIT_NAME_ENQUIRY", "3 per minute")
    ada, bayo = api_register(app, "Ada Obi"), api_register(app, "Bayo Adeyemi")
    bayo_usd = bayo.post("/wallets/", {"currency": "USD"}, key=new_key()).json["wallet_id"]
    base = {"from_wallet_id": ngn_wallet_id(ada), "amount": 100}
    answers = []
    for target in (str(uuid.uuid4()), ngn_wallet_id(ada), bayo_usd):
        response = ada.post("/transfers/", {**base, "to_wallet_id": target}, key=new_key())
        answers.append((response.status_int, response.json["errors"], response.json["detail"]))
    assert len(set(map(str, answers))) == 1 and answers[0][0] == 422
    limited = ada.post("/transfers/", {**base, "to_wallet_id": ngn_wallet_id(bayo)}, key=new_key())
    assert_problem(limited, 429, "rate-limited")
    assert count(Transfer) == 0


def test_the_migration_gives_every_existing_row_its_own_public_id(app):
    url = fresh_database(f"{sa.engine.make_url(_database_url()).database}_public_ids")
    for step in (["db", "upgrade"], ["demo", "seed"], ["db", "downgrade", "2aa9f42b40a6"]):
        result = flask(*step, DATABASE_URL=url)
        assert result.returncode == 0, f"{step}: {result.stdout}{result.stderr}"
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = {
            table: conn.scalar(sa.text(f"SELECT count(*) FROM {table}")) for table in PUBLIC_TABLES
        }
    assert rows["users"] and rows["ledger_accounts"] and rows["transfers"] and rows["bill_payments"]
    result = flask("db", "upgrade", DATABASE_URL=url)
    assert result.returncode == 0, result.stdout + result.stderr
    with engine.connect() as conn:
        for table in PUBLIC_TABLES:
            distinct = conn.scalar(sa.text(f"SELECT count(DISTINCT public_id) FROM {table}"))
            assert distinct == rows[table], table
    engine.dispose()


def test_pages_name_wallets_by_public_id_in_their_urls(register, ctx):
    from tests.integration.test_dashboard_and_wallets import wallets_of

    ada = register("Ada Obi")
    ngn = wallets_of(ada)["NGN"]
    dashboard = ada.get("/dashboard")
    link = dashboard.html.find("a", string="Send NGN")["href"]
    assert link == f"/transfers/new?from={ngn.public_id}"
    form = ada.get(link).forms["transfer-form"]
    assert form["from_wallet_id"].value == str(ngn.id)
    history = ada.get("/dashboard/history").forms
    options = [value for form in history.values() if "wallet" in form.fields
               for value, _, _ in form["wallet"].options]  # fmt: skip
    assert str(ngn.public_id) in options and str(ngn.id) not in options
    statement = ada.get("/statements").forms["statement-form"]
    assert [value for value, _, _ in statement["wallet"].options] == [str(ngn.public_id)]
