"""Records that move through a transition table: one table per record type, one error.

Every status-bearing record names its statuses in a `StrEnum` beside its model (bills,
payouts, top-ups, cards, card transactions, holds, KYC submissions, settlement proposals,
reconciliation runs, FX quotes, transfers) and declares its table as
`{status: frozenset(next statuses)}`. It moves only through `check_transition` (most through
the `Lifecycle` mixin's `move_to`), so a move the table does not allow is the same named error
everywhere. The column's CHECK constraint is written from the same enum by `status_check` (the
`Lifecycle` mixin adds it to the model's table), and the API schemas use the enum as the field's
type: the names are spelled once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import CheckConstraint

if TYPE_CHECKING:
    from sqlalchemy.orm import Mapped

Transitions = Mapping[str, frozenset[str]]


class IllegalTransition(Exception):
    """A record was asked to move to a status its transition table does not allow from here."""

    def __init__(self, what: str, current: str, target: str) -> None:
        super().__init__(f"A {what} can't go from {current} to {target}.")
        self.what = what
        self.current = current
        self.target = target


def check_transition(what: str, table: Transitions, current: str, target: str) -> None:
    """Raise IllegalTransition unless `table` allows `current` -> `target`."""
    if target not in table.get(current, frozenset()):
        raise IllegalTransition(what, current, target)


def is_final(table: Transitions, status: str) -> bool:
    """A status with nowhere left to go."""
    return not table.get(status)


def one_step(start: str, *ends: str) -> dict[str, frozenset[str]]:
    """The table of a record that moves once: from `start` to one of `ends`, then never again."""
    return {start: frozenset(ends), **{end: frozenset() for end in ends}}


def status_check(statuses: Iterable[StrEnum], column: str = "status") -> str:
    """The SQL of a CHECK constraint that the column holds one of `statuses`, in their order:
    `status IN ('pending', 'approved', 'rejected')`."""
    names = ", ".join(f"'{status.value}'" for status in statuses)
    return f"{column} IN ({names})"


class Lifecycle:
    """Mixed into a model whose `status` column moves only through its transition table.

    The model declares its lifecycle once, in its class line, and its own `status` column:

        class Card(Lifecycle, Model, what="card", statuses=CardStatus, transitions=TABLE):

    `what` is its name in the error, `transitions` its table; the table's CHECK constraint
    (`status_known`, from `statuses` in their order) is added to its `__table_args__` here, so
    the constraint, the enum and the table can't be declared apart. A table naming a status the
    enum doesn't have is refused when the class is made.
    """

    WHAT: ClassVar[str]
    TRANSITIONS: ClassVar[Transitions]
    if TYPE_CHECKING:
        status: Mapped[str]
        __table_args__: Any

    def __init_subclass__(
        cls,
        *,
        what: str | None = None,
        statuses: type[StrEnum] | None = None,
        transitions: Transitions | None = None,
        **kwargs: Any,
    ) -> None:
        if what is not None and statuses is not None and transitions is not None:
            named = {str(status) for status in statuses}
            unknown = {*transitions, *(t for ends in transitions.values() for t in ends)} - named
            if unknown:
                raise TypeError(f"{cls.__name__}: {sorted(unknown)} are not {statuses.__name__}")
            cls.WHAT = what
            cls.TRANSITIONS = transitions
            cls.__table_args__ = _with_status_check(
                cls.__dict__.get("__table_args__", ()), statuses
            )
        super().__init_subclass__(**kwargs)

    def move_to(self, target: str) -> None:
        """Change status through the transition table, or raise IllegalTransition."""
        check_transition(self.WHAT, self.TRANSITIONS, self.status, target)
        self.status = target

    @property
    def is_final(self) -> bool:
        return is_final(self.TRANSITIONS, self.status)


def _with_status_check(table_args: tuple[Any, ...], statuses: type[StrEnum]) -> tuple[Any, ...]:
    """`table_args` with the status CHECK constraint after its constraints and indexes (and
    before the options dict that may end it)."""
    constraint = CheckConstraint(status_check(statuses), name="status_known")
    if table_args and isinstance(table_args[-1], dict):
        return (*table_args[:-1], constraint, table_args[-1])
    return (*table_args, constraint)
