"""Reading why a rollout's new pods cannot become Ready, in the shapes the kubelet and the scheduler write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hotfix_operator.kube.pod_health import pod_problems, rollout_failure

NOW = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)
TIMEOUT = timedelta(seconds=120)


def stamp(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")


def pod(age: float = 30, conditions: list[dict[str, Any]] | None = None, **container: Any) -> dict[str, Any]:
    status = {"name": "app", "ready": False, "restartCount": 0, "state": {"running": {}}} | container
    return {
        "metadata": {"name": "auth-7d9f8-x2x", "creationTimestamp": stamp(age)},
        "status": {
            "conditions": conditions or [{"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                                          "message": "containers with unready status: [app]"}],
            "containerStatuses": [status],
        },
    }  # fmt: skip


def waiting(reason: str, message: str = "") -> dict[str, Any]:
    return {"waiting": {"reason": reason, "message": message}}


PULL_MESSAGE = (
    'failed to pull and unpack image "registry.example/auth:1.4.2-hotfx": failed to resolve reference '
    '"registry.example/auth:1.4.2-hotfx": registry.example/auth:1.4.2-hotfx: not found'
)


def test_an_image_that_cannot_be_pulled_is_evidence_with_the_kubelets_message() -> None:
    [problem] = pod_problems(pod(state=waiting("ImagePullBackOff", f"Back-off pulling image: {PULL_MESSAGE}")), NOW, 2)
    assert problem.text().startswith("auth-7d9f8-x2x/app: ImagePullBackOff: Back-off pulling image")
    assert "1.4.2-hotfx: not found" in problem.text()


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        # A ConfigMap applied a moment after its Deployment may be created meanwhile.
        ("CreateContainerConfigError", 'configmap "auth" not found'),
        ("CreateContainerError", "context deadline exceeded"),
        # A registry that timed out may answer the next pull.
        ("ErrImagePull", 'failed to pull image "registry.example/auth:1.4.2": dial tcp 10.0.0.9:443: i/o timeout'),
    ],
)
def test_a_config_error_or_a_pull_that_may_succeed_counts_after_the_first_back_off(reason: str, message: str) -> None:
    assert pod_problems(pod(age=3, state=waiting(reason, message)), NOW, 2) == []
    [problem] = pod_problems(pod(age=12, state=waiting(reason, message)), NOW, 2)
    assert problem.reason == reason


def test_a_pull_the_registry_answered_for_good_counts_at_once() -> None:
    [problem] = pod_problems(pod(age=2, state=waiting("ErrImagePull", PULL_MESSAGE)), NOW, 2)
    assert problem.reason == "ErrImagePull"


def test_a_crash_loop_counts_after_max_restarts_with_the_exit_code() -> None:
    crashed = {"terminated": {"reason": "Error", "exitCode": 1}}
    backoff = waiting("CrashLoopBackOff", "back-off 10s restarting failed container=app pod=auth-7d9f8-x2x")
    assert pod_problems(pod(state=backoff, lastState=crashed, restartCount=1), NOW, 2) == []
    [problem] = pod_problems(pod(state=backoff, lastState=crashed, restartCount=2), NOW, 2)
    assert problem.text() == (
        "auth-7d9f8-x2x/app: CrashLoopBackOff after 2 restarts: last exit code 1; back-off 10s restarting failed "
        "container=app pod=auth-7d9f8-x2x"
    )


def test_a_container_killed_for_memory_is_named_so() -> None:
    killed = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
    [problem] = pod_problems(pod(state=waiting("CrashLoopBackOff"), lastState=killed, restartCount=3), NOW, 2)
    assert (problem.reason, problem.restarts) == ("OOMKilled", 3)


def test_a_container_running_again_after_its_restarts_may_still_make_it() -> None:
    # A flaky first start (a database not yet reachable, say): restarted, and up since.
    crashed_once = {"terminated": {"reason": "Error", "exitCode": 1}}
    assert pod_problems(pod(state={"running": {}}, lastState=crashed_once, restartCount=1), NOW, 1) == []
    # On a breach (restarts breaching crash-free) the same container, up for a moment between kills, is evidence.
    killed = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
    [problem] = pod_problems(pod(state={"running": {}}, lastState=killed, restartCount=2), NOW, 1, breached=True)
    assert problem.reason == "OOMKilled"


def test_an_unschedulable_pod_counts_after_the_schedulers_first_retry() -> None:
    def unschedulable(seconds_ago: float) -> dict[str, Any]:
        condition = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                     "message": "0/4 nodes are available: 1 Insufficient memory.",
                     "lastTransitionTime": stamp(seconds_ago)}  # fmt: skip
        return {"metadata": {"name": "auth-7d9f8-x2x", "creationTimestamp": stamp(seconds_ago)},
                "status": {"conditions": [condition]}}  # fmt: skip

    assert pod_problems(unschedulable(2), NOW, 2) == []
    [problem] = pod_problems(unschedulable(15), NOW, 2)
    assert problem.text() == "auth-7d9f8-x2x: Unschedulable: 0/4 nodes are available: 1 Insufficient memory."


def test_a_slow_start_is_not_a_failure_until_a_pod_outlives_the_timeout() -> None:
    # The second pod of a rollout of slow starters is young: the rollout progresses pod by pod.
    ready = pod(age=130, conditions=[{"type": "Ready", "status": "True"}], ready=True)
    assert rollout_failure([ready, pod(age=60)], NOW, TIMEOUT, 2) is None
    failure = rollout_failure([ready, pod(age=121)], NOW, TIMEOUT, 2)
    assert failure is not None and failure.reason == "NotReadyInTime"
    assert failure.text() == (
        "a new pod was not Ready within 120s of its creation: auth-7d9f8-x2x: ContainersNotReady: containers with "
        "unready status: [app]"
    )


def test_without_a_timeout_a_pod_that_is_not_ready_now_is_no_evidence() -> None:
    # On a breach in monitoring: a pod Ready before and failing its probe under load now was not late.
    assert rollout_failure([pod(age=600)], NOW, None, 1) is None


def test_no_pods_yet_is_no_evidence() -> None:
    assert rollout_failure([], NOW, TIMEOUT, 2) is None


def test_the_evidence_is_bounded() -> None:
    pods = [pod(state=waiting("ImagePullBackOff", "not found")) for _ in range(8)]
    failure = rollout_failure(pods, NOW, TIMEOUT, 2)
    assert failure is not None and failure.text().endswith("(and 3 more)")
