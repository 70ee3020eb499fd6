"""Merchant category codes fall in the groups a customer chooses between."""

from __future__ import annotations

import pytest

from lumipay.cards import mcc


@pytest.mark.parametrize(
    ("code", "group"),
    [
        ("7995", "gambling"),
        ("6051", "quasi_cash"),
        ("4829", "quasi_cash"),
        ("5411", "retail"),
        ("5812", "food"),
        ("5818", "digital"),
        ("4111", "travel"),
        ("3001", "travel"),
        ("4900", "utilities"),
        ("7011", "services"),
        ("9402", "other"),
        ("12", "other"),
        ("abcd", "other"),
    ],
)
def test_group_of(code, group):  # type: ignore[no-untyped-def]
    assert mcc.group_of(code) == group


def test_gambling_and_quasi_cash_are_off_by_default():
    assert "gambling" not in mcc.DEFAULT_GROUPS and "quasi_cash" not in mcc.DEFAULT_GROUPS
    assert {"retail", "food", "other"} <= set(mcc.DEFAULT_GROUPS)
    assert mcc.clean_groups(["other", "nope", "retail", "retail"]) == ["retail", "other"]


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("5411", "Supermarkets and groceries"),
        ("5812", "Restaurants"),
        ("5300", "Shops and online retail"),
        ("abcd", "Everything else"),
    ],
)
def test_merchant_categories_by_name(code, name):  # type: ignore[no-untyped-def]
    """A listed code by its own name, any other by its group's."""
    assert mcc.name_of(code) == name
