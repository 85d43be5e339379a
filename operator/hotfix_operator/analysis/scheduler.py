"""Runs the analyses of the Hotfixes that share a Prometheus in one batch per aligned boundary.

Each Hotfix asks for its next report; requests are grouped by Prometheus URL and by the next wall-clock
boundary of their interval (a multiple of it since the epoch, plus the offset of the Hotfix's group), so
Hotfixes with the same interval are analysed together in a few batches, with a query count that does not
grow with their number. A breach that becomes visible in Prometheus is therefore seen within one interval.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
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
# Hotfixes of one interval fall into groups whose boundaries are at least this far apart, a Hotfix's group
# fixed by its key: with one boundary for all, the steps recording 10,000 analyses ran one after another on
# the event loop after their one batch, and the last recorded its analysis 25-70 s after the boundary (a 30 s
# interval); in three groups each boundary's steps are a third, done before the next group's batch.
# Intervals under two spacings keep one group; at most MAX_BOUNDARY_GROUPS, or batches get small and their
# queries many.
BOUNDARY_GROUP_SPACING_SECONDS = 10.0
MAX_BOUNDARY_GROUPS = 6


class Analyzer(Protocol):
    """What the scheduler needs of a Prometheus adapter: one batched analysis at a given moment."""

    def analyze(self, requests: list[AnalysisRequest], now: float | None = None) -> dict[str, AnalysisReport]: ...


# Asked twice a step for each Hotfix (a hash each time): kept for as many Hotfixes as an operator handles.
@functools.lru_cache(maxsize=65536)
def boundary_offset(key: str, interval: float) -> float:
    """How far after each multiple of ``interval`` the boundaries of Hotfix ``key`` fall: its group's offset,
    whole seconds, the groups spread evenly over the interval. A hash of its own, not the crc32 that picks a
    Hotfix's detail turn (api/significance.py), so that a group's detail writes are not all on the same turns."""
    interval = max(interval, 1.0)
    groups = min(int(interval // BOUNDARY_GROUP_SPACING_SECONDS), MAX_BOUNDARY_GROUPS)
    if groups < 2:
        return 0.0
    group = int.from_bytes(hashlib.blake2s(key.encode(), digest_size=4).digest()) % groups
    return float(group * math.floor(interval / groups))


def next_boundary(now: float, interval: float, offset: float = 0.0) -> float:
    """The next multiple of ``interval`` (plus ``offset``) after ``now`` (whole seconds, as the query API wants)."""
    return float(math.ceil((math.floor((now - offset) / interval) + 1) * interval + offset))


def passed_boundary(now: float, interval: float, offset: float = 0.0) -> float:
    """The newest multiple of ``interval`` (plus ``offset``) at or before ``now``."""
    return float(math.floor((now - offset) / interval) * interval + offset)


def until_just_before_boundary(now: float, interval: float, offset: float = 0.0) -> float:
    """Seconds to sleep so that a step started then joins the batch of the next boundary: a quarter of the
    interval (at most a second) ahead of it, so that a late wake-up still makes it."""
    interval = max(interval, 1.0)
    margin = min(1.0, interval / 4)
    return max(next_boundary(now, interval, offset) - now - margin, 0.0)


def until_due(now: float, due: float | None, interval: float, offset: float = 0.0) -> float:
    """Seconds to sleep before the step of the next analysis, due at boundary ``due``: until just before it,
    or none when it has passed already. An analysis can come back after the next boundary (the resumed ones
    after a restart, recorded by a thousand steps at once): sleeping towards the boundary after that one
    skipped a whole interval (29 s behind at 1,000 Hotfixes). Without a due boundary: the next one's."""
    if due is None:
        return until_just_before_boundary(now, interval, offset)
    margin = min(1.0, max(interval, 1.0) / 4)
    return max(due - now - margin, 0.0)


def catch_up_boundary(now: float, due: float, interval: float, offset: float = 0.0) -> float:
    """The boundary a step analyses when it was due at ``due``: that one while it is ahead or has just
    passed; once a newer boundary has passed too, the newest (its data is fresher, and a step far behind
    catches up in one analysis rather than one per boundary missed)."""
    interval = max(interval, 1.0)
    return max(due, passed_boundary(now, interval, offset))


def resume_boundary(
    now: float, interval: float, last_analysed_at: float | None, active_since: float, offset: float = 0.0
) -> float | None:
    """For a Hotfix this process has not analysed yet (it has just started, or taken the Hotfix over): the
    boundary that passed since the last analysis its status records, to be analysed at once; None when there
    is none, or it came before the analysis window opened (``active_since``): wait for the next. An operator
    restarted across a boundary would otherwise skip that interval.

    The status records an unchanged analysis only once a detail period, so the boundary may have been
    analysed already by the process before: one analysis more at a restart, never one fewer.
    """
    interval = max(interval, 1.0)
    passed = passed_boundary(now, interval, offset)
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
        self._worker_slots: dict[str, asyncio.Semaphore] = {}

    async def next_report(
        self, endpoint: str, request: AnalysisRequest, boundary: float | None = None
    ) -> AnalysisReport:
        """The analysis at the next boundary; or at ``boundary``, the one the caller slept towards, even when the
        event loop woke it a moment after it (thousands of Hotfixes wake together): such late callers are
        analysed at once, at that boundary, in a batch of their own, rather than skip a whole interval."""
        interval = max(request.analysis.interval.total_seconds(), 1.0)
        now = time.time()
        if boundary is None or boundary <= now - interval:
            boundary = next_boundary(now, interval, boundary_offset(request.key, interval))
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

    def _workers(self, url: str) -> asyncio.Semaphore:
        workers = self._worker_slots.get(url)
        if workers is None:
            workers = self._worker_slots[url] = asyncio.Semaphore(ANALYSIS_WORKERS_PER_ENDPOINT)
        return workers

    async def _run(self, key: tuple[str, float]) -> None:
        url, boundary = key
        await asyncio.sleep(max(boundary - time.time(), LATE_BATCH_GATHER_SECONDS))
        # The batch stays open until a worker takes it: Hotfixes late for its boundary join it meanwhile. Closed
        # at the end of its gathering instead, it left each latecomer behind a busy worker a batch of its own,
        # each asking every query again (the likeliest reason a run at 10,000 Hotfixes asked 652 small
        # batched queries in its minute, against 79 in the run before).
        async with self._workers(url):
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
