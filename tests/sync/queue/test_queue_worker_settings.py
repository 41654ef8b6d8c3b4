"""`LEADSYNC_WORKER_CONCURRENCY` sizes the worker the runtime builds: no more jobs run at
once than it allows (the claim asks for the free slots only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from leadsync.config import Settings
from leadsync.runtime import Runtime
from leadsync.security.crypto import generate_key


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'leadsync.db'}",
        data_dir=tmp_path,
        encryption_keys=SecretStr(generate_key()),
        **values,  # type: ignore[arg-type]
    )


async def test_the_runtime_worker_takes_its_concurrency_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEADSYNC_WORKER_CONCURRENCY", raising=False)
    for configured, expected in ((None, 64), ("3", 3)):
        if configured is not None:
            monkeypatch.setenv("LEADSYNC_WORKER_CONCURRENCY", configured)
        runtime = Runtime.build(_settings(tmp_path))
        try:
            assert runtime.worker.concurrency == expected
        finally:
            await runtime.close()


def test_a_worker_concurrency_below_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="worker_concurrency"):
        _settings(tmp_path, worker_concurrency=0)
