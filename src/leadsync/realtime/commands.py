"""Changes sent by DomIQ clients over the WebSocket, applied exactly like their HTTP twins:
the same services (store, enqueue the push and log it in one transaction, commit at the
boundary), the same first push attempt, and the same sync status in the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leadsync.api.auth import Principal
from leadsync.leads import service, status
from leadsync.leads.after_commit import after_commit
from leadsync.leads.chat_service import accept_messages
from leadsync.realtime.protocol import ChatMessages, Command, LeadUpdate, NewLead, StatusChange

if TYPE_CHECKING:
    # The runtime wires every layer together; those that only use it import it for types
    # alone, so no import runs back up to it (see pyproject's import contracts).
    from leadsync.runtime import Runtime


async def execute(rt: Runtime, *, principal: Principal, command: Command) -> dict[str, Any]:
    """Apply one change in one transaction; returns the ack's data. A refused change raises
    :class:`~leadsync.errors.DomainError` and writes nothing."""
    extra: dict[str, Any] = {}
    async with rt.sessionmaker() as session:
        match command:
            case NewLead(body=body):
                accepted = await service.accept_lead(session, principal=principal, body=body)
                conversation_id, job_id = accepted.conversation_id, accepted.job_id
                extra["created"] = accepted.created
            case LeadUpdate(conversation_id=target, body=update):
                accepted = await service.update_lead(
                    session, principal=principal, conversation_id=target, body=update
                )
                conversation_id, job_id = accepted.conversation_id, accepted.job_id
            case StatusChange(lead_id=lead_id, body=change):
                changed = await status.change_status(
                    session, principal=principal, lead_id=lead_id, body=change
                )
                conversation_id, job_id = changed.conv.id, changed.job_id
            case ChatMessages(conversation_id=target, body=chat):
                accepted_chat = await accept_messages(
                    session,
                    principal=principal,
                    conversation_id=target,
                    body=chat,
                    window_seconds=rt.settings.transcript_batch_seconds,
                )
                # The transcript waits for its batch window: no first attempt to wait for.
                conversation_id, job_id = accepted_chat.conversation_id, None
                extra["accepted"] = accepted_chat.accepted
                extra["duplicates"] = accepted_chat.duplicates
                job = accepted_chat.job_id
                extra["transcript_job_id"] = str(job) if job is not None else None
        await session.commit()
    state = await after_commit(rt, conversation_id=conversation_id, job_id=job_id)
    return {
        "conversation_id": str(conversation_id),
        "resman_lead_id": state.resman_lead_id,
        "sync_status": state.sync_status,
        **extra,
    }
