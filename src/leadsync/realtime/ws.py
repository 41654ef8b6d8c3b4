"""``WS /api/resman/sync/websocket``: live lead events per property, resumable by sequence,
and changes from DomIQ clients. The protocol and its close codes are documented in
:mod:`leadsync.realtime.protocol`.

One connection runs two tasks: the pump writes the subscription's queued events (and a
heartbeat after a quiet interval), the reader applies the client's messages one at a time,
in order. Whichever ends first (the client left or broke the protocol, or the hub ended the
subscription: too slow, shutdown) ends the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from leadsync.api import sessions
from leadsync.api.auth import Principal, authenticate, bearer_token
from leadsync.api.problems import ProblemError
from leadsync.db.session import DatabaseError, read_session
from leadsync.errors import DomainError
from leadsync.realtime import commands
from leadsync.realtime.eventlog import must_resync
from leadsync.realtime.hub import EventHub, Subscription
from leadsync.realtime.protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_GOING_AWAY,
    CLOSE_INTERNAL_ERROR,
    CLOSE_PROTOCOL,
    CLOSE_RESYNC,
    CLOSE_TOO_BIG,
    CLOSE_UNAUTHORIZED,
    CloseConnection,
    Subscribe,
    decode,
    error_text,
    heartbeat_text,
    message_id_of,
    parse_command,
    parse_envelope,
    parse_subscribe,
    system_text,
)
from leadsync.telemetry.logging import get_logger

if TYPE_CHECKING:
    # The runtime wires every layer together; those that only use it import it for types
    # alone, so no import runs back up to it (see pyproject's import contracts).
    from leadsync.runtime import Runtime

router = APIRouter(tags=["realtime"])
log = get_logger(__name__)

_UNAVAILABLE = ProblemError(
    503, "Service unavailable", "the database is unavailable; send the message again later"
)


def _retrieve(task: asyncio.Future[Any]) -> None:
    # Mark a shielded change's outcome as seen when its connection is gone.
    if not task.cancelled():
        task.exception()


@router.websocket("/api/resman/sync/websocket")
async def sync_websocket(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    await Connection(websocket, runtime).run()


class Connection:
    def __init__(self, websocket: WebSocket, runtime: Runtime) -> None:
        self.ws = websocket
        self.rt = runtime
        self.hub: EventHub = runtime.hub
        self._send_lock = asyncio.Lock()

    async def run(self) -> None:
        await self.ws.accept()
        try:
            principal = await self._authenticate()
            target = await self._target(principal)
            await self.hub.catch_up()
            subscription = self.hub.subscribe(target.property_id)
            try:
                await self._start(subscription, since=target.since)
                await self._serve(subscription, principal, floor=target.since or 0)
            finally:
                self.hub.unsubscribe(subscription)
        except CloseConnection as closing:
            if closing.message is not None:
                with contextlib.suppress(WebSocketDisconnect):
                    await self._send(closing.message)
            await self._close(closing.code, closing.reason)
        except WebSocketDisconnect:
            pass

    # --- opening -----------------------------------------------------------------------
    async def _authenticate(self) -> Principal:
        # The key is never logged; uvicorn's access line masks ?token= (see logging).
        header = self.ws.headers.get("authorization")
        token = self.ws.query_params.get("token")
        if not header and not token and (signed_in := await self._dashboard_principal()):
            return signed_in
        try:
            if header or not token:
                token = bearer_token(header)
            async with read_session(self.rt.sessionmaker) as session:
                return await authenticate(session, token=token, cache=self.rt.principals)
        except DomainError as problem:
            raise CloseConnection(CLOSE_UNAUTHORIZED, problem.title, error_text(problem)) from None

    async def _dashboard_principal(self) -> Principal | None:
        """A dashboard page's connection: its session cookie stands for the API key. Only
        from a page of this host (the Origin must match), so another site cannot ride it."""
        cookie = sessions.read(keys=self.rt.keys, cookie=self.ws.cookies.get(sessions.COOKIE))
        origin = urlsplit(self.ws.headers.get("origin", ""))
        if cookie is None or origin.netloc != self.ws.headers.get("host"):
            return None
        async with read_session(self.rt.sessionmaker) as session:
            return await sessions.principal_of(session, session=cookie)

    async def _target(self, principal: Principal) -> Subscribe:
        query = self.ws.query_params
        if "property_id" in query:
            try:
                since = int(query["since"]) if "since" in query else None
                target = Subscribe(uuid.UUID(query["property_id"]), since)
            except ValueError:
                reason = "property_id must be a UUID and since an integer"
                raise CloseConnection(CLOSE_PROTOCOL, reason) from None
            if since is not None and since < 0:
                raise CloseConnection(CLOSE_PROTOCOL, "since must not be negative")
        else:
            try:
                async with asyncio.timeout(self.hub.config.subscribe_timeout_seconds):
                    text = await self._receive_text()
            except TimeoutError:
                raise CloseConnection(CLOSE_PROTOCOL, "no subscribe message") from None
            try:
                target = parse_subscribe(parse_envelope(decode(text)))
            except DomainError as invalid:
                reason = "the first message must be subscribe"
                raise CloseConnection(CLOSE_PROTOCOL, reason, error_text(invalid)) from None
        if target.property_id not in principal.property_ids:
            problem = ProblemError(
                403,
                "Forbidden",
                "this API key may not subscribe to the property",
                errors=[{"field": "property_id", "message": "outside the API key's scope"}],
            )
            raise CloseConnection(CLOSE_FORBIDDEN, "property out of scope", error_text(problem))
        return target

    async def _start(self, subscription: Subscription, *, since: int | None) -> None:
        """Confirm the subscription, then replay what the client missed (when it says)."""
        latest = subscription.start_after
        if since is not None:
            oldest, newest = await self.hub.log_bounds()
            if must_resync(since=since, oldest=oldest, newest=newest):
                bounds = {"since": since, "oldest_sequence": oldest, "latest_sequence": newest}
                message = system_text("resync_required", bounds)
                raise CloseConnection(CLOSE_RESYNC, "resync required", message)
        subscribed = {
            "property_id": str(subscription.property_id),
            "since": since,
            "latest_sequence": latest,
        }
        await self._send(system_text("subscribed", subscribed))
        if since is not None:
            # Up to start_after only: every later event comes through the queue, so none is
            # sent twice or missed at the boundary.
            async for batch in self.hub.replay(subscription.property_id, after=since, upto=latest):
                for _, text in batch:
                    await self._send(text)

    # --- serving -----------------------------------------------------------------------
    async def _serve(self, subscription: Subscription, principal: Principal, *, floor: int) -> None:
        ended = asyncio.create_task(subscription.ended.wait())
        tasks = {
            asyncio.create_task(self._pump(subscription, floor=floor)),
            asyncio.create_task(self._read(principal)),
            ended,
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if ended in done:
            code = subscription.close_code or CLOSE_GOING_AWAY
            raise CloseConnection(code, subscription.close_reason)
        for task in done:
            error = None if task.cancelled() else task.exception()
            if error is None or isinstance(error, WebSocketDisconnect):
                return
            if isinstance(error, CloseConnection):
                raise error
            log.error("realtime connection failed", error=type(error).__name__)
            raise CloseConnection(CLOSE_INTERNAL_ERROR, "internal error")

    async def _pump(self, subscription: Subscription, *, floor: int) -> None:
        while True:
            try:
                async with asyncio.timeout(self.hub.config.heartbeat_seconds):
                    sequence, text = await subscription.queue.get()
            except TimeoutError:
                await self._send(heartbeat_text())
                continue
            if sequence > floor:  # else the client resumed from later than this hub was
                await self._send(text)

    async def _read(self, principal: Principal) -> None:
        while True:
            raw = decode(await self._receive_text())
            message_id = message_id_of(raw)
            try:
                envelope = parse_envelope(raw)
                if envelope.type == "subscribe":
                    raise ProblemError(409, "Already subscribed", "one property per connection")
                command = parse_command(envelope)
                # Shielded: a connection that ends mid-change must not cancel it halfway
                # (e.g. during its commit); it finishes, only its ack is lost.
                change = asyncio.ensure_future(
                    commands.execute(self.rt, principal=principal, command=command)
                )
                change.add_done_callback(_retrieve)
                data = await asyncio.shield(change)
            except DomainError as problem:
                await self._send(error_text(problem, message_id=message_id))
                continue
            except DatabaseError as exc:
                log.warning("realtime command failed", error=type(exc).__name__)
                await self._send(error_text(_UNAVAILABLE, message_id=message_id))
                continue
            await self._send(system_text("ack", data, message_id=message_id))

    async def _receive_text(self) -> str:
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        text = message.get("text")
        if text is None:
            raise CloseConnection(CLOSE_PROTOCOL, "binary frames are not supported")
        if len(text) > self.rt.settings.max_body_bytes:
            raise CloseConnection(CLOSE_TOO_BIG, "message too large")
        return str(text)

    # --- output ------------------------------------------------------------------------
    async def _send(self, text: str) -> None:
        async with self._send_lock:
            await self.ws.send_text(text)

    async def _close(self, code: int, reason: str) -> None:
        if self.ws.application_state == WebSocketState.DISCONNECTED:
            return
        # A peer that stopped reading may never let the close frame out: give up after a
        # while and let the server drop the connection.
        with contextlib.suppress(TimeoutError, WebSocketDisconnect, RuntimeError):
            async with asyncio.timeout(self.hub.config.close_timeout_seconds):
                await self.ws.close(code, reason)
