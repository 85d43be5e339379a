"""Runs the analyses of all Hotfixes that share a Prometheus in one batch per aligned interval.

Each Hotfix asks for its next report; requests are grouped by Prometheus URL and by the next wall-clock
boundary of their interval (a multiple of it since the epoch), so Hotfixes with the same interval are
always analysed together, with a query count that does not grow with their number. A breach that
becomes visible in Prometheus is therefore seen within one interval.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from hotfix_operator.analysis.queries import AnalysisRequest
from hotfix_operator.analysis.verdicts import AnalysisReport

# A batch for a boundary already passed (late wake-ups, Hotfixes resumed after a restart) waits this long for
# the others of that boundary: a thousand daemons resuming over a second or two would otherwise each start one.
LATE_BATCH_GATHER_SECONDS = 0.2
# Batched analyses run on threads of their own, not on the event loop's default executor: there they held
# the threads the Kubernetes calls (status writes, Deployment reads) need, and when analyses took longer
# than an interval, a step's write waited behind them. Two for each Prometheus endpoint: batches of two
# boundaries side by side, and a hung endpoint (each of its analyses waiting for the whole timeout) holds
# only its own threads, never another endpoint's.
ANALYSIS_WORKERS_PER_ENDPOINT = 2


class Analyzer(Protocol):
    """What the scheduler needs of a Prometheus adapter: one batched analysis at a given moment."""

    def analyze(self, requests: list[AnalysisRequest], now: float | None = None) -> dict[str, AnalysisReport]: ...


def next_boundary(now: float, interval: float) -> float:
    """The next multiple of ``interval`` after ``now`` (whole seconds, as the query API wants)."""
    return float(math.ceil((math.floor(now / interval) + 1) * interval))


def until_just_before_boundary(now: float, interval: float) -> float:
    """Seconds to sleep so that a step started then joins the batch of the next boundary: a quarter of the
    interval (at most a second) ahead of it, so that a late wake-up still makes it."""
    interval = max(interval, 1.0)
    margin = min(1.0, interval / 4)
    return max(next_boundary(now, interval) - now - margin, 0.0)


def until_due(now: float, due: float | None, interval: float) -> float:
    """Seconds to sleep before the step of the next analysis, due at boundary ``due``: until just before it,
    or none when it has passed already. An analysis can come back after the next boundary (the resumed ones
    after a restart, recorded by a thousand steps at once): sleeping towards the boundary after that one
    skipped a whole interval (29 s behind at 1,000 Hotfixes). Without a due boundary: the next one's."""
    if due is None:
        return until_just_before_boundary(now, interval)
    margin = min(1.0, max(interval, 1.0) / 4)
    return max(due - now - margin, 0.0)


def catch_up_boundary(now: float, due: float, interval: float) -> float:
    """The boundary a step analyses when it was due at ``due``: that one while it is ahead or has just
    passed; once a newer boundary has passed too, the newest (its data is fresher, and a step far behind
    catches up in one analysis rather than one per boundary missed)."""
    interval = max(interval, 1.0)
    return max(due, float(math.floor(now / interval) * interval))


def resume_boundary(now: float, interval: float, last_analysed_at: float | None, active_since: float) -> float | None:
    """For a Hotfix this process has not analysed yet (it has just started, or taken the Hotfix over): the
    boundary that passed since the last analysis its status records, to be analysed at once; None when there
    is none, or it came before the analysis window opened (``active_since``): wait for the next. An operator
    restarted across a boundary would otherwise skip that interval.

    The status records an unchanged analysis only once a detail period, so the boundary may have been
    analysed already by the process before: one analysis more at a restart, never one fewer.
    """
    interval = max(interval, 1.0)
    passed = float(math.floor(now / interval) * interval)
    if passed < active_since or (last_analysed_at is not None and last_analysed_at >= passed):
        return None
    return passed


@dataclass
class _Batch:
    requests: dict[str, AnalysisRequest] = field(default_factory=dict)
    waiters: dict[str, list[asyncio.Future[AnalysisReport]]] = field(default_factory=dict)


class AnalysisScheduler:
    def __init__(self, analyzer_for: Callable[[str], Analyzer]) -> None:
        self.analyzer_for = analyzer_for
        self._batches: dict[tuple[str, float], _Batch] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._executors: dict[str, ThreadPoolExecutor] = {}

    async def next_report(
        self, endpoint: str, request: AnalysisRequest, boundary: float | None = None
    ) -> AnalysisReport:
        """The analysis at the next boundary; or at ``boundary``, the one the caller slept towards, even when the
        event loop woke it a moment after it (thousands of Hotfixes wake together): such late callers are
        analysed at once, at that boundary, in a batch of their own, rather than skip a whole interval."""
        interval = max(request.analysis.interval.total_seconds(), 1.0)
        now = time.time()
        if boundary is None or boundary <= now - interval:
            boundary = next_boundary(now, interval)
        key = (endpoint, boundary)
        batch = self._batches.get(key)
        if batch is None:
            batch = self._batches[key] = _Batch()
            task = asyncio.create_task(self._run(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        batch.requests[request.key] = request
        waiter: asyncio.Future[AnalysisReport] = asyncio.get_running_loop().create_future()
        batch.waiters.setdefault(request.key, []).append(waiter)
        return await waiter

    def _executor(self, url: str) -> ThreadPoolExecutor:
        executor = self._executors.get(url)
        if executor is None:
            executor = self._executors[url] = ThreadPoolExecutor(
                ANALYSIS_WORKERS_PER_ENDPOINT, thread_name_prefix="analysis"
            )
        return executor

    async def _run(self, key: tuple[str, float]) -> None:
        url, boundary = key
        await asyncio.sleep(max(boundary - time.time(), LATE_BATCH_GATHER_SECONDS))
        batch = self._batches.pop(key)
        try:
            analysis = functools.partial(self.analyzer_for(url).analyze, list(batch.requests.values()), boundary)
            reports = await asyncio.get_running_loop().run_in_executor(self._executor(url), analysis)
        except Exception as error:  # a bug in the analysis must reach the waiting Hotfixes, not vanish
            for waiters in batch.waiters.values():
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(error)
            return
        for request_key, waiters in batch.waiters.items():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(reports[request_key])
