"""Request and response bodies of the HTTP API."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from common.json_types import IsoDateTime
from common.pii import PiiKind


class StrictModel(BaseModel):
    """Request bodies refuse unknown fields, so a misspelt field is reported, not ignored."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class ComponentStatus(BaseModel):
    name: str
    ready: bool
    version: str | None = None
    detail: str | None = None


class Readiness(BaseModel):
    status: str = Field(description="ready, or not_ready when a component failed to load")
    version: str
    components: list[ComponentStatus]


class LabelValueOut(BaseModel):
    value: str
    display_name: str
    description: str


class LabelFieldOut(BaseModel):
    field: str
    display_name: str
    values: list[LabelValueOut]


class LabelsOut(BaseModel):
    version: int
    fingerprint: str
    fields: list[LabelFieldOut]


class TextAnalysisRequest(StrictModel):
    text: str = Field(
        min_length=1,
        description="A ticket, chat message or e-mail, as received (plain text or HTML).",
        examples=["ﾛｸﾞｲﾝできません。SSOでE-4010が出ます\n\n--\n山田 太郎\nTEL 03-1234-5678"],
    )
    html: bool | None = Field(None, description="true/false, or leave out to detect HTML.")
    strip_email: bool = Field(
        True, description="Remove quoted replies, earlier messages and the signature."
    )


class MaskRequest(StrictModel):
    text: str = Field(
        min_length=1,
        description="Any text: a ticket, a chat message, an e-mail with its signature.",
        examples=["お世話になっております。山田様、折り返しは090-1234-5678までお願いします。"],
    )
    kinds: list[PiiKind] | None = Field(
        None, description="Kinds to mask; leave out for the configured ones (all by default)."
    )


class PiiSpanOut(BaseModel):
    kind: str
    start: int = Field(description="Offset in the original text (characters).")
    end: int
    text: str


class MaskResponse(BaseModel):
    masked: str = Field(description="The text with each piece replaced by <PHONE>, <NAME>, ...")
    spans: list[PiiSpanOut]
    counts: dict[str, int] = Field(description="Pieces masked, by kind.")


class LanguageOut(BaseModel):
    code: str = Field(description="ja, en, zh, ko or other")
    confidence: float


class RemovedPart(BaseModel):
    kind: str = Field(description="earlier_message, quoted_reply, mobile_footer or signature")
    text: str


class TokenOut(BaseModel):
    surface: str
    lemma: str
    pos: str
    content_word: bool


class TextAnalysisResponse(BaseModel):
    language: LanguageOut
    normalized: str = Field(description="The whole input after careful NFKC normalisation.")
    cleaned: str = Field(description="The sender's own words only.")
    removed: list[RemovedPart]
    tokens: list[TokenOut]
    content_words: list[str]


class ArticleOut(BaseModel):
    id: str
    title: str
    body: str
    category: str
    tags: list[str]
    language: str
    url: str
    updated_at: datetime


class ArticleList(BaseModel):
    total: int
    articles: list[ArticleOut]


ARTICLE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
LanguageCode = Literal["ja", "en", "zh", "ko"]
PlanName = Literal["free", "standard", "premium", "enterprise"]


class ArticleIn(StrictModel):
    """An article as written through the API. `updated_at` defaults to now (JST)."""

    title: str = Field(min_length=1, max_length=500, examples=["Zoom 連携の設定"])
    body: str = Field(
        min_length=1,
        description="Markdown; `##` headings split it into the chunks search works on.",
        examples=["## 手順\n1. 管理コンソールの［連携］を開きます。"],
    )
    category: str = Field(min_length=1, max_length=64, examples=["integrations"])
    tags: list[str] = Field(default_factory=list, max_length=50, examples=[["Zoom", "連携"]])
    language: LanguageCode = "ja"
    url: str = Field("", max_length=2000)
    updated_at: IsoDateTime | None = Field(None, description="ISO 8601 with offset; default now.")

    @field_validator("title", "body", "category")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("updated_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-11-23T10:00:00+09:00")
        return value


