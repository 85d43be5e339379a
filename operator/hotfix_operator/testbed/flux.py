"""Flux on the test bed: the real source-controller and kustomize-controller, built from their Go modules by
hack/build-flux.sh, run on this machine against the test bed's API server, with their own CRDs (and Argo
CD's Application CRD, whose controller is not built here).

source-controller serves its artifacts on 127.0.0.1, which is the address it writes into each
GitRepository's ``status.artifact.url``: kustomize-controller and the operator fetch them from there, as
they would from its Service in a cluster.
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from hotfix_operator.testbed.cluster import REPO_ROOT, kubectl_binary
from hotfix_operator.testbed.processes import free_port, stop_pids, wait_until

FLUX_NAMESPACE = "flux-system"
BUILD_SCRIPT = REPO_ROOT / "hack" / "build-flux.sh"


class FluxError(RuntimeError):
    pass


def build_flux() -> Path:
    """The directory with bin/ and crds/ (built once, cached outside the repository)."""
    completed = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise FluxError(f"hack/build-flux.sh failed:\n{completed.stderr[-4000:]}")
    return Path(completed.stdout.strip().splitlines()[-1])


@dataclass
class FluxControllers:
    kubeconfig: str
    work_dir: Path
    pids: dict[str, int] = field(default_factory=dict)
    artifact_address: str = ""

    def start(self, timeout: float = 120.0) -> FluxControllers:
        flux = build_flux()
        self._kubectl("apply", "--server-side", "--force-conflicts", "-f", str(flux / "crds"))
        for crd in ("gitrepositories.source.toolkit.fluxcd.io", "kustomizations.kustomize.toolkit.fluxcd.io",
                    "applications.argoproj.io"):  # fmt: skip
            wait_until(lambda crd=crd: self._established(crd), timeout=60, what=f"CRD {crd} to be established")
        self._kubectl("create", "namespace", FLUX_NAMESPACE, check=False)
        storage_port = free_port()
        self.artifact_address = f"127.0.0.1:{storage_port}"
        storage = self.work_dir / "flux-artifacts"
        storage.mkdir(parents=True, exist_ok=True)
        common = ["--enable-leader-election=false", "--watch-all-namespaces=true", "--log-level=info",
                  "--log-encoding=json"]  # fmt: skip
        health = {"source-controller": free_port(), "kustomize-controller": free_port()}
        self._spawn("source-controller", flux, [
            *common, f"--storage-path={storage}", f"--storage-addr={self.artifact_address}",
            f"--storage-adv-addr={self.artifact_address}", f"--metrics-addr=127.0.0.1:{free_port()}",
            f"--health-addr=127.0.0.1:{health['source-controller']}",
        ])  # fmt: skip
        self._spawn("kustomize-controller", flux, [
            *common, f"--metrics-addr=127.0.0.1:{free_port()}",
            f"--health-addr=127.0.0.1:{health['kustomize-controller']}", "--no-remote-bases=true",
        ])  # fmt: skip
        for name, port in health.items():
            wait_until(lambda port=port, name=name: self._ready(name, port), timeout=timeout, what=f"Flux {name}")
        return self

    def stop(self) -> None:
        stop_pids(self.pids.values())
        self.pids.clear()

    def log(self, name: str) -> str:
        return (self.work_dir / f"{name}.log").read_text(errors="replace")

    def _spawn(self, name: str, flux: Path, args: list[str]) -> None:
        log = (self.work_dir / f"{name}.log").open("ab")
        env = {**os.environ, "KUBECONFIG": self.kubeconfig, "RUNTIME_NAMESPACE": FLUX_NAMESPACE}
        process = subprocess.Popen([str(flux / "bin" / name), *args], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, env=env)  # fmt: skip
        self.pids[name] = process.pid

    def _ready(self, name: str, port: int) -> bool:
        pid = self.pids[name]
        try:
            os.kill(pid, 0)
            finished, _ = os.waitpid(pid, os.WNOHANG)
        except (ProcessLookupError, ChildProcessError):
            finished = pid
        if finished:
            raise FluxError(f"{name} exited; its log:\n{self.log(name)[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def _established(self, crd: str) -> bool:
        jsonpath = '{.status.conditions[?(@.type=="Established")].status}'
        return self._kubectl("get", f"crd/{crd}", "-o", f"jsonpath={jsonpath}", check=False).strip() == "True"

    def _kubectl(self, *args: str, check: bool = True) -> str:
        completed = subprocess.run([kubectl_binary(), f"--kubeconfig={self.kubeconfig}", *args],
                                   capture_output=True, text=True, check=False)  # fmt: skip
        if check and completed.returncode != 0:
            raise FluxError(f"kubectl {' '.join(args)}: {completed.stderr.strip()}")
        return completed.stdout
