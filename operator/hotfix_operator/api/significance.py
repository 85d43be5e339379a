"""Which changes of a Hotfix's status are worth a write now, and which are detail that can wait.

Every write is an etcd write and a watch event for every client. A person or a decision needs the
phase, the decision, each condition's status and reason, the checkpoints, the targets and the timeline
the moment they change; the numbers of an analysis whose result did not change (its time, summary,
measured values, the wording of a condition's message) can wait for the next detail write.
"""

from __future__ import annotations

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


def needs_write(
    written: dict[str, Any], status: dict[str, Any], detail_age: float | None, detail_period: float
) -> bool:
    """Write now: something significant changed, or detail changed and the last write is ``detail_period``
    old (``detail_age`` None: nothing written by this process yet)."""
    if status == written:
        return False
    if significant(status) != significant(written):
        return True
    return detail_age is None or detail_age >= detail_period
