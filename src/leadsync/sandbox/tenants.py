"""Who may call the sandbox: accounts (management companies), their properties, and
integration partners with their API keys. Also the per-property lookups ResMan serves."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass, field

from leadsync.resman.models import Employee, NamedItem


@dataclass(frozen=True, slots=True)
class Account:
    account_id: int
    name: str
    subdomain: str | None = None
    #: ResMan keeps lost reasons per account; every property of the account shares them.
    lost_reasons: tuple[NamedItem, ...] = ()


@dataclass(frozen=True, slots=True)
class Property:
    property_id: str
    account_id: int
    name: str
    prospect_sources: tuple[NamedItem, ...] = ()
    employees: tuple[Employee, ...] = ()


@dataclass(frozen=True, slots=True)
class Partner:
    partner_id: str
    api_key: str
    account_ids: frozenset[int] = frozenset()


def normalize_guid(value: str) -> str | None:
    """Canonical (lower-case, hyphenated) form of a GUID, or None if it is not one.

    ResMan GUIDs arrive in either case and with or without braces; lookups must not care.
    """
    try:
        return str(uuid.UUID(value.strip()))
    except (ValueError, AttributeError):
        return None


@dataclass(slots=True)
class Tenants:
    accounts: dict[int, Account] = field(default_factory=dict)
    properties: dict[str, Property] = field(default_factory=dict)
    partners: dict[str, Partner] = field(default_factory=dict)

    def properties_of(self, account_id: int) -> list[Property]:
        return [p for p in self.properties.values() if p.account_id == account_id]

    def partner(self, partner_id: str | None, api_key: str | None) -> Partner | None:
        """The partner whose id and key both match, or None."""
        if not partner_id or api_key is None:
            return None
        partner = self.partners.get(partner_id)
        if partner is None:
            return None
        # Constant-time compare: the sandbox also serves as a model of how to check keys.
        if not hmac.compare_digest(partner.api_key.encode(), api_key.encode()):
            return None
        return partner

    def account_for(self, partner: Partner, account_id: str | None) -> Account | None:
        """The account if it exists and the partner may use it."""
        try:
            number = int((account_id or "").strip())
        except ValueError:
            return None
        if number not in partner.account_ids:
            return None
        return self.accounts.get(number)

    def property_for(self, account: Account, property_id: str | None) -> Property | None:
        """The property if it exists and belongs to the account."""
        guid = normalize_guid(property_id or "")
        prop = self.properties.get(guid) if guid else None
        if prop is None or prop.account_id != account.account_id:
            return None
        return prop

    def account_by_subdomain(self, subdomain: str) -> Account | None:
        wanted = subdomain.strip().casefold()
        for account in self.accounts.values():
            if account.subdomain and account.subdomain.casefold() == wanted:
                return account
        return None

    def next_account_id(self) -> int:
        return max(self.accounts, default=399) + 1
