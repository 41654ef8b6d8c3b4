"""A chat transcript as ResMan event comments: readable, in order, split to fit, marked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadsync.mapping.to_resman import MAX_COMMENT_CHARS
from leadsync.mapping.transcript import (
    ChatLine,
    holds,
    shown,
    summary_event,
    summary_part,
    transcript_event,
    transcript_parts,
)
from leadsync.resman.models import Event

T0 = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def lines(n: int, *, size: int = 120) -> list[ChatLine]:
    return [
        ChatLine(
            "prospect" if i % 2 == 0 else "assistant",
            f"<{i:03d}> " + "x" * size,
            T0 + timedelta(minutes=i),
        )
        for i in range(n)
    ]


def test_lines_are_packed_in_order_into_parts_that_fit() -> None:
    chat = lines(40)
    parts = transcript_parts(chat, ref="r1", batch="b1")
    assert 2 <= len(parts) <= 5
    assert all(len(p.comments) <= MAX_COMMENT_CHARS for p in parts)
    body = "\n".join(line for p in parts for line in p.comments.split("\n")[1:])
    assert [int(s[s.index("<") + 1 : s.index(">")]) for s in body.split("\n")] == list(range(40))
    assert [p.header for p in parts] == [
        f"DomIQ chat transcript (ref r1, batch b1, part {i}/{len(parts)})"
        for i in range(1, len(parts) + 1)
    ]
    assert parts[0].comments.split("\n")[1].startswith("[2026-12-03 15:00 UTC] Prospect: <000>")
    assert parts[0].at == T0


def test_a_message_longer_than_a_comment_is_cut_at_spaces_and_marked() -> None:
    words = " ".join(f"w{i}" for i in range(2000))
    parts = transcript_parts([ChatLine("prospect", words, T0)], ref="r", batch="b")
    assert len(parts) >= 4
    assert all(len(p.comments) <= MAX_COMMENT_CHARS for p in parts)
    assert all("(cont.)" in p.comments for p in parts[1:])
    text = " ".join(p.comments for p in parts)
    assert all(f"w{i} " in text + " " for i in range(2000))


def test_a_word_without_spaces_is_cut_anyway() -> None:
    parts = transcript_parts([ChatLine("assistant", "y" * 5000, T0)], ref="r", batch="b")
    assert all(len(p.comments) <= MAX_COMMENT_CHARS for p in parts)
    assert sum(p.comments.count("y") for p in parts) == 5000


@pytest.mark.parametrize(
    ("mode", "roles"),
    [("full", {"prospect", "assistant"}), ("prospect_only", {"prospect"}), ("summary_only", set())],
)
def test_privacy_modes_choose_the_lines(mode: str, roles: set[str]) -> None:
    assert {line.role for line in shown(lines(4), mode=mode)} == roles


def test_a_part_resman_holds_is_recognised_by_its_header() -> None:
    [part] = transcript_parts(lines(2), ref="r", batch="b")
    event = transcript_event(part, transaction_source="7")
    assert event.event_type == "Contact"
    assert not event.first_contact
    assert holds([event], part)
    other = transcript_parts(lines(2), ref="r", batch="c")[0]
    assert not holds([event], other)
    assert not holds([Event("Other", T0, comments=None)], part)


def test_summary_part_carries_score_and_summary() -> None:
    part = summary_part(ref="r", batch="b", summary="Wants  a\n2br", lead_score=87.4, at=T0)
    assert part.comments.split("\n") == [
        "DomIQ chat summary update (ref r, batch b)",
        "Lead score: 87/100",
        "Conversation summary: Wants a 2br",
    ]
    assert summary_event(part, transaction_source="7").event_type == "Other"
