"""The sandbox's domain state: tenants and prospects, and the operations that change them.

No I/O here: every operation returns what changed (:class:`Change` or records) and the
service persists and announces it.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from leadsync.resman.models import Customer, CustomerType, Event, EventType, Phone, Prospect
from leadsync.sandbox.changes import (
    API_USER,
    Change,
    Origin,
    change_kind,
    diff_fields,
)
from leadsync.sandbox.posting import (
    check_events,
    merge_prospect,
    new_prospect,
    resman_ids,
    resolve_target,
)
from leadsync.sandbox.prospects import ProspectIndex, ProspectRecord
from leadsync.sandbox.seed import BULK_FIRST_NAMES, BULK_LAST_NAMES
from leadsync.sandbox.staff import StaffEdit
from leadsync.sandbox.tenants import Account, Partner, Property, Tenants

_TICK = timedelta(microseconds=1)
#: Customer types of bulk-created prospects and how common each is.
_BULK_TYPES = (
    CustomerType.PROSPECT,
    CustomerType.APPLICANT,
    CustomerType.CURRENT_RESIDENT,
    CustomerType.LOST,
)
_BULK_CUM_WEIGHTS = (80, 90, 95, 100)


def utc_now() -> datetime:
    return datetime.now(UTC)


class MonotonicClock:
    """UTC time that never repeats or goes back: two changes never share a modified time,
    so a consumer's "modified after my cursor" logic sees each change exactly once."""

    def __init__(self, source: Callable[[], datetime] = utc_now) -> None:
        self._source = source
        self._last: datetime | None = None

    def now(self) -> datetime:
        moment = self._source()
        if self._last is not None and moment <= self._last:
            moment = self._last + _TICK
        self._last = moment
        return moment

    def advance_past(self, moment: datetime) -> None:
        """Never hand out a time at or before `moment` (e.g. the newest loaded change)."""
        if self._last is None or moment > self._last:
            self._last = moment


def new_guid() -> str:
    return str(uuid.uuid4())


