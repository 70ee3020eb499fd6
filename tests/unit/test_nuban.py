import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lumipay.auth.nuban import (
    check_digit,
    is_valid_account_number,
    make_account_number,
    random_serial,
)

DETERMINISTIC = settings(derandomize=True, database=None, max_examples=200)


def test_cbn_published_example_three_digit_code():
    # CBN NUBAN example: bank 011 (First Bank), serial 000001457.
    # digits   0 1 1 0 0 0 0 0 1 4 5 7
    # weights  3 7 3 3 7 3 3 7 3 3 7 3
    # products 0 7 3 0 0 0 0 0 3 12 35 21 -> sum 81; (10 - 81 % 10) % 10 = 9
    assert check_digit("011", "000001457") == 9
    assert make_account_number("011", "000001457") == "0000014579"
    assert is_valid_account_number("011", "0000014579")


def test_six_digit_code():
    # digits   0 9 0 1 1 0 1 2 3 4 5 6 7 8 9   (bank 090110 + serial 123456789)
    # weights  3 7 3 3 7 3 3 7 3 3 7 3 3 7 3
    # products 0 63 0 3 7 0 3 14 9 12 35 18 21 56 27 -> sum 268; (10 - 8) % 10 = 2
    assert check_digit("090110", "123456789") == 2
    assert make_account_number("090110", "123456789") == "1234567892"


def test_five_digit_code_is_prefixed_with_nine():
    # 50211 -> 950211; digits 9 5 0 2 1 1 0 0 0 0 0 0 0 0 1
    # weights                  3 7 3 3 7 3 3 7 3 3 7 3 3 7 3
    # products 27 35 0 6 7 3 0 0 0 0 0 0 0 0 3 -> sum 81; (10 - 1) % 10 = 9
    assert check_digit("50211", "000000001") == 9
    assert check_digit("50211", "000000001") == check_digit("950211", "000000001")


def test_check_digit_zero_when_sum_is_multiple_of_ten():
    # 011 + 000000000 -> 0*3 + 1*7 + 1*3 = 10 -> (10 - 0) % 10 = 0
    assert check_digit("011", "000000000") == 0


@pytest.mark.parametrize("code", ["", "01", "0111", "0111111", "01a", "０１１", "٠١١", None, 11])
def test_bad_bank_code(code):
    with pytest.raises(ValueError):
        check_digit(code, "000001457")
    with pytest.raises(ValueError):
        is_valid_account_number(code, "0000014579")


@pytest.mark.parametrize(
    "serial", ["", "00000145", "0000014570", "00000145x", "０００００１４５７"]
)
def test_bad_serial(serial):
    with pytest.raises(ValueError):
        check_digit("011", serial)


@pytest.mark.parametrize(
    "account", ["0000014578", "0000014570", "000001457", "00000145799", "000001457x", "", None]
)
def test_invalid_account_numbers(account):
    assert not is_valid_account_number("011", account)


def test_random_serial():
    assert random_serial(random.Random(1)) == random_serial(random.Random(1))
    for _ in range(50):
        serial = random_serial()
        assert len(serial) == 9 and serial.isascii() and serial.isdigit()


@DETERMINISTIC
@given(
    st.sampled_from(["011", "058", "50211", "090110", "999999"]),
    st.integers(min_value=0, max_value=10**9 - 1),
    st.integers(min_value=1, max_value=9),
)
def test_made_numbers_validate_and_single_digit_errors_are_caught(code, n, delta):
    serial = f"{n:09d}"
    account = make_account_number(code, serial)
    assert len(account) == 10 and account.startswith(serial)
    assert is_valid_account_number(code, account)
    wrong_check = account[:9] + str((int(account[9]) + delta) % 10)
    assert not is_valid_account_number(code, wrong_check)
