"""Admin calls: retrain (a background job), and which triage model serves."""

from fastapi import APIRouter, status

from api.auth import requires
from api.deps import StateDep
from api.openapi import problems
from api.schemas import (
    ModelRegistryOut,
    PromoteRequest,
    RollbackRequest,
    TrainingJobOut,
    TrainRequest,
)
from api.service import (
    promote_triage,
    rollback_triage,
    start_training,
    training_status,
    triage_registry,
)

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[requires("admin")])


@router.post(
    "/train",
    response_model=TrainingJobOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start `madoguchi train` (challenger vs champion) in the background",
    responses=problems(409),
)
def train(request: TrainRequest, state: StateDep) -> TrainingJobOut:
    return start_training(request, state)


@router.get("/train/{job_id}", response_model=TrainingJobOut, summary="A training job's status")
def train_status(job_id: str, state: StateDep) -> TrainingJobOut:
    return training_status(job_id, state)


@router.get("/models/triage", response_model=ModelRegistryOut, summary="Triage model versions")
def models(state: StateDep) -> ModelRegistryOut:
    return triage_registry(state)


@router.post(
    "/models/triage/promote",
    response_model=ModelRegistryOut,
    summary="Make a version the champion (services swap it in within a second)",
    responses=problems(404, 409),
)
def promote(request: PromoteRequest, state: StateDep) -> ModelRegistryOut:
    return promote_triage(request, state)


@router.post(
    "/models/triage/rollback",
    response_model=ModelRegistryOut,
    summary="Serve the previous champion again",
    responses=problems(409),
)
def rollback(request: RollbackRequest, state: StateDep) -> ModelRegistryOut:
    return rollback_triage(request, state)
