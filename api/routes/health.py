"""Liveness and readiness probes, and metrics for Prometheus."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from api.deps import MetricsDep, ServerStateDep
from api.metrics import CONTENT_TYPE
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
def ready(state: ServerStateDep) -> JSONResponse:
    report = readiness(state)
    return JSONResponse(report.model_dump(), status_code=200 if report.status == "ready" else 503)


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics: latency per route, model versions, auto-apply and hand-over "
    "shares, SLA deadlines due",
    responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format"}},
)
def metrics(metrics: MetricsDep) -> Response:
    return Response(metrics.render(), media_type=CONTENT_TYPE)
