"""The whole test bed: control plane, workload simulator and Prometheus, started and stopped together.

Used by the tests' session fixture, by ``make demo`` and by people (``hotfix-operator testbed up``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hotfix_operator.testbed.cluster import ClusterState, LocalCluster
from hotfix_operator.testbed.processes import free_port, stop_pids, wait_until
from hotfix_operator.testbed.prometheus import LocalPrometheus
from hotfix_operator.testbed.real_node import RealNode


@dataclass
class TestBedState:
    __test__ = False  # not a pytest test class, despite the name

    work_dir: str
    kubeconfig: str
    prometheus_url: str
    simulator_url: str
    prometheus_pid: int
    simulator_pid: int
    started_in_seconds: float
    # The real node's processes (containerd, kubelet, ...) by name; empty when the bed has none.
    real_node_pids: dict[str, int] = field(default_factory=dict)
    # The real node's own Prometheus (its pods found through Kubernetes discovery); empty without one.
    real_node_prometheus_url: str = ""

    def save(self) -> None:
        (Path(self.work_dir) / "testbed.json").write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, work_dir: Path) -> TestBedState:
        return cls(**json.loads((work_dir / "testbed.json").read_text()))


class TestBed:
    __test__ = False

    def __init__(
        self,
        work_dir: Path,
        nodes: int = 3,
        external_kubeconfig: str | None = None,
        scrape_interval: str = "1s",
        simulator_poll_seconds: float = 0.5,
        real_node: bool = False,
    ) -> None:
        self.work_dir = work_dir.resolve()
        # A second by default, so that the tests' windows of a few seconds hold several scrapes; a bed of
        # thousands of pods scrapes less often, as a real Prometheus does.
        self.scrape_interval = scrape_interval
        self.simulator_poll_seconds = simulator_poll_seconds
        # With an external cluster (kind, for users with Docker) only the simulator and Prometheus run here.
        self.external_kubeconfig = external_kubeconfig
        self.cluster = LocalCluster(self.work_dir / "cluster", nodes=nodes)
        self.prometheus: LocalPrometheus | None = None
        self.simulator_pid: int | None = None
        self.state: TestBedState | None = None
        # A kubelet running pods through containerd, beside kwok's fake nodes (testbed/real_node.py).
        self.real_node: RealNode | None = None
        self.wants_real_node = real_node

    @property
    def cluster_state(self) -> ClusterState:
        assert self.cluster.state is not None
        return self.cluster.state

    def start(self) -> TestBedState:
        started = time.monotonic()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        try:
            kubeconfig = self.external_kubeconfig or self.cluster.start().kubeconfig
            simulator_url = self._start_simulator(kubeconfig)
            self.prometheus = LocalPrometheus(
                self.work_dir / "prometheus", [simulator_url.removeprefix("http://")], self.scrape_interval
            )
            prometheus_url = self.prometheus.start()
            if self.wants_real_node:
                self.real_node = self.start_real_node()
        except BaseException:
            self.stop()
            raise
        assert self.prometheus.pid is not None and self.simulator_pid is not None
        self.state = TestBedState(
            work_dir=str(self.work_dir),
            kubeconfig=kubeconfig,
            prometheus_url=prometheus_url,
            simulator_url=simulator_url,
            prometheus_pid=self.prometheus.pid,
            simulator_pid=self.simulator_pid,
            started_in_seconds=round(time.monotonic() - started, 2),
            real_node_pids=dict(self.real_node.pids) if self.real_node else {},
            real_node_prometheus_url=self.real_node.prometheus_url if self.real_node else "",
        )
        self.state.save()
        return self.state

    def start_real_node(self) -> RealNode:
        """Add the real node to a running bed (the real-pod tests do, on the session's bed)."""
        node = RealNode(self.work_dir / "real-node", self.cluster_state)
        node.start()
        return node

    def _start_simulator(self, kubeconfig: str) -> str:
        port = free_port()
        log_path = self.work_dir / "simulator.log"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hotfix_operator.testbed.simulator",
                f"--kubeconfig={kubeconfig}",
                f"--port={port}",
                f"--poll-interval={self.simulator_poll_seconds:g}",
            ],
            stdout=log_path.open("ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.simulator_pid = process.pid
        url = f"http://127.0.0.1:{port}"

        def serving() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"the workload simulator exited; log {log_path}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/metrics", timeout=2):
                    return True
            except OSError:
                return False

        wait_until(serving, timeout=30, what="the workload simulator to serve metrics")
        return url

    def stop(self) -> None:
        if self.real_node is not None:
            self.real_node.stop()
        if self.prometheus is not None:
            self.prometheus.stop()
        if self.simulator_pid is not None:
            stop_pids([self.simulator_pid])
        self.cluster.stop()

    @classmethod
    def stop_saved(cls, work_dir: Path) -> None:
        """Stop a test bed that another process started (``testbed down``)."""
        bed = cls(work_dir)
        # The demo's operator runs beside the test bed; stop it first so it does not log a vanished cluster.
        operator_pid = bed.work_dir / "operator.pid"
        if operator_pid.exists():
            stop_pids([int(operator_pid.read_text())])
            operator_pid.unlink()
        state_file = bed.work_dir / "testbed.json"
        if state_file.exists():
            state = TestBedState.load(bed.work_dir)
            if state.real_node_pids:
                RealNode.stop_saved(bed.work_dir / "real-node", ClusterState.load(bed.work_dir / "cluster"),
                                    state.real_node_pids)  # fmt: skip
            stop_pids([state.prometheus_pid, state.simulator_pid])
            state_file.unlink()
        bed.cluster.stop()
