"""The lifecycle's rules, as pure functions of the spec, the status and the time.

The controller asks these what to do and records the answers in ``status``; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hotfix_operator.api.durations import format_duration
from hotfix_operator.api.models import HotfixSpec, RollbackMode, RootCause
from hotfix_operator.api.status import AnalysisState, HotfixStatus, Phase
from hotfix_operator.rules.decision import Action, Decision, Facts

# Annotations people and pipelines set (kubectl annotate, GitOps, the kubectl plugin).
APPROVED_BY = "hotfix.dev/approved-by"
ROLLBACK_REQUEST = "hotfix.dev/rollback"
ABORT_REQUEST = "hotfix.dev/abort"
# Give back the GitOps owners held for this Hotfix's rollback (kubectl hotfix resume).
RESUME_GITOPS_REQUEST = "hotfix.dev/resume-gitops"
# Set by the operator on sibling Hotfixes of an incident it rolls back as a whole (rollback-all).
ROLLBACK_REQUESTED_BY = "hotfix.dev/rollback-requested-by"
# Set by the operator on a policy's guards: the older guard of a Deployment that changed again is
# superseded by the newer one, which waits for it to let go of the Deployment.
SUPERSEDED_BY = "hotfix.dev/superseded-by"
SUPERSEDES = "hotfix.dev/supersedes"


def incident_started_at(spec: HotfixSpec, created_at: datetime) -> datetime:
    return spec.incident.started_at or created_at


def forward_fix_due(spec: HotfixSpec, status: HotfixStatus, now: datetime) -> tuple[datetime | None, str | None]:
    """When the promised fix is due. The ETA counts from when the operator first saw it (or saw it change)."""
    eta = spec.incident.forward_fix_eta
    if eta is None or spec.incident.root_cause is not RootCause.KNOWN:
        return None, None
    seen = format_duration(eta)
    if status.forward_fix_due_at is not None and status.forward_fix_eta_seen == seen:
        return status.forward_fix_due_at, seen
    return now + eta, seen


def build_facts(
    spec: HotfixSpec,
    analysis: AnalysisState,
    incident_started: datetime,
    fix_due_at: datetime | None,
    now: datetime,
    rollback_target_present: bool,
    rollout_failure: str | None = None,
) -> Facts:
    return Facts(
        analysis=analysis,
        on_missing_data=spec.analysis.on_missing_data,
        root_cause=spec.incident.root_cause,
        forward_fix_eta_in=(fix_due_at - now) if fix_due_at is not None else None,
        incident_age=max(now - incident_started, timedelta(0)),
        rollback_loses_data=spec.safety.rollback_loses_data,
        migrations=spec.safety.migrations,
        external_dependencies_compatible=spec.safety.external_dependencies_compatible,
        affected_services=spec.affected_services(),
        culprit=spec.incident.culprit or None,
        rollback_target_present=rollback_target_present,
        rollout_failure=rollout_failure,
    )


@dataclass(frozen=True)
class Outcome:
    """What a decision means for the lifecycle under the Hotfix's rollback mode."""

    phase: Phase
    roll_back: bool  # undo this Hotfix's targets now
    roll_back_siblings: bool  # also ask the incident's other recent Hotfixes to roll back
    pending_confirmation: bool = False
    dry_run: bool = False


def outcome_of(decision: Decision, mode: RollbackMode, current: Phase) -> Outcome:
    action = decision.action
    if action in (Action.ROLLBACK, Action.ROLLBACK_ALL):
        siblings = action is Action.ROLLBACK_ALL
        if mode is RollbackMode.DRY_RUN:
            return Outcome(current, roll_back=False, roll_back_siblings=False, dry_run=True)
        if mode is RollbackMode.MANUAL:
            return Outcome(current, roll_back=False, roll_back_siblings=False, pending_confirmation=True)
        return Outcome(Phase.ROLLING_BACK, roll_back=True, roll_back_siblings=siblings)
    if action is Action.FORWARD_FIX:
        return Outcome(Phase.FORWARD_FIX_PENDING, roll_back=False, roll_back_siblings=False)
    if action is Action.ESCALATE:
        return Outcome(Phase.ESCALATED, roll_back=False, roll_back_siblings=False)
    # continue or hold: keep monitoring; a healthy forward-fix hold returns to plain monitoring.
    return Outcome(Phase.MONITORING, roll_back=False, roll_back_siblings=False)


