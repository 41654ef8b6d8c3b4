"""Merging a conversation with a ResMan prospect, reading the prospect first: the flow the
merge API and the dashboard's "same person" button share."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.api.auth import Principal
from leadsync.db.session import begin_read
from leadsync.errors import DomainError
from leadsync.leads import merge_service
from leadsync.leads.status_schemas import MergeLeadsRequest
from leadsync.resman.errors import ResManError, TransientError
from leadsync.sync.queue.failures import classify

if TYPE_CHECKING:
    from leadsync.runtime import Runtime


def resman_problem(exc: ResManError, *, prospect_id: str) -> DomainError:
    """ResMan could not be read: nothing was merged. 503 (with Retry-After) when trying again
    later can work, 502 when ResMan refused the request itself."""
    category = classify(exc).category
    detail = f"reading ResMan prospect {prospect_id} failed ({category}); nothing was merged"
    if isinstance(exc, TransientError):
        wait = max(1, math.ceil(exc.retry_after or 5))
        return DomainError(503, "ResMan unavailable", f"{detail}, try again", retry_after=wait)
    return DomainError(502, "ResMan error", detail)


async def merge_with_resman(
    rt: Runtime, session: AsyncSession, *, principal: Principal, body: MergeLeadsRequest
) -> merge_service.MergeOutcome:
    """Read the prospect from ResMan (no transaction open meanwhile), then merge; the caller
    commits. DomainError when the lead or the prospect is unknown or ResMan fails."""
    await begin_read(session)
    _, integration = await merge_service.load_for_merge(
        session, principal=principal, conversation_id=body.domiq_conversation_id
    )
    try:
        target = await rt.targets.get(session, integration_id=integration.id)
        await session.commit()
        found = await target.client.search_prospects(
            creds=target.creds, prospect_id=body.resman_lead_id
        )
    except ResManError as exc:
        raise resman_problem(exc, prospect_id=body.resman_lead_id) from None
    prospect = next((p for p in found if p.prospect_id == body.resman_lead_id), None)
    if prospect is None:
        raise DomainError(
            404,
            "Unknown ResMan lead",
            f"ResMan has no prospect {body.resman_lead_id} for this property",
            errors=[{"field": "resman_lead_id", "message": "unknown prospect"}],
        )
    return await merge_service.merge_leads(
        session, principal=principal, body=body, prospect=prospect
    )
