"""Duplicate checks before a create: is this lead already a ResMan prospect?

Searched by email, then phone, then (only for leads with neither) name. The same check
makes a retried create idempotent: a crash after ResMan accepted the create but before we
stored its id is healed by finding the prospect on the next attempt.
"""

from __future__ import annotations

from leadsync.mapping.lead import LeadFields
from leadsync.mapping.normalize import normalize_email, phone_digits
from leadsync.resman.credentials import ResManCredentials
from leadsync.resman.interface import ResManAPI
from leadsync.resman.models import Prospect


async def find_existing(
    *, client: ResManAPI, creds: ResManCredentials, fields: LeadFields
) -> Prospect | None:
    """The ResMan prospect this lead already is, if any: email, then phone, then name."""
    if fields.email:
        for found in await client.search_prospects(creds=creds, email=fields.email):
            if normalize_email(found.lead.email) == fields.email:
                return found
    if fields.phone:
        wanted = phone_digits(fields.phone)[-10:]
        for found in await client.search_prospects(creds=creds, phone=fields.phone):
            if any(phone_digits(p.number)[-10:] == wanted for p in found.lead.phones):
                return found
    # A name alone is weak evidence: only leads without any contact point are matched on it,
    # and only to a prospect that has no contact point of its own that could contradict it.
    if not fields.email and not fields.phone and fields.first_name and fields.last_name:
        for found in await client.search_prospects(
            creds=creds, first_name=fields.first_name, last_name=fields.last_name
        ):
            if not found.lead.email and not found.lead.phones:
                return found
    return None


def fill_blanks(ours: LeadFields, theirs: Prospect) -> LeadFields:
    """Linking to a prospect the office already had: never overwrite what it holds; only
    fill its blanks (the three-way merge takes over once a base snapshot exists)."""
    lead = theirs.lead
    return LeadFields(
        first_name=lead.first_name or ours.first_name,
        last_name=lead.last_name or ours.last_name,
        email=normalize_email(lead.email) or ours.email,
        phone=lead.phones[0].number if lead.phones else ours.phone,
        move_in_date=ours.move_in_date,
        budget_min=ours.budget_min,
        budget_max=ours.budget_max,
        bedrooms=ours.bedrooms,
        occupants=ours.occupants,
        pets=ours.pets,
        status=ours.status,
    )
