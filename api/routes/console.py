"""What the agent console and the dashboard read: who the key is, the tickets handed over from
the chat widget, and the dashboard's figures."""

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.auth import requires
from api.dashboard import build_dashboard
from api.deps import RecordsDep, SettingsDep, StateDep
from api.handoffs import list_handoffs
from api.schemas import DashboardOut, HandoffList, SessionOut

router = APIRouter(tags=["console"])


@router.get(
    "/session",
    response_model=SessionOut,
    dependencies=[requires("widget")],
    summary="The calling key's id, name and scope (the console's login check)",
)
def session(request: Request, settings: SettingsDep) -> SessionOut:
    key = request.state.api_key
    if key is None:
        return SessionOut(
            auth_required=settings.auth_required, key_id=None, name=None, scope="admin"
        )
    return SessionOut(
        auth_required=True, key_id=key.id, name=key.name, scope=key.scope, tenant=key.tenant
    )


@router.get(
    "/handoffs",
    response_model=HandoffList,
    dependencies=[requires("read")],
    summary="Tickets handed over from the chat widget, newest first",
)
def handoffs(records: RecordsDep, limit: Annotated[int, Query(ge=1, le=200)] = 20) -> HandoffList:
    return list_handoffs(records, limit)


@router.get(
    "/dashboard",
    response_model=DashboardOut,
    dependencies=[requires("read")],
    summary="Volumes by type and priority per day, auto-apply share, deflection and hand-over, "
    "SLA deadlines at risk, knowledge gaps",
)
def dashboard(state: StateDep, days: Annotated[int, Query(ge=1, le=90)] = 14) -> DashboardOut:
    return build_dashboard(
        state.engine,
        state.records,
        state.settings.knowledge_gaps_file,
        days,
        state.labels.field_names,
    )
