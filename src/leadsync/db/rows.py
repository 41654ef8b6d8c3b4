"""Loading a row that the caller is about to change.

Conversations are versioned (optimistic lock): an UPDATE whose row changed since it was
read fails with StaleDataError. The API, the worker and the poller change the same
conversation at the same time in ordinary traffic (the office books a tour while the
chatbot updates the lead), so every path that changes a row loads it here: with
``FOR UPDATE`` on PostgreSQL, so concurrent writers queue instead of failing (SQLite has
one writer at a time anyway and ignores the clause), and always re-read from the database
(``populate_existing``), so an instance a session cached before its last commit can never
carry an old version into the UPDATE.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


async def load_for_change(session: AsyncSession, model: type[T], ident: Any) -> T | None:
    return await session.get(model, ident, with_for_update=True, populate_existing=True)
