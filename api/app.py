"""The FastAPI application: start-up loading, middleware, error handlers and routers."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import Engine

from api.deps import ServiceState
from api.errors import install_error_handlers, refuse_repeated_query_parameters
from api.metrics import ServiceMetrics
from api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from api.model_watch import ChampionWatch
from api.openapi import document_problems
from api.rate_limit import RateLimiter
from api.routes import (
    admin,
    articles,
    classify,
    console,
    health,
    labels,
    pages,
    records,
    suggest,
    text,
    widget,
)
from api.schemas import ComponentStatus
from api.tenancy import TenantStates
from api.training_jobs import TrainingJobs
from common import text as text_pipeline
from common.api_keys import KeyStore
from common.encoders import CachedEncoder, Encoder, EncoderNotFoundError, load_encoder
from common.labels import LabelSet
from common.registry import ModelRegistry
from common.settings import Settings, get_settings
from common.storage import create_database_engine
from records.store import RecordStore
from retrieval.index import KnowledgeIndex, store_factory_for
from retrieval.knowledge_base import KnowledgeBase
from retrieval.suggest import SuggestionService
from retrieval.vector_store import faiss_threads
from triage.model import TRIAGE_MODELS
from triage.service import TriageService, build_triage_service, serving_encoder_name

logger = logging.getLogger("madoguchi.api")

DESCRIPTION = """\
Japanese-first triage and answer suggestion for helpdesks, running offline.

Every error is an RFC 9457 problem document (`application/problem+json`) whose `detail` says
what to fix, and carries the `request_id` that is also in the `X-Request-ID` header and the logs.
"""


@lru_cache(maxsize=4)
def shared_encoder(
    name: str, models_dir: Path, batch_size: int, cache_file: Path | None
) -> Encoder:
    """One encoder per process and setting: several apps in one process (tests, workers
    restarted in place) do not load the model again."""
    encoder = load_encoder(name, models_dir, batch_size=batch_size)
    return CachedEncoder(encoder, cache_file, cache_queries=False) if cache_file else encoder


def _encoder(settings: Settings, encoder_name: str) -> Encoder:
    return shared_encoder(
        encoder_name,
        settings.models_dir,
        settings.encoder_batch_size,
        settings.encoder_cache_file if settings.encoder_cache else None,
    )


def open_knowledge_index(
    settings: Settings, knowledge_base: KnowledgeBase, encoder_name: str | None = None
) -> KnowledgeIndex:
    """The search index of `encoder_name` (default: the configured encoder), in its own
    folder (settings.index_dir_for), brought level with the database."""
    encoder_name = encoder_name or settings.encoder
    # One thread per search: a single query gains nothing from OpenMP, and on a busy machine
    # the thread hand-off costs more than the search (bench/results/ann.md).
    faiss_threads(1)
    return KnowledgeIndex(
        knowledge_base,
        _encoder(settings, encoder_name),
        settings.index_dir_for(encoder_name),
        settings.vector_index_type,
        store_factory=store_factory_for(settings),
    ).open()


def open_triage(
    settings: Settings, engine: Engine, encoder_name: str | None = None
) -> TriageService:
    return build_triage_service(
        settings, engine, _encoder(settings, encoder_name or settings.encoder)
    )


def switch_encoder(state: ServiceState, encoder_name: str) -> None:
    """Serve a new champion that brings another encoder (a tuned one, or back): open that
    encoder's index (built beside the serving one by `madoguchi train --tune-encoder`; what it
    lacks is encoded now) and the triage service on it, then swap them in. Requests already
    running finish on the objects they started with."""
    settings = state.settings
    index = open_knowledge_index(settings, state.knowledge_base, encoder_name)
    triage = open_triage(settings, state.engine, encoder_name)
    previous = state.knowledge_index
    state.knowledge_index = index
    state.suggestions = SuggestionService(index, settings.language_min_confidence)
    state.triage = triage
    state.encoder_name = encoder_name
    state.retrieval_problem = None
    index.catch_up()  # writes that landed while it opened
    if previous is not None:
        previous.save()
    fresh = {component.name: component for component in (
        _retrieval_component(state), _triage_component(state)
    )}  # fmt: skip
    state.components = [fresh.get(old.name, old) for old in state.components]


def _triage_component(state: ServiceState) -> ComponentStatus:
    if state.triage is None:
        return ComponentStatus(name="triage", ready=False, detail=state.triage_problem)
    thresholds = state.triage.model.thresholds
    return ComponentStatus(
        name="triage",
        ready=True,
        version=state.triage.model_version,
        detail="auto-apply thresholds "
        + ", ".join(
            f"{name} {value:.2f}" if value is not None else f"{name} never"
            for name, value in thresholds.items()
        )
        + f"; priority {state.triage.prioritiser.fingerprint}, "
        f"SLA plans {', '.join(state.triage.sla_policies.plans)}",
    )


def _replace_triage_component(state: ServiceState) -> None:
    fresh = _triage_component(state)
    state.components = [fresh if old.name == fresh.name else old for old in state.components]


def _retrieval_component(state: ServiceState) -> ComponentStatus:
    if state.knowledge_index is None:
        return ComponentStatus(name="search_index", ready=False, detail=state.retrieval_problem)
    described = state.knowledge_index.describe()
    return ComponentStatus(
        name="search_index",
        ready=True,
        version=described["encoder"],
        detail=f"{described['chunks']} chunks of {described['articles']} articles, "
        f"{described['engine']} {described['index_type']} index; "
        f"answer threshold {described['answer_threshold']:.2f}"
        + ("" if described["decision_fitted"] else " (not fitted: every question is handed over)"),
    )


def load_service_state(settings: Settings, server: ServiceState | None = None) -> ServiceState:
    """Load everything the routes need, once: labels, the text pipeline's dictionary and
    language models, the database and its knowledge base. For a tenant other than the default,
    `server` is the default tenant's state, whose labels, keys and rate limits are shared."""
    labels_ = server.labels if server else LabelSet.from_file(settings.labels_file)
    text_pipeline.warm_up()
    engine = create_database_engine(settings.database_url)
    components = [
        ComponentStatus(
            name="labels",
            ready=True,
            version=f"v{labels_.version} ({labels_.fingerprint})",
            detail=", ".join(
                f"{name}: {len(field.values)}" for name, field in labels_.fields.items()
            ),
        ),
        ComponentStatus(
            name="text_pipeline",
            ready=True,
            version=", ".join(
                f"{name} {ver}" for name, ver in text_pipeline.pipeline_versions().items()
            ),
        ),
    ]
    state = ServiceState(
        settings=settings,
        labels=labels_,
        engine=engine,
        knowledge_base=KnowledgeBase(engine),
        records=RecordStore(engine, labels_, settings.pii_policy),
        triage_registry=ModelRegistry(settings.registry_dir, TRIAGE_MODELS, engine),
        api_keys=server.api_keys if server else KeyStore(engine),
        rate_limiter=server.rate_limiter if server else RateLimiter(settings.rate_limit_per_minute),
        training_jobs=TrainingJobs(settings),
        components=components,
        tenant=settings.tenant,
    )
    state.encoder_name = serving_encoder_name(settings)
    try:
        state.knowledge_index = open_knowledge_index(
            settings, state.knowledge_base, state.encoder_name
        )
        if server is not None and server.knowledge_index is not None:
            state.knowledge_index.inherit_tuning(server.knowledge_index, "the default tenant")
        state.suggestions = SuggestionService(
            state.knowledge_index, settings.language_min_confidence
        )
    except EncoderNotFoundError as error:
        state.retrieval_problem = f"the encoder is missing ({error})"
        logger.error("answer suggestion unavailable", extra={"reason": state.retrieval_problem})
    components.append(_retrieval_component(state))
    try:
        state.triage = open_triage(settings, engine, state.encoder_name)
    except (FileNotFoundError, ValueError) as error:
        state.triage_problem = str(error)
        logger.error("triage unavailable", extra={"reason": state.triage_problem})
    components.append(_triage_component(state))
    return state


