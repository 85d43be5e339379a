"""What a telemetry preset is: where a workload's requests and latencies live, and how to select them.

A preset names the request counter, the latency histogram and its unit, the label that says which
namespace and which workload a series belongs to, and how a failed request is recognised. From that it
builds the three query shapes the thresholds need, for a whole batch of targets at once; every answer
carries ``namespace`` and ``deployment`` labels (renamed from the preset's own), so the slicing per
target does not depend on the preset.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

Target = tuple[str, str]  # (namespace, deployment)

# The labels every batched answer carries, whatever the preset calls them.
NAMESPACE = "namespace"
DEPLOYMENT = "deployment"

# Each RE2 metacharacter with its escape as written inside a PromQL string (the backslash itself escaped).
_REGEX_ESCAPES = str.maketrans({char: f"\\\\{char}" for char in "\\.+*?()|[]{}^$"})


def promql_duration(value: timedelta) -> str:
    """A PromQL duration: integer units; milliseconds cover every window this API admits."""
    milliseconds = round(value.total_seconds() * 1000)
    return f"{milliseconds // 1000}s" if milliseconds % 1000 == 0 else f"{milliseconds}ms"


def promql_regex_literal(value: str) -> str:
    """``value`` as a literal inside a PromQL regex string: RE2 escapes, written with PromQL's own escaping."""
    # A translation table, not a join over characters: a batch of 10,000 Deployments escapes every name.
    return value.translate(_REGEX_ESCAPES)


def regex_alternatives(values: Iterable[str]) -> str:
    return "|".join(promql_regex_literal(value) for value in sorted(set(values)))


# A pod of a Deployment is named <deployment>-<pod-template-hash>-<suffix>; PromQL regexes are anchored,
# so `checkout-v2-…` pods never match `checkout`.
POD_OF_DEPLOYMENT = "(.+)-[a-z0-9]+-[a-z0-9]+"


