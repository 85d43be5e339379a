"""A Hotfix applied while no operator ran gets its first step at start-up, not behind the listing of all others.

Kopf starts one daemon per Hotfix in the order of its listing, after it has processed every object listed
before (and every Deployment its policy watch lists): amid 1,000 Hotfixes under analysis, a Hotfix applied
during a restart had its first step 3 to 5 s after the start. At start-up the operator asks the API server
for the Hotfixes no operator has handled yet (an empty ``status.phase``, a selectable field of the CRD: a
short answer whatever the number of the others) and gives each its first step before Kopf's watches begin.
Each one's daemon waits for that step before its own, so no Hotfix ever has two steps at once.

Kopf posts Events only from its own per-object tasks: the Events of those steps are held until the daemon
takes the Hotfix over, then posted from it.

With Kopf's peering, a replica acts only when no other one is live in its peering object. Kopf's watches
wait for its peering watch to say so; the start-up steps come before those, so the replica first writes its
own keep-alive and reads the others' entries in the same answer (``kube/peering.py``), and steps the new
Hotfixes only when no other replica is live there, whatever its priority: a lower one acts until it sees
this one's entry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

# How long start-up waits for the listing and the first steps before Kopf's watches begin; steps still
# running then go on beside them (their daemons wait for them).
FIRST_STEPS_WAIT_SECONDS = 2.0


class EventSink(Protocol):
    def __call__(self, body: dict[str, Any], *, type: str, reason: str, message: str) -> None: ...


def _key(body: dict[str, Any]) -> str:
    return f"{body['metadata']['namespace']}/{body['metadata']['name']}"


def unhandled(listed: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Hotfixes of a listing that no operator has stepped yet and that are not being deleted."""
    return [
        body
        for body in listed
        if not (body.get("status") or {}).get("phase") and not body["metadata"].get("deletionTimestamp")
    ]


class HotfixLister(Protocol):
    def list_unhandled(self, namespaces: Sequence[str] = ()) -> list[dict[str, Any]] | None: ...

    def list_namespace(self, namespace: str) -> list[dict[str, Any]]: ...


