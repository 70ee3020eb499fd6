"""The API blueprint and `operation`, the decorator every endpoint is declared with.

`operation` registers the URL, authenticates the bearer token, parses and validates the body
and query with pydantic, and records what it did in OPERATIONS, from which the OpenAPI
document is built: the document cannot drift from the code that serves it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, current_app, json, request
from pydantic import BaseModel, ValidationError
from werkzeug.wrappers import Response

from lumipay import jsonsafe
from lumipay.api import bearer
from lumipay.api.problems import Problem
from lumipay.api.schemas import NO_CONTROL
from lumipay.extensions import csrf
from lumipay.ratelimit import public_api_limit

PREFIX = "/api/lumipay/v1"
bp = Blueprint("api", __name__, url_prefix=PREFIX)
# Bearer tokens travel in a header a cross-site form can't set, and no cookie is read here.
csrf.exempt(bp)


@bp.errorhandler(Problem)
def _problem(problem: Problem) -> Response:
    return problem.response()


@dataclass(frozen=True)
class Operation:
    method: str
    rule: str
    endpoint: str
    summary: str
    tag: str
    responses: dict[int, type[BaseModel] | None]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    auth: bool = True
    admin: bool = False
    idempotent: bool = False
    description: str = ""
    problems: tuple[int, ...] = field(default=())
    body_optional: bool = False


OPERATIONS: list[Operation] = []


def json_response(status: int, body: dict[str, Any] | None, *, replayed: bool = False) -> Response:
    response = Response(
        json.dumps(body) if body is not None else None, status, mimetype="application/json"
    )
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def _message(error: dict[str, Any]) -> str:
    if error.get("type") == "string_pattern_mismatch" and (
        (error.get("ctx") or {}).get("pattern") == NO_CONTROL
    ):
        return "Must not contain control characters."
    if error.get("type") == "extra_forbidden":
        return "Unknown field."
    return str(error["msg"])


def validation_problem(exc: ValidationError) -> Problem:
    errors = []
    for error in exc.errors():
        # Drop the discriminator's tag from the location: bills' `amount`, not `airtime.amount`.
        loc = [str(part) for part in error["loc"] if part not in SHAPE_TAGS]
        if error["type"] == "bill_type_missing":
            given = error.get("input")
            loc.append(
                "category" if isinstance(given, dict) and "category" in given else "bill_type"
            )
        elif error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc.append(str((error.get("ctx") or {}).get("discriminator", "")).strip("'"))
        errors.append({"field": ".".join(loc), "message": _message(dict(error))})
    return Problem("validation-error", "Some fields are invalid.", errors=errors)


# Tags of the body shapes a union picks between, left out of a field's location.
SHAPE_TAGS = ("airtime", "data", "electricity", "readme")


def _body(model: type[BaseModel], *, optional: bool = False) -> BaseModel:
    if optional and not request.get_data(cache=True):
        return model.model_validate({})
    if not request.is_json:
        raise Problem("unsupported-media-type")
    try:
        data = jsonsafe.loads(request.get_data(cache=True))
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise Problem("malformed-request")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_problem(exc) from None


def _query(model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise validation_problem(exc) from None


Handler = Callable[..., Response | tuple[int, BaseModel | None]]


def operation(
    method: str,
    rule: str,
    *,
    summary: str,
    tag: str,
    responses: dict[int, type[BaseModel] | None],
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    auth: bool = True,
    admin: bool = False,
    idempotent: bool = False,
    problems: tuple[int, ...] = (),
    limits: tuple[Callable[[Any], Any], ...] = (),
    body_optional: bool = False,
) -> Callable[[Handler], Handler]:
    """Declare an endpoint. The handler gets `user` (when `auth`), `body`, `query` and the path
    arguments, and returns (status, model) or a ready Response (e.g. an idempotent replay).

    `admin=True`: a signed-in non-admin gets 404, as on the back-office pages.
    `body_optional=True`: a request without a body reads as `{}` (the body's defaults).
    """

    def decorate(handler: Handler) -> Handler:
        endpoint = handler.__name__
        OPERATIONS.append(
            Operation(
                method=method,
                rule=rule,
                endpoint=endpoint,
                summary=summary,
                tag=tag,
                responses=responses,
                body=body,
                query=query,
                auth=auth,
                admin=admin,
                idempotent=idempotent,
                description=(handler.__doc__ or "").strip(),
                problems=problems,
                body_optional=body_optional,
            )
        )

        def view(**path_args: Any) -> Response:
            limit = current_app.config.get("MAX_CONTENT_LENGTH")
            if limit and (request.content_length or 0) > limit:
                raise Problem("payload-too-large")  # before the token: nothing is read
            kwargs: dict[str, Any] = dict(path_args)
            if auth:
                user = bearer.current_user()
                if admin and not user.is_admin:
                    raise Problem("not-found")
                kwargs["user"] = user
            if body is not None:
                kwargs["body"] = _body(body, optional=body_optional)
            if query is not None:
                kwargs["query"] = _query(query)
            result = handler(**kwargs)
            if isinstance(result, Response):
                return result
            status, model = result
            return json_response(status, dump(model) if model is not None else None)

        view.__name__ = endpoint
        view.__doc__ = handler.__doc__
        wrapped: Callable[..., Response] = view
        for limit in (*limits, *(() if auth else (public_api_limit,))):
            wrapped = limit(wrapped)
        bp.add_url_rule(rule, endpoint=endpoint, view_func=wrapped, methods=[method])
        return handler

    return decorate


_CONVERTER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def openapi_path(rule: str) -> tuple[str, list[tuple[str, str]]]:
    """`/wallets/<int(min=1):wallet_id>/balance` -> (`/wallets/{wallet_id}/balance`,
    [("wallet_id", "int")])."""
    params = [(name, conv or "string") for conv, name in _CONVERTER.findall(rule)]
    return _CONVERTER.sub(lambda m: "{" + m.group(2) + "}", rule), params
