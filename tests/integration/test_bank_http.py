"""The Moniepoint and UBA HTTP adapters against fake providers served over real HTTP on
loopback, with real RQ workers: client-credentials tokens (cached, refreshed on 401 and on
expiry), reserved accounts and checkout, Moniepoint's own webhook signature, payouts that go
out once whatever happens (job run twice, retry after a lost answer, timeout then requery, a
5xx before arrival), refusals and name-enquiry errors."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import func, select

from lumipay.bank import service
from lumipay.bank.models import TopUp
from lumipay.extensions import db
from lumipay.ledger.models import Hold, LedgerTransaction
from lumipay.providers import bank_list, bank_provider_named, moniepoint
from lumipay.providers.bank import CBN_BANKS, ProviderError
from lumipay.providers.oauth import forget_tokens
from lumipay.providers.settlement_report import SettlementLine
from tests.integration.helpers.bank import (
    BANK_SECRET,
    SECRET,
    WEBHOOK,
    payout,
    payout_step_one,
    reference_in,
    request_payout,
    settle,
    start_topup,
    tier_two_register,  # noqa: F401 (the `register` here)
    topup,
)
from tests.integration.helpers.bank_fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeMoniepoint,
    FakeUBA,
)
from tests.integration.helpers.bills import ServerThread
from tests.integration.helpers.ledger import assert_ledger_ok
from tests.integration.test_transfers import balances_on_dashboard


class Fakes:
    def __init__(self, monie: FakeMoniepoint, uba: FakeUBA, env: dict[str, str]) -> None:
        self.monie, self.uba, self.env = monie, uba, env

    def settle(self, **extra: str) -> None:
        settle(**{**self.env, **extra})


@pytest.fixture()
def fakes(app, redis_clean, monkeypatch):  # type: ignore[no-untyped-def]
    monie, uba = FakeMoniepoint(), FakeUBA()
    forget_tokens()
    with ServerThread(monie) as monie_server, ServerThread(uba) as uba_server:
        settings = {
            "BANK_PROVIDER_MODE": "http",
            "MONIEPOINT_BASE_URL": monie_server.url,
            "MONIEPOINT_CLIENT_ID": CLIENT_ID,
            "MONIEPOINT_CLIENT_SECRET": CLIENT_SECRET,
            "MONIEPOINT_CONTRACT_CODE": "1234567890",
            "MONIEPOINT_SOURCE_ACCOUNT": "3000000001",
            "UBA_BASE_URL": uba_server.url,
            "UBA_CLIENT_ID": CLIENT_ID,
            "UBA_CLIENT_SECRET": CLIENT_SECRET,
            "UBA_SOURCE_ACCOUNT": "1000000001",
            "BANK_PROVIDER_TIMEOUT": "1",
        }
        for key, value in settings.items():
            monkeypatch.setitem(app.config, key, int(value) if key.endswith("TIMEOUT") else value)
        monkeypatch.setitem(
            app.config, "WEBHOOK_SECRETS", {"bills": SECRET, "bank": BANK_SECRET, "cards": ""}
        )
        monkeypatch.setitem(app.config, "PAYOUT_FEE", 5_000)
        monkeypatch.setitem(app.config, "PAYOUT_REQUERY_BACKOFF", [0])
        # Straight to the provider: approval is tested with the sandbox.
        monkeypatch.setitem(app.config, "PAYOUT_APPROVAL_THRESHOLD", 10**12)
        yield Fakes(monie, uba, settings)
    forget_tokens()


def payouts_posted() -> int:
    return db.session.scalar(
        select(func.count(LedgerTransaction.id)).where(LedgerTransaction.kind == "bank_payout")
    )


def disbursements(fake) -> list[str]:  # type: ignore[no-untyped-def]
    return [p for p in fake.paths() if p == "/api/v2/disbursements/single"]


def test_tokens_are_cached_refreshed_on_401_and_on_expiry(ctx, fakes):  # type: ignore[no-untyped-def]
    adapter = bank_provider_named("moniepoint")
    assert [b.code for b in adapter.banks()] == ["058", "057"]
    assert bank_provider_named("moniepoint").banks()  # a new adapter, the cached token
    assert fakes.monie.logins == 1
    fakes.monie.revoke()
    assert adapter.name_enquiry("058", "0123456789").account_name == "MONIE HOLDER"
    assert fakes.monie.logins == 2
    forget_tokens()
    fakes.uba.expires_in = 10  # inside the adapter's 30-second leeway: expired at once
    uba = bank_provider_named("uba")
    uba.name_enquiry("058", "0123456789")
    before = fakes.uba.logins
    uba.name_enquiry("058", "0123456789")
    assert fakes.uba.logins == before + 1


def test_a_refused_client_secret_is_a_provider_error(ctx, register, fakes, app, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "MONIEPOINT_CLIENT_SECRET", "wrong")
    forget_tokens()
    with pytest.raises(ProviderError, match="reach Moniepoint"):
        bank_provider_named("moniepoint").banks()
    ada = register("Ada Obi")
    page = start_topup(ada, "5,000", "moniepoint:checkout")
    assert page.status_int == 422 and "reach Moniepoint to start the payment" in page.text
    assert db.session.scalar(select(func.count(TopUp.id))) == 0


def bank_list_asks(fake) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for path in fake.paths() if path.endswith("/banks"))


def offered_banks(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [text for _, _, text in page.forms["transfer-form"]["bank_code"].options]


def test_the_bank_list_is_asked_for_once_across_pages_and_kept_in_redis(
    ctx, register, fakes, redis_clean, app
):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    for _ in range(3):
        page = ada.get("/transfers/new")
        assert offered_banks(page) == ["Lumipay", "Guaranty Trust Bank", "Zenith Bank"]
    assert bank_list_asks(fakes.monie) == 1
    kept = [key.decode() for key in redis_clean.scan_iter(match=bank_list.PREFIX + "*")]
    assert kept == [f"{bank_list.PREFIX}moniepoint:http:{fakes.env['MONIEPOINT_BASE_URL']}"]
    # Another web process (nothing kept in it yet) reads the same list from Redis.
    app.extensions["lumipay_bank_lists"].clear()
    assert offered_banks(ada.get("/transfers/new"))[1:] == ["Guaranty Trust Bank", "Zenith Bank"]
    assert bank_list_asks(fakes.monie) == 1


def test_without_redis_the_bank_list_is_kept_in_the_process(
    ctx, fakes, redis_clean, app, monkeypatch
):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    assert [b.name for b in service.banks()] == ["Guaranty Trust Bank", "Zenith Bank"]
    assert [b.name for b in service.banks()] == ["Guaranty Trust Bank", "Zenith Bank"]
    assert bank_list_asks(fakes.monie) == 1
    assert list(redis_clean.scan_iter(match=bank_list.PREFIX + "*")) == []


def test_another_provider_mode_or_address_is_another_bank_list(ctx, fakes, app, monkeypatch):  # type: ignore[no-untyped-def]
    assert [b.code for b in service.banks()] == ["058", "057"]
    monkeypatch.setitem(app.config, "BANK_PAYOUT_PROVIDER", "uba")
    assert [b.code for b in service.banks()] == ["058"]
    assert bank_list_asks(fakes.uba) == 1
    monkeypatch.setitem(app.config, "BANK_PROVIDER_MODE", "sandbox")
    assert len(service.banks()) == len(CBN_BANKS)
    monkeypatch.setitem(app.config, "BANK_PROVIDER_MODE", "http")
    monkeypatch.setitem(app.config, "BANK_PAYOUT_PROVIDER", "moniepoint")
    assert [b.code for b in service.banks()] == ["058", "057"]
    assert (bank_list_asks(fakes.monie), bank_list_asks(fakes.uba)) == (1, 1)
    elsewhere = FakeMoniepoint()
    with ServerThread(elsewhere) as server:
        monkeypatch.setitem(app.config, "MONIEPOINT_BASE_URL", server.url)
        assert [b.code for b in service.banks()] == ["058", "057"]
    assert (bank_list_asks(elsewhere), bank_list_asks(fakes.monie)) == (1, 1)


def test_a_provider_that_cannot_answer_is_asked_again_only_after_the_retry_time(
    ctx, register, fakes, app, monkeypatch, clock
):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "BANK_LIST_RETRY_SECONDS", 30)
    fakes.monie.banks_down = True
    ada = register("Ada Obi")
    assert offered_banks(ada.get("/transfers/new")) == ["Lumipay"]
    assert offered_banks(ada.get("/transfers/new")) == ["Lumipay"]
    assert bank_list_asks(fakes.monie) == 1
    fakes.monie.banks_down = False
    clock.advance(29)
    assert offered_banks(ada.get("/transfers/new")) == ["Lumipay"]
    assert bank_list_asks(fakes.monie) == 1
    clock.advance(2)
    page = ada.get("/transfers/new")
    assert offered_banks(page) == ["Lumipay", "Guaranty Trust Bank", "Zenith Bank"]
    assert bank_list_asks(fakes.monie) == 2


def test_a_kept_bank_list_is_asked_for_again_once_older_than_its_ttl(
    ctx, fakes, app, monkeypatch, clock
):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "BANK_LIST_TTL", 600)
    service.banks()
    clock.advance(599)
    service.banks()
    assert bank_list_asks(fakes.monie) == 1
    clock.advance(2)
    assert [b.code for b in service.banks()] == ["058", "057"]
    assert bank_list_asks(fakes.monie) == 2
    monkeypatch.setitem(app.config, "BANK_LIST_TTL", 0)  # kept no time: asked every time
    service.banks()
    service.banks()
    assert bank_list_asks(fakes.monie) == 4


def test_reserved_account_and_checkout_come_from_moniepoint(ctx, register, fakes):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    page = start_topup(ada, "2,000", "moniepoint:reserved_account").follow()
    number = page.html.find(attrs={"data-testid": "reserved-account-number"}).text
    assert number.startswith("60") and "Moniepoint Microfinance Bank" in page.text
    assert "Sandbox" not in page.text
    sent = next(b for _, p, b in fakes.monie.requests if p.endswith("reserved-accounts"))
    assert sent["contractCode"] == "1234567890" and sent["customerName"] == "Ada Obi"
    checkout = start_topup(ada, "5,000", "moniepoint:checkout")
    link = checkout.follow().html.find(id="checkout-link")["href"]
    assert link.startswith("https://sandbox.sdk.monnify.com/checkout/MNFY|TU")
    init = next(b for _, p, b in fakes.monie.requests if p.endswith("init-transaction"))
    assert init["amount"] == "5000.00" and init["paymentReference"] == reference_in(checkout)


def monnify_delivery(event_type: str, data: dict, secret: str = CLIENT_SECRET):  # type: ignore[no-untyped-def, type-arg]
    raw = json.dumps({"eventType": event_type, "eventData": data}).encode()
    return raw, {
        "Content-Type": "application/json",
        moniepoint.SIGNATURE_HEADER: moniepoint.signature(secret, raw),
    }


def test_moniepoint_signed_webhook_credits_once_forgeries_refused(ctx, register, fakes, web):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    reference = reference_in(start_topup(ada, "5,000", "moniepoint:checkout"))
    event = moniepoint.collection_event(
        "MNFY|20261126|000123",
        amount=500_000,
        currency="NGN",
        payment_reference=reference,
        account_reference=None,
    )
    raw, headers = monnify_delivery(*event, secret="not-our-secret")
    assert web.post(WEBHOOK, raw, headers=headers, expect_errors=True).status_int == 401
    raw, headers = monnify_delivery(*event)
    tampered = raw.replace(b"5000.00", b"9000.00")
    assert web.post(WEBHOOK, tampered, headers=headers, expect_errors=True).status_int == 401
    assert web.post(WEBHOOK, raw, headers=headers).status_int == 200
    replay = web.post(WEBHOOK, raw, headers=headers, expect_errors=True)
    assert replay.status_int == 400 and replay.json["reason"] == "replayed"
    fakes.settle()
    assert topup(reference).status == "credited"
    assert balances_on_dashboard(ada) == ("₦105,000.00", "₦105,000.00")
    assert db.session.scalar(select(func.count(TopUp.id))) == 1
    assert_ledger_ok()


def test_moniepoint_reversal_of_a_credited_payment_is_its_own_delivery(ctx, register, fakes, web):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    reference = reference_in(start_topup(ada, "20,000", "moniepoint:checkout"))
    event_type, data = moniepoint.collection_event(
        "MNFY|20261201|000777",
        amount=2_000_000,
        currency="NGN",
        payment_reference=reference,
        account_reference=None,
    )
    assert web.post(WEBHOOK, *monnify_delivery(event_type, data)).status_int == 200
    fakes.settle()
    assert topup(reference).status == "credited"
    # Monnify reports the reversal under the same transaction reference, status REVERSED.
    reversed_data = {**data, "paymentStatus": "REVERSED"}
    assert web.post(WEBHOOK, *monnify_delivery(event_type, reversed_data)).status_int == 200
    refund = {"transactionReference": "MNFY|20261201|000777", "refundReference": "RF-9"}
    assert web.post(WEBHOOK, *monnify_delivery("SUCCESSFUL_REFUND", refund)).status_int == 200
    fakes.settle()
    assert topup(reference).status == "reversed"
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    assert_ledger_ok()


def test_moniepoint_event_we_dont_know_is_kept_and_flagged_not_refused(ctx, fakes, web):  # type: ignore[no-untyped-def]
    from lumipay.webhooks.models import WebhookEvent

    data = {"settlementReference": "STL-42", "amount": "1000.00"}
    assert web.post(WEBHOOK, *monnify_delivery("SETTLEMENT", data)).status_int == 200
    replay = web.post(WEBHOOK, *monnify_delivery("SETTLEMENT", data), expect_errors=True)
    assert replay.status_int == 400 and replay.json["reason"] == "replayed"
    fakes.settle()
    event = db.session.scalar(select(WebhookEvent))
    assert (event.event_type, event.outcome) == ("SETTLEMENT", "unhandled")


def test_payout_job_run_twice_sends_once(ctx, register, fakes):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    confirm = payout_step_one(ada, "0123456789", "10,000")
    assert "UBA HOLDER" in confirm.text  # name enquiry through UBA
    reference = reference_in(confirm.forms["payout-confirm-form"].submit())
    assert service.submit(reference) == "succeeded"
    assert service.submit(reference) == "succeeded"
    fakes.settle()  # the queued job runs too
    assert disbursements(fakes.monie) == ["/api/v2/disbursements/single"]
    sent = fakes.monie.transfers[reference]
    assert (sent["amount"], sent["destinationBankCode"]) == ("10000.00", "058")
    assert sent["sourceAccountNumber"] == "3000000001"
    assert payout(reference).provider_reference == f"MFDS{reference}"
    assert balances_on_dashboard(ada) == ("₦89,950.00", "₦89,950.00")
    assert payouts_posted() == 1
    assert_ledger_ok()


def test_retry_after_a_lost_answer_asks_instead_of_sending_again(ctx, register, fakes):  # type: ignore[no-untyped-def]
    fakes.monie.pay_modes = ["timeout"]
    fakes.monie.status_script = ["PENDING"]
    ada = register("Ada Obi")
    reference = reference_in(request_payout(ada, "0123456789", "10,000"))
    assert service.submit(reference) == "processing"  # timed out: pending, never released
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦89,950.00")
    assert service.submit(reference) == "processing"  # the retry asks: still pending
    fakes.settle()  # the requery finds it paid
    assert payout(reference).status == "succeeded"
    assert disbursements(fakes.monie) == ["/api/v2/disbursements/single"]
    assert "/api/v2/disbursements/single/summary" in fakes.monie.paths()
    assert payouts_posted() == 1
    assert_ledger_ok()


def test_timeout_then_requery_through_the_worker(ctx, register, fakes):  # type: ignore[no-untyped-def]
    fakes.monie.pay_mode = "timeout"
    ada = register("Ada Obi")
    reference = reference_in(request_payout(ada, "0123456789", "10,000"))
    fakes.settle()
    assert payout(reference).status == "succeeded" and payout(reference).requery_count == 1
    assert len(disbursements(fakes.monie)) == 1
    assert balances_on_dashboard(ada) == ("₦89,950.00", "₦89,950.00")
    assert_ledger_ok()


def test_a_5xx_before_arrival_is_sent_again_once(ctx, register, fakes):  # type: ignore[no-untyped-def]
    fakes.monie.pay_modes = ["error500"]
    ada = register("Ada Obi")
    reference = reference_in(request_payout(ada, "0123456789", "10,000"))
    fakes.settle()
    assert payout(reference).status == "succeeded"
    # The first request never arrived (502); the requery found nothing and sent it again.
    assert len(disbursements(fakes.monie)) == 2 and list(fakes.monie.transfers) == [reference]
    assert payouts_posted() == 1
    assert_ledger_ok()


def test_a_refused_payout_releases_and_a_failed_one_by_requery_too(ctx, register, fakes):  # type: ignore[no-untyped-def]
    fakes.monie.pay_modes = ["failed", "pending"]
    fakes.monie.status_answer = "FAILED"
    ada = register("Ada Obi")
    refused = reference_in(request_payout(ada, "0123456789", "10,000"))
    later = reference_in(request_payout(ada, "0123456789", "20,000"))
    fakes.settle()
    for reference in (refused, later):
        assert payout(reference).status == "failed", reference
        assert db.session.get(Hold, payout(reference).hold_id).status == "released"
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    assert payouts_posted() == 0
    assert_ledger_ok()


def test_moniepoint_disbursement_webhook_settles_a_pending_payout(ctx, register, fakes, web):  # type: ignore[no-untyped-def]
    fakes.monie.pay_mode = "pending"
    ada = register("Ada Obi")
    reference = reference_in(request_payout(ada, "0123456789", "10,000"))
    assert service.submit(reference) == "processing"
    raw, headers = monnify_delivery(
        *moniepoint.disbursement_event(reference, 1_000_000, moniepoint.Outcome.SUCCEEDED, "T1")
    )
    assert web.post(WEBHOOK, raw, headers=headers).status_int == 200
    fakes.settle()
    assert payout(reference).status == "succeeded"
    assert payouts_posted() == 1 and len(disbursements(fakes.monie)) == 1
    assert_ledger_ok()


def test_uba_payouts_carry_our_reference_as_idempotency_key(ctx, register, fakes, app, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "BANK_PAYOUT_PROVIDER", "uba")
    fakes.uba.pay_mode = "pending"
    fakes.uba.status_script = ["PENDING"]
    ada = register("Ada Obi")
    reference = reference_in(request_payout(ada, "0123456789", "10,000"))
    assert service.submit(reference) == "processing"
    assert service.submit(reference) == "processing"  # asks; never a second transfer
    fakes.settle(BANK_PAYOUT_PROVIDER="uba")
    assert payout(reference).status == "succeeded" and payout(reference).provider == "uba"
    posts = [p for m, p, _ in fakes.uba.requests if m == "POST" and p == "/v1/transfers"]
    assert len(posts) == 1 and list(fakes.uba.transfers) == [reference]
    assert fakes.uba.transfers[reference]["amount"] == 1_000_000
    assert "/v1/transfers/" + reference in fakes.uba.paths()
    assert_ledger_ok()


@pytest.mark.parametrize(
    ("account_number", "mode", "message"),
    [
        ("0123450000", "success", "No account with that number"),
        ("0123456789", "error500", "check the account right now"),
    ],
)
def test_name_enquiry_errors_are_shown_and_hold_nothing(
    ctx, register, fakes, account_number, mode, message
):  # type: ignore[no-untyped-def]
    fakes.uba.pay_mode = mode
    ada = register("Ada Obi")
    page = payout_step_one(ada, account_number, "1,000")
    assert page.status_int == 422 and message in page.text
    assert db.session.scalar(select(func.count(Hold.id))) == 0


def test_settlement_reports_in_the_shared_shape(ctx, fakes):  # type: ignore[no-untyped-def]
    day = date(2026, 11, 25)
    lines = bank_provider_named("moniepoint").settlement_report(day, date(2026, 11, 26))
    assert lines == [
        SettlementLine("MNFY|1", "TU1", 500_000, "NGN", "succeeded", "topup", day),
        SettlementLine("MFDS1", "PO1", 10_050, "NGN", "succeeded", "payout", date(2026, 11, 26)),
    ]
    sent = next(b for _, p, b in fakes.monie.requests if p.endswith("/transactions/search"))
    assert (sent["from"], sent["to"]) == ("2026-11-25", "2026-11-26")
    assert bank_provider_named("uba").settlement_report(day, day) == [
        SettlementLine("UBA1", "PO2", 250_000, "NGN", "succeeded", "payout", day)
    ]
