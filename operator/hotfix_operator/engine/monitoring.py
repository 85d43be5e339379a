"""Monitoring and ForwardFixPending: analysis, decisions on it, and the stability checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime

from hotfix_operator.analysis.thresholds import ERROR_RATE, LATENCY_P95
from hotfix_operator.analysis.verdicts import AnalysisReport
from hotfix_operator.api.models import RollbackMode
from hotfix_operator.api.policy import POLICY_LABEL
from hotfix_operator.api.status import AnalysisState, CheckpointRecord, DecisionRecord, HotfixStatus, Phase
from hotfix_operator.engine.core import (
    ControllerCore,
    Step,
    camel_case,
    duration_text,
    health_condition,
    span_stats_from_status,
)
from hotfix_operator.rules.baseline import judge_checkpoint
from hotfix_operator.rules.consent import accepts_request, refusal_for_asked, refusal_for_asker, requester_namespace
from hotfix_operator.rules.decision import ROLLBACK_ACTIONS, Action, Decision, Rule, decide
from hotfix_operator.rules.lifecycle import (
    ROLLBACK_REQUEST,
    ROLLBACK_REQUESTED_BY,
    build_facts,
    due_checkpoint,
    forward_fix_due,
    incident_started_at,
    is_recent_deploy,
    outcome_of,
)


class MonitoringPhases(ControllerCore):
    """Monitoring and ForwardFixPending."""

    async def _images_changed(self, step: Step) -> bool:
        """A spec update whose images the Deployments do not run yet: a forward fix to roll out.

        Only a spec change (a new generation) can bring one, so the Deployments are read only then.
        """
        if step.status.observed_generation in (None, step.generation):
            return False
        for target in step.spec.targets:
            if target.images and not await self._io(
                self._deployments(step).runs_images, step.namespace, target.deployment, target.images
            ):
                return True
        return False

    async def _monitoring(self, step: Step) -> float | None:
        if await self._images_changed(step):
            self._note(step, "ForwardFixRollout", "the spec has new images: rolling them out")
            self._set_phase(step, Phase.ROLLING_OUT)
            step.status.rollout_started_at = None
            return 0.0
        requested = self._rollback_request(step)
        if requested is not None:
            delay = await self._act_on(step, requested, report_at=None)
            if step.status.phase is not Phase.MONITORING and step.status.phase is not Phase.FORWARD_FIX_PENDING:
                return delay
        opened = step.status.rollout_started_at or step.status.rollout_completed_at
        assert opened is not None
        report = await self._analyze(step, opened)
        if report.result is AnalysisState.BREACHED:
            step.status.breach_since_checkpoint = True
        result, health = report.result, health_condition(report)
        if result in (AnalysisState.NO_TRAFFIC, AnalysisState.INCONCLUSIVE):
            # Series vanish with their pods: a Deployment deleted or scaled to 0 under the Hotfix looks like
            # missing telemetry until its replicas are read.
            replicas = await self._target_replicas(step)
            deleted = [name for name, count in replicas.items() if count is None]
            if deleted:
                self._escalate(step, "TargetDeleted", f"deployment {', '.join(deleted)} was deleted while being "
                               "monitored: nothing is left to judge or to roll back")  # fmt: skip
                return None
            idle = [name for name, count in replicas.items() if count == 0]
            if idle:
                result = AnalysisState.NO_TRAFFIC
                health = ("Unknown", "NoTraffic", f"deployment {', '.join(idle)} is scaled to 0: no traffic to judge; "
                          "the analysis goes on when it has replicas again")  # fmt: skip
        self._condition(step, "Healthy", *health)
        self._telemetry_seen(step, report)
        decision = await self._decide(step, result)
        if result is AnalysisState.BREACHED and decision.action in (*ROLLBACK_ACTIONS, Action.ESCALATE):
            # Pods that became Ready for a moment let the rollout complete, then crash: said as what it is.
            failure = await self._kubelet_evidence(step)
            if failure is not None:
                return await self._act_on_rollout_failure(step, failure)
        delay = await self._act_on(step, decision, report_at=report.at, evidence=_evidence(report))
        # The stability window is judged only while plainly monitoring, on an analysis that saw data:
        # a forward-fix hold restarts it, and "pending" or "inconclusive" prove nothing either way.
        conclusive = report.result in (AnalysisState.HEALTHY, AnalysisState.BREACHED)
        if step.status.phase is Phase.MONITORING and conclusive:
            return await self._checkpoint(step, report)
        return delay

    async def _target_replicas(self, step: Step) -> dict[str, int | None]:
        """Each target's desired replicas; None for one that no longer exists."""
        deployments = self._deployments(step)
        return {
            target.deployment: await self._io(deployments.desired_replicas, step.namespace, target.deployment)
            for target in step.spec.targets
        }

    def _telemetry_seen(self, step: Step, report: AnalysisReport) -> None:
        """A Deployment created with its Hotfix has no metrics at the first check: once an analysis finds
        data for every enabled threshold, TelemetryReady says so (no query of its own)."""
        judged = [result for results in report.metrics.values() for result in results if result.judged]
        if judged and all(result.state is not AnalysisState.INCONCLUSIVE for result in judged):
            self._condition(step, "TelemetryReady", "True", "TelemetryFound", "the analysis finds data for every "
                            "enabled threshold of every target")  # fmt: skip

    async def _breach_during_rollout(self, step: Step) -> float | None:
        """While the change rolls out: act at once on a breach that calls for a rollback or a person.

        Anything else (healthy, pending, a forward-fix hold) waits for the rollout to complete, where
        monitoring decides on the same window.
        """
        assert step.status.rollout_started_at is not None
        report = await self._analyze(step, step.status.rollout_started_at)
        if report.result is not AnalysisState.BREACHED:
            return 0.0
        decision = await self._decide(step, report.result)
        if decision.action not in (*ROLLBACK_ACTIONS, Action.ESCALATE):
            return 0.0
        failure = await self._kubelet_evidence(step)
        if failure is not None:
            return await self._act_on_rollout_failure(step, failure)
        self._condition(step, "Healthy", *health_condition(report))
        self._note(step, "BreachDuringRollout", "a threshold is breached before the rollout completed")
        return await self._act_on(step, decision, report_at=report.at, evidence=_evidence(report))

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
        requester = requester_namespace(sibling)
        if not accepts_request(step.namespace, step.spec.incident.accept_rollback_requests_from, requester):
            # The asking side checks this too; a request that got here all the same is never acted on.
            refusal = refusal_for_asked(sibling, requester, step.spec.incident.id)
            self._note(step, "RollbackRequestRefused", refusal, rule=Rule.MULTI_SERVICE_UNCLEAR.value, warning=True)
            return None
        return Decision(
            action=Action.ROLLBACK,
            rule=Rule.MULTI_SERVICE_UNCLEAR,
            reason=f"rolled back with every recent deploy of incident {step.spec.incident.id}: {sibling}",
        )

    async def _decide(self, step: Step, analysis: AnalysisState, rollout_failure: str | None = None) -> Decision:
        fix_due_at, eta_seen = forward_fix_due(step.spec, step.status, step.now)
        step.status.forward_fix_due_at, step.status.forward_fix_eta_seen = fix_due_at, eta_seen
        started = incident_started_at(step.spec, step.created_at)
        decision = decide(build_facts(step.spec, analysis, started, fix_due_at, step.now, True, rollout_failure))
        if decision.action in ROLLBACK_ACTIONS and not await self._targets_present(step):
            decision = decide(build_facts(step.spec, analysis, started, fix_due_at, step.now, False, rollout_failure))
        return decision

    async def _targets_present(self, step: Step) -> bool:
        for recorded in step.status.targets:
            present = await self._io(
                self._deployments(step).revision_present,
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
        # Kept as it is when nothing about it changed: most steps decide what the one before decided.
        same = previous is not None and not changed
        same = same and (previous.reason, previous.pending_confirmation, previous.dry_run) == (
            decision.reason, pending or None, dry_run or None
        )  # fmt: skip
        if not same:
            step.status.decision = DecisionRecord(
                action=decision.action.value,
                rule=decision.rule.value,
                reason=decision.reason,
                at=step.now if changed or previous is None else previous.at,
                pending_confirmation=pending or None,
                dry_run=dry_run or None,
            )
        self._condition(step, "Decided", "True", camel_case(decision.rule.value), decision.reason)
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
        refused = self._breaker_refusal(step, decision) if outcome.roll_back else None
        if refused is not None:
            decision = Decision(action=Action.ESCALATE, rule=Rule.ROLLBACK_BREAKER_OPEN,
                                reason=f"{decision.reason}; not rolled back: {refused}")  # fmt: skip
            outcome = outcome_of(decision, mode, current)
        self._record_decision(step, decision, outcome.pending_confirmation, outcome.dry_run, evidence)
        if outcome.phase is Phase.ESCALATED:
            self._escalate(step, camel_case(decision.rule.value), decision.reason)
            return None
        self._set_phase(step, outcome.phase)
        if outcome.roll_back:
            if report_at is not None and step.status.first_breach_at is None:
                step.status.first_breach_at = datetime.fromtimestamp(report_at, UTC)
            if outcome.roll_back_siblings:
                await self._request_sibling_rollbacks(step, decision)
            return 0.0
        return 0.0

    def _breaker_refusal(self, step: Step, decision: Decision) -> str | None:
        """Why a policy guard may not roll back automatically now (its policy's or the cluster's breaker);
        a Hotfix a person wrote, or a rollback a person asked for, is never held back."""
        policy = step.labels.get(POLICY_LABEL)
        if not policy or decision.rule is Rule.MANUAL_REQUEST:
            return None
        return self.guarding.admit_rollback(step.namespace, step.name, policy, step.now)

    async def _request_sibling_rollbacks(self, step: Step, decision: Decision) -> None:
        window = self.config.recent_deploy_window
        trigger = f"{step.key} ({decision.rule.value})"
        refused_namespaces = []
        for other in await self._io(self.hotfixes.list_all):
            metadata = other["metadata"]
            if (metadata["namespace"], metadata["name"]) == (step.namespace, step.name):
                continue
            incident = (other.get("spec") or {}).get("incident") or {}
            if incident.get("id") != step.spec.incident.id:
                continue
            status = HotfixStatus.from_api(other.get("status"))
            if status.phase not in (Phase.MONITORING, Phase.FORWARD_FIX_PENDING):
                continue
            if not is_recent_deploy(status.rollout_completed_at, step.now, window):
                continue
            accepted = incident.get("acceptRollbackRequestsFrom") or []
            if not accepts_request(metadata["namespace"], accepted, step.namespace):
                refused_namespaces.append(metadata["namespace"])
                self.post_event(other, type="Warning", reason="RollbackRequestRefused",
                                message=refusal_for_asked(trigger, step.namespace, step.spec.incident.id))  # fmt: skip
                continue
            await self._io(
                self.hotfixes.annotate, metadata["namespace"], metadata["name"], {ROLLBACK_REQUESTED_BY: trigger}
            )
            self._note(step, "RollbackRequested", f"asked {metadata['namespace']}/{metadata['name']} to roll back too",
                       rule=decision.rule.value)  # fmt: skip
        if refused_namespaces:
            self._note(step, "RollbackRequestRefused", refusal_for_asker(refused_namespaces, step.spec.incident.id),
                       rule=decision.rule.value, warning=True, notify=True)  # fmt: skip

    async def _checkpoint(self, step: Step, report: AnalysisReport) -> float | None:
        after = due_checkpoint(step.spec, step.status, step.now)
        if after is None:
            return 0.0
        # The span since the last checkpoint (or the rollout), compared with the pre-hotfix baseline.
        assert step.status.rollout_completed_at is not None
        since = max([step.status.rollout_completed_at, *(record.at for record in step.status.checkpoints)])
        span = max(step.now - since, step.spec.analysis.latency_p95.window)
        current = await self._span_stats(step, span)
        baseline_targets = (step.status.baseline or {}).get("targets") or {}
        enabled = self._analysis_request(step, since).enabled
        verdicts = [
            judge_checkpoint(
                span_stats_from_status(baseline_targets.get(target)),
                current.get(target),
                bool(step.status.breach_since_checkpoint),
                compare_errors=ERROR_RATE in enabled,
                compare_latencies=LATENCY_P95 in enabled,
            )
            for target in report.metrics
        ]
        passed = all(verdict.passed for verdict in verdicts)
        message = "; ".join(verdict.message for verdict in verdicts)
        after_text = duration_text(after)
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


def _evidence(report: AnalysisReport) -> str | None:
    """The measured values behind a decision, and when the breach began and became conclusive."""
    if report.result is AnalysisState.HEALTHY:
        return None
    summary = report.summary()
    starts = [metric.window_start for _, metric in report.breaches() if metric.window_start is not None]
    if not starts:
        return summary
    began = datetime.fromtimestamp(min(starts), UTC).strftime("%H:%M:%S")
    conclusive = datetime.fromtimestamp(report.at, UTC).strftime("%H:%M:%S")
    return f"{summary}; breached since at least {began} UTC, conclusive at {conclusive} UTC"
