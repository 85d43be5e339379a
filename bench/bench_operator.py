"""The operator's numbers on the local control plane and a real Prometheus:

- breach to undo patch, against an independent clock: from the evaluation at which Prometheus' own alert
  for the same threshold (the PrometheusRule the operator publishes, loaded into the test bed's
  Prometheus) went firing to the RollbackPatched entry, over several bad hotfixes; and, for comparison,
  from the first second at which a replay of the operator's analysis over Prometheus' history shows it;
- resident memory and CPU of one operator driving many Hotfixes at once, the API requests it makes (the
  API server's own count) and its worst analysis lag behind the interval (its own gauge)
  (BENCH_LOAD_HOTFIXES, default 100; BENCH_LOAD_INTERVAL, default 30s; BENCH_BREACH_RUNS, default 5);
- then, amid those Hotfixes, operator SIGKILL and start (BENCH_RESTARTS times, default 3; the worst is
  recorded): to its /metrics, to the first reconcile (the first status write on a waiting Hotfix) and to
  every one of them analysed again.

    python bench/bench_operator.py        (make bench)

At scale (10,000 Hotfixes): BENCH_SCRAPE_INTERVAL=10s scrapes less often (the breach runs are then skipped)
and BENCH_LOAD_IN_PLACE=1 creates the Deployments already running the Hotfix's image (no rollouts);
BENCH_LOAD_NAMESPACES spreads the load over that many namespaces (default 1);
BENCH_PROMETHEUS_TIMEOUT_SECONDS is the operator's HOTFIX_PROMETHEUS_TIMEOUT_SECONDS (10, 25 above 1,000).
BENCH_PEERING=1 runs the operator as the shipped Deployment does: in Kopf's peering, its pod's name as POD_ID
(figures under "operator_peering", or "operator_<N>_peering").
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import ssl
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from results import record

from hotfix_operator.analysis.prometheus import PrometheusAnalyzer, PrometheusSettings, connect
from hotfix_operator.analysis.queries import QuerySettings, build_request
from hotfix_operator.api.durations import parse_duration
from hotfix_operator.api.models import Analysis
from hotfix_operator.api.status import AnalysisState
from hotfix_operator.testbed.operator_process import OperatorProcess
from hotfix_operator.testbed.stack import TestBed
from operator_support import (
    BAD_IMAGE,
    FAST_ANALYSIS,
    FIXED_IMAGE,
    GOOD_IMAGE,
    Cluster,
    deployment_manifest,
    hotfix_manifest,
)
from testbed_support import PROMETHEUS_RULE_CRD_PATH, REPO, install_crd, kubectl

BREACH_RUNS = int(os.environ.get("BENCH_BREACH_RUNS", "5"))
LOAD_HOTFIXES = int(os.environ.get("BENCH_LOAD_HOTFIXES", "100"))
LOAD_INTERVAL = os.environ.get("BENCH_LOAD_INTERVAL", "30s")
# A bed of thousands of pods cannot be scraped every second here (10,000 pods are 200,000 series); the load's
# windows are then as many scrapes long as at a 1 s scrape, and the breach runs (1 s windows) are skipped.
SCRAPE_INTERVAL = os.environ.get("BENCH_SCRAPE_INTERVAL", "1s")
SCRAPE_SECONDS = parse_duration(SCRAPE_INTERVAL).total_seconds()
# "1": each load Deployment already runs the Hotfix's image (the change applied by someone else, or before a
# restart), so the Hotfixes reach Monitoring without thousands of rollouts, which this machine's controllers
# take many minutes over; what is measured (steady Monitoring, the restart) is the same.
LOAD_IN_PLACE = os.environ.get("BENCH_LOAD_IN_PLACE") == "1"
# Objects created side by side when setting the load up.
CREATORS = 8
# The namespaces the load is spread over, as teams share a large platform's cluster: a Deployment's undo
# and status read list the ReplicaSets of its namespace by label, which the API server answers by going
# through all of the namespace's ReplicaSets.
LOAD_NAMESPACES = int(os.environ.get("BENCH_LOAD_NAMESPACES", "1"))
# How long the operator's batched analysis waits for Prometheus: on this 2-core machine one latency query over
# 10,000 Deployments (130,000 bucket series) takes over the default 10 s, so a larger load gets 25 s (under
# its 30 s interval), as the README says to set it.
PEERING = os.environ.get("BENCH_PEERING") == "1"
# SIGKILL and start this many times amid the load: the figures are the worst of them, each one printed.
RESTARTS = int(os.environ.get("BENCH_RESTARTS", "3"))
PROMETHEUS_TIMEOUT = os.environ.get("BENCH_PROMETHEUS_TIMEOUT_SECONDS", "10" if LOAD_HOTFIXES <= 1000 else "25")


def load_namespaces() -> list[str]:
    return ["bench-load"] if LOAD_NAMESPACES == 1 else [f"bench-load-{index}" for index in range(LOAD_NAMESPACES)]


WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def first_visible_breach(analyzer: PrometheusAnalyzer, namespace: str, hotfix: dict[str, Any], until: float) -> float:
    """Replay the analysis second by second over Prometheus' history: when did the breach first show?"""
    status = hotfix["status"]
    request = build_request(
        analyzer.settings,
        "replay",
        ((namespace, hotfix["spec"]["targets"][0]["deployment"]),),
        Analysis.model_validate(hotfix["spec"]["analysis"]),
        _time(status["rolloutCompletedAt"]),
    )
    moment = float(int(request.active_since))
    while moment <= until:
        if analyzer.analyze([request], now=moment)["replay"].result is AnalysisState.BREACHED:
            return moment
        moment += 1.0
    raise RuntimeError("the breach never showed in the replay")


