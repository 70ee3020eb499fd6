"""The JSON API: registration to transfer, bills and FX through the same services as the
pages; tokens (expiry, rotation, reuse detection, revocation, lockout, second factor), problem
documents, owner scoping, cursor pages and the Idempotency-Key contract, twins included."""

from __future__ import annotations

import threading
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from lumipay.api.idempotent import service_key
from lumipay.api.models import RefreshToken
from lumipay.bills.models import BillPayment
from lumipay.extensions import db
from lumipay.idempotency import service as idempotency
from lumipay.transfers.models import Transfer
from tests.conftest import PASSWORD, Browser, set_tier
from tests.integration.helpers.api import (
    API,
    ApiClient,
    api_register,
    new_key,
    ngn_wallet_id,
    post_debit,
)
from tests.integration.helpers.ledger import assert_ledger_ok, money_state, runs
from tests.security.conftest import enrol_totp

BONUS = 10_000_000
PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_int == status, response.text
    assert response.content_type == PROBLEM
    doc = response.json
    assert doc["type"] == f"https://lumipay.ng/problems/{slug}"
    assert doc["status"] == status
    assert doc["title"] and doc["detail"] and doc["instance"] == response.request.path
    return doc  # type: ignore[no-any-return]


def count(model: Any) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))  # type: ignore[no-any-return]


def transfer_body(client: ApiClient, to: ApiClient, amount: int = 250_000, **more: Any) -> dict:
    return {
        "from_wallet_id": ngn_wallet_id(client),
        "to_account_number": to.account_number,
        "amount": amount,
        "narration": "Lunch",
        **more,
    }


# Registration, the caller, accounts


def test_register_gives_tokens_an_account_number_and_the_bonus_wallet(app, ctx):
    ada = api_register(app, "Ada Obi")
    me = ada.get("/users/me")
    assert me.status_int == 200
    assert me.json["email"] == ada.email and me.json["account_number"] == ada.account_number
    assert me.json["role"] == "customer" and me.json["two_factor_enabled"] is False
    accounts = ada.get("/accounts/").json
    assert accounts["account_number"] == ada.account_number
    [ngn] = accounts["wallets"]
    assert (ngn["currency"], ngn["balance"], ngn["held"], ngn["available"]) == (
        "NGN", BONUS, 0, BONUS,
    )  # fmt: skip
    balance = ada.get(f"/wallets/{ngn['wallet_id']}/balance").json
    assert balance == ngn


def test_registration_refusals_name_the_field_and_open_nothing(app, ctx):
    ada = api_register(app)
    client = ApiClient(Browser(app, extra_environ={"REMOTE_ADDR": "198.51.100.41"}))
    body = {"full_name": "Bo", "email": ada.email, "phone": "08039990000", "password": PASSWORD}
    doc = assert_problem(client.post("/auth/register", body), 422, "validation-error")
    assert doc["errors"] == [
        {"field": "email", "message": "An account with this email already exists."}
    ]
    weak = {**body, "email": "new@example.com", "password": "short"}
    doc = assert_problem(client.post("/auth/register", weak), 422, "validation-error")
    assert [e["field"] for e in doc["errors"]] == ["password"]
    missing = assert_problem(client.post("/auth/register", {"email": 3}), 422, "validation-error")
    assert {e["field"] for e in missing["errors"]} == {"full_name", "email", "phone", "password"}
    assert count(RefreshToken) == 1


def test_errors_are_problem_documents_everywhere_under_api(app, ctx):
    ada = api_register(app)
    assert_problem(ada.get("/no-such-thing"), 404, "not-found")
    response = ada.browser.delete(f"{API}/users/me", headers=ada.headers(), expect_errors=True)
    doc = assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["Allow"] and doc["detail"]
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    response = ada.browser.post(
        f"{API}/transfers/", big, headers=ada.headers(), content_type="application/json",
        expect_errors=True,
    )  # fmt: skip
    assert_problem(response, 413, "payload-too-large")
    response = ada.browser.post(
        f"{API}/wallets/", "currency=USD", headers=ada.headers(new_key()), expect_errors=True
    )
    assert_problem(response, 415, "unsupported-media-type")
    response = ada.browser.post(
        f"{API}/wallets/", "[1, 2", headers=ada.headers(new_key()),
        content_type="application/json", expect_errors=True,
    )  # fmt: skip
    assert_problem(response, 400, "malformed-request")
    doc = assert_problem(
        ada.post("/transfers/", {"amount": "5", "extra": 1}, key=new_key()), 422, "validation-error"
    )
    fields = {e["field"]: e["message"] for e in doc["errors"]}
    assert fields["amount"] == "Input should be a valid integer"
    assert fields["extra"] == "Unknown field."
    assert "from_wallet_id" in fields
    # The pages keep their HTML error pages.
    page = ada.browser.get("/no-such-page", expect_errors=True)
    assert page.status_int == 404 and page.content_type == "text/html"


