"""The calls routes make: each turns a request into domain calls and the result into a schema."""

from dataclasses import asdict
from datetime import datetime
from importlib.metadata import version

from sqlalchemy import text

from api.deps import ServiceState
from api.errors import ProblemError
from api.metrics import ServiceMetrics
from api.schemas import (
    Alternative,
    ArticleCreate,
    ArticleIn,
    ArticleOut,
    ClassifyResponse,
    ComponentStatus,
    FeedbackStored,
    FieldOut,
    LanguageOut,
    MajorIncidentOut,
    MaskRequest,
    MaskResponse,
    ModelRegistryOut,
    ModelVersionOut,
    PiiSpanOut,
    PriorityOut,
    PromoteRequest,
    Readiness,
    RefusedRow,
    RemovedPart,
    ResolvedTicketsResponse,
    RollbackRequest,
    SimilarTicketOut,
    SlaOut,
    SuggestedArticleOut,
    SuggestRequest,
    SuggestResponse,
    TextAnalysisRequest,
    TextAnalysisResponse,
    TicketIn,
    TokenOut,
    TrainingJobOut,
    TrainRequest,
)
from api.training_jobs import JobAlreadyRunningError
from common import text as text_pipeline
from common.labels import LabelSet
from common.pii import mask_pii
from common.registry import RegistryError
from common.sample_data import Article
from common.settings import Settings
from common.storage import redact_database_url
from records.store import FeedbackError, FeedbackEvent, RecordStore
from retrieval.knowledge_base import JST, ArticleExistsError, KnowledgeBase
from retrieval.search import SearchFilters
from retrieval.suggest import SuggestionService, UnknownFilterValueError
from triage.model import FieldPrediction
from triage.service import TicketInput, TriageResult, TriageService
from triage.sla import UnknownPlanError

MAX_RESOLVED_PER_CALL = 1000


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


