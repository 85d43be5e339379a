"""RollingBack and RolledBack: the undo, its verification, and watching for the template coming back."""

from __future__ import annotations

import time

from hotfix_operator.analysis.verdicts import AnalysisReport
from hotfix_operator.api.policy import POLICY_LABEL
from hotfix_operator.api.status import AnalysisState, Phase
from hotfix_operator.engine.core import MIN_POLL_SECONDS, Step, duration_text, poll_delay, utcnow
from hotfix_operator.engine.gitops_holds import GitOpsHolds
from hotfix_operator.kube.rollouts import ConcurrentModification, DeploymentError
from hotfix_operator.rules.lifecycle import rolled_back_watch_ends, verification_bound


class RollbackPhases(GitOpsHolds):
    """RollingBack and RolledBack."""

    async def _rolling_back(self, step: Step) -> float | None:
        if step.status.observed_generation not in (None, step.generation):
            # The decision was taken on the spec as it was; a rollback is not stopped half-way by an edit.
            self._note(step, "SpecChangeIgnored", f"the spec changed (generation {step.generation}) during the "
                       "rollback, which goes on; for a forward fix, create a new Hotfix once this one ends",
                       warning=True)  # fmt: skip
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
            # Its GitOps owner first: an undo it re-applies at its next sync would last seconds.
            if not await self._before_undo(step, recorded):
                await self._save(step)
                return poll_delay(step)
            # Write the intent first: a restart between here and the patch finds it and re-checks, and the
            # undo itself is skipped when the Deployment already runs the recorded template.
            resumed = recorded.undo_requested_at is not None
            recorded.undo_requested_at = recorded.undo_requested_at or step.now
            await self._save(step)
            try:
                result = await self._io(
                    self._deployments(step).undo,
                    step.namespace, recorded.deployment, recorded.baseline_revision, recorded.baseline_replica_set,
                )  # fmt: skip
            except ConcurrentModification as error:
                # Refused on every fresh read: the Deployment is being written as fast as it is read. Nothing
                # was changed; try again at the next step, within the rollback's own time limit.
                assert step.status.rollback_started_at is not None
                if utcnow() - step.status.rollback_started_at > step.spec.rollback.timeout:
                    self._escalate(step, "RollbackFailed", f"undo of {recorded.deployment} failed: {error}")
                    return None
                step.logger.info("retrying the undo: %s", error)
                return poll_delay(step)
            except DeploymentError as error:
                self._escalate(step, "RollbackFailed", f"undo of {recorded.deployment} failed: {error}")
                return None
            recorded.undo_skipped, recorded.undone_to_revision = result.skipped, result.to_revision
            recorded.undone_at = utcnow()
            if not result.skipped:
                self.metrics.rollbacks.inc()
                if step.status.first_breach_at is not None:
                    self.metrics.breach_to_action.observe(
                        max(time.time() - step.status.first_breach_at.timestamp(), 0.0)
                    )
            if not result.skipped:
                outcome = ""
            elif resumed:
                outcome = " (applied by an earlier attempt: before an operator restart or an API fault)"
            else:
                outcome = " (skipped: it already runs that revision)"
            self._note(step, "RollbackPatched",
                       f"{recorded.deployment}: undo to revision {recorded.baseline_revision} "
                       f"({recorded.baseline_replica_set}){outcome}",
                       rule=step.status.decision.rule if step.status.decision else None)  # fmt: skip
            # Saved per Deployment: an API fault at the next one must not leave this undo unrecorded.
            await self._save(step)
        waiting = []
        for recorded in step.status.targets:
            try:
                rollout = await self._io(self._deployments(step).status, step.namespace, recorded.deployment)
            except DeploymentError as error:
                self._escalate(step, "RollbackFailed", f"rollback of {recorded.deployment} failed: {error}")
                return None
            if not rollout.done:
                waiting.append(rollout.message)
        if waiting:
            assert step.status.rollback_started_at is not None
            undone = [t.undone_at for t in step.status.targets if t.undone_at is not None]
            if utcnow() - max(undone, default=step.status.rollback_started_at) > step.spec.rollback.timeout:
                self._escalate(
                    step,
                    "RollbackTimedOut",
                    f"rollback did not complete within {duration_text(step.spec.rollback.timeout)}: "
                    + "; ".join(waiting),
                )
                return None
            return poll_delay(step)
        step.status.rollback_completed_at = step.now
        self._note(step, "RollbackComplete",
                   f"Deployments back on their recorded revisions; verifying recovery for "
                   f"{duration_text(step.spec.rollback.verify_for)}")  # fmt: skip
        return 0.0

    async def _verify_rollback(self, step: Step) -> float | None:
        """RolledBack only on proof: the enabled thresholds judged healthy on data from after the undo, for
        at least ``verifyFor``; a breach, or no conclusive data within the bound, escalates."""
        since = step.status.rollback_completed_at
        assert since is not None
        report = await self._analyze(step, since)
        step.status.verification = {
            "since": since.isoformat(),
            "at": step.now.isoformat(),
            "result": report.result.value,
            "evidence": report.summary()[:1000],
        }
        if report.result is AnalysisState.BREACHED:
            self._escalate(step, "RollbackDidNotRecover", f"still breached after the rollback: {report.summary()}")
            return None
        elapsed = step.now - since
        # Recovered means the restored pods serve again (available, as readiness says), not only quiet metrics:
        # a hotfix that never started leaves no bad numbers behind, whatever the undo brought back.
        unavailable = await self._unavailable_targets(step) if report.result is AnalysisState.HEALTHY else []
        if report.result is AnalysisState.HEALTHY and elapsed >= step.spec.rollback.verify_for and not unavailable:
            return await self._recovered(step, report)
        bound = verification_bound(step.spec)
        if elapsed > bound:
            found = "; ".join(unavailable) or f"the last analysis was {report.result.value} ({report.summary()})"
            message = f"recovery could not be verified within {duration_text(bound)} of the undo: {found}"
            self._escalate(step, "RollbackUnverified", message)
            return None
        return 0.0

    async def _unavailable_targets(self, step: Step) -> list[str]:
        """The targets whose restored revision does not have all its replicas available."""
        short = []
        for recorded in step.status.targets:
            try:
                rollout = await self._io(self._deployments(step).status, step.namespace, recorded.deployment)
            except DeploymentError as error:
                short.append(f"{recorded.deployment}: {error}")
                continue
            if not rollout.done:
                short.append(rollout.message)
        return short

    async def _recovered(self, step: Step, report: AnalysisReport) -> float | None:
        for recorded in step.status.targets:
            recorded.undone_to_revision = await self._io(
                self._deployments(step).deployed_revision, step.namespace, recorded.deployment
            )
        assert step.status.rollback_completed_at is not None
        since = step.status.rollback_completed_at.isoformat()
        self._set_phase(step, Phase.ROLLED_BACK)
        self._condition(step, "Healthy", "True", "Recovered", f"verified on data since the undo ({since}): "
                        f"{report.summary()}")  # fmt: skip
        self._condition(
            step, "Succeeded", "False", "RolledBack", step.status.decision.reason if step.status.decision else ""
        )
        self._note(step, "RolledBack", f"rolled back; recovery verified on data since the undo at {since}: "
                   f"{report.summary()}", notify=True)  # fmt: skip
        return 0.0

    async def _reapplied(self, step: Step, deployment: str, hotfix_replica_set: str | None) -> bool:
        """Whether the Deployment runs the very template this Hotfix rolled back (not known yet: no)."""
        try:
            current = await self._io(self._deployments(step).record_revision, step.namespace, deployment)
        except DeploymentError:
            return False
        return hotfix_replica_set is None or current.replica_set == hotfix_replica_set

    async def _rolled_back(self, step: Step) -> float | None:
        """Watch for the rolled-back template coming back (a GitOps sync): escalate once, never fight. The
        GitOps owners held for the undo are tended until they are given back, past the window if need be."""
        holding = await self._tend_gitops(step)
        ends = rolled_back_watch_ends(step.spec, step.status)
        if ends is not None and utcnow() >= ends:
            if holding is not None:
                return holding
            step.logger.info("stability window over: no more watching for the template coming back")
            return None
        for recorded in step.status.targets:
            revision = await self._io(self._deployments(step).deployed_revision, step.namespace, recorded.deployment)
            if recorded.undone_to_revision is not None and revision > recorded.undone_to_revision:
                if POLICY_LABEL in step.labels and not await self._reapplied(step, recorded.deployment,
                                                                             recorded.hotfix_replica_set):  # fmt: skip
                    # A policy's guard: a new template is a new change, which its own guard takes over.
                    continue
                self._escalate(
                    step,
                    "TemplateReapplied",
                    f"{recorded.deployment} changed again after the rollback (revision {revision}); "
                    "something re-applied a template, the operator will not fight it",
                )
                return None
        return max(step.spec.analysis.interval.total_seconds(), MIN_POLL_SECONDS)
