"""Which revision of a Deployment gets a guard, and what the guard Hotfix says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotfix_operator.api.models import Migrations, Safety, parse_spec
from hotfix_operator.api.policy import GUARDED_REVISION, POLICY_LABEL, parse_policy_spec
from hotfix_operator.api.status import Phase
from hotfix_operator.rules.claims import Claim
from hotfix_operator.rules.guard import (
    DeploymentChange,
    GuardAction,
    GuardBook,
    GuardRecord,
    PolicyRef,
    guard_manifest,
    guard_name,
    plan_guard,
    safety_for,
)
from hotfix_operator.rules.lifecycle import SUPERSEDES

CREATED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DEPLOYMENT_CREATED = CREATED - timedelta(days=1)
POLICY = PolicyRef("shop", "guard-all", "uid-1", parse_policy_spec({"analysis": {"interval": "5s"}}))


def change(revision: int = 3, replica_set: str = "checkout-ccc", previous: int | None = 2) -> DeploymentChange:
    return DeploymentChange("shop", "checkout", revision, replica_set, previous, {}, DEPLOYMENT_CREATED, "0a1b2c3d")


def guard(revision: int = 2, phase: Phase | None = Phase.MONITORING, baseline: str = "checkout-aaa",
          hotfix: str | None = "checkout-bbb") -> GuardRecord:  # fmt: skip
    return GuardRecord(guard_name("checkout", revision), "guard-all", "checkout", revision, CREATED, phase,
                       baseline, hotfix)  # fmt: skip


def test_a_first_change_is_guarded() -> None:
    plan = plan_guard(change(), None, [])
    assert plan.action is GuardAction.GUARD and plan.supersedes is None
    assert "checkout-rev3" in plan.reason


def test_a_newer_change_supersedes_the_running_guard() -> None:
    plan = plan_guard(change(), guard(), [])
    assert plan.action is GuardAction.GUARD and plan.supersedes == "checkout-rev2"


@pytest.mark.parametrize("phase", [Phase.STABLE, Phase.ESCALATED, Phase.SUPERSEDED])
def test_a_finished_guard_is_not_superseded(phase: Phase) -> None:
    plan = plan_guard(change(), guard(phase=phase), [])
    assert plan.action is GuardAction.GUARD and plan.supersedes is None


def test_returning_to_the_guards_rollback_target_is_a_rollback_not_a_change() -> None:
    # The operator's own undo (or a person's kubectl rollout undo) renumbers the old ReplicaSet.
    plan = plan_guard(change(replica_set="checkout-aaa"), guard(phase=Phase.ROLLING_BACK), [])
    assert plan.action is GuardAction.SKIP and "a rollback, not a change" in plan.reason
    plan = plan_guard(change(replica_set="checkout-aaa"), guard(phase=Phase.ROLLED_BACK), [])
    assert plan.action is GuardAction.SKIP


def test_no_second_guard_while_a_rollback_is_under_way() -> None:
    plan = plan_guard(change(), guard(phase=Phase.ROLLING_BACK), [])
    assert plan.action is GuardAction.SKIP and "rolling back" in plan.reason


def test_the_rolled_back_template_applied_again_is_left_to_its_guard() -> None:
    plan = plan_guard(change(replica_set="checkout-bbb"), guard(phase=Phase.ROLLED_BACK), [])
    assert plan.action is GuardAction.SKIP and "escalates" in plan.reason
    # Any other template after a rollback is a new change (a forward fix): guarded, the old guard superseded.
    plan = plan_guard(change(replica_set="checkout-ddd"), guard(phase=Phase.ROLLED_BACK), [])
    assert plan.action is GuardAction.GUARD and plan.supersedes == "checkout-rev2"


def test_the_rolled_back_template_applied_again_after_the_guards_window_gets_a_new_guard() -> None:
    rolled_back = GuardRecord(guard_name("checkout", 2), "guard-all", "checkout", 2, CREATED, Phase.ROLLED_BACK,
                              "checkout-aaa", "checkout-bbb", watching_until=CREATED + timedelta(hours=24))  # fmt: skip
    within = plan_guard(change(replica_set="checkout-bbb"), rolled_back, [], CREATED + timedelta(hours=23))
    assert within.action is GuardAction.SKIP and "escalates" in within.reason
    # The demo's finding: set the same bad image again after the last checkpoint, and nothing watched it.
    after = plan_guard(change(replica_set="checkout-bbb"), rolled_back, [], CREATED + timedelta(hours=25))
    assert after.action is GuardAction.GUARD and after.supersedes is None
    assert "after that guard stopped watching: guarded by checkout-rev3, which judges it again" in after.reason


def test_a_revision_guarded_already_is_not_guarded_twice() -> None:
    assert plan_guard(change(revision=2), guard(revision=2), []).action is GuardAction.SKIP


def test_a_first_revision_has_nothing_to_roll_back_to() -> None:
    plan = plan_guard(change(revision=1, previous=None), None, [])
    assert plan.action is GuardAction.SKIP and "nothing to roll back to" in plan.reason


def test_a_deployment_in_a_persons_hotfix_is_left_to_it() -> None:
    person = Claim("auth-fix", CREATED, Phase.MONITORING, frozenset({"checkout"}))
    plan = plan_guard(change(), None, [person])
    assert plan.action is GuardAction.SKIP and "auth-fix" in plan.reason
    finished = Claim("auth-fix", CREATED, Phase.STABLE, frozenset({"checkout"}))
    assert plan_guard(change(), None, [finished]).action is GuardAction.GUARD


def test_the_guards_of_an_earlier_deployment_of_the_same_name_do_not_count() -> None:
    # Deleted and created again: its revisions count from 1 again, its old guards say nothing about it.
    recreated = DeploymentChange("shop", "checkout", 2, "checkout-fff", 1, {}, CREATED + timedelta(hours=1), "9f")
    plan = plan_guard(recreated, guard(revision=5, phase=Phase.MONITORING), [])
    assert plan.action is GuardAction.GUARD and plan.supersedes is None


def test_guard_names_say_deployment_and_revision_and_fit() -> None:
    assert guard_name("checkout", 7) == "checkout-rev7"
    assert guard_name("checkout", 7, "0a1b2") == "checkout-rev7-0a1b2"
    long_name = guard_name("a" * 253, 12345)
    assert len(long_name) == 253 and long_name.endswith("-rev12345")


def test_safety_comes_from_the_deployments_annotations_over_the_policy() -> None:
    safety, problems = safety_for(Safety(), {"hotfix.dev/migrations": "irreversible"})
    assert safety.migrations is Migrations.IRREVERSIBLE and not problems
    safety, problems = safety_for(Safety(rollback_loses_data=True), {"hotfix.dev/rollback-loses-data": "false"})
    assert safety.rollback_loses_data is False and not problems


def test_a_safety_annotation_that_does_not_parse_reads_as_unsafe_and_says_so() -> None:
    safety, problems = safety_for(
        Safety(),
        {"hotfix.dev/migrations": "maybe", "hotfix.dev/rollback-loses-data": "yes",
         "hotfix.dev/external-dependencies-compatible": "perhaps"},
    )  # fmt: skip
    assert safety.migrations is Migrations.IRREVERSIBLE
    assert safety.rollback_loses_data is True and safety.external_dependencies_compatible is False
    assert len(problems) == 3 and all("annotation hotfix.dev/" in problem for problem in problems)


def test_the_guard_manifest_is_a_valid_observe_mode_hotfix_owned_by_the_policy() -> None:
    manifest = guard_manifest(POLICY, change(), supersedes="checkout-rev2")
    spec = parse_spec(manifest["spec"])
    assert spec.targets[0].observe_only and spec.targets[0].from_revision == 2
    assert spec.incident.id == "checkout-rev3" and spec.analysis.interval.total_seconds() == 5
    metadata = manifest["metadata"]
    assert metadata["labels"] == {POLICY_LABEL: "guard-all"}
    assert metadata["annotations"] == {GUARDED_REVISION: "3", SUPERSEDES: "checkout-rev2"}
    assert metadata["ownerReferences"][0]["uid"] == "uid-1"


def test_the_guard_book_keeps_the_latest_guard_per_deployment() -> None:
    book = GuardBook()
    for revision in (2, 5, 3):
        manifest = guard_manifest(POLICY, change(revision=revision, previous=revision - 1), None)
        manifest["metadata"]["creationTimestamp"] = "2026-11-23T12:00:00Z"
        book.seen("shop", manifest)
    latest = book.latest("shop", "checkout")
    assert latest is not None and latest.name == "checkout-rev5"
    assert book.is_guard("shop", "checkout-rev3") and not book.is_guard("shop", "auth-fix")
    book.gone("shop", "checkout-rev5")
    latest = book.latest("shop", "checkout")
    assert latest is not None and latest.name == "checkout-rev3"
    assert [g.name for g in book.of_policy("shop", "guard-all")] == ["checkout-rev2", "checkout-rev3"]
    # A Hotfix a person wrote is not a guard.
    book.seen("shop", {"metadata": {"name": "auth-fix", "creationTimestamp": "2026-11-23T12:00:00Z"},
                       "spec": {"targets": [{"deployment": "checkout"}]}})  # fmt: skip
    assert not book.is_guard("shop", "auth-fix")
