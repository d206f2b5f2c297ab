"""ASGI middleware: a request id on every request and log line, and a cap on body size."""

import logging
import re
import time
import uuid

from fastapi import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem_response
from api.metrics import ServiceMetrics
from common.json_logging import request_id_var

logger = logging.getLogger("madoguchi.access")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    """Takes the caller's X-Request-ID (if sane) or makes one, returns it, logs one JSON line
    per request with method, path, status and duration, and times it for /metrics by route
    template."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _SAFE_REQUEST_ID.match(offered) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )
            if self.metrics is not None:
                self.metrics.observe_request(
                    scope["method"], route_template(scope), status, seconds
                )
            request_id_var.reset(token)


def route_template(scope: Scope) -> str:
    """/v1/articles/{article_id} for /v1/articles/kb-0001: the path with each path parameter put
    back as its name, so a metric has one series per route; "unmatched" when no route matched."""
    if scope.get("route") is None:
        return "unmatched"
    path = scope["path"]
    for name, value in sorted(
        scope.get("path_params", {}).items(), key=lambda item: -len(str(item[1]))
    ):
        path = path.replace(f"/{value}", f"/{{{name}}}", 1)
    return path


class BodySizeLimitMiddleware:
    """Refuses bodies over `max_bytes` with 413, by Content-Length up front or while a chunked
    body streams in, before the body is parsed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _advice(self) -> str:
        return (
            f"The request body is larger than {self.max_bytes} bytes. Send less text per request "
            "(or raise MADOGUCHI_MAX_REQUEST_BYTES)."
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = problem_response(
                Request(scope), 413, "content-too-large", "Content Too Large", self._advice()
            )
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            # A chunked body has no Content-Length: count it as it arrives.
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, self._advice())
            return message

        await self.app(scope, counting_receive, send)
