"""All ORM models; importing this package registers every table on `Base.metadata`."""

from leadsync.db.base import Base
from leadsync.db.models.access import ApiKey, ApiKeyProperty
from leadsync.db.models.chat import ChatMessage
from leadsync.db.models.domiq import Contact, Conversation, Property, TourBooking
from leadsync.db.models.inbound import IdempotencyKey, RealtimeEvent, WebhookInbox
from leadsync.db.models.link import LeadLink, StatusHistory, SyncConflict
from leadsync.db.models.retired import RetiredProspect
from leadsync.db.models.settings import AppSetting
from leadsync.db.models.sync import LeadSyncLog, LeadSyncQueue, ResmanIntegration

__all__ = [
    "ApiKey",
    "ApiKeyProperty",
    "AppSetting",
    "Base",
    "ChatMessage",
    "Contact",
    "Conversation",
    "IdempotencyKey",
    "LeadLink",
    "LeadSyncLog",
    "LeadSyncQueue",
    "Property",
    "RealtimeEvent",
    "ResmanIntegration",
    "RetiredProspect",
    "StatusHistory",
    "SyncConflict",
    "TourBooking",
    "WebhookInbox",
]
