"""Form pieces every domain shares: the money field, and putting a message on a field.

Services never see a form: a view reads amounts with `MoneyField.minor_units` and shows a
service's refusal with `show_refusal`, so each of those is written once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, Literal

from flask import flash
from wtforms import Field, SelectChoice, StringField

from lumipay.money import InvalidAmount, parse_amount
from lumipay.refusals import Refused


def new_idempotency_key() -> str:
    """The key a money form carries in a hidden field: a fresh one with every form shown, so a
    resubmission of the same form (a double click, a retry) is recognised as one request."""
    return uuid.uuid4().hex


def filter_choices(everything: str, choices: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    """A filter's choices: first `everything` (the empty value, which filters nothing), then
    each (value, label)."""
    return [SelectChoice("", everything), *(SelectChoice(value, label) for value, label in choices)]


def field_error(
    form: Any,
    field: str | Field | None,
    message: str,
    *,
    fallback: str | None = None,
    otherwise: Literal["form", "flash"] = "form",
) -> None:
    """Show `message` on `field` (a field or its name), else on the `fallback` field; when the
    form has neither, on the form as a whole (`form_errors`) or as a flash message."""
    target = field if isinstance(field, Field) else None
    if target is None:
        for name in (field, fallback):
            target = getattr(form, name, None) if isinstance(name, str) else None
            if target is not None:
                break
    if target is not None:
        target.errors = [*target.errors, message]
    elif otherwise == "flash":
        flash(message, "error")
    else:
        form.form_errors = [*form.form_errors, message]


def show_refusal(
    form: Any,
    refused: Refused,
    *,
    fallback: str | None = None,
    otherwise: Literal["form", "flash"] = "form",
) -> None:
    """The one page handler for a service's refusal: its message on the field it names."""
    field_error(form, refused.field, refused.message, fallback=fallback, otherwise=otherwise)


class MoneyField(StringField):
    """An amount typed in major units ("5,000.50"), read as integer minor units."""

    def minor_units(self, currency: str) -> int | None:
        """The amount in `currency`'s minor units, or None with the reason on the field (an
        empty optional field is None with no error)."""
        if not self.data and self.flags.optional:
            return None
        try:
            return parse_amount(self.data or "", currency)
        except InvalidAmount as exc:
            field_error(None, self, str(exc))
            return None


class AmountForm:
    """A form whose `amount` is a MoneyField."""

    amount: MoneyField

    def amount_minor(self, currency: str = "NGN") -> int | None:
        """The typed amount in minor units, or None with an error on the field."""
        return self.amount.minor_units(currency)
