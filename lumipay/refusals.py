"""One refusal type for every use case: `Refused(field, message, code)`.

A use case that refuses a request changes nothing and raises a `Refused` (or one of the
domain's subclasses, kept by name so callers and tests read in the domain's words). `message`
is shown to the customer or admin as it stands; `field` names the form field it belongs to
(None: the form as a whole); `code` is the API's stable problem type (None: the endpoint's own
"…-refused"). Pages show it with `lumipay.forms.show_refusal`, the API answers it with
`lumipay.api.problems.refusal_problem`: one handler each, whatever the domain.
"""

from __future__ import annotations

# The API's problem type for a debit the available balance can't cover.
INSUFFICIENT_FUNDS = "insufficient-funds"


class Refused(Exception):
    """A request refused with nothing changed (see the module's docstring)."""

    field: str | None = None
    code: str | None = None

    def __init__(self, field: str | None, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        if code is not None:
            self.code = code
