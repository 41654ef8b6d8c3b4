"""The credentials every ResMan call carries, and how they go on the wire.

The partner id and API key are the integrator's secrets (the same for every client of
leadsync), so they are kept out of ``repr``/``str``: a credentials object that ends up in a log
line, a traceback or an assertion message must not leak them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ResManCredentials:
    """IntegrationPartnerID + ApiKey (secret) and the AccountID/PropertyID they act on.

    ``property_id`` is None only for account-level calls (``Account/*``).
    """

    partner_id: str = field(repr=False)
    api_key: str = field(repr=False)
    account_id: int
    property_id: str | None = None

    def __repr__(self) -> str:
        return (
            f"ResManCredentials(partner_id='***', api_key='***', "
            f"account_id={self.account_id}, property_id={self.property_id!r})"
        )

    __str__ = __repr__

    def partner_form(self) -> dict[str, str]:
        """The integrator's own credentials (all ``Account/GetAccountID`` needs)."""
        return {"IntegrationPartnerID": self.partner_id, "ApiKey": self.api_key}

    def account_form(self) -> dict[str, str]:
        """Form fields of an ``Account/*`` call: the partner's secrets and the account."""
        return {**self.partner_form(), "AccountID": str(self.account_id)}

    def property_form(self) -> dict[str, str]:
        """Form fields of a property-scoped call (``MITS/*``, ``Leasing/*``)."""
        if not self.property_id:
            raise ValueError("these credentials carry no property_id; property calls need one")
        return {**self.account_form(), "PropertyID": self.property_id}