def _serving_versions(app: FastAPI) -> list[tuple[str, str]]:
    state = getattr(app.state, "service", None)
    if state is None:
        return []
    return [(component.name, component.version or "") for component in state.components]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    watches: dict[int, ChampionWatch] = {}

    def start_serving(state: ServiceState) -> ServiceState:
        if state.settings.triage_model == Path(""):  # a pinned model folder is never swapped
            watches[id(state)] = ChampionWatch(
                state,
                state.triage_registry,
                state.settings,
                on_swap=lambda: _replace_triage_component(state),
                switch_encoder=lambda name: switch_encoder(state, name),
            ).start()
        return state

    def stop_serving(state: ServiceState) -> None:
        watch = watches.pop(id(state), None)
        if watch is not None:
            watch.stop()
        if state.knowledge_index is not None:
            state.knowledge_index.save()
        state.engine.dispose()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        server = start_serving(load_service_state(settings))
        app.state.service = server
        app.state.tenants = TenantStates(
            server,
            load=lambda tenant: start_serving(
                load_service_state(settings.for_tenant(tenant), server)
            ),
            unload=stop_serving,
        )
        if not settings.auth_required:
            logger.warning(
                "AUTHENTICATION IS OFF: every call is allowed without an API key. This is for "
                "local use only; set MADOGUCHI_AUTH_REQUIRED=true anywhere else."
            )
        logger.info("ready", extra={"articles": server.knowledge_base.count()})
        yield
        app.state.tenants.close()

    app = FastAPI(
        title="madoguchi",
        version=version("madoguchi"),
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.metrics = ServiceMetrics(
        components=lambda: _serving_versions(app), open_days=settings.open_ticket_days
    )
    install_error_handlers(app)
    document_problems(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    if settings.cors_origins:  # the chat widget's pages, and nothing else
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            max_age=600,
        )
    # added last: outermost, so every line has an id and every request is timed
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)

    app.include_router(health.router)
    app.include_router(pages.router)
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(refuse_repeated_query_parameters)])
    for module in (labels, text, classify, articles, suggest, records, widget, console, admin):
        v1.include_router(module.router)
    app.include_router(v1)
    return app
