"""OpenTelemetry HTTP server metrics, translated to Prometheus names.

The stable semantic conventions have one histogram, ``http.server.request.duration`` in seconds; its
``_count`` is the request counter. ``k8s.deployment.name`` and ``k8s.namespace.name`` are resource
attributes: they must be promoted to labels (Prometheus' ``promote_resource_attributes``, or the
Collector's ``resource_to_telemetry_conversion``). ``otel-legacy`` is the pre-1.20 shape that several
SDKs still emit by default: ``http.server.duration`` in milliseconds with ``http.status_code``.
``otel-target-info`` is the stable shape whose resource attributes were not promoted: the series carry
only ``job`` and ``instance``, and are joined to ``target_info`` (one series per process, with the
``k8s_*`` labels) on those two; it needs ``service.instance.id`` unique per pod, as OTel recommends.
"""

from dataclasses import replace

from hotfix_operator.analysis.presets.base import TelemetryPreset

OTEL = TelemetryPreset(
    name="otel",
    requests="http_server_request_duration_seconds_count",
    latency_buckets="http_server_request_duration_seconds_bucket",
    latency_to_ms=1000,
    namespace_label="k8s_namespace_name",
    workload_label="k8s_deployment_name",
    ok_matcher='http_response_status_code!~"5.."',
    describe="OpenTelemetry stable HTTP conventions with promoted k8s resource attributes",
)

OTEL_LEGACY = TelemetryPreset(
    name="otel-legacy",
    requests="http_server_duration_milliseconds_count",
    latency_buckets="http_server_duration_milliseconds_bucket",
    latency_to_ms=1,
    namespace_label="k8s_namespace_name",
    workload_label="k8s_deployment_name",
    ok_matcher='http_status_code!~"5.."',
    describe="OpenTelemetry HTTP conventions before 1.20 (milliseconds, http_status_code)",
)

# The same series without the k8s labels: those are on target_info, joined on job and instance.
OTEL_TARGET_INFO = replace(
    OTEL,
    name="otel-target-info",
    info_metric="target_info",
    describe="OpenTelemetry stable HTTP conventions, k8s resource attributes only on target_info",
)
