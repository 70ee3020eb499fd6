"""`Cache-Control: no-store` on every authenticated response and every token response."""

from __future__ import annotations

from tests.conftest import PASSWORD
from tests.integration.helpers.api import api_register


def test_token_responses_and_balances_are_not_stored(app, ctx):
    client = api_register(app)
    registered = client.post(
        "/auth/login", {"login": client.email, "password": PASSWORD}
    )  # a token response
    assert registered.headers["Cache-Control"] == "no-store"
    client.take(registered.json)
    refreshed = client.post("/auth/refresh", {"refresh_token": client.refresh})
    assert refreshed.headers["Cache-Control"] == "no-store"
    client.take(refreshed.json)
    for path in ("/accounts/", "/users/me", "/accounts/transactions"):
        response = client.get(path)
        assert response.status_int == 200, (path, response.text)
        assert "no-store" in response.headers["Cache-Control"], path


def test_register_token_response_is_not_stored(app, ctx):
    from tests.conftest import Browser, unique_details
    from tests.integration.helpers.api import ApiClient

    client = ApiClient(Browser(app, extra_environ={"REMOTE_ADDR": "198.51.100.90"}))
    response = client.post("/auth/register", unique_details("Reg Ister"))
    assert response.status_int == 201
    assert response.headers["Cache-Control"] == "no-store"


def test_signed_in_pages_and_reset_pages_are_not_stored(register, web, ctx):
    ada = register("Ada Obi")
    for path in ("/dashboard", "/auth/security", "/transfers/new", "/bills/airtime"):
        assert "no-store" in ada.get(path).headers["Cache-Control"], path
    assert web.get("/auth/reset").headers["Cache-Control"] == "no-store"
