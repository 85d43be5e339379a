"""The event loop's CPU for one routine step: a Monitoring Hotfix recording an analysis that found nothing new.

    python bench/bench_step.py            (make bench; BENCH_STEP_PROFILE=1 prints where the time goes)

At 10,000 Hotfixes every one of them takes such a step each interval, one after another on the operator's
event loop: at 2.5 ms a step that is 25 s of every 30 s interval, and the analyses fall behind. No servers:
the status write is answered in memory, the analysis is a healthy report made by the real verdict code from a
batched answer holding one series per target, the Hotfix's body is in Monitoring as its rollout left it (the
first round of steps, not timed, adds what the operator writes then: conditions, the decision, the rule).
"""

from __future__ import annotations

import asyncio
import cProfile
import logging
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench_analysis import AnsweringConnection
from bench_operator import load_analysis
from results import record

from hotfix_operator.analysis.prometheus import PrometheusAnalyzer, PrometheusSettings
from hotfix_operator.analysis.scheduler import AnalysisScheduler
from hotfix_operator.api.models import parse_spec
from hotfix_operator.api.significance import detail_period
from hotfix_operator.engine.config import DEFAULT_ENDPOINT, OperatorConfig
from hotfix_operator.engine.controller import HotfixController
from hotfix_operator.engine.core import Prefetched
from hotfix_operator.engine.metrics import OperatorMetrics
from operator_support import FIXED_IMAGE, hotfix_manifest

HOTFIXES = 200
ROUNDS = 5
# The detail period (how often an unchanged analysis is written) follows the number of Hotfixes: theirs.
LOAD_HOTFIXES = 10_000
INTERVAL = 30.0


class ServedPrometheus(AnsweringConnection):
    """AnsweringConnection's answers (a low value on every point, each target a series), with sessions enough
    to judge crash-free sessions: a Hotfix of the 10,000 bench at steady state is healthy, not pending."""

    def __init__(self, targets: list[tuple[str, str]], now: float) -> None:
        super().__init__(targets, now)
        values = [[now - 30 * step, "500"] for step in range(10, -1, -1)]
        self.sessions = [{"metric": series["metric"], "values": values} for series in self.matrix]

    def custom_query_range(self, query: str, **_: object) -> list[dict[str, object]]:
        return self.sessions if "app_sessions_total" in query else self.matrix


class AcceptedRules:
    """Takes the window's PrometheusRule as the API server would (the 10,000 bench's cluster has the CRD)."""

    def apply(self, owner: dict[str, Any], name: str, labels: dict[str, str], groups: list[dict[str, Any]]) -> None:
        return None


