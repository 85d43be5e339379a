"""Before monitoring: recording the rollback targets, approval, and rolling the change out."""

from __future__ import annotations

from typing import Any

from hotfix_operator.analysis.prometheus import check_telemetry
from hotfix_operator.api.status import Phase, TargetStatus
from hotfix_operator.engine.core import ControllerCore, Step, baseline_span, poll_delay, span_stats_to_status
from hotfix_operator.kube.rollouts import (
    ConcurrentModification,
    DeploymentError,
    DeploymentPaused,
    RolloutFailed,
    RolloutInProgress,
)
from hotfix_operator.rules.claims import Claim, Conflict, conflicting_claim
from hotfix_operator.rules.lifecycle import APPROVED_BY, SUPERSEDED_BY, SUPERSEDES


class StartPhases(ControllerCore):
    """Pending, AwaitingApproval and RollingOut."""

    async def _record_targets(self, step: Step) -> float | None:
        """Record each Deployment's current revision as its rollback target; a delay when not possible now."""
        targets = []
        for target in step.spec.targets:
            try:
                recorded = await self._io(
                    self._deployments(step).record_revision, step.namespace, target.deployment, target.from_revision
                )
            except RolloutInProgress as error:
                # A Deployment created a moment ago has no ReplicaSet yet: wait for it, do not fail.
                self._condition(step, "RolledOut", "Unknown", "WaitingForDeployment", str(error))
                return poll_delay(step)
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
        self._set_phase(step, Phase.PENDING)
        unknown = self._unknown_endpoint(step.spec)
        if unknown is not None:
            self._fail(step, "UnknownPrometheus", unknown)
            return None
        identity_problem = self._identity_problem(step)
        if identity_problem is not None:
            self._fail(step, "ServiceAccountRequired", identity_problem)
            return None
        conflict = await self._conflicting_hotfix(step)
        if conflict is not None and conflict.holder == step.annotations.get(SUPERSEDES):
            # The older guard of the same Deployment ends at its next step (or after its rollback). Said to it
            # again, once (idempotent): the policy's own annotation may have been lost to an API fault.
            previous = step.written.get("conditions") or []
            if not any(c.get("reason") == "WaitingForSupersededGuard" for c in previous):
                await self._io(self.hotfixes.annotate, step.namespace, conflict.holder, {SUPERSEDED_BY: step.name})
            self._condition(step, "RolledOut", "Unknown", "WaitingForSupersededGuard",
                            f"waiting for Hotfix {conflict.holder} to hand over {conflict.deployment}")  # fmt: skip
            return poll_delay(step)
        if conflict is not None:
            self._fail(step, "TargetInUse", f"spec.targets: {conflict.message()}")
            return None
        not_now = await self._record_targets(step)
        if not_now is None or not_now > 0:
            return not_now
        if not await self._telemetry_ready(step) and step.spec.analysis.require_telemetry:
            # requireTelemetry: nothing is rolled out until every enabled threshold can be judged.
            return poll_delay(step)
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

    async def _conflicting_hotfix(self, step: Step) -> Conflict | None:
        """An older Hotfix of the namespace that may still act on one of this one's Deployments."""
        own = Claim(step.name, step.created_at, step.status.phase, frozenset(t.deployment for t in step.spec.targets))
        return conflicting_claim(own, self.claims.in_namespace(step.namespace))

    async def _telemetry_ready(self, step: Step) -> bool:
        """Check that every enabled threshold has data for every target; say loudly what is missing.

        A gap does not block the rollout (an SRE in an incident cannot fix monitoring now) unless the
        Hotfix asks for it with requireTelemetry.
        """
        request = self._analysis_request(step, step.now)
        try:
            analyzer = self.scheduler.analyzer_for(self._endpoint(step.spec))
            findings = await self._prometheus_io(check_telemetry, analyzer, request)
        except Exception as error:  # the check informs; it must never stop a hotfix by crashing
            step.logger.warning("telemetry check failed: %s", error)
            return False
        missing = [finding.message for finding in findings if not finding.ready]
        if not missing:
            summary = "; ".join(finding.message for finding in findings) or "no threshold is enabled"
            self._condition(step, "TelemetryReady", "True", "TelemetryFound", summary[:2000])
            return True
        message = "; ".join(missing)[:4000]
        previous = next((c for c in step.status.conditions if c.type == "TelemetryReady"), None)
        self._condition(step, "TelemetryReady", "False", "TelemetryMissing", message)
        if previous is None or previous.message != message:
            held = " (requireTelemetry: the rollout waits for it)" if step.spec.analysis.require_telemetry else ""
            self._note(step, "TelemetryMissing", f"{message}{held}", warning=True, notify=True)
        return False

    async def _baseline(self, step: Step) -> dict[str, Any]:
        """Pre-hotfix requests, failures and p95 windows over a span as long as the first checkpoint's, for
        the checkpoints' comparison; an unreachable Prometheus leaves it empty."""
        span = baseline_span(step.spec)
        baselines = await self._span_stats(step, span)
        if not baselines:
            return {}
        return {
            "capturedAt": step.now.isoformat(),
            "span": span.total_seconds(),
            "targets": {target: span_stats_to_status(stats) for target, stats in baselines.items()},
        }

    async def _awaiting_approval(self, step: Step) -> float | None:
        approver = step.annotations.get(APPROVED_BY)
        if not approver:
            return poll_delay(step)
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
        waiting, paused, rolling = [], [], []
        for target in step.spec.targets:
            recorded = step.status.target(target.deployment)
            assert recorded is not None
            try:
                if target.images is not None:
                    patched = await self._io(
                        self._deployments(step).apply_images, step.namespace, target.deployment, target.images
                    )
                    images = ", ".join(f"{c}={i}" for c, i in sorted(target.images.items()))
                    if patched or recorded.rollout_noted != images:
                        # Not patched now but never noted: patched before an operator restart (or by someone).
                        earlier = "" if patched else " (already in place: applied before an operator restart)"
                        self._note(step, "RolloutStarted", f"{target.deployment}: set {images}{earlier}")
                        recorded.rollout_noted = images
                else:
                    revision = await self._io(
                        self._deployments(step).deployed_revision, step.namespace, target.deployment
                    )
                    if revision <= recorded.baseline_revision:
                        waiting.append(f"{target.deployment}: waiting for the change to be applied (observe mode)")
                        continue
                # The analysis window opens when the change first reaches a Deployment: its first new pods
                # serve from then on, and Prometheus' own alert rule sees their errors from then on too.
                step.status.rollout_started_at = step.status.rollout_started_at or step.now
                rollout = await self._io(self._deployments(step).status, step.namespace, target.deployment)
            except ConcurrentModification as error:
                step.logger.info("retrying: %s", error)
                return poll_delay(step)
            except DeploymentPaused:
                # A person paused it mid-rollout: their call. Wait for the resume, never undo their pause;
                # a breach meanwhile is still acted on (an undo of a paused Deployment goes to a person).
                paused.append(target.deployment)
                waiting.append(f"{target.deployment} was paused by someone: the rollout waits until "
                               f"`kubectl rollout resume deployment/{target.deployment}`")  # fmt: skip
                continue
            except RolloutFailed as error:
                # The progress deadline came before the new pods' own evidence: it cannot succeed either.
                return await self._act_on_rollout_failure(step, f"ProgressDeadlineExceeded: {error}")
            except DeploymentError as error:
                self._fail(step, "TargetNotActionable", f"target {target.deployment}: {error}")
                return None
            if not rollout.done:
                waiting.append(rollout.message)
                rolling.append(target.deployment)
        if rolling and not paused:
            failure = await self._rollout_failure(step, rolling)
            if failure is not None:
                return await self._act_on_rollout_failure(step, failure)
        if waiting:
            self._condition(
                step, "RolledOut", "False", "DeploymentPaused" if paused else "InProgress", "; ".join(waiting)
            )
            previous = step.written.get("conditions") or []
            if paused and not any(c.get("reason") == "DeploymentPaused" for c in previous):
                self._note(step, "DeploymentPaused", f"paused by someone during the rollout: {', '.join(paused)}; "
                           "waiting for it to be resumed", warning=True, notify=True)  # fmt: skip
            if step.status.rollout_started_at is None:
                return poll_delay(step)
            # A bad change is acted on while it is still rolling out, not only once it is complete. What
            # this step did (the patch, its timeline entry) is saved first: the analysis waits for the
            # next interval, and a kill meanwhile must not lose it.
            await self._save(step)
            return await self._breach_during_rollout(step)
        for recorded in step.status.targets:
            current = await self._io(self._deployments(step).record_revision, step.namespace, recorded.deployment)
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
