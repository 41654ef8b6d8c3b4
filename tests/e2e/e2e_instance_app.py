"""One API instance of the multi-instance tests, run in its own process:
``python -m uvicorn --factory e2e_instance_app:create`` (this folder on PYTHONPATH).

It is `leadsync serve`'s app, configured from the same ``LEADSYNC_*`` environment, except
that the hub's safety-net poll defaults to an hour: within a test, only LISTEN/NOTIFY can
then bring another instance's events in.
"""

from __future__ import annotations

from fastapi import FastAPI

from leadsync.app import create_app
from leadsync.config import Settings


class InstanceSettings(Settings):
    # Read by HubConfig.from_settings (the ``realtime_<field>`` convention).
    realtime_poll_seconds: float = 3600.0


def create() -> FastAPI:
    return create_app(InstanceSettings())
