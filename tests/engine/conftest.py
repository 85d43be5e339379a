from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.stack import TestBed, TestBedState
from operator_support import Cluster


@pytest.fixture(scope="module")
def running_operator(testbed: TestBed, testbed_state: TestBedState, hotfix_crd: None) -> Iterator[OperatorProcess]:
    """One operator for the module, watching every namespace (each test has its own)."""
    process = OperatorProcess(testbed_state.kubeconfig, testbed_state.prometheus_url, testbed.work_dir / "operator.log")
    process.start()
    yield process
    process.stop()


@pytest.fixture
def cluster(api_client: client.ApiClient, namespace: str) -> Cluster:
    return Cluster(api_client, namespace)
