"""The controller core's plumbing: which threads its blocking calls run on, and what the watch updates."""

from __future__ import annotations

import asyncio
import threading

from hotfix_operator.engine.config import OperatorConfig
from hotfix_operator.engine.core import PROMETHEUS_SIDE_WORKERS, ControllerCore
from hotfix_operator.engine.metrics import OperatorMetrics


def core() -> ControllerCore:
    return ControllerCore(
        tenants=None, prometheus_rules=None, alertmanager=None, hotfixes=None, scheduler=None,  # type: ignore[arg-type]
        notifier=None, post_event=None, metrics=OperatorMetrics(), config=OperatorConfig(),  # type: ignore[arg-type]
    )  # fmt: skip


def test_slow_prometheus_side_work_never_takes_the_threads_of_deployment_calls() -> None:
    """A thousand telemetry checks waiting on a slow Prometheus queue on their own threads: a Deployment read
    (or an undo) still runs at once."""
    controller, release = core(), threading.Event()

    def slow_check() -> str:
        release.wait(10)
        return threading.current_thread().name

    async def scenario() -> tuple[str, bool, list[str]]:
        checks = [
            asyncio.create_task(controller._prometheus_io(slow_check)) for _ in range(1 + PROMETHEUS_SIDE_WORKERS)
        ]
        await asyncio.sleep(0.2)
        undo_thread = await asyncio.wait_for(controller._io(lambda: threading.current_thread().name), 2)
        queued = not any(check.done() for check in checks)
        release.set()
        return undo_thread, queued, await asyncio.gather(*checks)

    undo_thread, queued, check_threads = asyncio.run(scenario())
    assert queued
    assert not undo_thread.startswith("prometheus-side")
    assert all(name.startswith("prometheus-side") for name in check_threads)
    assert len(set(check_threads)) == PROMETHEUS_SIDE_WORKERS


def test_the_phase_gauge_follows_the_watch_for_hotfixes_it_counts() -> None:
    """A step cancelled in its terminal status write never records the phase it wrote: the watch event of that
    write does. A Hotfix already forgotten (deleted) is not counted again by a late event."""
    controller = core()
    controller.phases["shop/api-fix"] = "Monitoring"
    controller.watched("shop", "api-fix", {"metadata": {"resourceVersion": "7"}, "status": {"phase": "Escalated"}})
    controller.watched("shop", "gone-fix", {"metadata": {"resourceVersion": "8"}, "status": {"phase": "Monitoring"}})
    assert controller.phases == {"shop/api-fix": "Escalated"}
