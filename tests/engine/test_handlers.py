"""The Hotfix daemon's glue: however it ends, the operator keeps nothing that counts the Hotfix as analysed.

The controller is a stand-in that records what the daemon tells it; the real controller's gauges are checked
against the real API server in test_lifecycle_e2e.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import kopf
import pytest

from hotfix_operator.engine import handlers
from hotfix_operator.engine.first_steps import FirstSteps

KEY = "shop/api-fix"


class Stopped:
    """kopf.DaemonStopped as the daemon reads it: truthy once a reason is set, and a wait that ends then."""

    def __init__(self) -> None:
        self.reason: kopf.DaemonStoppingReason | None = None
        self._event = asyncio.Event()

    def stop(self, reason: kopf.DaemonStoppingReason) -> None:
        self.reason = reason
        self._event.set()

    def __bool__(self) -> bool:
        return self.reason is not None

    async def wait(self, timeout: float | None = None) -> None:
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return


class RecordingController:
    """Keeps the books the daemon must clean up (phase and next analysis by Hotfix), and a step to play."""

    def __init__(self, step: Any) -> None:
        self.step = step
        self.phases: dict[str, str] = {}
        self.analysis_due: dict[str, float] = {}
        self.forgotten: list[str] = []
        self.first_steps = FirstSteps(lambda body, **event: None)

    def freshest(self, body: dict[str, Any]) -> dict[str, Any]:
        return body

    async def analysis_first(self, body: dict[str, Any]) -> None:
        return None

    async def reconcile(self, body: dict[str, Any], logger: logging.Logger, prefetched: Any) -> float | None:
        return await self.step(self)

    def forget(self, namespace: str, name: str) -> None:
        self.forgotten.append(f"{namespace}/{name}")
        self.phases.pop(f"{namespace}/{name}", None)
        self.analysis_due.pop(f"{namespace}/{name}", None)

    def settled(self, namespace: str, name: str) -> None:
        self.analysis_due.pop(f"{namespace}/{name}", None)


def run_daemon(controller: RecordingController, stopped: Stopped, body: dict[str, Any]) -> asyncio.Task[None]:
    return asyncio.ensure_future(
        handlers.drive_hotfix(
            namespace="shop", name="api-fix", body=body, stopped=stopped, logger=logging.getLogger("test")
        )
    )


@pytest.fixture
def body() -> dict[str, Any]:
    return {"metadata": {"namespace": "shop", "name": "api-fix"}, "status": {"phase": "Monitoring"}}


Step = Callable[[RecordingController, Stopped], Awaitable[float | None]]


def drive_to_its_end(monkeypatch: pytest.MonkeyPatch, body: dict[str, Any], step: Step) -> RecordingController:
    """Run the daemon over one step (which may stop it) until the daemon returns."""

    async def scenario() -> RecordingController:
        stopped = Stopped()

        async def play(controller: RecordingController) -> float | None:
            return await step(controller, stopped)

        controller = RecordingController(play)
        monkeypatch.setattr(handlers.RUNTIME, "controller", controller)
        await run_daemon(controller, stopped, body)
        return controller

    return asyncio.run(scenario())


def test_a_step_that_counts_the_hotfix_again_after_its_deletion_leaves_nothing_behind(
    monkeypatch: pytest.MonkeyPatch, body: dict[str, Any]
) -> None:
    async def step_in_flight_at_deletion(controller: RecordingController, stopped: Stopped) -> float:
        # the DELETED event forgets the Hotfix while this step still waits for its analysis ...
        stopped.stop(kopf.DaemonStoppingReason.RESOURCE_DELETED)
        controller.forget("shop", "api-fix")
        # ... and the step, once analysed, records it again.
        controller.phases[KEY] = "Monitoring"
        controller.analysis_due[KEY] = 0.0
        return 0.0

    controller = drive_to_its_end(monkeypatch, body, step_in_flight_at_deletion)
    assert controller.forgotten == [KEY, KEY]
    assert controller.analysis_due == {}
    assert controller.phases == {}


def test_a_step_cancelled_in_its_terminal_write_no_longer_counts_as_analysed(
    monkeypatch: pytest.MonkeyPatch, body: dict[str, Any]
) -> None:
    async def scenario() -> RecordingController:
        stopped = Stopped()
        writing = asyncio.Event()

        async def step_writing_escalated(controller: RecordingController) -> float | None:
            controller.analysis_due[KEY] = 0.0  # analysed, then escalated: the write is under way
            writing.set()
            await asyncio.Event().wait()  # the write's own watch event stops the daemon; Kopf cancels it
            return None

        controller = RecordingController(step_writing_escalated)
        monkeypatch.setattr(handlers.RUNTIME, "controller", controller)
        task = run_daemon(controller, stopped, body)
        await writing.wait()
        stopped.stop(kopf.DaemonStoppingReason.FILTERS_MISMATCH)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return controller

    controller = asyncio.run(scenario())
    assert controller.analysis_due == {}
    assert controller.forgotten == []


def test_a_daemon_stopped_while_it_sleeps_is_not_forgotten_unless_deleted(
    monkeypatch: pytest.MonkeyPatch, body: dict[str, Any]
) -> None:
    """The operator exiting (or pausing for a peer) ends the daemon of a Hotfix that is still at work: it is
    dropped from the analysed ones here, and keeps its phase in the gauge."""

    async def monitoring_step(controller: RecordingController, stopped: Stopped) -> float:
        controller.phases[KEY] = "Monitoring"
        controller.analysis_due[KEY] = 0.0
        stopped.stop(kopf.DaemonStoppingReason.OPERATOR_EXITING)
        return 30.0

    controller = drive_to_its_end(monkeypatch, body, monitoring_step)
    assert controller.analysis_due == {}
    assert controller.phases == {KEY: "Monitoring"}
    assert controller.forgotten == []
