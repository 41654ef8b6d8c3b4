"""A pull rests between its batches: a scheduled poll shares the process with the API and
the worker, and on SQLite nothing inside a page of batches need suspend (the page is read
ahead, the batches run inline under a free write lock). Against the bundled sandbox through
the real client, on SQLite and PostgreSQL; the rests asked for are recorded, not slept
through a clock the test controls."""

from __future__ import annotations

from datetime import timedelta

import pytest

from leadsync.db.types import utcnow
from leadsync.sync.pull import run
from leadsync.sync.pull.run import POLL_REST, pull_integration
from sync.sync_kit import Engine


@pytest.mark.parametrize("rest", [0.0, POLL_REST])
async def test_a_pull_rests_after_each_batch_in_proportion(
    engine_kit: Engine, rest: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = utcnow()
    await engine_kit.office_leads(
        count=12, start=now - timedelta(minutes=5), end=now - timedelta(minutes=1)
    )
    rests: list[float] = []
    real_rest = run._rest  # the seam this test watches

    async def recorded(seconds: float) -> None:
        rests.append(seconds)
        await real_rest(seconds)

    monkeypatch.setattr(run, "_rest", recorded)
    summary = await pull_integration(
        sessionmaker=engine_kit.runtime.sessionmaker,
        integration_id=engine_kit.integration_id,
        targets=engine_kit.runtime.targets,
        since=now - timedelta(minutes=10),
        batch_size=2,
        rest=rest,
        trigger="api",
    )
    assert summary.new_leads == 12
    # Every full batch of two is followed by a turn of the loop; a poll's also by a rest
    # that grows with the batch's own time (a bulk pull's is zero: it owns its process).
    assert len(rests) == 6
    if rest:
        assert all(seconds > 0 for seconds in rests)
    else:
        assert rests == [0.0] * 6


async def test_a_negative_rest_is_refused(engine_kit: Engine) -> None:
    with pytest.raises(ValueError, match="rest"):
        await pull_integration(
            sessionmaker=engine_kit.runtime.sessionmaker,
            integration_id=engine_kit.integration_id,
            targets=engine_kit.runtime.targets,
            rest=-1.0,
        )
