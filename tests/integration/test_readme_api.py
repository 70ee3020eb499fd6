"""The README's JSON API section, run AS WRITTEN with the real curl against a live server.

Its ```sh blocks are joined into one bash script; the only change is the host and port in the
`API=` line the README itself defines. Tokens, wallet ids and references travel in the shell
variables the README sets.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.serving import make_server

from lumipay.api.models import RefreshToken
from lumipay.auth.models import User
from lumipay.bills.models import BillPayment
from lumipay.extensions import db
from lumipay.ledger.models import Account
from lumipay.ledger.verify import verify_ledger
from lumipay.transfers.models import Transfer
from tests.conftest import Browser, set_tier
from tests.integration.helpers.api import API
from tests.integration.test_api import bills_sandbox  # noqa: F401 (fixture)

BASH = shutil.which("bash") or "/bin/bash"
README = Path(__file__).resolve().parents[2] / "README.md"
API_LINE = re.compile(r"^API=http://127\.0\.0\.1:5000(/api/lumipay/v1)$", re.M)


def api_section() -> str:
    text = README.read_text()
    start = text.index("## JSON API\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def readme_script(base_url: str) -> str:
    blocks = re.findall(r"```sh\n(.*?)```", api_section(), re.S)
    script = "\n".join(blocks)
    assert len(API_LINE.findall(script)) == 1, "the README defines API= once"
    return API_LINE.sub(lambda m: f"API={base_url}{m.group(1)}", script)


@pytest.fixture()
def live_server(app: Flask, db_clean: None, redis_clean: object) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_the_readme_curl_examples_run_as_written(app, live_server, tmp_path):
    script = readme_script(live_server)
    done = subprocess.run(
        [BASH, "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert '"account_number"' in out and '"access_token"' in out
    assert '"available": 10000000' in out
    assert '"status": "succeeded"' in out and '"direction": "sent"' in out
    assert '"status": "processing"' in out and '"category": "airtime"' in out
    with app.app_context():
        transfers = db.session.scalars(select(Transfer)).all()
        assert [(t.amount, t.narration) for t in transfers] == [(250_000, "Lunch")]
        bill = db.session.scalars(select(BillPayment)).one()
        assert (bill.amount, bill.status) == (100_000, "processing")
        revoked = db.session.scalars(
            select(RefreshToken.revoke_reason).where(RefreshToken.revoke_reason.is_not(None))
        ).all()
        assert revoked and set(revoked) == {"logout"}, "the README's logout revoked its sign-in"
        assert verify_ledger().ok


def test_the_readme_sends_the_same_transfer_twice_and_pays_once(app, live_server, tmp_path):
    """Running the transfer block twice (a retry) replays the first answer."""
    script = readme_script(live_server)
    transfer_block = re.search(r"TRANSFER_JSON=.*?\"Lunch\\\"}\"\)", script, re.S)
    assert transfer_block, "the README's transfer command"
    retry = script.replace(
        transfer_block.group(0),
        transfer_block.group(0) + "\nFIRST=$TRANSFER_JSON\n" + transfer_block.group(0)
        + '\n[ "$FIRST" = "$TRANSFER_JSON" ] || { echo "different answers"; exit 1; }',
    )  # fmt: skip
    done = subprocess.run(
        [BASH, "-euo", "pipefail", "-c", retry],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with app.app_context():
        assert len(db.session.scalars(select(Transfer)).all()) == 1


# The product README's "Example Requests" (the JSON API contract partners and apps are written
# from), copied verbatim; when the README itself is reachable the copy is checked against it.
SEED_NAME = "000_08b2aa486faeff5a.txt"
SEED_CANDIDATES = (
    Path(__file__).resolve().parents[3] / "shared" / "seed" / SEED_NAME,
    Path("/work/shared/seed") / SEED_NAME,
)
REGISTER = """curl -X POST http://localhost:8000/api/lumipay/v1/auth/register  -H "Content-Type: application/json"  -d '{
   "email":"alex@example.com",
   "phone":"+2348012345678",
   "password":"StrongP@ssw0rd",
   "full_name":"Alex Johnson"
 }'"""  # noqa: E501
TRANSFER = """curl -X POST http://localhost:8000/api/lumipay/v1/transfers/  -H "Authorization: Bearer <token>"  -H "Content-Type: application/json"  -H "Idempotency-Key: f81d4fae-7dec-11d0-a765-00a0c91e6bf6"  -d '{
   "from_wallet_id":"11111111-2222-3333-4444",
   "to_account_number":"0392098765",
   "amount":5000000,
   "currency":"NGN",
   "narration":"Payment for design work"
 }'"""  # noqa: E501
