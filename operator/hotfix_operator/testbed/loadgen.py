"""Traffic for the real node's pods, sent the way a Service sends it: only to Ready endpoints.

Every second the generator reads the EndpointSlices of the Services labelled ``hotfix.dev/load: "true"``
(the EndpointSlice controller copies a Service's labels onto its slices), keeps the endpoints whose
``ready`` condition is true, and spreads the Service's requests over them. A pod that is not Ready gets
no traffic, as behind a real Service. Bounded in every way: a fixed rate per Service, a timeout per
request, only addresses inside the real node's pod subnet (network namespaces the test bed made), and a
lifetime after which it stops by itself.

    python -m hotfix_operator.testbed.loadgen --kubeconfig K --subnet 10.213.0.0/24
"""

from __future__ import annotations

import argparse
import ipaddress
import itertools
import logging
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubernetes import client, config

LOAD_LABEL = "hotfix.dev/load"
DEFAULT_RATE = 20
REQUEST_TIMEOUT_SECONDS = 1.0
MAX_IN_FLIGHT = 64
TICKS_PER_SECOND = 10
PORT_NAME = "http"

log = logging.getLogger("loadgen")


def ready_endpoints(slices: list[Any], subnet: ipaddress.IPv4Network) -> dict[str, list[str]]:
    """Service (namespace/name) -> the ``ip:port`` of its Ready endpoints inside ``subnet``."""
    found: dict[str, list[str]] = {}
    for endpoint_slice in slices:
        labels = endpoint_slice.metadata.labels or {}
        service = f"{endpoint_slice.metadata.namespace}/{labels.get('kubernetes.io/service-name', '')}"
        ports = [port.port for port in endpoint_slice.ports or [] if port.name == PORT_NAME and port.port]
        addresses = found.setdefault(service, [])
        for endpoint in endpoint_slice.endpoints or []:
            if not (endpoint.conditions and endpoint.conditions.ready):
                continue
            for address in endpoint.addresses or []:
                if ports and ipaddress.ip_address(address) in subnet:
                    addresses.append(f"{address}:{ports[0]}")
    return found


class Sender:
    """Requests on a bounded pool: at most ``MAX_IN_FLIGHT`` at once, the rest of a tick dropped and counted,
    so that endpoints that stop answering can never build a backlog that starves the others."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=MAX_IN_FLIGHT)
        self.in_flight = 0
        self.lock = threading.Lock()
        self.counts = {"sent": 0, "failed": 0, "dropped": 0}

    def send(self, address: str) -> None:
        with self.lock:
            if self.in_flight >= MAX_IN_FLIGHT:
                self.counts["dropped"] += 1
                return
            self.in_flight += 1
        self.pool.submit(self._request, address)

    def _request(self, address: str) -> None:
        failed = False
        try:
            with urllib.request.urlopen(f"http://{address}/", timeout=REQUEST_TIMEOUT_SECONDS) as response:
                response.read()
        except urllib.error.HTTPError:
            pass  # a 500 is the application's answer: the application counts it itself
        except OSError:
            failed = True
        with self.lock:
            self.in_flight -= 1
            self.counts["sent"] += 1
            self.counts["failed"] += failed


def run(kubeconfig: str, subnet: ipaddress.IPv4Network, rate: int, max_seconds: float) -> None:
    api = client.DiscoveryV1Api(config.new_client_from_config(kubeconfig))
    sender = Sender()
    stop_at = time.monotonic() + max_seconds
    targets: dict[str, list[str]] = {}
    rounds: dict[str, itertools.cycle[str]] = {}
    tick = 0
    while time.monotonic() < stop_at:
        tick_started = time.monotonic()
        if tick % TICKS_PER_SECOND == 0:
            # The endpoints once a second, as a Service's proxy follows its EndpointSlices.
            try:
                slices = api.list_endpoint_slice_for_all_namespaces(label_selector=f"{LOAD_LABEL}=true").items
                targets = {
                    service: addresses for service, addresses in ready_endpoints(slices, subnet).items() if addresses
                }
                rounds = {service: itertools.cycle(addresses) for service, addresses in targets.items()}
            except Exception as error:  # the API server may be restarting: try again next second
                log.warning("endpoint slices not listed: %s", error)
        if tick % (TICKS_PER_SECOND * 60) == 0:
            log.info("services %d, requests %s", len(targets), sender.counts)
        # Each Service's rate spread over the ticks of a second, round robin over its Ready endpoints.
        share = rate // TICKS_PER_SECOND + (1 if tick % TICKS_PER_SECOND < rate % TICKS_PER_SECOND else 0)
        for endpoints in rounds.values():
            for _ in range(share):
                sender.send(next(endpoints))
        tick += 1
        time.sleep(max(0.0, 1.0 / TICKS_PER_SECOND - (time.monotonic() - tick_started)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--subnet", required=True, help="the real node's pod subnet: no other address is sent to")
    parser.add_argument("--rate", type=int, default=DEFAULT_RATE, help="requests per second per Service")
    parser.add_argument("--max-seconds", type=float, default=6 * 3600, help="stop by itself after this long")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run(args.kubeconfig, ipaddress.ip_network(args.subnet), args.rate, args.max_seconds)


if __name__ == "__main__":
    main()
