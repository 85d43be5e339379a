"""Plain application metrics scraped by kube-prometheus-stack (ServiceMonitor or PodMonitor).

Those series carry ``namespace``, ``pod``, ``service``, ``job`` and no workload label. A Deployment's pods
are named ``<deployment>-<pod-template-hash>-<suffix>``, so the preset selects them by name and maps each
pod to its Deployment with ``label_replace``: exact (a neighbour ``checkout-v2`` never matches
``checkout``) and without depending on kube-state-metrics or its recording rules.
"""

from hotfix_operator.analysis.presets.base import TelemetryPreset

KUBE_PROMETHEUS = TelemetryPreset(
    name="kube-prometheus",
    requests="http_requests_total",
    latency_buckets="http_request_duration_seconds_bucket",
    latency_to_ms=1000,
    namespace_label="namespace",
    workload_label=None,
    ok_matcher='code!~"5.."',
    sessions_by_pod=True,
    describe="application metrics scraped by a ServiceMonitor/PodMonitor, pods mapped to Deployments by name",
)