# Tokens


def test_access_token_expires_and_the_refresh_token_gets_a_new_pair(app, ctx, clock):
    ada = api_register(app)
    clock.advance(app.config["JWT_ACCESS_SECONDS"] - 1)
    assert ada.get("/users/me").status_int == 200
    clock.advance(2)
    assert_problem(ada.get("/users/me"), 401, "invalid-token")
    response = ada.post("/auth/refresh", {"refresh_token": ada.refresh})
    assert response.status_int == 200
    assert response.json["token_type"] == "Bearer"
    assert response.json["expires_in"] == app.config["JWT_ACCESS_SECONDS"]
    assert response.json["refresh_token"] != ada.refresh
    ada.take(response.json)
    assert ada.get("/users/me").status_int == 200


def test_a_refresh_token_reused_revokes_the_whole_sign_in(app, ctx):
    ada = api_register(app)
    stolen = ada.refresh
    first = ada.post("/auth/refresh", {"refresh_token": stolen})
    assert first.status_int == 200
    ada.take(first.json)
    assert ada.get("/users/me").status_int == 200
    # The thief (or a confused client) presents the used token: the family is revoked.
    assert_problem(
        ada.post("/auth/refresh", {"refresh_token": stolen}), 401, "refresh-token-reused"
    )
    assert_problem(ada.get("/users/me"), 401, "invalid-token")
    assert_problem(
        ada.post("/auth/refresh", {"refresh_token": ada.refresh}), 401, "invalid-refresh-token"
    )
    db.session.expire_all()
    reasons = set(db.session.scalars(select(RefreshToken.revoke_reason)))
    assert reasons == {"reuse"}


def test_refresh_token_expires(app, ctx, clock):
    ada = api_register(app)
    clock.advance(app.config["JWT_REFRESH_SECONDS"] + 1)
    assert_problem(
        ada.post("/auth/refresh", {"refresh_token": ada.refresh}), 401, "invalid-refresh-token"
    )
    assert_problem(
        ada.post("/auth/refresh", {"refresh_token": "made-up"}), 401, "invalid-refresh-token"
    )


def test_logout_revokes_the_access_and_refresh_tokens_of_that_sign_in_only(app, ctx):
    ada = api_register(app)
    other = ApiClient(Browser(app, extra_environ={"REMOTE_ADDR": "198.51.100.42"}))
    other.take(ada.post("/auth/login", {"login": ada.email, "password": PASSWORD}).json)
    response = ada.post("/auth/logout")
    assert response.status_int == 204 and response.body == b""
    assert_problem(ada.get("/users/me"), 401, "invalid-token")
    assert_problem(
        ada.post("/auth/refresh", {"refresh_token": ada.refresh}), 401, "invalid-refresh-token"
    )
    assert_problem(ada.post("/auth/logout"), 401, "invalid-token")
    assert other.get("/users/me").status_int == 200, "another sign-in stays"


def test_a_token_signed_with_another_key_is_refused(app, ctx, monkeypatch):
    ada = api_register(app)
    monkeypatch.setitem(app.config, "JWT_SECRET_KEY", "another-key-" + "0" * 32)
    assert_problem(ada.get("/users/me"), 401, "invalid-token")


def test_login_failures_count_towards_the_pages_lockout(app, ctx):
    from lumipay.notifications.email import outbox

    ada = api_register(app)
    client = ApiClient(Browser(app, extra_environ={"REMOTE_ADDR": "198.51.100.43"}))
    for _ in range(app.config["LOGIN_LOCK_THRESHOLD"]):
        response = client.post("/auth/login", {"login": ada.email, "password": "wrong-password-1"})
        assert_problem(response, 401, "invalid-credentials")
    assert any("paused" in mail.subject for mail in outbox(app))
    right = client.post("/auth/login", {"login": ada.email, "password": PASSWORD})
    assert_problem(right, 401, "invalid-credentials")
    page = client.browser.get("/auth/login").forms["login-form"]
    page["email"], page["password"] = ada.email, PASSWORD
    assert page.submit(expect_errors=True).status_int == 422, "the page is locked out too"


