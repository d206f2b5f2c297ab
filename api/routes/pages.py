"""The pages people open in a browser: the chat widget's script, the agent console, the
dashboard and a demo help page with the widget on it. The pages call the /v1 API from the
browser with the key the user logs in with; nothing here reads or changes data."""

from functools import lru_cache
from html import escape
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from api.deps import ServerStateDep
from api.errors import ProblemError

UI_FOLDER = Path(__file__).resolve().parent.parent / "ui"
ASSETS = {  # what /ui/{name} serves, and as what
    "console.css": "text/css; charset=utf-8",
    "common.js": "text/javascript; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
}
NO_STORE = {"Cache-Control": "no-cache"}

router = APIRouter(tags=["pages"], include_in_schema=False)


@lru_cache(maxsize=8)
def _template(name: str) -> str:
    return (UI_FOLDER / name).read_text(encoding="utf-8")


def _page(name: str, **values: str) -> HTMLResponse:
    html = _template(name)
    for key, value in values.items():
        html = html.replace("{{" + key + "}}", escape(value, quote=True))
    return HTMLResponse(html, headers=NO_STORE)


def _plans(state: ServerStateDep) -> str:
    return ",".join(state.triage.sla_policies.plans) if state.triage is not None else ""


@router.get("/widget.js")
def widget_script() -> FileResponse:
    return FileResponse(
        UI_FOLDER / "widget.js",
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )


@router.get("/ui/{name}")
def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise ProblemError(404, "not-found", "No such file", f"/ui/ serves {', '.join(ASSETS)}")
    return FileResponse(UI_FOLDER / name, media_type=ASSETS[name], headers=NO_STORE)


@router.get("/console")
def console(state: ServerStateDep) -> HTMLResponse:
    settings = state.settings
    return _page(
        "console.html",
        auth_required=str(settings.auth_required).lower(),
        plans=_plans(state),
        default_plan=settings.default_plan,
    )


@router.get("/console/dashboard")
def dashboard(state: ServerStateDep) -> HTMLResponse:
    return _page("dashboard.html", auth_required=str(state.settings.auth_required).lower())


@router.get("/demo")
def demo(state: ServerStateDep) -> HTMLResponse:
    settings = state.settings
    return _page("demo.html", widget_key=settings.demo_widget_key, plan=settings.default_plan)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/demo")
