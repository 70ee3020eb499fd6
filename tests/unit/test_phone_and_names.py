import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lumipay.auth.names import mask_name
from lumipay.auth.phone import InvalidPhone, normalise_phone

MESSAGE = "Enter a valid phone number, e.g. 0803 123 4567."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("08031234567", "+2348031234567"),
        ("07061234567", "+2347061234567"),
        ("09031234567", "+2349031234567"),
        ("0803 123 4567", "+2348031234567"),
        ("0803-123-4567", "+2348031234567"),
        ("(0803) 123 4567", "+2348031234567"),
        ("  08031234567  ", "+2348031234567"),
        ("2348031234567", "+2348031234567"),
        ("+2348031234567", "+2348031234567"),
        ("+234 803 123 4567", "+2348031234567"),
        ("+234 (0) 803 123 4567", "+2348031234567"),
        ("+234 0803 123 4567", "+2348031234567"),
        ("23408031234567", "+2348031234567"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+1 (415) 555-2671", "+14155552671"),
        ("+12345678", "+12345678"),
        ("+123456789012345", "+123456789012345"),
    ],
)
def test_normalise_phone(text, expected):
    assert normalise_phone(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "8031234567",
        "0803123456",
        "080312345678",
        "06031234567",
        "08O31234567",
        "+2346031234567",
        "+234803123456",
        "+23480312345678",
        "+2340",
        "+0123456789",
        "+1234567",
        "+1234567890123456",
        "++2348031234567",
        "+44 20 7946 0958 ext 1",
        "0803.123.4567",
        "００８０３１２３４５６７",
        "٠٨٠٣١٢٣٤٥٦٧",
        "phone",
        "+",
    ],
)
def test_invalid_phone(text):
    with pytest.raises(InvalidPhone) as exc:
        normalise_phone(text)
    assert str(exc.value) == MESSAGE
    assert isinstance(exc.value, ValueError)


@settings(derandomize=True, database=None, max_examples=200)
@given(st.sampled_from("789"), st.integers(min_value=0, max_value=10**9 - 1))
def test_local_and_international_forms_agree(first, rest):
    national = f"{first}{rest:09d}"
    expected = "+234" + national
    assert normalise_phone("0" + national) == expected
    assert normalise_phone("234" + national) == expected
    assert normalise_phone("+234 " + national) == expected
    assert normalise_phone(expected) == expected


@settings(derandomize=True, database=None, max_examples=300)
@given(st.text())
def test_normalised_phone_is_e164_or_refused(text):
    try:
        result = normalise_phone(text)
    except InvalidPhone:
        return
    assert result.startswith("+")
    assert result[1:].isascii() and result[1:].isdigit()
    assert 8 <= len(result) - 1 <= 15


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Alex Johnson", "Alex J."),
        ("Ada Chioma Obi", "Ada O."),
        ("Cher", "Cher"),
        ("  Alex   Johnson  ", "Alex J."),
        ("  Cher ", "Cher"),
        ("ada obi", "ada O."),
        ("", ""),
        ("   ", ""),
    ],
)
def test_mask_name(name, expected):
    assert mask_name(name) == expected
