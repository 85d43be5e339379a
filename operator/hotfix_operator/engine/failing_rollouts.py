"""A rollout that cannot succeed (rule rollout-failed): read its new pods while it rolls out, and decide.

A hotfix whose pods never start serves no traffic, so no threshold breaches; the rollout has meanwhile
taken old pods away. The new ReplicaSet's pods are read at each rolling-out step (only then, only those)
and judged by kube/pod_health.py; the progress deadline, if it comes first, counts the same. The decision
is the rule table's: roll back at once, unless a safety rule says a rollback would do harm.
"""

from __future__ import annotations

from hotfix_operator.api.status import AnalysisState
from hotfix_operator.engine.core import ControllerCore, Step
from hotfix_operator.kube.pod_health import rollout_failure
from hotfix_operator.kube.rollouts import DeploymentError

PODS_UNREADABLE = "PodsUnreadable"


class FailingRollouts(ControllerCore):
    async def _rollout_failure(self, step: Step, rolling: list[str], judge_timeout: bool = True) -> str | None:
        """Why the rollout of these Deployments cannot succeed, naming each pod and the kubelet's words; None
        while it still may. Without ``judge_timeout`` only the kubelet's conclusive states count."""
        for deployment in rolling:
            try:
                pods = await self._io(self._deployments(step).new_pods, step.namespace, deployment)
            except DeploymentError as error:
                # A tenant's ServiceAccount that may not list pods: the progress deadline still ends the wait.
                unreadable = f"{deployment}: the new pods cannot be read ({error}); only the Deployment's progress "
                self._note_once(step, PODS_UNREADABLE, unreadable + "deadline can end a stuck rollout")
                continue
            limits = step.spec.rollout
            timeout = limits.timeout if judge_timeout else None
            failure = rollout_failure(pods, step.now, timeout, limits.max_restarts)
            if failure is not None:
                return f"{deployment}: {failure.text()}"
        return None

    async def _kubelet_evidence(self, step: Step) -> str | None:
        """On a breach: whether the targets' current pods show why, in the kubelet's own words. They are better
        evidence than the numbers they caused (a crash-free breach from restarts, say), and a crash loop's
        pods can be Ready for a moment, so its rollout completes before its first crash. The timeout is not
        judged here: a pod that was Ready and is not now (under the breach's load, say) was not late."""
        deployments = [target.deployment for target in step.spec.targets]
        return await self._rollout_failure(step, deployments, judge_timeout=False)

    def _note_once(self, step: Step, kind: str, message: str) -> None:
        if not any(entry.type == kind for entry in step.status.timeline):
            self._note(step, kind, message, warning=True)

    async def _act_on_rollout_failure(self, step: Step, failure: str) -> float | None:
        """Decide on a rollout that cannot succeed, say why where people look, and act."""
        decision = await self._decide(step, AnalysisState.PENDING, rollout_failure=failure)
        self._condition(step, "RolledOut", "False", "RolloutFailed", failure[:1000])
        return await self._act_on(step, decision, report_at=None)
