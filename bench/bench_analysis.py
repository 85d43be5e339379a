"""Prometheus queries per analysis interval, and the time one batched analysis takes, for N Hotfixes.

    python bench/bench_analysis.py        (make bench)

Runs against a real Prometheus (Debian's, started here on a free port) so the timings include the
HTTP round trips; the series are empty, so the figures are the queries' overhead, not PromQL work.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from hotfix_operator.analysis.prometheus import PrometheusAnalyzer, PrometheusSettings, connect
from hotfix_operator.analysis.queries import AnalysisRequest, MetricNames, plan_queries
from hotfix_operator.api.models import Analysis
from hotfix_operator.testbed.prometheus import LocalPrometheus

COUNTS = (1, 10, 100, 1000)
REPEATS = 5


def requests_for(count: int, now: float) -> list[AnalysisRequest]:
    return [
        AnalysisRequest(
            key=f"ns-{index % 50}/hotfix-{index}",
            targets=((f"ns-{index % 50}", f"service-{index}"),),
            analysis=Analysis(),
            active_since=now - 3600,
        )
        for index in range(count)
    ]


def main() -> None:
    prometheus = LocalPrometheus(Path(tempfile.mkdtemp(prefix="hotfix-bench-")), targets=[])
    prometheus.start()
    try:
        print(f"{'hotfixes':>9} {'queries/interval':>17} {'batched analysis (median of 5)':>32}")
        for count in COUNTS:
            now = float(int(time.time()))
            requests = requests_for(count, now)
            queries = len(plan_queries(MetricNames(), requests, now).queries)
            analyzer = PrometheusAnalyzer(connect(PrometheusSettings(url=prometheus.url)))
            seconds = []
            for _ in range(REPEATS):
                started = time.perf_counter()
                analyzer.analyze(requests, now=now)
                seconds.append(time.perf_counter() - started)
            print(f"{count:>9} {queries:>17} {statistics.median(seconds) * 1000:>29.1f} ms")
    finally:
        prometheus.stop()


if __name__ == "__main__":
    main()
