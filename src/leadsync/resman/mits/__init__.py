"""MITS LeadManagement 4.0 codec, as ResMan uses it (see docs/RESMAN_PROTOCOL.md).

Pure functions: typed model (``leadsync.resman.models``) <-> XML bytes. Every parse goes
through :func:`safe_parse`, which refuses DOCTYPEs/entities and network access.
"""

from leadsync.resman.mits.build import build_envelope, build_lead_management
from leadsync.resman.mits.parse import (
    element_digest,
    parse_envelope,
    parse_envelope_elements,
    parse_lead_management,
    parse_prospect,
    prospect_id_of,
)
from leadsync.resman.mits.safe import safe_parse

__all__ = [
    "build_envelope",
    "build_lead_management",
    "element_digest",
    "parse_envelope",
    "parse_envelope_elements",
    "parse_lead_management",
    "parse_prospect",
    "prospect_id_of",
    "safe_parse",
]