def list_at_start_up(
    hotfixes: HotfixLister, namespaces: Sequence[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """The Hotfixes to step at start-up, and every Hotfix of their namespaces: a first step checks that no
    other Hotfix of its namespace holds its Deployments, and the claims it checks come from Kopf's watch,
    which has not begun (two new Hotfixes of one Deployment would both have gone ahead). None when the new
    ones cannot be asked for (see ``HotfixClient.list_unhandled``)."""
    listed = hotfixes.list_unhandled(namespaces)
    if listed is None:
        return None
    new = unhandled(listed)
    involved = sorted({body["metadata"]["namespace"] for body in new})
    return new, [body for namespace in involved for body in hotfixes.list_namespace(namespace)]


@dataclass(frozen=True)
class Peering:
    """This replica in Kopf's peering: the object's name, the namespaces of its ``KopfPeering`` objects (None:
    the one ``ClusterKopfPeering``), and the entry Kopf's own keep-alives write."""

    name: str
    namespaces: Sequence[str] | None
    identity: str
    priority: int
    lifetime: int


class PeeringAnnouncer(Protocol):
    def announce(
        self, name: str, namespace: str | None, identity: str, priority: int, lifetime: int, now: datetime
    ) -> dict[str, Any] | None: ...


def live_peers(entries: dict[str, Any], identity: str, now: datetime) -> list[str]:
    """The other replicas whose keep-alive has not expired, read as Kopf reads them: ``lastseen`` plus
    ``lifetime`` (60 s when absent) still ahead; an entry without ``lastseen``, or with one that cannot be
    read, counts as live (a peer that might act is never assumed gone)."""
    live = []
    for peer, entry in entries.items():
        if peer == identity or not isinstance(entry, dict):
            continue
        try:
            lastseen = datetime.fromisoformat(entry["lastseen"]) if entry.get("lastseen") is not None else now
            expired = lastseen + timedelta(seconds=int(entry.get("lifetime", 60))) <= now
        except (TypeError, ValueError):  # unreadable, or a time without its zone
            expired = False
        if not expired:
            live.append(peer)
    return sorted(live)


def peering_objection(announcer: PeeringAnnouncer, peering: Peering, now: datetime) -> str | None:
    """Why this replica may not step the new Hotfixes at start-up; None when it is alone in its peering
    (its keep-alive is written first, then the others are read from the same answer)."""
    for namespace in peering.namespaces if peering.namespaces is not None else [None]:
        where = f"{namespace}/{peering.name}" if namespace else peering.name
        entries = announcer.announce(
            peering.name, namespace, peering.identity, peering.priority, peering.lifetime, now
        )  # fmt: skip
        if entries is None:
            return f"no peering object {where}"
        others = live_peers(entries, peering.identity, now)
        if others:
            return f"other replicas live in the peering {where}: {', '.join(others)}"
    return None


class FirstSteps:
    """The start-up steps under way, and the Events they posted, until each Hotfix's daemon takes over."""

    def __init__(self, post_event: EventSink) -> None:
        self._post_event = post_event
        self._under_way: dict[str, asyncio.Future[None]] = {}
        self._held_events: dict[str, list[tuple[dict[str, Any], str, str, str]]] = {}
        # Deleted while their step was under way: their held Events go when it ends.
        self._gone: set[str] = set()

    def expect(self, bodies: Iterable[dict[str, Any]]) -> None:
        """These Hotfixes get a first step now: called before any daemon can start, so each one waits for it."""
        loop = asyncio.get_running_loop()
        for body in bodies:
            self._under_way[_key(body)] = loop.create_future()
            self._held_events[_key(body)] = []

    def finished(self, body: dict[str, Any]) -> None:
        key = _key(body)
        future = self._under_way.pop(key, None)
        if future is not None and not future.done():
            future.set_result(None)
        if key in self._gone or not self._held_events.get(key, True):
            # Deleted, or nothing left to post: later Events come from the daemon, in Kopf's own tasks.
            self._gone.discard(key)
            self._held_events.pop(key, None)

    def post_event(self, body: dict[str, Any], *, type: str, reason: str, message: str) -> None:
        """The controller's Event sink: held for a Hotfix whose daemon has not taken over from its first step."""
        held = self._held_events.get(_key(body))
        if held is not None:
            held.append((body, type, reason, message))
            return
        self._post_event(body, type=type, reason=reason, message=message)

    async def hand_over(self, namespace: str, name: str) -> None:
        """From the Hotfix's daemon, before its first step: wait for the start-up step, if it has one, then
        post the Events it held."""
        key = f"{namespace}/{name}"
        under_way = self._under_way.get(key)
        if under_way is not None:
            await asyncio.shield(under_way)
        self.release(namespace, name)

    def release(self, namespace: str, name: str) -> None:
        """From any of Kopf's tasks for the Hotfix (its daemon, or a watch event: a Hotfix the start-up step
        finished, Failed say, gets no daemon): post the Events held so far, and hold no more once the step has
        ended."""
        key = f"{namespace}/{name}"
        held = self._held_events.get(key)
        if held is None:
            return
        if key in self._under_way:
            self._held_events[key] = []
        else:
            del self._held_events[key]
        for body, type_, reason, message in held:
            self._post_event(body, type=type_, reason=reason, message=message)

    def forget(self, namespace: str, name: str) -> None:
        """The Hotfix is gone: its held Events with it, once its step (if under way) has ended; until then they
        are still held, as outside Kopf's tasks they cannot be posted."""
        key = f"{namespace}/{name}"
        if key in self._under_way:
            self._gone.add(key)
        else:
            self._held_events.pop(key, None)
