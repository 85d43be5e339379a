from __future__ import annotations

import copy
import itertools
from typing import Any

from hotfix_operator.api.significance import detail_due, detail_period, needs_write

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


def test_an_unchanged_analysis_waits_for_its_detail_to_be_due() -> None:
    detail = changed(lastAnalysis__at="2026-11-23T12:00:30+00:00", conditions__0__message="error rate 0.2%")
    assert not needs_write(WRITTEN, detail, detail_is_due=False)
    assert needs_write(WRITTEN, detail, detail_is_due=True)
    assert not needs_write(WRITTEN, copy.deepcopy(WRITTEN), detail_is_due=True)


def test_detail_outside_an_aligned_analysis_is_due_once_the_last_write_is_a_period_old() -> None:
    assert detail_due("shop/fix", age=None, period=60)
    assert not detail_due("shop/fix", age=30, period=60)
    assert detail_due("shop/fix", age=60, period=60)


def test_each_hotfix_writes_its_detail_once_a_period_on_a_boundary_of_its_own() -> None:
    boundaries = [1_764_000_000.0 + 30 * index for index in range(8)]
    turns = {key: [b for b in boundaries if detail_due(key, 45, 60, b, 30)] for key in ("a/x", "a/y")}
    for taken in turns.values():
        assert [later - earlier for earlier, later in itertools.pairwise(taken)] == [60.0] * 3
    # An interval that does not divide the period: never more often than the period.
    taken = [b for b in (1_764_000_000.0 + 45 * index for index in range(8)) if detail_due("a/x", 45, 60, b, 45)]
    assert all(later - earlier >= 60 for earlier, later in itertools.pairwise(taken))


def test_a_process_that_has_not_written_a_hotfix_yet_writes_its_detail_on_its_turn() -> None:
    """After a restart: each Hotfix on a boundary of its own, not all thousand at the first one."""
    keys = [f"bench-load/fix-{index}" for index in range(1000)]
    first_boundary = sum(detail_due(key, None, 60, 1_764_000_000.0, 30) for key in keys)
    assert 400 < first_boundary < 600
    assert all(detail_due(key, None, 60, 1_764_000_000.0, 30) or detail_due(key, None, 60, 1_764_000_030.0, 30)
               for key in keys)  # fmt: skip


def test_a_turn_right_after_another_write_waits_for_the_next() -> None:
    """A decision written 10 s ago: the detail's turn a moment later writes nothing (at 1 s, 60 turns)."""
    turn = next(b for b in (1_764_000_000.0 + index for index in range(60)) if detail_due("a/x", 60, 60, b, 1))
    assert not detail_due("a/x", 10, 60, turn, 1)
    assert detail_due("a/x", 59, 60, turn, 1)


def test_a_write_between_two_turns_carries_the_detail_of_the_next() -> None:
    """A condition written at a boundary off its turn: the turn an interval later writes nothing, the one after
    writes; a Hotfix on its turns only writes once a period (at 30 s: every second boundary)."""
    boundaries = [1_764_000_000.0 + 30 * index for index in range(12)]
    turns = [b for b in boundaries if detail_due("a/x", 45, 60, b, 30)]
    off_turn = next(b for b in boundaries if b not in turns and b > turns[0])
    assert not detail_due("a/x", 30, 60, off_turn + 30, 30, written_boundary=off_turn)
    assert detail_due("a/x", 90, 60, off_turn + 90, 30, written_boundary=off_turn)
    assert all(detail_due("a/x", 60, 60, turn + 60, 30, written_boundary=turn) for turn in turns)


def test_writes_per_period_stay_at_one_when_a_decision_comes_between_turns() -> None:
    """Over ten minutes at 30 s with one significant write: 11 writes, never a detail write a turn after it."""
    boundaries = [1_764_000_000.0 + 30 * index for index in range(20)]
    significant_at = boundaries[7]
    written: list[float] = []
    for boundary in boundaries:
        last = written[-1] if written else None
        age = None if last is None else boundary - last
        if boundary == significant_at or detail_due("a/x", age, 60, boundary, 30, written_boundary=last):
            written.append(boundary)
    assert significant_at in written
    assert len(written) <= 11
    detail_gaps = [later - earlier for earlier, later in itertools.pairwise(written) if later != significant_at]
    assert min(detail_gaps) >= 60


def test_hotfixes_started_together_share_the_boundaries_of_a_period() -> None:
    keys = [f"bench-load/fix-{index}" for index in range(1000)]
    per_boundary = [sum(detail_due(key, 45, 60, 1_764_000_000.0 + 30 * turn, 30) for key in keys) for turn in (0, 1)]
    assert sum(per_boundary) == 1000
    assert min(per_boundary) > 400, per_boundary


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
        assert needs_write(WRITTEN, status, detail_is_due=False), status


def test_the_detail_period_stretches_to_keep_many_hotfixes_within_the_write_budget() -> None:
    assert detail_period(60, 100, 20) == 60
    assert detail_period(60, 1200, 20) == 60
    assert detail_period(60, 10_000, 20) == 500
    # Spread over the boundaries of the longer period, 10,000 Hotfixes at 30 s write 20 a second at most.
    keys = [f"ns-{index % 100}/fix-{index}" for index in range(10_000)]
    period = detail_period(60, len(keys), 20)
    boundary = 1_764_000_000.0
    writes = [sum(detail_due(key, period, period, boundary + 30 * turn, 30) for key in keys) for turn in range(17)]
    assert sum(writes) == len(keys)
    assert max(writes) / 30 <= 20 * 1.15, writes
