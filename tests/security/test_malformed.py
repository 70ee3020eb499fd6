"""Malformed signatures and bodies are 400/401 problems, never a 500: non-ASCII signature
headers on the webhooks, non-ASCII /metrics tokens, and JSON nested past any real request."""

from __future__ import annotations

import json
import time

import pytest

from lumipay import jsonsafe
from lumipay.providers import moniepoint, signing
from tests.security.conftest import new_browser

BILLS = "/api/lumipay/v1/webhooks/bills"
BANK = "/api/lumipay/v1/webhooks/bank"
NON_ASCII = ["sha256=é", "ñ" * 64, "sha256=\u00ff\u00fe"]
RAW = json.dumps({"id": "evt_1", "type": "bill.completed", "data": {}}).encode()


@pytest.mark.parametrize("presented", NON_ASCII)
def test_non_ascii_lumipay_signature_is_401(app, ctx, presented):
    headers = {
        "Content-Type": "application/json",
        signing.TIMESTAMP_HEADER: str(int(time.time())),
        signing.SIGNATURE_HEADER: presented,
    }
    response = new_browser(app).post(BILLS, RAW, headers=headers, expect_errors=True)
    assert response.status_int == 401, response.text


@pytest.mark.parametrize("presented", NON_ASCII)
def test_non_ascii_monnify_signature_is_401(app, ctx, monkeypatch, presented):
    monkeypatch.setitem(app.config, "BANK_PROVIDER_MODE", "http")
    monkeypatch.setitem(app.config, "MONIEPOINT_CLIENT_SECRET", "m" * 40)
    headers = {"Content-Type": "application/json", moniepoint.SIGNATURE_HEADER: presented}
    response = new_browser(app).post(BANK, RAW, headers=headers, expect_errors=True)
    assert response.status_int == 401, response.text


@pytest.mark.parametrize("presented", ["Bearer é", "Bearer " + "ü" * 40])
def test_non_ascii_metrics_token_is_401(app, ctx, monkeypatch, presented):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "metrics-token-0123456789abcdef")
    response = new_browser(app).get(
        "/metrics", headers={"Authorization": presented}, expect_errors=True
    )
    assert response.status_int == 401


@pytest.mark.parametrize(
    "path", ["/auth/refresh", "/auth/login", "/auth/register"], ids=lambda p: p
)
def test_deeply_nested_json_is_a_400_problem(app, ctx, path):
    body = ("[" * 100_000 + "]" * 100_000).encode()
    response = new_browser(app).post(
        "/api/lumipay/v1" + path,
        body,
        headers={"Content-Type": "application/json"},
        expect_errors=True,
    )
    assert response.status_int == 400, response.text
    assert response.content_type == "application/problem+json"


def test_deeply_nested_signed_webhook_is_malformed(app, ctx):
    raw = b'{"id": "evt_deep", "type": "x", "data": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    secret = app.config["WEBHOOK_SECRETS"]["bills"]
    headers = signing.signed_headers(secret, int(time.time()), raw)
    response = new_browser(app).post(BILLS, raw, headers=headers, expect_errors=True)
    assert response.status_int == 400, response.text


def test_depth_counts_brackets_outside_strings_only():
    assert jsonsafe.depth('{"a": "[[[[[[", "b": [1, {"c": 2}]}') == 3
    assert jsonsafe.depth(r'["\"[[[[", []]') == 2
    with pytest.raises(ValueError):
        jsonsafe.loads("[" * 40 + "]" * 40)
    assert jsonsafe.loads("[" * 32 + "]" * 32) is not None
