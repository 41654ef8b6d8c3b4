"""The running sandbox: state, persistence, faults, stats, webhook and feed, tied together.

Every change goes through :meth:`Sandbox._commit`, which writes it through to the store and
announces it:

* on the feed, ALL changes, with ``origin`` "api" (posted through the wire API) or "staff"
  (made through the admin API), so a consumer can ignore its own writes;
* as a LeadUpdateWebhook, staff changes ONLY: wire posts are the integration's own writes,
  and a relay forwarding them would echo every push straight back to its author. (ResMan
  itself has no webhooks; the sandbox's webhook stands in for such a relay.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime

from leadsync.resman.models import Employee, NamedItem, Prospect
from leadsync.sandbox.changes import RESMAN_USER, Change, Origin, lead_update_payload
from leadsync.sandbox.config import FaultConfig, SandboxConfig
from leadsync.sandbox.faults import FaultInjector
from leadsync.sandbox.feed import FeedHub
from leadsync.sandbox.prospects import ProspectRecord
from leadsync.sandbox.seed import missing_default_tenant, seeded_account, seeded_property
from leadsync.sandbox.staff import StaffEdit
from leadsync.sandbox.state import SandboxState, new_guid
from leadsync.sandbox.store import MemoryStore, Store, open_store
from leadsync.sandbox.tenants import Account, Partner, Property, normalize_guid
from leadsync.sandbox.webhooks import WebhookEmitter


class NotFound(LookupError):
    """An admin call named something that does not exist (HTTP 404)."""


class Conflict(ValueError):
    """An admin call would create something that already exists (HTTP 409)."""


class Invalid(ValueError):
    """An admin call's values do not fit the property (unknown agent, reason...) (HTTP 422)."""


class Sandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.state = SandboxState()
        self.injector = FaultInjector(config.faults)
        self.webhooks = WebhookEmitter(
            url=config.webhook_url,
            secret=config.webhook_secret,
            max_attempts=config.webhook_max_attempts,
            backoff_seconds=config.webhook_backoff_seconds,
            timeout_seconds=config.webhook_timeout_seconds,
            queue_size=config.webhook_queue_size,
        )
        self.feed = FeedHub(
            queue_size=config.feed_queue_size, heartbeat_seconds=config.feed_heartbeat_seconds
        )
        self.requests: Counter[str] = Counter()
        self.faults_injected: Counter[str] = Counter()
        self._store: Store = MemoryStore()
        self._closing = asyncio.Event()

    # --- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Load the persisted state (if any), add the default tenant, start the webhook worker."""
        self._store = open_store(self.config.state_file)
        snapshot = self._store.load()
        for account in snapshot.accounts:
            self.state.put_account(account)
        for prop in snapshot.properties:
            self.state.put_property(prop)
        for partner in snapshot.partners:
            self.state.put_partner(partner)
        self.state.load_prospects(snapshot.prospects)
        if self.config.seed_default_tenant:
            accounts, properties, partners = missing_default_tenant(self.state.tenants)
            self._put_tenants(accounts=accounts, properties=properties, partners=partners)
        await self.webhooks.start()

    async def stop(self) -> None:
        await self.webhooks.stop()
        self._store.close()

    def begin_shutdown(self) -> None:
        """Release hung requests (the timeout fault) so the server can stop promptly."""
        self._closing.set()

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake up early when the sandbox shuts down."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)

    # --- faults and stats ----------------------------------------------------------------
    @property
    def faults(self) -> FaultConfig:
        return self.injector.config

    def set_faults(self, config: FaultConfig) -> None:
        # A fresh injector restarts the seeded sequence: same PUT, same faults after it.
        self.injector = FaultInjector(config)

    def reset_stats(self) -> None:
        self.requests.clear()
        self.faults_injected.clear()

    # --- tenants -------------------------------------------------------------------------
    def _put_tenants(
        self,
        *,
        accounts: Sequence[Account] = (),
        properties: Sequence[Property] = (),
        partners: Sequence[Partner] = (),
    ) -> None:
        for account in accounts:
            self.state.put_account(account)
        for prop in properties:
            self.state.put_property(prop)
        for partner in partners:
            self.state.put_partner(partner)
        self._store.put_tenants(accounts=accounts, properties=properties, partners=partners)

    def account(self, account_id: int) -> Account:
        account = self.state.tenants.accounts.get(account_id)
        if account is None:
            raise NotFound(f"account {account_id} not found")
        return account

    def add_account(self, *, account_id: int | None, name: str, subdomain: str | None) -> Account:
        tenants = self.state.tenants
        number = account_id if account_id is not None else tenants.next_account_id()
        if number in tenants.accounts:
            raise Conflict(f"account {number} already exists")
        if subdomain and tenants.account_by_subdomain(subdomain) is not None:
            raise Conflict(f"subdomain {subdomain!r} is taken")
        account = seeded_account(account_id=number, name=name, subdomain=subdomain)
        self._put_tenants(accounts=[account])
        return account

    def add_property(self, *, account_id: int, property_id: str | None, name: str) -> Property:
        self.account(account_id)
        guid = normalize_guid(property_id) if property_id is not None else None
        if property_id is not None and guid is None:
            raise Invalid("property_id must be a GUID")
        guid = guid or new_guid()
        if guid in self.state.tenants.properties:
            raise Conflict(f"property {guid} already exists")
        prop = seeded_property(property_id=guid, account_id=account_id, name=name)
        self._put_tenants(properties=[prop])
        return prop

    def put_partner(self, *, partner_id: str, api_key: str, account_ids: Sequence[int]) -> Partner:
        for account_id in account_ids:
            self.account(account_id)
        partner = Partner(partner_id, api_key, frozenset(account_ids))
        self._put_tenants(partners=[partner])
        return partner

    def property(self, property_id: str) -> Property:
        guid = normalize_guid(property_id)
        prop = self.state.tenants.properties.get(guid) if guid else None
        if prop is None:
            raise NotFound("property not found")
        return prop

    def record(self, prop: Property, prospect_id: str) -> ProspectRecord:
        guid = normalize_guid(prospect_id)
        record = self.state.prospects(prop.property_id).get(guid) if guid else None
        if record is None:
            raise NotFound("prospect not found")
        return record

    @staticmethod
    def agent(prop: Property, agent_id: str | None) -> Employee | None:
        if agent_id is None:
            return None
        guid = normalize_guid(agent_id)
        for employee in prop.employees:
            if employee.id == guid:
                return employee
        raise Invalid("agent_id is not an employee of the property")

    def lost_reason(
        self, prop: Property, *, reason_id: str | None, reason: str | None
    ) -> NamedItem:
        """A lost reason of the property's account, by id or (case-insensitive) name."""
        reasons = self.account(prop.account_id).lost_reasons
        guid = normalize_guid(reason_id) if reason_id else None
        wanted = (reason or "").strip().casefold()
        for item in reasons:
            if item.id == guid or (wanted and item.name.casefold() == wanted):
                return item
        raise Invalid("unknown lost reason; see the property's lost_reasons")

    @staticmethod
    def prospect_source(prop: Property, source: str | None, *, default: str) -> NamedItem:
        wanted = (source or default).strip()
        for item in prop.prospect_sources:
            if item.id == normalize_guid(wanted) or item.name.casefold() == wanted.casefold():
                return item
        raise Invalid("unknown prospect source; see the property's prospect_sources")

    # --- changes -------------------------------------------------------------------------
    def _commit(self, changes: Sequence[Change]) -> None:
        self._store.put_prospects([c.record for c in changes])
        for change in changes:
            self.feed.publish(change)
            if change.origin is Origin.STAFF:
                self.webhooks.emit(lead_update_payload(change), msg_id=change.change_id)

    def post(self, *, account: Account, prop: Property, posted: Sequence[Prospect]) -> list[Change]:
        """A wire post (raises PostRejected, changing nothing, when ResMan would refuse it)."""
        changes = self.state.post(account=account, prop=prop, posted=posted)
        self._commit(changes)
        return changes

    def staff_create(
        self, *, prop: Property, build: Callable[[datetime], Prospect], agent: Employee | None
    ) -> Change:
        change = self.state.staff_create(prop=prop, build=build, updated_by=_by(agent))
        self._commit([change])
        return change

    def staff_edit(
        self,
        *,
        prop: Property,
        prospect_id: str,
        edit: Callable[[Prospect, datetime], StaffEdit],
        agent: Employee | None,
    ) -> Change:
        record = self.record(prop, prospect_id)
        change = self.state.staff_edit(prop=prop, record=record, edit=edit, updated_by=_by(agent))
        self._commit([change])
        return change

    def bulk_create(
        self, *, prop: Property, count: int, start: datetime, end: datetime, seed: int | None
    ) -> list[ProspectRecord]:
        """History for pull tests and benchmarks: no feed messages, no webhooks."""
        if end < start:
            raise Invalid("modified_to must not be before modified_from")
        records = self.state.bulk_create(prop=prop, count=count, start=start, end=end, seed=seed)
        self._store.put_prospects(records)
        return records


def _by(agent: Employee | None) -> str:
    return agent.name if agent is not None else RESMAN_USER
