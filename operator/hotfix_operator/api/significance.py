"""Which changes of a Hotfix's status are worth a write now, and which are detail that can wait.

Every write is an etcd write and a watch event for every client. A person or a decision needs the
phase, the decision, each condition's status and reason, the checkpoints, the targets and the timeline
the moment they change; the numbers of an analysis whose result did not change (its time, summary,
measured values, the wording of a condition's message) can wait for the next detail write.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

# Fields of the status whose sub-fields are detail except for the ones named.
# alertRules.windowOpen is what the next step compares to decide whether to publish again: never detail.
_KEPT_SUBFIELDS = {
    "lastAnalysis": ("result",),
    "verification": ("result", "since"),
    "alertRules": ("state", "name", "windowOpen"),
}


def significant(status: dict[str, Any]) -> dict[str, Any]:
    """The part of a status (API form) that a person or a decision needs as soon as it changes."""
    projected = dict(status)
    for name, kept in _KEPT_SUBFIELDS.items():
        if isinstance(projected.get(name), dict):
            projected[name] = {key: projected[name][key] for key in kept if key in projected[name]}
    projected["conditions"] = [
        (c.get("type"), c.get("status"), c.get("reason"), c.get("observedGeneration"))
        for c in status.get("conditions") or []
    ]
    return projected


def detail_period(configured: float, hotfixes: int, writes_per_second: float) -> float:
    """How often each Hotfix writes the detail of an unchanged analysis: the configured period, or longer when
    ``hotfixes`` writing that often would exceed ``writes_per_second`` together. Once a minute each is 167
    writes a second at 10,000 Hotfixes, more than one API server absorbs beside its other work (35-55 a
    second measured on the test bed, and every analysis fell further behind); the detail can wait, what a
    person or a decision needs is written at once whatever the number."""
    return max(configured, hotfixes / writes_per_second)


def detail_due(
    key: str,
    age: float | None,
    period: float,
    boundary: float | None = None,
    interval: float | None = None,
    written_boundary: float | None = None,
) -> bool:
    """Whether the detail of an unchanged analysis may be written now (``age``: seconds since this process
    last wrote the Hotfix's status, None when it has not yet).

    A step of an aligned analysis (``boundary``, every ``interval``) writes it on a turn of its own among the
    boundaries of a period, fixed by its key: exactly once a period, and Hotfixes that began together each
    take a share of the boundaries. Were it "once the last write is a period old", a thousand Hotfixes started
    at once would all write at the same boundary and none at the next (at 1,000 Hotfixes those writes
    held up the recording of the analyses for 28 s of a 30 s interval). Any other step: once the last write
    is a period old. A process that has not written the Hotfix yet writes it on its turn, or, outside an aligned
    analysis, at once.

    ``written_boundary``: the boundary of the analysis the last write recorded, when it recorded one. Any write
    carries the detail too, so a turn less than a period of boundaries after it writes nothing: a decision or
    condition written between two turns would otherwise be followed by a detail write an interval later.
    """
    if boundary is None or interval is None:
        return age is None or age >= period
    interval = max(interval, 1.0)
    turns = max(1, math.ceil(period / interval))
    on_turn = round(boundary / interval) % turns == zlib.crc32(key.encode()) % turns
    if age is None:
        # Not written by this process yet (it has just started): on its turn too, not every Hotfix at once
        # (a thousand writes at a restart held up the first step of a new Hotfix by seconds).
        return on_turn
    if written_boundary is not None:
        return on_turn and boundary - written_boundary >= period
    # Not on a turn that comes right after another write (a step that analysed nothing, say): a period apart,
    # give or take the interval a write may have waited behind others.
    return age >= period - interval and on_turn


def needs_write(written: dict[str, Any], status: dict[str, Any], detail_is_due: bool) -> bool:
    """Write now: something significant changed, or detail changed and ``detail_is_due`` (see detail_due)."""
    if status == written:
        return False
    if significant(status) != significant(written):
        return True
    return detail_is_due
