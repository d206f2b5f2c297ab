"""What routes depend on: settings, labels, the knowledge base, readiness. All of it is built
once at start-up (see api.app) and kept on app.state."""

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from api.errors import ProblemError
from api.metrics import ServiceMetrics
from api.rate_limit import RateLimiter
from api.schemas import ComponentStatus
from api.training_jobs import TrainingJobs
from common.api_keys import KeyStore
from common.labels import LabelSet
from common.registry import ModelRegistry
from common.settings import Settings
from records.store import RecordStore
from retrieval.index import KnowledgeIndex
from retrieval.knowledge_base import KnowledgeBase
from retrieval.suggest import SuggestionService
from triage.service import TriageService


@dataclass
class ServiceState:
    settings: Settings
    labels: LabelSet
    engine: Engine
    knowledge_base: KnowledgeBase
    records: RecordStore
    triage_registry: ModelRegistry
    api_keys: KeyStore
    rate_limiter: RateLimiter
    training_jobs: TrainingJobs
    tenant: str = "default"
    components: list[ComponentStatus] = field(default_factory=list)
    knowledge_index: KnowledgeIndex | None = None
    suggestions: SuggestionService | None = None
    retrieval_problem: str | None = None  # why suggestions are unavailable
    triage: TriageService | None = None
    triage_problem: str | None = None  # why triage is unavailable
    encoder_name: str = ""  # the encoder triage and answer search share (see serving_encoder_name)


def get_state(request: Request) -> ServiceState:
    """The state of the caller's tenant, which `requires(scope)` found from the key (the
    default tenant with authentication off). A route that did not check the caller gets none:
    it must use get_server_state."""
    tenant = getattr(request.state, "tenant", None)
    if tenant is None:
        raise RuntimeError(f"{request.url.path} reads tenant data without requires(scope)")
    try:
        return request.app.state.tenants.get(tenant)
    except LookupError as error:  # api.tenancy.UnknownTenantError: the tenant was removed
        raise ProblemError(
            403,
            "unknown-tenant",
            "This key's tenant does not exist",
            f"the key belongs to tenant {tenant!r}, which this install does not serve; "
            "list tenants with `madoguchi tenants list`",
        ) from error


def get_server_state(request: Request) -> ServiceState:
    """The default tenant's state, for what is the server's own: readiness, pages."""
    return request.app.state.service


def get_settings(request: Request) -> Settings:
    return get_state(request).settings


def get_labels(request: Request) -> LabelSet:
    return get_state(request).labels


def get_knowledge_base(request: Request) -> KnowledgeBase:
    return get_state(request).knowledge_base


def get_records(request: Request) -> RecordStore:
    return get_state(request).records


def get_suggestions(request: Request) -> SuggestionService:
    state = get_state(request)
    if state.suggestions is None:
        raise ProblemError(
            503,
            "suggestions-unavailable",
            "Answer suggestion is not available",
            f"{state.retrieval_problem or 'the search index did not load'}. "
            "Run `madoguchi build` and restart.",
        )
    return state.suggestions


def get_triage(request: Request) -> TriageService:
    state = get_state(request)
    if state.triage is None:
        raise ProblemError(
            503,
            "triage-unavailable",
            "Triage is not available",
            f"{state.triage_problem or 'the triage model did not load'}. "
            "Run `madoguchi build` (it trains the default model) and restart.",
        )
    return state.triage


def get_metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


StateDep = Annotated[ServiceState, Depends(get_state)]
ServerStateDep = Annotated[ServiceState, Depends(get_server_state)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
LabelsDep = Annotated[LabelSet, Depends(get_labels)]
KnowledgeBaseDep = Annotated[KnowledgeBase, Depends(get_knowledge_base)]
RecordsDep = Annotated[RecordStore, Depends(get_records)]
SuggestionsDep = Annotated[SuggestionService, Depends(get_suggestions)]
TriageDep = Annotated[TriageService, Depends(get_triage)]
