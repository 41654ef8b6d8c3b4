"""Constructing the client: URL validation and configuration from Settings."""

from __future__ import annotations

import pytest

from leadsync.config import Settings
from leadsync.resman import RequestBudget, ResManClient


@pytest.mark.parametrize("url", ["ftp://api.example", "api.myresman.com", "http://", ""])
def test_base_url_must_be_absolute_http(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        ResManClient(base_url=url)


async def test_from_settings_applies_timeouts_pool_and_budget() -> None:
    settings = Settings(
        resman_base_url="http://127.0.0.1:9/",
        resman_connect_timeout=1.5,
        resman_read_timeout=9.0,
        resman_requests_per_second=3.0,
        resman_burst=4,
        resman_max_connections=7,
    )
    async with ResManClient.from_settings(settings) as client:
        assert client.base_url == "http://127.0.0.1:9"
        assert client.timeout.connect == 1.5
        assert client.timeout.read == 9.0
        assert client.budget is not None
        assert (client.budget.rate, client.budget.burst) == (3.0, 4)
        assert client.max_connections == 7
    assert isinstance(client.budget, RequestBudget)
