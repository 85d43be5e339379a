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
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubernetes import client, config

LOAD_LABEL = "hotfix.dev/load"
DEFAULT_RATE = 20
REQUEST_TIMEOUT_SECONDS = 2.0
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


def _send(address: str) -> None:
    try:
        with urllib.request.urlopen(f"http://{address}/", timeout=REQUEST_TIMEOUT_SECONDS) as response:
            response.read()
    except urllib.error.HTTPError:
        pass  # a 500 is the application's answer: it is counted by the application itself
    except OSError as error:
        log.debug("request to %s failed: %s", address, error)


def run(kubeconfig: str, subnet: ipaddress.IPv4Network, rate: int, max_seconds: float) -> None:
    api = client.DiscoveryV1Api(config.new_client_from_config(kubeconfig))
    stop_at = time.monotonic() + max_seconds
    with ThreadPoolExecutor(max_workers=16) as pool:
        while time.monotonic() < stop_at:
            second_started = time.monotonic()
            try:
                slices = api.list_endpoint_slice_for_all_namespaces(label_selector=f"{LOAD_LABEL}=true").items
            except Exception as error:  # the API server may be restarting: try again next second
                log.warning("endpoint slices not listed: %s", error)
                slices = []
            for addresses in ready_endpoints(slices, subnet).values():
                if not addresses:
                    continue
                # Round robin over the Ready endpoints, the requests spread over the second.
                for index, address in zip(range(rate), itertools.cycle(addresses), strict=False):
                    delay = index / rate
                    pool.submit(lambda a=address, d=delay: (time.sleep(d), _send(a)))
            time.sleep(max(0.0, 1.0 - (time.monotonic() - second_started)))


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