@dataclass(frozen=True)
class TelemetryPreset:
    """One telemetry source's shape. ``workload_label`` None means: map pods to Deployments by name."""

    name: str
    requests: str  # a counter of requests (or a histogram's _count)
    latency_buckets: str  # the latency histogram's _bucket series
    latency_to_ms: float  # 1000 for seconds, 1 for milliseconds
    namespace_label: str
    workload_label: str | None
    ok_matcher: str  # selects the requests that did not fail, e.g. code!~"5.."
    extra_matchers: str = ""  # always part of the selector, e.g. reporter="destination"
    sessions: str = "app_sessions_total"
    crashed_sessions: str = "app_sessions_crashed_total"
    restarts: str = "kube_pod_container_status_restarts_total"
    sessions_by_pod: bool = False  # select the session counters by pod name (see sessions_queries)
    # Resource attributes kept only on an info metric (OTel's target_info): the series are joined to it
    # on these labels, and the namespace and workload labels are the info metric's.
    info_metric: str | None = None
    info_join_on: str = "job, instance"
    describe: str = ""

    # -- selection ---------------------------------------------------------------------------

    def selector(self, targets: Iterable[Target]) -> str:
        """Matchers for every target (maybe more pairs; answers are sliced per target afterwards)."""
        targets = list(targets)
        namespaces = regex_alternatives(namespace for namespace, _ in targets)
        deployments = regex_alternatives(deployment for _, deployment in targets)
        if self.workload_label is None:
            workload = f'pod=~"({deployments})-[a-z0-9]+-[a-z0-9]+"'
        else:
            workload = f'{self.workload_label}=~"{deployments}"'
        matchers = [f'{self.namespace_label}=~"{namespaces}"', workload]
        if self.extra_matchers:
            matchers.append(self.extra_matchers)
        return ",".join(matchers)

    def _series(self, metric: str, match: str, extra: str = "") -> str:
        """A selector of ``metric`` for the targets (with the info join, the targets are chosen there)."""
        matchers = [extra] if self.info_metric else [match, extra]
        inside = ",".join(matcher for matcher in matchers if matcher)
        return f"{metric}{{{inside}}}" if inside else metric

    def _by_target(self, expression: str, match: str, extra_by: str = "") -> str:
        """Sum ``expression`` per (namespace, deployment), renaming the preset's labels to those."""
        if self.info_metric:
            labels = f"{self.namespace_label}, {self.workload_label}"
            expression = f"({expression}) * on ({self.info_join_on}) group_left({labels}) {self.info_metric}{{{match}}}"
        if self.workload_label is None:
            expression = f'label_replace({expression}, "{DEPLOYMENT}", "$1", "pod", "{POD_OF_DEPLOYMENT}")'
        elif self.workload_label != DEPLOYMENT:
            expression = f'label_replace({expression}, "{DEPLOYMENT}", "$1", "{self.workload_label}", "(.*)")'
        if self.namespace_label != NAMESPACE:
            expression = f'label_replace({expression}, "{NAMESPACE}", "$1", "{self.namespace_label}", "(.*)")'
        by = f"{NAMESPACE}, {DEPLOYMENT}" + (f", {extra_by}" if extra_by else "")
        return f"sum by ({by}) ({expression})"

    # -- the three query shapes ------------------------------------------------------------------

    def error_ratio(self, match: str, window: timedelta) -> str:
        """Failed share of requests. It exists when nothing failed (no 5xx series yet): it is computed as
        1 - ok/total, and ok falls back to 0 x total when not one request succeeded. No requests at all
        in the window gives NaN (0/0): the no-traffic outcome, told apart from a missing series."""
        rate_window = promql_duration(window)
        total = self._by_target(f"rate({self._series(self.requests, match)}[{rate_window}])", match)
        ok = self._by_target(f"rate({self._series(self.requests, match, self.ok_matcher)}[{rate_window}])", match)
        return f"1 - ({ok} or 0 * {total}) / {total}"

    def requests_in(self, match: str, span: timedelta) -> str:
        """Requests served in ``span`` (for the statistical comparison with the baseline)."""
        return self._by_target(f"increase({self._series(self.requests, match)}[{promql_duration(span)}])", match)

    def failed_in(self, match: str, span: timedelta) -> str:
        """Failed requests in ``span``: total less the ones that did not fail (0 when none failed)."""
        total = self.requests_in(match, span)
        ok_series = self._series(self.requests, match, self.ok_matcher)
        ok = self._by_target(f"increase({ok_series}[{promql_duration(span)}])", match)
        return f"{total} - ({ok} or 0 * {total})"

    def latency_p95_ms(self, match: str, window: timedelta) -> str:
        buckets = self._by_target(
            f"rate({self._series(self.latency_buckets, match)}[{promql_duration(window)}])", match, "le"
        )
        scale = "" if self.latency_to_ms == 1 else f"{self.latency_to_ms:g} * "
        return f"{scale}histogram_quantile(0.95, {buckets})"

    def counter_sum(self, metric: str, match: str) -> str:
        """A summed counter per target, read at instants: what the telemetry check probes and the published
        rule and the history use. The analysis takes per-series increases instead (``sessions_increase_queries``)."""
        return self._by_target(self._series(metric, match), match)

    # -- series selected by pod name (kube-state-metrics, and app metrics a ServiceMonitor scrapes) ----

    def pod_match(self, targets: Iterable[Target]) -> str:
        """Matchers on the pod's own ``namespace`` and ``pod`` labels, whatever the preset's request metrics use."""
        targets = list(targets)
        namespaces = regex_alternatives(namespace for namespace, _ in targets)
        deployments = regex_alternatives(deployment for _, deployment in targets)
        return f'{NAMESPACE}=~"{namespaces}",pod=~"({deployments})-[a-z0-9]+-[a-z0-9]+"'

    def _pod_mapped(self, metric: str, match: str) -> str:
        return self._pod_labelled(f"{metric}{{{match}}}")

    @staticmethod
    def _pod_labelled(expression: str) -> str:
        return f'label_replace({expression}, "{DEPLOYMENT}", "$1", "pod", "{POD_OF_DEPLOYMENT}")'

    def pod_counter_sum(self, metric: str, match: str) -> str:
        return f"sum by ({NAMESPACE}, {DEPLOYMENT}) ({self._pod_mapped(metric, match)})"

    def pod_count(self, metric: str, match: str) -> str:
        per_pod = f"count by ({NAMESPACE}, {DEPLOYMENT}, pod) ({self._pod_mapped(metric, match)})"
        return f"count by ({NAMESPACE}, {DEPLOYMENT}) ({per_pod})"

    def sessions_queries(self, targets: Iterable[Target]) -> tuple[str, str]:
        """Total and crashed sessions per target. Session counters are the application's own metrics: with a
        mesh they are scraped by a ServiceMonitor (pod labels), not reported by the proxy."""
        targets = list(targets)
        if self.sessions_by_pod:
            match = self.pod_match(targets)
            return self.pod_counter_sum(self.sessions, match), self.pod_counter_sum(self.crashed_sessions, match)
        match = self.selector(targets)
        return self.counter_sum(self.sessions, match), self.counter_sum(self.crashed_sessions, match)

    def sessions_increase_queries(self, targets: Iterable[Target], step: timedelta) -> tuple[str, str]:
        """Total and crashed sessions per target, as each step's increase: ``increase()`` is taken per series
        before the sum. A sum of raw counters read at instants loses every series of a target whose scrape
        failed at that instant (Prometheus marks them stale), and counts a pod that was missing at one point
        and back at the next with its whole lifetime; within a range PromQL skips stale points and resets."""
        targets = list(targets)
        window = promql_duration(step)
        if self.sessions_by_pod:
            match = self.pod_match(targets)
            return (
                self._pod_increase_sum(self.sessions, match, window),
                self._pod_increase_sum(self.crashed_sessions, match, window),
            )
        match = self.selector(targets)
        return (
            self._by_target(f"increase({self._series(self.sessions, match)}[{window}])", match),
            self._by_target(f"increase({self._series(self.crashed_sessions, match)}[{window}])", match),
        )

    def restarts_increase_queries(self, targets: Iterable[Target], step: timedelta) -> tuple[str, str]:
        """Pods, and container restarts as each step's increase per target (as ``sessions_increase_queries``)."""
        match = self.pod_match(targets)
        return self.pod_count(self.restarts, match), self._pod_increase_sum(self.restarts, match, promql_duration(step))

    def _pod_increase_sum(self, metric: str, match: str, window: str) -> str:
        return f"sum by ({NAMESPACE}, {DEPLOYMENT}) ({self._pod_labelled(f'increase({metric}{{{match}}}[{window}])')})"

    def restarts_queries(self, targets: Iterable[Target]) -> tuple[str, str]:
        """Pods and container restarts per target, from kube-state-metrics."""
        match = self.pod_match(targets)
        return self.pod_count(self.restarts, match), self.pod_counter_sum(self.restarts, match)
