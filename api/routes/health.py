"""Liveness and readiness probes."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import StateDep
from api.schemas import Health, Readiness
from api.service import readiness

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="The process is alive")
def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Readiness,
    summary="Models and stores are loaded, with their versions",
    responses={503: {"model": Readiness, "description": "A component is not ready"}},
)
def ready(state: StateDep) -> JSONResponse:
    report = readiness(state)
    return JSONResponse(report.model_dump(), status_code=200 if report.status == "ready" else 503)
