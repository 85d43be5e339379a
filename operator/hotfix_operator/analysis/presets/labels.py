"""Metrics that carry the Deployment's name in a label of their own, with names you configure.

The default shape is ``http_requests_total{namespace, deployment, code}`` and
``http_request_duration_seconds_bucket``; every name, the status label, the two selection labels and
the latency unit can be set operator-wide (``HOTFIX_METRIC_*``, ``HOTFIX_LABEL_*``).
"""

from __future__ import annotations

from dataclasses import dataclass

from hotfix_operator.analysis.presets.base import TelemetryPreset


@dataclass(frozen=True)
class LabelNames:
    """Operator-wide names for the ``labels`` preset."""

    requests: str = "http_requests_total"
    latency_buckets: str = "http_request_duration_seconds_bucket"
    latency_unit: str = "seconds"  # or milliseconds
    status_label: str = "code"
    namespace_label: str = "namespace"
    deployment_label: str = "deployment"
    sessions: str = "app_sessions_total"
    crashed_sessions: str = "app_sessions_crashed_total"


def labels_preset(names: LabelNames | None = None) -> TelemetryPreset:
    names = names or LabelNames()
    if names.latency_unit not in ("seconds", "milliseconds"):
        raise ValueError(f"latency unit must be seconds or milliseconds, not {names.latency_unit!r}")
    return TelemetryPreset(
        name="labels",
        requests=names.requests,
        latency_buckets=names.latency_buckets,
        latency_to_ms=1000 if names.latency_unit == "seconds" else 1,
        namespace_label=names.namespace_label,
        workload_label=names.deployment_label,
        ok_matcher=f'{names.status_label}!~"5.."',
        sessions=names.sessions,
        crashed_sessions=names.crashed_sessions,
        describe=f"metrics labelled with {names.namespace_label} and {names.deployment_label}",
    )