def load_published_rules(bed: TestBed, cluster: Cluster, name: str, timeout: float = 30) -> None:
    """Play the prometheus-operator: load the Hotfix's PrometheusRule into the test bed's Prometheus as soon
    as the operator publishes it (before the rollout starts)."""
    assert bed.prometheus is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            rule = cluster.custom.get_namespaced_custom_object(
                "monitoring.coreos.com", "v1", cluster.namespace, "prometheusrules", f"hotfix-{name}"
            )
        except client.ApiException:
            time.sleep(0.1)
            continue
        bed.prometheus.load_rules(f"{cluster.namespace}-{name}", rule["spec"]["groups"])
        return
    raise TimeoutError(f"the PrometheusRule of {name} was never published")


def alert_firing_at(bed: TestBed, namespace: str, name: str, since: float, until: float) -> float | None:
    """The first evaluation at which Prometheus' own alert for the error-rate threshold was firing."""
    assert bed.prometheus is not None
    selector = f'alertname="HotfixErrorRateHigh",alertstate="firing",hotfix="{name}",hotfix_namespace="{namespace}"'
    query = urllib.parse.urlencode({"query": f"timestamp(ALERTS{{{selector}}})", "start": since, "end": until,
                                    "step": "0.25"})  # fmt: skip
    with urllib.request.urlopen(f"{bed.prometheus.url}/api/v1/query_range?{query}", timeout=10) as response:
        result = json.loads(response.read())["data"]["result"]
    stamps = [float(value) for series in result for _, value in series["values"]]
    return min(stamps, default=None)


def breach_to_undo(
    bed: TestBed, api_client: client.ApiClient, analyzer: PrometheusAnalyzer
) -> tuple[list[float], list[float]]:
    """From Prometheus' own alert going firing (an independent clock) to the undo patch; and, for comparison,
    from the breach's first second in a replay of the operator's analysis."""
    from_alert, from_replay = [], []
    for run in range(BREACH_RUNS):
        namespace = f"bench-breach-{run}"
        client.CoreV1Api(api_client).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
        cluster = Cluster(api_client, namespace)
        cluster.create_deployment("api")
        applied = time.time()
        cluster.apply_hotfix(hotfix_manifest("api-fix", ["api"], BAD_IMAGE))
        load_published_rules(bed, cluster, "api-fix")
        cluster.wait_phase("api-fix", "RolledBack", "Escalated", timeout=120)
        hotfix = cluster.hotfix("api-fix")
        patched = next(e for e in hotfix["status"]["timeline"] if e["type"] == "RollbackPatched")
        undo_at = _time(patched["at"])
        firing = alert_firing_at(bed, namespace, "api-fix", applied, undo_at + 30)
        if firing is None:
            raise RuntimeError(f"run {run}: Prometheus' alert never fired (undo at {undo_at:.1f})")
        from_alert.append(undo_at - firing)
        from_replay.append(undo_at - first_visible_breach(analyzer, namespace, hotfix, undo_at))
    return from_alert, from_replay


