"""PII and secrets never reach the logs, whatever form they take in an event."""

from __future__ import annotations

import json
import logging
from datetime import UTC

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from leadsync.telemetry import logging as redaction
from leadsync.telemetry.logging import (
    OWN_FIELDS,
    REDACTED,
    configure_logging,
    get_logger,
    redact_pii,
    redact_text,
)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("lead jane.doe+test@example.co.uk posted", "jane.doe+test@example.co.uk"),
        ("call +1 (512) 555-0199 today", "555-0199"),
        ("phone 5125550199", "5125550199"),
        ("ApiKey=s3cr3t-value&AccountID=400", "s3cr3t-value"),
        ("IntegrationPartnerID=partner-77&x=1", "partner-77"),
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ("secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2 used", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2"),
        ("tel:+15125550199", "5125550199"),
        (
            "(sqlite3.IntegrityError) UNIQUE constraint failed\n[SQL: INSERT INTO lead_link]\n"
            "[parameters: ('Maria', 'Gomez', 'x')]\n(Background on this error at: ...)",
            "Gomez",
        ),
    ],
)
def test_redact_text_masks_pii_and_secrets(text: str, secret: str) -> None:
    out = redact_text(text)
    assert secret not in out
    assert REDACTED in out


def test_redact_text_keeps_harmless_numbers_and_ids() -> None:
    # Short numbers, HTTP statuses, durations and GUIDs are what operators need to see.
    text = "status=502 took 125 ms attempt 3 prospect 5b8a3b6e-2f3c-4a8e-9a51-2d1f6a7c9e01"
    assert redact_text(text) == text
    for guid in ("cd57bea1-4418-9012-a9bf-0a13f1966c20", "a714d7bd-edda-58d9-8a4c-b91973197e67"):
        assert redact_text(f"integration {guid} pulled") == f"integration {guid} pulled"


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-02 16:38:06 [info] job attempt failed",
        "at 2026-12-02T16:38:06.123456+00:00 and 2026-12-02 16:38:06.5",
        "peer 127.0.0.1:8000 from 10.20.30.40",
    ],
)
def test_timestamps_and_ip_addresses_are_not_garbled(text: str) -> None:
    # They used to come out as "[redacted]:15:[redacted]".
    assert redact_text(text) == text


@given(st.datetimes(timezones=st.just(UTC)))
def test_no_timestamp_is_mistaken_for_a_phone(value: object) -> None:
    assert redact_text(str(value)) == str(value)


@given(st.ip_addresses(v=4))
def test_no_ipv4_address_is_mistaken_for_a_phone(value: object) -> None:
    assert redact_text(f"peer {value}:443") == f"peer {value}:443"


@given(st.uuids())
def test_no_uuid_is_mistaken_for_a_phone(value: object) -> None:
    assert redact_text(str(value)) == str(value)


def _every_pattern(text: str) -> str:
    """`redact_text` without its shortcuts: every pattern, always (the oracle below)."""
    text = redaction._SECRET_PARAM_RE.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = redaction._BEARER_RE.sub(f"Bearer {REDACTED}", text)
    text = redaction._WHSEC_RE.sub(REDACTED, text)
    text = redaction._SQL_PARAMS_RE.sub(f"[parameters: {REDACTED}]", text)
    text = redaction._EMAIL_RE.sub(REDACTED, text)
    return redaction._PHONE_RE.sub(redaction._phone, text)


#: Pieces that make each pattern match, or nearly (case, Unicode look-alikes, spacing).
_PIECES = [
    "apikey=", "ApiKey=", "TOKEN=", "password=x&", "secret= ", "=", "&", "Bearer ", "BEARER\t",
    "bEaReR  x.y", "bearer", "\u212a", "whsec_", "whsec_Ab+/=", "[parameters: ", "[parameters:",
    "\n", "@", "a@b.co", "x.y+z@host-1.example.org", "+1 (512) ", "555-0199", "2026-12-02 16",
    "127.0.0.1", "12:", "0", "9", " ", "-", ".", "(", ")",
]  # fmt: skip


@given(st.lists(st.sampled_from(_PIECES) | st.text(max_size=4), max_size=12).map("".join))
def test_redact_text_skips_only_patterns_that_cannot_match(text: str) -> None:
    # A pattern is skipped when the text lacks a character or word it needs ("@" for an
    # email): that must never change what comes out.
    assert redact_text(text) == _every_pattern(text)


def test_the_pipelines_own_fields_are_not_scanned_but_everything_else_is() -> None:
    # `level`, `logger` and `timestamp` are set by the processors before redaction (over
    # any caller's value); scanning them cost every log line three more passes.
    event = dict.fromkeys(OWN_FIELDS, "call 512-555-0100") | {"note": "call 512-555-0100"}
    out = redact_pii(None, "info", dict(event))
    assert {key: out[key] for key in OWN_FIELDS} == {key: event[key] for key in OWN_FIELDS}
    assert out["note"] == f"call {REDACTED}"


def test_processor_redacts_sensitive_keys_nested_values_and_message() -> None:
    event = {
        "event": "posted lead for bob@example.com",
        "email": "bob@example.com",
        "api_key": "k-123",
        "payload": {"first_name": "Bob", "note": "call 512-555-0100", "count": 3},
        "items": ["x@y.io", 4],
        "status": 200,
    }
    out = redact_pii(None, "info", dict(event))
    assert out["email"] == REDACTED
    assert out["api_key"] == REDACTED
    assert out["payload"]["first_name"] == REDACTED
    assert "512-555-0100" not in out["payload"]["note"]
    assert out["payload"]["count"] == 3
    assert out["items"] == [REDACTED, 4]
    assert "bob@example.com" not in out["event"]
    assert out["status"] == 200


@given(
    user=st.from_regex(r"[a-z][a-z0-9._]{0,15}", fullmatch=True),
    domain=st.from_regex(r"[a-z]{2,10}\.(com|org|io|net)", fullmatch=True),
    prefix=st.text(alphabet=st.characters(categories=["L", "Zs"]), max_size=20),
)
def test_any_email_in_free_text_is_redacted(user: str, domain: str, prefix: str) -> None:
    email = f"{user}@{domain}"
    assert email not in redact_text(f"{prefix} {email} end")


def test_configured_json_logging_redacts_stdlib_and_structlog_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(level="INFO", fmt="json")
    try:
        get_logger("test").info("lead stored", email="ann@example.com", property="p1")
        logging.getLogger("plain").warning("retry for ann@example.com ApiKey=zzz")
        lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    assert len(lines) == 2
    blob = json.dumps(lines)
    assert "ann@example.com" not in blob
    assert "zzz" not in blob
    assert lines[0]["property"] == "p1"
    assert lines[0]["level"] == "info"


def test_a_module_logger_used_before_a_capture_still_reaches_it() -> None:
    """A module's logger, first used under one configured pipeline, follows a later
    `capture_logs` also after logging was configured again (each in-process CLI command of
    the suite does that). The suite turns `CACHE_LOGGERS` off: a cached logger keeps the
    processor list of its first use, and the captured line went to the terminal instead."""
    from leadsync.sync import worker

    configure_logging(level="INFO", fmt="json")
    try:
        worker.log.info("first use, under the first pipeline")
        configure_logging(level="INFO", fmt="json")  # a new processor list
        with structlog.testing.capture_logs() as captured:
            worker.log.error("second use, under the capture")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    assert [entry["event"] for entry in captured] == ["second use, under the capture"]
