"""Who may call what: every /v1 route declares the scope it needs (`widget`, `read`, `write`
or `admin`) with `requires(scope)`. With MADOGUCHI_AUTH_REQUIRED on, a call needs an API key
holding that scope (`Authorization: Bearer mdg_…` or `X-API-Key: mdg_…`): none or an unknown
key is 401, a key without the scope 403; past MADOGUCHI_RATE_LIMIT_PER_MINUTE calls a minute a
key gets 429 with Retry-After. With authentication off (local use only: `madoguchi serve` then
refuses to bind anything but loopback) every call is let through, unlimited."""

from typing import Any

from fastapi import Depends, Request

from api.errors import ProblemError
from common.api_keys import SCOPES
from common.settings import DEFAULT_TENANT


class ScopeRequirement:
    def __init__(self, scope: str) -> None:
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        self.scope = scope

    def __call__(self, request: Request) -> None:
        state = request.app.state.service
        request.state.api_key = None
        if not state.settings.auth_required:
            request.state.tenant = DEFAULT_TENANT
            return
        token = request.headers.get("x-api-key") or ""
        authorization = request.headers.get("authorization", "")
        if not token and authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        key = state.api_keys.verify(token) if token else None
        if key is None:
            raise ProblemError(
                401,
                "unauthenticated",
                "An API key is needed",
                "send a live key as `Authorization: Bearer mdg_…` or `X-API-Key: mdg_…`; "
                "create one with `madoguchi keys create`",
                headers={"WWW-Authenticate": "Bearer"},
            )
        request.state.api_key = key
        request.state.tenant = key.tenant
        _limit(state, f"key:{key.id}")
        if not key.allows(self.scope):
            raise ProblemError(
                403,
                "insufficient-scope",
                "This key may not do that",
                f"the key {key.id} ({key.name}) has scope {key.scope}; this call needs "
                f"{self.scope}",
            )


def caller_may(request: Request, scope: str) -> bool:
    """Whether the caller of a route already let through by `requires` also holds `scope`
    (always, with authentication off)."""
    key = getattr(request.state, "api_key", None)
    return key is None or key.allows(scope)


def _limit(state: Any, caller: str) -> None:  # noqa: ANN401 - api.deps.ServiceState
    wait = state.rate_limiter.retry_after(caller)
    if wait is not None:
        raise ProblemError(
            429,
            "rate-limited",
            "Too many calls",
            f"this key made more than {state.settings.rate_limit_per_minute} calls a minute; "
            f"retry in {wait} s "
            "(MADOGUCHI_RATE_LIMIT_PER_MINUTE sets the limit)",
            headers={"Retry-After": str(wait)},
        )


def requires(scope: str) -> Any:  # noqa: ANN401 - a FastAPI dependency marker
    """`dependencies=[requires("write")]` on a route."""
    return Depends(ScopeRequirement(scope))
