"""Drives one Hotfix through its lifecycle, one step at a time, with all state in ``status``.

Each step reads the Hotfix fresh, does the work of its phase through the adapters, and writes the whole
status back. Actions are idempotent (images already set patch nothing; an undo to a template already
running is skipped) and intents are written before the action, so an operator killed at any point
resumes without a second rollout or a second undo.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from hotfix_operator.analysis_queries import AnalysisRequest
from hotfix_operator.analysis_scheduler import AnalysisScheduler
from hotfix_operator.config import OperatorConfig
from hotfix_operator.decision import Action, AnalysisState, Decision, Rule, decide
from hotfix_operator.deployment_rollouts import (
    ConcurrentModification,
    DeploymentError,
    RolloutFailed,
    RolloutInProgress,
)
from hotfix_operator.durations import format_duration
from hotfix_operator.kube_deployments import DeploymentClient
from hotfix_operator.kube_hotfixes import HotfixClient
from hotfix_operator.lifecycle import (
    ABORT_REQUEST,
    APPROVED_BY,
    ROLLBACK_REQUEST,
    ROLLBACK_REQUESTED_BY,
    build_facts,
    due_checkpoint,
    forward_fix_due,
    incident_started_at,
    is_recent_deploy,
    judge_checkpoint,
    outcome_of,
)
from hotfix_operator.models import HotfixSpec, RollbackMode, SpecError, parse_spec
from hotfix_operator.notifiers import Notifier
from hotfix_operator.operator_metrics import OperatorMetrics
from hotfix_operator.prometheus_analysis import AnalysisReport, capture_baseline
from hotfix_operator.status import (
    TERMINAL_PHASES,
    CheckpointRecord,
    DecisionRecord,
    HotfixStatus,
    Phase,
    TargetStatus,
    append_timeline,
    set_condition,
)
from hotfix_operator.thresholds import ERROR_RATE, LATENCY_P95

# How often to look again while waiting on something that is not Prometheus: the analysis interval,
# but at least every 5 s and at most every second, so that a thousand Hotfixes rolling out at once do
# not poll the API server a thousand times a second.
MIN_POLL_SECONDS = 1.0
MAX_POLL_SECONDS = 5.0
T = TypeVar("T")


class EventSink(Protocol):
    def __call__(self, body: dict[str, Any], *, type: str, reason: str, message: str) -> None: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Step:
    """One reconcile of one Hotfix: what it is, what it says, and what to tell the world."""

    body: dict[str, Any]
    spec: HotfixSpec
    status: HotfixStatus
    now: datetime
    logger: logging.Logger
    written: dict[str, Any] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return str(self.body["metadata"]["namespace"])

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def annotations(self) -> dict[str, str]:
        return self.body["metadata"].get("annotations") or {}

    @property
    def generation(self) -> int | None:
        return self.body["metadata"].get("generation")

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.body["metadata"]["creationTimestamp"].replace("Z", "+00:00"))


class HotfixController:
    def __init__(
        self,
        deployments: DeploymentClient,
        hotfixes: HotfixClient,
        scheduler: AnalysisScheduler,
        notifier: Notifier,
        post_event: EventSink,
        metrics: OperatorMetrics,
        config: OperatorConfig,
    ) -> None:
        self.deployments = deployments
        self.hotfixes = hotfixes
        self.scheduler = scheduler
        self.notifier = notifier
        self.post_event = post_event
        self.metrics = metrics
        self.config = config
        self.phases: dict[str, str] = {}

    # -- plumbing --------------------------------------------------------------------------

    @staticmethod
    async def _io(function: Callable[..., T], *args: Any) -> T:
        """Run a blocking adapter call off the event loop."""
        return await asyncio.to_thread(function, *args)

    async def _save(self, step: Step) -> None:
        step.status.observed_generation = step.generation
        status = step.status.to_api()
        if status != step.written:
            await self._io(self.hotfixes.write_status, step.body, status)
            step.written = status
        if step.status.phase is not None:
            self.phases[step.key] = step.status.phase.value
            self.metrics.set_phases(lambda: self.phases)

    def _note(
        self,
        step: Step,
        kind: str,
        message: str,
        *,
        rule: str | None = None,
        warning: bool = False,
        notify: bool = False,
    ) -> None:
        """Timeline entry, Kubernetes Event, log line and (optionally) a war-room notification."""
        step.status.timeline = append_timeline(step.status.timeline, step.now, kind, message, rule)
        # Event messages must be one line.
        self.post_event(step.body, type="Warning" if warning else "Normal", reason=kind, message=message[:1000])
        (step.logger.warning if warning else step.logger.info)("%s: %s", kind, message)
        if notify:
            self.notifier.notify(step.body, step.spec, kind, message, step.logger)

    def _condition(self, step: Step, type_: str, status: str, reason: str, message: str = "") -> None:
        step.status.conditions = set_condition(
            step.status.conditions, type_, status, reason, message, step.now, step.generation
        )

    def _set_phase(self, step: Step, phase: Phase) -> None:
        if step.status.phase is not phase:
            step.logger.info("phase %s -> %s", step.status.phase.value if step.status.phase else "-", phase.value)
        step.status.phase = phase

    def _escalate(self, step: Step, reason: str, message: str) -> None:
        self._set_phase(step, Phase.ESCALATED)
        self._condition(step, "Succeeded", "False", reason, message)
        self.metrics.escalations.labels(reason=reason).inc()
        self._note(step, "Escalated", f"{message}; a person must act, no further automatic action", warning=True,
                   notify=True)  # fmt: skip

    def _fail(self, step: Step, reason: str, message: str) -> None:
        self._set_phase(step, Phase.FAILED)
        self._condition(step, "Succeeded", "False", reason, message)
        self._note(step, "Failed", message, warning=True)

    # -- the loop --------------------------------------------------------------------------

    async def reconcile(self, body: dict[str, Any], logger: logging.Logger) -> float | None:
        """Do the current phase's work; return seconds until the next step, or None when done."""
        status = HotfixStatus.from_api(body.get("status"))
        if status.phase in TERMINAL_PHASES:
            self.phases[f"{body['metadata']['namespace']}/{body['metadata']['name']}"] = status.phase.value
            return None
        try:
            spec = parse_spec(body.get("spec") or {})
        except SpecError as error:
            step = Step(body=body, spec=None, status=status, now=utcnow(), logger=logger)  # type: ignore[arg-type]
            step.written = status.to_api()
            self._set_phase(step, Phase.FAILED)
            self._condition(step, "Succeeded", "False", "InvalidSpec", str(error))
            step.status.timeline = append_timeline(status.timeline, step.now, "Failed", f"invalid spec: {error}")
            self.post_event(body, type="Warning", reason="InvalidSpec", message=str(error)[:1000])
            await self._save(step)
            return None
        step = Step(body=body, spec=spec, status=status, now=utcnow(), logger=logger, written=status.to_api())
        abort = step.annotations.get(ABORT_REQUEST)
        if abort is not None:
            self._escalate(step, "Aborted", f"aborted by {abort or 'someone'} (annotation {ABORT_REQUEST})")
            await self._save(step)
            return None
        phase = status.phase or Phase.PENDING
        handlers = {
            Phase.PENDING: self._pending,
            Phase.AWAITING_APPROVAL: self._awaiting_approval,
            Phase.ROLLING_OUT: self._rolling_out,
            Phase.MONITORING: self._monitoring,
            Phase.FORWARD_FIX_PENDING: self._monitoring,
            Phase.ROLLING_BACK: self._rolling_back,
            Phase.ROLLED_BACK: self._rolled_back,
        }
        delay = await handlers[phase](step)
        await self._save(step)
        return None if step.status.phase in TERMINAL_PHASES else delay

    # -- phases ----------------------------------------------------------------------------

    async def _record_targets(self, step: Step) -> float | None:
        """Record each Deployment's current revision as its rollback target; a delay when not possible now."""
        targets = []
        for target in step.spec.targets:
            try:
                recorded = await self._io(self.deployments.record_revision, step.namespace, target.deployment)
            except RolloutInProgress as error:
                # A Deployment created a moment ago has no ReplicaSet yet: wait for it, do not fail.
                self._condition(step, "RolledOut", "Unknown", "WaitingForDeployment", str(error))
                return _poll(step)
            except DeploymentError as error:
                self._fail(step, "TargetNotActionable", f"target {target.deployment}: {error}")
                return None
            targets.append(
                TargetStatus(
                    deployment=target.deployment,
                    baseline_revision=recorded.revision,
                    baseline_replica_set=recorded.replica_set,
                )
            )
        step.status.targets = targets
        return 0.0

    async def _pending(self, step: Step) -> float | None:
        not_now = await self._record_targets(step)
        if not_now is None or not_now > 0:
            return not_now
        step.status.baseline = await self._baseline(step)
        for condition in ("RolledOut", "Healthy", "Decided", "Succeeded"):
            self._condition(step, condition, "Unknown", "Pending")
        recorded_text = ", ".join(f"{t.deployment}@{t.baseline_revision}" for t in step.status.targets)
        self._note(step, "BaselineRecorded", f"rollback targets recorded: {recorded_text}")
        if step.spec.approval.required:
            self._condition(step, "Approved", "False", "AwaitingApproval", f"annotate {APPROVED_BY}=<name> to approve")
            self._set_phase(step, Phase.AWAITING_APPROVAL)
        else:
            self._condition(step, "Approved", "True", "NotRequired")
            self._set_phase(step, Phase.ROLLING_OUT)
        return 0.0

    async def _baseline(self, step: Step) -> dict[str, Any]:
        """Pre-hotfix error rate and p95, for the checkpoints; an unreachable Prometheus leaves it empty."""
        url = self._prometheus_url(step.spec)
        if not url:
            return {}
        window = step.spec.analysis.error_rate.for_
        targets = [(step.namespace, target.deployment) for target in step.spec.targets]
        try:
            baselines = await self._io(capture_baseline, self.scheduler.analyzer_for(url), targets, window)
        except Exception as error:  # a baseline is nice to have; its absence must not stop a hotfix
            step.logger.warning("baseline not captured: %s", error)
            return {}
        return {
            "capturedAt": step.now.isoformat(),
            "window": window.total_seconds(),
            "targets": {
                target: {"errorRate": value.error_rate, "latencyP95Ms": value.latency_p95_ms}
                for target, value in baselines.items()
            },
        }

    async def _awaiting_approval(self, step: Step) -> float | None:
        approver = step.annotations.get(APPROVED_BY)
        if not approver:
            return _poll(step)
        # The Deployments may have moved on while waiting: the rollback target is what runs right now.
        not_now = await self._record_targets(step)
        if not_now is None or not_now > 0:
            return not_now
        self._condition(step, "Approved", "True", "Approved", f"approved by {approver}")
        recorded_text = ", ".join(f"{t.deployment}@{t.baseline_revision}" for t in step.status.targets)
        self._note(step, "Approved", f"approved by {approver}; rollback targets: {recorded_text}")
        self._set_phase(step, Phase.ROLLING_OUT)
        return 0.0

    async def _rolling_out(self, step: Step) -> float | None:
        waiting = []
        for target in step.spec.targets:
            recorded = step.status.target(target.deployment)
            assert recorded is not None
            try:
                if target.images is not None:
                    if await self._io(self.deployments.apply_images, step.namespace, target.deployment, target.images):
                        images = ", ".join(f"{c}={i}" for c, i in sorted(target.images.items()))
                        self._note(step, "RolloutStarted", f"{target.deployment}: set {images}")
                else:
                    revision = await self._io(self.deployments.deployed_revision, step.namespace, target.deployment)
                    if revision <= recorded.baseline_revision:
                        waiting.append(f"{target.deployment}: waiting for the change to be applied (observe mode)")
                        continue
                rollout = await self._io(self.deployments.status, step.namespace, target.deployment)
            except ConcurrentModification as error:
                step.logger.info("retrying: %s", error)
                return _poll(step)
            except RolloutFailed as error:
                self._escalate(step, "RolloutFailed", str(error))
                return None
            except DeploymentError as error:
                self._fail(step, "TargetNotActionable", f"target {target.deployment}: {error}")
                return None
            if not rollout.done:
                waiting.append(rollout.message)
        if waiting:
            self._condition(step, "RolledOut", "False", "InProgress", "; ".join(waiting))
            return _poll(step)
        for recorded in step.status.targets:
            current = await self._io(self.deployments.record_revision, step.namespace, recorded.deployment)
            recorded.hotfix_revision, recorded.hotfix_replica_set = current.revision, current.replica_set
            recorded.rollout_completed_at = step.now
        step.status.rollout_completed_at = step.now
        # A forward fix that rolls out again starts its stability window afresh.
        step.status.checkpoints = []
        step.status.breach_since_checkpoint = False
        revisions = ", ".join(f"{t.deployment}@{t.hotfix_revision}" for t in step.status.targets)
        self._condition(step, "RolledOut", "True", "RolloutComplete", revisions)
        self._note(step, "RolledOut", f"rollout complete: {revisions}; monitoring the temporary alert thresholds")
        self._set_phase(step, Phase.MONITORING)
        return 0.0

    def _prometheus_url(self, spec: HotfixSpec) -> str:
        return spec.analysis.prometheus_url or self.config.prometheus_url

    def _analysis_request(self, step: Step, active_since: datetime) -> AnalysisRequest:
        return AnalysisRequest(
            key=step.key,
            targets=tuple((step.namespace, target.deployment) for target in step.spec.targets),
            analysis=step.spec.analysis,
            active_since=active_since.timestamp(),
        )

    async def _analyze(self, step: Step, active_since: datetime) -> AnalysisReport:
        report = await self.scheduler.next_report(
            self._prometheus_url(step.spec), self._analysis_request(step, active_since)
        )
        step.now = utcnow()
        step.status.last_analysis = {
            "at": datetime.fromtimestamp(report.at, UTC).isoformat(),
            "result": report.result.value,
            "summary": report.summary()[:2000],
            "metrics": {
                target: [result.model_dump(mode="json", exclude_none=True) for result in results]
                for target, results in report.metrics.items()
            },
        }
        return report

    async def _images_changed(self, step: Step) -> bool:
        """A spec update whose images the Deployments do not run yet: a forward fix to roll out.

        Only a spec change (a new generation) can bring one, so the Deployments are read only then.
        """
        if step.status.observed_generation in (None, step.generation):
            return False
        for target in step.spec.targets:
            if target.images and not await self._io(
                self.deployments.runs_images, step.namespace, target.deployment, target.images
            ):
                return True
        return False

    async def _monitoring(self, step: Step) -> float | None:
        if await self._images_changed(step):
            self._note(step, "ForwardFixRollout", "the spec has new images: rolling them out")
            self._set_phase(step, Phase.ROLLING_OUT)
            return 0.0
        requested = self._rollback_request(step)
        if requested is not None:
            delay = await self._act_on(step, requested, report_at=None)
            if step.status.phase is not Phase.MONITORING and step.status.phase is not Phase.FORWARD_FIX_PENDING:
                return delay
        assert step.status.rollout_completed_at is not None
        report = await self._analyze(step, step.status.rollout_completed_at)
        if report.result is AnalysisState.BREACHED:
            step.status.breach_since_checkpoint = True
        self._condition(step, "Healthy", *_health_condition(report))
        decision = await self._decide(step, report.result)
        evidence = report.summary() if report.result is not AnalysisState.HEALTHY else None
        delay = await self._act_on(step, decision, report_at=report.at, evidence=evidence)
        # The stability window is judged only while plainly monitoring, on an analysis that saw data:
        # a forward-fix hold restarts it, and "pending" or "inconclusive" prove nothing either way.
        conclusive = report.result in (AnalysisState.HEALTHY, AnalysisState.BREACHED)
        if step.status.phase is Phase.MONITORING and conclusive:
            return self._checkpoint(step, report)
        return delay

    def _rollback_request(self, step: Step) -> Decision | None:
        """A rollback asked for by a person (annotation) or by a sibling Hotfix of the incident, once each."""
        person = step.annotations.get(ROLLBACK_REQUEST)
        sibling = step.annotations.get(ROLLBACK_REQUESTED_BY)
        request = f"{ROLLBACK_REQUEST}={person}" if person is not None else f"{ROLLBACK_REQUESTED_BY}={sibling}"
        if (person is None and sibling is None) or step.status.handled_rollback_request == request:
            return None
        step.status.handled_rollback_request = request
        if person is not None:
            return Decision(
                action=Action.ROLLBACK, rule=Rule.MANUAL_REQUEST,
                reason=f"rollback requested by {person or 'someone'} (annotation {ROLLBACK_REQUEST})",
            )  # fmt: skip
        return Decision(
            action=Action.ROLLBACK,
            rule=Rule.MULTI_SERVICE_UNCLEAR,
            reason=f"rolled back with every recent deploy of incident {step.spec.incident.id}: {sibling}",
        )

    async def _decide(self, step: Step, analysis: AnalysisState) -> Decision:
        fix_due_at, eta_seen = forward_fix_due(step.spec, step.status, step.now)
        step.status.forward_fix_due_at, step.status.forward_fix_eta_seen = fix_due_at, eta_seen
        started = incident_started_at(step.spec, step.created_at)
        decision = decide(build_facts(step.spec, analysis, started, fix_due_at, step.now, True))
        if decision.action in (Action.ROLLBACK, Action.ROLLBACK_ALL) and not await self._targets_present(step):
            decision = decide(build_facts(step.spec, analysis, started, fix_due_at, step.now, False))
        return decision

    async def _targets_present(self, step: Step) -> bool:
        for recorded in step.status.targets:
            present = await self._io(
                self.deployments.revision_present,
                step.namespace, recorded.deployment, recorded.baseline_revision, recorded.baseline_replica_set,
            )  # fmt: skip
            if not present:
                return False
        return True

    def _record_decision(
        self, step: Step, decision: Decision, pending: bool, dry_run: bool, evidence: str | None = None
    ) -> None:
        previous = step.status.decision
        changed = previous is None or (previous.rule, previous.action) != (decision.rule.value, decision.action.value)
        step.status.decision = DecisionRecord(
            action=decision.action.value,
            rule=decision.rule.value,
            reason=decision.reason,
            at=step.now if changed or previous is None else previous.at,
            pending_confirmation=pending or None,
            dry_run=dry_run or None,
        )
        self._condition(step, "Decided", "True", _camel(decision.rule.value), decision.reason)
        if not changed:
            return
        self.metrics.decisions.labels(rule=decision.rule.value, action=decision.action.value).inc()
        quiet = decision.action is Action.CONTINUE
        suffix = " (dry run: recorded only)" if dry_run else " (waiting for a person to confirm)" if pending else ""
        # The measured values that triggered it: the postmortem's "alert triggers".
        seen = f" [{evidence}]" if evidence else ""
        self._note(step, "Decision", f"{decision.action.value}: {decision.reason}{suffix}{seen}",
                   rule=decision.rule.value, warning=not quiet, notify=not quiet)  # fmt: skip

    async def _act_on(
        self, step: Step, decision: Decision, report_at: float | None, evidence: str | None = None
    ) -> float | None:
        current = step.status.phase or Phase.MONITORING
        mode = step.spec.rollback.mode
        if decision.rule is Rule.MANUAL_REQUEST and mode is RollbackMode.MANUAL:
            # A person's explicit request is the confirmation manual mode waits for.
            mode = RollbackMode.AUTO
        outcome = outcome_of(decision, mode, current)
        self._record_decision(step, decision, outcome.pending_confirmation, outcome.dry_run, evidence)
        if outcome.phase is Phase.ESCALATED:
            self._escalate(step, _camel(decision.rule.value), decision.reason)
            return None
        self._set_phase(step, outcome.phase)
        if outcome.roll_back:
            if report_at is not None and step.status.first_breach_at is None:
                step.status.first_breach_at = datetime.fromtimestamp(report_at, UTC)
            if outcome.roll_back_siblings:
                await self._request_sibling_rollbacks(step, decision)
            return 0.0
        return 0.0

    async def _request_sibling_rollbacks(self, step: Step, decision: Decision) -> None:
        window = self.config.recent_deploy_window
        for other in await self._io(self.hotfixes.list_all):
            metadata = other["metadata"]
            if (metadata["namespace"], metadata["name"]) == (step.namespace, step.name):
                continue
            if ((other.get("spec") or {}).get("incident") or {}).get("id") != step.spec.incident.id:
                continue
            status = HotfixStatus.from_api(other.get("status"))
            if status.phase not in (Phase.MONITORING, Phase.FORWARD_FIX_PENDING):
                continue
            if not is_recent_deploy(status.rollout_completed_at, step.now, window):
                continue
            trigger = f"{step.key} ({decision.rule.value})"
            await self._io(
                self.hotfixes.annotate, metadata["namespace"], metadata["name"], {ROLLBACK_REQUESTED_BY: trigger}
            )
            self._note(step, "RollbackRequested", f"asked {metadata['namespace']}/{metadata['name']} to roll back too",
                       rule=decision.rule.value)  # fmt: skip

    def _checkpoint(self, step: Step, report: AnalysisReport) -> float | None:
        after = due_checkpoint(step.spec, step.status, step.now)
        if after is None:
            return 0.0
        baseline_targets = (step.status.baseline or {}).get("targets") or {}
        verdicts = []
        for target, results in report.metrics.items():
            current = {result.metric: result for result in results}
            baseline = baseline_targets.get(target) or {}
            verdicts.append(
                judge_checkpoint(
                    baseline.get("errorRate"),
                    baseline.get("latencyP95Ms"),
                    _latest(current.get(ERROR_RATE)),
                    _latest(current.get(LATENCY_P95)),
                    bool(step.status.breach_since_checkpoint),
                )
            )
        passed = all(verdict.passed for verdict in verdicts)
        message = "; ".join(verdict.message for verdict in verdicts)
        after_text = _duration_text(after)
        step.status.checkpoints = [
            *step.status.checkpoints,
            CheckpointRecord(after=after_text, at=step.now, result="passed" if passed else "failed", message=message),
        ]
        step.status.breach_since_checkpoint = False
        self._note(step, "Checkpoint", f"checkpoint {after_text}: {'passed' if passed else 'failed'}: {message}",
                   warning=not passed)  # fmt: skip
        if len(step.status.checkpoints) < len(step.spec.stability.checkpoints):
            return 0.0
        if passed:
            self._set_phase(step, Phase.STABLE)
            self._condition(step, "Succeeded", "True", "Stable", f"stable through {after_text}")
            self._note(step, "Stable", f"stable through the {after_text} window", notify=True)
        else:
            self._escalate(step, "NotBackToBaseline", f"not back to baseline at the {after_text} checkpoint: {message}")
        return None

    async def _rolling_back(self, step: Step) -> float | None:
        if step.status.rollback_completed_at is not None:
            return await self._verify_rollback(step)
        if step.status.rollback_started_at is None:
            step.status.rollback_started_at = step.now
            self._condition(
                step, "Healthy", "False", "RollingBack", step.status.decision.reason if step.status.decision else ""
            )
        for recorded in step.status.targets:
            if recorded.undone_to_revision is not None:
                continue
            # Write the intent first: a restart between here and the patch finds it and re-checks, and the
            # undo itself is skipped when the Deployment already runs the recorded template.
            resumed = recorded.undo_requested_at is not None
            recorded.undo_requested_at = recorded.undo_requested_at or step.now
            await self._save(step)
            try:
                result = await self._io(
                    self.deployments.undo,
                    step.namespace, recorded.deployment, recorded.baseline_revision, recorded.baseline_replica_set,
                )  # fmt: skip
            except DeploymentError as error:
                self._escalate(step, "RollbackFailed", f"undo of {recorded.deployment} failed: {error}")
                return None
            recorded.undo_skipped, recorded.undone_to_revision = result.skipped, result.to_revision
            if not result.skipped:
                self.metrics.rollbacks.inc()
                if step.status.first_breach_at is not None:
                    self.metrics.breach_to_action.observe(
                        max(time.time() - step.status.first_breach_at.timestamp(), 0.0)
                    )
            if not result.skipped:
                outcome = ""
            elif resumed:
                outcome = " (applied before the operator restarted)"
            else:
                outcome = " (skipped: it already runs that revision)"
            self._note(step, "RollbackPatched",
                       f"{recorded.deployment}: undo to revision {recorded.baseline_revision} "
                       f"({recorded.baseline_replica_set}){outcome}",
                       rule=step.status.decision.rule if step.status.decision else None)  # fmt: skip
        waiting = []
        for recorded in step.status.targets:
            try:
                rollout = await self._io(self.deployments.status, step.namespace, recorded.deployment)
            except DeploymentError as error:
                self._escalate(step, "RollbackFailed", f"rollback of {recorded.deployment} failed: {error}")
                return None
            if not rollout.done:
                waiting.append(rollout.message)
        if waiting:
            assert step.status.rollback_started_at is not None
            if step.now - step.status.rollback_started_at > step.spec.rollback.timeout:
                self._escalate(
                    step,
                    "RollbackTimedOut",
                    f"rollback did not complete within {_duration_text(step.spec.rollback.timeout)}: "
                    + "; ".join(waiting),
                )
                return None
            return _poll(step)
        step.status.rollback_completed_at = step.now
        self._note(step, "RollbackComplete",
                   f"Deployments back on their recorded revisions; verifying recovery for "
                   f"{_duration_text(step.spec.rollback.verify_for)}")  # fmt: skip
        return 0.0

    async def _verify_rollback(self, step: Step) -> float | None:
        assert step.status.rollback_completed_at is not None
        report = await self._analyze(step, step.status.rollback_completed_at)
        if report.result is AnalysisState.BREACHED:
            self._escalate(
                step, "RollbackDidNotRecover", f"metrics still breach after the rollback: {report.summary()}"
            )
            return None
        if step.now - step.status.rollback_completed_at < step.spec.rollback.verify_for:
            return 0.0
        for recorded in step.status.targets:
            recorded.undone_to_revision = await self._io(
                self.deployments.deployed_revision, step.namespace, recorded.deployment
            )
        self._set_phase(step, Phase.ROLLED_BACK)
        self._condition(step, "Healthy", "True", "Recovered", f"no breach since the undo: {report.summary()}")
        self._condition(
            step, "Succeeded", "False", "RolledBack", step.status.decision.reason if step.status.decision else ""
        )
        verified = _duration_text(step.spec.rollback.verify_for)
        self._note(step, "RolledBack", f"rolled back; no threshold breached in the {verified} after the undo",
                   notify=True)  # fmt: skip
        return 0.0

    async def _rolled_back(self, step: Step) -> float | None:
        """Watch for the rolled-back template coming back (a GitOps sync): escalate once, never fight."""
        for recorded in step.status.targets:
            revision = await self._io(self.deployments.deployed_revision, step.namespace, recorded.deployment)
            if recorded.undone_to_revision is not None and revision > recorded.undone_to_revision:
                self._escalate(
                    step,
                    "TemplateReapplied",
                    f"{recorded.deployment} changed again after the rollback (revision {revision}); "
                    "something re-applied a template, the operator will not fight it",
                )
                return None
        return max(step.spec.analysis.interval.total_seconds(), MIN_POLL_SECONDS)


def _poll(step: Step) -> float:
    return min(max(step.spec.analysis.interval.total_seconds(), MIN_POLL_SECONDS), MAX_POLL_SECONDS)


def _health_condition(report: AnalysisReport) -> tuple[str, str, str]:
    if report.result is AnalysisState.HEALTHY:
        return "True", "WithinThresholds", report.summary()
    if report.result is AnalysisState.BREACHED:
        return "False", "ThresholdBreached", report.summary()
    reason = "AnalysisPending" if report.result is AnalysisState.PENDING else "TelemetryMissing"
    return "Unknown", reason, report.summary()


def _latest(result: Any) -> float | None:
    return None if result is None else result.value


def _camel(rule: str) -> str:
    return "".join(part.capitalize() for part in rule.split("-"))


def _duration_text(value: timedelta) -> str:
    return format_duration(value)
