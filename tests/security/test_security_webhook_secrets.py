"""Webhook secret entries as stored in the sealed credentials: reading, rotating, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from standardwebhooks import Webhook

from leadsync.security.webhook_secrets import (
    WebhookSecret,
    generate_secret,
    read_secrets,
    rotated,
    stored,
)

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_plain_strings_and_expiring_entries_are_read_and_malformed_ones_skipped() -> None:
    later = NOW + timedelta(hours=1)
    plain = {
        "webhook_secrets": [
            "whsec_a",
            {"secret": "whsec_b", "expires_at": later.isoformat()},
            {"secret": "whsec_c"},  # no expiry: not ours, skipped
            {"secret": "whsec_d", "expires_at": "tomorrow"},
            42,
            "",
        ]
    }
    assert read_secrets(plain) == [WebhookSecret("whsec_a"), WebhookSecret("whsec_b", later)]
    assert read_secrets({}) == []
    assert read_secrets(None) == []
    assert read_secrets({"webhook_secrets": stored(read_secrets(plain))}) == read_secrets(plain)


def test_rotation_puts_the_new_secret_first_and_bounds_the_old_ones() -> None:
    earlier = NOW + timedelta(minutes=5)
    entries = [
        WebhookSecret("whsec_current"),
        WebhookSecret("whsec_leaving", earlier),
        WebhookSecret("whsec_gone", NOW - timedelta(seconds=1)),
    ]
    out = rotated(entries, new_secret="whsec_new", grace=timedelta(hours=24), now=NOW)
    assert out == [
        WebhookSecret("whsec_new"),
        WebhookSecret("whsec_current", NOW + timedelta(hours=24)),
        # An earlier end is kept: a rotation never extends an old secret's life.
        WebhookSecret("whsec_leaving", earlier),
    ]
    assert rotated(entries, new_secret="whsec_new", grace=timedelta(0), now=NOW) == [
        WebhookSecret("whsec_new")
    ]


def test_an_entry_is_active_until_its_end() -> None:
    entry = WebhookSecret("whsec_x", NOW)
    assert entry.active(NOW - timedelta(microseconds=1))
    assert not entry.active(NOW)
    assert WebhookSecret("whsec_y").active(NOW + timedelta(days=3650))


def test_generated_secrets_are_usable_and_distinct() -> None:
    first, second = generate_secret(), generate_secret()
    assert first != second
    assert first.startswith("whsec_")
    Webhook(first)  # the Standard Webhooks library accepts it