def mask_text(request: MaskRequest, settings: Settings) -> MaskResponse:
    kinds = request.kinds if request.kinds is not None else settings.pii_mask_kinds
    result = mask_pii(request.text, kinds)
    return MaskResponse(
        masked=result.text,
        spans=[PiiSpanOut(**span.as_dict()) for span in result.spans],
        counts=result.counts(),
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


def check_text_length(name: str, value: str, settings: Settings) -> None:
    if len(value) > settings.max_text_chars:
        raise ProblemError(
            422,
            "text-too-long",
            "Text is too long",
            f"{name} has {len(value)} characters; the limit is {settings.max_text_chars}. "
            "Send the message without attachments pasted in.",
        )


def suggest_articles(
    request: SuggestRequest,
    suggestions: SuggestionService,
    settings: Settings,
    metrics: ServiceMetrics | None = None,
) -> SuggestResponse:
    check_text_length("text", request.text, settings)
    if request.top_k > settings.suggest_max_top_k:
        raise ProblemError(
            422,
            "top-k-too-large",
            "top_k is too large",
            f"top_k is {request.top_k}; at most {settings.suggest_max_top_k} articles per call.",
        )
    filters = None
    if request.filters is not None:
        filters = SearchFilters(
            categories=frozenset(request.filters.category or ()),
            tags=frozenset(tag.lower() for tag in request.filters.tags or ()),
            plan=request.filters.plan,
        )
    try:
        result = suggestions.suggest(request.text, request.top_k, request.language, filters)
    except UnknownFilterValueError as error:
        raise ProblemError(
            422, "unknown-filter-value", "Unknown filter value", str(error)
        ) from error
    if metrics is not None:
        metrics.record_suggestion(result.decision)
    return SuggestResponse(
        decision=result.decision,
        reason=result.reason,
        confidence=result.confidence,
        language=result.language,
        cleaned_text=result.cleaned_text,
        articles=[SuggestedArticleOut(**asdict(article)) for article in result.articles],
    )


def _article(article_id: str, written: ArticleIn) -> Article:
    fields = written.model_dump()
    updated_at = fields.pop("updated_at") or datetime.now(JST)
    return Article(id=article_id, updated_at=updated_at.astimezone(JST), **fields)


def _index_now(state: ServiceState) -> None:
    """Writes are searchable when the call returns, not at the next question."""
    if state.knowledge_index is not None:
        state.knowledge_index.catch_up()


def create_article(request: ArticleCreate, state: ServiceState) -> ArticleOut:
    check_text_length("body", request.body, state.settings)
    article = _article(request.id, ArticleIn(**request.model_dump(exclude={"id"})))
    try:
        state.knowledge_base.create(article)
    except ArticleExistsError as error:
        raise ProblemError(
            409,
            "article-exists",
            "Article already exists",
            f"An article with id {request.id!r} exists; PUT /v1/articles/{request.id} replaces it.",
        ) from error
    _index_now(state)
    return ArticleOut(**article.model_dump())


def replace_article(article_id: str, request: ArticleIn, state: ServiceState) -> ArticleOut:
    check_text_length("body", request.body, state.settings)
    article = _article(article_id, request)
    if state.knowledge_base.update(article) is None:
        raise article_not_found(article_id)
    _index_now(state)
    return ArticleOut(**article.model_dump())


def delete_article(article_id: str, state: ServiceState) -> None:
    if not state.knowledge_base.delete(article_id):
        raise article_not_found(article_id)
    _index_now(state)


def article_not_found(article_id: str) -> ProblemError:
    return ProblemError(
        404,
        "article-not-found",
        "Article not found",
        f"No article has id {article_id!r}. GET /v1/articles lists the ids.",
    )


def classify_tickets(
    tickets: list[TicketIn],
    triage: TriageService,
    labels: LabelSet,
    settings: Settings,
    metrics: ServiceMetrics | None = None,
) -> list[ClassifyResponse]:
    if len(tickets) > settings.classify_max_batch:
        raise ProblemError(
            422,
            "batch-too-large",
            "Too many tickets",
            f"the batch has {len(tickets)} tickets; send at most {settings.classify_max_batch} "
            "per call.",
        )
    for number, ticket in enumerate(tickets):
        where = "body" if len(tickets) == 1 else f"tickets[{number}].body"
        check_text_length(where, ticket.body, settings)
    inputs = [
        TicketInput(
            body=ticket.body,
            subject=ticket.subject,
            channel=ticket.channel,
            plan=ticket.plan,
            created_at=ticket.created_at,
            language=ticket.language,
            ticket_id=ticket.ticket_id,
        )
        for ticket in tickets
    ]
    try:
        results = triage.classify_many(inputs)
    except UnknownPlanError as error:
        raise ProblemError(422, "unknown-plan", "Unknown plan", str(error)) from error
    if metrics is not None:
        metrics.record_classifications(results)
    return [_classify_response(result, labels) for result in results]


def _field_out(name: str, prediction: FieldPrediction, labels: LabelSet) -> FieldOut:
    return FieldOut(
        value=prediction.value,
        display_name=labels.display_name(name, prediction.value),
        confidence=prediction.confidence,
        alternatives=[
            Alternative(value=value, confidence=confidence)
            for value, confidence in prediction.alternatives
        ],
        auto_apply=prediction.auto_apply,
        needs_review=not prediction.auto_apply,
        decided_by=prediction.decided_by,
        reason=prediction.reason,
    )


def _classify_response(result: TriageResult, labels: LabelSet) -> ClassifyResponse:
    surge = result.surge
    return ClassifyResponse(
        ticket_id=result.ticket_id,
        fields=(
            fields := {
                name: _field_out(name, prediction, labels)
                for name, prediction in result.fields.items()
            }
        ),
        **{name: fields.get(name) for name in ("type", "urgency", "impact", "queue")},
        priority=PriorityOut(
            value=result.priority,
            sla_level=result.priority_sla_level,
            needs_review=result.priority_needs_review,
            reason=result.priority_reason,
        ),
        escalation_path=result.escalation_path,
        sla=SlaOut(
            plan=result.sla.plan,
            first_response_due=result.sla.first_response_due,
            resolution_due=result.sla.resolution_due,
            first_response_clock=result.sla.first_response_clock,
            resolution_clock=result.sla.resolution_clock,
            note=result.sla.note,
        ),
        reasons=result.reasons,
        language=result.language,
        cleaned_text=result.cleaned_text,
        similar_tickets=[SimilarTicketOut(**asdict(ticket)) for ticket in result.similar_tickets],
        major_incident=MajorIncidentOut(
            **(
                asdict(surge)
                if surge
                else {
                    "possible_major_incident": False,
                    "similar_in_window": 0,
                    "window_minutes": 0,
                    "threshold": 0,
                    "ticket_ids": [],
                }
            )
        ),
        model_version=result.model_version,
    )


def store_resolved_tickets(rows: list[dict], records: RecordStore) -> ResolvedTicketsResponse:
    """Each row on its own: good rows are stored even when others are refused; a call in which
    every row is refused is a 422 listing them all."""
    if len(rows) > MAX_RESOLVED_PER_CALL:
        raise ProblemError(
            422,
            "too-many-tickets",
            "Too many tickets in one call",
            f"send at most {MAX_RESOLVED_PER_CALL:,} resolved tickets per call (got "
            f"{len(rows):,}); split the export, or use `madoguchi ingest FILE` for a whole file",
        )
    report = records.add_resolved(rows, source="api")
    response = ResolvedTicketsResponse(
        received=report.received,
        stored=report.stored,
        skipped_already_seen=report.skipped_already_seen,
        skipped_duplicate=report.skipped_duplicate,
        rejected=[RefusedRow(**problem.as_dict()) for problem in report.rejected],
    )
    if report.rejected and len(report.rejected) == report.received:
        raise ProblemError(
            422,
            "no-valid-ticket",
            "No resolved ticket could be stored",
            "every row was refused; fix the fields listed per row in `rejected`",
            rejected=[problem.as_dict() for problem in report.rejected],
        )
    return response


def record_feedback(
    event: FeedbackEvent, records: RecordStore, knowledge_base: KnowledgeBase
) -> FeedbackStored:
    if event.article_id and knowledge_base.get(event.article_id) is None:
        raise ProblemError(
            422,
            "unknown-article",
            "Unknown article",
            f"no article has the id {event.article_id!r}; send the id of an existing article",
        )
    try:
        stored = records.add_feedback(event)
    except FeedbackError as error:
        raise ProblemError(
            422, "invalid-feedback", "The feedback event is incomplete", str(error)
        ) from error
    return FeedbackStored(id=stored.id, kind=stored.kind, occurred_at=stored.occurred_at)


def start_training(request: TrainRequest, state: ServiceState) -> TrainingJobOut:
    try:
        job = state.training_jobs.start(
            request.tolerance, request.tune_encoder, request.tune_minutes
        )
    except JobAlreadyRunningError as error:
        raise ProblemError(
            409, "training-running", "A training job is running", f"{error}; poll its status"
        ) from error
    return TrainingJobOut(**asdict(job))


def training_status(job_id: str, state: ServiceState) -> TrainingJobOut:
    job = state.training_jobs.jobs.get(job_id)
    if job is None:
        raise ProblemError(
            404, "unknown-job", "Unknown training job", f"no training job has the id {job_id!r}"
        )
    return TrainingJobOut(**asdict(job))


def triage_registry(state: ServiceState) -> ModelRegistryOut:
    registry = state.triage_registry
    return ModelRegistryOut(
        kind=registry.kind,
        champion=registry.champion_version(),
        versions=[
            ModelVersionOut(
                version=entry.version,
                status=entry.status,
                parent_version=entry.manifest.get("parent_version"),
                reason=entry.reason,
            )
            for entry in registry.versions()
        ],
        history=registry.history(),
    )


def promote_triage(request: PromoteRequest, state: ServiceState) -> ModelRegistryOut:
    try:
        state.triage_registry.promote(request.version, request.reason)
    except RegistryError as error:
        status = 404 if "no triage version" in str(error) else 409
        raise ProblemError(status, "cannot-promote", "Cannot promote", str(error)) from error
    return triage_registry(state)


def rollback_triage(request: RollbackRequest, state: ServiceState) -> ModelRegistryOut:
    try:
        state.triage_registry.rollback(request.reason)
    except RegistryError as error:
        raise ProblemError(409, "cannot-roll-back", "Cannot roll back", str(error)) from error
    return triage_registry(state)
