from prometheus_history import backfilled_prometheus

__all__ = ["backfilled_prometheus"]
