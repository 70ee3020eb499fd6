"""Card money after the authorisation (issues 16 and 17): what a clearing may capture above
the authorisation, single-use cards, expiry through the card code, forced captures after
expiry with the shortfall owed by the customer, clearings in another currency and split
clearings. Driven through the signed issuer webhook on PostgreSQL; the ledger proves itself
after each."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from lumipay.cards.models import CardTransaction
from lumipay.database import utcnow
from lumipay.extensions import db
from lumipay.ledger import service as ledger
from lumipay.ledger.models import Account, Hold
from tests.conftest import Browser, set_tier
from tests.integration.helpers.cards import authorise_at_once, deliver
from tests.integration.helpers.ledger import assert_ledger_ok
from tests.integration.test_cards import active_card, authorise
from tests.integration.test_cards import cards_config as cards_config
from tests.integration.test_cards import issuer as issuer
from tests.integration.test_transfers import balances_on_dashboard, send, wallet


def authorisation(authorization_id: str) -> CardTransaction:
    db.session.expire_all()
    return db.session.scalar(
        select(CardTransaction).where(CardTransaction.provider_reference == authorization_id)
    )


def clear(issuer, authorization_id: str, amount: int, **extra):  # type: ignore[no-untyped-def]
    response = deliver(
        issuer, "clearing", {"authorization_id": authorization_id, "amount": amount, **extra}
    )
    assert response.status_int == 200, response.text
    return authorisation(authorization_id)


def clearing_balance(currency: str = "NGN") -> int:
    account = db.session.scalar(select(Account).where(Account.code == f"card_clearing:{currency}"))
    return ledger.account_balance(account.id) if account else 0


# --------------------------------------------------------------- 16 case 6: excess over limits


def test_clearing_excess_over_the_cards_per_purchase_limit_captures_only_the_authorised_amount(
    ctx, register, issuer
):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada, per_transaction_limit="1,000", monthly_limit="10,000")
    answer = authorise(issuer, card, 100_000)  # exactly the limit per purchase
    assert answer["approved"]
    row = clear(issuer, answer["authorization_id"], 110_000)  # a 10% tip, within tolerance
    assert (row.status, row.captured_amount, row.needs_attention) == ("captured", 100_000, True)
    assert "limit per purchase" in row.note
    w = wallet(ada)
    assert (w.balance, w.held) == (10_000_000 - 100_000, 0)
    assert_ledger_ok()


def test_clearing_excess_over_the_cards_monthly_limit_captures_only_the_authorised_amount(
    ctx, register, issuer
):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada, per_transaction_limit="1,000", monthly_limit="1,500")
    first = authorise(issuer, card, 100_000)
    clear(issuer, first["authorization_id"], 100_000)
    second = authorise(issuer, card, 50_000)  # the month's ₦1,500 exactly
    assert second["approved"]
    row = clear(issuer, second["authorization_id"], 55_000)
    assert (row.captured_amount, row.needs_attention) == (50_000, True)
    assert "monthly limit" in row.note
    assert wallet(ada).balance == 10_000_000 - 150_000
    assert_ledger_ok()


def test_clearing_excess_over_the_kyc_tier_limit_captures_only_the_authorised_amount(
    ctx, register, issuer
):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")  # Tier 1: ₦50,000 a day
    card = active_card(ada, per_transaction_limit="60,000", monthly_limit="500,000")
    answer = authorise(issuer, card, 4_800_000)
    assert answer["approved"]
    row = clear(issuer, answer["authorization_id"], 5_200_000)  # within the 20% tolerance
    assert (row.captured_amount, row.needs_attention) == (4_800_000, True)
    assert "Tier 1" in row.note
    assert balances_on_dashboard(ada) == ("₦52,000.00", "₦52,000.00")
    assert_ledger_ok()


def test_clearing_excess_within_every_limit_is_captured(ctx, register, issuer):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada, per_transaction_limit="2,000", monthly_limit="10,000")
    answer = authorise(issuer, card, 100_000)
    row = clear(issuer, answer["authorization_id"], 115_000)
    assert (row.captured_amount, row.needs_attention) == (115_000, False)
    assert_ledger_ok()


# --------------------------------------------------------------- 16 case 7: single-use cards


def test_single_use_card_declines_a_second_authorisation_while_the_first_is_open(
    ctx, register, issuer
):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada, card_type="single")
    first = authorise(issuer, card, 100_000)
    second = authorise(issuer, card, 100_000)
    assert first["approved"] is True
    assert (second["approved"], second["code"]) == (False, "single_use_in_use")
    assert second["reason"]
    # Once the first is reversed, the card may be used again.
    deliver(issuer, "reversal", {"authorization_id": first["authorization_id"]})
    third = authorise(issuer, card, 100_000)
    assert third["approved"] is True
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦99,000.00")
    assert_ledger_ok()


def test_two_concurrent_authorisations_on_a_single_use_card_approve_exactly_one(app, ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada, card_type="single")
    answers = authorise_at_once(app, card.provider_token, [100_000, 100_000])
    assert len(answers) == 2
    assert sorted(a["approved"] for a in answers) == [False, True], answers
    assert [a["code"] for a in answers if not a["approved"]] == ["single_use_in_use"]
    w = wallet(ada)
    assert (w.balance, w.held) == (10_000_000, 100_000)
    assert_ledger_ok()


# --------------------------------------------------------------- 16: expiry through the card code


def test_card_authorisation_expires_through_the_card_code_which_records_why(ctx, register, issuer):  # type: ignore[no-untyped-def]
    from lumipay.cards import expiry

    ada = register("Ada Obi")
    card = active_card(ada)
    answer = authorise(issuer, card, 300_000)
    assert expiry.expire_authorisations(utcnow() + timedelta(days=6)) == 0
    assert expiry.expire_authorisations(utcnow() + timedelta(days=8)) == 1
    assert expiry.expire_authorisations(utcnow() + timedelta(days=8)) == 0
    row = authorisation(answer["authorization_id"])
    assert row.status == "expired"
    assert "network" in row.note and "window" in row.note
    assert db.session.get(Hold, row.hold_id).status == "expired"
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    assert "Expired" in ada.get(f"/cards/{card.reference}").text
    assert_ledger_ok()


def test_clearing_after_expiry_is_forced_and_what_the_wallet_cannot_cover_is_owed(
    ctx, register, issuer
):  # type: ignore[no-untyped-def]
    from lumipay.cards import expiry
    from lumipay.ledger import receivables

    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    card = active_card(ada)
    answer = authorise(issuer, card, 300_000)
    expiry.expire_authorisations(utcnow() + timedelta(days=8))
    set_tier(ada.email, 3)
    send(ada, bayo.account_number, "99,000")  # ₦1,000 left
    row = clear(issuer, answer["authorization_id"], 300_000)
    assert (row.status, row.captured_amount, row.needs_attention) == ("captured", 300_000, True)
    assert "owed" in row.note
    w = wallet(ada)
    assert (w.balance, w.held) == (0, 0)  # never a negative available balance
    assert receivables.owed(w.user_id, "NGN") == 200_000
    assert clearing_balance() == 300_000
    assert_ledger_ok()


def test_forced_capture_after_expiry_counts_against_the_cards_monthly_limit(ctx, register, issuer):  # type: ignore[no-untyped-def]
    from lumipay.cards import expiry

    ada = register("Ada Obi")
    card = active_card(ada, per_transaction_limit="1,000", monthly_limit="1,000")
    answer = authorise(issuer, card, 100_000)
    expiry.expire_authorisations(utcnow() + timedelta(days=8))
    assert authorise(issuer, card, 100_000)["approved"]  # the expired one no longer counts
    row = clear(issuer, answer["authorization_id"], 100_000)
    assert row.status == "captured" and row.needs_attention
    assert "monthly limit" in row.note
    assert authorise(issuer, card, 1_000)["code"] == "over_monthly_limit"
    assert_ledger_ok()


# --------------------------------------------------------------- 17 case 3: currency and count


def test_usd_clearing_on_an_ngn_authorisation_is_converted_at_the_networks_rate(
    ctx, register, issuer
):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada)
    answer = authorise(issuer, card, 1_650_000)
    row = clear(
        issuer, answer["authorization_id"], 1_000, currency="USD", conversion_rate="1650.00"
    )
    assert (row.status, row.captured_amount, row.needs_attention) == ("captured", 1_650_000, False)
    assert clearing_balance("NGN") == 1_650_000 and clearing_balance("USD") == 0
    assert balances_on_dashboard(ada) == ("₦83,500.00", "₦83,500.00")
    assert_ledger_ok()


def test_clearing_in_another_currency_without_a_rate_is_refused_and_flagged(ctx, register, issuer):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada)
    answer = authorise(issuer, card, 1_650_000)
    row = clear(issuer, answer["authorization_id"], 10_000, currency="USD")
    assert (row.status, row.captured_amount, row.needs_attention) == ("approved", None, True)
    assert "USD" in row.note and "rate" in row.note
    assert db.session.get(Hold, row.hold_id).status == "active"
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦83,500.00")
    assert clearing_balance() == 0
    assert_ledger_ok()


def test_split_clearings_are_each_captured_once_up_to_the_authorisation_plus_tolerance(
    ctx, register, issuer
):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada)
    answer = authorise(issuer, card, 100_000)
    auth_id = answer["authorization_id"]
    row = clear(issuer, auth_id, 60_000, clearing_id="clr_1", final=False)
    assert (row.status, row.captured_amount) == ("approved", 60_000)
    assert (wallet(ada).balance, wallet(ada).held) == (10_000_000 - 60_000, 40_000)
    row = clear(issuer, auth_id, 60_000, clearing_id="clr_1", final=False)  # repeated: no-op
    assert row.captured_amount == 60_000
    row = clear(issuer, auth_id, 50_000, clearing_id="clr_2")  # 110,000: within the 20%
    assert (row.status, row.captured_amount, row.needs_attention) == ("captured", 110_000, False)
    assert (wallet(ada).balance, wallet(ada).held) == (10_000_000 - 110_000, 0)
    row = clear(issuer, auth_id, 20_000, clearing_id="clr_3")  # would be 130,000: beyond it
    assert (row.captured_amount, row.needs_attention) == (110_000, True)
    assert wallet(ada).balance == 10_000_000 - 110_000
    assert clearing_balance() == 110_000
    assert_ledger_ok()


def test_a_second_clearing_after_a_final_one_is_captured_from_the_wallet(ctx, register, issuer):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada)
    answer = authorise(issuer, card, 100_000)
    clear(issuer, answer["authorization_id"], 70_000, clearing_id="clr_a")
    assert (wallet(ada).balance, wallet(ada).held) == (10_000_000 - 70_000, 0)
    row = clear(issuer, answer["authorization_id"], 30_000, clearing_id="clr_b")
    assert (row.captured_amount, row.needs_attention) == (100_000, False)
    clear(issuer, answer["authorization_id"], 30_000, clearing_id="clr_b")  # repeated: no-op
    assert wallet(ada).balance == 10_000_000 - 100_000
    assert clearing_balance() == 100_000
    assert_ledger_ok()


@pytest.mark.parametrize(
    ("refund", "credited"),
    [
        ({"amount": 500, "currency": "USD", "conversion_rate": "1650"}, 825_000),
        ({"amount": 300_000, "currency": "NGN"}, 300_000),
    ],
)
def test_refund_is_credited_in_its_own_currency_converted_at_the_networks_rate(
    ctx, register, issuer, refund, credited
):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada)
    answer = authorise(issuer, card, 1_650_000)
    clear(issuer, answer["authorization_id"], 1_650_000)
    deliver(
        issuer,
        "refund",
        {"authorization_id": answer["authorization_id"], "refund_id": "iref_1", **refund},
    )
    assert wallet(ada).balance == 10_000_000 - 1_650_000 + credited
    assert_ledger_ok()


def test_refund_in_another_currency_without_a_rate_is_refused_and_flagged(ctx, register, issuer):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada)
    answer = authorise(issuer, card, 1_650_000)
    clear(issuer, answer["authorization_id"], 1_650_000)
    deliver(
        issuer,
        "refund",
        {
            "authorization_id": answer["authorization_id"],
            "refund_id": "iref_1",
            "amount": 500,
            "currency": "USD",
        },
    )
    row = authorisation(answer["authorization_id"])
    assert row.needs_attention and "rate" in row.note
    assert wallet(ada).balance == 10_000_000 - 1_650_000
    assert_ledger_ok()


def _at_once(*calls) -> None:  # type: ignore[no-untyped-def]
    """Run the calls in threads released together by a barrier; re-raise the first failure."""
    barrier = threading.Barrier(len(calls))
    failures: list[BaseException] = []

    def run(call) -> None:  # type: ignore[no-untyped-def]
        try:
            barrier.wait(10)
            call()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if failures:
        raise failures[0]


def test_split_clearings_and_a_repeat_arriving_at_once_capture_each_clearing_once(
    app, ctx, register
):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada)
    first = Browser(app, extra_environ={"REMOTE_ADDR": "192.0.2.91"})
    auth_id = authorise(first, card, 100_000)["authorization_id"]
    clearings = [
        {"clearing_id": "clr_1", "amount": 60_000, "final": False},
        {"clearing_id": "clr_2", "amount": 40_000},
        {"clearing_id": "clr_1", "amount": 60_000, "final": False},  # the same one again
    ]

    def deliver_as(n: int, data: dict):  # type: ignore[no-untyped-def]
        def call() -> None:
            browser = Browser(app, extra_environ={"REMOTE_ADDR": f"192.0.2.{130 + n}"})
            with app.app_context():
                response = deliver(browser, "clearing", {"authorization_id": auth_id, **data})
            assert response.status_int == 200, response.text

        return call

    _at_once(*(deliver_as(n, data) for n, data in enumerate(clearings)))
    row = authorisation(auth_id)
    assert (row.status, row.captured_amount, row.needs_attention) == ("captured", 100_000, False)
    w = wallet(ada)
    assert (w.balance, w.held) == (10_000_000 - 100_000, 0)
    assert clearing_balance() == 100_000
    assert_ledger_ok()


def test_a_clearing_racing_the_card_expiry_is_captured_once_either_way(app, ctx, register):  # type: ignore[no-untyped-def]
    from lumipay.cards import expiry

    ada = register("Ada Obi")
    card = active_card(ada)
    issuer = Browser(app, extra_environ={"REMOTE_ADDR": "192.0.2.92"})
    auth_id = authorise(issuer, card, 300_000)["authorization_id"]
    later = utcnow() + timedelta(days=8)

    def expire() -> None:
        with app.app_context():
            expiry.expire_authorisations(later)

    def clear_it() -> None:
        with app.app_context():
            deliver(issuer, "clearing", {"authorization_id": auth_id, "amount": 300_000})

    _at_once(expire, clear_it)
    row = authorisation(auth_id)
    assert (row.status, row.captured_amount) == ("captured", 300_000)
    w = wallet(ada)
    assert (w.balance, w.held) == (10_000_000 - 300_000, 0)
    assert clearing_balance() == 300_000
    assert_ledger_ok()


def test_a_clearing_after_the_authorisation_was_reversed_is_flagged_not_dropped(
    ctx, register, issuer
):  # type: ignore[no-untyped-def]
    """The merchant's reversal and the network's clearing crossed: the network will settle
    with us, so the clearing is kept in front of a person instead of logged and dropped."""
    ada = register("Ada Obi")
    card = active_card(ada)
    auth = authorise(issuer, card, 100_000)
    deliver(issuer, "reversal", {"authorization_id": auth["authorization_id"]})
    row = clear(issuer, auth["authorization_id"], 100_000, clearing_id="CLR-AFTER-REV")
    assert row.status == "reversed" and row.needs_attention
    assert "reversed" in (row.note or "")
    assert clearing_balance() == 0 and balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    again = clear(issuer, auth["authorization_id"], 100_000, clearing_id="CLR-AFTER-REV")
    assert again.needs_attention and again.note == row.note
    assert_ledger_ok()