def operator_gauges(operator: OperatorProcess) -> dict[str, float]:
    """The operator's own figures of how its analyses keep up, from its /metrics."""
    wanted = (
        "hotfix_operator_analysed_hotfixes",
        "hotfix_operator_analysis_lag_seconds",
        "hotfix_operator_analysis_query_seconds_sum",
        "hotfix_operator_analysis_query_seconds_count",
    )
    return {
        sample.name: sample.value
        # As long as Prometheus' own scrape timeout: at 10,000 Hotfixes the busy operator took over 2 s to answer.
        for family in text_string_to_metric_families(operator.metrics(timeout=10))
        for sample in family.samples
        if sample.name in wanted
    }


def phase_reached_at(api_client: client.ApiClient, namespace: str, name: str, phase: str, timeout: int) -> float:
    """The monotonic moment a watch of the Hotfix first delivers ``phase``."""
    stream = watch.Watch().stream(
        client.CustomObjectsApi(api_client).list_namespaced_custom_object,
        "hotfix.dev",
        "v1alpha1",
        namespace,
        "hotfixes",
        field_selector=f"metadata.name={name}",
        timeout_seconds=timeout,
    )
    for event in stream:
        if (event["object"].get("status") or {}).get("phase") == phase:
            return time.monotonic()
    raise TimeoutError(f"{namespace}/{name} did not reach {phase} within {timeout}s")


@dataclass(frozen=True)
class Restart:
    """One SIGKILL and start: to the operator's /metrics (its own modules imported, its adapters wired: the log
    line's time), to the first reconcile, and to every Hotfix analysed again."""

    to_metrics: float
    to_first_reconcile: float
    to_all_analysed: float


def restart(api_client: client.ApiClient, operator: OperatorProcess, analysed: int, attempt: int) -> Restart:
    """SIGKILL the operator amid ``analysed`` Hotfixes under analysis and start it again: from the process'
    start to its first reconcile (a Hotfix created meanwhile reaching AwaitingApproval), and to every one of
    them analysed again."""
    operator.kill()
    namespace = f"bench-restart-{attempt}"
    client.CoreV1Api(api_client).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    cluster = Cluster(api_client, namespace)
    cluster.create_deployment("api")
    cluster.apply_hotfix(hotfix_manifest("api-fix", ["api"], FIXED_IMAGE, approval={"required": True}))
    # Watched, not polled: the moment the status write reaches the API server's watch, without a poll's
    # granularity added to it.
    with ThreadPoolExecutor(1) as watcher:
        reached = watcher.submit(phase_reached_at, api_client, namespace, "api-fix", "AwaitingApproval", 60)
        started, started_wall = time.monotonic(), time.time()
        operator.start()
        first_reconcile = reached.result() - started
    while analysed_since_start(operator) < analysed:
        if time.monotonic() - started > 600:
            raise TimeoutError(f"{analysed} Hotfixes were not all analysed again within 10 min of the restart")
        time.sleep(0.25)
    return Restart(metrics_served_at(operator) - started_wall, first_reconcile, time.monotonic() - started)


