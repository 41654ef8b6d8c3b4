"""ResMan's status as the three-way merge must see it, so a status ResMan cannot hold
survives the round trip; pure.

ResMan has no "qualified" (nor "contacted" or "tour scheduled" as states): its status is
*derived* from the customer type and the latest events (:func:`derive_status`). A status it
cannot represent reads back as something else (qualified -> "contacted"), and compared with
the base as is, that looks like an office change and reverts ours on every poll.

So the base snapshot also remembers ResMan's :func:`status_signature` when both sides last
agreed (key :data:`RESMAN_STATUS_KEY`, next to the agreed ``status``): the derived status
plus how many status-bearing events ResMan holds. On the next read:

- the same signature: the office did nothing that bears on the status, so ResMan still
  "holds" the agreed status, whatever it derives to;
- a different one: a real office change (an application, a Cancel, a new appointment, a
  change of customer type) and the derived status goes to the merge as today; except that
  contact activity (a call, a text, an inbound email) is no status change for a lead that is
  further along: it never turns qualified, tour_scheduled, application or leased back into
  "contacted".

A base without the key (written before this rule, or by a path that does not track it)
keeps the plain derived status.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from leadsync.mapping.status import LeadStatus, derive_status, event_signal, held_type
from leadsync.resman.models import CustomerType, Event, Prospect, content_digest

RESMAN_STATUS_KEY = "resman_status"

#: Statuses past first contact: ResMan's "contacted" (a call, a text) does not undo them.
_BEYOND_CONTACT = frozenset(
    {LeadStatus.QUALIFIED, LeadStatus.TOUR_SCHEDULED, LeadStatus.APPLICATION, LeadStatus.LEASED}
)


def status_signature(prospect: Prospect) -> str:
    """What ResMan's record says about the status, e.g. "contacted:3" (derived status and
    the number of status-bearing events): any office action that bears on the status
    changes it, a note or a contact-field edit does not."""
    signals = sum(1 for event in prospect.events if event_signal(event) is not None)
    return f"{derive_status(prospect).value}:{signals}"


def observed_status(prospect: Prospect, base: Mapping[str, Any] | None) -> str:
    """ResMan's status for the merge: see the module docstring."""
    derived = derive_status(prospect)
    agreed = (base or {}).get("status")
    if not base or not agreed or RESMAN_STATUS_KEY not in base:
        return derived.value
    if base[RESMAN_STATUS_KEY] == status_signature(prospect):
        return str(agreed)
    if derived == LeadStatus.CONTACTED and agreed in _BEYOND_CONTACT:
        return str(agreed)
    return derived.value


def after_post(
    current: Prospect, *, customer_type: CustomerType, events: Iterable[Event]
) -> Prospect:
    """ResMan's record once ``events`` are posted with ``customer_type``: what a re-read
    after the post would show, computed without one."""
    lead = replace(current.lead, customer_type=customer_type)
    return replace(
        current, customers=(lead, *current.customers[1:]), events=(*current.events, *events)
    )


def office_view(prospect: Prospect, *, own_source: str | None) -> Prospect:
    """``prospect`` with the type the office gave it (:func:`~leadsync.mapping.status.held_type`):
    what every merge reads, so a late post of ours that re-typed an applicant never reads as
    the office lowering its own status. ``own_source``: our TransactionSource."""
    kind = held_type(prospect, own_source=own_source)
    if kind == prospect.lead.customer_type:
        return prospect
    return after_post(prospect, customer_type=kind, events=())


def remember_signature(
    new_base: Mapping[str, Any],
    *,
    signature: str,
    settled: bool,
    old_base: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """``new_base`` plus the signature to remember with it: ResMan's current one when the
    status was settled (both sides agree), else the old base's (an open status conflict
    must show again next time, so the office's change is not forgotten)."""
    remembered = signature if settled else (old_base or {}).get(RESMAN_STATUS_KEY)
    base = dict(new_base)
    base.pop(RESMAN_STATUS_KEY, None)
    if remembered is not None:
        base[RESMAN_STATUS_KEY] = remembered
    return base


def fingerprint(prospect: Prospect, *, own_source: str | None) -> str:
    """A digest of everything ResMan holds for the prospect (its
    :func:`~leadsync.resman.models.content_digest`) and of our TransactionSource (which
    decides whose events are ours): the same digest means there is nothing new to apply."""
    return fingerprint_of(content_digest(prospect), own_source=own_source)


def fingerprint_of(digest: str, *, own_source: str | None) -> str:
    """:func:`fingerprint` from the content digest alone (a pull's unread entry has one)."""
    return hashlib.sha256(f"{own_source}|{digest}".encode()).hexdigest()
