"""The sandbox's admin API (JSON under ``/admin``): health, faults, stats, tenants, the
webhook target and the change feed. Prospects and staff actions: admin_staff.py. Faults never
apply to ``/admin``.
"""

from __future__ import annotations

from fastapi import APIRouter, WebSocket, status

from leadsync.sandbox.admin_deps import SandboxDep
from leadsync.sandbox.admin_models import (
    AccountIn,
    AccountOut,
    Health,
    PartnerIn,
    PartnerOut,
    PropertyIn,
    PropertyOut,
    StatsOut,
    WebhookIn,
    WebhookOut,
)
from leadsync.sandbox.config import FaultConfig
from leadsync.sandbox.service import Invalid, Sandbox
from leadsync.sandbox.tenants import normalize_guid
from leadsync.sandbox.webhooks import check_secret

#: Close code for a feed subscription to an unknown property (policy violation).
CLOSE_UNKNOWN_PROPERTY = 1008


router = APIRouter(prefix="/admin", tags=["sandbox admin"])


@router.get("/health", response_model=Health)
async def health() -> Health:
    return Health()


# --- faults and stats ------------------------------------------------------------------
@router.get("/faults", response_model=FaultConfig)
async def get_faults(sandbox: SandboxDep) -> FaultConfig:
    return sandbox.faults


@router.put("/faults", response_model=FaultConfig)
async def put_faults(body: FaultConfig, sandbox: SandboxDep) -> FaultConfig:
    """Replace the fault configuration (and restart its seeded sequence)."""
    sandbox.set_faults(body)
    return sandbox.faults


@router.get("/stats", response_model=StatsOut)
async def get_stats(sandbox: SandboxDep) -> StatsOut:
    hooks = sandbox.webhooks.stats
    return StatsOut(
        requests=dict(sandbox.requests),
        faults_injected=dict(sandbox.faults_injected),
        prospects=sandbox.state.total_prospects(),
        webhooks={
            "queued": hooks.queued,
            "delivered": hooks.delivered,
            "failed": hooks.failed,
            "dropped": hooks.dropped,
            "pending": sandbox.webhooks.pending,
        },
        feed_subscribers=sandbox.feed.subscriber_count,
    )


@router.post("/reset-stats", status_code=status.HTTP_204_NO_CONTENT)
async def reset_stats(sandbox: SandboxDep) -> None:
    sandbox.reset_stats()


# --- tenants ---------------------------------------------------------------------------
@router.get("/accounts", response_model=list[AccountOut])
async def list_accounts(sandbox: SandboxDep) -> list[AccountOut]:
    return [AccountOut.of(a) for a in sandbox.state.tenants.accounts.values()]


@router.post("/accounts", response_model=AccountOut, status_code=status.HTTP_201_CREATED)
async def create_account(body: AccountIn, sandbox: SandboxDep) -> AccountOut:
    account = sandbox.add_account(
        account_id=body.account_id, name=body.name, subdomain=body.subdomain
    )
    return AccountOut.of(account)


@router.post(
    "/accounts/{account_id}/properties",
    response_model=PropertyOut,
    status_code=status.HTTP_201_CREATED,
)
async def create_property(account_id: int, body: PropertyIn, sandbox: SandboxDep) -> PropertyOut:
    """A property with seeded prospect sources (incl. "Chatbot") and employees."""
    prop = sandbox.add_property(account_id=account_id, property_id=body.property_id, name=body.name)
    return PropertyOut.of(prop, prospects=0)


@router.post("/partners", response_model=PartnerOut)
async def put_partner(body: PartnerIn, sandbox: SandboxDep) -> PartnerOut:
    """Create or replace an integration partner (its key and the accounts it may use)."""
    partner = sandbox.put_partner(
        partner_id=body.partner_id, api_key=body.api_key, account_ids=body.account_ids
    )
    return PartnerOut.of(partner)


@router.get("/properties", response_model=list[PropertyOut])
async def list_properties(sandbox: SandboxDep) -> list[PropertyOut]:
    state = sandbox.state
    return [
        PropertyOut.of(p, prospects=len(state.prospects(p.property_id)))
        for p in state.tenants.properties.values()
    ]


@router.get("/properties/{property_id}", response_model=PropertyOut)
async def get_property(property_id: str, sandbox: SandboxDep) -> PropertyOut:
    prop = sandbox.property(property_id)
    return PropertyOut.of(prop, prospects=len(sandbox.state.prospects(prop.property_id)))


# --- webhook target and feed -----------------------------------------------------------
def _webhook_out(sandbox: Sandbox) -> WebhookOut:
    hooks = sandbox.webhooks
    stats = hooks.stats
    return WebhookOut(
        url=hooks.url,
        secret=hooks.secret,
        pending=hooks.pending,
        queued=stats.queued,
        delivered=stats.delivered,
        failed=stats.failed,
        dropped=stats.dropped,
        attempts=stats.attempts,
    )


@router.get("/webhook", response_model=WebhookOut)
async def get_webhook(sandbox: SandboxDep) -> WebhookOut:
    return _webhook_out(sandbox)


@router.put("/webhook", response_model=WebhookOut)
async def put_webhook(body: WebhookIn, sandbox: SandboxDep) -> WebhookOut:
    """Set where staff changes are posted, and the signing secret (generated if omitted)."""
    if body.secret is not None:
        try:
            check_secret(body.secret)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
    sandbox.webhooks.configure(url=body.url, secret=body.secret)
    return _webhook_out(sandbox)


@router.websocket("/feed")
async def feed(websocket: WebSocket, property_id: str | None = None) -> None:
    """Every prospect change as JSON: {seq, type, origin, property_id, prospect_id, data,
    timestamp}; type new_lead | status_change | lead_update (and heartbeat)."""
    sandbox: Sandbox = websocket.app.state.sandbox
    guid = None
    if property_id is not None:
        guid = normalize_guid(property_id)
        if guid is None or guid not in sandbox.state.tenants.properties:
            await websocket.close(code=CLOSE_UNKNOWN_PROPERTY)
            return
    await sandbox.feed.serve(websocket, property_id=guid)
