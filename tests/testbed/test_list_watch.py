"""The simulator's list-then-watch caches follow a real API server, across the ends of their watches."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client

from hotfix_operator.testbed.list_watch import ListWatchCache, WatchExpired
from hotfix_operator.testbed.processes import wait_until
from hotfix_operator.testbed.simulator import WorkloadSimulator
from operator_support import BAD_IMAGE, Cluster


def config_map_data(config_map: dict[str, Any]) -> dict[str, str] | None:
    return config_map.get("data") or None


def test_changes_after_the_list_arrive_through_watches_that_end_and_resume(
    api_client: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "listed"}, "data": {"at": "list"}})
    # One-second watches: the changes below span several of them, so only resuming each watch from the last
    # one's resourceVersion keeps them all.
    cache = ListWatchCache(
        lambda **kwargs: core.list_namespaced_config_map(namespace, **kwargs), config_map_data, watch_seconds=1
    )
    cache.start("watch-config-maps")
    try:
        assert cache.synced.wait(10)
        assert cache.snapshot() == {(namespace, "listed"): {"at": "list"}}
        for step in range(3):
            body = {"metadata": {"name": f"watched-{step}"}, "data": {"step": str(step)}}
            core.create_namespaced_config_map(namespace, body)
            time.sleep(1.2)
        core.delete_namespaced_config_map("listed", namespace)
        # Projected to None from now on: left out, as a pod that stops being Ready is.
        core.patch_namespaced_config_map("watched-0", namespace, [{"op": "remove", "path": "/data"}])
        expected = {(namespace, "watched-1"): {"step": "1"}, (namespace, "watched-2"): {"step": "2"}}
        wait_until(lambda: cache.snapshot() == expected, timeout=10, what=f"the cache to read {expected}")
        # A change the projection does not see is not a change to report.
        unchanged_version = cache.version
        core.patch_namespaced_config_map("watched-1", namespace, {"metadata": {"labels": {"seen": "no"}}})
        core.patch_namespaced_config_map("watched-2", namespace, {"data": {"step": "two"}})
        wait_until(
            lambda: cache.snapshot()[(namespace, "watched-2")] == {"step": "two"}, timeout=10, what="the data patch"
        )
        assert cache.version == unchanged_version + 1
    finally:
        cache.stop()


def test_the_simulator_serves_the_ready_pods_of_each_deployment_as_they_come_and_go(
    api_client: client.ApiClient, namespace: str
) -> None:
    cluster = Cluster(api_client, namespace)
    cluster.create_deployment("checkout", replicas=2)
    simulator = WorkloadSimulator(api_client)
    simulator.pods.start("watch-pods")
    simulator.replica_sets.start("watch-replicasets")
    try:

        def serving(bad: bool) -> set[str]:
            return {
                identity.pod
                for identity, behaviour in simulator.ready_pods().items()
                if identity.namespace == namespace
                and identity.deployment == "checkout"
                # The bad image errs (its behaviour by image), so the pods of each revision tell apart.
                and (behaviour.error_ratio > 0.01) == bad
            }

        def live_pods() -> set[str]:
            pods = client.CoreV1Api(api_client).list_namespaced_pod(namespace).items
            return {pod.metadata.name for pod in pods if pod.metadata.deletion_timestamp is None}

        wait_until(lambda: len(serving(bad=False)) == 2, timeout=10, what="the two pods of the first revision")
        assert serving(bad=False) == live_pods()
        cluster.set_image("checkout", BAD_IMAGE)
        wait_until(lambda: cluster.rolled_out("checkout"), timeout=60, what="the bad revision to roll out")
        # The old pods go as their deletion arrives through the watch, the new ones come as they turn Ready.
        wait_until(
            lambda: serving(bad=True) == live_pods() and not serving(bad=False), timeout=10, what="the new pods only"
        )
        assert len(serving(bad=True)) == 2
    finally:
        simulator.stop()


@pytest.mark.parametrize(("code", "message"), [(410, "too old resource version"), (500, "etcdserver: leader changed")])
def test_a_watch_error_ends_the_watch(code: int, message: str) -> None:
    cache = ListWatchCache(lambda **kwargs: None, config_map_data)
    error = {"type": "ERROR", "object": {"kind": "Status", "code": code, "message": message}}
    # 410 Gone: list again; anything else: the retry after a pause, which lists again too.
    with pytest.raises(WatchExpired if code == 410 else RuntimeError):
        cache._apply(error)


def test_a_bookmark_moves_the_resume_point_and_nothing_else() -> None:
    cache = ListWatchCache(lambda **kwargs: None, config_map_data)
    bookmark = {"type": "BOOKMARK", "object": {"kind": "ConfigMap", "metadata": {"resourceVersion": "42"}}}
    assert cache._apply(bookmark) == "42"
    assert (cache.snapshot(), cache.version) == ({}, 0)