def metrics_served_at(operator: OperatorProcess) -> float:
    """The time of the operator's last "serving /metrics" line (the start-up's lines are written a moment after
    it: read until it is there)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = [line for line in operator.log_path.read_text().splitlines() if "serving /metrics" in line]
        if lines:
            return datetime.fromisoformat(json.loads(lines[-1])["timestamp"]).timestamp()
        time.sleep(0.2)
    raise TimeoutError("the operator did not log that it serves /metrics")


def analysed_since_start(operator: OperatorProcess) -> float:
    """How many Hotfixes this process has analysed at least once (its gauge); 0 when /metrics was too slow."""
    # The process resuming 10,000 Hotfixes may keep its /metrics thread from the GIL past the timeout: that read
    # is a miss, not the end of the run. An error answer still ends it (the race 4beac3b fixed was one).
    try:
        return operator_gauges(operator)["hotfix_operator_analysed_hotfixes"]
    except TimeoutError:
        print("  (the operator's /metrics did not answer within 10 s; read again)")
        return 0.0
    except urllib.error.URLError as error:
        if not isinstance(error.reason, TimeoutError):
            raise
        print("  (the operator's /metrics did not accept the connection within 10 s; read again)")
        return 0.0


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def open_connections(pid: int, port: int) -> int:
    """The process' established TCP connections to ``port`` on this machine (from /proc, as ``ss -tnp`` would)."""
    sockets = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                sockets.add(target[len("socket:[") : -1])
    established = 0
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port, state, inode = int(fields[2].split(":")[1], 16), fields[3], fields[9]
        established += remote_port == port and state == "01" and inode in sockets
    return established


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def apiserver_requests(bed: TestBed) -> Counter[tuple[str, str, str]]:
    """``apiserver_request_total`` from the API server's own /metrics, by (verb, resource, subresource)."""
    state = bed.cluster_state
    request = urllib.request.Request(
        f"{state.server}/metrics", headers={"Authorization": f"Bearer {state.admin_token}"}
    )
    context = ssl.create_default_context(cafile=str(Path(state.work_dir) / "pki" / "apiserver.crt"))
    context.check_hostname = False
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        text = response.read().decode()
    totals: Counter[tuple[str, str, str]] = Counter()
    for family in text_string_to_metric_families(text):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            if sample.name == "apiserver_request_total":
                labels = sample.labels
                totals[(labels["verb"], labels["resource"], labels.get("subresource", ""))] += sample.value
    return totals


def operator_requests(delta: Counter[tuple[str, str, str]]) -> dict[str, float]:
    """The requests only the operator makes in steady Monitoring: Hotfixes (and their status) and Deployment
    reads; the controllers and the simulator watch Deployments, Pods and ReplicaSets. Events are
    posted by the controllers and kwok too, so the operator's are counted on the Hotfixes instead."""
    counted: dict[str, float] = {}
    for (verb, resource, subresource), value in delta.items():
        attributable = resource == "hotfixes" or (verb, resource) in (("GET", "deployments"), ("POST", "events"))
        if attributable and verb != "WATCH" and value:
            counted[f"{verb} {resource}{'/' + subresource if subresource else ''}"] = value
    return counted


def hotfix_events(api_client: client.ApiClient, namespaces: list[str]) -> int:
    """Events the operator posted about the namespaces' Hotfixes, repeats included."""
    core = client.CoreV1Api(api_client)
    return sum(
        event.count or 1
        for namespace in namespaces
        for event in core.list_namespaced_event(namespace, field_selector="involvedObject.kind=Hotfix").items
    )


def in_scrapes(duration: str) -> str:
    """A window of the 1 s-scrape tests, as long in scrapes at the bed's scrape interval."""
    return f"{parse_duration(duration).total_seconds() * SCRAPE_SECONDS:g}s"


def load_analysis(interval: str) -> dict[str, Any]:
    analysis = copy.deepcopy(FAST_ANALYSIS)
    analysis["interval"] = interval
    analysis["errorRate"]["for"] = in_scrapes(analysis["errorRate"]["for"])
    analysis["latencyP95"]["window"] = in_scrapes(analysis["latencyP95"]["window"])
    analysis["crashFreeSessions"]["over"] = in_scrapes(analysis["crashFreeSessions"]["over"])
    return analysis


