"""A cluster-wide list-then-watch cache of one resource, each object kept as a small projection.

The workload simulator used to list every pod and ReplicaSet at each poll. At 10,000 Deployments that is
two lists of 10,000 objects every few seconds: the API server and etcd read and encode them, and the
simulator decodes them, for a picture that changes a few times a minute. Like a client-go reflector, this
lists once, then follows the watch from the list's resourceVersion (with bookmarks, so a quiet watch can
resume), and lists again only when the watch cannot resume (410 Gone) or the connection fails.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from kubernetes.watch.watch import iter_resp_lines

log = logging.getLogger("hotfix_operator.simulator")

Projection = TypeVar("Projection")
ObjectKey = tuple[str, str]

# The API server ends a watch after this long; the cache then resumes from its last resourceVersion.
WATCH_SECONDS = 240
HTTP_GONE = 410


class WatchExpired(Exception):
    """The watch's resourceVersion is too old to resume from: list again."""


def _key(metadata: dict[str, Any]) -> ObjectKey:
    return metadata.get("namespace", ""), metadata["name"]


class ListWatchCache(Generic[Projection]):
    """Keeps ``project(object)`` of every object ``list_call`` lists (objects it projects to None are left out).

    ``version`` grows with every change, so a reader can tell cheaply whether anything moved."""

    def __init__(
        self,
        list_call: Callable[..., Any],
        project: Callable[[dict[str, Any]], Projection | None],
        retry_seconds: float = 1.0,
        watch_seconds: int = WATCH_SECONDS,
    ) -> None:
        self._list_call = list_call
        self._project = project
        self._retry_seconds = retry_seconds
        self._watch_seconds = watch_seconds
        self._lock = threading.Lock()
        self._objects: dict[ObjectKey, Projection] = {}
        self._stop = threading.Event()
        self.version = 0
        self.synced = threading.Event()

    def snapshot(self) -> dict[ObjectKey, Projection]:
        with self._lock:
            return dict(self._objects)

    def start(self, name: str) -> threading.Thread:
        thread = threading.Thread(target=self.run, name=name, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                resource_version = self._list()
                while not self._stop.is_set():
                    resource_version = self._follow(resource_version)
            except WatchExpired:
                log.info("watch expired; listing again")
            except Exception as error:  # the API server may be restarting; keep the last picture
                log.warning("list or watch failed: %s", error)
                self._stop.wait(self._retry_seconds)

    def _list(self) -> str:
        listed = json.loads(self._list_call(_preload_content=False).data)
        objects = {
            _key(item["metadata"]): projected
            for item in listed["items"]
            if (projected := self._project(item)) is not None
        }
        with self._lock:
            self._objects = objects
            self.version += 1
        self.synced.set()
        return listed["metadata"]["resourceVersion"]

    def _follow(self, resource_version: str) -> str:
        """Applies one watch's events; returns the resourceVersion to resume from."""
        response = self._list_call(
            watch=True,
            resource_version=resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=self._watch_seconds,
            _preload_content=False,
            # The read must outlast the API server's own end of the watch.
            _request_timeout=(10, self._watch_seconds + 30),
        )
        try:
            for event in _events(response):
                resource_version = self._apply(event) or resource_version
        finally:
            # Closed before it goes back to the pool: a watch left mid-stream must not hand its unread bytes
            # to the next request on that connection.
            response.close()
            response.release_conn()
        return resource_version

    def _apply(self, event: dict[str, Any]) -> str | None:
        kind, obj = event["type"], event["object"]
        if kind == "ERROR":
            if obj.get("code") == HTTP_GONE:
                raise WatchExpired
            raise RuntimeError(f"watch error {obj.get('code')}: {obj.get('message')}")
        metadata = obj["metadata"]
        if kind != "BOOKMARK":
            key, projected = _key(metadata), None if kind == "DELETED" else self._project(obj)
            with self._lock:
                # Most updates (status, managed fields) leave the projection as it was: no change to report.
                if projected != self._objects.get(key):
                    if projected is None:
                        del self._objects[key]
                    else:
                        self._objects[key] = projected
                    self.version += 1
        return metadata.get("resourceVersion")


def _events(response: Any) -> Iterator[dict[str, Any]]:
    for line in iter_resp_lines(response):
        if line:
            yield json.loads(line)
