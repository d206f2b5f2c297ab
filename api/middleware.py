"""ASGI middleware: a request id on every request and log line, and a cap on body size."""

import logging
import re
import time
import uuid

from fastapi import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem_response
from common.json_logging import request_id_var

logger = logging.getLogger("madoguchi.access")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    """Takes the caller's X-Request-ID (if sane) or makes one, returns it, and logs one JSON
    line per request with method, path, status and duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
            logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)


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
