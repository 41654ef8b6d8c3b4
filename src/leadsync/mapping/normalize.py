"""Normalisation and junk detection of contact values.

Both sides are normalised before any comparison (duplicate search, three-way merge, echo
suppression): "(512) 555-0199" and "+15125550199" are the same phone, "Ann@X.com " and
"ann@x.com" the same email. Junk values (placeholders staff type to get past a required
field) are never written over a real value in ResMan.
"""

from __future__ import annotations

import contextlib
import re
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

DEFAULT_REGION = "US"

#: Placeholder addresses seen in property-management data; never real contacts.
_JUNK_EMAIL_LOCALS = frozenset(
    {"none", "noemail", "no", "na", "n/a", "test", "unknown", "null", "donotreply", "noreply"}
)
_JUNK_EMAIL_DOMAINS = frozenset(
    {"none.com", "noemail.com", "test.com", "example.com", "email.com", "na.com", "unknown.com"}
)
_SPACES = re.compile(r"\s+")


#: Every merge, dedupe and echo check normalises the same few addresses and numbers again
#: (a poll's apply of one prospect: about ten of each); validate_email and phonenumbers
#: cost ~0.1 ms a call, a tenth of a whole apply. Pure functions of their arguments, so
#: their answers are kept (bounded).
_CACHE_SIZE = 8192


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_email(value: str | None) -> str | None:
    """Lower-cased, trimmed, syntactically valid address, or None."""
    if value is None:
        return None
    candidate = value.strip()
    if not candidate:
        return None
    try:
        info = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        return None
    # Domains are case-insensitive; local parts nearly always are in practice, and ResMan
    # matches case-insensitively, so one canonical case keeps comparisons simple.
    return info.normalized.lower()


def normalize_phone(value: str | None, *, region: str = DEFAULT_REGION) -> str | None:
    """E.164 (+15125550199) for a valid number, else None."""
    # A number this function returned comes back here as is (the merge and the echo checks
    # normalise stored E.164 values again): it is its own E.164 form in every region, so it
    # is answered without a second trip through phonenumbers (half of a new lead's parses).
    if value is not None and value in _E164_FORMS:
        return value
    # One cache key per (value, region): lru_cache keys ``f(v)`` and ``f(v, region=r)``
    # apart, which made every new number go through phonenumbers three times.
    e164 = _e164(value, region)
    if e164 is not None:
        _E164_FORMS[e164] = None
        if len(_E164_FORMS) > _CACHE_SIZE:
            # The oldest goes: bounded, like the cache. Another thread evicting at the same
            # moment (not done today: all callers run on the event loop) only skips a turn.
            with contextlib.suppress(RuntimeError, KeyError, StopIteration):
                del _E164_FORMS[next(iter(_E164_FORMS))]
    return e164


#: E.164 forms normalize_phone returned (a dict: ordered, so the oldest goes first).
_E164_FORMS: dict[str, None] = {}


@lru_cache(maxsize=_CACHE_SIZE)
def _e164(value: str | None, region: str) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_name(value: str | None) -> str | None:
    """Trimmed, inner whitespace collapsed; case kept (names are case-sensitive to people)."""
    if value is None:
        return None
    cleaned = _SPACES.sub(" ", value).strip()
    return cleaned or None


def is_junk_email(value: str | None) -> bool:
    """True for empty, invalid or placeholder addresses (none@none.com, test@test.com …)."""
    normalized = normalize_email(value)
    if normalized is None:
        return True
    local, _, domain = normalized.partition("@")
    return local in _JUNK_EMAIL_LOCALS or domain in _JUNK_EMAIL_DOMAINS


def is_junk_phone(value: str | None, *, region: str = DEFAULT_REGION) -> bool:
    """True for empty, invalid, all-zero or single-digit-repeated numbers."""
    if value is None:
        return True
    digits = re.sub(r"\D", "", value)
    if not digits or len(set(digits.lstrip("1"))) <= 1:
        return True
    return normalize_phone(value, region=region) is None


def is_junk_name(value: str | None) -> bool:
    """Placeholders the chatbot uses when a prospect did not give a name."""
    name = normalize_name(value)
    return name is None or name.lower() in {"anonymous", "unknown", "user", "n/a", "na", "none"}


def phone_digits(value: str | None) -> str:
    """Digits only; what ResMan's phone search compares."""
    return re.sub(r"\D", "", value or "")
