"""`integration add|update --verify`: a real, cheap ResMan call before credentials are saved.

GetProspectSources is the cheapest property-scoped read ResMan has (a short list), and it
proves the partner id, API key, account and property together. A refusal is an AdminError
saying nothing was saved; the caller has written nothing yet.
"""

from __future__ import annotations

from leadsync.admin import AdminError
from leadsync.admin.integrations import Verifier
from leadsync.config import Settings
from leadsync.resman.client import ResManClient
from leadsync.resman.credentials import ResManCredentials
from leadsync.resman.errors import AuthenticationError, ResManError


def resman_verifier(settings: Settings) -> Verifier:
    async def verify(base_url: str, creds: ResManCredentials) -> None:
        async with ResManClient.from_settings(settings, base_url=base_url) as client:
            try:
                await client.get_prospect_sources(creds=creds)
            except AuthenticationError as exc:
                raise AdminError(
                    f"ResMan at {base_url} refused the credentials ({exc}); nothing was saved"
                ) from None
            except ResManError as exc:
                raise AdminError(
                    f"could not verify the credentials with ResMan at {base_url} ({exc}); "
                    "nothing was saved"
                ) from None

    return verify