AIRTIME = """curl -X POST http://localhost:8000/api/lumipay/v1/bills/pay  -H "Authorization: Bearer <token>"  -H "Content-Type: application/json"  -H "Idempotency-Key: bill-123"  -d '{
   "wallet_id":"11111111-2222-3333-4444",
   "bill_type":"airtime",
   "provider":"VTUProviderA",
   "recipient":"+2348012345678",
   "amount":500000
 }'"""  # noqa: E501
PLACEHOLDER_WALLET = "11111111-2222-3333-4444"
BONUS_KOBO = 10_000_000


def test_the_copied_examples_are_the_readmes():
    seed = next((path for path in SEED_CANDIDATES if path.exists()), None)
    if seed is None:
        pytest.skip("the product README (shared/seed) is not beside this checkout")
    text = seed.read_text()
    section = text[text.index("## Example Requests (curl)") :]
    blocks = [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)[:3]]
    assert blocks == [REGISTER, TRANSFER, AIRTIME]


def run_curl(command: str, base_url: str, **subs: str) -> dict:
    """Run one README command with real curl, with only host/port and placeholders replaced."""
    command = command.replace("http://localhost:8000", base_url)
    for old, new in subs.items():
        command = command.replace(old, new)
    done = subprocess.run(
        [BASH, "-c", command + " -sS -D headers.txt"], capture_output=True, text=True,
        timeout=60, check=False, cwd=subs.get("_cwd"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    headers = Path(subs["_cwd"], "headers.txt").read_text()
    status = int(headers.split()[1])
    return {"status": status, "body": json.loads(done.stdout), "headers": headers.lower()}


def test_the_product_readmes_curl_examples_get_their_documented_outcomes(
    app,
    live_server,
    tmp_path,
    bills_sandbox,  # noqa: F811 (the fixture)
):
    """Register (201 with user_id, account_number, tokens), the ₦50,000 transfer (201, then the
    same answer replayed for the same key) and the airtime purchase (202 processing with
    provider_ref, replayed) as the product README writes them."""
    cwd = str(tmp_path)
    first = run_curl(REGISTER, live_server, _cwd=cwd)
    assert first["status"] == 201, first
    alex = first["body"]
    assert set(alex) >= {"user_id", "account_number", "tokens"}
    assert uuid.UUID(alex["user_id"]) and re.fullmatch(r"\d{10}", alex["account_number"])
    again = run_curl(REGISTER, live_server, _cwd=cwd)
    assert again["status"] == 422 and "email" in json.dumps(again["body"]), "no second account"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1
    recipient = run_curl(
        REGISTER.replace("alex@", "bayo@").replace("8012345678", "8051234567"), live_server,
        _cwd=cwd,
    )["body"]  # fmt: skip
    # ₦50,000 is a whole Tier 1 day, and the airtime comes on top: Alex is verified to Tier 2.
    with app.app_context():
        set_tier("alex@example.com", 2)
    token = alex["tokens"]["access_token"]
    with app.app_context():
        wallet = str(
            db.session.scalar(
                select(Account.public_id).join(User, User.id == Account.user_id)
                .where(User.email == "alex@example.com", Account.currency == "NGN")
            )
        )  # fmt: skip
    subs = {"<token>": token, PLACEHOLDER_WALLET: wallet, "_cwd": cwd}
    transfer_subs = {**subs, "0392098765": recipient["account_number"]}
    sent = run_curl(TRANSFER, live_server, **transfer_subs)
    assert sent["status"] == 201, sent
    assert set(sent["body"]) == {"transfer_id", "transaction_ref", "status"}
    assert sent["body"]["status"] == "succeeded" and uuid.UUID(sent["body"]["transfer_id"])
    replay = run_curl(TRANSFER, live_server, **transfer_subs)
    assert (replay["status"], replay["body"]) == (201, sent["body"])
    assert "idempotent-replayed: true" in replay["headers"]

    # +234 801… is a MAFAB Communications number: its network is read from the prefix.
    paid = run_curl(AIRTIME, live_server, **subs)
    assert paid["status"] == 202, paid
    assert paid["body"]["network"] == "mafab"
    assert set(paid["body"]) >= {"bill_id", "status", "provider_ref"}
    assert paid["body"]["status"] == "processing" and uuid.UUID(paid["body"]["bill_id"])
    replay = run_curl(AIRTIME, live_server, **subs)
    assert (replay["status"], replay["body"]) == (202, paid["body"])
    assert "idempotent-replayed: true" in replay["headers"]
    with app.app_context():
        assert [t.amount for t in db.session.scalars(select(Transfer))] == [5_000_000]
        bill = db.session.scalars(select(BillPayment)).one()
        assert (bill.amount, bill.service_id, bill.request_id) == (
            500_000, "mafab", paid["body"]["provider_ref"]
        )  # fmt: skip
        assert verify_ledger().ok


def test_a_client_using_only_the_readmes_field_names_goes_end_to_end(
    app,
    ctx,
    bills_sandbox,  # noqa: F811 (the fixture)
    monkeypatch,
):
    """Registration to a conversion with the README's names only, checking every response
    field it names; ids are UUIDs."""
    from lumipay.fx import service as fx
    from tests.integration.helpers.api import ApiClient, new_key
    from tests.integration.test_api import assert_problem
    from tests.integration.test_api_bank_cards_admin import cards_config  # noqa: F401
    from tests.integration.test_bank_payouts import bank_config  # noqa: F401

    monkeypatch.setitem(app.config, "CARDS_PROVIDER", "sandbox")
    fx.update_rates()

    def register(email: str, phone: str) -> tuple[ApiClient, dict]:
        client = ApiClient(Browser(app, extra_environ={"REMOTE_ADDR": "198.51.100.77"}))
        body = {
            "email": email,
            "phone": phone,
            "password": "StrongP@ssw0rd",
            "full_name": "Ada Obi",
        }
        made = client.post("/auth/register", body)
        assert made.status_int == 201 and set(made.json) == {"user_id", "account_number", "tokens"}
        uuid.UUID(made.json["user_id"])
        client.take(made.json["tokens"])
        return client, made.json

    ada, _ = register("ada.readme@example.com", "+2348031112222")
    bayo, bayo_made = register("bayo.readme@example.com", "+2348052223333")
    login = ada.post(
        "/auth/login", {"email": "ada.readme@example.com", "password": "StrongP@ssw0rd"}
    )
    assert login.status_int == 200 and {"access_token", "refresh_token"} <= set(login.json)
    ada.take(login.json)
    me = ada.get("/users/me").json
    assert me["email"] == "ada.readme@example.com" and me["wallets"][0]["currency"] == "NGN"
    ngn = me["wallets"][0]["wallet_id"]
    accounts = ada.get("/accounts/").json
    assert accounts["accounts"][0]["account_number"] == accounts["account_number"]
    usd = ada.post("/wallets/", {"currency": "USD"}, key=new_key())
    assert usd.status_int == 201 and usd.json["currency"] == "USD"
    balance = ada.get(f"/wallets/{ngn}/balance").json
    assert {"balance", "available_balance", "reserved"} <= set(balance)

    by_number = ada.post("/transfers/", {"from_wallet_id": ngn, "to_account_number": bayo_made["account_number"], "amount": 10_000, "currency": "NGN", "narration": "by number"}, key=new_key())  # fmt: skip  # noqa: E501
    assert by_number.status_int == 201 and set(by_number.json) == {
        "transfer_id",
        "transaction_ref",
        "status",
    }
    bayo_wallet = bayo.get("/accounts/").json["wallets"][0]["wallet_id"]
    by_wallet = ada.post("/transfers/", {"from_wallet_id": ngn, "to_wallet_id": bayo_wallet, "amount": 20_000, "currency": "NGN", "narration": "by wallet"}, key=new_key())  # fmt: skip  # noqa: E501
    assert by_wallet.status_int == 201, by_wallet.text
    got = ada.get(f"/transfers/{by_wallet.json['transaction_ref']}").json
    assert (got["amount"], got["status"]) == (20_000, "succeeded")
    assert bayo.get("/accounts/").json["wallets"][0]["balance"] == BONUS_KOBO + 30_000
    wrong_currency = ada.post("/transfers/", {"from_wallet_id": ngn, "to_wallet_id": bayo_wallet, "amount": 1, "currency": "USD"}, key=new_key())  # fmt: skip  # noqa: E501
    assert_problem(wrong_currency, 422, "validation-error")
    unknown = ada.post("/transfers/", {"from_wallet_id": ngn, "to_wallet_id": str(uuid.uuid4()), "amount": 1}, key=new_key())  # fmt: skip  # noqa: E501
    own = ada.post("/transfers/", {"from_wallet_id": ngn, "to_wallet_id": ngn, "amount": 1}, key=new_key())  # fmt: skip  # noqa: E501
    other_currency = ada.post("/transfers/", {"from_wallet_id": ngn, "to_wallet_id": usd.json["wallet_id"], "amount": 1}, key=new_key())  # fmt: skip  # noqa: E501
    # The same answer but for each request's own id (quoted to support, never a tell).
    refusals = {
        (r.status_int, json.dumps({k: v for k, v in r.json.items() if k != "request_id"}))
        for r in (unknown, own, other_currency)
    }
    assert len(refusals) == 1, "one refusal, whether the wallet exists or not"

    airtime = ada.post("/bills/pay", {"wallet_id": ngn, "bill_type": "airtime", "recipient": "+2348031234567", "provider": "VTUProviderA", "amount": 50_000}, key="bill-123")  # fmt: skip  # noqa: E501
    assert airtime.status_int == 202 and airtime.json["status"] == "processing"
    assert airtime.json["provider_ref"] and airtime.json["network"] == "mtn"
    data = ada.post("/bills/pay", {"wallet_id": ngn, "bill_type": "data", "recipient": "08031234567", "provider": "VTUProviderA", "plan": "mtn-data:mtn-2gb-30d"}, key=new_key())  # fmt: skip  # noqa: E501
    assert data.status_int == 202, data.text
    power = ada.post("/bills/pay", {"wallet_id": ngn, "bill_type": "electricity", "recipient": "45678901234", "provider": "VTUProviderA", "amount": 200_000, "disco": "ikeja-electric", "meter_type": "prepaid"}, key=new_key())  # fmt: skip  # noqa: E501
    assert power.status_int == 202, power.text
    bill = ada.get(f"/bills/{airtime.json['bill_id']}").json
    assert bill["bill_type"] == "airtime" and bill["recipient"] == "08031234567"
    unknown_provider = ada.post("/bills/pay", {"bill_type": "airtime", "recipient": "08031234567", "provider": "Nope", "amount": 5_000}, key=new_key())  # fmt: skip  # noqa: E501
    assert "VTUProviderA" in assert_problem(unknown_provider, 422, "validation-error")["detail"]

    topup = ada.post("/bank/topup", {"wallet_id": ngn, "amount": 500_000, "provider": "moniepoint", "return_url": "https://example.com/back"}, key=new_key())  # fmt: skip  # noqa: E501
    assert topup.status_int == 201 and topup.json["payment_url"], topup.text
    transfer_details = ada.post("/bank/topup", {"wallet_id": ngn, "amount": 500_000, "provider": "moniepoint"}, key=new_key())  # fmt: skip  # noqa: E501
    assert transfer_details.json["reserved_account"]["account_number"]
    payout = ada.post("/bank/payout", {"from_wallet_id": ngn, "to_bank_account": {"bank_code": "058", "account_number": "0123456789"}, "amount": 100_000}, key=new_key())  # fmt: skip  # noqa: E501
    assert_problem(payout, 403, "kyc-tier-required")

    card = ada.post("/cards/", {"wallet_id": ngn, "currency": "NGN", "limit": 2_000_000, "type": "multi_use"}, key=new_key())  # fmt: skip  # noqa: E501
    assert card.status_int == 202 and card.json["limit"] == 2_000_000, card.text
    assert card.json["per_transaction_limit"] == 2_000_000
    listed = ada.get("/cards/").json["items"]
    assert [c["card_id"] for c in listed] == [card.json["card_id"]]
    from lumipay.cards import service as cards

    cards.issue(card.json["reference"])
    blocked = ada.browser.patch(
        f"{API}/cards/{card.json['card_id']}/block", headers=ada.headers(), expect_errors=True
    )
    assert blocked.status_int == 200 and blocked.json["status"] == "frozen", blocked.text

    converted = ada.post("/fx/convert", {"from_wallet_id": ngn, "to_wallet_id": usd.json["wallet_id"], "amount": 100_000}, key=new_key())  # fmt: skip  # noqa: E501
    assert converted.status_int == 201 and converted.json["transaction_ref"], converted.text
    assert ada.get(f"/wallets/{usd.json['wallet_id']}/balance").json["balance"] > 0
    assert verify_ledger().ok
