from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.processes import free_port
from hotfix_operator.testbed.stack import TestBed, TestBedState
from operator_support import Cluster
from testbed_support import PrometheusQuery


@pytest.fixture(scope="module")
def running_operator(testbed: TestBed, testbed_state: TestBedState, hotfix_crd: None) -> Iterator[OperatorProcess]:
    """One operator for the module, watching every namespace (each test has its own)."""
    # A second endpoint, for the tests that stop and start a Prometheus of their own on this port.
    secondary = f"http://127.0.0.1:{free_port()}"
    process = OperatorProcess(
        testbed_state.kubeconfig,
        testbed_state.prometheus_url,
        testbed.work_dir / "operator.log",
        endpoints={"secondary": secondary},
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def cluster(api_client: client.ApiClient, namespace: str, prometheus: PrometheusQuery) -> Cluster:
    return Cluster(api_client, namespace, prometheus)