def test_login_shares_the_pages_rate_limit(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "LIMIT_LOGIN", "3 per minute")
    client = ApiClient(Browser(app, extra_environ={"REMOTE_ADDR": "198.51.100.44"}))
    page = client.browser.get("/auth/login").forms["login-form"]
    page["email"], page["password"] = "nobody@example.com", "x"
    page.submit(expect_errors=True)
    body = {"login": "nobody@example.com", "password": "x"}
    assert client.post("/auth/login", body).status_int == 401
    assert client.post("/auth/login", body).status_int == 401
    assert_problem(client.post("/auth/login", body), 429, "rate-limited")


def test_login_with_two_step_verification_needs_the_code(app, ctx, register, clock):
    person = register("Ada Obi")
    secret = enrol_totp(person, clock)
    client = ApiClient(Browser(app, extra_environ={"REMOTE_ADDR": "198.51.100.45"}))
    body = {"login": person.email, "password": PASSWORD}
    assert_problem(client.post("/auth/login", body), 401, "otp-required")
    assert_problem(client.post("/auth/login", {**body, "otp_code": "000000"}), 401, "otp-invalid")
    code = pyotp.TOTP(secret).at(clock())
    response = client.post("/auth/login", {**body, "otp_code": code})
    assert response.status_int == 200, response.text
    client.take(response.json)
    assert client.get("/users/me").json["two_factor_enabled"] is True
    clock.advance(30)
    assert_problem(client.post("/auth/login", {**body, "otp_code": code}), 401, "otp-invalid")


def test_admins_sign_in_to_the_api_with_their_second_factor(app, ctx, admin, clock):
    tola = admin("Tola Bello")
    client = ApiClient(Browser(app, extra_environ={"REMOTE_ADDR": "198.51.100.46"}))
    body = {"login": tola.email, "password": PASSWORD}
    assert_problem(client.post("/auth/login", body), 401, "otp-required")
    response = client.post("/auth/login", {**body, "otp_code": pyotp.TOTP(tola.secret).at(clock())})
    assert response.status_int == 200
    client.take(response.json)
    assert client.get("/users/me").json["role"] == "admin"


def test_an_admin_without_a_second_factor_is_sent_to_enrol_on_the_web(app, ctx):
    from lumipay.auth import service as auth

    auth.create_admin("Tola Bello", "tola@example.com", "08035550000", PASSWORD)
    client = ApiClient(Browser(app, extra_environ={"REMOTE_ADDR": "198.51.100.47"}))
    response = client.post("/auth/login", {"login": "tola@example.com", "password": PASSWORD})
    assert_problem(response, 403, "two-factor-enrolment-required")
    assert count(RefreshToken) == 0


# Wallets and history


def test_open_a_wallet_then_another_in_the_same_currency_is_a_conflict(app, ctx):
    ada = api_register(app)
    response = ada.post("/wallets/", {"currency": "USD"}, key=new_key())
    assert response.status_int == 201
    assert (response.json["currency"], response.json["balance"]) == ("USD", 0)
    again = ada.post("/wallets/", {"currency": "USD"}, key=new_key())
    assert_problem(again, 409, "wallet-exists")
    doc = assert_problem(ada.post("/wallets/", {"currency": "XYZ"}, key=new_key()), 422,
                         "validation-error")  # fmt: skip
    assert doc["errors"][0]["field"] == "currency"
    assert_problem(ada.post("/wallets/", {"currency": "EUR"}), 400, "idempotency-key-required")
    doc = assert_problem(
        ada.post("/wallets/", {"currency": "EUR"}, key="x" * 256), 422, "validation-error"
    )
    assert doc["errors"][0]["field"] == "Idempotency-Key"
    doc = assert_problem(
        ada.post("/wallets/", {"currency": "EUR"}, key="tab\there"), 422, "validation-error"
    )
    assert doc["errors"][0]["field"] == "Idempotency-Key"
    short = ada.post("/wallets/", {"currency": "EUR"}, key="k")
    assert short.status_int == 201, "any printable key of 1 to 255 characters"
    long = ada.post("/wallets/", {"currency": "GBP"}, key="bill 123 ~!@#$%^&*()" + "y" * 235)
    assert long.status_int == 201


