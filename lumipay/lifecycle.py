"""Records that move through a transition table: one table per record type, one error.

Every status-bearing record (bills, payouts, top-ups, cards, card transactions, settlement
proposals) declares its table as `{status: frozenset(next statuses)}` and moves only through
`check_transition`, so a move the table does not allow is the same named error everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping


class IllegalTransition(Exception):
    """A record was asked to move to a status its transition table does not allow from here."""

    def __init__(self, what: str, current: str, target: str) -> None:
        super().__init__(f"A {what} can't go from {current} to {target}.")
        self.what = what
        self.current = current
        self.target = target


def check_transition(
    what: str, table: Mapping[str, frozenset[str]], current: str, target: str
) -> None:
    """Raise IllegalTransition unless `table` allows `current` -> `target`."""
    if target not in table.get(current, frozenset()):
        raise IllegalTransition(what, current, target)


def is_final(table: Mapping[str, frozenset[str]], status: str) -> bool:
    """A status with nowhere left to go."""
    return not table.get(status)
