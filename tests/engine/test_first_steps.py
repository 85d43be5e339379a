"""The start-up steps of new Hotfixes: each daemon waits for its Hotfix's, and gets the Events it held."""

from __future__ import annotations

import asyncio
from typing import Any

from hotfix_operator.engine.first_steps import FirstSteps, unhandled


def hotfix(name: str, **status: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": "shop", "name": name}, "status": status}


class Posted(list[tuple[str, str]]):
    def __call__(self, body: dict[str, Any], *, type: str, reason: str, message: str) -> None:
        self.append((body["metadata"]["name"], reason))


def test_only_hotfixes_never_stepped_and_not_being_deleted_get_a_start_up_step() -> None:
    deleting = hotfix("deleting-fix")
    deleting["metadata"]["deletionTimestamp"] = "2026-12-03T08:00:00Z"
    listed = [
        hotfix("new-fix"),
        hotfix("running-fix", phase="Monitoring"),
        deleting,
        {"metadata": hotfix("x")["metadata"]},
    ]
    assert [body["metadata"]["name"] for body in unhandled(listed)] == ["new-fix", "x"]


def test_the_daemon_waits_for_the_start_up_step_then_posts_its_events() -> None:
    posted = Posted()
    steps = FirstSteps(posted)
    order: list[str] = []

    async def scenario() -> None:
        steps.expect([hotfix("api-fix")])

        async def start_up_step() -> None:
            await asyncio.sleep(0.05)
            steps.post_event(hotfix("api-fix"), type="Normal", reason="BaselineRecorded", message="recorded")
            order.append("start-up step")
            steps.finished(hotfix("api-fix"))

        async def daemon() -> None:
            await steps.hand_over("shop", "api-fix")
            order.append("daemon step")

        await asyncio.gather(daemon(), start_up_step())

    asyncio.run(scenario())
    assert order == ["start-up step", "daemon step"]
    assert posted == [("api-fix", "BaselineRecorded")]  # held, then posted once, from the daemon
    # After the hand-over, the Hotfix's Events go straight out; another Hotfix's never waited.
    steps.post_event(hotfix("api-fix"), type="Normal", reason="Approved", message="approved")
    steps.post_event(hotfix("cart-fix"), type="Normal", reason="RolledOut", message="done")
    assert posted[1:] == [("api-fix", "Approved"), ("cart-fix", "RolledOut")]


def test_a_daemon_of_a_hotfix_without_a_start_up_step_goes_at_once() -> None:
    posted = Posted()
    steps = FirstSteps(posted)
    asyncio.run(asyncio.wait_for(steps.hand_over("shop", "cart-fix"), 1))
    assert posted == []


def test_a_hotfix_deleted_during_its_start_up_step_keeps_nothing() -> None:
    posted = Posted()
    steps = FirstSteps(posted)

    async def scenario() -> None:
        steps.expect([hotfix("api-fix")])
        steps.forget("shop", "api-fix")
        # Still held (outside Kopf's tasks an Event cannot be posted), dropped once the step ends.
        steps.post_event(hotfix("api-fix"), type="Normal", reason="BaselineRecorded", message="recorded")
        steps.finished(hotfix("api-fix"))

    asyncio.run(scenario())
    assert posted == []
    assert steps._held_events == {}


def test_the_events_of_a_hotfix_that_gets_no_daemon_are_posted_from_its_watch_event() -> None:
    """A start-up step that ends the Hotfix (Failed on an unknown Prometheus, say) leaves no daemon to take over:
    the next watch event of the Hotfix posts what the step held, and nothing is kept afterwards."""
    posted = Posted()
    steps = FirstSteps(posted)

    async def scenario() -> None:
        steps.expect([hotfix("api-fix")])
        steps.post_event(hotfix("api-fix"), type="Warning", reason="Failed", message="unknown Prometheus")
        steps.release("shop", "api-fix")  # the watch event of the step's own status write, before it ends
        steps.finished(hotfix("api-fix"))

    asyncio.run(scenario())
    assert posted == [("api-fix", "Failed")]
    assert steps._held_events == {}
    steps.release("shop", "api-fix")
    assert posted == [("api-fix", "Failed")]