def test_history_pages_with_a_cursor_cover_every_entry_once(app, ctx):
    ada, bayo = api_register(app, "Ada Obi"), api_register(app, "Bayo Adeyemi")
    for amount in range(1, 6):
        response = ada.post("/transfers/", transfer_body(ada, bayo, amount * 100), key=new_key())
        assert response.status_int == 201
    everything = ada.get("/accounts/transactions", {"limit": 100}).json
    assert everything["next_cursor"] is None and len(everything["items"]) == 6
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ada.get("/accounts/transactions", params).json
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything["items"]
    assert [i["amount"] for i in seen[:5]] == [-500, -400, -300, -200, -100]
    wallet = ngn_wallet_id(ada)
    first = ada.get(f"/wallets/{wallet}/transactions", {"limit": 3}).json
    assert [i["entry_id"] for i in first["items"]] == [i["entry_id"] for i in seen[:3]]
    doc = assert_problem(ada.get("/accounts/transactions", {"cursor": "x"}), 422,
                         "validation-error")  # fmt: skip
    assert doc["errors"][0]["field"] == "cursor"
    assert_problem(ada.get(f"/wallets/{ngn_wallet_id(bayo)}/transactions"), 404, "not-found")


# Transfers


def test_transfer_moves_money_and_both_sides_can_read_it(app, ctx):
    ada, bayo = api_register(app, "Ada Obi"), api_register(app, "Bayo Adeyemi")
    response = ada.post("/transfers/", transfer_body(ada, bayo, 250_000), key=new_key())
    assert response.status_int == 201, response.text
    created = response.json
    assert set(created) == {"transfer_id", "transaction_ref", "status"}
    assert created["status"] == "succeeded"
    sent = ada.get(f"/transfers/{created['transaction_ref']}").json
    assert (sent["direction"], sent["amount"], sent["currency"]) == ("sent", 250_000, "NGN")
    assert sent["counterparty_account_number"] == bayo.account_number
    assert sent["counterparty_name"] == "Bayo A."
    received = bayo.get(f"/transfers/{created['transaction_ref']}").json
    assert received["direction"] == "received" and received["counterparty_name"] == "Ada O."
    assert ada.get("/accounts/").json["wallets"][0]["available"] == BONUS - 250_000
    assert bayo.get("/accounts/").json["wallets"][0]["available"] == BONUS + 250_000
    cy = api_register(app, "Cy Okafor")
    assert_problem(cy.get(f"/transfers/{created['transaction_ref']}"), 404, "not-found")
    assert_ledger_ok()


def test_refused_transfers_name_the_field_and_move_nothing(app, ctx):
    ada, bayo = api_register(app, "Ada Obi"), api_register(app, "Bayo Adeyemi")
    before = money_state()
    doc = assert_problem(
        ada.post("/transfers/", transfer_body(ada, bayo, BONUS + 1), key=new_key()),
        422, "insufficient-funds",
    )  # fmt: skip
    assert doc["errors"][0]["field"] == "amount"
    doc = assert_problem(
        ada.post(
            "/transfers/", transfer_body(ada, bayo, to_account_number="0000000000"), key=new_key()
        ),
        422, "transfer-refused",
    )  # fmt: skip
    assert doc["errors"] == [
        {"field": "to_account_number", "message": "No Lumipay account has that number."}
    ]
    mine = transfer_body(ada, bayo, to_account_number=ada.account_number)
    assert_problem(ada.post("/transfers/", mine, key=new_key()), 422, "transfer-refused")
    others = transfer_body(ada, bayo, from_wallet_id=ngn_wallet_id(bayo))
    doc = assert_problem(ada.post("/transfers/", others, key=new_key()), 422, "transfer-refused")
    assert doc["errors"][0]["field"] == "from_wallet_id"
    assert_problem(ada.post("/transfers/", transfer_body(ada, bayo)), 400,
                   "idempotency-key-required")  # fmt: skip
    assert money_state() == before


