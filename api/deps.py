"""What routes depend on: settings, labels, the knowledge base, readiness. All of it is built
once at start-up (see api.app) and kept on app.state."""

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from api.schemas import ComponentStatus
from common.labels import LabelSet
from common.settings import Settings
from retrieval.knowledge_base import KnowledgeBase


@dataclass
class ServiceState:
    settings: Settings
    labels: LabelSet
    engine: Engine
    knowledge_base: KnowledgeBase
    components: list[ComponentStatus] = field(default_factory=list)


def get_state(request: Request) -> ServiceState:
    return request.app.state.service


def get_settings(request: Request) -> Settings:
    return get_state(request).settings


def get_labels(request: Request) -> LabelSet:
    return get_state(request).labels


def get_knowledge_base(request: Request) -> KnowledgeBase:
    return get_state(request).knowledge_base


StateDep = Annotated[ServiceState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
LabelsDep = Annotated[LabelSet, Depends(get_labels)]
KnowledgeBaseDep = Annotated[KnowledgeBase, Depends(get_knowledge_base)]
