"""`madoguchi models list / promote / rollback`: which model version serves, and changing it.
A running service picks the change up within a second, without a restart."""

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from common.registry import ModelRegistry, RegistryError, open_registry

console = Console(stderr=True, soft_wrap=True)
KindOption = Annotated[str, typer.Option("--kind", help="Model kind (folder under models/)")]


def _registry(kind: str) -> ModelRegistry:
    from cli.main import load_settings  # cli.main registers these commands; import at call time

    settings = load_settings()
    return open_registry(settings.registry_dir, kind, settings.database_url)


def _headline_metric(manifest: dict) -> str:
    valid = manifest.get("metrics", {}).get("valid", {})
    return ", ".join(f"{name} {figures.get('macro_f1')}" for name, figures in valid.items())


def list_models(
    kind: KindOption = "triage",
    json_output: Annotated[bool, typer.Option("--json", help="End with one JSON object.")] = False,
) -> None:
    """Every version with its standing (champion, promoted earlier, rejected with the reason,
    candidate), its parent and its valid macro-F1."""
    registry = _registry(kind)
    versions = registry.versions()
    table = Table("version", "status", "parent", "valid macro-F1", "reason")
    for entry in versions:
        table.add_row(
            entry.version,
            entry.status,
            str(entry.manifest.get("parent_version") or "-"),
            _headline_metric(entry.manifest),
            entry.reason or "",
        )
    console.print(table if versions else f"no {kind} versions in {registry.root}")
    if json_output:
        print(
            json.dumps(
                {
                    "kind": kind,
                    "champion": registry.champion_version(),
                    "versions": [
                        {
                            "version": entry.version,
                            "status": entry.status,
                            "parent_version": entry.manifest.get("parent_version"),
                            "reason": entry.reason,
                        }
                        for entry in versions
                    ],
                    "history": registry.history(),
                },
                ensure_ascii=False,
            )
        )


def promote_model(
    version: Annotated[str, typer.Argument(help="The version to serve (see `models list`)")],
    kind: KindOption = "triage",
    reason: Annotated[str, typer.Option(help="Why, for the history")] = "promoted by hand",
) -> None:
    """Make a version the champion: the one every service serves."""
    registry = _registry(kind)
    try:
        registry.promote(version, reason)
    except RegistryError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    console.print(f"[green]✓[/green] {kind} {version} is the champion")


def rollback_model(
    kind: KindOption = "triage",
    reason: Annotated[str, typer.Option(help="Why, for the history")] = "rolled back by hand",
) -> None:
    """Serve the champion before the current one again; the current one is marked rejected."""
    registry = _registry(kind)
    current = registry.champion_version()
    try:
        previous = registry.rollback(reason)
    except RegistryError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    console.print(f"[green]✓[/green] {kind}: {current} → {previous}")