def test_a_large_transfer_needs_the_code_when_two_step_verification_is_on(app, ctx, register,
                                                                           clock):  # fmt: skip
    person = register("Ada Obi")
    set_tier(person.email, 3)  # the step-up threshold is above Tier 1's limits
    secret = enrol_totp(person, clock)
    ada = ApiClient(Browser(app, extra_environ={"REMOTE_ADDR": "198.51.100.48"}))
    code = pyotp.TOTP(secret).at(clock())
    ada.take(ada.post("/auth/login", {"login": person.email, "password": PASSWORD,
                                      "otp_code": code}).json)  # fmt: skip
    ada.pin = person.pin  # set at registration: every API debit now carries it
    clock.advance(30)
    bayo = api_register(app, "Bayo Adeyemi")
    big = app.config["STEP_UP_THRESHOLD"] + 1
    before = money_state()
    key = new_key()
    assert_problem(ada.post("/transfers/", transfer_body(ada, bayo, big), key=key), 401,
                   "otp-required")  # fmt: skip
    assert_problem(
        ada.post("/transfers/", transfer_body(ada, bayo, big, otp_code="000000"), key=key),
        401, "otp-invalid",
    )  # fmt: skip
    assert money_state() == before
    body = transfer_body(ada, bayo, big, otp_code=pyotp.TOTP(secret).at(clock()))
    first = ada.post("/transfers/", body, key=key)
    assert first.status_int == 201, first.text
    # The code is used up, yet the repeat replays: it is not a second transfer.
    again = ada.post("/transfers/", body, key=key)
    assert (again.status_int, again.json) == (201, first.json)
    assert small_ok(ada, bayo)


def small_ok(ada: ApiClient, bayo: ApiClient) -> bool:
    return ada.post("/transfers/", transfer_body(ada, bayo, 100), key=new_key()).status_int == 201


# Idempotency (Stripe's contract)


def test_same_key_and_body_replays_the_first_response_once_for_24_hours(
    app, ctx, clock, monkeypatch
):
    monkeypatch.setitem(app.config, "JWT_ACCESS_SECONDS", 48 * 3600)
    ada, bayo = api_register(app, "Ada Obi"), api_register(app, "Bayo Adeyemi")
    key, body = new_key(), transfer_body(ada, bayo, 1_000)
    first = ada.post("/transfers/", body, key=key)
    assert first.status_int == 201 and "Idempotent-Replayed" not in first.headers
    clock.advance(23 * 3600)
    again = ada.post("/transfers/", body, key=key)
    assert (again.status_int, again.json) == (201, first.json)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(Transfer) == 1
    assert ada.get("/accounts/").json["wallets"][0]["balance"] == BONUS - 1_000
    other = ada.post("/transfers/", {**body, "amount": 2_000}, key=key)
    assert_problem(other, 422, "idempotency-key-reused")
    elsewhere = ada.post("/wallets/", {"currency": "USD"}, key=key)
    assert elsewhere.status_int == 201, "a key is scoped to its operation"
    assert count(Transfer) == 1
    clock.advance(3600 + 1)
    later = ada.post("/transfers/", body, key=key)
    assert later.status_int == 201 and later.json != first.json, "the key may be used again"
    assert count(Transfer) == 2
    assert_ledger_ok()


def test_keys_belong_to_their_owner(app, ctx):
    ada, bayo = api_register(app, "Ada Obi"), api_register(app, "Bayo Adeyemi")
    key = new_key()
    assert ada.post("/transfers/", transfer_body(ada, bayo, 100), key=key).status_int == 201
    mine = bayo.post("/transfers/", transfer_body(bayo, ada, 100), key=key)
    assert mine.status_int == 201 and "Idempotent-Replayed" not in mine.headers
    assert count(Transfer) == 2


def test_a_refused_request_stores_nothing_so_its_key_can_be_retried(app, ctx):
    ada, bayo = api_register(app, "Ada Obi"), api_register(app, "Bayo Adeyemi")
    key = new_key()
    assert_problem(ada.post("/transfers/", transfer_body(ada, bayo, BONUS + 1), key=key), 422,
                   "insufficient-funds")  # fmt: skip
    assert ada.post("/transfers/", transfer_body(ada, bayo, 100), key=key).status_int == 201
    wallet_key = new_key()
    assert ada.post("/wallets/", {"currency": "NGN"}, key=wallet_key).status_int == 409
    assert ada.post("/wallets/", {"currency": "USD"}, key=wallet_key).status_int == 201


