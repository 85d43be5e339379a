"""Policy guards: which Deployment revision gets a guard Hotfix, and what that Hotfix says.

Pure: the watch adapters hand in what they saw (a Deployment's revision and ReplicaSets, the guards and
claims that exist) and get back a plan. The rules that keep guards from looping or piling up:

- a revision that returns a Deployment to its guard's rollback target is a rollback (the operator's own
  undo, or a person's), never a change to guard;
- a revision that re-applies the template a guard rolled back is left to that guard, which escalates
  (something re-applies a bad template: the operator does not fight it);
- while a guard rolls back, a change to its Deployment starts no second guard;
- a Deployment in the hands of a Hotfix a person wrote is left to it;
- otherwise the newer revision gets the guard, and an older guard still running is superseded by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from hotfix_operator.api.durations import parse_duration
from hotfix_operator.api.models import API_VERSION, KIND, Migrations, Safety
from hotfix_operator.api.policy import (
    DEPENDENCIES_ANNOTATION,
    GUARDED_REVISION,
    LOSES_DATA_ANNOTATION,
    MIGRATIONS_ANNOTATION,
    POLICY_KIND,
    POLICY_LABEL,
    HotfixPolicySpec,
)
from hotfix_operator.api.status import TERMINAL_PHASES, Phase
from hotfix_operator.rules.claims import ACTING_PHASES, Claim
from hotfix_operator.rules.lifecycle import SUPERSEDES

NAME_LIMIT = 253


def guard_name(deployment: str, revision: int, suffix: str = "") -> str:
    """``<deployment>-rev<revision>``: what a person looks for after ``kubectl rollout history``; a suffix
    tells apart the guards of two Deployments of the same name (one deleted, then created again)."""
    ending = f"-rev{revision}" + (f"-{suffix}" if suffix else "")
    return deployment[: NAME_LIMIT - len(ending)].rstrip("-.") + ending


def created_at(body: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(body["metadata"]["creationTimestamp"]).replace("Z", "+00:00"))


def _boolean(annotations: dict[str, str], key: str, unsafe: bool, problems: list[str]) -> bool | None:
    value = annotations.get(key)
    if value is None:
        return None
    if value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    problems.append(f"annotation {key}: expected true or false, not {value!r}; read as {str(unsafe).lower()}")
    return unsafe


def safety_for(defaults: Safety, annotations: dict[str, str]) -> tuple[Safety, list[str]]:
    """The policy's safety facts overridden by the Deployment's annotations. A value that does not parse is
    read as the unsafe answer (a rollback is never automatic on a guess that it is safe) and reported."""
    problems: list[str] = []
    migrations = defaults.migrations
    if MIGRATIONS_ANNOTATION in annotations:
        try:
            migrations = Migrations(annotations[MIGRATIONS_ANNOTATION].strip())
        except ValueError:
            migrations = Migrations.IRREVERSIBLE
            problems.append(f"annotation {MIGRATIONS_ANNOTATION}: expected none, reversible or irreversible, not "
                            f"{annotations[MIGRATIONS_ANNOTATION]!r}; read as irreversible")  # fmt: skip
    loses_data = _boolean(annotations, LOSES_DATA_ANNOTATION, True, problems)
    compatible = _boolean(annotations, DEPENDENCIES_ANNOTATION, False, problems)
    if loses_data is None:
        loses_data = defaults.rollback_loses_data
    if compatible is None:
        compatible = defaults.external_dependencies_compatible
    safety = Safety(rollback_loses_data=loses_data, migrations=migrations, external_dependencies_compatible=compatible)
    return safety, problems


@dataclass(frozen=True)
class PolicyRef:
    namespace: str
    name: str
    uid: str
    spec: HotfixPolicySpec


@dataclass(frozen=True)
class DeploymentChange:
    """A Deployment seen at a new revision, with the two revisions of its history that matter."""

    namespace: str
    deployment: str
    revision: int
    replica_set: str
    previous_revision: int | None
    annotations: dict[str, str]
    created_at: datetime
    uid: str


def guard_manifest(
    policy: PolicyRef, change: DeploymentChange, supersedes: str | None, suffix: str = ""
) -> dict[str, Any]:
    """The guard Hotfix of one revision: observe mode, the revision before the change as rollback target."""
    assert change.previous_revision is not None
    name = guard_name(change.deployment, change.revision, suffix)
    safety, _ = safety_for(policy.spec.safety, change.annotations)
    spec = policy.spec
    annotations = {GUARDED_REVISION: str(change.revision)}
    if supersedes:
        annotations[SUPERSEDES] = supersedes
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": change.namespace,
            "labels": {POLICY_LABEL: policy.name},
            "annotations": annotations,
            "ownerReferences": [
                {"apiVersion": API_VERSION, "kind": POLICY_KIND, "name": policy.name, "uid": policy.uid}
            ],
        },
        "spec": {
            "incident": {
                "id": name,
                "severity": spec.incident.severity.value,
                "rootCause": spec.incident.root_cause.value,
                "affectedServices": [change.deployment],
            },
            "targets": [{"deployment": change.deployment, "fromRevision": change.previous_revision}],
            "safety": safety.to_api(),
            "analysis": spec.analysis.to_api(),
            "stability": spec.stability.to_api(),
            "rollout": spec.rollout.to_api(),
            "rollback": spec.rollback.to_api(),
            "notify": spec.notify.to_api(),
            "serviceAccountName": spec.service_account_name,
        },
    }


@dataclass(frozen=True)
class GuardRecord:
    """A guard Hotfix as the watch last delivered it."""

    name: str
    policy: str
    deployment: str
    revision: int
    created_at: datetime
    phase: Phase | None
    baseline_replica_set: str | None
    hotfix_replica_set: str | None
    # A RolledBack guard watches for its template coming back until then (its last checkpoint after the
    # undo); after it nothing does. None: not rolled back, or not known.
    watching_until: datetime | None = None

    @property
    def running(self) -> bool:
        return self.phase not in TERMINAL_PHASES


def watching_until(body: dict[str, Any]) -> datetime | None:
    """Until when a RolledBack Hotfix watches for its template coming back (its last checkpoint after the undo)."""
    completed = (body.get("status") or {}).get("rollbackCompletedAt")
    checkpoints = (((body.get("spec") or {}).get("stability") or {}).get("checkpoints")) or ["24h"]
    try:
        return datetime.fromisoformat(completed.replace("Z", "+00:00")) + parse_duration(str(checkpoints[-1]))
    except (AttributeError, ValueError):
        return None


def guard_record(body: dict[str, Any]) -> GuardRecord | None:
    """The guard a Hotfix object is, or None for a Hotfix a person wrote (or one that does not parse)."""
    metadata = body.get("metadata") or {}
    policy = (metadata.get("labels") or {}).get(POLICY_LABEL)
    if not policy:
        return None  # read on every watch event of every Hotfix: the common case first
    targets = (body.get("spec") or {}).get("targets") or []
    try:
        revision = int((metadata.get("annotations") or {}).get(GUARDED_REVISION, ""))
        deployment = str(targets[0]["deployment"])
    except (ValueError, IndexError, KeyError, TypeError):
        return None
    status = body.get("status") or {}
    recorded = next((t for t in status.get("targets") or [] if t.get("deployment") == deployment), {})
    try:
        phase = Phase(status["phase"]) if status.get("phase") else None
    except ValueError:
        phase = None
    return GuardRecord(
        name=metadata["name"],
        policy=policy,
        deployment=deployment,
        revision=revision,
        created_at=created_at(body),
        phase=phase,
        baseline_replica_set=recorded.get("baselineReplicaSet"),
        hotfix_replica_set=recorded.get("hotfixReplicaSet"),
        watching_until=watching_until(body) if phase is Phase.ROLLED_BACK else None,
    )


class GuardBook:
    """Every guard Hotfix by namespace and Deployment, kept from the Hotfix watch."""

    def __init__(self) -> None:
        self._guards: dict[tuple[str, str], dict[str, GuardRecord]] = {}
        self._where: dict[tuple[str, str], str] = {}

    def seen(self, namespace: str, body: dict[str, Any]) -> None:
        record = guard_record(body)
        if record is None:
            return
        self._guards.setdefault((namespace, record.deployment), {})[record.name] = record
        self._where[(namespace, record.name)] = record.deployment

    def gone(self, namespace: str, name: str) -> None:
        deployment = self._where.pop((namespace, name), None)
        if deployment is None:
            return
        guards = self._guards.get((namespace, deployment), {})
        guards.pop(name, None)
        if not guards:
            self._guards.pop((namespace, deployment), None)

    def is_guard(self, namespace: str, name: str) -> bool:
        return (namespace, name) in self._where

    def latest(self, namespace: str, deployment: str) -> GuardRecord | None:
        guards = self._guards.get((namespace, deployment), {}).values()
        return max(guards, key=lambda guard: (guard.revision, guard.created_at, guard.name), default=None)

    def of_policy(self, namespace: str, policy: str) -> list[GuardRecord]:
        return sorted(
            (guard for (ns, _), guards in self._guards.items() if ns == namespace for guard in guards.values()
             if guard.policy == policy),
            key=lambda guard: (guard.deployment, guard.revision),
        )  # fmt: skip


class GuardAction(StrEnum):
    GUARD = "guard"
    SKIP = "skip"


@dataclass(frozen=True)
class GuardPlan:
    action: GuardAction
    reason: str
    supersedes: str | None = None


def plan_guard(
    change: DeploymentChange, latest: GuardRecord | None, claims: list[Claim], now: datetime | None = None
) -> GuardPlan:
    """Whether the Deployment's new revision gets a guard, and which older guard it supersedes."""
    name = guard_name(change.deployment, change.revision)
    if latest is not None and latest.created_at < change.created_at:
        latest = None  # the guard of an earlier Deployment of the same name (deleted, then created again)
    if latest is not None and latest.revision >= change.revision:
        return GuardPlan(GuardAction.SKIP, f"revision {change.revision} is guarded already by {latest.name}")
    if change.previous_revision is None:
        return GuardPlan(GuardAction.SKIP, f"revision {change.revision} is the first: nothing to roll back to")
    person = next(
        (claim for claim in claims if change.deployment in claim.deployments and claim.phase in ACTING_PHASES),
        None,
    )
    if person is not None:
        return GuardPlan(GuardAction.SKIP, f"in the hands of Hotfix {person.name}, which a person wrote")
    if latest is None:
        return GuardPlan(GuardAction.GUARD, f"new revision {change.revision}: guarded by {name}")
    if change.replica_set == latest.baseline_replica_set:
        return GuardPlan(GuardAction.SKIP, f"revision {change.revision} returns to the rollback target of "
                         f"{latest.name} ({change.replica_set}): a rollback, not a change")  # fmt: skip
    if latest.phase is Phase.ROLLING_BACK:
        return GuardPlan(GuardAction.SKIP, f"{latest.name} is rolling back; the rollback goes on")
    reapplied = latest.phase is Phase.ROLLED_BACK and change.replica_set == latest.hotfix_replica_set
    still_watching = latest.watching_until is None or now is None or now < latest.watching_until
    if reapplied and still_watching:
        return GuardPlan(GuardAction.SKIP, f"revision {change.revision} re-applies the template {latest.name} "
                         "rolled back; that guard escalates it")  # fmt: skip
    if reapplied:
        # Past that guard's window nobody watches: never leave a rolled-back template unguarded.
        return GuardPlan(GuardAction.GUARD, f"revision {change.revision} re-applies the template {latest.name} "
                         f"rolled back, after that guard stopped watching: guarded by {name}, which judges it "
                         "again")  # fmt: skip
    supersedes = latest.name if latest.running else None
    reason = f"new revision {change.revision}: guarded by {name}"
    return GuardPlan(GuardAction.GUARD, reason + (f", superseding {supersedes}" if supersedes else ""), supersedes)
