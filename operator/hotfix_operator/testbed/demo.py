"""``make demo``: a local cluster, Prometheus, the operator, a good hotfix and a bad one, live.

The bad hotfix raises the error rate; the operator sees the breach, decides (rule root-cause-unknown),
rolls it back, verifies the recovery, and the demo prints its report. Where the machine can run
the real node (root, cgroups, network namespaces) the pods are real (testbed/real_node.py) and a third
hotfix names an image tag that does not exist: it never starts, and is rolled back by rule rollout-failed.
Elsewhere kwok's fake nodes and the workload simulator play the pods. Everything stays up afterwards for
exploring; ``make cluster-down`` stops it all.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from kubernetes import client, config

from hotfix_operator.api.models import GROUP, PLURAL, VERSION
from hotfix_operator.cli.report_command import ReportOptions, build_report
from hotfix_operator.testbed.app_images import NEVER_IMPORTED, app_image
from hotfix_operator.testbed.cluster import REPO_ROOT, kubectl_binary
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.processes import wait_until
from hotfix_operator.testbed.real_node import real_node_unavailable
from hotfix_operator.testbed.real_workloads import load_service, real_deployment
from hotfix_operator.testbed.simulator import BEHAVIOUR_BY_IMAGE, SESSIONS
from hotfix_operator.testbed.simulator import TELEMETRY as TELEMETRY_ANNOTATION
from hotfix_operator.testbed.stack import TestBed, TestBedState

NAMESPACE = "demo"
# Pause images run on kind as well as on kwok's fake nodes; the simulator gives them behaviour.
GOOD_IMAGE = "registry.k8s.io/pause:3.9"
BAD_IMAGE = "registry.k8s.io/pause:3.10"
FIXED_IMAGE = "registry.k8s.io/pause:3.8"
BEHAVIOUR = {BAD_IMAGE: {"error-ratio": 0.05, "p95-ms": 450}}
FINAL_PHASES = {"Stable", "RolledBack", "Escalated", "Failed", "Superseded"}
# The demo's windows, in seconds instead of minutes and hours.
DEMO_SPEC = {
    "analysis": {
        "interval": "2s",
        "errorRate": {"max": 0.01, "for": "10s"},
        "latencyP95": {"maxMs": 1200, "window": "4s", "consecutiveWindows": 3},
        "crashFreeSessions": {"min": 0.98, "over": "30s", "minSessions": 20},
    },
    "stability": {"checkpoints": ["15s", "30s", "45s"]},
    "rollback": {"timeout": "60s", "verifyFor": "10s"},
}


# Real telemetry shapes: auth-api is in an Istio mesh; search is a backend scraped by a ServiceMonitor
# (no deployment label) that has no session metrics.
TELEMETRY = {
    "auth-api": ("istio", {TELEMETRY_ANNOTATION: "istio"}),
    "search": ("kube-prometheus", {TELEMETRY_ANNOTATION: "kube-prometheus", SESSIONS: "false"}),
}


def _deployment(name: str) -> dict[str, Any]:
    annotations = {BEHAVIOUR_BY_IMAGE: json.dumps(BEHAVIOUR), **TELEMETRY[name][1]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": annotations},
                "spec": {"containers": [{"name": "app", "image": GOOD_IMAGE}]},
            },
        },
    }


# The real node's version of the story: its own application, each behaviour an image tag.
REAL_HOTFIXES = {
    "search-fix": ("search", app_image("1.2-good"), "INC-2026-0101", "Stable"),
    "auth-fix": ("auth-api", app_image("1.1-errors"), "INC-2026-0102", "RolledBack"),
    "cart-fix": ("cart", app_image(NEVER_IMPORTED), "INC-2026-0103", "RolledBack"),
}
REAL_ANALYSIS = {
    "telemetry": "kube-prometheus",
    "crashFreeSessions": {"source": "restarts", "min": 0.98, "over": "30s", "minSessions": 0},
}


def _hotfix(name: str, deployment: str, image: str, incident: str, real: bool = False) -> dict[str, Any]:
    analysis = {**DEMO_SPEC["analysis"], **REAL_ANALYSIS} if real else {
        **DEMO_SPEC["analysis"], "telemetry": TELEMETRY[deployment][0]}  # fmt: skip
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Hotfix",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "incident": {"id": incident, "severity": "SEV1", "rootCause": "unknown"},
            "targets": [{"deployment": deployment, "images": {"app": image}}],
            **DEMO_SPEC,
            "analysis": analysis,
        },
    }


class Demo:
    def __init__(self, work_dir: Path, out: TextIO = sys.stdout, cluster: str = "local") -> None:
        self.work_dir = work_dir.resolve()
        self.out = out
        self.cluster = cluster
        self.seen: dict[str, int] = {}
        # Real pods on the local cluster when this machine can run them; kind brings real nodes of its own.
        self.unavailable = real_node_unavailable() if cluster == "local" else "kind runs the pods"
        self.real = self.unavailable is None

    @property
    def expected(self) -> dict[str, str]:
        if self.real:
            return {name: outcome for name, (*_, outcome) in REAL_HOTFIXES.items()}
        return {"search-fix": "Stable", "auth-fix": "RolledBack"}

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def run(self, timeout: float = 240.0) -> dict[str, Any]:
        started = time.monotonic()
        if self.real:
            self.say("==> real pods: a kubelet runs them through containerd and runc on this machine")
        else:
            self.say(f"==> fake pods (kwok's nodes and the workload simulator): no real node here ({self.unavailable})")
        state = self._start_everything()
        api_client = config.new_client_from_config(state.kubeconfig)
        self._create_workloads(api_client)
        custom = client.CustomObjectsApi(api_client)
        if self.real:
            self.say(
                "\n==> applying three hotfixes: search-fix (a good image), auth-fix (an image answering 20% of "
                "requests with 500) and cart-fix (a mistyped image tag that was never built)"
            )
            bodies = [_hotfix(name, *hotfix[:3], real=True) for name, hotfix in REAL_HOTFIXES.items()]
        else:
            self.say(
                "\n==> applying two hotfixes: search-fix (a good image; a backend with kube-prometheus metrics and no"
                " sessions) and auth-fix (an image with 5% errors, judged on Istio's metrics)"
            )
            bodies = [
                _hotfix("search-fix", "search", FIXED_IMAGE, "INC-2026-0101"),
                _hotfix("auth-fix", "auth-api", BAD_IMAGE, "INC-2026-0102"),
            ]
        for body in bodies:
            custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body)
        self.say("==> watching (time, hotfix, event, rule, details):\n")
        final = self._watch(custom, list(self.expected), timeout)
        auth = custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "auth-fix")
        self.say(
            "\n==> the report of auth-fix (kubectl hotfix report auth-fix -n demo; add --prometheus URL -o DIR "
            "for charts and user impact):\n"
        )
        incident = ((auth.get("spec") or {}).get("incident") or {}).get("id", "?")
        self.say(build_report(incident, [auth], ReportOptions()).markdown)
        self.say(f"==> demo finished in {time.monotonic() - started:.0f}s; the cluster stays up for exploring:")
        self.say(f"    export KUBECONFIG={state.kubeconfig}")
        self.say(f"    kubectl get hotfixes -n {NAMESPACE}")
        self.say(f"    .venv/bin/kubectl-hotfix -n {NAMESPACE} status auth-fix")
        self.say(f"    Prometheus: {self._prometheus(state)}")
        self.say("    stop everything with: make cluster-down")
        return final

    def _start_everything(self) -> TestBedState:
        if (self.work_dir / "testbed.json").exists():
            self.say(f"==> stopping the previous demo in {self.work_dir}")
            TestBed.stop_saved(self.work_dir)
        self.say(f"==> starting the test bed ({self.cluster} cluster, workload simulator, Prometheus)")
        kubeconfig = self._kind_cluster() if self.cluster == "kind" else None
        state = TestBed(self.work_dir, external_kubeconfig=kubeconfig, real_node=self.real).start()
        self.say(f"    up in {state.started_in_seconds}s; Prometheus at {self._prometheus(state)}")
        kubectl = [kubectl_binary(), f"--kubeconfig={state.kubeconfig}"]
        subprocess.run([*kubectl, "apply", "-f", str(REPO_ROOT / "crds")], check=True, capture_output=True)
        subprocess.run([*kubectl, "wait", "--for=condition=Established", "crd/hotfixes.hotfix.dev"], check=True,
                       capture_output=True)  # fmt: skip
        self._start_operator(state)
        return state

    def _kind_cluster(self) -> str:
        kubeconfig = self.work_dir / "kind.kubeconfig"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.say("==> creating a kind cluster (needs Docker and kind on PATH)")
        subprocess.run(["kind", "create", "cluster", "--name", "hotfix-demo", "--kubeconfig", str(kubeconfig)],
                       check=True)  # fmt: skip
        return str(kubeconfig)

    def _prometheus(self, state: TestBedState) -> str:
        """The Prometheus the operator reads: the real node's own, which scrapes the real pods."""
        return state.real_node_prometheus_url or state.prometheus_url

    def _start_operator(self, state: TestBedState) -> None:
        process = OperatorProcess(state.kubeconfig, self._prometheus(state), self.work_dir / "operator.log", "4s")
        process.start()
        assert process.process is not None
        (self.work_dir / "operator.pid").write_text(str(process.process.pid))
        self.say(f"==> operator running (log {process.log_path}, metrics {process.metrics_url})")

    def _create_workloads(self, api_client: client.ApiClient) -> None:
        core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
        if self.real:
            for deployment, *_ in REAL_HOTFIXES.values():
                apps.create_namespaced_deployment(NAMESPACE, real_deployment(deployment, replicas=3))
                core.create_namespaced_service(NAMESPACE, load_service(deployment))
            self.say("==> deployments search, auth-api and cart (3 real pods each, each with a Service taking "
                     "20 requests a second) running hotfix.local/app:1.0")  # fmt: skip
        else:
            for name in ("auth-api", "search"):
                apps.create_namespaced_deployment(NAMESPACE, _deployment(name))
            self.say("==> deployments auth-api and search (3 replicas each) running the good image")

        def ready() -> bool:
            deployments = apps.list_namespaced_deployment(NAMESPACE).items
            return all((d.status.available_replicas or 0) == d.spec.replicas for d in deployments)

        wait_until(ready, timeout=120, what="the demo deployments to become ready")
        # Let Prometheus see some healthy traffic first: it is the baseline the checkpoints compare to.
        time.sleep(10)

    def _watch(self, custom: client.CustomObjectsApi, names: list[str], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        phases: dict[str, str] = {}
        while time.monotonic() < deadline:
            for name in names:
                hotfix = custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name)
                status = hotfix.get("status") or {}
                self._print_new(name, status.get("timeline") or [])
                phases[name] = status.get("phase", "Pending")
            if all(phase in FINAL_PHASES for phase in phases.values()):
                return phases
            time.sleep(1)
        self.say(f"==> stopped watching after {timeout:.0f}s: {phases}")
        return phases

    def _print_new(self, name: str, timeline: list[dict[str, Any]]) -> None:
        for entry in timeline[self.seen.get(name, 0) :]:
            at = entry["at"][11:19]
            self.say(f"  {at}  {name:<11} {entry['type']:<17} {entry.get('rule') or '':<20} {entry['message']}")
        self.seen[name] = len(timeline)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the hotfix-operator demo")
    parser.add_argument("--dir", default=".cluster")
    parser.add_argument("--cluster", choices=["local", "kind"], default="local")
    args = parser.parse_args(argv)
    demo = Demo(Path(args.dir), cluster=args.cluster)
    phases = demo.run()
    return 0 if phases == demo.expected else 1


if __name__ == "__main__":
    sys.exit(main())
