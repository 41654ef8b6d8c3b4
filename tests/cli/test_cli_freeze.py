"""Long-running commands (`up`, `serve`, `worker`, `sandbox`) move what start-up made into
the collector's permanent generation, so a full collection no longer pauses every request
for the whole heap of imported modules."""

from __future__ import annotations

import gc
import weakref

from leadsync.cli.run import freeze_start_up


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_start_up_objects_are_frozen_and_garbage_is_collected_first() -> None:
    garbage = weakref.ref(Cycle())  # unreachable, but only the collector frees a cycle
    assert garbage() is not None
    try:
        freeze_start_up()
        assert gc.get_freeze_count() > 1000  # at least the modules imported so far
        # Frozen garbage would never be freed: it was collected before.
        assert garbage() is None
    finally:
        gc.unfreeze()