def create_load(api_client: client.ApiClient, namespaces: list[str], count: int, interval: str) -> None:
    """``count`` Deployments of one replica, each with a good Hotfix that stays in Monitoring for an hour, in
    turn over ``namespaces``."""
    for namespace in namespaces:
        client.CoreV1Api(api_client).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    clusters = [Cluster(api_client, namespace) for namespace in namespaces]
    apps = client.AppsV1Api(api_client)
    image = FIXED_IMAGE if LOAD_IN_PLACE else GOOD_IMAGE

    def deployment(index: int) -> None:
        manifest = deployment_manifest(f"svc-{index}", image, replicas=1)
        apps.create_namespaced_deployment(namespaces[index % len(namespaces)], manifest)

    def hotfix(index: int) -> None:
        body = hotfix_manifest(f"fix-{index}", [f"svc-{index}"], FIXED_IMAGE, stability={"checkpoints": ["1h"]})
        body["spec"]["analysis"] = load_analysis(interval)
        clusters[index % len(clusters)].apply_hotfix(body)

    with ThreadPoolExecutor(CREATORS) as creators:
        list(creators.map(deployment, range(count)))
        list(creators.map(hotfix, range(count)))


def judged(item: dict[str, Any]) -> bool:
    """In Monitoring with a decision from an analysis that had enough data: the decision of a Hotfix younger
    than its windows ("not enough data yet") changes once they fill, and that change is no steady state. The
    Healthy condition is not enough: it is judged on the thresholds that have data, while the decision waits
    for all of them (crash-free sessions' window is the last to fill)."""
    status = item.get("status") or {}
    healthy = next((c for c in status.get("conditions") or [] if c.get("type") == "Healthy"), {})
    decision = status.get("decision") or {}
    return (
        status.get("phase") == "Monitoring"
        and bool(decision)
        and decision.get("rule") != "analysis-pending"
        and healthy.get("reason") not in (None, "Pending", "AnalysisPending")
    )


def wait_monitoring(
    api_client: client.ApiClient, namespaces: list[str], count: int, timeout: float | None = None
) -> int:
    """Wait until every Hotfix is in Monitoring with a judged decision; returns how many are."""
    deadline = time.monotonic() + (timeout or max(600.0, 0.3 * count))
    monitoring = 0
    while time.monotonic() < deadline:
        # From the API server's watch cache (resourceVersion 0), not a read of every Hotfix from etcd, and
        # less often with more of them: at 10,000 one listing is tens of megabytes to encode and decode, and
        # every 2 s that took CPU from the operator and the bed it is waiting for.
        listed = client.CustomObjectsApi(api_client).list_cluster_custom_object(
            "hotfix.dev", "v1alpha1", "hotfixes", resource_version="0", _preload_content=False
        )
        items = json.loads(listed.data)["items"]
        monitoring = sum(judged(item) for item in items if item["metadata"]["namespace"] in namespaces)
        if monitoring == count:
            break
        time.sleep(max(2.0, count / 1000))
    print(f"  {monitoring} of {count} Hotfixes monitoring with a decision on enough data")
    return monitoring


@dataclass(frozen=True)
class LoadFigures:
    rss_mib: float
    cpu_cores: float
    seconds: float
    requests_per_hotfix_minute: dict[str, float]
    worst_lag: float
    # The batched Prometheus queries of the analyses in the window, and their mean duration.
    queries: int
    query_mean_seconds: float


