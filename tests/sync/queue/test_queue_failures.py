"""What a failed job's exception means: the runner decides from this alone."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from leadsync.resman.classify import classify_business_error
from leadsync.resman.errors import (
    AnswerTooLargeError,
    RateLimitedError,
    ResManConnectionError,
    TransientError,
    UnsafeAnswerError,
)
from leadsync.sync.queue.failures import INTERNAL, classify, safe_message

PII = "Maria Gomez, maria.gomez@gmail.com, (512) 555-0199"


@pytest.mark.parametrize(
    ("exc", "category", "permanent"),
    [
        (TransientError("x: HTTP 503", status_code=503), "transient", False),
        (ResManConnectionError("x: connection failed"), "transient", False),
        (RateLimitedError("x: HTTP 429", retry_after=3.0), "rate_limited", False),
        (AnswerTooLargeError(method="x", limit=10, bytes_read=11), "answer_too_large", True),
        (UnsafeAnswerError("x: unsafe XML (DOCTYPE/entity) refused"), "unsafe_xml", True),
        (OperationalError("UPDATE x", {}, Exception("database is locked")), "database", False),
        # Another writer changed the conversation first (optimistic lock): retried, re-read.
        (StaleDataError("UPDATE statement on table 'conversation'"), "database", False),
        (IntegrityError("INSERT", {"email": PII}, Exception("UNIQUE")), INTERNAL, True),
        (KeyError("first_name"), INTERNAL, True),
        (RuntimeError(PII), INTERNAL, True),
    ],
)
def test_classification(exc: Exception, category: str, permanent: bool) -> None:
    failure = classify(exc)
    assert (failure.category, failure.permanent) == (category, permanent)


def test_an_unrecognised_business_error_backs_off_slowly() -> None:
    failure = classify(classify_business_error("Something odd", method="MITS/X"))
    assert (failure.category, failure.permanent, failure.slow) == ("unknown", False, True)
    known = classify(classify_business_error("Email is invalid", method="MITS/X"))
    assert (known.permanent, known.slow) == (True, False)


def test_stored_messages_never_quote_internal_exception_text() -> None:
    exc = IntegrityError("INSERT INTO lead_link", {"email": PII}, Exception("UNIQUE failed"))
    message = safe_message(exc, classify(exc), error_id="abc123")
    assert message == "[internal] IntegrityError (details in the log) (error id abc123)"
    resman = classify_business_error("Email maria.gomez@gmail.com is invalid", method="M")
    shown = safe_message(resman, classify(resman), error_id="e1")
    assert "maria.gomez@gmail.com" not in shown
    assert shown.startswith("[validation] BusinessError: M: Email")