class SandboxState:
    def __init__(self, *, clock: MonotonicClock | None = None) -> None:
        self.clock = clock or MonotonicClock()
        self.tenants = Tenants()
        self._prospects: dict[str, ProspectIndex] = {}

    # --- tenants -----------------------------------------------------------------------
    def put_account(self, account: Account) -> None:
        self.tenants.accounts[account.account_id] = account

    def put_property(self, prop: Property) -> None:
        self.tenants.properties[prop.property_id] = prop
        self._prospects.setdefault(prop.property_id, ProspectIndex())

    def put_partner(self, partner: Partner) -> None:
        self.tenants.partners[partner.partner_id] = partner

    # --- prospects ---------------------------------------------------------------------
    def prospects(self, property_id: str) -> ProspectIndex:
        return self._prospects.setdefault(property_id, ProspectIndex())

    def total_prospects(self) -> int:
        return sum(len(index) for index in self._prospects.values())

    def load_prospects(self, records: Iterable[ProspectRecord]) -> None:
        newest: datetime | None = None
        by_property: dict[str, list[ProspectRecord]] = {}
        for record in records:
            by_property.setdefault(record.property_id, []).append(record)
            newest = record.modified_at if newest is None else max(newest, record.modified_at)
        for property_id, items in by_property.items():
            self.prospects(property_id).put_many(items)
        if newest is not None:
            self.clock.advance_past(newest)

    def _save(
        self,
        *,
        prop: Property,
        before: ProspectRecord | None,
        after: Prospect,
        prospect_id: str,
        when: datetime,
        origin: Origin,
        events: tuple[Event, ...],
        updated_by: str,
    ) -> Change:
        record = ProspectRecord(
            property_id=prop.property_id,
            prospect_id=prospect_id,
            person_id=after.person_id or "",
            prospect=after,
            created_at=before.created_at if before else when,
            modified_at=when,
        )
        self.prospects(prop.property_id).put(record)
        old = before.prospect if before else None
        return Change(
            change_id=f"msg_{uuid.uuid4().hex}",
            kind=change_kind(old, after),
            origin=origin,
            account_id=prop.account_id,
            record=record,
            updated_fields=diff_fields(old, after),
            events=events,
            updated_by=updated_by,
        )

    def post(self, *, account: Account, prop: Property, posted: Sequence[Prospect]) -> list[Change]:
        """PostLeadManagement4_0: create or update each prospect; raises PostRejected before
        changing anything if any of them is refused."""
        index = self.prospects(prop.property_id)

        def stored(prospect_id: str) -> Prospect | None:
            record = index.get(prospect_id)
            return record.prospect if record else None

        plans = [
            (
                p,
                resolve_target(p, stored=stored),
                check_events(p.events, prop=prop, account=account),
            )
            for p in posted
        ]
        changes: list[Change] = []
        for item, target, events in plans:
            when = self.clock.now()
            before = index.get(target) if target else None
            if before is None:
                prospect_id = new_guid()
                after = new_prospect(
                    dataclasses.replace(item, events=events),
                    prospect_id=prospect_id,
                    new_person_id=new_guid,
                )
            else:
                prospect_id = before.prospect_id
                after = merge_prospect(
                    before.prospect,
                    item,
                    prospect_id=prospect_id,
                    events=events,
                    new_person_id=new_guid,
                )
            changes.append(
                self._save(
                    prop=prop,
                    before=before,
                    after=after,
                    prospect_id=prospect_id,
                    when=when,
                    origin=Origin.API,
                    events=events,
                    updated_by=API_USER,
                )
            )
        return changes

    def staff_create(
        self, *, prop: Property, build: Callable[[datetime], Prospect], updated_by: str
    ) -> Change:
        when = self.clock.now()
        prospect_id = new_guid()
        after = new_prospect(build(when), prospect_id=prospect_id, new_person_id=new_guid)
        return self._save(
            prop=prop,
            before=None,
            after=after,
            prospect_id=prospect_id,
            when=when,
            origin=Origin.STAFF,
            events=after.events,
            updated_by=updated_by,
        )

    def staff_edit(
        self,
        *,
        prop: Property,
        record: ProspectRecord,
        edit: Callable[[Prospect, datetime], StaffEdit],
        updated_by: str,
    ) -> Change:
        when = self.clock.now()
        result = edit(record.prospect, when)
        return self._save(
            prop=prop,
            before=record,
            after=result.prospect,
            prospect_id=record.prospect_id,
            when=when,
            origin=Origin.STAFF,
            events=(result.event,) if result.event else (),
            updated_by=updated_by,
        )

    def bulk_create(
        self, *, prop: Property, count: int, start: datetime, end: datetime, seed: int | None
    ) -> list[ProspectRecord]:
        """`count` prospects modified at random whole seconds in [start, end).

        Whole seconds make several prospects share a modified time once there are more than
        one per second, as happens in ResMan; the clock is not advanced (these are history).
        """
        rng = random.Random(seed)
        span = (end - start).total_seconds()
        sources: list[str | None] = [s.id for s in prop.prospect_sources] or [None]
        records: list[ProspectRecord] = []
        for _ in range(count):
            offset = span * rng.random()
            when = (start + timedelta(seconds=offset)).replace(microsecond=0)
            when = min(max(when, start), end - _TICK) if end > start else start
            prospect_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            person_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            customer = Customer(
                customer_type=rng.choices(_BULK_TYPES, cum_weights=_BULK_CUM_WEIGHTS)[0],
                identifications=resman_ids(prospect_id, person_id),
                first_name=rng.choice(BULK_FIRST_NAMES),
                last_name=rng.choice(BULK_LAST_NAMES),
                # Contacts our side accepts (a valid address and US number), as real office
                # leads have: a pull then runs the same look-ups as for real data.
                email=f"lead-{prospect_id[:13]}@example.org",
                phones=(Phone(f"512{rng.randrange(200, 1000)}{rng.randrange(10**4):04d}"),),
            )
            event = Event(
                event_type=EventType.WALK_IN.value,
                event_date=when,
                first_contact=True,
                transaction_source=rng.choice(sources),
            )
            prospect = Prospect(customers=(customer,), events=(event,))
            records.append(
                ProspectRecord(
                    property_id=prop.property_id,
                    prospect_id=prospect_id,
                    person_id=person_id,
                    prospect=prospect,
                    created_at=when,
                    modified_at=when,
                )
            )
        self.prospects(prop.property_id).put_many(records)
        return records
