"""Merchant category codes (ISO 18245), grouped the way a customer chooses where a card works.

A card stores the groups it may be used in. Gambling and quasi-cash (money orders, crypto,
gaming chips) are off by default: they are where stolen card details are cashed out first.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Group:
    key: str
    label: str
    ranges: tuple[tuple[int, int], ...]
    default_on: bool = True


GROUPS: tuple[Group, ...] = (
    Group("travel", "Travel and transport", ((3000, 3999), (4000, 4799))),
    Group("utilities", "Telecoms and utilities", ((4800, 4999),)),
    Group("retail", "Shops and online retail", ((5000, 5799), (5900, 5999))),
    Group("food", "Restaurants and food delivery", ((5800, 5899),)),
    Group("digital", "Digital goods, streaming and software", ((5815, 5818), (5734, 5735))),
    Group("services", "Services and subscriptions", ((7000, 7994), (7996, 8999))),
    Group("gambling", "Gambling and betting", ((7995, 7995), (7800, 7802)), default_on=False),
    Group(
        "quasi_cash",
        "Money orders, crypto and other quasi-cash",
        ((4829, 4829), (6050, 6051), (6540, 6540)),
        default_on=False,
    ),
    Group("other", "Everything else", ()),
)
BY_KEY = {group.key: group for group in GROUPS}
DEFAULT_GROUPS = tuple(group.key for group in GROUPS if group.default_on)
# Checked before the broad ranges: a narrow group wins over the range it sits in.
_PRECEDENCE = ("gambling", "quasi_cash", "digital", "food")


def group_of(mcc: str) -> str:
    """The group a merchant category code belongs to ("other" when none claims it)."""
    if not (isinstance(mcc, str) and len(mcc) == 4 and mcc.isdigit()):
        return "other"
    code = int(mcc)
    ordered = [BY_KEY[k] for k in _PRECEDENCE] + [g for g in GROUPS if g.key not in _PRECEDENCE]
    for group in ordered:
        if any(low <= code <= high for low, high in group.ranges):
            return group.key
    return "other"


def clean_groups(keys: list[str] | tuple[str, ...]) -> list[str]:
    """Known group keys in display order, without repeats."""
    wanted = set(keys)
    return [group.key for group in GROUPS if group.key in wanted]


def describe(keys: list[str]) -> str:
    """The groups' labels for a customer, e.g. "Shops and online retail, Everything else"."""
    return ", ".join(BY_KEY[key].label for key in keys if key in BY_KEY)


# The merchant categories customers meet most, by name; any other code is named by its group.
NAMES: dict[str, str] = {
    "4111": "Commuter transport",
    "4121": "Taxis and ride hailing",
    "4511": "Airlines",
    "4722": "Travel agencies",
    "4812": "Phones and accessories",
    "4814": "Telecom services",
    "4829": "Money transfer",
    "4899": "Cable and streaming TV",
    "4900": "Utilities",
    "5311": "Department stores",
    "5411": "Supermarkets and groceries",
    "5499": "Food stores",
    "5541": "Fuel stations",
    "5651": "Clothing",
    "5732": "Electronics",
    "5734": "Software",
    "5735": "Music stores",
    "5812": "Restaurants",
    "5814": "Fast food",
    "5815": "Digital books, films and music",
    "5816": "Digital games",
    "5817": "Apps and software",
    "5818": "Digital goods",
    "5912": "Pharmacies",
    "5999": "Shops",
    "6011": "Cash withdrawal",
    "6051": "Quasi-cash and crypto",
    "7011": "Hotels",
    "7372": "Computer services",
    "7832": "Cinemas",
    "7995": "Betting and gambling",
    "8062": "Hospitals",
    "8220": "Schools and universities",
}


def name_of(code: str) -> str:
    """A merchant category code as a customer reads it ("5411" -> "Supermarkets and
    groceries"); a code not listed is named by its group ("Shops and online retail")."""
    return NAMES.get(code) or BY_KEY[group_of(code)].label
