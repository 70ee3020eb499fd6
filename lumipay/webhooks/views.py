"""URL: POST /api/lumipay/v1/webhooks/<channel> (bills, bank, cards). JSON in, JSON out.

Deliveries carry our signature (X-Lumipay-Signature), except Moniepoint's on the bank channel,
which carry its own (monnify-signature) and are verified its way."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from lumipay import metrics
from lumipay.extensions import csrf
from lumipay.providers import moniepoint, signing
from lumipay.ratelimit import WebhookFailures
from lumipay.webhooks import service

bp = Blueprint("webhooks", __name__, url_prefix="/api/lumipay/v1/webhooks")
# Providers can't hold a CSRF token; the HMAC signature is what authenticates them.
csrf.exempt(bp)


@bp.route("/<channel>", methods=["POST"])
def receive(channel: str) -> tuple[Response, int]:
    started = time.perf_counter()
    raw = request.get_data(cache=False)
    client = request.remote_addr or "unknown"
    try:
        if channel == "bank" and moniepoint.SIGNATURE_HEADER in request.headers:
            accepted = service.receive_moniepoint(
                raw, request.headers.get(moniepoint.SIGNATURE_HEADER), client=request.remote_addr
            )
        else:
            accepted = service.receive(
                channel,
                raw,
                request.headers.get(signing.TIMESTAMP_HEADER),
                request.headers.get(signing.SIGNATURE_HEADER),
                client=request.remote_addr,
            )
    except service.WebhookRejected as exc:
        if exc.status != 401:
            return jsonify(status="rejected", reason=exc.reason), exc.status
        # Only deliveries that fail verification count; a signed one is never throttled.
        if WebhookFailures.exhausted(client):
            return jsonify(status="rejected", reason="too many failed deliveries"), 429
        WebhookFailures.hit(client)
        return jsonify(status="rejected", reason=exc.reason), exc.status
    if channel == "cards" and accepted.answer is not None:
        # The issuer's deadline is 2 s for the whole answer; the alert rules watch this.
        approved = "true" if accepted.answer.get("approved") else "false"
        metrics.card_authorisations.labels(approved).observe(time.perf_counter() - started)
    return jsonify(accepted.body()), 200