class ArticleCreate(ArticleIn):
    id: str = Field(pattern=ARTICLE_ID_PATTERN, examples=["kb-0251"])


class SuggestFilters(StrictModel):
    category: list[str] | None = Field(
        None, description="Only these categories (GET /v1/articles shows them).", max_length=50
    )
    tags: list[str] | None = Field(None, description="Only articles with all these tags.")
    plan: PlanName | None = Field(
        None, description="Leave out articles that are only about other plans."
    )

    @field_validator("category", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class SuggestRequest(StrictModel):
    text: str = Field(
        min_length=1,
        description="The customer's question as written (chat message or e-mail).",
        examples=["会議の録音をアップロードしたのに、ずっと処理中のままです"],
    )
    top_k: int = Field(5, ge=1, description="How many articles to return.")
    language: LanguageCode | None = Field(None, description="Leave out to detect.")
    filters: SuggestFilters | None = None

    @field_validator("text")
    @classmethod
    def _has_words(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is blank; send the customer's question")
        return value


class SuggestedArticleOut(BaseModel):
    id: str
    title: str
    snippet: str = Field(description="HTML-escaped excerpt; matched words are in <mark>.")
    matched_terms: list[str]
    url: str
    category: str
    score: float = Field(description="Hybrid score, for ordering; not a probability.")


class SuggestResponse(BaseModel):
    decision: Literal["answer", "handoff"]
    reason: str
    confidence: float = Field(description="Calibrated probability that the first article answers.")
    language: str
    cleaned_text: str
    articles: list[SuggestedArticleOut]


class TicketIn(StrictModel):
    """A ticket as a helpdesk webhook sends it on creation. Only `body` is required."""

    body: str = Field(
        min_length=1,
        description="The message as received (plain text or HTML; signatures and quotes are fine).",
        examples=["本日朝から全社で録音が開始できません。E-5000 が表示されます。"],
    )
    subject: str = Field("", max_length=1000)
    channel: Literal["email", "chat", "web_form", "phone_memo", "api", "other"] = "email"
    plan: str | None = Field(
        None,
        max_length=64,
        description="SLA plan (free, standard, premium, enterprise by "
        "default); leave out for the configured default.",
    )
    created_at: IsoDateTime | None = Field(
        None, description="ISO 8601 with offset; default now. SLA clocks start here."
    )
    requester: str | None = Field(None, max_length=500, description="Who wrote it (not used).")
    language: LanguageCode | None = Field(None, description="Leave out to detect.")
    ticket_id: str | None = Field(
        None, max_length=128, description="Your ticket's id, echoed and used in similar_tickets."
    )

    @field_validator("body")
    @classmethod
    def _has_words(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is blank; send the ticket's text")
        return value

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-11-23T10:00:00+09:00")
        return value


class Alternative(BaseModel):
    value: str
    confidence: float


class FieldOut(BaseModel):
    value: str
    display_name: str
    confidence: float = Field(description="Calibrated probability that `value` is right.")
    alternatives: list[Alternative] = Field(description="Top 3 values with their confidence.")
    auto_apply: bool = Field(description="Confident enough to set without a person.")
    needs_review: bool
    decided_by: str = Field(description="`model` or `rule:<id>`")
    reason: str | None = None


class PriorityOut(BaseModel):
    value: str | None = Field(
        examples=["P1"],
        description="P1-P4 from urgency × impact with the default labels; with a label file "
        "that names a priority field, that field's value; null when the labels define none.",
    )
    sla_level: str | None = Field(
        None, description="The SLA row (P1-P4) the deadlines below run on; null: no SLA."
    )
    needs_review: bool = Field(
        description="True when a field the priority comes from (urgency, impact) needs review."
    )
    reason: str


class SlaOut(BaseModel):
    plan: str
    first_response_due: datetime | None
    resolution_due: datetime | None
    first_response_clock: str | None
    resolution_clock: str | None
    note: str | None = None


class SimilarTicketOut(BaseModel):
    ticket_id: str
    subject: str
    created_at: datetime
    type: str
    priority: str
    similarity: float


class MajorIncidentOut(BaseModel):
    possible_major_incident: bool
    similar_in_window: int
    window_minutes: int
    threshold: int
    ticket_ids: list[str]


class ClassifyResponse(BaseModel):
    ticket_id: str
    fields: dict[str, FieldOut] = Field(
        description="Every field of the configured label file, by name (the four below with "
        "the default labels; a deployment's own fields with its own label file)."
    )
    type: FieldOut | None = Field(None, description="null when the label file has no `type`.")
    urgency: FieldOut | None = None
    impact: FieldOut | None = None
    queue: FieldOut | None = None
    priority: PriorityOut
    escalation_path: list[str]
    sla: SlaOut
    reasons: list[str]
    language: str
    cleaned_text: str
    similar_tickets: list[SimilarTicketOut]
    major_incident: MajorIncidentOut
    model_version: str


class ClassifyBatchRequest(StrictModel):
    tickets: list[TicketIn] = Field(min_length=1, description="At most 1,000 tickets.")


class ClassifyBatchResponse(BaseModel):
    results: list[ClassifyResponse]


class ResolvedTicketsRequest(StrictModel):
    tickets: list[dict[str, Any]] = Field(
        min_length=1,
        description="At most 1,000 resolved tickets, each `{ticket_id, body, subject?, channel?, "
        "plan?, language?, labels: {type?, urgency?, impact?, queue?}, resolved_by_article?, "
        "created_at?, resolved_at?}`. Each row is checked on its own: a bad row is reported "
        "with its position (from 1) and never stops the good ones.",
    )


class RefusedRow(BaseModel):
    row: int
    ticket_id: str | None
    errors: list[str]


class ResolvedTicketsResponse(BaseModel):
    received: int
    stored: int
    skipped_already_seen: int = Field(description="Ticket ids stored before.")
    skipped_duplicate: int = Field(
        description="Same subject and body as a stored ticket, or as another row of this call."
    )
    rejected: list[RefusedRow]


class FeedbackStored(BaseModel):
    id: int
    kind: str
    occurred_at: datetime


class TrainRequest(StrictModel):
    tolerance: float = Field(
        0.02, ge=0, le=1, description="How much worse the challenger may be on the guarded figures."
    )
    tune_encoder: bool = Field(
        False,
        description="Tune the encoder on the resolved tickets' solving articles first "
        "(`--tune-encoder`); the challenger is then trained on the tuned encoder.",
    )
    tune_minutes: float = Field(
        20.0, gt=0, le=120, description="Time budget of the encoder tuning, in minutes."
    )


class TrainingJobOut(BaseModel):
    id: str
    status: str = Field(description="running, promoted, rejected or failed")
    started_at: datetime
    finished_at: datetime | None = None
    result: dict[str, Any] | None = Field(
        None, description="`madoguchi train --json`'s summary: version, verdict, table, data."
    )
    error: str | None = None


class ModelVersionOut(BaseModel):
    version: str
    status: str
    parent_version: str | None
    reason: str | None


class ModelRegistryOut(BaseModel):
    kind: str
    champion: str | None
    versions: list[ModelVersionOut]
    history: list[dict[str, Any]]


class PromoteRequest(StrictModel):
    version: str = Field(min_length=1, max_length=64)
    reason: str = Field("promoted through the admin API", max_length=500)


class RollbackRequest(StrictModel):
    reason: str = Field("rolled back through the admin API", max_length=500)


# --- chat widget, agent console and dashboard ----------------------------------------------

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class HandoffRequest(StrictModel):
    """A customer in the chat widget asks for a person: the contact for the reply, their
    message, and the question they asked the widget first."""

    name: str = Field(min_length=1, max_length=200, description="How the customer is addressed.")
    email: str = Field(
        max_length=254, pattern=EMAIL_PATTERN, description="Where the reply goes (name@example.jp)."
    )
    message: str = Field(min_length=1, description="What the customer wants a person to know.")
    question: str | None = Field(
        None, max_length=5000, description="What they asked the widget before handing over."
    )
    language: LanguageCode | None = Field(
        None, description="The page's language; leave out to detect."
    )
    plan: str | None = Field(
        None, max_length=64, description="SLA plan; leave out for the configured one."
    )
    page_url: str | None = Field(None, max_length=1000, description="The help page it came from.")

    @field_validator("name", "message")
    @classmethod
    def _has_words(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is blank; fill it in")
        return value.strip()


class HandoffResponse(BaseModel):
    """What the customer is told: the ticket's number, its priority and when to expect a reply
    (null with a plan without SLA, e.g. `free`)."""

    ticket_id: str
    priority: str | None
    plan: str
    first_response_due: datetime | None
    resolution_due: datetime | None
    note: str | None = Field(None, description="How the SLA clock runs (business hours etc.).")


class HandoffOut(BaseModel):
    ticket_id: str
    name: str
    email: str
    message: str
    question: str | None
    language: str | None
    plan: str | None
    page_url: str | None
    type: str | None
    priority: str | None
    first_response_due: datetime | None
    created_at: datetime


class HandoffList(BaseModel):
    handoffs: list[HandoffOut]


class SessionOut(BaseModel):
    """Who is calling: the key's id, name and scope (`auth_required` false: everyone may do
    everything, and the key fields are null)."""

    auth_required: bool
    key_id: str | None
    name: str | None
    scope: str
    tenant: str = Field("default", description="Whose data this key reaches.")


class DayVolume(BaseModel):
    date: str = Field(description="YYYY-MM-DD in JST")
    total: int
    by_type: dict[str, int]
    by_priority: dict[str, int]


class ShareOut(BaseModel):
    count: int = Field(description="How many of `out_of`.")
    out_of: int
    share: float | None = Field(description="count / out_of; null when out_of is 0.")


class DeadlineAtRisk(BaseModel):
    ticket_id: str
    subject: str
    priority: str
    clock: Literal["first_response", "resolution"]
    due: datetime
    state: Literal["due_soon", "passed"]


class KnowledgeGapOut(BaseModel):
    keywords: list[str]
    size: int
    recent: int
    nearest_article: str | None
    representatives: list[str]


class KnowledgeGapsOut(BaseModel):
    generated_at: datetime | None = Field(
        description="When `madoguchi kb-gaps` last ran; null when it never did."
    )
    gaps: list[KnowledgeGapOut]
    handed_over_questions: list[str] = Field(
        description="The newest questions customers handed over in the window (masked)."
    )


class DashboardOut(BaseModel):
    window_days: int
    since: datetime
    until: datetime
    tickets: int
    volumes: list[DayVolume] = Field(description="One row per day, oldest first.")
    auto_apply: ShareOut = Field(description="Tickets whose every field was applied unreviewed.")
    auto_apply_by_field: dict[str, ShareOut] = Field(
        description="For each field, the tickets whose value was applied without review."
    )
    auto_apply_decisions: ShareOut = Field(
        description="Field values applied without review, out of all field values returned."
    )
    deflection: ShareOut = Field(
        description="Widget conversations that ended 「解決しました」 (answered without a person), "
        "out of those that ended answered or handed over."
    )
    handover: ShareOut = Field(description="The same conversations handed over to a person.")
    sla_at_risk: list[DeadlineAtRisk] = Field(
        description="Deadlines of tickets classified in the window that pass within "
        "`due_soon_hours` or have passed, soonest first (we are not told when a ticket is "
        "answered: these are deadlines, not breaches)."
    )
    sla_due_soon: int = Field(description="How many deadlines pass within `due_soon_hours`.")
    sla_passed: int = Field(description="How many have passed on unresolved tickets.")
    due_soon_hours: int
    knowledge_gaps: KnowledgeGapsOut
