"""Persistence of the sandbox state: nothing (memory, the default) or a SQLite file.

The in-memory state stays the source of truth while running; the file is written through on
every change and read once at start, so a restarted sandbox finds its tenants and prospects.
Prospects are JSON rows keyed (property_id, prospect_id) with modified_at indexed, so the file
is also easy to inspect with the sqlite3 shell.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from pydantic import TypeAdapter

from leadsync.sandbox.prospects import ProspectRecord
from leadsync.sandbox.tenants import Account, Partner, Property

_RECORD = TypeAdapter(ProspectRecord)
_ACCOUNT = TypeAdapter(Account)
_PROPERTY = TypeAdapter(Property)
_PARTNER = TypeAdapter(Partner)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS prospects (
    property_id TEXT NOT NULL,
    prospect_id TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (property_id, prospect_id)
);
CREATE INDEX IF NOT EXISTS prospects_modified ON prospects (property_id, modified_at);
"""


@dataclass(slots=True)
class Snapshot:
    accounts: list[Account] = field(default_factory=list)
    properties: list[Property] = field(default_factory=list)
    partners: list[Partner] = field(default_factory=list)
    prospects: list[ProspectRecord] = field(default_factory=list)


class Store(Protocol):
    def load(self) -> Snapshot: ...

    def put_tenants(
        self,
        *,
        accounts: Sequence[Account] = (),
        properties: Sequence[Property] = (),
        partners: Sequence[Partner] = (),
    ) -> None: ...

    def put_prospects(self, records: Sequence[ProspectRecord]) -> None: ...

    def close(self) -> None: ...


class MemoryStore:
    """Keeps nothing: the state lives and dies with the process."""

    def load(self) -> Snapshot:
        return Snapshot()

    def put_tenants(
        self,
        *,
        accounts: Sequence[Account] = (),
        properties: Sequence[Property] = (),
        partners: Sequence[Partner] = (),
    ) -> None:
        return None

    def put_prospects(self, records: Sequence[ProspectRecord]) -> None:
        return None

    def close(self) -> None:
        return None


def _sortable(moment: datetime) -> str:
    # Fixed width UTC text sorts like the instant it stands for.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SqliteStore:
    """Write-through SQLite file (stdlib sqlite3; writes are small and local)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # The app may be built in one thread and served in another; all use is on one loop.
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: durable across a process crash, which is what a sandbox needs.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._db.commit()

    def load(self) -> Snapshot:
        snapshot = Snapshot()
        for kind, data in self._db.execute("SELECT kind, data FROM tenants ORDER BY kind, key"):
            if kind == "account":
                snapshot.accounts.append(_ACCOUNT.validate_json(data))
            elif kind == "property":
                snapshot.properties.append(_PROPERTY.validate_json(data))
            elif kind == "partner":
                snapshot.partners.append(_PARTNER.validate_json(data))
        rows = self._db.execute("SELECT data FROM prospects ORDER BY property_id, modified_at")
        snapshot.prospects = [_RECORD.validate_json(data) for (data,) in rows]
        return snapshot

    def put_tenants(
        self,
        *,
        accounts: Sequence[Account] = (),
        properties: Sequence[Property] = (),
        partners: Sequence[Partner] = (),
    ) -> None:
        rows = [
            *(("account", str(a.account_id), _ACCOUNT.dump_json(a).decode()) for a in accounts),
            *(("property", p.property_id, _PROPERTY.dump_json(p).decode()) for p in properties),
            *(("partner", p.partner_id, _PARTNER.dump_json(p).decode()) for p in partners),
        ]
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO tenants (kind, key, data) VALUES (?, ?, ?)", rows
            )

    def put_prospects(self, records: Sequence[ProspectRecord]) -> None:
        rows = [
            (r.property_id, r.prospect_id, _sortable(r.modified_at), _RECORD.dump_json(r).decode())
            for r in records
        ]
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO prospects (property_id, prospect_id, modified_at, data) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )

    def close(self) -> None:
        self._db.close()


def open_store(path: Path | None) -> Store:
    return MemoryStore() if path is None else SqliteStore(path)