def due_checkpoint(spec: HotfixSpec, status: HotfixStatus, now: datetime) -> timedelta | None:
    """The next stability checkpoint that has come due and is not yet recorded."""
    if status.rollout_completed_at is None:
        return None
    elapsed = now - status.rollout_completed_at
    recorded = len(status.checkpoints)
    checkpoints = spec.stability.checkpoints
    if recorded < len(checkpoints) and elapsed >= checkpoints[recorded]:
        return checkpoints[recorded]
    return None


def is_recent_deploy(completed_at: datetime | None, now: datetime, window: timedelta) -> bool:
    """A rollout counts as a recent deploy of the incident when it completed within the window."""
    return completed_at is not None and now - completed_at <= window


def rolled_back_watch_ends(spec: HotfixSpec, status: HotfixStatus) -> datetime | None:
    """Until when a rolled-back Hotfix watches for its template coming back: its stability window (the
    last checkpoint) from the end of the undo. After that it costs nothing: no reads, no daemon."""
    if status.rollback_completed_at is None:
        return None
    return status.rollback_completed_at + spec.stability.checkpoints[-1]


def verification_bound(spec: HotfixSpec) -> timedelta:
    """How long a rollback's verification may wait for conclusive data before it escalates as unverified:
    ``verifyFor`` plus the longest window a threshold needs, plus two analysis intervals."""
    analysis = spec.analysis
    longest = max(
        analysis.error_rate.for_,
        analysis.latency_p95.window * analysis.latency_p95.consecutive_windows,
        analysis.crash_free_sessions.over,
    )
    return spec.rollback.verify_for + longest + 2 * analysis.interval


# How Flux (kstatus) reads a Hotfix: Ready=True is Current, Reconciling=True is InProgress, Stalled=True
# is Failed, so a pipeline waiting on a Hotfix stops early instead of at its timeout. A rolled-back
# hotfix did not stick: Failed, like an escalation or an unactionable spec.
STALLED_PHASES = frozenset({Phase.ROLLED_BACK, Phase.ESCALATED, Phase.FAILED})


def kstatus_conditions(phase: Phase, outcome_reason: str, outcome_message: str) -> list[tuple[str, str, str, str]]:
    """``(type, status, reason, message)`` of Ready, Reconciling and Stalled for a phase; the outcome is the
    Succeeded condition's reason and message, for the stalled ones."""
    if phase is Phase.STABLE:
        return [
            ("Ready", "True", "Stable", "stable through the last checkpoint"),
            ("Reconciling", "False", "Stable", ""),
            ("Stalled", "False", "Stable", ""),
        ]
    if phase is Phase.SUPERSEDED:
        # Nothing is stuck: the guard of the Deployment's newer revision carries on.
        return [
            ("Ready", "True", "Superseded", outcome_message),
            ("Reconciling", "False", "Superseded", ""),
            ("Stalled", "False", "Superseded", ""),
        ]
    if phase in STALLED_PHASES:
        return [
            ("Ready", "False", outcome_reason or phase.value, outcome_message),
            ("Reconciling", "False", phase.value, ""),
            ("Stalled", "True", outcome_reason or phase.value, outcome_message),
        ]
    return [
        ("Ready", "False", "Progressing", f"phase {phase.value}"),
        ("Reconciling", "True", "Progressing", f"phase {phase.value}"),
        ("Stalled", "False", "Progressing", ""),
    ]
