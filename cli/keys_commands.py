"""`madoguchi keys create / list / revoke`: API keys for a service run with
MADOGUCHI_AUTH_REQUIRED=true. A key's token is printed once, at creation."""

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from common.api_keys import SCOPES, KeyStore, UnknownTenantError
from common.sample_data import load_articles
from common.settings import DEFAULT_TENANT, Settings
from common.storage import create_database_engine, redact_database_url
from retrieval.knowledge_base import KnowledgeBase

console = Console(stderr=True, soft_wrap=True)


def _store() -> KeyStore:
    """Keys and tenants live in the default tenant's database, whatever --tenant says."""
    return KeyStore(create_database_engine(Settings().database_url))


def create_key(
    name: Annotated[str, typer.Option(help="Who or what uses it (a widget, a helpdesk, a person)")],
    scope: Annotated[
        str, typer.Option(help="read (classify, suggest) < write (articles, feedback) < admin")
    ] = "read",
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant whose data it reaches")] = "",
    json_output: Annotated[bool, typer.Option("--json", help="End with one JSON object.")] = False,
) -> None:
    """Create a key; its token is shown now and never again (only its hash is stored)."""
    from cli.main import _chosen_tenant  # cli.main registers these commands

    if scope not in SCOPES:
        console.print(f"[red]--scope must be one of {', '.join(SCOPES)}[/red]")
        raise typer.Exit(2)
    tenant = tenant or _chosen_tenant.get("name", DEFAULT_TENANT)
    try:
        key, token = _store().create(name, scope, tenant)
    except UnknownTenantError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    console.print(
        f"key {key.id} ({key.name}, tenant {key.tenant}, scope {key.scope}); "
        "keep this token, it is shown once:"
    )
    shown = {"id": key.id, "tenant": key.tenant, "scope": key.scope, "token": token}
    print(json.dumps(shown) if json_output else token)


def list_keys() -> None:
    """Every key: id, name, scope, created, revoked (tokens are never shown again)."""
    table = Table("id", "name", "tenant", "scope", "created", "revoked")
    for key in _store().list():
        table.add_row(
            key.id,
            key.name,
            key.tenant,
            key.scope,
            f"{key.created_at:%Y-%m-%d %H:%M}",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
        )
    console.print(table)


def revoke_key(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `keys list`)")],
) -> None:
    """Revoke a key: calls with it are refused from now on."""
    if not _store().revoke(key_id):
        console.print(f"[red]no live key {key_id!r}[/red]")
        raise typer.Exit(2)
    console.print(f"[green]✓[/green] key {key_id} revoked")


def create_tenant(
    name: Annotated[str, typer.Argument(help="Lower-case letters, digits, underscores")],
    display_name: Annotated[str, typer.Option(help="How people call it")] = "",
    sample_kb: Annotated[
        bool, typer.Option(help="Load the sample knowledge base into it (for trying it out)")
    ] = False,
) -> None:
    """Register a tenant. Its records live in a database of its own (a SQLite file under
    state_dir/tenants/, or a schema on the same PostgreSQL server), its index and models in
    folders of its own; it answers with the install's base triage model until it trains one.
    Then `madoguchi keys create --tenant NAME` gives it keys."""
    try:
        tenant = _store().create_tenant(name, display_name)
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    settings = Settings().for_tenant(tenant.name)
    engine = create_database_engine(settings.database_url)
    try:
        knowledge_base = KnowledgeBase(engine)  # creates its tables
        loaded = 0
        if sample_kb:
            loaded = knowledge_base.upsert_many(load_articles(settings.data_dir))
    finally:
        engine.dispose()
    console.print(
        f"[green]✓[/green] tenant {tenant.name} ({tenant.display_name}): database "
        f"{redact_database_url(settings.database_url)}, {loaded} articles; models in "
        f"{settings.registry_dir}"
    )


def list_tenants() -> None:
    """Every tenant, and how many live keys each has."""
    store = _store()
    live = [key for key in store.list() if key.revoked_at is None]
    table = Table("tenant", "name", "created", "live keys")
    for tenant in store.tenants():
        created = f"{tenant.created_at:%Y-%m-%d %H:%M}" if tenant.created_at else ""
        keys = sum(key.tenant == tenant.name for key in live)
        table.add_row(tenant.name, tenant.display_name, created, str(keys))
    console.print(table)
