"""Serving the champion: a background thread polls the triage registry and, when the champion
changes (promotion or rollback), loads it and swaps the service object in one assignment.
Requests already running finish on the model they started with, so a swap fails none. A
champion trained on another encoder (a tuned one, or back) brings it along: its search index
and triage service are opened first and swapped in together (`switch_encoder`)."""

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from common.registry import ModelRegistry
from common.settings import Settings
from triage.service import load_triage_model, serving_encoder_name

if TYPE_CHECKING:
    from api.deps import ServiceState

logger = logging.getLogger("madoguchi.api")
POLL_SECONDS = 0.5


class ChampionWatch:
    def __init__(
        self,
        state: "ServiceState",
        registry: ModelRegistry,
        settings: Settings,
        on_swap: Callable[[], None] | None = None,
        switch_encoder: Callable[[str], None] | None = None,
    ) -> None:
        self.state = state
        self.on_swap = on_swap
        self.switch_encoder = switch_encoder
        self.registry = registry
        self.settings = settings
        self._token = registry.token()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="champion-watch", daemon=True)

    def start(self) -> "ChampionWatch":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.check()
            except Exception:  # the watch must outlive any one bad champion
                logger.exception("champion watch: the check failed; still serving the previous")

    def check(self) -> bool:
        """Swap in the champion if it changed since the last look; returns whether it did."""
        token = self.registry.token()
        if token == self._token:
            return False
        self._token = token
        service = self.state.triage
        try:
            folder = self.registry.champion()
            if service is None or folder is None or folder.name == service.model_version:
                return False
            encoder_name = serving_encoder_name(self.settings, folder)
            if encoder_name != self.state.encoder_name and self.switch_encoder is not None:
                self.switch_encoder(encoder_name)
                logger.info("triage model and encoder swapped", extra={
                    "from": service.model_version, "to": folder.name, "encoder": encoder_name
                })  # fmt: skip
                return True
            model = load_triage_model(folder, self.settings, service.model.encoder)
        except (OSError, ValueError, RuntimeError) as error:
            logger.error("champion not loaded; still serving the previous model",
                         extra={"reason": str(error)})  # fmt: skip
            return False
        self.state.triage = service.with_model(model)
        if self.on_swap:
            self.on_swap()
        logger.info("triage model swapped", extra={"from": service.model_version,
                                                   "to": folder.name})  # fmt: skip
        return True