def load(bed: TestBed, api_client: client.ApiClient, operator: OperatorProcess) -> LoadFigures:
    namespaces = load_namespaces()
    create_load(api_client, namespaces, LOAD_HOTFIXES, LOAD_INTERVAL)
    wait_monitoring(api_client, namespaces, LOAD_HOTFIXES)
    # Steady: one more interval, so that the decision of the first analysis with enough data is noted too.
    interval = parse_duration(LOAD_INTERVAL).total_seconds()
    time.sleep(interval)
    # The status writes come at the boundaries: a window from the middle of one interval to the middle of
    # another holds whole boundaries only. Were it to start or end at a boundary, it would hold one more or
    # fewer of them, a third more or fewer writes, by when the readings fall.
    time.sleep(math.ceil(time.time() / interval) * interval + interval / 2 - time.time())
    assert operator.process is not None
    pid = operator.process.pid
    events_before, gauges_before = hotfix_events(api_client, namespaces), operator_gauges(operator)
    # The API server's count is per second between its own two readings: the other readings take seconds at
    # 1,000 Hotfixes, and the writes of a boundary falling into them would count without their time.
    requests_before, requests_since = apiserver_requests(bed), time.monotonic()
    cpu_before, wall_before = _cpu_seconds(pid), time.monotonic()
    # Two analysis intervals and a status-detail period at least, in whole intervals, so every Hotfix is
    # analysed and may have written its detail in the window measured; the operator's analysis lag sampled
    # all along.
    window = interval * max(2, math.ceil(60.0 / interval))
    worst_lag = 0.0
    while time.monotonic() - wall_before < window:
        worst_lag = max(worst_lag, operator_gauges(operator)["hotfix_operator_analysis_lag_seconds"])
        time.sleep(0.5)
    seconds = time.monotonic() - wall_before
    cpu_share = (_cpu_seconds(pid) - cpu_before) / seconds
    delta = apiserver_requests(bed)
    requests_seconds = time.monotonic() - requests_since
    gauges = operator_gauges(operator)
    queries = (
        gauges["hotfix_operator_analysis_query_seconds_count"]
        - gauges_before["hotfix_operator_analysis_query_seconds_count"]
    )
    query_seconds = (
        gauges["hotfix_operator_analysis_query_seconds_sum"]
        - gauges_before["hotfix_operator_analysis_query_seconds_sum"]
    )
    delta.subtract(requests_before)
    delta[("POST", "events", "")] = hotfix_events(api_client, namespaces) - events_before
    per_hotfix_minute = {
        kind: round(value / LOAD_HOTFIXES / (requests_seconds / 60), 3)
        for kind, value in operator_requests(delta).items()
    }
    return LoadFigures(
        _rss_mib(pid), cpu_share, seconds, per_hotfix_minute, worst_lag, int(queries), query_seconds / max(queries, 1)
    )


