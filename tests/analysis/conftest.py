from prometheus_history import backfilled_prometheus
from telemetry_history import preset_prometheus

__all__ = ["backfilled_prometheus", "preset_prometheus"]
