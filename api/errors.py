"""One error shape for every 4xx and 5xx: RFC 9457 problem details (application/problem+json),
each saying what went wrong and what to fix."""

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from common.json_logging import request_id_var

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "urn:madoguchi:problem:"
logger = logging.getLogger("madoguchi.api")


class ProblemError(Exception):
    """Raised by a route or service to answer with a problem document."""

    def __init__(self, status: int, slug: str, title: str, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.extensions = extensions


def problem_response(
    request: Request,
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body = {
        "type": f"{PROBLEM_TYPE_BASE}{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": request_id_var.get(),
        **extensions,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def _describe_validation_error(error: dict[str, Any]) -> dict[str, Any]:
    location = _location(error.get("loc", ()))
    message = error.get("msg", "invalid")
    if error.get("type") == "missing":
        message = "required field is missing; add it"
    elif error.get("type") == "extra_forbidden":
        message = "unknown field; remove it (check the spelling against /docs)"
    return {"location": location, "message": message, "type": error.get("type")}


async def _validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        position = next(
            (e.get("ctx", {}).get("error") for e in errors if e.get("type") == "json_invalid"), ""
        )
        return problem_response(
            request,
            400,
            "invalid-json",
            "Request body is not valid JSON",
            f"The body could not be parsed as JSON ({position}). Send a JSON object with "
            "Content-Type: application/json.",
        )
    content_type = request.headers.get("content-type", "")
    body_not_json = request.method in {"POST", "PUT", "PATCH"} and "json" not in content_type
    if body_not_json and any(tuple(error.get("loc", ())) == ("body",) for error in errors):
        return problem_response(
            request,
            415,
            "unsupported-media-type",
            "Body must be JSON",
            f"The body was sent as {content_type or 'no content type'!r}. Send a JSON object "
            "with Content-Type: application/json.",
        )
    described = [_describe_validation_error(error) for error in errors]
    summary = "; ".join(f"{item['location']}: {item['message']}" for item in described[:5])
    return problem_response(
        request,
        422,
        "validation-error",
        "Request does not match the schema",
        f"{len(described)} problem(s): {summary}. See /docs for the expected fields.",
        errors=described,
    )


async def _http_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    if exc.status_code == 404 and detail is None:
        detail = f"No route {request.url.path}. The routes are listed at /docs."
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}; see /docs."
        allowed = _allowed_methods(request)
        if allowed:
            headers["Allow"] = allowed
    return problem_response(
        request,
        exc.status_code,
        phrase.lower().replace(" ", "-"),
        phrase,
        detail or phrase,
        headers=headers or None,
    )


def _allowed_methods(request: Request) -> str | None:
    """Every method the path supports (Starlette's 405 names only the first route that matched
    the path, so GET /v1/articles/{id} would hide PUT and DELETE)."""
    for template, operations in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), request.url.path):
            return ", ".join(sorted(method.upper() for method in operations))
    return None


async def _problem_handler(request: Request, exc: ProblemError) -> JSONResponse:
    return problem_response(request, exc.status, exc.slug, exc.title, exc.detail, **exc.extensions)


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", extra={"path": request.url.path})
    return problem_response(
        request,
        500,
        "internal-error",
        "Internal server error",
        "Something failed on our side; nothing in your request needs changing. Quote the "
        "request_id when you report it.",
    )


def refuse_repeated_query_parameters(request: Request) -> None:
    """?offset=1&offset=2: every query parameter takes one value, so a repeated one is refused
    rather than silently reduced to its last value."""
    counts: dict[str, int] = {}
    for name, _value in request.query_params.multi_items():
        counts[name] = counts.get(name, 0) + 1
    repeated = sorted(name for name, count in counts.items() if count > 1)
    if repeated:
        raise ProblemError(
            422,
            "repeated-query-parameter",
            "A query parameter is repeated",
            f"{', '.join(repeated)} given more than once; give each query parameter once.",
        )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(ProblemError, _problem_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
