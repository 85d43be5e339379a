"""The ``Hotfix`` status: everything the lifecycle needs to resume after a restart lives here.

Pure helpers keep conditions in the Kubernetes shape (``lastTransitionTime`` moves only when the status
of a condition changes) and the timeline bounded.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

TIMELINE_LIMIT = 100


class AnalysisState(StrEnum):
    """The verdict of an analysis (``status.lastAnalysis.result``), and the decision engine's main fact."""

    HEALTHY = "healthy"
    BREACHED = "breached"
    PENDING = "pending"
    INCONCLUSIVE = "inconclusive"
    # Series exist but no request reached the target in the window: nothing to judge, never a breach.
    NO_TRAFFIC = "no-traffic"


class Phase(StrEnum):
    PENDING = "Pending"
    AWAITING_APPROVAL = "AwaitingApproval"
    ROLLING_OUT = "RollingOut"
    MONITORING = "Monitoring"
    FORWARD_FIX_PENDING = "ForwardFixPending"
    ROLLING_BACK = "RollingBack"
    ROLLED_BACK = "RolledBack"
    ESCALATED = "Escalated"
    STABLE = "Stable"
    FAILED = "Failed"
    # A policy's guard whose Deployment changed again: the guard of the newer revision took over.
    SUPERSEDED = "Superseded"


# No further automatic action in these; RolledBack still watches for its template coming back.
TERMINAL_PHASES = frozenset({Phase.ESCALATED, Phase.STABLE, Phase.FAILED, Phase.SUPERSEDED})


class StatusModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_api(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Condition(StatusModel):
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str = ""
    last_transition_time: datetime
    observed_generation: int | None = None


class RevertLine(StatusModel):
    """One pod-template field to change in Git: from the rolled-back value to the restored one."""

    field: str
    bad: Any = None
    restored: Any = None
    # Compared with Git's manifest to tell that Git caught up (image, command, args, env).
    judged: bool = False


class TargetStatus(StatusModel):
    deployment: str
    baseline_revision: int
    baseline_replica_set: str
    hotfix_revision: int | None = None
    hotfix_replica_set: str | None = None
    rollout_completed_at: datetime | None = None
    # The images whose rollout the timeline records, so a kill between the patch and the status write
    # still leaves exactly one RolloutStarted entry per change.
    rollout_noted: str | None = None
    undo_requested_at: datetime | None = None
    # When the undo reached the API server: the rollback's timeout counts from here, not from the decision,
    # so an API outage between the two does not use it up.
    undone_at: datetime | None = None
    undo_skipped: bool | None = None
    undone_to_revision: int | None = None
    # The change to revert in Git, bad -> restored (rules/revert.py), recorded just before the undo.
    revert: list[RevertLine] = Field(default_factory=list)


class GitOpsHold(StatusModel):
    """A GitOps owner (Flux Kustomization or HelmRelease, Argo CD Application) held from re-applying Git
    while its Deployments are rolled back, and what to give back."""

    kind: str
    namespace: str
    name: str
    deployments: list[str] = Field(default_factory=list)
    # What was there before: Flux's spec.suspend (false), Argo CD's spec.syncPolicy.automated.
    previous: Any = None
    # The source revision applied when it was held: Git "catches up" only from a newer one.
    source_revision: str | None = None
    # Recorded before the patch: None until the owner is known to be held (a restart patches again).
    held_at: datetime | None = None
    refused: str | None = None
    resumed_at: datetime | None = None
    # "git" when Git caught up by itself, otherwise who asked (the resume annotation's value).
    resumed_by: str | None = None
    # The last source revision judged, so a verdict on a Git revision is noted once.
    judged_revision: str | None = None

    @property
    def open(self) -> bool:
        return self.refused is None and self.resumed_at is None

    def describe(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


class TimelineEntry(StatusModel):
    at: datetime
    type: str
    message: str
    rule: str | None = None


class DecisionRecord(StatusModel):
    action: str
    rule: str
    reason: str
    at: datetime
    # manual mode: a rollback that waits for a person; dryRun: recorded, never acted on.
    pending_confirmation: bool | None = None
    dry_run: bool | None = None


class CheckpointRecord(StatusModel):
    after: str
    at: datetime
    result: str  # passed | failed
    message: str = ""


class HotfixStatus(StatusModel):
    phase: Phase | None = None
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    targets: list[TargetStatus] = Field(default_factory=list)
    baseline: dict[str, Any] = Field(default_factory=dict)
    last_analysis: dict[str, Any] = Field(default_factory=dict)
    decision: DecisionRecord | None = None
    checkpoints: list[CheckpointRecord] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    # When the promised forward fix is due (absolute), fixed when the operator first sees the ETA.
    forward_fix_due_at: datetime | None = None
    forward_fix_eta_seen: str | None = None
    rollout_completed_at: datetime | None = None
    rollback_started_at: datetime | None = None
    rollback_completed_at: datetime | None = None
    # The rollback request (annotation value) already acted on, so a standing annotation acts once.
    handled_rollback_request: str | None = None
    breach_since_checkpoint: bool | None = None
    first_breach_at: datetime | None = None
    # When the change first reached the Deployments: the analysis window opens here, not at completion.
    rollout_started_at: datetime | None = None
    # After an undo: what was verified, on which data (since, at, result, evidence).
    verification: dict[str, Any] = Field(default_factory=dict)
    # GitOps owners held from re-applying the rolled-back version (engine/gitops_holds.py).
    gitops: list[GitOpsHold] = Field(default_factory=list)
    # The window's PrometheusRule: state (published | withdrawn | unsupported), name, windowOpen.
    alert_rules: dict[str, Any] = Field(default_factory=dict)

    def open_holds(self) -> list[GitOpsHold]:
        return [hold for hold in self.gitops if hold.open]

    @classmethod
    def from_api(cls, status: dict[str, Any] | None) -> HotfixStatus:
        return cls.model_validate(status or {})

    def target(self, deployment: str) -> TargetStatus | None:
        return next((target for target in self.targets if target.deployment == deployment), None)


def set_condition(
    conditions: list[Condition],
    type_: str,
    status: str,
    reason: str,
    message: str,
    now: datetime,
    generation: int | None,
) -> list[Condition]:
    """A new list with one condition set; its transition time moves only if its status changed. The same list
    when the condition says that already: each step sets every condition again, and at 10,000 Hotfixes
    building the unchanged ones anew was a tenth of each step's time."""
    previous = next((condition for condition in conditions if condition.type == type_), None)
    if previous is not None and (previous.status, previous.reason, previous.message, previous.observed_generation) == (
        status,
        reason,
        message,
        generation,
    ):
        return conditions
    transition = previous.last_transition_time if previous is not None and previous.status == status else now
    updated = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=transition,
        observed_generation=generation,
    )
    return [updated if condition.type == type_ else condition for condition in conditions] + (
        [] if previous is not None else [updated]
    )


def append_timeline(
    timeline: list[TimelineEntry], now: datetime, type_: str, message: str, rule: str | None = None
) -> list[TimelineEntry]:
    """A new timeline with the entry added, dropping the oldest beyond the limit (the first is kept)."""
    entries = [*timeline, TimelineEntry(at=now, type=type_, message=message, rule=rule)]
    if len(entries) > TIMELINE_LIMIT:
        # Keep the creation entry: a postmortem needs to know where it started.
        entries = [entries[0], *entries[-(TIMELINE_LIMIT - 1) :]]
    return entries
