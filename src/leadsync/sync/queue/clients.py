"""The ResMan side of a process, as the target cache needs it: one pooled client per ResMan
host, and the opener of the stored credentials. The runtime builds it for the service;
``leadsync sync pull`` builds it alone (with the pull scheduler), without the rest of the
runtime (web framework, hub, worker), which costs a CLI run half a second of imports."""

from __future__ import annotations

from typing import Any

from leadsync.config import Settings
from leadsync.resman.client import ResManClient
from leadsync.security.crypto import KeyRing, open_json
from leadsync.sync.queue.targets import TargetCache


class ResManClients:
    """One pooled client per ResMan host: connections are reused across all jobs."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._by_url: dict[str, ResManClient] = {}

    def __call__(self, base_url: str) -> ResManClient:
        client = self._by_url.get(base_url)
        if client is None:
            client = ResManClient.from_settings(self._settings, base_url=base_url)
            self._by_url[base_url] = client
        return client

    async def aclose(self) -> None:
        for client in self._by_url.values():
            await client.aclose()
        self._by_url.clear()


def target_cache(settings: Settings, *, keys: KeyRing) -> tuple[TargetCache, ResManClients]:
    """The target cache of a process and the clients it hands out (to close at the end)."""
    clients = ResManClients(settings)

    def open_credentials(envelope: dict[str, Any]) -> dict[str, Any]:
        plain = open_json(envelope, keys=keys)
        if not isinstance(plain, dict):
            raise ValueError("stored api_credentials are not an object")
        return plain

    return TargetCache(open_credentials=open_credentials, client_for=clients), clients
