"""Session fixtures: one real test bed (control plane, simulator, Prometheus) shared by every test that asks.

Nothing here skips: a component that cannot start fails the tests that need it, with its log.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

import trust_records
from hotfix_operator.kube.api import KubeApi
from hotfix_operator.kube.credentials import load_credentials
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.processes import free_port
from hotfix_operator.testbed.stack import TestBed, TestBedState
from operator_support import Cluster
from testbed_support import PROMETHEUS_RULE_CRD_PATH, PrometheusQuery, install_crd

LOG_TAIL_LINES = 25
# Fixtures that start a real server: a test using any of them (directly or through another fixture) is
# marked ``real``, so `make unit` can run the pure tests alone with ``-m "not real"``.
REAL_FIXTURES = frozenset({"testbed", "backfilled_prometheus", "preset_prometheus"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if REAL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.real)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Faults and hostile inputs tried by the trust tests, and how the operator came through them."""
    lines = trust_records.summary_lines()
    if lines:
        terminalreporter.write_sep("=", "trust: faults, hostile input, edits during actions")
        for line in lines:
            terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Under pytest-xdist each worker ran its own trials: hand them to the controller, which prints the summary.
    worker_output = getattr(session.config, "workeroutput", None)
    if worker_output is not None:
        worker_output["trust_trials"] = trust_records.as_json()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    trust_records.add_from_json(getattr(node, "workeroutput", {}).get("trust_trials", []))


@pytest.fixture(scope="session")
def testbed() -> Iterator[TestBed]:
    work_dir = Path(tempfile.mkdtemp(prefix="hotfix-testbed-"))
    bed = TestBed(work_dir)
    bed.start()
    try:
        yield bed
    finally:
        bed.stop()


@pytest.fixture(scope="session")
def testbed_state(testbed: TestBed) -> TestBedState:
    assert testbed.state is not None
    return testbed.state


@pytest.fixture(scope="session")
def api_client(testbed_state: TestBedState) -> client.ApiClient:
    return config.new_client_from_config(testbed_state.kubeconfig)


@pytest.fixture(scope="session")
def kube_api(testbed_state: TestBedState) -> KubeApi:
    """The operator's own client, with the test bed's kubeconfig."""
    return KubeApi(load_credentials(str(testbed_state.kubeconfig)))


@pytest.fixture
def namespace(api_client: client.ApiClient) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    core = client.CoreV1Api(api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


@pytest.fixture(scope="session")
def prometheus(testbed_state: TestBedState) -> PrometheusQuery:
    return PrometheusQuery(testbed_state.prometheus_url)


@pytest.fixture(scope="session")
def hotfix_crd(api_client: client.ApiClient) -> None:
    install_crd(api_client)


@pytest.fixture
def prometheus_rule_crd(api_client: client.ApiClient) -> None:
    """The PrometheusRule kind is served (a test may have removed it to play a cluster without it)."""
    install_crd(api_client, PROMETHEUS_RULE_CRD_PATH)


def _tail(path: Path) -> str:
    try:
        return "\n".join(line[:400] for line in path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])
    except OSError as error:
        return f"(cannot read: {error})"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or "testbed" not in getattr(item, "fixturenames", ()):
        return
    bed: TestBed = item._request.getfixturevalue("testbed")  # type: ignore[attr-defined]
    for log in sorted(bed.work_dir.rglob("*.log")):
        report.sections.append((f"log {log.relative_to(bed.work_dir)}", _tail(log)))


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
