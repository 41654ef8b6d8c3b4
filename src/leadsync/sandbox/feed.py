"""WebSocket feed of prospect changes (``WS /admin/feed?property_id=...``).

Every change is announced, whether posted through the wire API (``origin: "api"``) or made by
staff (``origin: "staff"``), so a consumer can skip its own writes and still see everything.
Each subscriber has a bounded buffer; one that falls too far behind is disconnected (close
code 1013, try again later) rather than silently missing messages — it should reconnect and
catch up by polling SearchProspects.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from datetime import UTC, datetime
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from leadsync.sandbox.changes import Change, lead_update_payload

CLOSE_TOO_SLOW = 1013


class FeedSubscriber:
    def __init__(self, property_id: str | None, limit: int) -> None:
        self.property_id = property_id
        self.limit = limit
        self.buffer: deque[dict[str, Any]] = deque()
        self.ready = asyncio.Event()
        self.overflowed = False

    def offer(self, message: dict[str, Any]) -> None:
        if len(self.buffer) >= self.limit:
            self.overflowed = True
        else:
            self.buffer.append(message)
        self.ready.set()


class FeedHub:
    def __init__(self, *, queue_size: int = 1_000, heartbeat_seconds: float = 15.0) -> None:
        self._queue_size = queue_size
        self._heartbeat = heartbeat_seconds
        self._subscribers: set[FeedSubscriber] = set()
        self._seq = itertools.count(1)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def _message(self, kind: str, *, property_id: str | None, **extra: Any) -> dict[str, Any]:
        return {
            "seq": next(self._seq),
            "type": kind,
            "property_id": property_id,
            "timestamp": datetime.now(UTC).isoformat(),
            **extra,
        }

    def publish(self, change: Change) -> None:
        if not self._subscribers:
            return
        record = change.record
        message = self._message(
            change.kind.value,
            property_id=record.property_id,
            prospect_id=record.prospect_id,
            origin=change.origin.value,
            data=lead_update_payload(change),
        )
        for subscriber in self._subscribers:
            if subscriber.property_id in (None, record.property_id):
                subscriber.offer(message)

    async def serve(self, websocket: WebSocket, *, property_id: str | None) -> None:
        """Run one subscriber's session until it disconnects or falls behind."""
        subscriber = FeedSubscriber(property_id, self._queue_size)
        # Subscribed before the handshake completes: a client that connects and then acts
        # is sure to see the messages its own actions cause.
        self._subscribers.add(subscriber)
        try:
            await websocket.accept()
            await self._pump(websocket, subscriber)
        except WebSocketDisconnect:
            pass
        finally:
            self._subscribers.discard(subscriber)

    async def _pump(self, websocket: WebSocket, subscriber: FeedSubscriber) -> None:
        # Reading is only for noticing the client leaving; what it sends is ignored.
        incoming = asyncio.create_task(self._until_disconnect(websocket))
        try:
            while not incoming.done():
                ready = asyncio.create_task(subscriber.ready.wait())
                done, _ = await asyncio.wait(
                    {incoming, ready}, timeout=self._heartbeat, return_when=asyncio.FIRST_COMPLETED
                )
                if ready not in done:
                    ready.cancel()
                if incoming in done:
                    return
                if subscriber.overflowed:
                    await websocket.close(code=CLOSE_TOO_SLOW, reason="feed consumer too slow")
                    return
                if not done:
                    await websocket.send_json(
                        self._message("heartbeat", property_id=subscriber.property_id)
                    )
                    continue
                subscriber.ready.clear()
                while subscriber.buffer:
                    await websocket.send_json(subscriber.buffer.popleft())
        finally:
            incoming.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await incoming

    @staticmethod
    async def _until_disconnect(websocket: WebSocket) -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
