"""The peering adapter against the real API server: a keep-alive written and the other replicas read back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hotfix_operator.kube.api import KubeApi
from hotfix_operator.kube.peering import PeeringClient
from hotfix_operator.testbed.stack import TestBedState
from testbed_support import REPO, kubectl

pytestmark = pytest.mark.real


@pytest.fixture
def peering_crds(testbed_state: TestBedState) -> None:
    kubectl(testbed_state, "apply", "-f", str(REPO / "deploy" / "peering.yaml"))
    kubectl(testbed_state, "wait", "--for=condition=Established", "crd/clusterkopfpeerings.kopf.dev")
    kubectl(testbed_state, "wait", "--for=condition=Established", "crd/kopfpeerings.kopf.dev")


def apply_peering(
    testbed_state: TestBedState, directory: Path, kind: str, name: str, namespace: str | None = None
) -> None:
    manifest = f"apiVersion: kopf.dev/v1\nkind: {kind}\nmetadata:\n  name: {name}\n"
    if namespace:
        manifest += f"  namespace: {namespace}\n"
    path = directory / f"{kind}-{name}.yaml"
    path.write_text(manifest)
    kubectl(testbed_state, "apply", "-f", str(path))


def test_a_keep_alive_is_written_as_kopf_writes_it_and_the_answer_holds_every_replica(
    kube_api: KubeApi, testbed_state: TestBedState, peering_crds: None, namespace: str, tmp_path: Path
) -> None:
    apply_peering(testbed_state, tmp_path, "ClusterKopfPeering", "adapter-test")
    peerings = PeeringClient(kube_api)
    now = datetime.now(UTC)
    first = peerings.announce("adapter-test", None, "first@host", 10, 60, now)
    assert first is not None
    assert first["first@host"] == {"priority": 10, "lifetime": 60, "lastseen": now.isoformat()}
    second = peerings.announce("adapter-test", None, "second@host", 0, 30, now)
    assert second is not None
    assert set(second) >= {"first@host", "second@host"}
    # Kopf reads the same object: the entry is in its status, which the CRD keeps as written.
    stored = kubectl(testbed_state, "get", "clusterkopfpeering", "adapter-test", "-o", "jsonpath={.status}")
    assert "first@host" in stored and "second@host" in stored
    # A namespaced operator's KopfPeering, in its namespace.
    apply_peering(testbed_state, tmp_path, "KopfPeering", "adapter-test", namespace)
    in_namespace = peerings.announce("adapter-test", namespace, "first@host", 0, 60, now)
    assert in_namespace is not None and set(in_namespace) == {"first@host"}


def test_a_missing_peering_object_is_none_not_an_error(kube_api: KubeApi, peering_crds: None) -> None:
    assert PeeringClient(kube_api).announce("no-such-peering", None, "me@host", 0, 60, datetime.now(UTC)) is None
