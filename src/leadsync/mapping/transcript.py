"""A chat transcript as ResMan event comments (pure): readable lines, split to fit.

Each batch of chat lines becomes one or more ``Contact`` events. Every event's comments start
with a header naming the conversation (``ref``), the batch and the part (``part 2/3``): the
office reads where a long transcript continues, and a retried job recognises the parts
ResMan already holds (ResMan gives events no ids of ours; the header is our idempotency
marker). No event's comments exceed :data:`MAX_COMMENT_CHARS`; a single message longer than
that is cut at a space into pieces marked ``(cont.)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from leadsync.mapping.to_resman import MAX_COMMENT_CHARS, map_lead_score
from leadsync.resman.models import Event, EventType

#: How each role is named in the transcript the office reads.
ROLE_LABELS = {"prospect": "Prospect", "assistant": "DomIQ assistant"}
#: Privacy modes of an integration's ``sync_settings["transcript"]``.
TRANSCRIPT_MODES = ("full", "prospect_only", "summary_only")
DEFAULT_TRANSCRIPT_MODE = "full"
_CONTINUED = "  (cont.) "


@dataclass(frozen=True, slots=True)
class ChatLine:
    role: str
    text: str
    sent_at: datetime


@dataclass(frozen=True, slots=True)
class TranscriptPart:
    #: The first line of the comments: the idempotency marker.
    header: str
    comments: str
    at: datetime


def shown(lines: Iterable[ChatLine], *, mode: str) -> list[ChatLine]:
    """The lines a privacy mode lets reach ResMan (summary_only: none)."""
    if mode == "summary_only":
        return []
    if mode == "prospect_only":
        return [line for line in lines if line.role == "prospect"]
    return list(lines)


def _render(line: ChatLine) -> str:
    when = line.sent_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    text = " ".join(line.text.split())  # one line per message: newlines would blur turns
    return f"[{when} UTC] {ROLE_LABELS.get(line.role, line.role)}: {text}"


def _pieces(text: str, budget: int) -> list[str]:
    """``text`` in pieces of at most ``budget`` characters, cut at a space where possible."""
    pieces: list[str] = []
    prefix = ""
    while len(prefix) + len(text) > budget:
        room = budget - len(prefix)
        cut = text.rfind(" ", 0, room + 1)
        if cut <= room // 2:  # no usable space: cut inside the word
            cut = room
        pieces.append(prefix + text[:cut].rstrip())
        text = text[cut:].lstrip()
        prefix = _CONTINUED
    pieces.append(prefix + text)
    return pieces


def header(*, ref: str, batch: str, part: int, parts: int) -> str:
    return f"DomIQ chat transcript (ref {ref}, batch {batch}, part {part}/{parts})"


def transcript_parts(
    lines: Sequence[ChatLine], *, ref: str, batch: str, limit: int = MAX_COMMENT_CHARS
) -> list[TranscriptPart]:
    """The batch's lines packed greedily, in order, into parts of at most ``limit``
    characters each (header included)."""
    budget = limit - len(header(ref=ref, batch=batch, part=999, parts=999)) - 1
    chunks: list[tuple[list[str], datetime]] = []
    size = budget + 1  # forces a first chunk
    for line in lines:
        for piece in _pieces(_render(line), budget):
            if size + 1 + len(piece) > budget:
                chunks.append(([], line.sent_at))
                size = -1
            chunks[-1][0].append(piece)
            size += 1 + len(piece)
    total = len(chunks)
    parts = []
    for number, (body, at) in enumerate(chunks, start=1):
        head = header(ref=ref, batch=batch, part=number, parts=total)
        parts.append(TranscriptPart(head, "\n".join([head, *body]), at))
    return parts


def summary_part(
    *, ref: str, batch: str, summary: str | None, lead_score: float | None, at: datetime
) -> TranscriptPart:
    """The conversation's current summary and lead score, as a note for the office."""
    head = f"DomIQ chat summary update (ref {ref}, batch {batch})"
    lines = [head]
    score = map_lead_score(lead_score)
    if score is not None:
        lines.append(f"Lead score: {score}/100")
    if summary:
        lines.append(f"Conversation summary: {' '.join(summary.split())}")
    text = "\n".join(lines)
    if len(text) > MAX_COMMENT_CHARS:
        text = text[: MAX_COMMENT_CHARS - 1] + "…"
    return TranscriptPart(head, text, at)


def holds(events: Iterable[Event], part: TranscriptPart) -> bool:
    """ResMan already holds this part (an earlier attempt got through): an event whose
    comments start with the part's header."""
    return any((e.comments or "").strip().split("\n", 1)[0].strip() == part.header for e in events)


def transcript_event(part: TranscriptPart, *, transaction_source: str) -> Event:
    return Event(
        event_type=EventType.CONTACT.value,
        event_date=part.at.astimezone(UTC),
        first_contact=False,
        transaction_source=transaction_source,
        comments=part.comments,
    )


def summary_event(part: TranscriptPart, *, transaction_source: str) -> Event:
    return Event(
        EventType.OTHER.value,
        part.at.astimezone(UTC),
        transaction_source=transaction_source,
        comments=part.comments,
    )
