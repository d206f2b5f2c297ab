"""Retraining started through the admin API. Serving code never imports training, so a job runs
`madoguchi train --json` in a child process with the service's settings; the service follows
the registry and swaps in a promoted model by itself. One job at a time."""

import json
import os
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from common.settings import Settings

LOG_TAIL_CHARS = 4000


class JobAlreadyRunningError(RuntimeError):
    pass


@dataclass
class TrainingJob:
    id: str
    status: str = "running"  # running | promoted | rejected | failed
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


def settings_environment(settings: Settings) -> dict[str, str]:
    """The service's settings as MADOGUCHI_* variables, so the child sees what the service sees
    (including settings given in code rather than in the environment)."""
    environment = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
        environment[f"MADOGUCHI_{name.upper()}"] = text
    return environment


class TrainingJobs:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.jobs: dict[str, TrainingJob] = {}
        self._lock = threading.Lock()

    def start(
        self, tolerance: float, tune_encoder: bool = False, tune_minutes: float = 20.0
    ) -> TrainingJob:
        with self._lock:
            if any(job.status == "running" for job in self.jobs.values()):
                raise JobAlreadyRunningError("a training job is running already")
            job = TrainingJob(uuid.uuid4().hex[:12])
            self.jobs[job.id] = job
        options = ["--tolerance", str(tolerance)]
        if tune_encoder:
            options += ["--tune-encoder", "--tune-minutes", str(tune_minutes)]
        threading.Thread(target=self._run, args=(job, options), daemon=True).start()
        return job

    def _run(self, job: TrainingJob, options: list[str]) -> None:
        command = [sys.executable, "-m", "cli.main", "train", "--json", *options]
        environment = os.environ | settings_environment(self.settings)
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, env=environment, check=False, timeout=3600
            )
            lines = done.stdout.strip().splitlines()
            job.result = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
            if job.result is None:
                job.status, job.error = "failed", done.stderr[-LOG_TAIL_CHARS:]
            else:
                job.status = "promoted" if job.result["promoted"] else "rejected"
        except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as error:
            job.status, job.error = "failed", str(error)
        job.finished_at = datetime.now(UTC)
