"""What the Deployment and Hotfix watches cost and feed, before any API call (the calls are tested end to end
in test_policy_e2e.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hotfix_operator.engine.config import OperatorConfig
from hotfix_operator.engine.guarding import PolicyGuarding
from hotfix_operator.rules.claims import ClaimBook

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CREATED = "2026-11-23T11:59:00Z"


def guarding() -> PolicyGuarding:
    config = OperatorConfig(guard_max_rollbacks=5, guard_rollback_window=timedelta(minutes=10))
    return PolicyGuarding(tenants=None, hotfixes=None, claims=ClaimBook(), post_event=None, config=config)  # type: ignore[arg-type]


def deployment(revision: int | None, done: bool = True) -> dict[str, Any]:
    annotations = {} if revision is None else {"deployment.kubernetes.io/revision": str(revision)}
    replicas = 2
    return {
        "metadata": {"namespace": "shop", "name": "checkout", "generation": 3, "annotations": annotations},
        "spec": {"replicas": replicas},
        "status": {"observedGeneration": 3, "replicas": replicas, "updatedReplicas": replicas if done else 1,
                   "availableReplicas": replicas},
    }  # fmt: skip


def test_only_a_new_revision_after_the_first_is_worth_a_look() -> None:
    watch = guarding()
    assert not watch.new_revision("ADDED", deployment(None))  # created, no revision yet
    assert not watch.new_revision("MODIFIED", deployment(1))  # its first revision: nothing to roll back to
    assert not watch.new_revision("MODIFIED", deployment(1))  # a status update
    assert watch.new_revision("MODIFIED", deployment(2))
    assert not watch.new_revision("MODIFIED", deployment(2))
    assert not watch.new_revision("DELETED", deployment(2))
    assert watch.revisions == {}


def test_on_first_sight_only_a_rollout_in_progress_is_worth_a_look() -> None:
    # The operator just started: a finished rollout is history; one under way may be a change it missed.
    assert not guarding().new_revision("ADDED", deployment(4, done=True))
    assert guarding().new_revision("ADDED", deployment(4, done=False))


def test_policies_that_do_not_parse_are_kept_with_their_error_and_guard_nothing() -> None:
    watch = guarding()
    body = {"metadata": {"namespace": "shop", "name": "bad", "uid": "u"}, "spec": {"breaker": {"maxRollbacks": 0}}}
    problem = watch.policy_seen(body)
    assert problem is not None and "spec.breaker.maxRollbacks" in str(problem)
    assert watch.policy("shop", "bad") is None
    watch.policy_gone("shop", "bad")
    assert watch.policies == {}


def test_rollbacks_seen_on_guards_count_against_the_breaker_after_a_restart() -> None:
    watch = guarding()
    watch.policy_seen(
        {"metadata": {"namespace": "shop", "name": "p", "uid": "u"}, "spec": {"breaker": {"maxRollbacks": 1}}}
    )
    rolled_back = {
        "metadata": {"name": "a-rev2", "labels": {"hotfix.dev/policy": "p"}, "creationTimestamp": CREATED},
        "spec": {"targets": [{"deployment": "a"}]},
        "status": {"phase": "RolledBack", "rollbackStartedAt": "2026-11-23T11:59:30Z",
                   "decision": {"action": "rollback", "rule": "root-cause-unknown", "at": "2026-11-23T11:59:20Z"}},
    }  # fmt: skip
    watch.hotfix_seen("shop", rolled_back)
    refused = watch.admit_rollback("shop", "b-rev2", "p", NOW)
    assert refused is not None and "policy shop/p breaker is open" in refused and "shop/a-rev2" in refused
    # A person's rollback (manual-request) is not counted.
    other = guarding()
    other.policy_seen(
        {"metadata": {"namespace": "shop", "name": "p", "uid": "u"}, "spec": {"breaker": {"maxRollbacks": 1}}}
    )
    rolled_back["status"]["decision"]["rule"] = "manual-request"
    other.hotfix_seen("shop", rolled_back)
    assert other.admit_rollback("shop", "b-rev2", "p", NOW) is None
