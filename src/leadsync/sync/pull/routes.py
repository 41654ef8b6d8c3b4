"""Pull and recognition routes: pull ResMan on demand, read a lead's context, and find a
returning prospect by email or phone (ResMan-only leads included).

All of them are scoped by the API key: another property's lead is "not found", and naming
another property outright is forbidden.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BeforeValidator

from leadsync.api.deps import ERRORS, PROBLEM, PrincipalDep, SessionDep, runtime_of
from leadsync.api.problems import ProblemError
from leadsync.db.session import begin_read
from leadsync.db.vocab import CONVERSATION_STATUSES
from leadsync.mapping.normalize import normalize_email, normalize_phone
from leadsync.resman.errors import ResManError
from leadsync.sync.pull import queries
from leadsync.sync.pull.plan import FULL_SYNC_START, PullSummary
from leadsync.sync.pull.run import PullError
from leadsync.sync.pull.scheduler import PullBusyError
from leadsync.sync.pull.schemas import (
    ConversationInfo,
    FailedWindow,
    LeadContext,
    LookupResponse,
    PulledLead,
    PullLeadsResponse,
    SyncSummary,
)
from leadsync.sync.queue.failures import classify
from leadsync.sync.queue.targets import integration_of_property

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from leadsync.api.auth import Principal
    from leadsync.db.models import Conversation, LeadLink, ResmanIntegration

router = APIRouter(prefix="/api/resman/leads", tags=["pull"])

#: How long an on-demand pull waits for a scheduled poll of the same integration to finish.
PULL_LOCK_WAIT_SECONDS = 30.0
LOOKUP_LIMIT = 50
_EMAIL_OR_PHONE = "email or phone is required (either or both)"


# --- helpers ---------------------------------------------------------------------------------
def _iso_only(value: object) -> object:
    # pydantic reads a bare number as a Unix time; the document promises an ISO 8601
    # date-time, and "11343" is far likelier a mistake than 1970-01-01T03:09:03Z.
    if isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit():
        raise ValueError("not an ISO 8601 date-time")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]


def _utc(value: datetime | None) -> datetime | None:
    # A time without an offset is read as UTC, as everywhere else in the API.
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _statuses(status_filter: list[str] | None) -> frozenset[str] | None:
    # The spec's string[] (status_filter=a&status_filter=b), commas within each, or both.
    wanted = frozenset(
        s.strip() for value in status_filter or () for s in value.split(",") if s.strip()
    )
    if not wanted:
        return None
    unknown = sorted(wanted - set(CONVERSATION_STATUSES))
    if unknown:
        raise ProblemError(
            422,
            "Invalid request",
            f"status_filter: unknown status {', '.join(unknown)}",
            errors=[
                {
                    "field": "status_filter",
                    "message": f"allowed: {', '.join(CONVERSATION_STATUSES)}",
                }
            ],
        )
    return wanted


def _lead(conv: Conversation, link: LeadLink | None, *, with_conversation: bool) -> PulledLead:
    resman = (conv.context or {}).get("resman") or {}
    notes = resman.get("recent_notes") or []
    return PulledLead(
        resman_lead_id=link.resman_prospect_id if link else None,
        conversation_id=conv.id,
        first_name=conv.first_name,
        last_name=conv.last_name,
        email=conv.email,
        phone=conv.phone,
        status=conv.status,
        lead_score=conv.lead_score,
        last_activity=conv.updated_at,
        notes=notes[0].get("note") if notes else None,
        custom_fields=resman.get("custom_fields") or None,
        property_id=conv.property_id,
        source=conv.source,
        created_at=conv.created_at,
        updated_at=conv.updated_at,
        conversation=ConversationInfo(
            source=conv.source,
            initial_message=conv.initial_message,
            transcript_summary=conv.transcript_summary,
            context=conv.context or {},
        )
        if with_conversation
        else None,
    )


async def _integrations_in_scope(
    session: AsyncSession, principal: Principal, property_id: uuid.UUID | None
) -> list[ResmanIntegration]:
    if property_id is not None:
        principal.require(property_id)
        integration = await integration_of_property(session, property_id=property_id)
        if integration is None:
            raise ProblemError(
                404,
                "No ResMan integration",
                f"property {property_id} is not connected to ResMan",
                errors=[{"field": "property_id", "message": "no ResMan integration"}],
            )
        if not integration.sync_enabled or integration.sync_direction == "to_resman":
            raise ProblemError(
                409,
                "Pull disabled",
                f"the ResMan integration of property {property_id} does not pull "
                f"({'disabled' if not integration.sync_enabled else 'direction to_resman'})",
                errors=[{"field": "property_id", "message": "integration does not pull"}],
            )
        return [integration]
    return await queries.pulling_integrations(session, property_ids=principal.property_ids)


def _summary(summaries: Sequence[PullSummary]) -> SyncSummary:
    failed = [
        FailedWindow(property_id=s.property_id, start=s.failed_window[0], end=s.failed_window[1])
        for s in summaries
        if s.failed_window is not None
    ]
    return SyncSummary(
        new_leads=sum(s.new_leads for s in summaries),
        updated_leads=sum(s.updated_leads for s in summaries),
        conflicts_resolved=sum(s.conflicts_resolved for s in summaries),
        failed_syncs=sum(s.failed_syncs for s in summaries) + len(failed),
        conflicts_open=sum(s.conflicts_open for s in summaries),
        prospects_seen=sum(s.prospects_seen for s in summaries),
        failed_windows=failed,
    )


def _next_token(summaries: Sequence[PullSummary]) -> str | None:
    # With several properties the earliest cursor is the safe common restart point.
    cursors = [s.cursor_after for s in summaries if s.cursor_after is not None]
    return min(cursors).isoformat() if cursors else None


# --- routes ----------------------------------------------------------------------------------
@router.get(
    "/pull",
    response_model=PullLeadsResponse,
    responses={**ERRORS, 502: PROBLEM},
    summary="Pull leads changed in ResMan (walk-ins and ILS leads included) and return them",
)
async def pull_leads(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    property_id: uuid.UUID | None = None,
    date_from: Annotated[
        IsoDateTime | None,
        Query(description="modified at or after (default: the cursor); before date_to"),
    ] = None,
    date_to: Annotated[
        IsoDateTime | None, Query(description="modified before (default: now)")
    ] = None,
    status_filter: Annotated[
        list[str] | None,
        Query(
            description="statuses of the leads to return: repeat the parameter "
            "(status_filter=new&status_filter=contacted) or separate them with commas"
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    include_conversations: bool = False,
    sync_type: Literal["full", "incremental"] = "incremental",
) -> PullLeadsResponse:
    """Reads ResMan now and stores every prospect modified in the window: ``incremental``
    continues from the integration's cursor (with its overlap), ``full`` reads everything
    from ``date_from`` (default: all history). Without ``property_id`` every property of the
    API key that pulls is read. ``leads`` holds the leads the pull touched (oldest change
    first), ``sync_summary`` what it changed."""
    since, until = _utc(date_from), _utc(date_to)
    if since is not None and until is not None and since >= until:
        raise ProblemError(
            422,
            "Invalid request",
            "date_from must be before date_to",
            errors=[{"field": "date_from", "message": "must be before date_to"}],
        )
    statuses = _statuses(status_filter)
    if sync_type == "full" and since is None:
        since = FULL_SYNC_START
    integrations = [
        (i.id, i.property_id) for i in await _integrations_in_scope(session, principal, property_id)
    ]
    # The pull writes in its own transactions; this one must not hold SQLite's write lock.
    await session.commit()
    scheduler = runtime_of(request).scheduler
    summaries: list[PullSummary] = []
    for integration_id, prop in integrations:
        try:
            summaries.append(
                await scheduler.pull_now(
                    integration_id=integration_id,
                    since=since,
                    until=until,
                    trigger="api",
                    wait=PULL_LOCK_WAIT_SECONDS,
                )
            )
        except PullBusyError:
            raise ProblemError(
                409,
                "Pull in progress",
                f"a pull of property {prop} is still running; try again shortly",
                headers={"Retry-After": "5"},
            ) from None
        except (PullError, ResManError) as exc:
            category = exc.category if isinstance(exc, PullError) else classify(exc).category
            raise ProblemError(
                502,
                "ResMan unavailable",
                f"pulling property {prop} failed ({category}); what was read before the "
                "failure is stored and the next pull continues from there",
            ) from None
    ids = list(dict.fromkeys(c for s in summaries for c in s.conversation_ids))
    await begin_read(session)
    matching = await queries.with_status(session, ids=ids, statuses=statuses)
    leads = [
        _lead(conv, link, with_conversation=include_conversations)
        for conv, link in await queries.leads_by_id(session, ids=matching[:limit])
    ]
    return PullLeadsResponse(
        leads=leads,
        total_count=len(matching),
        sync_summary=_summary(summaries),
        next_sync_token=_next_token(summaries),
    )


@router.get(
    "/lookup",
    response_model=LookupResponse,
    responses=ERRORS,
    summary="Find a returning prospect by email or phone (leads that never chatted included)",
)
async def lookup_leads(
    session: SessionDep,
    principal: PrincipalDep,
    email: Annotated[str | None, Query(max_length=254, description=_EMAIL_OR_PHONE)] = None,
    phone: Annotated[str | None, Query(max_length=40, description=_EMAIL_OR_PHONE)] = None,
    property_id: uuid.UUID | None = None,
) -> LookupResponse:
    """Leads of the key's properties (or of ``property_id``) with this email or phone, after
    normalisation ("(512) 555-0199" finds "+15125550199"); newest change first."""
    if not email and not phone:
        raise ProblemError(
            422,
            "Invalid request",
            "give email or phone",
            errors=[{"field": "email", "message": "email or phone is required"}],
        )
    contact: dict[str, str] = {}
    for name, value, normalize in (
        ("email", email, normalize_email),
        ("phone", phone, normalize_phone),
    ):
        if not value:
            continue
        normalized = normalize(value)
        if normalized is None:
            raise ProblemError(
                422,
                "Invalid request",
                f"{name}: not a valid {name}",
                errors=[{"field": name, "message": f"not a valid {name}"}],
            )
        contact[name] = normalized
    if property_id is not None:
        principal.require(property_id)
    scope = [property_id] if property_id is not None else list(principal.property_ids)
    rows = await queries.leads_by_contact(
        session, property_ids=scope, contact=contact, limit=LOOKUP_LIMIT
    )
    matches = [_lead(conv, link, with_conversation=False) for conv, link in rows]
    return LookupResponse(matches=matches, total_count=len(matches))


@router.get(
    "/{conversation_id}/context",
    response_model=LeadContext,
    responses=ERRORS,
    summary="A lead's conversation context: ResMan status, notes, tour, custom fields",
)
async def lead_context(
    conversation_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> LeadContext:
    row = await queries.lead_by_id(session, conversation_id=conversation_id)
    # Same answer for "absent" and "another property's": a key must not learn what B holds.
    if row is None or row[0].property_id not in principal.property_ids:
        raise ProblemError(404, "Unknown lead", f"no lead {conversation_id} for this API key")
    conv, link = row
    lead = _lead(conv, link, with_conversation=False)
    return LeadContext(**lead.model_dump(), context=conv.context or {})
