"""The lifecycle's pure rules: outcomes under each mode, ETA bookkeeping, checkpoints, conditions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotfix_operator.api.models import RollbackMode, parse_spec
from hotfix_operator.api.status import HotfixStatus, Phase, append_timeline, set_condition
from hotfix_operator.rules.decision import Action, Decision, Rule
from hotfix_operator.rules.lifecycle import (
    due_checkpoint,
    forward_fix_due,
    is_recent_deploy,
    outcome_of,
    verification_bound,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def decision(action: Action) -> Decision:
    return Decision(action=action, rule=Rule.ROOT_CAUSE_UNKNOWN, reason="r")


@pytest.mark.parametrize(
    ("action", "mode", "phase", "roll_back", "pending", "dry_run"),
    [
        (Action.ROLLBACK, RollbackMode.AUTO, Phase.ROLLING_BACK, True, False, False),
        (Action.ROLLBACK, RollbackMode.MANUAL, Phase.MONITORING, False, True, False),
        (Action.ROLLBACK, RollbackMode.DRY_RUN, Phase.MONITORING, False, False, True),
        (Action.FORWARD_FIX, RollbackMode.AUTO, Phase.FORWARD_FIX_PENDING, False, False, False),
        (Action.ESCALATE, RollbackMode.AUTO, Phase.ESCALATED, False, False, False),
        (Action.HOLD, RollbackMode.AUTO, Phase.MONITORING, False, False, False),
        (Action.CONTINUE, RollbackMode.AUTO, Phase.MONITORING, False, False, False),
    ],
)
def test_outcome_under_each_mode(
    action: Action, mode: RollbackMode, phase: Phase, roll_back: bool, pending: bool, dry_run: bool
) -> None:
    outcome = outcome_of(decision(action), mode, Phase.MONITORING)
    assert (outcome.phase, outcome.roll_back, outcome.pending_confirmation, outcome.dry_run) == (
        phase, roll_back, pending, dry_run,
    )  # fmt: skip


def test_rollback_all_asks_siblings_only_in_auto_mode() -> None:
    assert outcome_of(decision(Action.ROLLBACK_ALL), RollbackMode.AUTO, Phase.MONITORING).roll_back_siblings
    assert not outcome_of(decision(Action.ROLLBACK_ALL), RollbackMode.MANUAL, Phase.MONITORING).roll_back_siblings


def spec(**incident: object) -> object:
    return parse_spec({"incident": {"id": "I", "severity": "SEV1", **incident}, "targets": [{"deployment": "a"}]})


def test_forward_fix_eta_counts_from_when_it_is_first_seen_and_restarts_when_it_changes() -> None:
    known = spec(rootCause="known", forwardFixEta="20m")
    due, seen = forward_fix_due(known, HotfixStatus(), NOW)
    assert (due, seen) == (NOW + timedelta(minutes=20), "20m")
    later = NOW + timedelta(minutes=5)
    status = HotfixStatus(forward_fix_due_at=due, forward_fix_eta_seen=seen)
    assert forward_fix_due(known, status, later)[0] == due
    changed = spec(rootCause="known", forwardFixEta="10m")
    assert forward_fix_due(changed, status, later)[0] == later + timedelta(minutes=10)
    assert forward_fix_due(spec(), status, later) == (None, None)


def test_due_checkpoint() -> None:
    checkpoints = parse_spec(
        {"incident": {"id": "I", "severity": "SEV1"}, "targets": [{"deployment": "a"}],
         "stability": {"checkpoints": ["1h", "4h"]}}
    )  # fmt: skip
    assert due_checkpoint(checkpoints, HotfixStatus(), NOW) is None
    rolled_out = HotfixStatus(rollout_completed_at=NOW - timedelta(minutes=59))
    assert due_checkpoint(checkpoints, rolled_out, NOW) is None
    rolled_out.rollout_completed_at = NOW - timedelta(hours=1)
    assert due_checkpoint(checkpoints, rolled_out, NOW) == timedelta(hours=1)


def test_recent_deploy_window_is_inclusive() -> None:
    assert is_recent_deploy(NOW - timedelta(hours=2), NOW, timedelta(hours=2))
    assert not is_recent_deploy(NOW - timedelta(hours=2, seconds=1), NOW, timedelta(hours=2))
    assert not is_recent_deploy(None, NOW, timedelta(hours=2))


def test_condition_transition_time_moves_only_on_status_change() -> None:
    conditions = set_condition([], "Healthy", "True", "A", "", NOW, 1)
    later = NOW + timedelta(minutes=1)
    same = set_condition(conditions, "Healthy", "True", "B", "m", later, 2)
    assert same[0].last_transition_time == NOW and same[0].reason == "B"
    flipped = set_condition(same, "Healthy", "False", "C", "", later, 2)
    assert flipped[0].last_transition_time == later
    assert len(flipped) == 1


def test_timeline_is_bounded_and_keeps_the_first_entry() -> None:
    timeline = []
    for index in range(150):
        timeline = append_timeline(timeline, NOW, "T", str(index))
    assert len(timeline) == 100
    assert timeline[0].message == "0"
    assert timeline[-1].message == "149"


def test_verification_waits_at_most_verify_for_plus_the_longest_window() -> None:
    spec = parse_spec(
        {
            "incident": {"id": "INC-1", "severity": "SEV1"},
            "targets": [{"deployment": "a"}],
            "analysis": {"interval": "10s", "errorRate": {"for": "5m"}, "crashFreeSessions": {"over": "2m"}},
            "rollback": {"verifyFor": "15s"},
        }
    )
    # A verifyFor shorter than the error-rate window still waits for that window to be judged.
    assert verification_bound(spec) == timedelta(seconds=15) + timedelta(minutes=5) + timedelta(seconds=20)
