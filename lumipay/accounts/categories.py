"""What a ledger transaction's `kind` means to a customer: its label and its spending category.

Every kind a domain posts (`transfer`, `welcome_bonus`, and as they land `airtime`, `data`,
`electricity`, `card_purchase`, `transfer_fee`…) maps to one category here. A new domain adds
its kind to `KINDS`; a kind nobody listed still gets a readable label and lands in a category
by its prefix (`card_*` is card spending, `*_fee` is fees) or else in "Other", so history,
filters and charts never break when a kind arrives before this table knows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, SQLColumnExpression, false, not_, or_

from lumipay.ledger.models import TransactionStatus


@dataclass(frozen=True)
class Category:
    key: str
    label: str


CATEGORIES: dict[str, Category] = {
    c.key: c
    for c in (
        Category("transfers", "Transfers"),
        Category("airtime", "Airtime"),
        Category("data", "Data"),
        Category("electricity", "Electricity"),
        Category("card", "Card"),
        Category("fees", "Fees"),
        Category("fx", "Conversions"),
        Category("bonus", "Bonuses"),
        Category("other", "Other"),
    )
}
"""Display order of the spending chart and of the history's type filter."""

# kind -> (label shown in history, category key)
KINDS: dict[str, tuple[str, str]] = {
    "transfer": ("Transfer", "transfers"),
    "welcome_bonus": ("Welcome bonus", "bonus"),
    "airtime": ("Airtime", "airtime"),
    "data": ("Data bundle", "data"),
    "electricity": ("Electricity", "electricity"),
    "card": ("Card", "card"),
    "card_purchase": ("Card purchase", "card"),
    "card_refund": ("Card refund", "card"),
    "fee": ("Fee", "fees"),
    "fx_conversion": ("Currency conversion", "fx"),
    "bank_topup": ("Top-up", "transfers"),
    "bank_topup_reversal": ("Top-up reversed", "transfers"),
    "receivable_repayment": ("Repayment of what you owed", "other"),
    "bank_payout": ("Bank payout", "transfers"),
}

_PREFIXES = (("card_", "card"), ("bill_airtime", "airtime"), ("bill_data", "data"))
_SUFFIXES = (("_fee", "fees"),)

TRANSACTION_STATUSES = tuple(TransactionStatus)


def kind_label(kind: str) -> str:
    """`"welcome_bonus"` -> `"Welcome bonus"`; an unlisted kind is humanised from its name."""
    known = KINDS.get(kind)
    return known[0] if known else kind.replace("_", " ").capitalize()


def category_of(kind: str) -> Category:
    """The spending category a transaction kind belongs to ("other" when nothing matches)."""
    known = KINDS.get(kind)
    if known:
        return CATEGORIES[known[1]]
    for prefix, key in _PREFIXES:
        if kind.startswith(prefix):
            return CATEGORIES[key]
    for suffix, key in _SUFFIXES:
        if kind.endswith(suffix):
            return CATEGORIES[key]
    return CATEGORIES["other"]


def category_filter(column: SQLColumnExpression[str], key: str) -> ColumnElement[bool]:
    """SQL condition: the transaction kind in `column` falls in category `key`.

    Mirrors `category_of` rule for rule (listed kinds, then prefixes, then suffixes, else
    "other"), so a filter finds exactly the rows that the history labels that way.
    """
    listed = list(KINDS)
    any_prefix = or_(false(), *(column.startswith(p, autoescape=True) for p, _ in _PREFIXES))
    any_suffix = or_(false(), *(column.endswith(s, autoescape=True) for s, _ in _SUFFIXES))
    unlisted = column.not_in(listed)
    if key == "other":
        return unlisted & not_(any_prefix) & not_(any_suffix)
    exact = [kind for kind, (_, cat) in KINDS.items() if cat == key]
    by_prefix = or_(
        false(), *(column.startswith(p, autoescape=True) for p, cat in _PREFIXES if cat == key)
    )
    by_suffix = or_(
        false(), *(column.endswith(s, autoescape=True) for s, cat in _SUFFIXES if cat == key)
    )
    return or_(column.in_(exact), unlisted & (by_prefix | (not_(any_prefix) & by_suffix)))
