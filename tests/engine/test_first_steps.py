"""The start-up steps of new Hotfixes: each daemon waits for its Hotfix's, and gets the Events it held."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from hotfix_operator.engine.first_steps import FirstSteps, Peering, live_peers, peering_objection, unhandled

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


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


def entry(seen_ago: float | None, lifetime: int = 60, priority: int = 0) -> dict[str, Any]:
    seen = {} if seen_ago is None else {"lastseen": (NOW - timedelta(seconds=seen_ago)).isoformat()}
    return {"priority": priority, "lifetime": lifetime, **seen}


def test_a_peer_is_live_until_its_lastseen_plus_its_lifetime_and_this_replica_is_never_its_own_peer() -> None:
    entries = {
        "me": entry(0),
        "fresh": entry(5),
        "expired": entry(61),
        "short-lived": entry(5, lifetime=3),
        "lower-priority": entry(1, priority=-10),
        "never-seen": entry(None),
        "unreadable": {"lastseen": "yesterday", "lifetime": 60},
        "naive-clock": {"lastseen": "2026-12-03T11:59:59", "lifetime": 60},
        "cleared": None,
    }
    assert live_peers(entries, "me", NOW) == ["fresh", "lower-priority", "naive-clock", "never-seen", "unreadable"]
    assert live_peers({"me": entry(0), "expired": entry(61)}, "me", NOW) == []


class Announcer:
    """Kopf's peering objects as the API server answers a keep-alive: the entries after the write."""

    def __init__(self, objects: dict[str | None, dict[str, Any]]) -> None:
        self.objects = objects
        self.written: list[tuple[str | None, str]] = []

    def announce(
        self, name: str, namespace: str | None, identity: str, priority: int, lifetime: int, now: datetime
    ) -> dict[str, Any] | None:
        if namespace not in self.objects:
            return None
        self.written.append((namespace, identity))
        self.objects[namespace][identity] = {"priority": priority, "lifetime": lifetime, "lastseen": now.isoformat()}
        return dict(self.objects[namespace])


def peering(namespaces: list[str] | None = None) -> Peering:
    return Peering(name="hotfix-operator", namespaces=namespaces, identity="me", priority=0, lifetime=60)


def test_a_replica_alone_in_its_peering_may_step_new_hotfixes_after_writing_its_keep_alive() -> None:
    announcer = Announcer({None: {"old-pod": entry(120)}})
    assert peering_objection(announcer, peering(), NOW) is None
    assert announcer.written == [(None, "me")]


def test_any_other_live_replica_or_a_missing_peering_object_holds_the_start_up_steps_back() -> None:
    live = Announcer({None: {"other-pod": entry(10, priority=-5)}})
    assert peering_objection(live, peering(), NOW) == "other replicas live in the peering hotfix-operator: other-pod"
    missing = Announcer({})
    assert peering_objection(missing, peering(), NOW) == "no peering object hotfix-operator"
    # Namespaced: a KopfPeering in each namespace, every one of them clear.
    namespaced = Announcer({"shop": {}, "pay": {"other-pod": entry(1)}})
    assert peering_objection(namespaced, peering(["shop", "pay"]), NOW) == (
        "other replicas live in the peering pay/hotfix-operator: other-pod"
    )
    # Two replicas starting at once: the one that writes second sees the first.
    shared: dict[str | None, dict[str, Any]] = {None: {}}
    first, second = Announcer(shared), Announcer(shared)
    assert peering_objection(first, peering(), NOW) is None
    assert peering_objection(second, Peering("hotfix-operator", None, "you", 0, 60), NOW) is not None
