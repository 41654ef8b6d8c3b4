"""A prospect ResMan sent that cannot be read stops the pull where it is, as an unreadable
answer does: a pull reads each prospect only when it must be stored (search entries), so the
error now comes mid-window, and neither its batch nor the cursor may move past it. Against
the bundled sandbox, through the real client, with a proxy garbling one prospect; on SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select

from leadsync.db.models import LeadLink, ResmanIntegration
from leadsync.db.types import utcnow
from leadsync.resman.client import ResManClient
from leadsync.resman.wire import SEARCH_PROSPECTS
from leadsync.security.crypto import open_json
from leadsync.sync.pull.run import PullError, pull_integration
from leadsync.sync.queue.targets import TargetCache
from sync.sync_kit import Engine

CUSTOMER = b'<Customer Type="'


class GarblingProxy(httpx2.AsyncBaseTransport):
    """Passes every call to the sandbox; in SearchProspects answers, gives the customer at
    ``index`` (answer order) a type no ResMan sends."""

    def __init__(self, *, index: int) -> None:
        self.index = index
        self.inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        if not request.url.path.endswith(SEARCH_PROSPECTS):
            return response
        parts = (await response.aread()).split(CUSTOMER)
        assert len(parts) > self.index + 1, "fewer customers than the test needs"
        garbled = parts[self.index + 1]
        parts[self.index + 1] = b"martian" + garbled[garbled.index(b'"') :]
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return httpx2.Response(response.status_code, headers=headers, content=CUSTOMER.join(parts))

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _stored(engine_kit: Engine) -> tuple[int, Any]:
    async with engine_kit.runtime.sessionmaker() as session:
        links = await session.scalar(
            select(func.count())
            .select_from(LeadLink)
            .where(LeadLink.integration_id == engine_kit.integration_id)
        )
        cursor = await session.scalar(
            select(ResmanIntegration.pull_cursor_at).where(
                ResmanIntegration.id == engine_kit.integration_id
            )
        )
    return links or 0, cursor


@pytest.mark.parametrize(
    ("garbled", "stored"),
    [(3, 2), (4, 4)],  # in a full batch; in the last, partial one (stored after the read)
)
async def test_an_unreadable_prospect_stops_the_pull_before_its_batch(
    engine_kit: Engine, garbled: int, stored: int
) -> None:
    now = utcnow()
    await engine_kit.office_leads(
        count=5, start=now - timedelta(minutes=5), end=now - timedelta(minutes=1)
    )
    proxy = GarblingProxy(index=garbled)
    keys = engine_kit.runtime.keys
    targets = TargetCache(
        open_credentials=lambda envelope: open_json(envelope, keys=keys),
        client_for=lambda url: ResManClient(base_url=url, transport=proxy),
    )
    before = await _stored(engine_kit)

    with pytest.raises(PullError) as info:
        await pull_integration(
            sessionmaker=engine_kit.runtime.sessionmaker,
            integration_id=engine_kit.integration_id,
            targets=targets,
            since=now - timedelta(minutes=10),
            batch_size=2,
            trigger="api",
        )

    # The batches before it (two prospects each) are stored; the batch holding the garbled
    # one is not, and the cursor stays: the next pull reads all of it again.
    assert info.value.summary.new_leads == stored
    assert await _stored(engine_kit) == (stored, before[1])
    await proxy.aclose()

    # Once ResMan sends it readable again, the same window stores the rest.
    summary = await pull_integration(
        sessionmaker=engine_kit.runtime.sessionmaker,
        integration_id=engine_kit.integration_id,
        targets=engine_kit.runtime.targets,
        since=now - timedelta(minutes=10),
        trigger="api",
    )
    assert (summary.new_leads, summary.unchanged) == (5 - stored, stored)
    assert (await _stored(engine_kit))[0] == 5
