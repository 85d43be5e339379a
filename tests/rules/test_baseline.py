"""Back to baseline as a statistical judgment: noise never fails a checkpoint, a real regression does."""

from __future__ import annotations

import numpy as np
import pytest

from hotfix_operator.rules.baseline import SpanStats, compare_error_rate, compare_latency, judge_checkpoint


def counts(requests: int, failed: int) -> SpanStats:
    return SpanStats(requests=requests, failed=failed)


def test_noise_is_not_a_regression() -> None:
    # The numbers of the report that escalated a healthy hotfix: 0.87% and 1.04% against 0.67%.
    assert not compare_error_rate(counts(6000, 40), counts(1500, 13)).worse
    assert not compare_error_rate(counts(6000, 40), counts(1500, 16)).worse


def test_a_doubled_error_rate_with_enough_requests_is_worse() -> None:
    comparison = compare_error_rate(counts(60_000, 240), counts(60_000, 480))
    assert comparison.worse
    assert "0.80% (480 of 60000)" in comparison.message and "Fisher" in comparison.message


def test_a_significant_but_tiny_difference_is_within_tolerance() -> None:
    # 0.20% -> 0.25% on ten million requests is significant, but smaller than 0.1 pp.
    assert not compare_error_rate(counts(10_000_000, 20_000), counts(10_000_000, 25_000)).worse


def test_no_requests_is_not_compared() -> None:
    assert "no requests in this span" in compare_error_rate(counts(100, 1), SpanStats(requests=0, failed=0)).message


def test_latency_compares_the_windows() -> None:
    baseline = SpanStats(p95_windows_ms=(200, 210, 190, 205, 195, 200, 201, 199, 207, 193))
    slower = SpanStats(p95_windows_ms=(400, 420, 390, 410, 405, 395, 401, 399, 407, 393))
    same = SpanStats(p95_windows_ms=(205, 198, 210, 190, 200, 202, 196, 204, 199, 201))
    assert compare_latency(baseline, slower).worse
    assert not compare_latency(baseline, same).worse
    assert "not compared" in compare_latency(baseline, SpanStats(p95_windows_ms=(900,))).message


@pytest.mark.parametrize(
    ("breached", "baseline", "passed"),
    [(False, counts(6000, 40), True), (True, counts(6000, 40), False), (False, None, True)],
)
def test_judge_checkpoint(breached: bool, baseline: SpanStats | None, passed: bool) -> None:
    assert judge_checkpoint(baseline, counts(1500, 13), breached).passed is passed


def test_disabled_thresholds_are_not_compared() -> None:
    verdict = judge_checkpoint(counts(60_000, 240), counts(60_000, 480), False, compare_errors=False)
    assert verdict.passed


def test_seeded_noise_never_fails_and_a_doubling_almost_always_does() -> None:
    """The property behind the checkpoint, over 200 seeded runs at 100 requests a second for 10 minutes."""
    rng = np.random.default_rng(7)
    requests = 100 * 600
    false_failures = detected = 0
    for _ in range(200):
        baseline = counts(requests, int(rng.poisson(requests * 0.004)))
        same = counts(requests, int(rng.poisson(requests * 0.004)))
        doubled = counts(requests, int(rng.poisson(requests * 0.008)))
        false_failures += compare_error_rate(baseline, same).worse
        detected += compare_error_rate(baseline, doubled).worse
    assert false_failures == 0
    assert detected >= 190
