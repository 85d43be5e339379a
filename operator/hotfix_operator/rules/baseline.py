"""Back to baseline: is the hotfix's error rate or latency over a span worse than before the hotfix?

One noisy number against another says little: with a few thousand requests a steady 0.8 % error rate
reads anywhere from 0.5 % to 1.1 %. A checkpoint therefore fails only on a difference that is both
significant given the evidence (a one-sided Fisher's exact test on the request counts for the error
rate; a one-sided Mann-Whitney U test over the spans' p95 windows for latency, as Kayenta judges
canaries) and larger than a practical tolerance, so that noise never escalates a healthy hotfix while
a real regression below the breach threshold still fails.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

# A difference must be this unlikely under "no change" to count (a failed checkpoint pages someone at
# night: one false alarm in a thousand comparisons, not one in a hundred) ...
SIGNIFICANCE = 0.001
# ... and this large to matter: 0.1 percentage points of errors, 20 % slower at p95.
ERROR_RATE_TOLERANCE = 0.001
LATENCY_TOLERANCE = 1.2
# Fewer p95 windows than this on either side: too few to compare latency.
MIN_LATENCY_WINDOWS = 3


@dataclass(frozen=True)
class SpanStats:
    """What one target did over one span: request counts and the p95 of each latency window in it."""

    requests: float | None = None
    failed: float | None = None
    p95_windows_ms: tuple[float, ...] = field(default_factory=tuple)

    @property
    def error_rate(self) -> float | None:
        if not self.requests or self.failed is None:
            return None
        return min(max(self.failed / self.requests, 0.0), 1.0)

    @property
    def p95_ms(self) -> float | None:
        return statistics.median(self.p95_windows_ms) if self.p95_windows_ms else None


@dataclass(frozen=True)
class Comparison:
    worse: bool
    message: str


def _count(value: float) -> int:
    # increase() extrapolates to the span's edges, so counts come back fractional.
    return max(round(value), 0)


def compare_error_rate(baseline: SpanStats, current: SpanStats) -> Comparison:
    base_rate, current_rate = baseline.error_rate, current.error_rate
    if base_rate is None or current_rate is None:
        side = "the baseline" if base_rate is None else "this span"
        return Comparison(False, f"error rate not compared: no requests in {side}")
    assert baseline.requests and current.requests and baseline.failed is not None and current.failed is not None
    base_failed, base_total = _count(baseline.failed), _count(baseline.requests)
    current_failed, current_total = _count(current.failed), _count(current.requests)
    table = [
        [current_failed, max(current_total - current_failed, 0)],
        [base_failed, max(base_total - base_failed, 0)],
    ]
    from scipy.stats import fisher_exact  # 1.3 s to import: paid at the first checkpoint, not at start-up

    p_value = float(fisher_exact(table, alternative="greater").pvalue)
    difference = current_rate - base_rate
    worse = p_value < SIGNIFICANCE and difference > ERROR_RATE_TOLERANCE
    verdict = "worse than" if worse else "not worse than"
    why = (
        "significant and above the 0.10 pp tolerance"
        if worse
        else "not significant"
        if p_value >= SIGNIFICANCE
        else "within the 0.10 pp tolerance"
    )
    return Comparison(
        worse,
        f"error rate {current_rate * 100:.2f}% ({current_failed} of {current_total}) {verdict} the baseline "
        f"{base_rate * 100:.2f}% ({base_failed} of {base_total}): {why} (Fisher's exact test, one-sided "
        f"p={p_value:.3g})",
    )


def compare_latency(baseline: SpanStats, current: SpanStats) -> Comparison:
    base_windows, current_windows = baseline.p95_windows_ms, current.p95_windows_ms
    if len(base_windows) < MIN_LATENCY_WINDOWS or len(current_windows) < MIN_LATENCY_WINDOWS:
        return Comparison(
            False,
            f"p95 not compared: {len(current_windows)} windows in this span and {len(base_windows)} in the "
            f"baseline (at least {MIN_LATENCY_WINDOWS} each are needed)",
        )
    from scipy.stats import mannwhitneyu  # see fisher_exact above

    p_value = float(mannwhitneyu(current_windows, base_windows, alternative="greater").pvalue)
    base_median, current_median = statistics.median(base_windows), statistics.median(current_windows)
    worse = p_value < SIGNIFICANCE and current_median > base_median * LATENCY_TOLERANCE
    verdict = "worse than" if worse else "not worse than"
    return Comparison(
        worse,
        f"p95 median {current_median:.0f} ms over {len(current_windows)} windows {verdict} the baseline "
        f"{base_median:.0f} ms over {len(base_windows)} (Mann-Whitney U, one-sided p={p_value:.3g}; "
        f"tolerance {LATENCY_TOLERANCE:.0%} of the baseline)",
    )


@dataclass(frozen=True)
class CheckpointVerdict:
    passed: bool
    message: str


def judge_checkpoint(
    baseline: SpanStats | None,
    current: SpanStats | None,
    breached_since_last: bool,
    compare_errors: bool = True,
    compare_latencies: bool = True,
) -> CheckpointVerdict:
    """Back to baseline (no significant, material regression) and no breach since the last checkpoint.

    Only the thresholds that are switched on are compared.
    """
    problems, notes = [], []
    if breached_since_last:
        problems.append("a threshold was breached since the last checkpoint")
    if baseline is None or current is None:
        notes.append("no baseline to compare against" if baseline is None else "no data for this span")
    else:
        comparisons = [compare_error_rate(baseline, current)] if compare_errors else []
        comparisons += [compare_latency(baseline, current)] if compare_latencies else []
        for comparison in comparisons:
            (problems if comparison.worse else notes).append(comparison.message)
    if problems:
        return CheckpointVerdict(False, "; ".join(problems + notes))
    return CheckpointVerdict(True, "; ".join(["no breach since the last checkpoint", *notes]))
