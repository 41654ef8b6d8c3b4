"""The dashboard over plain HTTP (no browser): sign-in, the session cookie, CSRF, scoping,
and that its forms change what the API would change. SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import httpx2
from sqlalchemy import select

from dashboard.pages import (
    csrf_of,
    dead_letter,
    parked_phone_conflict,
    possible_duplicate,
    signed_in,
)
from leadsync.admin.apikeys import revoke_api_key
from leadsync.db.models import (
    ApiKeyProperty,
    LeadLink,
    LeadSyncQueue,
    ResmanIntegration,
    SyncConflict,
)
from stack import Stack, create_synced_lead, wait_until


async def _conflict_status(stack: Stack, conflict_id: str) -> str:
    async with stack.runtime.sessionmaker() as session:
        row = await session.get(SyncConflict, uuid.UUID(conflict_id))
    assert row is not None
    return row.status


async def test_pages_need_a_session_and_a_valid_key(stack: Stack) -> None:
    for path in (
        "/dashboard/",
        "/dashboard/conflicts",
        "/dashboard/leads",
        "/dashboard/dead-letters",
    ):
        response = await stack.api.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/dashboard/login"
    # The printed URL without its slash ends on the sign-in page too.
    landing = await stack.api.get("/dashboard", follow_redirects=True)
    assert landing.status_code == 200
    assert "<h1>Sign in</h1>" in landing.text
    refused = await stack.api.post("/dashboard/login", data={"api_key": "lsk_nope_nope"})
    assert refused.status_code == 401
    assert "malformed API key" in refused.text or "invalid" in refused.text
    assert "set-cookie" not in refused.headers
    # Another site's page cannot even sign a browser in (its Origin is refused).
    foreign = await stack.api.post(
        "/dashboard/login",
        data={"api_key": stack.a.api_key},
        headers={"Origin": "http://evil.example"},
    )
    assert foreign.status_code == 403
    assert "set-cookie" not in foreign.headers
    # A forged or tampered cookie is no session.
    async with httpx2.AsyncClient(
        base_url=str(stack.api.base_url), cookies={"leadsync_session": "gAAAAAforged"}
    ) as forger:
        assert (await forger.get("/dashboard/")).status_code == 303


async def test_session_cookie_is_httponly_strict_and_holds_no_key(stack: Stack) -> None:
    response = await stack.api.post("/dashboard/login", data={"api_key": stack.a.api_key})
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert stack.a.api_key not in cookie
    assert stack.a.api_key not in response.headers["location"]


async def test_a_key_sees_only_its_properties(stack: Stack) -> None:
    conversation_id, _ = await create_synced_lead(stack, stack.a)
    async with signed_in(stack, stack.a) as a, signed_in(stack, stack.b) as b:
        mine = await a.get("/dashboard/leads")
        assert str(conversation_id) in mine.text
        theirs = await b.get("/dashboard/leads")
        assert theirs.status_code == 200
        assert str(conversation_id) not in theirs.text
        assert (await a.get(f"/dashboard/leads/{conversation_id}")).status_code == 200
        hidden = await b.get(f"/dashboard/leads/{conversation_id}")
        assert hidden.status_code == 404
        assert "Maria" not in hidden.text
        health_b = await b.get("/dashboard/")
        assert str(stack.b.property_id) in health_b.text
        assert str(stack.a.property_id) not in health_b.text
        # B cannot pause A's integration, even with a valid token of its own session.
        page = await b.get("/dashboard/integrations")
        paused = await b.post(
            "/dashboard/integrations/pause",
            data={
                "csrf": csrf_of(page.text),
                "integration_id": str(stack.a.integration_id),
                "action": "pause",
            },
        )
        assert paused.status_code == 404
    async with stack.runtime.sessionmaker() as session:
        integration = await session.get(ResmanIntegration, stack.a.integration_id)
    assert integration is not None
    assert integration.sync_enabled


async def test_forged_csrf_is_refused_and_changes_nothing(stack: Stack) -> None:
    _, conflict_id = await parked_phone_conflict(stack)
    async with signed_in(stack, stack.a) as a, signed_in(stack, stack.b) as b:
        other_session_token = csrf_of((await b.get("/dashboard/conflicts")).text)
        for token in (None, "forged", other_session_token):
            form = {"conflict_id": conflict_id, "choice": "domiq"}
            if token is not None:
                form["csrf"] = token
            refused = await a.post("/dashboard/conflicts/resolve", data=form)
            assert refused.status_code == 403, token
            assert "CSRF token refused" in refused.text
        # A JSON body is not a dashboard form.
        json_post = await a.post("/dashboard/conflicts/resolve", json={"conflict_id": conflict_id})
        assert json_post.status_code == 415
    assert await _conflict_status(stack, conflict_id) == "open"


async def test_resolving_in_the_dashboard_reaches_the_timeline(stack: Stack) -> None:
    conversation_id, conflict_id = await parked_phone_conflict(stack)
    async with signed_in(stack, stack.a) as a, signed_in(stack, stack.b) as b:
        page = await a.get("/dashboard/conflicts")
        assert conflict_id in page.text
        token = csrf_of(page.text)
        # B does not see it and cannot resolve it.
        assert conflict_id not in (await b.get("/dashboard/conflicts")).text
        b_token = csrf_of((await b.get("/dashboard/conflicts")).text)
        form = {"conflict_id": conflict_id, "choice": "domiq", "csrf": b_token}
        assert (await b.post("/dashboard/conflicts/resolve", data=form)).status_code == 404
        # An edited value is validated like the lead API: refused, named, nothing written.
        bad = {"conflict_id": conflict_id, "choice": "value", "value": "not a phone", "csrf": token}
        refused = await a.post("/dashboard/conflicts/resolve", data=bad)
        assert refused.status_code == 422
        assert "phone" in refused.text
        assert await _conflict_status(stack, conflict_id) == "open"
        good = {"conflict_id": conflict_id, "choice": "domiq", "csrf": token}
        resolved = await a.post("/dashboard/conflicts/resolve", data=good)
        assert resolved.status_code == 303
        assert await _conflict_status(stack, conflict_id) == "resolved"
        assert conflict_id not in (await a.get("/dashboard/conflicts")).text
        timeline = await a.get(f"/dashboard/leads/{conversation_id}")
        assert "phone: domiq by dashboard (test)" in timeline.text
        assert "conflict on phone closed by a person" in timeline.text
        assert "update to resman: parked for review" in timeline.text
        again = await a.post("/dashboard/conflicts/resolve", data=good)
        assert again.status_code == 409


async def test_replaying_a_dead_letter_from_the_dashboard(stack: Stack) -> None:
    _, job_id = await dead_letter(stack)
    async with signed_in(stack, stack.a) as a, signed_in(stack, stack.b) as b:
        page = await a.get("/dashboard/dead-letters")
        assert job_id in page.text
        assert "transaction_source" in page.text
        b_page = await b.get("/dashboard/dead-letters")
        assert job_id not in b_page.text
        stolen = {"job_id": job_id, "csrf": csrf_of(b_page.text)}
        assert (await b.post("/dashboard/dead-letters/replay", data=stolen)).status_code == 404
        form = {"job_id": job_id, "csrf": csrf_of(page.text)}
        replayed = await a.post("/dashboard/dead-letters/replay", data=form)
        assert replayed.status_code == 303

    async def succeeded() -> bool:
        async with stack.runtime.sessionmaker() as session:
            state = await session.scalar(
                select(LeadSyncQueue.state).where(LeadSyncQueue.id == uuid.UUID(job_id))
            )
        return state == "succeeded"

    await wait_until(succeeded)


async def test_pause_and_resume_an_integration(stack: Stack) -> None:
    async with signed_in(stack, stack.a) as a:
        page = await a.get("/dashboard/integrations")
        token = csrf_of(page.text)
        form = {"integration_id": str(stack.a.integration_id), "action": "pause", "csrf": token}
        assert (await a.post("/dashboard/integrations/pause", data=form)).status_code == 303
        assert "PAUSED" in (await a.get("/dashboard/integrations")).text
        async with stack.runtime.sessionmaker() as session:
            row = await session.get(ResmanIntegration, stack.a.integration_id)
            assert row is not None
            assert not row.sync_enabled
        form["action"] = "resume"
        assert (await a.post("/dashboard/integrations/pause", data=form)).status_code == 303
        doctor = await a.get("/dashboard/integrations", params={"doctor": "true"})
        assert "credentials valid" in doctor.text
        assert "rollback flag" not in doctor.text, "a property's key must not flip the switch"
    async with stack.runtime.sessionmaker() as session:
        row = await session.get(ResmanIntegration, stack.a.integration_id)
    assert row is not None
    assert row.sync_enabled


async def test_a_possible_duplicate_merged_as_the_same_person(stack: Stack) -> None:
    first_prospect, second, conflict_id = await possible_duplicate(stack)
    async with signed_in(stack, stack.a) as a:
        page = await a.get("/dashboard/conflicts")
        assert "Possible duplicate" in page.text
        assert first_prospect in page.text
        form = {"conflict_id": conflict_id, "csrf": csrf_of(page.text)}
        merged = await a.post("/dashboard/conflicts/merge", data=form)
        assert merged.status_code == 303, merged.text
        assert conflict_id not in (await a.get("/dashboard/conflicts")).text
        timeline = await a.get(f"/dashboard/leads/{second}")
        assert "duplicate_lead: merged by" in timeline.text
    async with stack.runtime.sessionmaker() as session:
        row = await session.get(SyncConflict, uuid.UUID(conflict_id))
        link = await session.scalar(
            select(LeadLink.resman_prospect_id).where(LeadLink.conversation_id == uuid.UUID(second))
        )
    assert row is not None
    assert (row.status, row.resolution) == ("resolved", "merged")
    assert link == first_prospect


async def test_a_possible_duplicate_dismissed_as_two_people(stack: Stack) -> None:
    first_prospect, second, conflict_id = await possible_duplicate(stack)
    async with signed_in(stack, stack.a) as a:
        page = await a.get("/dashboard/conflicts")
        form = {"conflict_id": conflict_id, "choice": "dismiss", "csrf": csrf_of(page.text)}
        assert (await a.post("/dashboard/conflicts/resolve", data=form)).status_code == 303
        # A dismissed duplicate cannot be merged any more.
        form = {"conflict_id": conflict_id, "csrf": csrf_of(page.text)}
        assert (await a.post("/dashboard/conflicts/merge", data=form)).status_code == 409
    assert await _conflict_status(stack, conflict_id) == "dismissed"
    async with stack.runtime.sessionmaker() as session:
        link = await session.scalar(
            select(LeadLink.resman_prospect_id).where(LeadLink.conversation_id == uuid.UUID(second))
        )
    assert link != first_prospect


async def test_revoking_the_key_ends_its_sessions(stack: Stack) -> None:
    async with signed_in(stack, stack.a) as a:
        assert (await a.get("/dashboard/leads")).status_code == 200
        async with stack.runtime.sessionmaker() as session, session.begin():
            key_id = await session.scalar(
                select(ApiKeyProperty.api_key_id).where(
                    ApiKeyProperty.property_id == stack.a.property_id
                )
            )
            assert key_id is not None
            await revoke_api_key(session, key_id=key_id)
        after = await a.get("/dashboard/leads")
        assert after.status_code == 303
        assert after.headers["location"] == "/dashboard/login"


async def test_the_health_page_shows_the_alert_state(stack: Stack) -> None:
    async with signed_in(stack, stack.a) as a:
        before = await a.get("/dashboard/")
        assert "not evaluated by this process" in before.text
        stack.runtime.start_alerts()
        after = await a.get("/dashboard/")
    assert stack.runtime.alerts is not None
    rules = len(stack.runtime.alerts.rules)
    assert f"none firing</span> ({rules} rules evaluated)" in after.text
