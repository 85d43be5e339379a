"""10,000 Monitoring Hotfixes' daemons on one event loop: how far the analyses fall behind their interval.

    python bench/bench_scheduler.py       (make bench; BENCH_SCHEDULER_HOTFIXES, BENCH_SCHEDULER_INTERVALS)

The operator's own steps, scheduler and controller, with the servers left out: each daemon loops as
engine/handlers.py's does (its analysis, its step, its sleep), the status write is answered in memory, and
Prometheus is a stand-in that holds each batched analysis as long as the 10,000 run's queries took
(BENCH_SCHEDULER_QUERY_SECONDS, 0.23 s) and answers one healthy series per target, turned into verdicts by
the real code. Its Hotfixes' detail period is the one of 10,000, whatever BENCH_SCHEDULER_HOTFIXES says.
BENCH_SCHEDULER_BUSY processes spin beside it for the API server's, etcd's, Prometheus' and the simulator's
share of the cores.

What it shows in minutes, where the full run (bench_operator.py) takes an hour: the lag the operator's gauge
reports, the batches a boundary's analyses come in, and the event loop's busy share. What it leaves out:
Kopf's own handling of watch events, so its figures are a floor for the full run's.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench_step import InMemoryHotfixes, ServedPrometheus, in_memory_controller, monitoring_body
from results import record

from hotfix_operator.analysis.prometheus import PrometheusAnalyzer
from hotfix_operator.analysis.queries import AnalysisRequest
from hotfix_operator.analysis.verdicts import AnalysisReport
from hotfix_operator.engine.controller import HotfixController

HOTFIXES = int(os.environ.get("BENCH_SCHEDULER_HOTFIXES", "10000"))
INTERVALS = int(os.environ.get("BENCH_SCHEDULER_INTERVALS", "6"))
QUERY_SECONDS = float(os.environ.get("BENCH_SCHEDULER_QUERY_SECONDS", "0.23"))
# Processes that spin beside the operator, as the API server, etcd, Prometheus and the simulator take their share
# of the two cores in the full run: with none, this machine's cores are all the operator's.
BUSY_PROCESSES = int(os.environ.get("BENCH_SCHEDULER_BUSY", "2"))
INTERVAL = 30.0
# How often the lag is sampled, as bench_operator samples the operator's gauge.
SAMPLE_SECONDS = 0.5


class HeldPrometheus:
    """Holds each batched analysis as long as the real queries took, then answers every target with data."""

    def __init__(self) -> None:
        self.batches: list[tuple[float, float, int]] = []  # (boundary, when it was asked, Hotfixes)

    def analyze(self, requests: list[AnalysisRequest], now: float | None = None) -> dict[str, AnalysisReport]:
        assert now is not None
        self.batches.append((now, time.time(), len(requests)))
        time.sleep(QUERY_SECONDS)  # the batch's queries run side by side: one query's time
        targets = [target for request in requests for target in request.targets]
        return PrometheusAnalyzer(ServedPrometheus(targets, now)).analyze(requests, now=now)  # type: ignore[arg-type]


async def daemon(controller: HotfixController, body: dict[str, Any], logger: logging.Logger) -> None:
    """engine/handlers.py's loop, without Kopf: the body is the controller's own last write."""
    while True:
        prefetched = await controller.analysis_first(controller.freshest(body))
        delay = await controller.reconcile(controller.freshest(body), logger, prefetched)
        assert delay is not None, "a healthy Monitoring Hotfix never ends"
        await asyncio.sleep(delay)


def spin() -> None:
    while True:
        pass


async def run(controller: HotfixController, bodies: list[dict[str, Any]]) -> tuple[list[float], float]:
    """Every daemon for ``INTERVALS`` intervals once all have been analysed once; the lag sampled as the
    operator's gauge computes it, and the event loop's busy share (its sampling timer's own delay)."""
    logger = logging.getLogger("bench-scheduler")
    tasks = [asyncio.create_task(daemon(controller, body, logger)) for body in bodies]
    while len(controller.analysis_due) < len(bodies):
        await asyncio.sleep(SAMPLE_SECONDS)
    # The first steps write every status and publish every rule: steady state begins an interval later.
    print(f"  all {len(bodies):,} analysed once; settling for an interval, then measuring {INTERVALS}", flush=True)
    await asyncio.sleep(INTERVAL)
    lags, late = [], 0.0
    ends = time.monotonic() + INTERVALS * INTERVAL
    while time.monotonic() < ends:
        asked = time.monotonic()
        await asyncio.sleep(SAMPLE_SECONDS)
        late += time.monotonic() - asked - SAMPLE_SECONDS
        now = time.time()
        lags.append(max(0.0, now - min(controller.analysis_due.values(), default=now)))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return lags, late / (INTERVALS * INTERVAL)


def main() -> None:
    logging.disable(logging.INFO)
    prometheus = HeldPrometheus()
    controller = in_memory_controller(lambda endpoint: prometheus, InMemoryHotfixes())
    opened = datetime.fromtimestamp(time.time() // INTERVAL * INTERVAL - 600, UTC)
    bodies = [monitoring_body(index, opened) for index in range(HOTFIXES)]
    spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(BUSY_PROCESSES)]
    for spinner in spinners:
        spinner.start()
    try:
        started_cpu, started = time.process_time(), time.monotonic()
        lags, loop_delay = asyncio.run(run(controller, bodies))
    finally:
        for spinner in spinners:
            spinner.terminate()
    cores = (time.process_time() - started_cpu) / (time.monotonic() - started)
    measured_from = time.time() - INTERVALS * INTERVAL
    batches = [batch for batch in prometheus.batches if batch[1] >= measured_from]
    per_boundary = Counter(boundary for boundary, _, _ in batches)
    sizes = [size for _, _, size in batches]
    worst = max(lags, default=0.0)
    per_interval = int(INTERVAL / SAMPLE_SECONDS)
    worst_by_interval = [max(lags[start : start + per_interval]) for start in range(0, len(lags), per_interval)]
    print("  worst lag in each interval: " + ", ".join(f"{lag:.1f}" for lag in worst_by_interval) + " s")
    print(f"{HOTFIXES:,} Hotfixes at a {INTERVAL:g} s interval, analyses held {QUERY_SECONDS:g} s, "
          f"{BUSY_PROCESSES} busy processes beside:")  # fmt: skip
    median_lag, most = statistics.median(lags), max(per_boundary.values(), default=0)
    print(f"  worst analysis lag behind its interval: {worst:.2f} s (median of the samples {median_lag:.2f} s)")
    print(f"  batched analyses: {len(batches)} over {len(per_boundary)} boundaries (at most {most} for one), "
          f"median {statistics.median(sizes or [0]):.0f} Hotfixes")  # fmt: skip
    print(f"  event loop: sampling timer late {loop_delay * 100:.1f}% of the time; process {cores:.2f} cores")
    record("scheduler", {
        "hotfixes": HOTFIXES, "intervals": INTERVALS, "query_seconds": QUERY_SECONDS, "busy_processes": BUSY_PROCESSES,
        "worst_analysis_lag_seconds": round(worst, 2), "batches": len(batches), "boundaries": len(per_boundary),
        "cpu_cores": round(cores, 2),
    })  # fmt: skip


if __name__ == "__main__":
    main()
