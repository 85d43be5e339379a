"""The Deployment adapter on the real control plane, side by side with the real kubectl."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client

from hotfix_operator.kube.api import KubeApi
from hotfix_operator.kube.deployments import UNDO_ATTEMPTS, DeploymentClient, UndoPlan
from hotfix_operator.kube.rollouts import (
    REVISION_ANNOTATION,
    ConcurrentModification,
    DeploymentNotFound,
    DeploymentPaused,
    NoRevisionHistory,
    RevisionNotFound,
    RolloutTimeout,
    UnknownContainer,
)
from hotfix_operator.testbed.stack import TestBedState
from testbed_support import kubectl

IMAGES = ["registry.example/app:1", "registry.example/app:2", "registry.example/app:3", "registry.example/app:4"]


def manifest(name: str, replicas: int = 2, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "annotations": {"team": "payments"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": {"simulator.hotfix.dev/error-ratio": "0.001"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": IMAGES[0]},
                        {"name": "proxy", "image": "registry.example/proxy:1"},
                    ]
                },
            },
            **spec,
        },
    }


def create(api_client: client.ApiClient, namespace: str, body: dict[str, Any]) -> None:
    client.AppsV1Api(api_client).create_namespaced_deployment(namespace, body)


def build_history(state: TestBedState, namespace: str, name: str) -> None:
    """Revisions 1..4, each with its own image and change-cause, rolled out one after another."""
    kubectl(state, "-n", namespace, "rollout", "status", f"deployment/{name}", "--timeout=60s")
    for revision, image in enumerate(IMAGES[1:], start=2):
        cause = f"kubernetes.io/change-cause=release {revision}"
        kubectl(state, "-n", namespace, "annotate", f"deployment/{name}", cause, "--overwrite")
        kubectl(state, "-n", namespace, "set", "image", f"deployment/{name}", f"app={image}")
        kubectl(state, "-n", namespace, "rollout", "status", f"deployment/{name}", "--timeout=60s")


def settled(deployments: DeploymentClient, namespace: str, name: str) -> dict[str, Any]:
    deployments.wait_for_rollout(namespace, name, timeout=60)
    return deployments.get(namespace, name)


@pytest.fixture
def second_namespace(api_client: client.ApiClient, namespace: str) -> Any:
    name = f"{namespace}-b"
    core = client.CoreV1Api(api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


@pytest.mark.parametrize("to_revision", [2, 1, 0])
def test_undo_matches_kubectl(
    kube_api: KubeApi,
    api_client: client.ApiClient,
    namespace: str,
    second_namespace: str,
    testbed_state: TestBedState,
    to_revision: int,
) -> None:
    deployments = DeploymentClient(kube_api)
    for ns in (namespace, second_namespace):
        create(api_client, ns, manifest("web"))
        build_history(testbed_state, ns, "web")

    result = deployments.undo(namespace, "web", to_revision)
    kubectl(testbed_state, "-n", second_namespace, "rollout", "undo", "deployment/web", f"--to-revision={to_revision}")

    ours, theirs = settled(deployments, namespace, "web"), settled(deployments, second_namespace, "web")
    assert ours["spec"]["template"] == theirs["spec"]["template"]
    assert ours["metadata"]["annotations"] == theirs["metadata"]["annotations"]
    assert ours["metadata"]["annotations"][REVISION_ANNOTATION] == "5"
    expected_revision = to_revision or 3
    assert result.to_revision == expected_revision
    assert ours["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGES[expected_revision - 1]
    ours_history = sorted(
        (rs["metadata"]["annotations"][REVISION_ANNOTATION], rs["spec"]["template"]["spec"]["containers"][0]["image"])
        for rs in deployments.replica_sets(ours)
    )
    theirs_history = sorted(
        (rs["metadata"]["annotations"][REVISION_ANNOTATION], rs["spec"]["template"]["spec"]["containers"][0]["image"])
        for rs in deployments.replica_sets(theirs)
    )
    assert ours_history == theirs_history


def test_repeated_undo_never_undoes_twice(
    kube_api: KubeApi, api_client: client.ApiClient, namespace: str, testbed_state: TestBedState
) -> None:
    deployments = DeploymentClient(kube_api)
    create(api_client, namespace, manifest("web"))
    build_history(testbed_state, namespace, "web")
    deployment = deployments.get(namespace, "web")
    target = next(
        r for r in deployments.replica_sets(deployment) if r["metadata"]["annotations"][REVISION_ANNOTATION] == "2"
    )
    first = deployments.undo(namespace, "web", 2, target["metadata"]["name"])
    before = settled(deployments, namespace, "web")
    # The undo renumbered revision 2 as 5; the recorded ReplicaSet still finds it.
    second = deployments.undo(namespace, "web", 2, target["metadata"]["name"])
    after = settled(deployments, namespace, "web")
    assert (first.skipped, second.skipped) == (False, True)
    assert second.to_revision == 5
    # Status writes by the controller move resourceVersion; only a spec write moves generation.
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["metadata"]["annotations"][REVISION_ANNOTATION] == "5"


def test_undo_after_a_concurrent_edit_is_refused(
    kube_api: KubeApi, api_client: client.ApiClient, namespace: str, testbed_state: TestBedState
) -> None:
    deployments = DeploymentClient(kube_api)
    create(api_client, namespace, manifest("web"))
    build_history(testbed_state, namespace, "web")
    plan = deployments.plan_undo(namespace, "web", 1)
    kubectl(testbed_state, "-n", namespace, "set", "image", "deployment/web", "app=registry.example/app:concurrent")
    with pytest.raises(ConcurrentModification, match="changed by someone else"):
        deployments.execute_undo(plan)
    image = deployments.get(namespace, "web")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.example/app:concurrent"


def quiet(api_client: client.ApiClient, namespace: str, name: str, for_seconds: float = 1.5) -> None:
    """Wait until nobody writes the Deployment for a while: after ``rollout status`` returns, the Deployment
    controller still writes its status as the last old pods go, and each write overtakes a guarded patch."""
    apps = client.AppsV1Api(api_client)
    version, since = None, time.monotonic()
    deadline = since + 60
    while time.monotonic() < deadline:
        current = apps.read_namespaced_deployment(name, namespace).metadata.resource_version
        if current != version:
            version, since = current, time.monotonic()
        elif time.monotonic() - since >= for_seconds:
            return
        time.sleep(0.25)
    raise TimeoutError(f"deployment {namespace}/{name} kept changing")


class WrittenBetweenReadAndPatch(DeploymentClient):
    """A Deployment written by someone else right after each of the first ``writes`` reads of an undo plan,
    as the Deployment controller does several times a second in the middle of a rollout."""

    def __init__(self, kube_api: KubeApi, api_client: client.ApiClient, writes: int) -> None:
        super().__init__(kube_api)
        self.api_client = api_client
        self.writes_left = writes
        self.plans = 0

    def plan_undo(self, namespace: str, name: str, to_revision: int, replica_set: str | None = None) -> UndoPlan:
        if self.writes_left == 0:
            # The Deployment controller answers each of those writes with one of its own: the plan after the
            # last of them reads the Deployment once it has settled.
            quiet(self.api_client, namespace, name)
        plan = super().plan_undo(namespace, name, to_revision, replica_set)
        self.plans += 1
        if self.writes_left > 0:
            self.writes_left -= 1
            patch = {"metadata": {"annotations": {"concurrent-write": str(self.plans)}}}
            client.AppsV1Api(self.api_client).patch_namespaced_deployment(name, namespace, patch)
        return plan


def test_undo_is_planned_again_after_a_concurrent_write(
    kube_api: KubeApi, api_client: client.ApiClient, namespace: str, testbed_state: TestBedState
) -> None:
    create(api_client, namespace, manifest("web"))
    build_history(testbed_state, namespace, "web")
    deployments = WrittenBetweenReadAndPatch(kube_api, api_client, writes=UNDO_ATTEMPTS - 1)
    result = deployments.undo(namespace, "web", 1)
    assert (result.skipped, result.to_revision, deployments.plans) == (False, 1, UNDO_ATTEMPTS)
    image = deployments.get(namespace, "web")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == IMAGES[0]


def test_undo_gives_up_when_every_read_is_overtaken(
    kube_api: KubeApi, api_client: client.ApiClient, namespace: str, testbed_state: TestBedState
) -> None:
    create(api_client, namespace, manifest("web"))
    build_history(testbed_state, namespace, "web")
    before = DeploymentClient(kube_api).get(namespace, "web")["spec"]["template"]
    deployments = WrittenBetweenReadAndPatch(kube_api, api_client, writes=UNDO_ATTEMPTS)
    with pytest.raises(ConcurrentModification, match="changed by someone else"):
        deployments.undo(namespace, "web", 1)
    assert deployments.plans == UNDO_ATTEMPTS
    assert deployments.get(namespace, "web")["spec"]["template"] == before


def test_record_and_apply_images_then_wait(kube_api: KubeApi, api_client: client.ApiClient, namespace: str) -> None:
    deployments = DeploymentClient(kube_api)
    create(api_client, namespace, manifest("api"))
    settled(deployments, namespace, "api")
    recorded = deployments.record_revision(namespace, "api")
    assert recorded.revision == 1
    progress: list[str] = []
    assert deployments.apply_images(namespace, "api", {"app": "registry.example/app:hotfix"}) is True
    deployments.wait_for_rollout(namespace, "api", timeout=60, on_progress=progress.append)
    assert deployments.deployed_revision(namespace, "api") == 2
    # Applying the same images again changes nothing.
    generation = deployments.get(namespace, "api")["metadata"]["generation"]
    assert deployments.apply_images(namespace, "api", {"app": "registry.example/app:hotfix"}) is False
    assert deployments.get(namespace, "api")["metadata"]["generation"] == generation
    assert deployments.revision_present(namespace, "api", recorded.revision, recorded.replica_set)
    assert deployments.undo(namespace, "api", recorded.revision, recorded.replica_set).skipped is False
    deployments.wait_for_rollout(namespace, "api", timeout=60)
    containers = deployments.get(namespace, "api")["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers] == [IMAGES[0], "registry.example/proxy:1"]


def test_unknown_container_is_refused_before_anything_is_patched(
    kube_api: KubeApi, api_client: client.ApiClient, namespace: str
) -> None:
    deployments = DeploymentClient(kube_api)
    create(api_client, namespace, manifest("api"))
    before = deployments.get(namespace, "api")
    with pytest.raises(UnknownContainer, match="no container named sidecar"):
        deployments.apply_images(namespace, "api", {"app": "registry.example/app:9", "sidecar": "x:1"})
    assert deployments.get(namespace, "api")["metadata"]["generation"] == before["metadata"]["generation"]


def test_rollout_wait_times_out_when_pods_never_become_ready(
    kube_api: KubeApi, api_client: client.ApiClient, namespace: str
) -> None:
    deployments = DeploymentClient(kube_api)
    stuck = manifest("stuck", replicas=1)
    stuck["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "no-such-node"}
    create(api_client, namespace, stuck)
    with pytest.raises(
        RolloutTimeout, match=r"timed out after 3s: .*(0 of 1 updated replicas are available|0 out of 1)"
    ):
        deployments.wait_for_rollout(namespace, "stuck", timeout=3)


def test_paused_deployment_is_refused(kube_api: KubeApi, api_client: client.ApiClient, namespace: str) -> None:
    deployments = DeploymentClient(kube_api)
    create(api_client, namespace, manifest("paused", paused=True))
    with pytest.raises(DeploymentPaused, match="kubectl rollout resume"):
        deployments.record_revision(namespace, "paused")
    with pytest.raises(DeploymentPaused):
        deployments.apply_images(namespace, "paused", {"app": "x:2"})


def test_history_less_deployment_is_refused(kube_api: KubeApi, api_client: client.ApiClient, namespace: str) -> None:
    deployments = DeploymentClient(kube_api)
    create(api_client, namespace, manifest("nohistory", revisionHistoryLimit=0))
    settled(deployments, namespace, "nohistory")
    with pytest.raises(NoRevisionHistory, match="revisionHistoryLimit: 0"):
        deployments.record_revision(namespace, "nohistory")


def test_missing_deployment_and_revision(kube_api: KubeApi, api_client: client.ApiClient, namespace: str) -> None:
    deployments = DeploymentClient(kube_api)
    with pytest.raises(DeploymentNotFound, match="not found"):
        deployments.record_revision(namespace, "ghost")
    create(api_client, namespace, manifest("api"))
    settled(deployments, namespace, "api")
    with pytest.raises(RevisionNotFound, match="unable to find revision 7"):
        deployments.undo(namespace, "api", 7)
    assert not deployments.revision_present(namespace, "api", 7)
