"""The scrubber's interface (`scrub_text`, `scrub_data`) masks what must never leave the process.

Only the interface is tested: the security work may replace the implementation."""

from __future__ import annotations

from lumipay.scrub import MASK, scrub_data, scrub_text

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlLWhlcmU"


def test_text_loses_card_numbers_bvn_nin_tokens_and_reset_links() -> None:
    text = (
        "card 4111 1111 1111 1111 and 5500-0000-0000-0004 and 4000000000000002, "
        "bvn 22212345678, nin 70123456789, Authorization: Bearer abc.def-123, "
        f"jwt {JWT}, link https://bank.example/auth/reset/Zx9kQ2mP7vL4nB8cR1tY, "
        "password=hunter2-secret pin: 4321 cvv=737 otp_code=492039"
    )
    scrubbed = scrub_text(text)
    for secret in (
        "4111 1111 1111 1111",
        "5500-0000-0000-0004",
        "4000000000000002",
        "22212345678",
        "70123456789",
        "abc.def-123",
        JWT,
        "Zx9kQ2mP7vL4nB8cR1tY",
        "hunter2-secret",
        "4321",
        "737",
        "492039",
    ):
        assert secret not in scrubbed, secret
    assert scrubbed.startswith("card ") and "bvn " in scrubbed and "/auth/reset/" in scrubbed


def test_text_keeps_what_is_not_secret() -> None:
    text = "transfer TR20261201ABCD of 250000 kobo to 0901234567 at 2026-12-01T09:28:41"
    assert scrub_text(text) == text


def test_data_masks_sensitive_keys_at_any_depth_and_keeps_the_shape() -> None:
    event = {
        "request": {
            "data": {"password": "correct-horse-9", "pin": "4321", "code": "492039", "amount": "5"},
            "headers": [
                ["Authorization", "Bearer x"],
                ["X-Transaction-PIN", "4321"],
                ["Accept", "*/*"],
            ],
            "cookies": {"session": "abc"},
        },
        "extra": {
            "card_number": "4111111111111111",
            "CVV": "737",
            "totp": "1",
            "bvn": "1",
            "nin": "2",
        },
        "breadcrumbs": [{"message": "reset link https://x.ng/auth/reset/tok3n-value-9"}],
        "tags": [("secret_key", "value"), ("release", "1")],
        "level": "error",
        "count": 3,
    }
    scrubbed = scrub_data(event)
    data = scrubbed["request"]["data"]
    assert data["amount"] == "5" and {data["password"], data["pin"], data["code"]} == {MASK}
    headers = dict(scrubbed["request"]["headers"])
    assert headers["Authorization"] != "Bearer x" and headers["X-Transaction-PIN"] != "4321"
    assert headers["Accept"] == "*/*"
    assert scrubbed["request"]["cookies"] != {"session": "abc"}
    assert all(value != original for value, original in zip(
        scrubbed["extra"].values(), event["extra"].values(), strict=True
    ))  # fmt: skip
    assert "tok3n-value-9" not in scrubbed["breadcrumbs"][0]["message"]
    assert scrubbed["tags"] == [("secret_key", MASK), ("release", "1")]
    assert scrubbed["level"] == "error" and scrubbed["count"] == 3
    assert event["request"]["data"]["pin"] == "4321"  # the input is left alone