def test_a_twin_in_flight_gets_409_and_moves_nothing(app, ctx):
    """The first request holds the key's advisory lock until it commits; here a second
    connection holds it, exactly as a first request still in its transaction would."""
    ada, bayo = api_register(app, "Ada Obi"), api_register(app, "Bayo Adeyemi")
    key, body = new_key(), transfer_body(ada, bayo, 1_000)
    before = money_state()
    with db.engine.connect() as other:
        other.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
            {"k": f"{ada.pk}:{service_key('transfers.create', key)}"},
        )
        assert_problem(ada.post("/transfers/", body, key=key), 409, "request-in-flight")
        assert money_state() == before
        other.rollback()
    assert ada.post("/transfers/", body, key=key).status_int == 201


def test_a_claim_in_flight_on_a_keyless_service_gets_409_until_it_is_stale(app, ctx, clock):
    ada = api_register(app, "Ada Obi")
    key = new_key()
    payload = {"currency": "USD"}
    claimed = service_key("wallets.open", key)
    assert idempotency.begin_request(ada.pk, claimed, "api:wallet", payload) is None
    assert_problem(ada.post("/wallets/", payload, key=key), 409, "request-in-flight")
    clock.advance(app.config["IDEMPOTENCY_STALE_SECONDS"] + 1)
    response = ada.post("/wallets/", payload, key=key)
    assert response.status_int == 201, "a claim whose process died is taken over"
    assert ada.post("/wallets/", payload, key=key).json == response.json


def concurrently(n: int, call: Any) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.parametrize("twins", [8])
def test_concurrent_twins_make_one_transfer(app, ctx, twins):
    ada, bayo = api_register(app, "Ada Obi"), api_register(app, "Bayo Adeyemi")
    key, body = new_key(), transfer_body(ada, bayo, 1_000)
    headers = ada.headers(key)

    def call() -> tuple[int, Any]:
        client = app.test_client()
        response = client.post(f"{API}/transfers/", json=body, headers=headers,
                               environ_base={"REMOTE_ADDR": "198.51.100.49"})  # fmt: skip
        return response.status_code, response.get_json()

    results = concurrently(twins, call)
    statuses = sorted(status for status, _ in results)
    assert set(statuses) <= {201, 409}, statuses
    created = [doc for status, doc in results if status == 201]
    assert created and all(doc == created[0] for doc in created)
    for status, doc in results:
        if status == 409:
            assert doc["type"].endswith("/request-in-flight")
    assert count(Transfer) == 1
    assert ada.get("/accounts/").json["wallets"][0]["balance"] == BONUS - 1_000
    assert ada.post("/transfers/", body, key=key).json == created[0]
    assert_ledger_ok()


def test_concurrent_twins_open_one_wallet(app, ctx):
    ada = api_register(app, "Ada Obi")
    headers = ada.headers(new_key())

    def call() -> tuple[int, Any]:
        response = app.test_client().post(
            f"{API}/wallets/", json={"currency": "GBP"}, headers=headers
        )
        return response.status_code, response.get_json()

    results = concurrently(6, call)
    assert {status for status, _ in results} <= {201, 409}
    created = [doc for status, doc in results if status == 201]
    assert created and all(doc == created[0] for doc in created)
    assert len([w for w in ada.get("/accounts/").json["wallets"] if w["currency"] == "GBP"]) == 1


# Bills


@pytest.fixture()
def bills_sandbox(app, redis_clean, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "SANDBOX_DELAY", 0)
    monkeypatch.setitem(app.config, "BILLS_FEES", {"airtime": 0, "data": 0, "electricity": 10_000})


def test_pay_a_bill_held_at_once_then_settled(app, ctx, bills_sandbox):
    from lumipay.bills import service as bills

    ada = api_register(app, "Ada Obi")
    body = {"category": "airtime", "network": "mtn", "phone": "08031234567", "amount": 150_000}
    key = new_key()
    response = ada.post("/bills/pay", body, key=key)
    assert response.status_int == 202, response.text
    paid = response.json
    assert paid["status"] == "processing"
    assert paid["provider_ref"] == db.session.scalar(select(BillPayment.request_id))
    assert ada.post("/bills/pay", body, key=key).json == paid
    wallet = ada.get("/accounts/").json["wallets"][0]
    assert (wallet["held"], wallet["available"]) == (150_000, BONUS - 150_000)
    bills.submit(paid["reference"])  # what the worker does: ask the provider …
    bills.requery(paid["reference"])  # … and requery it until final
    bill = ada.get(f"/bills/{paid['bill_id']}").json
    assert (bill["status"], bill["amount"], bill["total"]) == ("succeeded", 150_000, 150_000)
    assert bill["settled_at"] and bill["message"]
    wallet = ada.get("/accounts/").json["wallets"][0]
    assert (wallet["balance"], wallet["held"]) == (BONUS - 150_000, 0)
    cy = api_register(app, "Cy Okafor")
    assert_problem(cy.get(f"/bills/{paid['bill_id']}"), 404, "not-found")
    assert_ledger_ok()


