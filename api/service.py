"""The calls routes make: each turns a request into domain calls and the result into a schema."""

from importlib.metadata import version

from sqlalchemy import text

from api.deps import ServiceState
from api.schemas import (
    ComponentStatus,
    LanguageOut,
    Readiness,
    RemovedPart,
    TextAnalysisRequest,
    TextAnalysisResponse,
    TokenOut,
)
from common import text as text_pipeline
from common.settings import Settings
from common.storage import redact_database_url


def readiness(state: ServiceState) -> Readiness:
    """The components loaded at start-up, and a live check of the database."""
    components = list(state.components)
    try:
        with state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        article_count = state.knowledge_base.count()
        components.append(
            ComponentStatus(
                name="database",
                ready=True,
                version=state.engine.dialect.name,
                detail=f"{redact_database_url(state.settings.database_url)}; "
                f"{article_count} articles",
            )
        )
    except Exception as error:  # any driver error means "not ready", with its reason
        components.append(ComponentStatus(name="database", ready=False, detail=str(error)[:300]))
    all_ready = all(component.ready for component in components)
    return Readiness(
        status="ready" if all_ready else "not_ready",
        version=version("madoguchi"),
        components=components,
    )


def analyze_text(request: TextAnalysisRequest, settings: Settings) -> TextAnalysisResponse:
    analysis = text_pipeline.analyze(
        request.text,
        html=request.html,
        strip_email=request.strip_email,
        min_confidence=settings.language_min_confidence,
    )
    return TextAnalysisResponse(
        language=LanguageOut(
            code=analysis.language.language, confidence=analysis.language.confidence
        ),
        normalized=analysis.normalized,
        cleaned=analysis.cleaned.text,
        removed=[RemovedPart(kind=kind, text=part) for kind, part in analysis.cleaned.removed],
        tokens=[
            TokenOut(
                surface=token.surface,
                lemma=token.lemma,
                pos=token.pos,
                content_word=text_pipeline.is_content_word(token),
            )
            for token in analysis.tokens
        ],
        content_words=analysis.content_words,
    )
