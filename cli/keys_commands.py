"""`madoguchi keys create / list / revoke`: API keys for a service run with
MADOGUCHI_AUTH_REQUIRED=true. A key's token is printed once, at creation."""

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from common.api_keys import SCOPES, KeyStore
from common.storage import create_database_engine

console = Console(stderr=True, soft_wrap=True)


def _store() -> KeyStore:
    from cli.main import load_settings  # cli.main registers these commands; import at call time

    return KeyStore(create_database_engine(load_settings().database_url))


def create_key(
    name: Annotated[str, typer.Option(help="Who or what uses it (a widget, a helpdesk, a person)")],
    scope: Annotated[
        str, typer.Option(help="read (classify, suggest) < write (articles, feedback) < admin")
    ] = "read",
    json_output: Annotated[bool, typer.Option("--json", help="End with one JSON object.")] = False,
) -> None:
    """Create a key; its token is shown now and never again (only its hash is stored)."""
    if scope not in SCOPES:
        console.print(f"[red]--scope must be one of {', '.join(SCOPES)}[/red]")
        raise typer.Exit(2)
    key, token = _store().create(name, scope)
    console.print(
        f"key {key.id} ({key.name}, scope {key.scope}); keep this token, it is shown once:"
    )
    print(json.dumps({"id": key.id, "scope": key.scope, "token": token}) if json_output else token)


def list_keys() -> None:
    """Every key: id, name, scope, created, revoked (tokens are never shown again)."""
    table = Table("id", "name", "scope", "created", "revoked")
    for key in _store().list():
        table.add_row(
            key.id,
            key.name,
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
