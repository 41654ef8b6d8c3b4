"""State in a SQLite file survives a restart; the in-memory indexes stay consistent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2

from leadsync.resman.models import Customer, Prospect
from leadsync.sandbox import SandboxConfig, SandboxServer, create_sandbox_app
from leadsync.sandbox.prospects import ProspectIndex, ProspectRecord
from leadsync.sandbox.state import MonotonicClock
from sandbox.sandbox_kit import P1, bulk, create, creds, find, lead, modified_at, search

T0 = datetime(2023, 9, 1, tzinfo=UTC)


async def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    config = SandboxConfig(state_file=tmp_path / "state" / "sandbox.db")
    async with (
        SandboxServer(create_sandbox_app(config)) as server,
        httpx2.AsyncClient(base_url=server.base_url) as http,
    ):
        created = await create(http, lead(email="keep@example.test"))
        prospect_id = created.prospect_id or ""
        await http.post(
            f"/admin/properties/{P1}/prospects/{prospect_id}/lost", json={"reason": "No response"}
        )
        before = await find(http, prospect_id)
        stamp = await modified_at(http, prospect_id)
        number = (await http.post("/admin/accounts", json={"name": "Kept PM"})).json()["account_id"]
        prop = (
            await http.post(f"/admin/accounts/{number}/properties", json={"name": "Kept"})
        ).json()["property_id"]
        await http.post(
            "/admin/partners", json={"partner_id": "kept", "api_key": "k", "account_ids": [number]}
        )
        await bulk(http, count=15, start=T0, end=T0 + timedelta(hours=1))

    async with (
        SandboxServer(create_sandbox_app(config)) as server,
        httpx2.AsyncClient(base_url=server.base_url) as http,
    ):
        assert await find(http, prospect_id) == before
        assert await modified_at(http, prospect_id) == stamp
        assert (await search(http, Email="KEEP@example.test")).prospects == (before,)
        window = {"ModifiedStartDateTime": T0.isoformat(), "ModifiedEndDateTime": "2023-09-02"}
        assert len((await search(http, **window)).prospects) == 15
        kept = creds(IntegrationPartnerID="kept", ApiKey="k", AccountID=number, PropertyID=prop)
        answer = await http.post("/Leasing/GetEmployees", data=kept)
        assert answer.json()["Status"] == "Success"
        # Changes after the restart are newer than everything before it.
        await http.post(f"/admin/properties/{P1}/prospects/{prospect_id}/reactivate", json={})
        assert await modified_at(http, prospect_id) > stamp


async def test_memory_state_starts_empty_each_time() -> None:
    for _ in range(2):
        async with (
            SandboxServer(create_sandbox_app()) as server,
            httpx2.AsyncClient(base_url=server.base_url) as http,
        ):
            assert (await http.get("/admin/stats")).json()["prospects"] == 0
            await create(http, lead())


def _record(prospect_id: str, moment: datetime, email: str) -> ProspectRecord:
    prospect = Prospect(customers=(Customer(first_name="A", last_name="B", email=email),))
    return ProspectRecord(P1, prospect_id, "person", prospect, moment, moment)


def test_index_keeps_window_and_lookups_in_step_with_updates() -> None:
    index = ProspectIndex()
    index.put_many([_record(f"id-{n}", T0, f"p{n}@x.test") for n in range(5)])
    index.put(_record("id-2", T0 + timedelta(seconds=5), "moved@x.test"))

    assert index.count_window(T0, T0 + timedelta(microseconds=1)) == 4
    assert [r.prospect_id for r in index.window(T0, T0 + timedelta(seconds=6))] == [
        "id-0",
        "id-1",
        "id-3",
        "id-4",
        "id-2",
    ]
    assert index.by_email("p2@x.test") == []
    assert [r.prospect_id for r in index.by_email("MOVED@x.test")] == ["id-2"]
    assert len(index) == 5
    assert index.count_window(T0 + timedelta(seconds=6), T0) == 0  # an inverted window


def test_clock_never_repeats_or_goes_back() -> None:
    frozen = MonotonicClock(lambda: T0)
    stamps = [frozen.now() for _ in range(3)]
    assert stamps == [T0, T0 + timedelta(microseconds=1), T0 + timedelta(microseconds=2)]
    later = MonotonicClock(lambda: T0)
    later.advance_past(T0 + timedelta(hours=1))
    assert later.now() > T0 + timedelta(hours=1)
