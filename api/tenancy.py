"""One ServiceState per tenant. The default tenant's is loaded at start-up; any other's on its
first call (its database or schema migrated, its search index opened and brought level, its
triage model loaded) and kept. Each key belongs to one tenant, and every route reaches the
records, index and models through the state of the caller's tenant only (api.deps.get_state),
so a query cannot reach another tenant's data: it holds no handle on it."""

import logging
import threading
from collections.abc import Callable

from api.deps import ServiceState
from common.settings import DEFAULT_TENANT

logger = logging.getLogger("madoguchi.api")


class UnknownTenantError(LookupError):
    pass


class TenantStates:
    def __init__(
        self,
        default: ServiceState,
        load: Callable[[str], ServiceState],
        unload: Callable[[ServiceState], None],
    ) -> None:
        self._states: dict[str, ServiceState] = {DEFAULT_TENANT: default}
        self._load = load
        self._unload = unload
        self._lock = threading.Lock()

    @property
    def default(self) -> ServiceState:
        return self._states[DEFAULT_TENANT]

    def get(self, tenant: str) -> ServiceState:
        state = self._states.get(tenant)
        if state is not None:
            return state
        with self._lock:  # one load per tenant, however many first calls arrive together
            state = self._states.get(tenant)
            if state is None:
                if not self.default.api_keys.tenant_exists(tenant):
                    raise UnknownTenantError(tenant)
                state = self._load(tenant)
                self._states[tenant] = state
                logger.info("tenant loaded", extra={"tenant": tenant})
        return state

    def loaded(self) -> list[ServiceState]:
        return list(self._states.values())

    def close(self) -> None:
        for state in self.loaded():
            self._unload(state)
