"""Versioned model folders and which one serves: models/<kind>/<version>/ (each a self-describing
folder) and the registry's state: the champion, every promotion and rollback, and the verdict
on each challenger. Running services notice a change and swap models without a restart.

The state lives in the database when the registry is given an engine (what the service, the
CLI and training do: `open_registry`), in the `model_registries` table, changed under a row
lock, so every worker and machine on one PostgreSQL sees the same champion. models/<kind>/
registry.json is then a copy for people reading the folder; an install from before keeps its
file, which is taken into the database on first use. Without an engine (tests of the folder
logic) registry.json is the state itself."""

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from common.storage import (
    MANIFEST_NAME,
    Base,
    create_database_engine,
    create_session_factory,
    migrate_database,
    read_manifest,
    write_json_atomic,
)

REGISTRY_FILE = "registry.json"


class ModelRegistryRecord(Base):
    __tablename__ = "model_registries"

    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@lru_cache(maxsize=32)
def _registry_engine(database_url: str) -> Engine:
    engine = create_database_engine(database_url)
    migrate_database(engine)
    return engine


def open_registry(models_dir: Path, kind: str, database_url: str) -> "ModelRegistry":
    """The registry of `kind` under `models_dir` with its state in that database (one engine per
    database and process, kept)."""
    return ModelRegistry(models_dir, kind, _registry_engine(database_url))


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
    def __init__(self, models_dir: Path, kind: str, engine: Engine | None = None) -> None:
        self.kind = kind
        self.root = models_dir / kind
        self.file = self.root / REGISTRY_FILE
        self._sessions = create_session_factory(engine) if engine is not None else None

    # --- reading ---------------------------------------------------------------------------

    def _file_state(self) -> dict[str, Any]:
        if not self.file.is_file():
            return {"kind": self.kind, "champion": None, "history": [], "verdicts": {}}
        return json.loads(self.file.read_text(encoding="utf-8"))

    def _state(self) -> dict[str, Any]:
        if self._sessions is None:
            return self._file_state()
        with self._sessions() as session:
            record = session.get(ModelRegistryRecord, self.kind)
            return copy.deepcopy(record.state) if record else self._file_state()

    def token(self) -> int:
        """Changes whenever the champion may have changed (for services that poll)."""
        if self._sessions is not None:
            with self._sessions() as session:
                query = select(ModelRegistryRecord.revision).where(
                    ModelRegistryRecord.kind == self.kind
                )
                revision = session.scalar(query)
            if revision is not None:
                return revision
            # not yet in the database: the state is still registry.json's
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

    @contextmanager
    def _changing(self) -> Iterator[dict[str, Any]]:
        """The state to change in place; written back when the block succeeds. In the database
        the row is locked meanwhile, so two promotions at once cannot lose one."""
        if self._sessions is None:
            state = self._file_state()
            yield state
            self._write_file(state)
            return
        with self._sessions.begin() as session:
            record = session.get(ModelRegistryRecord, self.kind, with_for_update=True)
            state = copy.deepcopy(record.state) if record else self._file_state()
            yield state
            now = datetime.now(UTC)
            if record is None:
                session.add(ModelRegistryRecord(
                    kind=self.kind, state=state, revision=1, updated_at=now
                ))  # fmt: skip
            else:
                record.state, record.revision, record.updated_at = state, record.revision + 1, now
        self._write_file(state)  # the copy people read beside the folders

    def _write_file(self, state: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.file, state)

    def promote(self, version: str, reason: str) -> None:
        self.folder(version)
        with self._changing() as state:
            previous = state.get("champion")
            if previous == version:
                raise RegistryError(f"{version} is the champion already")
            _serve(state, "promote", version, previous, reason)
            state["verdicts"][version] = {"status": "promoted", "reason": reason, "at": _now()}

    def reject(self, version: str, reason: str) -> None:
        self.folder(version)
        with self._changing() as state:
            if state.get("champion") == version:
                raise RegistryError(f"{version} is the champion; roll back instead of rejecting it")
            state["verdicts"][version] = {"status": "rejected", "reason": reason, "at": _now()}

    def rollback(self, reason: str = "rolled back by hand") -> str:
        """Make the champion before the current one serve again; returns its version."""
        with self._changing() as state:
            return self._roll_back(state, reason)

    def _roll_back(self, state: dict[str, Any], reason: str) -> str:
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
        return previous
