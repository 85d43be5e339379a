"""A fault-injecting HTTP proxy: the API server or Prometheus as a bad day makes them look.

It sits on loopback in front of one upstream (HTTPS to the API server, HTTP to Prometheus) and passes
every request through, streaming the answer (watches included), until told to misbehave:

- ``fail``: answer a share of the requests with a status (429 with Retry-After, 500, ...) for a while;
- ``malformed``: answer 200 with a body that is not what was asked for;
- ``hang``: hold every answer for some seconds before passing it on;
- ``trip``: the first request that matches (a method and a path fragment) is dropped unanswered, and the
  test hears of it: a way to stop the world at an exact point of the operator's work;
- ``cut_streams``: close every open streaming answer (a watch) at once.

An upstream that cannot be reached closes the client's connection, as an L4 load balancer does.
Counters say what was passed and what was injected. Runs its own event loop in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import aiohttp
from aiohttp import web

from hotfix_operator.testbed.processes import free_port

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"})


@dataclass
class _Failure:
    status: int
    share: float
    until: float
    retry_after: int | None


@dataclass
class _Trip:
    method: str
    path_fragment: str
    tripped: threading.Event = field(default_factory=threading.Event)


class FaultProxy:
    def __init__(self, upstream: str, certificate: tuple[Path, Path] | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        # Served over TLS with the upstream's own certificate and key when given: clients keep their CA.
        self.certificate = certificate
        self.port = free_port()
        self.counts: Counter[str] = Counter()
        self._failure: _Failure | None = None
        self._malformed_until = 0.0
        self._hang_seconds = 0.0
        self._trip: _Trip | None = None
        # The client connections of answers still streaming (watches), to be cut on demand.
        self._streams: set[asyncio.Transport] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.certificate else 'http'}://127.0.0.1:{self.port}"

    # -- faults (called from the test's thread) ---------------------------------------------

    def fail(self, status: int, share: float, seconds: float, retry_after: int | None = None) -> None:
        self._failure = _Failure(status, share, time.monotonic() + seconds, retry_after)

    def malformed(self, seconds: float) -> None:
        self._malformed_until = time.monotonic() + seconds

    def hang(self, seconds: float) -> None:
        """Hold every answer this long (0 to stop)."""
        self._hang_seconds = seconds

    def trip(self, method: str, path_fragment: str) -> threading.Event:
        """Drop every request matching until ``heal``; the event is set at the first."""
        self._trip = _Trip(method.upper(), path_fragment)
        return self._trip.tripped

    def heal(self) -> None:
        self._failure, self._trip, self._malformed_until, self._hang_seconds = None, None, 0.0, 0.0

    def cut_streams(self) -> int:
        """Close every open streaming answer; returns how many were cut."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(self._cut_streams(), self._loop)
        return future.result(timeout=10)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> str:
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(started,), name="fault-proxy", daemon=True)
        self._thread.start()
        if not started.wait(timeout=10):
            raise RuntimeError("the fault proxy did not start")
        return self.url

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _serve(self, started: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._open())
        started.set()
        self._loop.run_forever()
        self._loop.close()

    async def _open(self) -> None:
        context = ssl.create_default_context()
        # The test bed's API server has a self-signed certificate; the proxy never leaves loopback.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context, limit=0), auto_decompress=False
        )
        # Dropped connections are the point here; aiohttp logs each as an error with its trace.
        logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        serving_context = None
        if self.certificate is not None:
            serving_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            serving_context.load_cert_chain(*map(str, self.certificate))
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=serving_context).start()

    async def _shutdown(self) -> None:
        await self._cut_streams()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _cut_streams(self) -> int:
        streams = list(self._streams)
        for transport in streams:
            transport.abort()
        self._streams.clear()
        return len(streams)

    # -- proxying --------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        injected = self._injected(request)
        if injected is not None:
            return injected
        assert self._session is not None
        headers = {key: value for key, value in request.headers.items() if key.lower() not in HOP_BY_HOP}
        body = await request.read()
        try:
            upstream = await self._session.request(
                request.method,
                f"{self.upstream}{request.rel_url}",
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
            )
        except (aiohttp.ClientError, OSError):
            self.counts["upstream-unreachable"] += 1
            self._drop(request)
        async with upstream:
            if self._hang_seconds:
                await asyncio.sleep(self._hang_seconds)
            if time.monotonic() < self._malformed_until:
                self.counts["injected-malformed"] += 1
                return web.Response(status=200, text='{"status": "success", "data": ', content_type="application/json")
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    response.headers[key] = value
            self.counts[f"passed-{upstream.status}"] += 1
            await response.prepare(request)
            transport = request.transport
            if transport is not None:
                self._streams.add(transport)  # type: ignore[arg-type]
            try:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
            except (aiohttp.ClientError, ConnectionError):
                self.counts["stream-broken"] += 1
            finally:
                self._streams.discard(transport)  # type: ignore[arg-type]
            return response

    def _injected(self, request: web.Request) -> web.StreamResponse | None:
        trip = self._trip
        if trip is not None and request.method == trip.method and trip.path_fragment in request.path:
            self.counts["injected-trip"] += 1
            trip.tripped.set()
            self._drop(request)
        failure = self._failure
        if failure is not None and time.monotonic() < failure.until and random.random() < failure.share:
            self.counts[f"injected-{failure.status}"] += 1
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            message = '{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected by the fault proxy"}'
            return web.Response(status=failure.status, text=message, content_type="application/json", headers=headers)
        return None

    @staticmethod
    def _drop(request: web.Request) -> NoReturn:
        """Close the client's connection without an answer (aiohttp takes the raise as a client gone)."""
        if request.transport is not None:
            request.transport.abort()
        raise ConnectionResetError("dropped by the fault proxy")
