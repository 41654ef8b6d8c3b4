"""What the sync engine needs from ResMan, independent of how it is reached.

The engine depends on this protocol, not on HTTP: :class:`leadsync.resman.client.ResManClient`
implements it over the MITS/Leasing API, and a future transport for ResMan's v2 "Partners API"
(REST + JSON) can implement it without touching the engine. Every implementation raises the
typed errors of ``leadsync.resman.errors``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from leadsync.resman.credentials import ResManCredentials
from leadsync.resman.models import (
    Employee,
    NamedItem,
    PersonStatus,
    PropertyInfo,
    Prospect,
    ProspectEntry,
)


class ProspectSearch(Protocol):
    """The one call a windowed pull needs (so the search can run on anything that has it)."""

    async def search_entries(
        self, *, creds: ResManCredentials, modified_start: datetime, modified_end: datetime
    ) -> list[ProspectEntry]:
        """The prospects modified in [start, end), each read only as far as its id and
        digest until asked (see ``ProspectEntry``)."""
        ...


class ResManAPI(ProspectSearch, Protocol):
    """Everything the sync engine calls on ResMan."""

    async def search_prospects(
        self,
        *,
        creds: ResManCredentials,
        modified_start: datetime | None = None,
        modified_end: datetime | None = None,
        prospect_id: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> list[Prospect]:
        """Prospects matching exactly one criterion set; a window is [start, end)."""
        ...

    async def post_lead(self, *, creds: ResManCredentials, prospect: Prospect) -> Prospect:
        """Create (no ids) or update (ProspectID + PersonID) a prospect; returns it with ids."""
        ...

    async def get_prospect_sources(self, *, creds: ResManCredentials) -> list[NamedItem]: ...

    async def get_lost_prospect_reasons(self, *, creds: ResManCredentials) -> list[NamedItem]: ...

    async def get_employees(self, *, creds: ResManCredentials) -> list[Employee]: ...

    async def get_applicants_and_current_residents(
        self, *, creds: ResManCredentials
    ) -> list[PersonStatus]: ...

    async def get_properties(self, *, creds: ResManCredentials) -> list[PropertyInfo]: ...

    async def get_account_id(self, *, creds: ResManCredentials, subdomain: str) -> int: ...
