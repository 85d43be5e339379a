"""Stability checkpoints under seeded Poisson noise: false escalations and detection, over many runs.

Each run is one hotfix's stability window (checkpoints at 1h, 4h and 24h) at 20 requests a second, with
a pre-hotfix baseline of one hour. The error counts of every span are drawn with Poisson noise, and each
minute's p95 jitters by a few percent. A hotfix that changes nothing must pass every checkpoint; one
that doubles the error rate (0.4% to 0.8%, still under the 1% breach threshold) must fail one.

    python bench/bench_checkpoints.py        (make bench; BENCH_CHECKPOINT_RUNS, default 50)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import record

from hotfix_operator.rules.baseline import SpanStats, judge_checkpoint

REQUESTS_PER_SECOND = 20
BASELINE_ERROR_RATE = 0.004
P95_MS = 300.0
SPANS_HOURS = (1, 3, 20)  # since the rollout, then between the checkpoints at 1h, 4h and 24h


def span(rng: np.random.Generator, hours: float, error_rate: float, p95_ms: float) -> SpanStats:
    requests = int(rng.poisson(REQUESTS_PER_SECOND * 3600 * hours))
    failed = int(rng.binomial(requests, error_rate))
    windows = tuple(p95_ms * rng.lognormal(0.0, 0.05, size=int(hours * 60)))
    return SpanStats(requests=requests, failed=failed, p95_windows_ms=windows)


def escalated(rng: np.random.Generator, error_rate: float) -> bool:
    baseline = span(rng, 1, BASELINE_ERROR_RATE, P95_MS)
    return any(
        not judge_checkpoint(baseline, span(rng, hours, error_rate, P95_MS), breached_since_last=False).passed
        for hours in SPANS_HOURS
    )


def main() -> None:
    runs = int(os.environ.get("BENCH_CHECKPOINT_RUNS", "50"))
    rng = np.random.default_rng(2026)
    false_escalations = sum(escalated(rng, BASELINE_ERROR_RATE) for _ in range(runs))
    detected = sum(escalated(rng, 2 * BASELINE_ERROR_RATE) for _ in range(runs))
    print(f"stability checkpoints, {runs} seeded runs each (20 req/s, baseline 0.4% errors, p95 300 ms):")
    print(f"  hotfix that changes nothing:      false escalations {false_escalations}/{runs}")
    print(f"  hotfix that doubles the errors:   escalated {detected}/{runs} ({100 * detected / runs:.0f}%)")
    record(
        "checkpoints",
        {
            "runs": runs,
            "false_escalations": false_escalations,
            "doubled_error_rate_detected": detected,
            "detection_rate": detected / runs,
        },
    )


if __name__ == "__main__":
    main()
