import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lumipay.money import (
    CURRENCIES,
    MAX_MINOR,
    Currency,
    InvalidAmount,
    UnknownCurrency,
    format_amount,
    get_currency,
    parse_amount,
    to_major_str,
)

DETERMINISTIC = settings(derandomize=True, database=None, max_examples=300)


def test_currencies():
    assert set(CURRENCIES) == {"NGN", "USD", "EUR", "GBP"}
    assert CURRENCIES["NGN"] == Currency("NGN", "₦", 2, "Nigerian naira")
    assert CURRENCIES["USD"] == Currency("USD", "$", 2, "US dollar")
    assert CURRENCIES["EUR"] == Currency("EUR", "€", 2, "Euro")
    assert CURRENCIES["GBP"] == Currency("GBP", "£", 2, "Pound sterling")
    assert MAX_MINOR == 9_223_372_036_854_775_807
    with pytest.raises(dataclasses.FrozenInstanceError):
        CURRENCIES["NGN"].symbol = "N"  # type: ignore[misc]


def test_get_currency():
    assert get_currency("GBP").symbol == "£"
    with pytest.raises(UnknownCurrency, match=r"^Unknown currency XYZ\.$"):
        get_currency("XYZ")
    with pytest.raises(ValueError):
        get_currency("ngn")
    with pytest.raises(UnknownCurrency):
        parse_amount("5", "XYZ")
    with pytest.raises(UnknownCurrency):
        format_amount(5, "XYZ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5000", 500000),
        ("5,000", 500000),
        ("1,234,567.89", 123456789),
        ("5000.5", 500050),
        (" 12.30 ", 1230),
        ("\t7\n", 700),
        ("0.01", 1),
        (".5", 50),
        ("5.", 500),
        ("007", 700),
        ("100,000.00", 10000000),
        ("92233720368547758.07", MAX_MINOR),
    ],
)
def test_parse_accepts(text, expected):
    assert parse_amount(text) == expected


def test_parse_other_currency():
    assert parse_amount("12.30", "USD") == 1230
    with pytest.raises(InvalidAmount, match=r"^Amounts in EUR have at most 2 decimal places\.$"):
        parse_amount("1.234", "EUR")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter an amount."),
        ("   ", "Enter an amount."),
        ("0", "Enter an amount greater than zero."),
        ("0.00", "Enter an amount greater than zero."),
        ("000,000", "Enter an amount greater than zero."),
        ("-5", "Enter an amount greater than zero."),
        ("-0.01", "Enter an amount greater than zero."),
        ("+5", "Enter the amount without a + sign."),
        ("5.123", "Amounts in NGN have at most 2 decimal places."),
        ("0.001", "Amounts in NGN have at most 2 decimal places."),
        ("1e5", "Enter the amount in numbers only, for example 5,000.00."),
        ("1E5", "Enter the amount in numbers only, for example 5,000.00."),
        ("NaN", "Enter the amount in numbers only, for example 5,000.00."),
        ("Infinity", "Enter the amount in numbers only, for example 5,000.00."),
        ("inf", "Enter the amount in numbers only, for example 5,000.00."),
        ("five", "Enter the amount in numbers only, for example 5,000.00."),
        ("₦5,000", "Enter the amount in numbers only, for example 5,000.00."),
        ("5 000", "Enter the amount in numbers only, for example 5,000.00."),
        ("5_000", "Enter the amount in numbers only, for example 5,000.00."),
        (".", "Enter the amount in numbers only, for example 5,000.00."),
        ("5,00", "Check the commas in the amount, for example 5,000 or 1,234,567."),
        ("50,00,000", "Check the commas in the amount, for example 5,000 or 1,234,567."),
        ("5000,000", "Check the commas in the amount, for example 5,000 or 1,234,567."),
        (",500", "Check the commas in the amount, for example 5,000 or 1,234,567."),
        ("5,000,", "Check the commas in the amount, for example 5,000 or 1,234,567."),
        ("5.000,00", "Commas can only appear before the decimal point, e.g. 5,000.00."),
        ("1.000.000,00", "Enter an amount with at most one decimal point."),
        ("5.000,5", "Commas can only appear before the decimal point, e.g. 5,000.00."),
        ("1.2.3", "Enter an amount with at most one decimal point."),
        ("5..0", "Enter an amount with at most one decimal point."),
        ("92233720368547758.08", "That amount is too large."),
        ("100000000000000000000", "That amount is too large."),
        ("9" * 5000, "That amount is too large."),
        ("٥٠", "Enter the amount using the digits 0 to 9."),
        ("５０", "Enter the amount using the digits 0 to 9."),
        ("1²", "Enter the amount using the digits 0 to 9."),
    ],
)
def test_parse_refuses(text, message):
    with pytest.raises(InvalidAmount) as exc:
        parse_amount(text)
    assert str(exc.value) == message