def test_bill_refusals_name_the_field_and_hold_nothing(app, ctx, bills_sandbox):
    ada = api_register(app, "Ada Obi")
    before = money_state()
    too_much = {"category": "airtime", "network": "mtn", "phone": "08031234567",
                "amount": 5_000_001}  # fmt: skip
    doc = assert_problem(ada.post("/bills/pay", too_much, key=new_key()), 422, "bill-refused")
    assert doc["errors"][0]["field"] == "amount"
    power = {"category": "electricity", "disco": "ikeja-electric", "meter_type": "prepaid",
             "meter_number": "45678901234", "amount": BONUS, "phone": "08031234567"}  # fmt: skip
    doc = assert_problem(ada.post("/bills/pay", power, key=new_key()), 422, "over-kyc-limit")
    assert doc["errors"][0]["field"] == "amount" and "Tier 1" in doc["detail"]
    set_tier(ada.email, 3)
    # Above Tier 1 amounts an API debit needs the PIN; above step-up, the emailed code too.
    assert_problem(ada.post("/bills/pay", power, key=new_key()), 403, "pin-not-set")
    assert ada.post("/users/me/pin", {"pin": "2468"}).status_int == 204
    ada.pin, key = "2468", new_key()
    assert_problem(ada.post("/bills/pay", power, key=key), 401, "email-code-required")
    coded = post_debit(app, ada, "/bills/pay", power, key)
    doc = assert_problem(coded, 422, "insufficient-funds")
    assert doc["errors"][0]["field"] == "amount"
    doc = assert_problem(ada.post("/bills/pay", {"category": "gas"}, key=new_key()), 422,
                         "validation-error")  # fmt: skip
    assert doc["errors"][0]["field"] == "category"
    doc = assert_problem(ada.post("/bills/pay", {"category": "data", "phone": "0803"},
                                  key=new_key()), 422, "validation-error")  # fmt: skip
    assert [e["field"] for e in doc["errors"]] == ["plan"]
    assert money_state() == before


# FX


def test_quote_then_convert_once_at_the_quoted_price(app, ctx):
    from lumipay.fx import service as fx

    fx.update_rates()
    ada = api_register(app, "Ada Obi")
    rates = ada.get("/fx/rates").json
    assert rates["stale"] is False and {(p["base"], p["quote"]) for p in rates["pairs"]} >= {
        ("USD", "NGN")
    }
    usd = ada.post("/wallets/", {"currency": "USD"}, key=new_key()).json
    body = {"from_wallet_id": ngn_wallet_id(ada), "to_wallet_id": usd["wallet_id"],
            "debit_amount": 1_000_000}  # fmt: skip
    quote = ada.post("/fx/quotes", body, key=new_key())
    assert quote.status_int == 201, quote.text
    q = quote.json
    assert q["debit_amount"] == 1_000_000 and q["credit_amount"] > 0
    key = new_key()
    done = ada.post("/fx/convert", {"quote_id": q["quote_id"]}, key=key)
    assert done.status_int == 201, done.text
    assert ada.post("/fx/convert", {"quote_id": q["quote_id"]}, key=key).json == done.json
    again = ada.post("/fx/convert", {"quote_id": q["quote_id"]}, key=new_key())
    assert again.json["transaction_ref"] == done.json["transaction_ref"], "one conversion a quote"
    balance = ada.get(f"/wallets/{usd['wallet_id']}/balance").json
    assert balance["balance"] == q["credit_amount"]
    assert_ledger_ok()