def main() -> None:
    # While pods change (all through the set-up), each poll of the simulator advances every pod's counters
    # (0.25 s of a core at 10,000 pods): twice a scrape is often enough for the counters' pace.
    bed = TestBed(
        Path(tempfile.mkdtemp(prefix="hotfix-bench-")),
        scrape_interval=SCRAPE_INTERVAL,
        simulator_poll_seconds=max(0.5, SCRAPE_SECONDS / 2),
    )
    state = bed.start()
    try:
        api_client = config.new_client_from_config(state.kubeconfig)
        install_crd(api_client)
        # The operator publishes each Hotfix's thresholds as a PrometheusRule; the benchmark loads them.
        install_crd(api_client, PROMETHEUS_RULE_CRD_PATH)
        if PEERING:
            kubectl(state, "apply", "-f", str(REPO / "deploy" / "peering.yaml"))
            kubectl(state, "wait", "--for=condition=Established", "crd/clusterkopfpeerings.kopf.dev")
            kubectl(state, "apply", "-f", str(REPO / "deploy" / "peering-object.yaml"))
        operator = OperatorProcess(
            state.kubeconfig,
            state.prometheus_url,
            bed.work_dir / "operator.log",
            min_rate_window=in_scrapes("3s"),
            extra_args=("--peering", "hotfix-operator") if PEERING else (),
            # The Deployment's pod name: the process started after the SIGKILL is the same replica.
            env={
                "HOTFIX_PROMETHEUS_TIMEOUT_SECONDS": PROMETHEUS_TIMEOUT,
                **({"POD_ID": "bench-operator"} if PEERING else {}),
            },
        )
        operator.start()
        latencies, replayed = [], []
        if SCRAPE_SECONDS <= 1:
            settings = QuerySettings(min_rate_window=parse_duration(operator.min_rate_window))
            analyzer = PrometheusAnalyzer(connect(PrometheusSettings(url=state.prometheus_url)), settings)
            latencies, replayed = breach_to_undo(bed, api_client, analyzer)
        if latencies:
            ordered = sorted(latencies)
            p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
            print(f"Prometheus' own alert firing -> undo patch, {len(latencies)} runs, analysis interval 1s:")
            print(f"  each: {', '.join(f'{value:.2f}s' for value in latencies)} (negative: the undo came first)")
            print(f"  median {statistics.median(latencies):.2f}s, p95 {p95:.2f}s (target: interval + 1s = 2s)")
            print(f"  from the breach in a replay of the analysis instead: {', '.join(f'{v:.2f}s' for v in replayed)}")
        figures_of_load = load(bed, api_client, operator)
        rss, cpu, seconds = figures_of_load.rss_mib, figures_of_load.cpu_cores, figures_of_load.seconds
        requests, worst_lag = figures_of_load.requests_per_hotfix_minute, figures_of_load.worst_lag
        assert operator.process is not None
        connections = open_connections(
            operator.process.pid, urllib.parse.urlsplit(bed.cluster_state.server).port or 443
        )
        print(
            f"{LOAD_HOTFIXES} Hotfixes monitoring at once: RSS {rss:.0f} MiB, CPU {cpu:.2f} cores over {seconds:.0f}s"
        )
        print(f"  TCP connections to the API server: {connections}")
        print(f"  batched analysis queries: {figures_of_load.queries}, "
              f"{figures_of_load.query_mean_seconds:.2f}s each on average")  # fmt: skip
        print(f"  worst analysis lag behind its interval (the operator's own gauge, every 0.5 s): {worst_lag:.2f}s")
        writes = sum(value for kind, value in requests.items() if kind.split()[0] in WRITE_VERBS)
        print(f"  API requests per Hotfix per minute (the API server's apiserver_request_total): {requests or 'none'}")
        print(f"  of which writes: {writes:.3f} (target: at most 1)")
        restarts = [restart(api_client, operator, LOAD_HOTFIXES, attempt) for attempt in range(RESTARTS)]
        print(f"operator{' (in Kopf peering)' if PEERING else ''} SIGKILLed and started again amid {LOAD_HOTFIXES} "
              f"Hotfixes, {RESTARTS} times:")  # fmt: skip
        for each in restarts:
            print(
                f"  /metrics {each.to_metrics:.2f}s, first reconcile {each.to_first_reconcile:.2f}s (target < 2s), "
                f"all analysed again {each.to_all_analysed:.1f}s (target: within one interval, {LOAD_INTERVAL})"
            )
        first_reconcile = max(each.to_first_reconcile for each in restarts)
        all_resumed = max(each.to_all_analysed for each in restarts)
        figures = {
            "alert_firing_to_undo_seconds": [round(value, 3) for value in latencies],
            "breach_to_undo_seconds": [round(value, 3) for value in replayed],
            "load_hotfixes": LOAD_HOTFIXES,
            "load_interval": LOAD_INTERVAL,
            "scrape_interval": SCRAPE_INTERVAL,
            "load_in_place": LOAD_IN_PLACE,
            "load_namespaces": LOAD_NAMESPACES,
            "peering": PEERING,
            "prometheus_timeout_seconds": float(PROMETHEUS_TIMEOUT),
            "rss_mib": round(rss, 1),
            "cpu_cores": round(cpu, 3),
            "api_requests_per_hotfix_minute": requests,
            "api_writes_per_hotfix_minute": round(writes, 3),
            "worst_analysis_lag_seconds": round(worst_lag, 2),
            "apiserver_connections": connections,
            "analysis_query_mean_seconds": round(figures_of_load.query_mean_seconds, 3),
            "restart_to_first_reconcile_seconds": round(first_reconcile, 2),
            "restart_to_all_analysed_seconds": round(all_resumed, 1),
            "restarts": [
                {
                    "to_metrics_seconds": round(each.to_metrics, 2),
                    "to_first_reconcile_seconds": round(each.to_first_reconcile, 2),
                    "to_all_analysed_seconds": round(each.to_all_analysed, 1),
                }
                for each in restarts
            ],
        }
        # One section per scale: a run at 10,000 does not replace the figures of the 1,000 run.
        section = "operator" if LOAD_HOTFIXES <= 1000 else f"operator_{LOAD_HOTFIXES}"
        record(f"{section}_peering" if PEERING else section, figures)
        print(json.dumps(figures))
        operator.stop()
    finally:
        bed.stop()


if __name__ == "__main__":
    main()
