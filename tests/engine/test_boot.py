"""The start-up before Kopf: its log lines are Kopf's, its peering entry is the one Kopf's keep-alives write."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import logging.handlers
from collections.abc import Iterator

import kopf
import pytest

from hotfix_operator.engine import handlers
from hotfix_operator.engine.boot import (
    OBJECT_LOGGER,
    PEERING_LIFETIME_SECONDS,
    RUNTIME,
    HeldLogRecords,
    object_logger,
    start_up_peering,
)

BODY = {
    "apiVersion": "hotfix.dev/v1alpha1",
    "kind": "Hotfix",
    "metadata": {"namespace": "shop", "name": "api-fix", "uid": "c0ffee"},
}


class Collected(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("log_format", [kopf.LogFormat.JSON, kopf.LogFormat.FULL])
def test_a_start_up_step_logs_the_line_kopf_logs_for_the_hotfix(log_format: kopf.LogFormat) -> None:
    """The same line, JSON or plain, as Kopf's own object logger in a daemon (only the time differs)."""
    collected = Collected(kopf._core.actions.loggers.make_formatter(log_format=log_format))
    objects = logging.getLogger(OBJECT_LOGGER)
    objects.addHandler(collected)
    level = objects.level
    objects.setLevel(logging.INFO)
    try:
        object_logger(BODY).info("phase %s -> %s", "-", "Pending")
        kopf.LocalObjectLogger(body=kopf.Body(BODY), settings=kopf.OperatorSettings()).info(
            "phase %s -> %s", "-", "Pending"
        )
    finally:
        objects.setLevel(level)
        objects.removeHandler(collected)
    ours, kopfs = collected.lines
    if log_format is kopf.LogFormat.JSON:
        ours_line, kopfs_line = json.loads(ours), json.loads(kopfs)
        assert ours_line.pop("timestamp") and kopfs_line.pop("timestamp")
        assert ours_line == kopfs_line
        assert ours_line["object"]["namespace"] == "shop" and ours_line["object"]["name"] == "api-fix"
    else:
        assert ours.split("] ", 1)[1] == kopfs.split("] ", 1)[1] == "kopf.objects         [INFO    ] phase - -> Pending"


def test_lines_made_before_kopfs_logging_are_replayed_through_it_in_order_with_their_own_times(
    root_logger: logging.Logger,
) -> None:
    held = HeldLogRecords(logging.INFO)
    logging.getLogger("hotfix_operator").info("serving /metrics")
    object_logger(BODY).info("phase - -> Pending")
    logging.getLogger("hotfix_operator").debug("below the level: never made")
    collected = Collected(logging.Formatter("%(created)f %(message)s"))
    root_logger.addHandler(collected)  # Kopf's logging, set up after the start-up
    held.replay()
    logging.getLogger("hotfix_operator").info("after the start-up")
    messages = [line.split(" ", 1)[1] for line in collected.lines]
    assert messages == ["serving /metrics", "phase - -> Pending", "after the start-up"]
    times = [float(line.split(" ", 1)[0]) for line in collected.lines]
    assert times == sorted(times)
    assert all(not isinstance(handler, logging.handlers.MemoryHandler) for handler in root_logger.handlers)


def test_the_start_up_peering_is_the_one_run_gives_kopf(monkeypatch: pytest.MonkeyPatch) -> None:
    assert start_up_peering(None, "pod-a", 0) is None  # standalone: no peering, no keep-alive to write
    monkeypatch.setattr(RUNTIME, "namespaces", [])
    cluster_wide = start_up_peering("hotfix-operator", "pod-a", 5)
    assert cluster_wide is not None
    assert (cluster_wide.name, cluster_wide.namespaces, cluster_wide.identity, cluster_wide.priority) == (
        "hotfix-operator", None, "pod-a", 5
    )  # fmt: skip
    assert cluster_wide.lifetime == PEERING_LIFETIME_SECONDS
    monkeypatch.setattr(RUNTIME, "namespaces", ["shop", "cart"])
    per_namespace = start_up_peering("hotfix-operator", "pod-a", 0)
    assert per_namespace is not None and per_namespace.namespaces == ["shop", "cart"]


def test_kopfs_peering_lifetime_is_set_to_the_start_ups() -> None:
    settings = kopf.OperatorSettings()
    settings.peering.lifetime = PEERING_LIFETIME_SECONDS + 1
    objects_filters, threshold = list(logging.getLogger(OBJECT_LOGGER).filters), gc.get_threshold()
    try:
        asyncio.run(handlers.configure(settings=settings))
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
        logging.getLogger(OBJECT_LOGGER).filters[:] = objects_filters
    assert settings.peering.lifetime == PEERING_LIFETIME_SECONDS
