"""Closed vocabularies stored in string columns, enforced by CHECK constraints.

The spec's values come first and unchanged; values this service adds are marked. Migrations
copy these lists (a migration is frozen history and must not import live code).
"""

from __future__ import annotations

from typing import Final

# --- DomIQ side --------------------------------------------------------------------------
CONVERSATION_STATUSES: Final = (
    "new",
    "contacted",
    "qualified",
    "tour_scheduled",
    "application",
    "leased",
    "lost",
)
#: Where a conversation/lead was first seen: the chatbot, or ResMan (walk-ins, ILS leads).
LEAD_SOURCES: Final = ("chatbot", "resman")
TOUR_TYPES: Final = ("in_person", "virtual", "self_guided")
TOUR_STATUSES: Final = ("scheduled", "confirmed", "completed", "cancelled", "no_show")  # ours
#: chat_message.role (ours): who wrote a chat line.
CHAT_ROLES: Final = ("prospect", "assistant")

# --- spec tables -------------------------------------------------------------------------
INTEGRATION_SYNC_DIRECTIONS: Final = ("to_resman", "from_resman", "bidirectional")
SYNC_STATUSES: Final = ("pending", "success", "failed", "conflict")
SYNC_TYPES: Final = ("create", "update", "status_change", "enrichment")
CONFLICT_STRATEGIES: Final = ("resman_wins", "domiq_wins", "manual_review")
SYNC_OPERATIONS: Final = ("push", "pull", "merge")
#: lead_sync_queue.priority: 1 low, 2 medium, 3 high.
QUEUE_PRIORITIES: Final = (1, 2, 3)

# --- added by this service ---------------------------------------------------------------
QUEUE_STATES: Final = ("queued", "running", "succeeded", "dead")
CHANGE_SOURCES: Final = ("domiq", "resman")
CONFLICT_STATUSES: Final = ("open", "resolved", "dismissed")
#: sync_conflict.conflict_type: a field changed on both sides (`status` when that field is
#: the status), or a new lead that may be a person ResMan already has (`duplicate_lead`,
#: the spec's conflict type).
CONFLICT_TYPES: Final = ("data", "status", "duplicate_lead")
INBOX_STATES: Final = ("pending", "applied", "parked", "ignored")
REALTIME_EVENT_TYPES: Final = (
    "lead_update",
    "status_change",
    "new_lead",
    "sync_conflict",
    "heartbeat",
)
