"""Request and response bodies of the sandbox's admin API (shown in its OpenAPI document)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from leadsync.resman.models import CustomerType, EventType, Prospect
from leadsync.sandbox.changes import contact_fields
from leadsync.sandbox.prospects import ProspectRecord
from leadsync.sandbox.tenants import Account, Partner, Property


def _as_utc(value: datetime) -> datetime:
    # A time without offset is UTC, as ResMan reads appointment times.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]
AgentId = Annotated[
    str | None, Field(default=None, description="An employee ID (Leasing/GetEmployees).")
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Health(BaseModel):
    status: str = "ok"


class LookupItem(BaseModel):
    id: str
    name: str


class EmployeeOut(BaseModel):
    id: str
    name: str
    email: str | None
    security_group: str | None


class AccountIn(_In):
    account_id: int | None = Field(default=None, ge=1, description="Next free id if omitted.")
    name: str = Field(min_length=1)
    subdomain: str | None = Field(default=None, description="For Account/GetAccountID.")


class AccountOut(BaseModel):
    account_id: int
    name: str
    subdomain: str | None
    lost_reasons: list[LookupItem]

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        reasons = [LookupItem(id=r.id, name=r.name) for r in account.lost_reasons]
        return cls(
            account_id=account.account_id,
            name=account.name,
            subdomain=account.subdomain,
            lost_reasons=reasons,
        )


class PropertyIn(_In):
    property_id: str | None = Field(default=None, description="A GUID; generated if omitted.")
    name: str = Field(min_length=1)


class PropertyOut(BaseModel):
    property_id: str
    account_id: int
    name: str
    prospect_sources: list[LookupItem]
    employees: list[EmployeeOut]
    prospects: int = Field(description="How many prospects the property holds.")

    @classmethod
    def of(cls, prop: Property, *, prospects: int) -> PropertyOut:
        return cls(
            property_id=prop.property_id,
            account_id=prop.account_id,
            name=prop.name,
            prospect_sources=[LookupItem(id=s.id, name=s.name) for s in prop.prospect_sources],
            employees=[
                EmployeeOut(id=e.id, name=e.name, email=e.email, security_group=e.security_group)
                for e in prop.employees
            ],
            prospects=prospects,
        )


class PartnerIn(_In):
    partner_id: str = Field(min_length=1)
    api_key: str = Field(min_length=1)
    account_ids: list[int] = Field(min_length=1)


class PartnerOut(BaseModel):
    """The API key is not echoed back."""

    partner_id: str
    account_ids: list[int]

    @classmethod
    def of(cls, partner: Partner) -> PartnerOut:
        return cls(partner_id=partner.partner_id, account_ids=sorted(partner.account_ids))


class ProspectOut(BaseModel):
    property_id: str
    prospect_id: str
    person_id: str
    status: CustomerType
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    created_at: datetime
    modified_at: datetime
    prospect: Prospect = Field(description="The full MITS prospect, as SearchProspects has it.")

    @classmethod
    def of(cls, record: ProspectRecord) -> ProspectOut:
        fields = contact_fields(record.prospect)
        return cls(
            property_id=record.property_id,
            prospect_id=record.prospect_id,
            person_id=record.person_id,
            status=record.status,
            first_name=fields["first_name"],
            last_name=fields["last_name"],
            email=fields["email"],
            phone=fields["phone"],
            created_at=record.created_at,
            modified_at=record.modified_at,
            prospect=record.prospect,
        )


class ProspectList(BaseModel):
    total: int = Field(description="How many prospects match (before the limit).")
    prospects: list[ProspectOut]


class NewProspectIn(_In):
    first_name: str = Field(min_length=1)
    last_name: str = Field(min_length=1)
    email: str | None = None
    phone: str | None = None
    source: str | None = Field(
        default=None, description="Prospect source name or ID; default 'Walk-In'."
    )
    agent_id: AgentId


class BulkIn(_In):
    count: int = Field(ge=1, le=1_000_000)
    modified_from: UtcDateTime
    modified_to: UtcDateTime
    seed: int | None = None


class BulkOut(BaseModel):
    property_id: str
    created: int


class StatusIn(_In):
    customer_type: CustomerType
    event_type: EventType | None = Field(
        default=None,
        description="Default: Application, LeaseSign, Cancel or ReActivate after the type.",
    )
    comments: str | None = None
    agent_id: AgentId


class NoteIn(_In):
    text: str = Field(min_length=1)
    agent_id: AgentId


class TourIn(_In):
    start: UtcDateTime = Field(description="Tour start; without an offset it is UTC.")
    comments: str | None = None
    agent_id: AgentId


class CommentIn(_In):
    comments: str | None = None
    agent_id: AgentId


class LostIn(_In):
    reason_id: str | None = None
    reason: str | None = Field(default=None, description="A lost reason's name.")
    agent_id: AgentId


class ContactIn(_In):
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    agent_id: AgentId


class WebhookIn(_In):
    url: str | None = Field(description="Target of the LeadUpdateWebhook; null stops sending.")
    secret: str | None = Field(default=None, description="whsec_...; generated if omitted.")


class WebhookOut(BaseModel):
    url: str | None
    secret: str
    pending: int
    queued: int
    delivered: int
    failed: int
    dropped: int
    attempts: int


class StatsOut(BaseModel):
    requests: dict[str, int]
    faults_injected: dict[str, int]
    prospects: int
    webhooks: dict[str, int]
    feed_subscribers: int
