"""Stored prospects of one property, indexed for the searches ResMan offers.

SearchProspects by modified window must stay fast with 100k prospects per property, so the
records are kept in a list sorted by (modified_at, prospect_id) and a window is two bisects.
Email, phone and name lookups use hash indexes over every customer of a prospect.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from leadsync.resman.models import Customer, CustomerType, Prospect

_NON_DIGITS = re.compile(r"\D+")


@dataclass(frozen=True, slots=True)
class ProspectRecord:
    property_id: str
    prospect_id: str
    person_id: str
    #: As ResMan returns it: the lead customer carries the ProspectID/PersonID identifications.
    prospect: Prospect
    created_at: datetime
    modified_at: datetime

    @property
    def status(self) -> CustomerType:
        return self.prospect.lead.customer_type


def email_key(email: str | None) -> str | None:
    key = (email or "").strip().casefold()
    return key or None


def phone_key(phone: str | None) -> str | None:
    """Digits only; the last ten when longer, so "+1 (555) 010-0000" matches "5550100000"."""
    digits = _NON_DIGITS.sub("", phone or "")
    if not digits:
        return None
    return digits[-10:]


def name_key(first: str | None, last: str | None) -> str | None:
    first_key, last_key = (first or "").strip().casefold(), (last or "").strip().casefold()
    if not first_key or not last_key:
        return None
    return f"{first_key}\x1f{last_key}"


def _keys(customers: Iterable[Customer]) -> tuple[set[str], set[str], set[str]]:
    emails: set[str] = set()
    phones: set[str] = set()
    names: set[str] = set()
    for customer in customers:
        if (e := email_key(customer.email)) is not None:
            emails.add(e)
        for phone in customer.phones:
            if (p := phone_key(phone.number)) is not None:
                phones.add(p)
        if (n := name_key(customer.first_name, customer.last_name)) is not None:
            names.add(n)
    return emails, phones, names


class ProspectIndex:
    """The prospects of one property. Not thread-safe: the sandbox runs on one event loop."""

    def __init__(self) -> None:
        self._by_id: dict[str, ProspectRecord] = {}
        self._by_modified: list[tuple[datetime, str]] = []
        self._lookups: tuple[dict[str, set[str]], dict[str, set[str]], dict[str, set[str]]] = (
            {},
            {},
            {},
        )

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[ProspectRecord]:
        return iter(self._by_id.values())

    def get(self, prospect_id: str) -> ProspectRecord | None:
        return self._by_id.get(prospect_id)

    def put(self, record: ProspectRecord) -> None:
        """Insert or replace a record, keeping every index in step."""
        old = self._by_id.get(record.prospect_id)
        if old is not None:
            self._unindex(old)
            position = bisect.bisect_left(self._by_modified, (old.modified_at, old.prospect_id))
            del self._by_modified[position]
        self._by_id[record.prospect_id] = record
        self._index(record)
        # A change is almost always the newest, so this is an append in practice.
        bisect.insort(self._by_modified, (record.modified_at, record.prospect_id))

    def put_many(self, records: Iterable[ProspectRecord]) -> None:
        """Bulk insert of new records (loading, seeding): one sort instead of n inserts."""
        for record in records:
            if record.prospect_id in self._by_id:
                self.put(record)
                continue
            self._by_id[record.prospect_id] = record
            self._index(record)
            self._by_modified.append((record.modified_at, record.prospect_id))
        self._by_modified.sort()

    def _index(self, record: ProspectRecord) -> None:
        for keys, table in zip(_keys(record.prospect.customers), self._lookups, strict=True):
            for key in keys:
                table.setdefault(key, set()).add(record.prospect_id)

    def _unindex(self, record: ProspectRecord) -> None:
        for keys, table in zip(_keys(record.prospect.customers), self._lookups, strict=True):
            for key in keys:
                ids = table.get(key)
                if ids is not None:
                    ids.discard(record.prospect_id)
                    if not ids:
                        del table[key]

    def _bounds(self, start: datetime, end: datetime) -> tuple[int, int]:
        # "" sorts before every prospect id, so (t, "") bounds all records modified at t.
        lo = bisect.bisect_left(self._by_modified, (start, ""))
        hi = bisect.bisect_left(self._by_modified, (end, ""))
        return lo, max(lo, hi)

    def count_window(self, start: datetime, end: datetime) -> int:
        """How many records have start <= modified_at < end."""
        lo, hi = self._bounds(start, end)
        return hi - lo

    def window(self, start: datetime, end: datetime) -> list[ProspectRecord]:
        """Records with start <= modified_at < end, oldest change first."""
        lo, hi = self._bounds(start, end)
        return [self._by_id[pid] for _, pid in self._by_modified[lo:hi]]

    def modified_since(self, since: datetime | None) -> list[ProspectRecord]:
        lo = 0 if since is None else bisect.bisect_left(self._by_modified, (since, ""))
        return [self._by_id[pid] for _, pid in self._by_modified[lo:]]

    def _lookup(self, table: dict[str, set[str]], key: str | None) -> list[ProspectRecord]:
        ids = table.get(key, set()) if key is not None else set()
        return sorted(
            (self._by_id[pid] for pid in ids), key=lambda r: (r.modified_at, r.prospect_id)
        )

    def by_email(self, email: str) -> list[ProspectRecord]:
        """Case-insensitive exact match on any customer's email."""
        return self._lookup(self._lookups[0], email_key(email))

    def by_phone(self, phone: str) -> list[ProspectRecord]:
        """Match on digits (see :func:`phone_key`)."""
        return self._lookup(self._lookups[1], phone_key(phone))

    def by_name(self, first_name: str, last_name: str) -> list[ProspectRecord]:
        """Case-insensitive exact match on first and last name."""
        return self._lookup(self._lookups[2], name_key(first_name, last_name))
