"""/api/openapi.json (OpenAPI 3.1, built from the declared operations) and /api/docs.

Schemas come from the pydantic models (JSON Schema 2020-12, OpenAPI 3.1's dialect); apispec
assembles paths, components and the security scheme. The docs page is Swagger UI, vendored
under static/vendor/swagger-ui by the Makefile (never a CDN), started by our own script so the
CSP (`script-src 'self'`) holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apispec import APISpec
from flask import Blueprint, jsonify, render_template
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from werkzeug.wrappers import Response

from lumipay import settings
from lumipay.api import schemas
from lumipay.api.idempotent import PATTERN
from lumipay.api.problems import MEDIA_TYPE, TYPES
from lumipay.api.routing import OPERATIONS, PREFIX, Operation, openapi_path

bp = Blueprint("api_docs", __name__, url_prefix="/api")
REF = "#/components/schemas/{model}"
PROBLEM = {"$ref": REF.format(model="ProblemOut")}
VERSION = "1.0.0"
COMMON_PROBLEMS = (400, 413, 500)
MAX_ID = 2**63 - 1

DESCRIPTION = (
    """Lumipay's JSON API. Amounts are integers in minor units (kobo, cents).

Sign in with `POST /auth/login` (or register) and send `Authorization: Bearer <access_token>`.
Access tokens last 15 minutes; swap the refresh token at `POST /auth/refresh` (single use).

Every mutating money endpoint needs an `Idempotency-Key` header (1 to 255 printable characters,
scoped to you and the operation): a repeat with the same key and request (in either of an
endpoint's body shapes) gets the first response for 24 hours; another request is 422
`idempotency-key-reused`; a twin still in flight is 409 `request-in-flight`.

Errors are `application/problem+json` (RFC 9457); `type` is stable: one of
"""
    + ", ".join(f"`{slug}`" for slug in TYPES)
    + " under `https://lumipay.ng/problems/`."
)


def _models() -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    found: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (schemas.ProblemOut, "serialization"),
        (schemas.HealthOut, "serialization"),
    ]
    for op in OPERATIONS:
        if op.body is not None:
            found.append((op.body, "validation"))
        found.extend((model, "serialization") for model in op.responses.values() if model)
    return list(dict.fromkeys(found))


def _problem_response(status: int) -> dict[str, Any]:
    slugs = [slug for slug, (code, _) in TYPES.items() if code == status]
    return {
        "description": "Problem: " + ", ".join(slugs),
        "content": {MEDIA_TYPE: {"schema": PROBLEM}},
    }


def _parameters(op: Operation) -> list[dict[str, Any]]:
    _, params = openapi_path(op.rule)
    found: list[dict[str, Any]] = []
    for name, converter in params:
        schema: dict[str, Any]
        if converter == "int":
            schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        elif converter == "uuid":
            schema = {"type": "string", "format": "uuid"}
        else:
            schema = {
                "type": "string",
                "minLength": 1,
                "maxLength": 40,
                "pattern": "^[A-Za-z0-9-]+$",
            }
        found.append({"name": name, "in": "path", "required": True, "schema": schema})
    if op.query is not None:
        query_schema = op.query.model_json_schema(ref_template=REF)
        for name, schema in query_schema["properties"].items():
            found.append({"name": name, "in": "query", "required": False, "schema": schema})
    if op.idempotent:
        found.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": PATTERN},
                "description": "Any 1 to 255 printable characters, scoped to you and this "
                "operation. Repeats with the same key and request (in either body shape) "
                "replay the first response.",
            }
        )
    return found


def _ref(
    model: type[BaseModel], names: Mapping[tuple[Any, JsonSchemaMode], Any], mode: JsonSchemaMode
) -> Any:
    return names[(model, mode)]


def build() -> dict[str, Any]:
    models = _models()
    names, top = models_json_schema(models, ref_template=REF)
    spec = APISpec(
        title="Lumipay API",
        version=VERSION,
        openapi_version="3.1.0",
        info={"description": DESCRIPTION},
        servers=[{"url": settings.core().public_url}],
    )
    for name, schema in top.get("$defs", {}).items():
        spec.components.schema(name, schema)
    spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        path, _ = openapi_path(PREFIX + op.rule)
        responses: dict[str, Any] = {}
        for status, model in op.responses.items():
            if model is None:
                responses[str(status)] = {"description": "No content"}
            else:
                responses[str(status)] = {
                    "description": "OK",
                    "content": {
                        "application/json": {"schema": _ref(model, names, "serialization")}
                    },
                }
        codes = set(op.problems) | set(COMMON_PROBLEMS)
        if op.body is not None:
            codes |= {415, 422}
        if op.rule.count("<") or op.admin:
            codes.add(404)  # admin operations: a customer's token gets 404, as on the pages
        if op.auth:
            codes.add(401)
        for status in sorted(codes):
            responses[str(status)] = _problem_response(status)
        operation: dict[str, Any] = {
            "operationId": op.endpoint,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": _parameters(op),
            "responses": responses,
        }
        if op.description:
            operation["description"] = op.description
        if op.auth:
            operation["security"] = [{"bearer": []}]
        else:
            operation["security"] = []
        if op.body is not None:
            operation["requestBody"] = {
                "required": not op.body_optional,
                "content": {"application/json": {"schema": _ref(op.body, names, "validation")}},
            }
        paths.setdefault(path, {})[op.method.lower()] = operation
    paths["/healthz"] = {
        "get": {
            "operationId": "healthz",
            "summary": "Is the database up, is Redis up",
            "tags": ["health"],
            "security": [],
            "responses": {
                status: {
                    "description": text,
                    "content": {
                        "application/json": {"schema": {"$ref": REF.format(model="HealthOut")}}
                    },
                }
                for status, text in (("200", "Up"), ("503", "The database is down"))
            },
        }
    }
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


@bp.route("/openapi.json")
def openapi_json() -> Response:
    return jsonify(build())


@bp.route("/docs")
def docs() -> str:
    return render_template("api/docs.html")
