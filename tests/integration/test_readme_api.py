"""The README's JSON API section, run AS WRITTEN with the real curl against a live server.

Its ```sh blocks are joined into one bash script; the only change is the host and port in the
`API=` line the README itself defines. Tokens, wallet ids and references travel in the shell
variables the README sets.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from lumipay.api.models import RefreshToken
from lumipay.bills.models import BillPayment
from lumipay.extensions import db
from lumipay.ledger.verify import verify_ledger
from lumipay.transfers.models import Transfer

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