def test_fx_refusals(app, ctx, clock):
    from lumipay.fx import service as fx

    ada = api_register(app, "Ada Obi")
    usd = ada.post("/wallets/", {"currency": "USD"}, key=new_key()).json
    body = {"from_wallet_id": ngn_wallet_id(ada), "to_wallet_id": usd["wallet_id"],
            "credit_amount": 100}  # fmt: skip
    assert_problem(ada.post("/fx/quotes", body, key=new_key()), 503, "rates-unavailable")
    fx.update_rates()
    doc = assert_problem(
        ada.post("/fx/quotes", {**body, "credit_amount": 10**12}, key=new_key()), 422,
        "insufficient-funds",
    )  # fmt: skip
    assert doc["errors"][0]["field"] == "credit_amount"
    q = ada.post("/fx/quotes", body, key=new_key()).json
    clock.advance(app.config["FX_QUOTE_SECONDS"] + 1)
    assert_problem(ada.post("/fx/convert", {"quote_id": q["quote_id"]}, key=new_key()), 422,
                   "quote-expired")  # fmt: skip
    assert_problem(ada.post("/fx/convert", {"quote_id": "FXQ-NONE"}, key=new_key()), 404,
                   "not-found")  # fmt: skip
    bayo = api_register(app, "Bayo Adeyemi")
    assert_problem(bayo.post("/fx/convert", {"quote_id": q["quote_id"]}, key=new_key()), 404,
                   "not-found")  # fmt: skip


# The OpenAPI document


def test_the_openapi_document_describes_every_api_route(app, web):
    doc = web.get("/api/openapi.json").json
    assert doc["openapi"] == "3.1.0"
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API) and rule.endpoint.startswith("api."):
            path = rule.rule
            for arg in rule.arguments:
                path = path.replace(path[path.index("<") : path.index(">") + 1], f"{{{arg}}}", 1)
            served |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {
        (path, method) for path, ops in doc["paths"].items() for method in ops if path != "/healthz"
    }
    assert documented == served
    transfer = doc["paths"][f"{API}/transfers/"]["post"]
    header = next(p for p in transfer["parameters"] if p["name"] == "Idempotency-Key")
    assert header["required"] is True and header["in"] == "header"
    body = doc["components"]["schemas"]["TransferIn"]
    assert body["properties"]["amount"]["type"] == "integer"
    assert body["additionalProperties"] is False
    assert "application/problem+json" in transfer["responses"]["422"]["content"]


def test_the_docs_page_uses_only_our_own_scripts(web):
    page = web.get("/api/docs")
    scripts = [s["src"] for s in page.html.find_all("script")]
    assert scripts == [
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/js/api-docs.js",
    ]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert web.get(scripts[0]).status_int == 200, "make install vendors Swagger UI"


# Faults: a database connection dropped mid-transfer, an unexpected error


def test_connection_dropped_mid_transfer_is_a_503_problem_and_the_retry_moves_money_once(app, ctx):
    from sqlalchemy import event

    from tests.conftest import _database_url

    ada, bayo = api_register(app, "Ada Obi"), api_register(app, "Bayo Adeyemi")
    key, body = new_key(), transfer_body(ada, bayo, 2_500)
    before = money_state()
    armed = threading.Event()
    armed.set()
    killer = sa.create_engine(_database_url(), poolclass=sa.pool.NullPool)

    def drop_connection(conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if armed.is_set() and runs(statement, "ledger_post("):
            armed.clear()
            pid = conn.connection.dbapi_connection.get_backend_pid()
            with killer.connect() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    event.listen(db.engine, "before_cursor_execute", drop_connection)
    try:
        response = ada.post("/transfers/", body, key=key)
    finally:
        event.remove(db.engine, "before_cursor_execute", drop_connection)
        killer.dispose()
    assert_problem(response, 503, "service-unavailable")
    assert money_state() == before, "the key's claim rolled back with the money"
    retried = ada.post("/transfers/", body, key=key)
    assert retried.status_int == 201 and "Idempotent-Replayed" not in retried.headers
    again = ada.post("/transfers/", body, key=key)
    assert (again.status_int, again.json) == (201, retried.json)
    assert count(Transfer) == 1
    assert_ledger_ok()


def test_an_unexpected_error_is_a_500_problem_not_an_html_page(app, ctx, monkeypatch):
    from sqlalchemy import event

    ada = api_register(app, "Ada Obi")
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)

    def fail(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if "FROM ledger_accounts" in statement:
            raise RuntimeError("a bug")

    event.listen(db.engine, "before_cursor_execute", fail)
    try:
        response = ada.get("/accounts/")
    finally:
        event.remove(db.engine, "before_cursor_execute", fail)
    doc = assert_problem(response, 500, "internal-error")
    assert "a bug" not in response.text and "Traceback" not in response.text
    assert doc["detail"] == "Something went wrong on our side"
