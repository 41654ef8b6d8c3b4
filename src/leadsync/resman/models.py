"""Typed model of what ResMan's MITS LeadManagement 4.0 documents carry.

Shared by the codec (build/parse), the client and the sandbox. Values are immutable so a
parsed prospect can be compared, hashed and handed between tasks without defensive copies.
Only the subset of MITS that ResMan uses for leads is modelled (see docs/RESMAN_PROTOCOL.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

RESMAN_ORG = "ResMan"


class CustomerType(StrEnum):
    PROSPECT = "prospect"
    APPLICANT = "applicant"
    CURRENT_RESIDENT = "current_resident"
    LOST = "lost"


class IDType(StrEnum):
    PROSPECT_ID = "ProspectID"
    PERSON_ID = "PersonID"


class EventType(StrEnum):
    """Event types ResMan accepts on a post, plus those only seen coming back."""

    EMAIL_TO_PROSPECT = "EmailToProspect"
    EMAIL_FROM_ILS = "EmailFromILS"
    EMAIL_FROM_PROSPECT = "EmailFromProspect"
    EMAIL = "Email"
    CALL_TO_PROSPECT = "CallToProspect"
    CALL_FROM_PROSPECT = "CallFromProspect"
    PHONE = "Phone"
    SHOW = "Show"
    WALK_IN = "WalkIn"
    CONTACT = "Contact"
    OTHER = "Other"
    CANCEL = "Cancel"
    REACTIVATE = "ReActivate"
    TEXT_TO_PROSPECT = "TextToProspect"
    TEXT_FROM_PROSPECT = "TextFromProspect"
    APPLICATION = "Application"
    # Seen in ResMan's answers, never sent by us except Appointment.
    APPROVED = "Approved"
    LEASE_SIGN = "LeaseSign"
    APPOINTMENT = "Appointment"


#: Event types ResMan accepts in PostLeadManagement4_0 (Appointment included: tours are posted).
POSTABLE_EVENT_TYPES: frozenset[str] = frozenset(
    t.value for t in EventType if t not in (EventType.APPROVED, EventType.LEASE_SIGN)
)


@dataclass(frozen=True, slots=True)
class Identification:
    id_type: str
    id_value: str
    organization_name: str = RESMAN_ORG


@dataclass(frozen=True, slots=True)
class Phone:
    number: str
    phone_type: str = "cell"


@dataclass(frozen=True, slots=True)
class Customer:
    customer_type: CustomerType = CustomerType.PROSPECT
    identifications: tuple[Identification, ...] = ()
    first_name: str | None = None
    last_name: str | None = None
    phones: tuple[Phone, ...] = ()
    email: str | None = None

    def _id(self, id_type: IDType) -> str | None:
        for ident in self.identifications:
            if ident.id_type == id_type.value and ident.organization_name == RESMAN_ORG:
                return ident.id_value
        return None

    @property
    def prospect_id(self) -> str | None:
        return self._id(IDType.PROSPECT_ID)

    @property
    def person_id(self) -> str | None:
        return self._id(IDType.PERSON_ID)


@dataclass(frozen=True, slots=True)
class RentRange:
    """`DesiredRent` carries either an exact amount or a min and/or max."""

    exact: Decimal | None = None
    min: Decimal | None = None
    max: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Pet:
    pet_type: str
    count: int = 1


@dataclass(frozen=True, slots=True)
class Preferences:
    target_move_in_date: date | None = None
    desired_rent: RentRange | None = None
    bedrooms_exact: int | None = None
    bedrooms_max: int | None = None
    bathrooms_exact: Decimal | None = None
    floorplan: str | None = None
    unit_marketing_name: str | None = None
    lease_terms: int | None = None
    pets: tuple[Pet, ...] = ()
    occupants: int | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    event_type: str
    #: Always timezone-aware; ResMan's naive timestamps (and appointments) are read as UTC.
    event_date: datetime
    agent_id: str | None = None
    agent_name: str | None = None
    first_contact: bool = False
    transaction_source: str | None = None
    comments: str | None = None
    event_reasons: str | None = None


@dataclass(frozen=True, slots=True)
class Prospect:
    customers: tuple[Customer, ...] = field(default_factory=tuple)
    preferences: Preferences | None = None
    events: tuple[Event, ...] = ()
    #: The digest of the ``<Prospect>`` element it was read from (set by the parser through
    #: :func:`stamp_source`), None for one made in memory. Not an ``__init__`` field, so a
    #: copy made with ``dataclasses.replace`` (a changed prospect) never keeps it.
    source_digest: str | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def lead(self) -> Customer:
        """The first customer is the lead; others are roommates or co-applicants."""
        if not self.customers:
            raise ValueError("prospect has no customer")
        return self.customers[0]

    @property
    def prospect_id(self) -> str | None:
        return self.lead.prospect_id if self.customers else None

    @property
    def person_id(self) -> str | None:
        return self.lead.person_id if self.customers else None


def stamp_source(prospect: Prospect, digest: str) -> Prospect:
    """``prospect`` (just read) with the digest of the element it was read from."""
    object.__setattr__(prospect, "source_digest", digest)  # frozen: the one place it is set
    return prospect


def content_digest(prospect: Prospect) -> str:
    """A digest of everything ResMan holds for the prospect: the digest of the element it
    was read from, else of its repr (frozen dataclasses all the way down, so the repr is
    complete and deterministic). The same prospect read twice gives the same digest."""
    if prospect.source_digest is not None:
        return prospect.source_digest
    return hashlib.sha256(repr(prospect).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ProspectEntry:
    """One prospect of a search answer, read only as far as its ResMan id and its content
    digest (:func:`content_digest`). A pull compares the digest with the one it stored and
    reads the whole prospect (:meth:`prospect`) only when it differs: most prospects of a
    re-read window have not changed, and reading one costs several times its digest."""

    prospect_id: str | None
    digest: str
    read: Callable[[], Prospect] = field(repr=False, compare=False)

    def prospect(self) -> Prospect:
        """The whole prospect; a ResMan error (e.g. ResponseFormatError) if it is unreadable."""
        return self.read()

    @classmethod
    def of(cls, prospect: Prospect) -> ProspectEntry:
        """The entry of a prospect already read (or made in memory)."""
        return cls(prospect.prospect_id, content_digest(prospect), lambda: prospect)


@dataclass(frozen=True, slots=True)
class Envelope:
    """ResMan's response envelope (`<ResMan>` root for XML, the same fields in JSON)."""

    method_name: str
    status: str
    error_description: str | None = None
    account_id: int | None = None
    property_id: str | None = None
    prospects: tuple[Prospect, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "Success"


@dataclass(frozen=True, slots=True)
class NamedItem:
    """An entry of GetProspectSources / GetLostProspectReasons."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Employee:
    id: str
    name: str
    email: str | None = None
    security_group: str | None = None


@dataclass(frozen=True, slots=True)
class PersonStatus:
    """An entry of GetApplicantsAndCurrentResidents: Status is `Pending` or `Current`."""

    person_id: str
    status: str


@dataclass(frozen=True, slots=True)
class PropertyInfo:
    property_id: str
    name: str
