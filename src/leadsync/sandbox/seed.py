"""The default tenant and the lookups every new property gets, so ``leadsync sandbox`` works
out of the box and tests can rely on well-known credentials.

Lookup ids are uuid5 values derived from the property (or account) and the name, so they are
the same on every start and differ between properties — a source id of one property is, as
in ResMan, "not found" on another.
"""

from __future__ import annotations

import uuid

from leadsync.resman.models import Employee, NamedItem
from leadsync.sandbox.tenants import Account, Partner, Property, Tenants

SANDBOX_PARTNER_ID = "leadsync-sandbox"
#: A published sandbox credential, not a secret.
SANDBOX_API_KEY = "sandbox-api-key"
SANDBOX_ACCOUNT_ID = 400
SANDBOX_ACCOUNT_NAME = "Sandbox Property Management"
SANDBOX_SUBDOMAIN = "sandbox"
SANDBOX_PROPERTY_ID = "5b8a3b6e-2f3c-4a8e-9a51-2d1f6a7c9e01"
SANDBOX_PROPERTY_NAME = "Sandbox Heights"
SANDBOX_PROPERTY_ID_2 = "c7d2e9f0-8b1a-4c3d-9e5f-6a7b8c9d0e12"
SANDBOX_PROPERTY_NAME_2 = "Sandbox Gardens"

CHATBOT_SOURCE_NAME = "Chatbot"
WALK_IN_SOURCE_NAME = "Walk-In"
PROSPECT_SOURCE_NAMES = (CHATBOT_SOURCE_NAME, WALK_IN_SOURCE_NAME, "Zillow", "Apartments.com")
#: Like a real account, the list ends with a catch-all ("Other") for reasons not listed.
LOST_REASON_NAMES = ("Rented elsewhere", "Price too high", "No response", "Other")
#: (name, security group); emails are derived on an example domain.
EMPLOYEE_PROFILES = (
    ("Alex Rivera", "Leasing Agent"),
    ("Jordan Lee", "Leasing Agent"),
    ("Sam Patel", "Property Manager"),
)

_NAMESPACE = uuid.UUID("0b6f8f3e-6c1a-4f0e-9a57-3c1d2b4a5e60")


def _derived_id(*parts: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in parts)))


def prospect_source_id(property_id: str, name: str) -> str:
    """Id of a seeded prospect source, e.g. the "Chatbot" TransactionSource of a property."""
    return _derived_id(property_id, "source", name)


def lost_reason_id(account_id: int, name: str) -> str:
    return _derived_id(account_id, "lost-reason", name)


def employee_id(property_id: str, name: str) -> str:
    return _derived_id(property_id, "employee", name)


def seeded_account(*, account_id: int, name: str, subdomain: str | None = None) -> Account:
    reasons = tuple(NamedItem(lost_reason_id(account_id, n), n) for n in LOST_REASON_NAMES)
    return Account(account_id=account_id, name=name, subdomain=subdomain, lost_reasons=reasons)


def seeded_property(*, property_id: str, account_id: int, name: str) -> Property:
    sources = tuple(NamedItem(prospect_source_id(property_id, n), n) for n in PROSPECT_SOURCE_NAMES)
    employees = tuple(
        Employee(
            id=employee_id(property_id, person),
            name=person,
            email=f"{person.lower().replace(' ', '.')}@sandbox.example",
            security_group=group,
        )
        for person, group in EMPLOYEE_PROFILES
    )
    return Property(
        property_id=property_id,
        account_id=account_id,
        name=name,
        prospect_sources=sources,
        employees=employees,
    )


def default_tenant() -> tuple[Account, list[Property], Partner]:
    account = seeded_account(
        account_id=SANDBOX_ACCOUNT_ID, name=SANDBOX_ACCOUNT_NAME, subdomain=SANDBOX_SUBDOMAIN
    )
    properties = [
        seeded_property(property_id=pid, account_id=SANDBOX_ACCOUNT_ID, name=name)
        for pid, name in (
            (SANDBOX_PROPERTY_ID, SANDBOX_PROPERTY_NAME),
            (SANDBOX_PROPERTY_ID_2, SANDBOX_PROPERTY_NAME_2),
        )
    ]
    partner = Partner(
        partner_id=SANDBOX_PARTNER_ID,
        api_key=SANDBOX_API_KEY,
        account_ids=frozenset({SANDBOX_ACCOUNT_ID}),
    )
    return account, properties, partner


def missing_default_tenant(
    tenants: Tenants,
) -> tuple[list[Account], list[Property], list[Partner]]:
    """The parts of the default tenant not yet present (nothing already there is replaced,
    so a persisted sandbox keeps the changes made to it through the admin API)."""
    account, properties, partner = default_tenant()
    return (
        [] if account.account_id in tenants.accounts else [account],
        [p for p in properties if p.property_id not in tenants.properties],
        [] if partner.partner_id in tenants.partners else [partner],
    )


# Names for bulk-created prospects (pull tests and benchmarks); deliberately plain.
BULK_FIRST_NAMES = ("Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Harper", "Jamie")
BULK_LAST_NAMES = ("Brooks", "Carter", "Diaz", "Ellis", "Foster", "Gray", "Hayes", "Kim")