class InMemoryHotfixes:
    """Answers a status write as the API server would: the body with the new status and a newer version."""

    def __init__(self) -> None:
        self.writes = 0

    def write_status(self, body: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        self.writes += 1
        metadata = {**body["metadata"], "resourceVersion": str(int(body["metadata"]["resourceVersion"]) + 1)}
        return {**body, "metadata": metadata, "status": status}


def in_memory_controller(analyzer_for: Callable[[str], Any], hotfixes: InMemoryHotfixes) -> HotfixController:
    """The operator's controller with its writes answered in memory, at the detail period of LOAD_HOTFIXES."""
    defaults = OperatorConfig()
    detail_seconds = detail_period(
        defaults.status_detail_seconds, LOAD_HOTFIXES, defaults.status_detail_writes_per_second
    )
    return HotfixController(
        tenants=None, prometheus_rules=AcceptedRules(), alertmanager=None, hotfixes=hotfixes,  # type: ignore[arg-type]
        scheduler=AnalysisScheduler(analyzer_for), notifier=None,  # type: ignore[arg-type]
        post_event=lambda *args, **kwargs: None, metrics=OperatorMetrics(),
        config=OperatorConfig(
            prometheus_endpoints={DEFAULT_ENDPOINT: PrometheusSettings(url="http://127.0.0.1:9")},
            status_detail_seconds=detail_seconds,
        ),
    )  # fmt: skip


def monitoring_body(index: int, opened: datetime) -> dict[str, Any]:
    """A Hotfix of the 10,000 bench, as its rollout left it: in Monitoring, with its baseline and timeline."""
    body = hotfix_manifest(f"fix-{index}", [f"svc-{index}"], FIXED_IMAGE, stability={"checkpoints": ["1h"]})
    body["spec"]["analysis"] = load_analysis(f"{INTERVAL:g}s")
    stamp = opened.isoformat().replace("+00:00", "Z")
    span = {
        "requests": 300.0,
        "failed": 0.0,
        "errorRate": 0.0,
        "latencyP95Ms": 80.0,
        "latencyP95WindowsMs": [80.0] * 20,
    }
    body["metadata"].update(
        namespace=f"load-{index % 100}", generation=1, resourceVersion="1000", uid=f"uid-{index}",
        creationTimestamp=stamp,
    )  # fmt: skip
    body["status"] = {
        "phase": "Monitoring",
        "observedGeneration": 1,
        "rolloutStartedAt": stamp,
        "rolloutCompletedAt": stamp,
        "targets": [
            {
                "deployment": f"svc-{index}",
                "baselineRevision": 1,
                "baselineReplicaSet": f"svc-{index}-5d8f7",
                "hotfixRevision": 1,
                "hotfixReplicaSet": f"svc-{index}-5d8f7",
                "rolloutCompletedAt": stamp,
            }
        ],
        "baseline": {"span": "1h", "targets": {f"svc-{index}": span}},
        "timeline": [
            {"at": stamp, "type": kind, "message": message}
            for kind, message in (
                ("BaselineRecorded", f"svc-{index}@1"),
                ("RolloutStarted", f"svc-{index}: set app={FIXED_IMAGE}"),
                ("RolloutComplete", f"svc-{index}: revision 1 available"),
            )
        ],
    }
    return body


def healthy_reports(controller: HotfixController, bodies: list[dict[str, Any]], at: float) -> dict[str, Any]:
    """Each Hotfix's analysis at boundary ``at``, made by the real verdict code from answers with data."""
    requests = []
    for body in bodies:
        key = f"{body['metadata']['namespace']}/{body['metadata']['name']}"
        opened = datetime.fromisoformat(body["status"]["rolloutStartedAt"].replace("Z", "+00:00"))
        requests.append(controller._request_for(key, body["metadata"]["namespace"], parse_spec(body["spec"]), opened))
    targets = [target for request in requests for target in request.targets]
    analyzer = PrometheusAnalyzer(ServedPrometheus(targets, at))  # type: ignore[arg-type]
    return analyzer.analyze(requests, now=at)


async def steps(controller: HotfixController, bodies: list[dict[str, Any]], logger: logging.Logger) -> list[float]:
    """A round of steps per boundary, as the daemons take them; the seconds of each step of the last rounds."""
    boundary = float(int(time.time() // INTERVAL * INTERVAL))
    seconds = []
    for round_ in range(ROUNDS):
        at = boundary + round_ * INTERVAL
        reports = healthy_reports(controller, bodies, at)
        for index, body in enumerate(bodies):
            key = f"{body['metadata']['namespace']}/{body['metadata']['name']}"
            opened = datetime.fromisoformat(body["status"]["rolloutStartedAt"].replace("Z", "+00:00"))
            prefetched = Prefetched(generation=1, active_since=opened, report=reports[key])
            started = time.perf_counter()
            await controller.reconcile(controller.freshest(body), logger, prefetched)
            elapsed = time.perf_counter() - started
            if round_ >= 1:  # the first round writes what the rollout left out (conditions, the decision)
                seconds.append(elapsed)
            bodies[index] = controller.freshest(body)
    return seconds


def main() -> None:
    logging.disable(logging.INFO)
    hotfixes = InMemoryHotfixes()
    # The reports are made beforehand and handed to each step: the scheduler is never asked.
    controller = in_memory_controller(lambda endpoint: None, hotfixes)
    opened = datetime.fromtimestamp(time.time() // INTERVAL * INTERVAL - 600, UTC)
    bodies = [monitoring_body(index, opened) for index in range(HOTFIXES)]
    logger = logging.getLogger("bench-step")
    profile = cProfile.Profile() if os.environ.get("BENCH_STEP_PROFILE") else None
    if profile is not None:
        profile.enable()
    seconds = asyncio.run(steps(controller, bodies, logger))
    if profile is not None:
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
    median_ms = statistics.median(seconds) * 1000
    print(f"routine Monitoring step on the event loop: median {median_ms:.3f} ms over {len(seconds)} steps "
          f"({HOTFIXES} Hotfixes, {ROUNDS - 1} boundaries), {hotfixes.writes} status writes in all")  # fmt: skip
    per_interval = median_ms * LOAD_HOTFIXES / 1000
    print(f"  at {LOAD_HOTFIXES:,} Hotfixes: {per_interval:.1f} s of the event loop every {INTERVAL:g} s interval")
    record("step", {"routine_step_ms": round(median_ms, 3), "hotfixes": HOTFIXES, "boundaries": ROUNDS - 1})


if __name__ == "__main__":
    main()
