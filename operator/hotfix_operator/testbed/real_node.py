"""A real node for the test bed: a kubelet running pods through containerd and runc, with real networking.

Beside kwok's fake nodes (every pod Ready at once, never a crash) this node runs the test application's
images for real, so the kubelet's own failure states happen: ``ErrImagePull`` for a tag that was never
imported, ``CrashLoopBackOff`` with its restart count, a readiness probe that never passes, ``OOMKilled``.
It carries a taint, so that only pods that tolerate it (the real-pod suite's) land on it. Its pods are
scraped through ``kubernetes_sd_configs`` with kube-prometheus' labels by a Prometheus of its own (built
from the Go module: Debian's has no Kubernetes discovery), kube-state-metrics runs against it, and a load
generator sends traffic to Ready endpoints only (testbed/loadgen.py). The operator of a real-pod test or of
the demo queries that Prometheus.

Settings this machine needs, each for a reason:
- ``failCgroupV1: false``: the machine mounts cgroup v1 (with a cgroup2 hierarchy beside it), which the
  kubelet refuses by default since v1.35.
- ``restrict_oom_score_adj = true`` in containerd's CRI configuration: processes here may not lower
  ``oom_score_adj``; without it every sandbox fails with "can't get final child's PID from pipe".
- a locally built sandbox ("pause") image: no registry is reachable.
- ``podLogsDirectory`` and the CNI IPAM data directory inside the bed: nothing is left behind in /var.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import tomli_w
import yaml

from hotfix_operator.testbed.app_images import PAUSE_IMAGE, build_images
from hotfix_operator.testbed.cluster import REPO_ROOT, ClusterError, ClusterState, kubectl_binary
from hotfix_operator.testbed.processes import free_port, stop_pids, wait_until
from hotfix_operator.testbed.prometheus import LocalPrometheus

BUILD_SCRIPT = REPO_ROOT / "hack" / "build-real-node.sh"
INSTALL_SCRIPT = REPO_ROOT / "hack" / "install-runtime.sh"
REAL_NODE_NAME = "real-node-0"
# Only pods that tolerate this land on the real node: the simulator's pods stay on kwok's nodes.
REAL_NODE_TAINT = {"key": "hotfix.dev/real-node", "value": "true", "effect": "NoSchedule"}
# Each real node has a subnet, a bridge and a pod cgroup root of its own (from its work directory), so that two
# beds on one machine (two test workers, or the demo beside the tests) never manage each other's pods.
CGROUP_V1 = Path("/sys/fs/cgroup")
SCRAPE_ANNOTATION = "prometheus.io/scrape"


def real_node_unavailable() -> str | None:
    """Why this machine cannot run the real node (None: it can): root, cgroups, network namespaces."""
    if os.geteuid() != 0:
        return "not root"
    if not (CGROUP_V1 / "memory" / "cgroup.procs").exists():
        return f"no cgroup v1 memory hierarchy under {CGROUP_V1}"
    if subprocess.run(["unshare", "--net", "true"], capture_output=True, check=False).returncode != 0:
        return "network namespaces cannot be created"
    return None


def _run_script(script: Path) -> str:
    completed = subprocess.run([str(script)], stdout=subprocess.PIPE, text=True, check=False)
    if completed.returncode != 0:
        raise ClusterError(f"{script} failed with exit code {completed.returncode}")
    return completed.stdout.strip().splitlines()[-1]


def pod_scrape_configs(cluster: ClusterState, token_file: Path, ksm_address: str) -> list[dict[str, Any]]:
    """The real node's scrape jobs: its pods found through the API server, labelled as kube-prometheus'
    PodMonitors label them (namespace, pod, container; no deployment), and kube-state-metrics."""
    pods = {
        "job_name": "kubernetes-pods",
        "kubernetes_sd_configs": [
            {
                "role": "pod",
                "api_server": cluster.server,
                "authorization": {"credentials_file": str(token_file)},
                "tls_config": {"ca_file": str(Path(cluster.work_dir) / "pki" / "apiserver.crt")},
            }
        ],
        "relabel_configs": [
            {"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], "action": "keep",
             "regex": "true"},
            {"source_labels": ["__meta_kubernetes_pod_container_port_name"], "action": "keep", "regex": "http"},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        ],
    }  # fmt: skip
    # kube-state-metrics' own namespace and pod labels are the objects', not its own: kept as they are.
    ksm = {"job_name": "kube-state-metrics", "honor_labels": True, "static_configs": [{"targets": [ksm_address]}]}
    return [pods, ksm]


class RealNode:
    """containerd, the kubelet, kube-state-metrics and the load generator, started and stopped together."""

    def __init__(self, work_dir: Path, cluster: ClusterState) -> None:
        self.work_dir = work_dir.resolve()
        self.cluster = cluster
        self.prometheus: LocalPrometheus | None = None
        # A unix socket path has at most 107 bytes: containerd's lives in a short directory of its own.
        digest = hashlib.sha256(str(self.work_dir).encode()).hexdigest()
        short = digest[:10]
        self.run_dir = Path("/run/hotfix-bed") / short
        self.pod_subnet = f"10.213.{int(digest[10:12], 16)}.0/24"
        self.bridge = f"hf{digest[:8]}"
        self.cgroup_root = f"/hotfix-bed-{short}"
        self.pids: dict[str, int] = {}

    @property
    def socket(self) -> Path:
        return self.run_dir / "containerd.sock"

    def log_path(self, component: str) -> Path:
        return self.work_dir / "logs" / f"{component}.log"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        _run_script(INSTALL_SCRIPT)
        bin_dir = Path(_run_script(BUILD_SCRIPT))
        (self.work_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_containerd()
            for image in build_images(bin_dir, self.work_dir / "images"):
                self._ctr("images", "import", str(image))
            self._start_kubelet(bin_dir)
            ksm_address = self._start_kube_state_metrics(bin_dir)
            self._start_prometheus(bin_dir, ksm_address)
            self._start_loadgen()
        except BaseException:
            self.stop()
            raise

    @classmethod
    def stop_saved(cls, work_dir: Path, cluster: ClusterState, pids: dict[str, int]) -> None:
        """Stop a real node that another process started (``testbed down``)."""
        node = cls(work_dir, cluster)
        node.pids = dict(pids)
        node.stop()

    @property
    def prometheus_url(self) -> str:
        assert self.prometheus is not None
        return self.prometheus.url

    def stop(self) -> None:
        for component in ("loadgen", "prometheus", "kube-state-metrics", "kubelet"):
            if component in self.pids:
                stop_pids([self.pids.pop(component)])
        if "containerd" in self.pids:
            self._remove_containers()
            stop_pids([self.pids.pop("containerd")])
        self._unmount_leftovers()
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True, check=False)
        self._remove_cgroup_root()
        subprocess.run(
            [kubectl_binary(), f"--kubeconfig={self.cluster.kubeconfig}", "delete", "node", REAL_NODE_NAME,
             "--ignore-not-found", "--wait=false"],
            capture_output=True, check=False,
        )  # fmt: skip

    # -- components ------------------------------------------------------------------------

    def _spawn(self, component: str, argv: list[str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            argv,
            stdout=self.log_path(component).open("ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pids[component] = process.pid
        return process

    def _alive(self, component: str, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is not None:
            tail = self.log_path(component).read_text(errors="replace")[-3000:]
            raise ClusterError(f"{component} exited with code {process.returncode}:\n{tail}")

    def _ctr(self, *args: str) -> str:
        return subprocess.run(
            ["ctr", f"--address={self.socket}", "--namespace=k8s.io", *args], capture_output=True, text=True, check=True
        ).stdout

    def _start_containerd(self) -> None:
        cni_dir = self.work_dir / "cni"
        cni_dir.mkdir(parents=True, exist_ok=True)
        network = {
            "cniVersion": "0.4.0",
            "name": "hotfix-bed",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": self.bridge,
                    "isGateway": True,  # the host reaches pods through the bridge: probes, scrapes, traffic
                    "ipMasq": False,  # pods need no way out of the machine
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": self.pod_subnet}]],
                        "dataDir": str(self.work_dir / "cni-ipam"),
                    },
                }
            ],
        }
        (cni_dir / "10-hotfix-bed.conflist").write_text(json.dumps(network))
        cri = {
            "sandbox_image": PAUSE_IMAGE,
            # Processes here may not lower oom_score_adj: without this every sandbox fails to start.
            "restrict_oom_score_adj": True,
            "cni": {"bin_dir": "/usr/lib/cni", "conf_dir": str(cni_dir)},
            "containerd": {"runtimes": {"runc": {"runtime_type": "io.containerd.runc.v2"}}},
        }
        config = {
            "version": 2,
            "root": str(self.work_dir / "containerd"),
            "state": str(self.run_dir / "state"),
            "grpc": {"address": str(self.socket)},
            "plugins": {"io.containerd.grpc.v1.cri": cri},
        }
        config_path = self.work_dir / "containerd.toml"
        config_path.write_text(tomli_w.dumps(config))
        process = self._spawn("containerd", ["containerd", f"--config={config_path}"])

        def serving() -> bool:
            self._alive("containerd", process)
            return subprocess.run(["ctr", f"--address={self.socket}", "version"], capture_output=True).returncode == 0

        wait_until(serving, timeout=30, what="containerd to serve")

    def _start_kubelet(self, bin_dir: Path) -> None:
        kubelet_config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            # The machine mounts cgroup v1; the kubelet refuses it unless told otherwise (since v1.35).
            "failCgroupV1": False,
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": self.cgroup_root,
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            "address": "127.0.0.1",
            "port": free_port(),
            "readOnlyPort": 0,
            "healthzPort": 0,
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": False}},
            "authorization": {"mode": "AlwaysAllow"},
            "failSwapOn": False,
            "serializeImagePulls": False,
            # The bed's disk is shared with everything else: evict only when it is really full.
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                             "nodefs.inodesFree": "1%"},
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "resolvConf": "",
            "enforceNodeAllocatable": [],
            "registerWithTaints": [REAL_NODE_TAINT],
            "podLogsDirectory": str(self.work_dir / "pod-logs"),
            "maxPods": 40,
        }  # fmt: skip
        config_path = self.work_dir / "kubelet.yaml"
        config_path.write_text(yaml.safe_dump(kubelet_config))
        # The kubelet places its pods under the root but does not create it.
        for hierarchy in self._cgroup_hierarchies():
            (hierarchy / self.cgroup_root.lstrip("/")).mkdir(exist_ok=True)
        process = self._spawn(
            "kubelet",
            [
                str(bin_dir / "kubelet"),
                f"--config={config_path}",
                f"--kubeconfig={self.cluster.kubeconfig}",
                f"--root-dir={self.work_dir / 'kubelet'}",
                f"--hostname-override={REAL_NODE_NAME}",
                "--node-labels=type=real",
                "--v=1",
            ],
        )

        def ready() -> bool:
            self._alive("kubelet", process)
            node = self._kubectl("get", "node", REAL_NODE_NAME, "-o", "json", check=False)
            if not node:
                return False
            conditions = json.loads(node).get("status", {}).get("conditions", [])
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        wait_until(ready, timeout=90, what=f"the kubelet to register {REAL_NODE_NAME} and report it Ready")
        # The node lifecycle controller, which lifts the not-ready taint, does not run in the bed: lift it here,
        # keeping the real node's own taint.
        taints = json.dumps({"spec": {"taints": [REAL_NODE_TAINT]}})
        self._kubectl("patch", "node", REAL_NODE_NAME, "--type=merge", "-p", taints)

    def _start_kube_state_metrics(self, bin_dir: Path) -> str:
        port = free_port()
        process = self._spawn(
            "kube-state-metrics",
            [
                str(bin_dir / "kube-state-metrics"),
                f"--kubeconfig={self.cluster.kubeconfig}",
                "--host=127.0.0.1",
                f"--port={port}",
                "--telemetry-host=127.0.0.1",
                f"--telemetry-port={free_port()}",
                # Pods only: --node selects by spec.nodeName, which other kinds do not have.
                "--resources=pods",
                # Pods of the real node only: the simulator plays kube-state-metrics for kwok's pods.
                f"--node={REAL_NODE_NAME}",
            ],
        )

        def serving() -> bool:
            self._alive("kube-state-metrics", process)
            return (
                subprocess.run(["curl", "-sf", f"http://127.0.0.1:{port}/metrics"], capture_output=True).returncode == 0
            )

        wait_until(serving, timeout=60, what="kube-state-metrics to serve")
        return f"127.0.0.1:{port}"

    def _start_prometheus(self, bin_dir: Path, ksm_address: str) -> None:
        token_file = self.work_dir / "prometheus-token"
        token_file.write_text(self.cluster.admin_token)
        token_file.chmod(0o600)
        jobs = pod_scrape_configs(self.cluster, token_file, ksm_address)
        self.prometheus = LocalPrometheus(
            self.work_dir / "prometheus", [], jobs=jobs, binary=str(bin_dir / "prometheus")
        )
        self.prometheus.start()
        assert self.prometheus.pid is not None
        self.pids["prometheus"] = self.prometheus.pid

    def _start_loadgen(self) -> None:
        self._spawn(
            "loadgen",
            [sys.executable, "-m", "hotfix_operator.testbed.loadgen", f"--kubeconfig={self.cluster.kubeconfig}",
             f"--subnet={ipaddress.ip_network(self.pod_subnet)}"],
        )  # fmt: skip

    # -- clean-up --------------------------------------------------------------------------

    def _remove_containers(self) -> None:
        """Kill every task and remove every container, so no shim outlives the bed."""
        with contextlib.suppress(subprocess.CalledProcessError):
            for container in self._ctr("containers", "list", "--quiet").split():
                with contextlib.suppress(subprocess.CalledProcessError):
                    self._ctr("tasks", "kill", "--signal=SIGKILL", container)
                with contextlib.suppress(subprocess.CalledProcessError):
                    self._ctr("tasks", "delete", "--force", container)
                with contextlib.suppress(subprocess.CalledProcessError):
                    self._ctr("containers", "delete", container)

    def _unmount_leftovers(self) -> None:
        """The kubelet's volumes and containerd's sandboxes are mounts: unmounted before the files go."""
        roots = (str(self.work_dir), str(self.run_dir))
        with open("/proc/self/mounts") as mounts:
            targets = [line.split()[1] for line in mounts if line.split()[1].startswith(roots)]
        for target in sorted(targets, key=len, reverse=True):
            subprocess.run(["umount", "-l", target], capture_output=True, check=False)

    @staticmethod
    def _cgroup_hierarchies() -> list[Path]:
        return [path for path in CGROUP_V1.iterdir() if path.is_dir() and (path / "cgroup.procs").exists()]

    def _remove_cgroup_root(self) -> None:
        """Empty cgroups left by the pods, deepest first (a cgroup is removed with rmdir once it is empty)."""
        for hierarchy in self._cgroup_hierarchies():
            root = hierarchy / self.cgroup_root.lstrip("/")
            if not root.exists():
                continue
            for directory in sorted(
                (p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
            ):
                with contextlib.suppress(OSError):
                    directory.rmdir()
            with contextlib.suppress(OSError):
                root.rmdir()

    def _kubectl(self, *args: str, check: bool = True) -> str:
        completed = subprocess.run(
            [kubectl_binary(), f"--kubeconfig={self.cluster.kubeconfig}", *args], capture_output=True, text=True
        )
        if check and completed.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)}: {completed.stderr.strip()}")
        return completed.stdout if completed.returncode == 0 else ""
