"""The FastAPI application: start-up loading, middleware, error handlers and routers."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import APIRouter, FastAPI

from api.deps import ServiceState
from api.errors import install_error_handlers
from api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from api.routes import articles, health, labels, text
from api.schemas import ComponentStatus
from common import text as text_pipeline
from common.labels import LabelSet
from common.settings import Settings, get_settings
from common.storage import create_database_engine
from retrieval.knowledge_base import KnowledgeBase

logger = logging.getLogger("madoguchi.api")

DESCRIPTION = """\
Japanese-first triage and answer suggestion for helpdesks, running offline.

Every error is an RFC 9457 problem document (`application/problem+json`) whose `detail` says
what to fix, and carries the `request_id` that is also in the `X-Request-ID` header and the logs.
"""


def load_service_state(settings: Settings) -> ServiceState:
    """Load everything the routes need, once: labels, the text pipeline's dictionary and
    language models, the database and its knowledge base."""
    labels_ = LabelSet.from_file(settings.labels_file)
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
    return ServiceState(
        settings=settings,
        labels=labels_,
        engine=engine,
        knowledge_base=KnowledgeBase(engine),
        components=components,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.service = load_service_state(settings)
        logger.info("ready", extra={"articles": app.state.service.knowledge_base.count()})
        yield
        app.state.service.engine.dispose()

    app = FastAPI(
        title="madoguchi",
        version=version("madoguchi"),
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestContextMiddleware)  # added last: outermost, so every line has an id

    app.include_router(health.router)
    v1 = APIRouter(prefix="/v1")
    for module in (labels, text, articles):
        v1.include_router(module.router)
    app.include_router(v1)
    return app
