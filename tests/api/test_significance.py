from __future__ import annotations

import copy
from typing import Any

from hotfix_operator.api.significance import needs_write

WRITTEN: dict[str, Any] = {
    "phase": "Monitoring",
    "lastAnalysis": {"at": "2026-11-23T12:00:00+00:00", "result": "healthy", "summary": "error rate 0.1%"},
    "conditions": [
        {
            "type": "Healthy",
            "status": "True",
            "reason": "WithinThresholds",
            "message": "error rate 0.1%",
            "lastTransitionTime": "2026-11-23T11:00:00+00:00",
            "observedGeneration": 1,
        },
    ],
    "timeline": [{"at": "2026-11-23T11:00:00+00:00", "type": "RolledOut", "message": "done"}],
    "alertRules": {"state": "published", "name": "hotfix-a", "windowOpen": "2026-11-23T11:00:00+00:00"},
}


def changed(**edits: Any) -> dict[str, Any]:
    status = copy.deepcopy(WRITTEN)
    for path, value in edits.items():
        target = status
        *parents, leaf = path.split("__")
        for parent in parents:
            target = target[int(parent)] if isinstance(target, list) else target[parent]
        target[leaf] = value
    return status


def test_an_unchanged_analysis_waits_for_the_detail_period() -> None:
    detail = changed(lastAnalysis__at="2026-11-23T12:00:30+00:00", conditions__0__message="error rate 0.2%")
    assert not needs_write(WRITTEN, detail, detail_age=30, detail_period=60)
    assert needs_write(WRITTEN, detail, detail_age=60, detail_period=60)
    assert needs_write(WRITTEN, detail, detail_age=None, detail_period=60)
    assert not needs_write(WRITTEN, copy.deepcopy(WRITTEN), detail_age=600, detail_period=60)


def test_what_a_person_or_a_decision_needs_is_written_at_once() -> None:
    for status in (
        changed(phase="RollingBack"),
        changed(lastAnalysis__result="breached"),
        changed(conditions__0__status="False"),
        changed(conditions__0__reason="ThresholdBreached"),
        changed(timeline=[*WRITTEN["timeline"], {"at": "t", "type": "Decision", "message": "roll back"}]),
        changed(decision={"action": "rollback"}),
        changed(alertRules__windowOpen="2026-11-23T11:30:00+00:00"),
    ):
        assert needs_write(WRITTEN, status, detail_age=1, detail_period=60), status
