"""Freed memory goes back to the system (glibc, as on the machines the operator runs on)."""

from __future__ import annotations

import gc
import json
import weakref
from pathlib import Path

from hotfix_operator.engine.memory import freeze_start_up_objects, limit_arenas, pause_collections_until_frozen, trim

# About the size of a Hotfix in Monitoring as the API server sends it.
HOTFIX_JSON = json.dumps(
    {
        "metadata": {"name": "auth-fix", "labels": {"team": "auth"}},
        "status": {
            "timeline": [{"at": "2026-11-23T12:00:00Z", "type": "Decision", "message": "m" * 200}] * 30,
            "lastAnalysis": {"values": {f"metric-{index}": index * 1.5 for index in range(50)}},
        },
    }
)


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_arenas_are_limited_and_a_burst_of_decoded_hotfixes_is_given_back() -> None:
    assert limit_arenas()
    # A burst like 3,000 Hotfixes decoded at once (and their raw responses), of which a few stay.
    burst = [json.loads(HOTFIX_JSON) for _ in range(3000)]
    responses = [(HOTFIX_JSON + str(index)).encode() for index in range(3000)]
    kept = burst[::50] + responses[::50]
    del burst, responses
    freed_but_kept = _rss_mib()
    assert trim()
    assert _rss_mib() < freed_but_kept - 10, "trimming gave back less than 10 MiB of a burst of about 100 MiB"
    assert len(kept) == 120


class _Cycle:
    itself: object = None


def test_objects_alive_at_start_up_are_left_out_of_every_collection_which_resumes_then() -> None:
    threshold = gc.get_threshold()
    # Dicts holding a list: the collector tracks them (a dict of atoms alone it does not).
    start_up_objects = [{"module-level": [index]} for index in range(1000)]
    try:
        pause_collections_until_frozen()
        assert not gc.isenabled()
        garbage = _Cycle()
        garbage.itself = garbage
        left = weakref.ref(garbage)
        del garbage
        freeze_start_up_objects()
        assert gc.isenabled()
        assert left() is None  # a cycle the start-up dropped is collected, not frozen for good
        collectable = {id(item) for generation in range(3) for item in gc.get_objects(generation)}
        assert not any(id(item) in collectable for item in start_up_objects)
        assert gc.get_freeze_count() >= len(start_up_objects)
        assert gc.get_threshold()[0] > threshold[0]
    finally:
        gc.enable()
        gc.unfreeze()
        gc.set_threshold(*threshold)
