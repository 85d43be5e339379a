"""Linkerd: the inbound side of each meshed pod's proxy.

The ``deployment`` label exists only with linkerd-viz's scrape configuration (or a copy of it in your own
Prometheus), which turns the pod label ``linkerd.io/proxy-deployment`` into it. A failure is what the proxy
classifies as one (gRPC status, else HTTP 5xx). Latency is in milliseconds.
"""

from hotfix_operator.analysis.presets.base import TelemetryPreset

LINKERD = TelemetryPreset(
    name="linkerd",
    requests="response_total",
    latency_buckets="response_latency_ms_bucket",
    latency_to_ms=1,
    namespace_label="namespace",
    workload_label="deployment",
    ok_matcher='classification!="failure"',
    extra_matchers='direction="inbound"',
    sessions_by_pod=True,
    describe="Linkerd proxy metrics, inbound, with linkerd-viz's deployment label",
)
