"""Prometheus queries per batched analysis (one boundary's), and the time one batched analysis takes, for N Hotfixes.

    python bench/bench_analysis.py        (make bench)

Runs against a real Prometheus (Debian's, started here on a free port) so the timings include the
HTTP round trips; the series are empty, so the figures are the queries' overhead, not PromQL work.
Then the other half, with no Prometheus at all: the time to turn batched answers holding one series per
Hotfix into verdicts (slicing each Hotfix's series out of them and judging its thresholds), for up to
10,000 Hotfixes.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from results import record

from hotfix_operator.analysis.presets import PRESET_NAMES
from hotfix_operator.analysis.prometheus import PrometheusAnalyzer, PrometheusSettings, connect
from hotfix_operator.analysis.queries import AnalysisRequest, QuerySettings, build_request, plan_queries
from hotfix_operator.api.models import Analysis
from hotfix_operator.testbed.prometheus import LocalPrometheus

COUNTS = (1, 10, 100, 1000)
REPEATS = 5
ANSWERED_COUNTS = (1000, 10000)


def requests_for(count: int, now: float, telemetry: str = "labels") -> list[AnalysisRequest]:
    return [
        build_request(
            QuerySettings(),
            f"ns-{index % 50}/hotfix-{index}",
            ((f"ns-{index % 50}", f"service-{index}"),),
            Analysis.model_validate({"telemetry": telemetry}),
            now - 3600,
        )
        for index in range(count)
    ]


def queries_per_preset() -> None:
    """Batched query count per batch (one boundary's) for each preset: flat in the number of Hotfixes."""
    counts = (1, 100, 1000)
    print(f"{'preset':>16} " + " ".join(f"{f'{count} hotfixes':>14}" for count in counts))
    for preset in PRESET_NAMES:
        planned = [
            len(plan_queries(QuerySettings(), requests_for(count, 0.0, preset), 0.0).queries) for count in counts
        ]
        print(f"{preset:>16} " + " ".join(f"{queries:>14}" for queries in planned))


class AnsweringConnection:
    """Stands in for Prometheus with one series per target in every range answer: what is timed is the
    analyzer's own work on the answers, which the empty series above leave out."""

    def __init__(self, targets: list[tuple[str, str]], now: float) -> None:
        values = [[now - 30 * step, "0.001"] for step in range(10, -1, -1)]
        self.matrix = [
            {"metric": {"namespace": namespace, "deployment": deployment}, "values": values}
            for namespace, deployment in targets
        ]

    def custom_query_range(self, query: str, **_: object) -> list[dict[str, object]]:
        return self.matrix


def answered_analysis() -> dict[str, float]:
    """Seconds to turn answers with one series per Hotfix into the reports of N Hotfixes (median of 3)."""
    figures = {}
    print(f"{'hotfixes':>9} {'answers with series to verdicts (median of 3)':>47}")
    for count in ANSWERED_COUNTS:
        now = float(int(time.time()))
        requests = requests_for(count, now)
        targets = [target for request in requests for target in request.targets]
        analyzer = PrometheusAnalyzer(AnsweringConnection(targets, now))  # type: ignore[arg-type]
        seconds = []
        for _ in range(3):
            started = time.perf_counter()
            analyzer.analyze(requests, now=now)
            seconds.append(time.perf_counter() - started)
        figures[str(count)] = round(statistics.median(seconds), 3)
        print(f"{count:>9} {statistics.median(seconds):>44.2f} s")
    return figures


def main() -> None:
    queries_per_preset()
    verdict_seconds = answered_analysis()
    prometheus = LocalPrometheus(Path(tempfile.mkdtemp(prefix="hotfix-bench-")), targets=[])
    prometheus.start()
    try:
        print(f"{'hotfixes':>9} {'queries/interval':>17} {'batched analysis (median of 5)':>32}")
        for count in COUNTS:
            now = float(int(time.time()))
            requests = requests_for(count, now)
            queries = len(plan_queries(QuerySettings(), requests, now).queries)
            analyzer = PrometheusAnalyzer(connect(PrometheusSettings(url=prometheus.url)))
            seconds = []
            for _ in range(REPEATS):
                started = time.perf_counter()
                analyzer.analyze(requests, now=now)
                seconds.append(time.perf_counter() - started)
            print(f"{count:>9} {queries:>17} {statistics.median(seconds) * 1000:>29.1f} ms")
    finally:
        prometheus.stop()
    record("analysis", {"answers_to_verdicts_seconds": verdict_seconds})


if __name__ == "__main__":
    main()
