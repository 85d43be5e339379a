"""Istio: the destination proxy's (sidecar mode) or the waypoint's (ambient mode) view of a workload.

``destination_workload`` is the Deployment's name (the pod's ReplicaSet name less its hash); latency is
in milliseconds. Gateways and client proxies report with ``reporter="source"`` and are left out, so a
request is counted once, where it was served.
"""

from hotfix_operator.analysis.presets.base import TelemetryPreset

ISTIO = TelemetryPreset(
    name="istio",
    requests="istio_requests_total",
    latency_buckets="istio_request_duration_milliseconds_bucket",
    latency_to_ms=1,
    namespace_label="destination_workload_namespace",
    workload_label="destination_workload",
    ok_matcher='response_code!~"5.."',
    extra_matchers='reporter=~"destination|waypoint"',
    sessions_by_pod=True,
    describe="Istio standard metrics, reporter destination (sidecars) or waypoint (ambient)",
)
