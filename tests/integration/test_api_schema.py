"""Schemathesis against /api/openapi.json, in-process (WSGI) on PostgreSQL: for every
operation, generated requests (schema-conforming and not) never get a 5xx, and every response
conforms to the document: status code, content type, headers and body schema.

Deterministic (derandomized, fixed example budget) and bounded so the run stays well under two
minutes. The counts are printed at the end of the pytest run.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from lumipay.api import tokens
from lumipay.audit.service import SYSTEM
from lumipay.auth import service as auth
from tests.conftest import PASSWORD

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]
COUNTS: Counter[str] = Counter()


def served_document() -> dict[str, Any]:
    """/api/openapi.json as the app serves it (built at collection, so no database is needed).

    (`schemathesis.pytest.from_fixture` would load it from the test app, but 4.32 reads a
    private attribute pytest 9 no longer has; requests still go to the test app, below.)
    """
    from lumipay import create_app

    app = create_app({"SECRET_KEY": "schema-only-" + "0" * 32, "TESTING": True})
    document: dict[str, Any] = app.test_client().get("/api/openapi.json").get_json()
    return document


schema = schemathesis.openapi.from_dict(served_document())


@pytest.fixture()
def bearer(app, db_clean) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A customer with an NGN and a USD wallet and rates to convert at, signed in."""
    from lumipay.accounts.service import open_wallet
    from lumipay.fx import service as fx

    with app.app_context():
        user = auth.register_customer(
            "Schema Tester", "schema@example.com", "08030000001", PASSWORD, origin=SYSTEM
        )
        open_wallet(user.id, "USD", origin=SYSTEM)
        fx.update_rates()
        pair = tokens.issue(user.id, origin=SYSTEM)
    return {"Authorization": f"Bearer {pair.access_token}"}


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms_to_the_openapi_document(
    case: Any, app: Any, bearer: dict[str, str], request: pytest.FixtureRequest
) -> None:
    # Called in-process (WSGI), where nothing would decode a compressed body: ask for it plain,
    # as the schema describes it (flask-compress answers clients that accept gzip/br/zstd).
    headers = {**bearer, "Accept-Encoding": "identity"}
    response = case.call_and_validate(app=app, headers=headers, checks=CHECKS)
    COUNTS["cases"] += 1
    COUNTS[f"status {response.status_code}"] += 1
    COUNTS[f"op {case.operation.label}"] += 1
    request.config.stash[SCHEMA_COUNTS] = COUNTS


SCHEMA_COUNTS = pytest.StashKey[Counter[str]]()
