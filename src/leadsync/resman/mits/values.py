"""Small element/value helpers shared by the builder and the parser.

Parse helpers take the raw text (or None) and return None for absent or whitespace-only
values, because ResMan sends ``<Email/>``, ``<FirstName></FirstName>`` and padded numbers
alike. Errors name the element and, for numbers and booleans only, the offending value: those
are never personal data, whereas free text may be.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from lxml import etree

from leadsync.resman.errors import MalformedXMLError

_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


def local_name(element: etree._Element) -> str:
    """Tag without its namespace (real MITS documents sometimes carry a default xmlns);
    "" for comments and processing instructions, whose tag is not a string."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def clean(raw: str | None) -> str | None:
    """Stripped text, or None when absent or blank."""
    if raw is None:
        return None
    text = raw.strip()
    return text or None


def text_of(element: etree._Element) -> str | None:
    return clean(element.text)


def attr(element: etree._Element, name: str) -> str | None:
    return clean(element.get(name))


def _shown(text: str) -> str:
    return repr(text[:40])


def parse_decimal(raw: str | None, *, where: str) -> Decimal | None:
    text = clean(raw)
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise MalformedXMLError(f"{where}: not a number: {_shown(text)}")
    return value


def parse_int(raw: str | None, *, where: str) -> int | None:
    text = clean(raw)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    # Some producers write counts as decimals ("2.0"); accept them when integral.
    value = parse_decimal(text, where=where)
    if value is None or value != value.to_integral_value():
        raise MalformedXMLError(f"{where}: not an integer: {_shown(text)}")
    return int(value)


def parse_bool(raw: str | None, *, where: str) -> bool:
    """``true``/``1`` (any case) -> True; ``false``/``0``/blank -> False; else an error."""
    text = clean(raw)
    if text is None:
        return False
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise MalformedXMLError(f"{where}: not a boolean: {_shown(text)}")


def format_decimal(value: Decimal) -> str:
    """Plain notation, never an exponent (``Decimal("1E+3")`` -> ``"1000"``)."""
    if not value.is_finite():
        raise ValueError("decimal values must be finite")
    return format(value, "f")
