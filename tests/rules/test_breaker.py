"""The circuit breaker on policy guards' automatic rollbacks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hotfix_operator.rules.breaker import CLUSTER_SCOPE, Limit, RollbackBreaker, policy_scope

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
POLICY = policy_scope("shop", "guard-all")
LIMITS = [Limit(POLICY, 2, timedelta(minutes=10)), Limit(CLUSTER_SCOPE, 10, timedelta(minutes=10))]


def test_admits_up_to_the_limit_then_refuses_naming_the_scope_and_the_rollbacks() -> None:
    breaker = RollbackBreaker()
    assert breaker.admit("shop/a-rev2", LIMITS, NOW) is None
    assert breaker.admit("shop/b-rev2", LIMITS, NOW + timedelta(seconds=1)) is None
    refused = breaker.admit("shop/c-rev2", LIMITS, NOW + timedelta(seconds=2))
    assert refused is not None
    assert "policy shop/guard-all breaker is open" in refused
    assert "shop/a-rev2, shop/b-rev2" in refused and "at most 2" in refused and "10m" in refused
    # A refused rollback is not counted.
    assert breaker.recent(POLICY, timedelta(minutes=10), NOW + timedelta(seconds=3)) == ["shop/a-rev2", "shop/b-rev2"]


def test_a_rollback_admitted_by_a_step_that_began_later_still_counts() -> None:
    # Steps run side by side: each carries the time it began, and finishes in any order.
    breaker = RollbackBreaker()
    assert breaker.admit("shop/a-rev2", LIMITS, NOW + timedelta(seconds=2)) is None
    assert breaker.admit("shop/b-rev2", LIMITS, NOW + timedelta(seconds=1)) is None
    assert breaker.admit("shop/c-rev2", LIMITS, NOW) is not None


def test_the_same_hotfix_is_counted_once() -> None:
    breaker = RollbackBreaker()
    assert breaker.admit("shop/a-rev2", LIMITS, NOW) is None
    assert breaker.admit("shop/a-rev2", LIMITS, NOW + timedelta(seconds=5)) is None
    assert breaker.admit("shop/b-rev2", LIMITS, NOW + timedelta(seconds=6)) is None


def test_rollbacks_leave_the_window() -> None:
    breaker = RollbackBreaker()
    breaker.admit("shop/a-rev2", LIMITS, NOW)
    breaker.admit("shop/b-rev2", LIMITS, NOW)
    assert breaker.admit("shop/c-rev2", LIMITS, NOW + timedelta(minutes=9)) is not None
    assert breaker.admit("shop/c-rev2", LIMITS, NOW + timedelta(minutes=10)) is None


def test_the_cluster_scope_counts_every_policy() -> None:
    breaker = RollbackBreaker()
    cluster = Limit(CLUSTER_SCOPE, 2, timedelta(minutes=10))
    assert breaker.admit("a/x-rev2", [Limit(policy_scope("a", "p"), 5, timedelta(minutes=10)), cluster], NOW) is None
    assert breaker.admit("b/y-rev2", [Limit(policy_scope("b", "p"), 5, timedelta(minutes=10)), cluster], NOW) is None
    refused = breaker.admit("c/z-rev2", [Limit(policy_scope("c", "p"), 5, timedelta(minutes=10)), cluster], NOW)
    assert refused is not None and "cluster breaker is open" in refused


def test_recorded_rollbacks_from_before_a_restart_count() -> None:
    breaker = RollbackBreaker()
    breaker.record("shop/a-rev2", [POLICY, CLUSTER_SCOPE], NOW - timedelta(minutes=1))
    breaker.record("shop/b-rev2", [POLICY, CLUSTER_SCOPE], NOW - timedelta(minutes=2))
    assert breaker.admit("shop/c-rev2", LIMITS, NOW) is not None
    assert breaker.admit("shop/c-rev2", LIMITS, NOW + timedelta(minutes=9)) is None
