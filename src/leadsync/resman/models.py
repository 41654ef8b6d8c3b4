"""Typed model of what ResMan's MITS LeadManagement 4.0 documents carry.

Shared by the codec (build/parse), the client and the sandbox. Values are immutable so a
parsed prospect can be compared, hashed and handed between tasks without defensive copies.
Only the subset of MITS that ResMan uses for leads is modelled (see docs/RESMAN_PROTOCOL.md).
"""

from __future__ import annotations

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
