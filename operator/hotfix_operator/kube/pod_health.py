"""Why a rollout is not progressing, read from the kubelet's and the scheduler's own words on its new pods.

A hotfix that never starts serves no traffic, so no threshold ever breaches; waiting for the progress
deadline (600 s by default) leaves fewer old pods serving for ten minutes, and a crash loop's ready replicas
go up and down, which resets that deadline. So the rollout's own pods (the new ReplicaSet's) are read while
it rolls out, and a state that cannot end well is evidence at once:

- the image cannot be pulled: ``ImagePullBackOff``, ``InvalidImageName``, ``ErrImageNeverPull``, and
  ``ErrImagePull`` at once when the registry's answer is final (the tag or repository does not exist, the
  registry's name does not resolve, access is denied: a mistyped image), else after the kubelet's first
  back-off (a registry that timed out may answer next time);
- the container cannot be created or started (``CreateContainerConfigError``: a missing ConfigMap or
  Secret; ``CreateContainerError``, ``RunContainerError``) after that back-off: a GitOps tool may be
  creating the missing object;
- a container down again after ``maxRestarts`` restarts (1: it crashed, was restarted and crashed again):
  ``CrashLoopBackOff``, or ``OOMKilled`` when the kernel killed it for memory;
- a pod the scheduler could not place (``Unschedulable``) after its first retry;
- otherwise, a new pod not Ready within ``spec.rollout.timeout`` of its creation.

Pure: pods in, evidence out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# The kubelet's first image-pull and container back-off, and the scheduler's retry of an unschedulable pod.
FIRST_BACKOFF = timedelta(seconds=10)
PULL_FAILED_AT_ONCE = frozenset({"ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})
FAILED_AFTER_BACKOFF = frozenset({"ErrImagePull", "CreateContainerConfigError", "CreateContainerError",
                                  "RunContainerError"})  # fmt: skip
MAX_EVIDENCE = 5
# The words containerd and the registries use for a pull that will fail again however often it is tried.
FINAL_PULL_ANSWERS = ("not found", "manifest unknown", "name unknown", "no such host", "repository does not exist",
                      "pull access denied", "unauthorized", "denied: ")  # fmt: skip


@dataclass(frozen=True)
class PodProblem:
    """One pod's evidence, in the kubelet's (or the scheduler's) own words."""

    pod: str
    container: str  # "" for a pod-level problem (Unschedulable)
    reason: str
    message: str
    restarts: int = 0

    def text(self) -> str:
        where = f"{self.pod}/{self.container}" if self.container else self.pod
        restarts = f" after {self.restarts} restart{'s' if self.restarts > 1 else ''}" if self.restarts else ""
        message = f": {self.message}" if self.message else ""
        return f"{where}: {self.reason}{restarts}{message}"


@dataclass(frozen=True)
class RolloutFailure:
    """A rollout that cannot succeed: what kind of failure, and the pods that show it."""

    reason: str  # the first problem's reason, or NotReadyInTime / ProgressDeadlineExceeded
    evidence: tuple[PodProblem, ...]
    summary: str

    def text(self) -> str:
        shown = "; ".join(problem.text() for problem in self.evidence[:MAX_EVIDENCE])
        more = f" (and {len(self.evidence) - MAX_EVIDENCE} more)" if len(self.evidence) > MAX_EVIDENCE else ""
        return f"{self.summary}: {shown}{more}" if shown else self.summary


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _one_line(text: str | None, limit: int = 300) -> str:
    return " ".join((text or "").split())[:limit]


def _container_problem(
    pod: str, status: dict[str, Any], age: timedelta, max_restarts: int, breached: bool
) -> PodProblem | None:
    container = status.get("name", "")
    waiting = (status.get("state") or {}).get("waiting") or {}
    reason, message = waiting.get("reason", ""), _one_line(waiting.get("message"))
    final_pull = reason == "ErrImagePull" and any(answer in message.lower() for answer in FINAL_PULL_ANSWERS)
    if reason in PULL_FAILED_AT_ONCE or final_pull or (reason in FAILED_AFTER_BACKOFF and age >= FIRST_BACKOFF):
        return PodProblem(pod, container, reason, message)
    restarts = int(status.get("restartCount") or 0)
    # Restarted and down again (crashed since, or waiting to restart): a container that restarted once and now
    # runs may still make it, unless a breach (of restarts, say) already shows it does not.
    if restarts < max_restarts or ("running" in (status.get("state") or {}) and not breached):
        return None
    terminated = ((status.get("lastState") or {}).get("terminated") or (status.get("state") or {}).get("terminated")
                  or {})  # fmt: skip
    if terminated.get("reason") == "OOMKilled":
        return PodProblem(pod, container, "OOMKilled", "the container used more memory than its limit", restarts)
    exit_code = terminated.get("exitCode")
    ended = f"last exit code {exit_code}" if exit_code is not None else ""
    details = "; ".join(part for part in (ended, _one_line(terminated.get("message")), message) if part)
    return PodProblem(pod, container, reason or terminated.get("reason") or "Restarting", details, restarts)


def pod_problems(pod: dict[str, Any], now: datetime, max_restarts: int, breached: bool = False) -> list[PodProblem]:
    """What makes this pod unable to become Ready, once it is conclusive; empty while it may still make it."""
    metadata, status = pod.get("metadata") or {}, pod.get("status") or {}
    name = metadata.get("name", "")
    created = _time(metadata.get("creationTimestamp")) or now
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "Unschedulable":
            since = _time(condition.get("lastTransitionTime")) or created
            if now - since >= FIRST_BACKOFF:
                return [PodProblem(name, "", "Unschedulable", _one_line(condition.get("message")))]
            return []
    statuses = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    found = (_container_problem(name, one, now - created, max_restarts, breached) for one in statuses)
    return [problem for problem in found if problem is not None]


def _not_ready_since(pod: dict[str, Any], created_before: datetime) -> PodProblem | None:
    """The pod, when it was created before ``created_before`` and is not Ready."""
    conditions = {c.get("type"): c for c in (pod.get("status") or {}).get("conditions") or []}
    ready = conditions.get("Ready") or {}
    created = _time((pod.get("metadata") or {}).get("creationTimestamp"))
    if ready.get("status") == "True" or created is None or created > created_before:
        return None
    name = (pod.get("metadata") or {}).get("name", "")
    why = ready.get("message") or (conditions.get("ContainersReady") or {}).get("message") or "not Ready"
    return PodProblem(name, "", ready.get("reason") or "NotReady", _one_line(why))


def rollout_failure(
    pods: list[dict[str, Any]], now: datetime, timeout: timedelta | None, max_restarts: int
) -> RolloutFailure | None:
    """Whether the rollout whose new pods are ``pods`` cannot succeed; None while it still may. The timeout
    is each pod's own: a rollout of slow starters that makes progress pod by pod is not a failure. None: the
    kubelet's conclusive states only, on a breach that corroborates restarts of a container running again."""
    breached = timeout is None
    problems = [problem for pod in pods for problem in pod_problems(pod, now, max_restarts, breached)]
    if problems:
        return RolloutFailure(problems[0].reason, tuple(problems), "the new pods cannot become Ready")
    if timeout is None:
        return None
    late = tuple(problem for pod in pods if (problem := _not_ready_since(pod, now - timeout)) is not None)
    if not late:
        return None
    seconds = int(timeout.total_seconds())
    return RolloutFailure("NotReadyInTime", late, f"a new pod was not Ready within {seconds}s of its creation")
