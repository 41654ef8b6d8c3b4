"""The product's one way into the sandbox besides the ResMan wire protocol (docs/SANDBOX_API.md).

leadsync itself never needs the sandbox: against real ResMan it speaks only the wire protocol.
Three places use the sandbox's admin API on purpose, and they go through this module so the
admin URLs live in one place:

- the change feed (``WS /admin/feed``): :func:`feed_url`, which
  ``leadsync.sync.inbound.feed`` derives for an integration with ``"feed": true``;
- the staff-webhook target (``PUT /admin/webhook``): :meth:`SandboxAdmin.set_webhook`, which
  ``leadsync up`` points at its own receiver;
- staff actions (``POST /admin/properties/{p}/prospects/{id}/{action}``):
  :meth:`SandboxAdmin.staff_action`, which the demo's "leasing office" uses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import httpx2

FEED_PATH: Final = "/admin/feed"
WEBHOOK_PATH: Final = "/admin/webhook"
#: The staff actions of ``POST /admin/properties/{p}/prospects/{id}/{action}``.
STAFF_ACTIONS: Final = frozenset(
    {"status", "notes", "tours", "tours/complete", "lost", "reactivate", "contact"}
)


def feed_url(base_url: str, *, property_id: str) -> str:
    """The change feed of one property under a sandbox (or relay) at ``base_url``, keeping
    its scheme: the caller connects with ``ws``/``wss`` for ``http``/``https``."""
    parts = urlsplit(base_url)
    return urlunsplit(
        parts._replace(
            path=parts.path.rstrip("/") + FEED_PATH,
            query=urlencode({"property_id": property_id}),
            fragment="",
        )
    )


@asynccontextmanager
async def open_admin(
    base_url: str, *, request_timeout: float = 10.0
) -> AsyncIterator[SandboxAdmin]:
    """The admin client of the sandbox at ``base_url``, for the ``async with`` block
    (``request_timeout``: seconds per HTTP request)."""
    async with httpx2.AsyncClient(base_url=base_url, timeout=request_timeout) as http:
        yield SandboxAdmin(http)


class SandboxAdmin:
    """A small async client for the sandbox's admin API; open one with :func:`open_admin`.

    Every call raises :class:`httpx2.HTTPStatusError` for an answer other than 2xx (the
    sandbox answers 404 for an unknown property or prospect, 422 for a bad body)."""

    def __init__(self, http: httpx2.AsyncClient) -> None:
        self._http = http

    async def set_webhook(self, *, url: str | None, secret: str | None = None) -> dict[str, Any]:
        """Send every staff change, signed with ``secret`` (Standard Webhooks), to ``url``;
        ``url=None`` stops sending. Returns the sandbox's view of the target."""
        response = await self._http.put(WEBHOOK_PATH, json={"url": url, "secret": secret})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def staff_action(
        self, *, property_id: str, prospect_id: str, action: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Act as on-site staff on one prospect (``action`` is one of :data:`STAFF_ACTIONS`);
        returns the prospect as the sandbox now holds it."""
        if action not in STAFF_ACTIONS:
            raise ValueError(f"unknown staff action {action!r}; one of {sorted(STAFF_ACTIONS)}")
        path = (
            f"/admin/properties/{quote(property_id, safe='')}"
            f"/prospects/{quote(prospect_id, safe='')}/{action}"
        )
        response = await self._http.post(path, json=body)
        response.raise_for_status()
        prospect: dict[str, Any] = response.json()
        return prospect