def test_parse_rejects_non_str():
    with pytest.raises(TypeError):
        parse_amount(5000)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("minor", "currency", "expected"),
    [
        (500050, "NGN", "₦5,000.50"),
        (1230, "USD", "$12.30"),
        (5, "EUR", "€0.05"),
        (100000000, "GBP", "£1,000,000.00"),
        (0, "NGN", "₦0.00"),
        (-500, "NGN", "-₦5.00"),
        (99, "NGN", "₦0.99"),
        (MAX_MINOR, "NGN", "₦92,233,720,368,547,758.07"),
    ],
)
def test_format(minor, currency, expected):
    assert format_amount(minor, currency) == expected


def test_format_sign():
    assert format_amount(500, sign=True) == "+₦5.00"
    assert format_amount(-500, sign=True) == "-₦5.00"
    assert format_amount(0, sign=True) == "₦0.00"
    assert format_amount(500) == "₦5.00"


@pytest.mark.parametrize("bad", [True, False, 5.0, "500", None])
def test_format_and_major_reject_non_int(bad):
    with pytest.raises(TypeError):
        format_amount(bad)
    with pytest.raises(TypeError):
        to_major_str(bad)


@pytest.mark.parametrize(
    ("minor", "expected"),
    [(500050, "5000.50"), (5, "0.05"), (0, "0.00"), (-1230, "-12.30"), (100000000, "1000000.00")],
)
def test_to_major_str(minor, expected):
    assert to_major_str(minor) == expected


@DETERMINISTIC
@given(st.integers(min_value=1, max_value=MAX_MINOR), st.sampled_from(sorted(CURRENCIES)))
def test_format_parse_round_trip(minor, code):
    symbol = CURRENCIES[code].symbol
    shown = format_amount(minor, code)
    assert shown.startswith(symbol)
    assert parse_amount(shown.removeprefix(symbol), code) == minor
    assert parse_amount(to_major_str(minor, code), code) == minor


@DETERMINISTIC
@given(st.text())
def test_parse_never_returns_non_positive(text):
    try:
        value = parse_amount(text)
    except InvalidAmount:
        return
    assert 0 < value <= MAX_MINOR


@DETERMINISTIC
@given(st.text(alphabet="0123456789,. e+-", max_size=20))
def test_parse_amount_like_text_is_positive_or_refused(text):
    try:
        value = parse_amount(text)
    except InvalidAmount:
        return
    assert 0 < value <= MAX_MINOR


@DETERMINISTIC
@given(
    st.integers(min_value=0, max_value=10**12),
    st.text(alphabet="0123456789", min_size=3, max_size=10),
)
def test_three_or_more_decimals_refused(whole, decimals):
    with pytest.raises(InvalidAmount, match="at most 2 decimal places"):
        parse_amount(f"{whole}.{decimals}")


@DETERMINISTIC
@given(
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from(["e", "E"]),
    st.sampled_from(["", "+", "-"]),
    st.integers(min_value=0, max_value=30),
)
def test_exponents_refused(mantissa, e, sign, exponent):
    with pytest.raises(InvalidAmount):
        parse_amount(f"{mantissa}{e}{sign}{exponent}")
