"""Money safety under concurrency, on PostgreSQL with real row locks."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select

from lumipay.accounts.service import wallets_for
from lumipay.audit.service import SYSTEM
from lumipay.auth.service import register_customer
from lumipay.database import run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.forms import new_idempotency_key
from lumipay.ledger import service as ledger
from lumipay.ledger.errors import InsufficientFunds
from lumipay.ledger.models import WALLET, Account, Hold
from lumipay.ledger.verify import verify_ledger
from lumipay.refusals import Refused
from lumipay.transfers.models import Transfer
from lumipay.transfers.service import send_transfer
from tests.conftest import Browser, set_tier, unique_details

THREADS = 8
TRANSFERS_PER_THREAD = 200
CUSTOMERS = 20


def test_random_concurrent_transfers_conserve_money_and_never_overdraw(app: Flask, ctx):
    users = [register_customer(**unique_details(), origin=SYSTEM) for _ in range(CUSTOMERS)]
    for user in users:
        set_tier(user.email, 3)  # many transfers a day, and balances past Tier 1's maximum
    people = [(u.id, u.account_number, wallets_for(u.id)[0].id) for u in users]
    total_before = db.session.scalar(
        select(func.sum(Account.balance)).where(Account.kind == WALLET)
    )
    outcomes: dict[str, int] = {"sent": 0, "refused": 0}
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        with app.app_context():
            for _ in range(TRANSFERS_PER_THREAD):
                sender, recipient = rng.sample(people, 2)
                # One in five tries to send more than anyone holds: an overdraft attempt.
                amount = rng.choice([rng.randint(1, 3_000_000)] * 4 + [30_000_000])
                try:
                    send_transfer(
                        sender[0],
                        sender[2],
                        recipient[1],
                        amount,
                        "load",
                        idempotency_key=new_idempotency_key(),
                        origin=SYSTEM,
                    )
                    result = "sent"
                except Refused:
                    result = "refused"
                with lock:
                    outcomes[result] += 1

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))

    db.session.expire_all()
    assert outcomes["sent"] + outcomes["refused"] == THREADS * TRANSFERS_PER_THREAD
    assert outcomes["sent"] > THREADS * TRANSFERS_PER_THREAD // 2
    assert outcomes["refused"] > 0
    assert db.session.scalar(select(func.count(Transfer.id))) == outcomes["sent"]
    lowest = db.session.scalar(select(func.min(Account.balance)).where(Account.kind == WALLET))
    assert lowest >= 0
    total_after = db.session.scalar(select(func.sum(Account.balance)).where(Account.kind == WALLET))
    assert total_after == total_before == CUSTOMERS * 10_000_000
    report = verify_ledger()
    assert report.ok, report.problems
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output


def test_opposite_transfers_at_once_do_not_deadlock(app: Flask, ctx):
    a = register_customer(**unique_details("Ada Obi"), origin=SYSTEM)
    b = register_customer(**unique_details("Bayo Ade"), origin=SYSTEM)
    pairs = [
        (a.id, wallets_for(a.id)[0].id, b.account_number),
        (b.id, wallets_for(b.id)[0].id, a.account_number),
    ]
    barrier = threading.Barrier(10)

    def send(i: int) -> str:
        user_id, wallet_id, to = pairs[i % 2]
        with app.app_context():
            barrier.wait()
            return send_transfer(
                user_id,
                wallet_id,
                to,
                1_000,
                "",
                idempotency_key=new_idempotency_key(),
                origin=SYSTEM,
            ).reference

    with ThreadPoolExecutor(10) as pool:
        references = list(pool.map(send, range(10)))
    assert len(set(references)) == 10
    db.session.expire_all()
    assert [w.balance for w in (*wallets_for(a.id), *wallets_for(b.id))] == [10_000_000] * 2
    assert verify_ledger().ok


def test_concurrent_holds_cannot_exceed_available_balance(app: Flask, ctx):
    user = register_customer(**unique_details("Hold Tester"), origin=SYSTEM)
    wallet_id = wallets_for(user.id)[0].id
    # Spend down to 5,000 kobo so six holds of 1,000 race for room for five.
    sink = ledger.system_account("test_sink", "NGN")
    run_in_transaction(lambda: ledger.transfer("test", wallet_id, sink.id, 10_000_000 - 5_000))
    barrier = threading.Barrier(6)

    def hold(i: int) -> bool:
        with app.app_context():
            barrier.wait()
            try:
                run_in_transaction(
                    lambda: ledger.place_hold(
                        wallet_id,
                        1_000,
                        owner="test",
                        reference=f"race-{i}",
                        expires_at=utcnow() + timedelta(minutes=1),
                    )
                )
            except InsufficientFunds:
                return False
            return True

    with ThreadPoolExecutor(6) as pool:
        placed = list(pool.map(hold, range(6)))
    assert placed.count(True) == 5
    db.session.expire_all()
    wallet = db.session.get(Account, wallet_id)
    assert (wallet.balance, wallet.held, wallet.available) == (5_000, 5_000, 0)
    assert db.session.scalar(select(func.count(Hold.id))) == 5
    assert verify_ledger().ok


def test_ten_concurrent_submits_of_one_confirm_form_make_one_transfer(app: Flask, register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    form = ada.browser.get("/transfers/new").forms["transfer-form"]
    form["to_account_number"] = bayo.account_number
    form["amount"] = "5,000"
    confirm = form.submit().forms["confirm-form"]
    confirm["pin"] = ada.pin
    fields = dict(confirm.submit_fields())
    cookies = {cookie.name: cookie.value for cookie in ada.browser.cookiejar}
    barrier = threading.Barrier(10)

    def submit(_: int) -> tuple[int, str]:
        browser = Browser(app, extra_environ={"REMOTE_ADDR": "198.51.100.20"})
        for name, value in cookies.items():
            browser.set_cookie(name, value)
        barrier.wait()
        response = browser.post("/transfers/confirm", fields, expect_errors=True)
        return response.status_int, response.headers.get("Location", "")

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(submit, range(10)))

    assert {status for status, _ in results} == {303}
    assert len({location for _, location in results}) == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Transfer.id))) == 1
    assert "₦95,000.00" in ada.get("/dashboard").text
    assert verify_ledger().ok
