"""Triage of a ticket on creation: the model's fields (with rules on top), the priority from the
urgency × impact matrix, the escalation path, SLA deadlines for the plan, similar open tickets
and whether alike tickets surge. One encoding per ticket serves the model and the similarity
search; a batch is encoded in one pass."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from common.encoders import Encoder
from common.labels import LabelSet
from common.settings import Settings
from common.text import detect_language
from triage.classifier import prepare_text, ticket_text
from triage.model import (
    FieldPrediction,
    TriageModel,
    serving_triage_model_for,
    trained_encoder_name,
)
from triage.priority import Prioritiser
from triage.similar import (
    JST,
    NewRecentTicket,
    RecentTickets,
    SimilarityPolicy,
    SimilarTicket,
    SurgeCheck,
)
from triage.sla import SlaDeadlines, SlaPolicies, UnknownPlanError


@dataclass
class TicketInput:
    body: str
    subject: str = ""
    channel: str = "email"
    plan: str | None = None
    created_at: datetime | None = None
    language: str | None = None
    ticket_id: str | None = None


@dataclass
class TriageResult:
    ticket_id: str
    fields: dict[str, FieldPrediction]
    priority: str | None  # P1-P4 by default; a taxonomy's own value; None when it has none
    priority_sla_level: str | None  # the SLA row (P1-P4) the priority's clocks run on
    priority_needs_review: bool
    priority_reason: str
    escalation_path: list[str]
    sla: SlaDeadlines
    reasons: list[str]
    language: str
    cleaned_text: str
    similar_tickets: list[SimilarTicket] = field(default_factory=list)
    surge: SurgeCheck | None = None
    model_version: str = ""


class TriageService:
    def __init__(
        self,
        model: TriageModel,
        prioritiser: Prioritiser,
        sla_policies: SlaPolicies,
        recent_tickets: RecentTickets | None,
        default_plan: str = "standard",
        language_min_confidence: float = 0.4,
    ) -> None:
        self.model = model
        self.prioritiser = prioritiser
        self.sla_policies = sla_policies
        self.recent_tickets = recent_tickets
        self.default_plan = default_plan
        self.language_min_confidence = language_min_confidence
        self.model_version = str(model.manifest.get("name") or model.manifest.get("created_at"))

    def with_model(self, model: TriageModel) -> "TriageService":
        """The same service (matrix, SLA policies, recent tickets) with another model: swapping
        the service object is atomic, so requests already running finish on the old model."""
        return TriageService(
            model,
            self.prioritiser,
            self.sla_policies,
            self.recent_tickets,
            self.default_plan,
            self.language_min_confidence,
        )

    def check_plan(self, plan: str | None) -> str:
        plan = plan or self.default_plan
        if plan not in self.sla_policies.plans:
            raise UnknownPlanError(
                f"unknown plan {plan!r}; known plans: {', '.join(self.sla_policies.plans)}"
            )
        return plan

    def classify(self, ticket: TicketInput) -> TriageResult:
        return self.classify_many([ticket])[0]

    def classify_many(self, tickets: list[TicketInput]) -> list[TriageResult]:
        """Classify tickets in one pass. Every plan is checked before anything is recorded, so
        a batch with a bad ticket changes nothing."""
        plans = [self.check_plan(ticket.plan) for ticket in tickets]
        pending: list = []
        texts = [ticket_text(ticket.subject, ticket.body) for ticket in tickets]
        prepared = [prepare_text(text) for text in texts]
        embeddings = self.model.embed_prepared(prepared)
        predictions = self.model.predict_prepared(prepared, embeddings)
        results = []
        for ticket, plan, cleaned, vector, fields in zip(
            tickets, plans, prepared, embeddings, predictions, strict=True
        ):
            created_at = (ticket.created_at or datetime.now(JST)).astimezone(JST)
            results.append(self._result(ticket, plan, cleaned, vector, fields, created_at, pending))
        if self.recent_tickets is not None and pending:
            self.recent_tickets.add(pending)  # one transaction for the batch
        return results

    def _result(self, ticket, plan, cleaned, vector, fields, created_at, pending) -> TriageResult:  # noqa: ANN001
        values = {name: prediction.value for name, prediction in fields.items()}
        prioritiser = self.prioritiser
        priority = prioritiser.priority(values)
        level = prioritiser.sla_level(priority)
        sla = self.sla_policies.deadlines(plan, level, created_at)
        language = ticket.language or (
            detect_language(cleaned, min_confidence=self.language_min_confidence).language
        )
        ticket_id = ticket.ticket_id or f"mg-{uuid.uuid4().hex[:16]}"
        reasons = [
            f"{name}={prediction.value}: {prediction.reason}"
            for name, prediction in fields.items()
            if prediction.decided_by != "model" and prediction.reason
        ]
        priority_reason = prioritiser.explain(values, priority)
        reasons.append(priority_reason)
        for name in fields:
            if not fields[name].auto_apply:
                reasons.append(
                    f"{name} needs review: confidence {fields[name].confidence:.2f} is below "
                    "the level at which it is right 95% of the time"
                )
        if sla.note:
            reasons.append(f"SLA ({plan}): {sla.note}")
        similar, surge = [], None
        if self.recent_tickets is not None:
            similar, surge = self.recent_tickets.similar(vector, created_at, exclude=ticket_id)
            if surge.possible_major_incident:
                reasons.append(
                    f"possible major incident: {surge.similar_in_window} alike tickets in the "
                    f"last {surge.window_minutes} minutes"
                )
            pending.append(
                NewRecentTicket(
                    ticket_id=ticket_id,
                    subject=ticket.subject or cleaned[:80],
                    created_at=created_at,
                    type=values.get("type", ""),
                    priority=priority or "",
                    vector=vector,
                    channel=ticket.channel,
                    auto_applied=tuple(
                        name for name, prediction in fields.items() if prediction.auto_apply
                    ),
                    first_response_due=sla.first_response_due,
                    resolution_due=sla.resolution_due,
                )
            )
        return TriageResult(
            ticket_id=ticket_id,
            fields=fields,
            priority=priority,
            priority_sla_level=level,
            priority_needs_review=not all(fields[name].auto_apply for name in prioritiser.inputs),
            priority_reason=priority_reason,
            escalation_path=prioritiser.escalation_path(values.get("queue")),
            sla=sla,
            reasons=reasons,
            language=language,
            cleaned_text=cleaned,
            similar_tickets=similar,
            surge=surge,
            model_version=self.model_version,
        )


def load_triage_model(
    folder: Path, settings: Settings, encoder: Encoder, label_set: LabelSet | None = None
) -> TriageModel:
    label_set = label_set or LabelSet.from_file(settings.labels_file)
    model = TriageModel.load(folder, label_set, encoder)
    model.manifest.setdefault("name", folder.name)
    return model


def configured_triage_folder(settings: Settings) -> Path | None:
    """The model folder the settings pin (settings.triage_model), else the champion."""
    if settings.triage_model != Path(""):
        return settings.triage_model
    return serving_triage_model_for(settings)


def serving_encoder_name(settings: Settings, folder: Path | None = None) -> str:
    """The encoder the service runs: the one the triage model (`folder`, else the configured
    one) was trained on when that is a folder among the models (a tuned encoder,
    `encoders/<version>`), else the configured encoder. Triage and answer search share it,
    so a promoted model trained on a tuned encoder brings its encoder with it."""
    folder = folder or configured_triage_folder(settings)
    name = trained_encoder_name(folder) if folder else None
    if name and name != settings.encoder and (settings.models_dir / name).is_dir():
        return name
    return settings.encoder


def build_triage_service(settings: Settings, engine: Engine, encoder: Encoder) -> TriageService:
    """The service as configured: the model folder (settings.triage_model, else the champion
    of models/triage/), the default priority matrix and SLA policies, recent tickets in the
    database."""
    folder = configured_triage_folder(settings)
    if folder is None or not (folder / "manifest.json").is_file():
        raise FileNotFoundError(
            f"no triage model in {settings.models_dir} (no champion in models/triage/)"
            if folder is None
            else f"{folder} is not a triage model folder"
        )
    label_set = LabelSet.from_file(settings.labels_file)
    model = load_triage_model(folder, settings, encoder, label_set)
    recent = RecentTickets(
        engine,
        encoder.dimension,
        SimilarityPolicy(
            similar_min_cosine=settings.similar_min_cosine,
            surge_min_cosine=settings.surge_min_cosine,
            surge_count=settings.surge_count,
            surge_window_minutes=settings.surge_window_minutes,
            open_days=settings.open_ticket_days,
        ),
        settings.pii_policy,
        encoder_identity=encoder.identity,
    )
    return TriageService(
        model,
        Prioritiser(label_set),
        SlaPolicies.from_file(),
        recent,
        settings.default_plan,
        settings.language_min_confidence,
    )
