"""The simulator's own exposition parses as Prometheus' text format and carries every sample of every pod."""

from __future__ import annotations

import time
import urllib.request

from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from hotfix_operator.testbed.simulator import PodBehaviour, WorkloadSimulator, serve_metrics, text_format
from hotfix_operator.testbed.telemetry_shapes import SHAPES, PodCounters, PodIdentity, samples


def parsed(exposition: bytes) -> list[tuple[str, dict[str, str], float]]:
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(exposition.decode())
        for sample in family.samples
    ]


def counters_with_errors() -> PodCounters:
    counters = PodCounters()
    counters.observe("200", 0.01, 990)
    counters.observe("500", 1.5, 10)
    counters.sessions, counters.crashed_sessions, counters.restarts = 40.0, 1.0, 2.0
    return counters


def test_every_shape_round_trips_through_the_text_format() -> None:
    pod = PodIdentity("shop", "checkout", "checkout-5d9c-x1")
    for shape in SHAPES:
        expected = list(samples(shape, pod, counters_with_errors()))
        assert sorted(parsed(text_format(expected)), key=repr) == sorted(expected, key=repr), shape


def test_label_values_are_escaped() -> None:
    awkward = 'quote " backslash \\ newline \n end'
    assert parsed(text_format([("odd_total", {"note": awkward}, 3.0)])) == [("odd_total", {"note": awkward}, 3.0)]


def test_a_metrics_lines_stay_together_across_pods() -> None:
    first, second = PodIdentity("shop", "checkout", "a"), PodIdentity("shop", "checkout", "b")
    exposition = text_format([*samples("labels", first, PodCounters()), *samples("labels", second, PodCounters())])
    names = [line.split("{")[0] for line in exposition.decode().splitlines()]
    # Each metric's lines form one run: a name never comes back after another one started.
    runs = [name for index, name in enumerate(names) if index == 0 or names[index - 1] != name]
    assert len(runs) == len(set(runs))


def test_served_scrape_has_each_ready_pods_series_and_nothing_of_a_gone_pod() -> None:
    simulator = WorkloadSimulator(client.ApiClient())  # never polls: the pods are set below
    ready = PodIdentity("shop", "checkout", "checkout-1")
    gone = PodIdentity("shop", "checkout", "checkout-0")
    simulator.counters = {ready: counters_with_errors(), gone: counters_with_errors()}
    # No traffic of its own, so that the scrape shows exactly the counters set here.
    simulator._pods = {ready: PodBehaviour(0.01, 0.2, 0.0, 0.0, 0.0)}
    server = serve_metrics(simulator, port=0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5) as response:
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            scraped = parsed(response.read())
    finally:
        server.shutdown()
    pods = {labels.get("instance") or labels.get("pod") for _, labels, _ in scraped}
    assert pods == {"checkout-1"}
    assert (
        "http_requests_total",
        {"namespace": "shop", "deployment": "checkout", "instance": "checkout-1", "code": "500"},
        10.0,
    ) in scraped


def test_traffic_goes_on_between_pod_listings() -> None:
    """A listing slowed down by a busy API server must not stop the counters: each scrape sees the traffic
    served up to it, as a real service's would, so a short rate window never reads 0/0 for that reason."""
    simulator = WorkloadSimulator(client.ApiClient())  # never lists pods: a listing that takes for ever
    pod = PodIdentity("shop", "checkout", "checkout-1")
    simulator._pods = {pod: PodBehaviour(0.0, 0.2, 0.0, 1000.0, 0.0)}

    def requests_served() -> float:
        return sum(
            value
            for name, labels, value in parsed(simulator.exposition())
            if name == "http_requests_total" and labels.get("instance") == "checkout-1"
        )

    first = requests_served()
    time.sleep(0.3)
    assert requests_served() > first + 100  # about 300 expected at 1,000 a second
