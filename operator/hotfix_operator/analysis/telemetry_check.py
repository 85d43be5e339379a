"""The telemetry check: does every enabled threshold have data for every target, and if not, why not.

Run before a rollout (and by ``hotfix-operator analyze --explain``), so that a monitoring gap is found
before the incident needs the numbers. For each threshold and target the check runs the threshold's own
query; when that finds nothing it looks at the raw metric step by step (does it exist at all, in this
namespace, with the workload label, with this Deployment's value) and says what it found instead, with
the query it ran and the preset that would fit the labels it saw. The follow-ups ask Prometheus' index
which series exist (label names, a label's values) rather than run queries: an instant query over a
metric reads the latest sample of every one of its series (half a second for a histogram of 26,000
series), an index question takes milliseconds. Pure: the adapter asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from hotfix_operator.analysis.presets.base import Target, TelemetryPreset
from hotfix_operator.analysis.queries import AnalysisRequest
from hotfix_operator.analysis.tenant_queries import OverrideRefused, render_override
from hotfix_operator.analysis.thresholds import CRASH_FREE_SESSIONS, ERROR_RATE, LATENCY_P95
from hotfix_operator.api.models import CrashFreeSource

MAX_VALUES_SHOWN = 8


@dataclass(frozen=True)
class Probe:
    """What to ask Prometheus about one threshold of one target."""

    threshold: str
    target: Target
    query: str  # the threshold's own query for this target, as an instant query
    raw_metric: str  # the series it reads
    namespace_label: str
    workload_label: str | None  # None: pods mapped by name
    override: bool = False
    # Why the override may not run (it could read another namespace): then nothing is asked.
    refused: str | None = None


@dataclass(frozen=True)
class Finding:
    threshold: str
    target: Target
    ready: bool
    message: str


def quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def probes(preset: TelemetryPreset, request: AnalysisRequest, now_window: timedelta) -> list[Probe]:
    """One probe per enabled threshold and target; ``now_window`` is the rate window of the instant query."""
    analysis = request.analysis
    found = []
    for target in request.targets:
        match = preset.selector([target])
        shapes = {
            ERROR_RATE: (analysis.error_rate.query, preset.error_ratio(match, now_window), preset.requests),
            LATENCY_P95: (analysis.latency_p95.query, preset.latency_p95_ms(match, now_window), preset.latency_buckets),
        }
        if analysis.crash_free_sessions.source is CrashFreeSource.RESTARTS:
            shapes[CRASH_FREE_SESSIONS] = (None, preset.restarts_queries([target])[0], preset.restarts)
        else:
            sessions = preset.sessions_queries([target])[0]
            shapes[CRASH_FREE_SESSIONS] = (analysis.crash_free_sessions.query, sessions, preset.sessions)
        for threshold, (override, query, raw) in shapes.items():
            if threshold not in request.enabled:
                continue
            by_pod = raw == preset.restarts or (raw == preset.sessions and preset.sessions_by_pod)
            if preset.info_metric and not by_pod:
                # The namespace and workload labels live on the info metric: diagnose that one.
                raw = preset.info_metric
            refused = None
            if override is not None:
                try:
                    query = render_override(override, *target, now_window, preset.namespace_label)
                except OverrideRefused as error:
                    query, refused = "", str(error)
            found.append(
                Probe(
                    threshold=threshold,
                    target=target,
                    query=query,
                    raw_metric=raw,
                    namespace_label="namespace" if by_pod else preset.namespace_label,
                    workload_label=None if by_pod else preset.workload_label,
                    override=override is not None,
                    refused=refused,
                )
            )
    return found


@dataclass(frozen=True)
class SeriesQuestion:
    """Which series match ``match``, answered from the index: their label names, or with ``label``, the values
    that label takes among them (an empty answer: no such series)."""

    match: str
    label: str | None = None


def diagnosis_queries(probe: Probe) -> dict[str, SeriesQuestion]:
    """The follow-up questions for a probe whose own query found nothing."""
    namespace, _ = probe.target
    in_namespace = f'{probe.raw_metric}{{{probe.namespace_label}="{quote(namespace)}"}}'
    return {
        "anywhere": SeriesQuestion(probe.raw_metric),
        "in_namespace": SeriesQuestion(in_namespace),
        # A scrape whose target has a namespace of its own renames the metric's label (honor_labels: false).
        "renamed": SeriesQuestion(f'{probe.raw_metric}{{exported_namespace="{quote(namespace)}"}}'),
        # OTel resource attributes that were not promoted stay on target_info only.
        "info": SeriesQuestion(f'target_info{{{probe.namespace_label}="{quote(namespace)}"}}'),
        "workloads": SeriesQuestion(in_namespace, probe.workload_label or "pod"),
    }


Series = list[dict[str, object]]


def _label_names(answer: list[str]) -> list[str]:
    return sorted(name for name in answer if name != "__name__")


def _suggestion(working: list[str]) -> str:
    """A preset only when its own query found data here; never a guess from the labels."""
    if working:
        return f": `telemetry: {working[0]}` finds data for it"
    return ": no preset finds it; set a query override for this threshold"


def diagnose(probe: Probe, answers: dict[str, list[str] | None], working: list[str] | None = None) -> str:
    """What the check found instead of data. ``answers`` holds the diagnosis questions' answers (None: failed);
    ``working``, the other presets whose own query found data for this threshold and target."""
    working = working or []
    namespace, deployment = probe.target
    where = f"{probe.threshold} of {namespace}/{deployment}: `{probe.query}` returned nothing"
    if probe.override:
        return f"{where} (an override query: check it in Prometheus)"
    anywhere, in_namespace, workloads = answers.get("anywhere"), answers.get("in_namespace"), answers.get("workloads")
    if anywhere is None or in_namespace is None:
        return f"{where}; Prometheus did not answer the follow-up queries"
    if not anywhere:
        return f"{where}; `{probe.raw_metric}` has no series at all in this Prometheus: is it scraped" + (
            f"? `telemetry: {working[0]}` finds data for it" if working else ", and is this the right preset?"
        )
    if not in_namespace:
        if answers.get("info") and probe.raw_metric != "target_info":
            return (
                f'{where}; `{probe.raw_metric}` has no series with {probe.namespace_label}="{namespace}" but '
                "target_info has: the resource attributes were not promoted; try `telemetry: otel-target-info`"
            )
        if answers.get("renamed") and probe.namespace_label != "exported_namespace":
            return (
                f"{where}; `{probe.raw_metric}` carries the namespace in `exported_namespace`, not "
                f"`{probe.namespace_label}` (a scrape renamed it): set a query override or the namespace label"
            )
        return (
            f'{where}; `{probe.raw_metric}` has series, but none with {probe.namespace_label}="{namespace}"; '
            f"its series have labels {', '.join(_label_names(anywhere))}"
            + (f"; `telemetry: {working[0]}` finds data for it" if working else "")
        )
    labels = _label_names(in_namespace)
    workload = probe.workload_label or "pod"
    if workload not in labels:
        return (
            f"{where}; `{probe.raw_metric}` has series in namespace {namespace} but no label `{workload}`; "
            f"its labels are {', '.join(labels)}{_suggestion(working)}"
        )
    seen = sorted(workloads or [])
    wanted = (
        f"pods named {deployment}-<hash>-<suffix>" if probe.workload_label is None else f'{workload}="{deployment}"'
    )
    return (
        f"{where}; `{probe.raw_metric}` has series in namespace {namespace}, but none for {wanted}; "
        f"{workload} values seen: {', '.join(seen[:MAX_VALUES_SHOWN]) or 'none'}"
    )


def ready_message(probe: Probe, values: Series) -> str:
    namespace, deployment = probe.target
    value = values[0].get("value") if values else None
    no_traffic = isinstance(value, list) and len(value) == 2 and str(value[1]).lower() == "nan"
    state = "has series, but no requests right now" if no_traffic else "has data"
    return f"{probe.threshold} of {namespace}/{deployment} {state}"
