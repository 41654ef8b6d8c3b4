"""The pure parts of api/auth.py: reading the bearer token, a principal's property scope,
and the principal cache (authenticating against the database: tests/admin)."""

from __future__ import annotations

import uuid

import pytest

from leadsync.api.auth import Principal, PrincipalCache, bearer_token
from leadsync.api.problems import ProblemError


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "missing Authorization header"),
        ("", "missing Authorization header"),
        ("Basic abc", "Authorization must be 'Bearer <api key>'"),
        ("Bearer    ", "Authorization must be 'Bearer <api key>'"),
    ],
)
def test_a_missing_or_foreign_authorization_is_401(header: str | None, detail: str) -> None:
    with pytest.raises(ProblemError) as raised:
        bearer_token(header)
    assert raised.value.status == 401
    assert raised.value.detail.startswith(detail)
    assert raised.value.headers == {"WWW-Authenticate": 'Bearer realm="leadsync"'}


@pytest.mark.parametrize("header", ["Bearer lsk_abc", "bearer lsk_abc", "BEARER  lsk_abc "])
def test_the_token_is_read_whatever_the_scheme_case(header: str) -> None:
    assert bearer_token(header) == "lsk_abc"


def test_a_principal_refuses_a_property_outside_its_scope_naming_the_field() -> None:
    mine, other = uuid.uuid4(), uuid.uuid4()
    principal = Principal(key_id=uuid.uuid4(), name="chatbot", property_ids=frozenset({mine}))

    principal.require(mine)
    with pytest.raises(ProblemError) as raised:
        principal.require(other, field="domiq_property_id")

    assert raised.value.status == 403
    assert str(other) in raised.value.detail
    assert raised.value.errors == [
        {"field": "domiq_property_id", "message": "property outside the API key's scope"}
    ]


def test_the_cache_returns_what_it_was_given_by_key_hash_only() -> None:
    cache = PrincipalCache()
    principal = Principal(key_id=uuid.uuid4(), name="k", property_ids=frozenset())

    cache.put("hash-a", principal)

    assert cache.get("hash-a") is principal
    assert cache.get("hash-b") is None
