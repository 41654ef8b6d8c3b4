"""`leadsync doctor`'s "mapping validated both ways" item: one real prospect (the most
recently linked one, or one ResMan changed in the last week; a synthetic one when the
property has none) goes ResMan -> DomIQ -> ResMan through the pure mappers and the MITS
codec, and every synced field must come back as it was (compared the way the three-way
merge compares: normalised). A field that does not survive would look like a change on
every poll: an echo loop or a false conflict.

Only field names are reported, never values (they are a person's data).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Final

from sqlalchemy import select

from leadsync.db.models import LeadLink, ResmanIntegration
from leadsync.db.session import read_session
from leadsync.db.types import utcnow
from leadsync.mapping.from_resman import prospect_fields
from leadsync.mapping.lead import SYNC_FIELDS, LeadFields, PetInfo
from leadsync.mapping.to_resman import ProspectIds, lead_to_prospect
from leadsync.resman.errors import AuthenticationError, ResManError
from leadsync.resman.mits.build import build_lead_management
from leadsync.resman.mits.parse import parse_lead_management
from leadsync.resman.models import Prospect

if TYPE_CHECKING:  # the runtime wires the layers together; they name it for types only
    from leadsync.runtime import Runtime

ITEM: Final = "mapping validated both ways"
#: The status travels as events (README: "Statuses ResMan cannot hold stay"), not as a field.
COMPARED: Final = tuple(name for name in SYNC_FIELDS if name != "status")
_RECENT: Final = timedelta(days=7)

FromResMan = Callable[[Prospect], LeadFields]
ToResMan = Callable[[LeadFields, ProspectIds | None], Prospect]


def _to_resman(fields: LeadFields, ids: ProspectIds | None) -> Prospect:
    return lead_to_prospect(fields, ids=ids)


def synthetic_prospect() -> Prospect:
    """Every synced field filled (a property with no prospect yet still gets checked)."""
    fields = LeadFields(
        first_name="Sample",
        last_name="Prospect",
        email="sample.prospect@example.com",
        phone="+15125550100",
        move_in_date=date(2027, 1, 15),
        budget_min=Decimal(1200),
        budget_max=Decimal(1600),
        bedrooms=2,
        occupants=2,
        pets=(PetInfo("dog", 1),),
    )
    return lead_to_prospect(fields)


def lost_fields(
    prospect: Prospect,
    *,
    from_resman: FromResMan = prospect_fields,
    to_resman: ToResMan = _to_resman,
) -> list[str]:
    """Synced fields whose value does not survive ResMan -> DomIQ -> ResMan (the rebuilt
    prospect is written as MITS XML and parsed back, as ResMan would read it)."""
    ours = from_resman(prospect)
    ids = ProspectIds(prospect.prospect_id) if prospect.prospect_id else None
    document = build_lead_management([to_resman(ours, ids)])
    [back] = parse_lead_management(document)
    again = from_resman(back)
    return [name for name in COMPARED if getattr(ours, name) != getattr(again, name)]


async def _sample(runtime: Runtime, integration: ResmanIntegration) -> tuple[Prospect, str]:
    """A real prospect of the property and where it came from, else a synthetic one."""
    async with read_session(runtime.sessionmaker) as session:
        target = await runtime.targets.get(session, integration_id=integration.id, needs="pull")
        linked = await session.scalar(
            select(LeadLink.resman_prospect_id)
            .where(
                LeadLink.integration_id == integration.id,
                LeadLink.resman_prospect_id.is_not(None),
            )
            .order_by(LeadLink.created_at.desc())
            .limit(1)
        )
    client, creds = target.client, target.creds
    try:
        if linked:
            found = await client.search_prospects(creds=creds, prospect_id=linked)
        else:
            now = utcnow()
            found = await client.search_prospects(
                creds=creds, modified_start=now - _RECENT, modified_end=now
            )
    except AuthenticationError:
        raise
    except ResManError:
        found = []  # e.g. a week too busy for one answer: the synthetic one still checks
    real = next((p for p in found if p.customers and p.prospect_id), None)
    if real is not None:
        return real, f"prospect {real.prospect_id}"
    return synthetic_prospect(), "a synthetic prospect (the property has none to sample)"


async def mapping_check(runtime: Runtime, integration: ResmanIntegration) -> tuple[bool, str]:
    """(passed, detail) for :data:`ITEM`."""
    try:
        prospect, origin = await _sample(runtime, integration)
    except ResManError as exc:
        return False, f"could not read a sample prospect: {type(exc).__name__}"
    lost = lost_fields(prospect)
    if lost:
        return False, f"{origin}: {', '.join(lost)} do not survive ResMan -> DomIQ -> ResMan"
    return True, f"{origin}: all {len(COMPARED)} synced fields survive ResMan -> DomIQ -> ResMan"
