"""Typed queue jobs, pure: what each job type writes reads back as the same job, and the
queue's list of writes to ResMan (held by the kill switch and by pull-only integrations)
names exactly the job types that write to ResMan."""

from __future__ import annotations

import pytest

from leadsync.sync.queue import claim_sql
from leadsync.sync.queue.jobs import Job, PushJob, RefreshJob, RetireJob, read_job


def test_the_operations_that_write_to_resman_are_push_and_retire() -> None:
    assert {PushJob.operation, RetireJob.operation} == set(claim_sql.TO_RESMAN_OPERATIONS)
    assert RefreshJob.operation not in claim_sql.TO_RESMAN_OPERATIONS


@pytest.mark.parametrize(
    "job",
    [
        PushJob(sync_type="create", fields={"first_name": "Ann"}),
        PushJob(
            sync_type="status_change",
            fields={"status": "lost"},
            events=({"kind": "status", "status": "lost"},),
            narrative={"initial_message": "Hi", "lead_score": 80},
        ),
        RefreshJob(prospect_id="p-1"),
        RefreshJob(
            prospect_id="p-2",
            inbox_id="7",
            webhook_timestamp="2026-01-02T03:04:05Z",
            sync_type="create",
        ),
        RetireJob(prospect_id="p-3", person_id="pp-3", merged_into="p-4"),
        RetireJob(prospect_id="p-5", person_id=None, merged_into="p-6"),
    ],
    ids=lambda job: type(job).__name__,
)
def test_read_job_round_trips_every_job_type(job: Job) -> None:
    assert read_job(job.operation, job.to_data()) == job


def test_a_push_queued_with_the_old_only_key_reads_back_without_it() -> None:
    old = {"sync_type": "update", "fields": {"email": "a@example.com"}, "only": ["email"]}

    job = read_job("push", old)

    assert job == PushJob(sync_type="update", fields={"email": "a@example.com"})
    assert "only" not in job.to_data()


def test_an_unknown_operation_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown queue operation 'teleport'"):
        read_job("teleport", {})
