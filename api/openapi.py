"""The OpenAPI document says what the API really answers: every error is a problem document
(application/problem+json), and every operation lists the statuses it can return: 401 / 403 /
429 on /v1 (keys, scopes, rate limits), 400 / 413 / 415 where it takes a body, 404 where its
path names a resource, and what each route declares with `problems(...)`."""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import PROBLEM_JSON

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details: what went wrong and what to fix.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": ["string", "null"]},
    },
    "required": ["type", "title", "status", "detail"],
    "additionalProperties": True,
}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
METHODS = {"get", "put", "post", "delete", "patch"}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route decorator: the problem statuses this route can answer with."""
    return {status: _problem_response(status) for status in statuses}


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": HTTPStatus(status).phrase,
        "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
    }


def document_problems(app: FastAPI) -> None:
    """Replace `app.openapi` with one that documents the problem responses."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if method in METHODS:
                    _add_problems(path, operation)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_problems(path: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    statuses: set[int] = set()
    if path.startswith("/v1"):
        statuses |= {401, 403, 429}
    if "requestBody" in operation:
        statuses |= {400, 413, 415, 422}
    if "{" in path:
        statuses.add(404)
    if operation.get("parameters"):
        statuses.add(422)
    for status in statuses:
        responses.setdefault(str(status), _problem_response(status))
    for status, response in responses.items():
        if status.startswith(("4", "5")):
            # FastAPI documents 422 as application/json HTTPValidationError; ours is a problem
            response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
