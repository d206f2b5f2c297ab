"""Versioned model folders and which one serves: models/<kind>/<version>/ (each a self-describing
folder) and models/<kind>/registry.json, the champion, every promotion and rollback, and the
verdict on each challenger. Promoting or rolling back rewrites registry.json atomically; running
services notice the change and swap models without a restart."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common.storage import MANIFEST_NAME, read_manifest, write_json_atomic

REGISTRY_FILE = "registry.json"


class RegistryError(ValueError):
    """A registry operation that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class ModelVersion:
    version: str
    folder: Path
    manifest: dict[str, Any]
    status: str  # champion | promoted earlier | rejected | candidate
    reason: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _serve(
    state: dict[str, Any], action: str, version: str, previous: str | None, reason: str
) -> None:
    """Make `version` the champion and say so in the history."""
    state["champion"] = version
    state["history"].append(
        {"action": action, "version": version, "previous": previous, "at": _now(), "reason": reason}
    )


class ModelRegistry:
    def __init__(self, models_dir: Path, kind: str) -> None:
        self.kind = kind
        self.root = models_dir / kind
        self.file = self.root / REGISTRY_FILE

    # --- reading ---------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        if not self.file.is_file():
            return {"kind": self.kind, "champion": None, "history": [], "verdicts": {}}
        return json.loads(self.file.read_text(encoding="utf-8"))

    def token(self) -> int:
        """Changes whenever the champion may have changed (for services that poll)."""
        try:
            return self.file.stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def folder(self, version: str) -> Path:
        folder = self.root / version
        if not (folder / MANIFEST_NAME).is_file():
            known = ", ".join(version.version for version in self.versions()) or "none yet"
            raise RegistryError(f"no {self.kind} version {version!r} (known: {known})")
        return folder

    def champion(self) -> Path | None:
        version = self._state().get("champion")
        return self.folder(version) if version else None

    def champion_version(self) -> str | None:
        return self._state().get("champion")

    def versions(self) -> list[ModelVersion]:
        """Every version folder, oldest first, with its standing."""
        if not self.root.is_dir():
            return []
        state = self._state()
        promoted = {entry["version"] for entry in state["history"]}
        found = []
        for folder in sorted(path for path in self.root.iterdir() if path.is_dir()):
            if not (folder / MANIFEST_NAME).is_file():
                continue
            verdict = state["verdicts"].get(folder.name, {})
            if folder.name == state.get("champion"):
                status = "champion"
            elif verdict.get("status") == "rejected":
                status = "rejected"
            elif folder.name in promoted:
                status = "promoted earlier"
            else:
                status = "candidate"
            found.append(
                ModelVersion(
                    folder.name, folder, read_manifest(folder), status, verdict.get("reason")
                )
            )
        return found

    def history(self) -> list[dict[str, Any]]:
        return list(self._state()["history"])

    # --- writing ---------------------------------------------------------------------------

    def new_version_folder(self) -> Path:
        """Where the next version goes: a timestamp, unique within this kind."""
        self.root.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        candidate, suffix = stamp, 1
        while (self.root / candidate).exists():
            suffix += 1
            candidate = f"{stamp}-{suffix}"
        return self.root / candidate

    def _write(self, state: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.file, state)

    def promote(self, version: str, reason: str) -> None:
        self.folder(version)
        state = self._state()
        previous = state.get("champion")
        if previous == version:
            raise RegistryError(f"{version} is the champion already")
        _serve(state, "promote", version, previous, reason)
        state["verdicts"][version] = {"status": "promoted", "reason": reason, "at": _now()}
        self._write(state)

    def reject(self, version: str, reason: str) -> None:
        self.folder(version)
        state = self._state()
        if state.get("champion") == version:
            raise RegistryError(f"{version} is the champion; roll back instead of rejecting it")
        state["verdicts"][version] = {"status": "rejected", "reason": reason, "at": _now()}
        self._write(state)

    def rollback(self, reason: str = "rolled back by hand") -> str:
        """Make the champion before the current one serve again; returns its version."""
        state = self._state()
        current = state.get("champion")
        previous = next(
            (
                entry["previous"]
                for entry in reversed(state["history"])
                if entry["action"] == "promote"
                and entry["version"] == current
                and entry["previous"]
            ),
            None,
        )
        if current is None or previous is None:
            raise RegistryError(f"nothing to roll back to: {self.kind} has no earlier champion")
        self.folder(previous)
        _serve(state, "rollback", previous, current, reason)
        state["verdicts"][current] = {"status": "rejected", "reason": reason, "at": _now()}
        self._write(state)
        return previous
