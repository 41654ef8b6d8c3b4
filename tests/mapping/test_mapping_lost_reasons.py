"""A caller's lost_reason becomes a configured ResMan reason only when it really matches."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadsync.mapping.lost_reasons import choose_lost_reason, reason_key
from leadsync.sync.push.events import build_events

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _reasons(*names: str) -> dict[str, tuple[str, str]]:
    return {name.lower(): (f"id-{i}", name) for i, name in enumerate(names)}


WITH_OTHER = _reasons("Rented elsewhere", "Price too high", "No response", "Other")
WITHOUT_GENERIC = _reasons("Rented elsewhere", "Price too high", "No response")


@pytest.mark.parametrize(
    ("asked", "name", "match"),
    [
        ("Rented elsewhere", "Rented elsewhere", "exact"),
        ("  rented   ELSEWHERE. ", "Rented elsewhere", "exact"),
        ("price", "Price too high", "close"),
        ("Rented elsewhere, closer to work", "Rented elsewhere", "close"),
        ("no response yet", "No response", "close"),
        # Too short to be a clear prefix, and no whole reason inside.
        ("no", "Other", "generic"),
        ("Moved in with her parents", "Other", "generic"),
        # Looks like a reason, but not clearly one: never guessed.
        ("too expensive", "Other", "generic"),
        ("rent", "Other", "generic"),
        ("other", "Other", "exact"),
        (None, "Other", "generic"),
        ("   ", "Other", "generic"),
    ],
)
def test_choice_with_a_generic_reason(asked: str | None, name: str, match: str) -> None:
    choice = choose_lost_reason(asked, WITH_OTHER)
    assert (choice.name, choice.match) == (name, match)
    assert (choice.warning is None) == (match == "exact")


def test_rent_is_not_a_clear_prefix_because_it_is_not_a_whole_word() -> None:
    # "rent" starts "Rented elsewhere" but is not its first word.
    assert choose_lost_reason("rent", WITHOUT_GENERIC).match == "none"


def test_two_candidates_are_no_match() -> None:
    reasons = _reasons("Price too high", "Price increase", "Other")
    assert choose_lost_reason("price", reasons).name == "Other"


def test_without_a_generic_reason_nothing_is_invented() -> None:
    choice = choose_lost_reason("Moved in with her parents", WITHOUT_GENERIC)
    assert choice.reason is None
    assert choice.match == "none"
    assert choice.comment == "Lost reason given: Moved in with her parents"
    assert choice.warning is not None
    assert "no generic reason" in choice.warning


def test_generic_names_are_recognised_in_any_case() -> None:
    for generic in ("OTHER", "Unknown", "Not specified", "Other reason"):
        reasons = _reasons("Rented elsewhere", generic)
        assert choose_lost_reason("went quiet", reasons).name == generic


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_never_an_unrelated_configured_reason(asked: str) -> None:
    """Whatever the text, the reason chosen is the exact one, a clear match, the generic one
    or none; a specific reason is chosen only when its words are in the text or the text
    starts it."""
    choice = choose_lost_reason(asked, WITH_OTHER)
    assert choice.match in ("exact", "close", "generic", "none")
    if choice.match in ("exact", "close"):
        assert choice.name is not None
        key, wanted = reason_key(choice.name), reason_key(asked)
        assert key == wanted or f" {key} " in f" {wanted} " or f"{key} ".startswith(f"{wanted} ")
    else:
        assert choice.name == "Other"


def test_unknown_reason_posts_the_generic_reason_with_the_callers_text() -> None:
    spec = {
        "kind": "status",
        "new": "lost",
        "previous": "contacted",
        "comments": "Said thanks anyway",
        "lost_reason": "Moved in with her parents",
    }
    kind, events = build_events(
        [spec], transaction_source="chatbot", lost_reasons=WITH_OTHER, now=NOW
    )
    [cancel] = events
    assert kind.value == "lost"
    assert cancel.event_type == "Cancel"
    assert cancel.transaction_source == WITH_OTHER["other"][0]
    assert cancel.event_reasons == "Prospect Lost: Other"
    assert cancel.comments == "Said thanks anyway\nLost reason given: Moved in with her parents"


def test_unknown_reason_without_a_generic_one_posts_no_reason() -> None:
    spec = {"kind": "status", "new": "lost", "previous": "new", "lost_reason": "Went quiet"}
    _, [cancel] = build_events(
        [spec], transaction_source="chatbot", lost_reasons=WITHOUT_GENERIC, now=NOW
    )
    assert cancel.transaction_source is None
    assert cancel.event_reasons is None
    assert cancel.comments == "Lost reason given: Went quiet"


def test_notes_become_other_events_even_for_statuses_resman_owns() -> None:
    specs = [
        {"kind": "note", "comments": "Asked about parking"},
        {"kind": "status", "new": "application", "previous": "new", "comments": "Sent the link"},
    ]
    _, events = build_events(specs, transaction_source="chatbot", lost_reasons={}, now=NOW)
    assert [(e.event_type, e.comments, e.transaction_source) for e in events] == [
        ("Other", "Asked about parking", "chatbot"),
        ("Other", "Sent the link", "chatbot"),
    ]
