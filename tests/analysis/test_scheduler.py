"""When a step should wake so that its analysis joins the next aligned batch, and which batch it joins."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from hotfix_operator.analysis.queries import AnalysisRequest, QuerySettings, build_request
from hotfix_operator.analysis.scheduler import (
    LATE_BATCH_GATHER_SECONDS,
    AnalysisScheduler,
    catch_up_boundary,
    next_boundary,
    resume_boundary,
    until_due,
    until_just_before_boundary,
)
from hotfix_operator.analysis.verdicts import AnalysisReport
from hotfix_operator.api.models import Analysis
from hotfix_operator.api.status import AnalysisState


def test_next_boundary_is_the_next_multiple_of_the_interval() -> None:
    assert next_boundary(1000.0, 30) == 1020.0
    assert next_boundary(1020.0, 30) == 1050.0  # on a boundary: the next one


@pytest.mark.parametrize(
    ("now", "interval", "sleep"),
    [
        (1000.0, 30, 19.0),  # wake a second before 1020
        (1019.5, 30, 0.0),  # already inside the margin: go now, the batch of 1020 is still open
        (1000.2, 1, 0.55),  # a quarter of a short interval ahead of 1001
        (1000.0, 0.5, 0.75),  # intervals under a second are analysed every second
    ],
)
def test_a_step_wakes_just_before_the_boundary(now: float, interval: float, sleep: float) -> None:
    assert until_just_before_boundary(now, interval) == pytest.approx(sleep)
    # Started then, the step's analysis still finds the same boundary ahead of it.
    woke = now + until_just_before_boundary(now, interval)
    assert next_boundary(woke, max(interval, 1.0)) == next_boundary(now, max(interval, 1.0))


@pytest.mark.parametrize(
    ("now", "due", "sleep"),
    [
        (1000.0, 1020.0, 19.0),  # recorded in time: a second before the boundary it is due at
        (1000.0, None, 19.0),  # no due boundary known: the next one's
        (1025.0, 1020.0, 0.0),  # recorded after it (a resumed analysis): at once, not at 1049
        (1019.5, 1020.0, 0.0),  # inside the margin
    ],
)
def test_a_step_sleeps_towards_the_boundary_it_is_due_at(now: float, due: float | None, sleep: float) -> None:
    assert until_due(now, due, 30) == pytest.approx(sleep)


@pytest.mark.parametrize(
    ("now", "due", "boundary"),
    [
        (1019.0, 1020.0, 1020.0),  # woke just before it
        (1020.4, 1020.0, 1020.0),  # woke a moment after it
        (1049.0, 1020.0, 1020.0),  # late, but no newer boundary has passed
        (1056.0, 1020.0, 1050.0),  # 1050 has passed too: the newest, one analysis for both
        (1100.0, 1020.0, 1080.0),
    ],
)
def test_a_step_behind_catches_up_on_the_newest_boundary_passed(now: float, due: float, boundary: float) -> None:
    assert catch_up_boundary(now, due, 30) == boundary
    # Never so old that the scheduler would trade it for the next boundary.
    assert catch_up_boundary(now, due, 30) > now - 30


class RecordingAnalyzer:
    """Stands in for Prometheus: answers every request healthy at the moment asked, and counts the batches."""

    def __init__(self) -> None:
        self.batches: list[tuple[float, list[str]]] = []

    def analyze(self, requests: list[AnalysisRequest], now: float | None = None) -> dict[str, AnalysisReport]:
        assert now is not None
        self.batches.append((now, sorted(request.key for request in requests)))
        return {r.key: AnalysisReport(key=r.key, at=now, result=AnalysisState.HEALTHY, metrics={}) for r in requests}


def analysis_request(key: str) -> AnalysisRequest:
    return build_request(QuerySettings(), key, (("shop", key),), Analysis.model_validate({"interval": "2s"}), 0.0)


def test_a_step_woken_late_still_gets_the_boundary_it_slept_towards() -> None:
    """The event loop, busy waking thousands of Hotfixes, may resume one a moment after its boundary: it is
    analysed at once at that boundary instead of skipping an interval; a boundary over an interval old is not
    used (the next one is)."""

    async def scenario() -> tuple[list[float], RecordingAnalyzer]:
        analyzer = RecordingAnalyzer()
        scheduler = AnalysisScheduler(lambda endpoint: analyzer)
        now = time.time()
        passed = math.floor(now / 2) * 2  # the boundary just behind us: under 2 s ago
        reports = await asyncio.gather(
            scheduler.next_report("default", analysis_request("late-a"), passed),
            scheduler.next_report("default", analysis_request("late-b"), passed),
            scheduler.next_report("default", analysis_request("stale"), passed - 4),
        )
        return [report.at for report in reports], analyzer

    (late_a, late_b, stale), analyzer = asyncio.run(scenario())
    assert late_a == late_b < stale
    assert stale - late_a in (2.0, 4.0)  # the next boundary after now
    assert analyzer.batches[0] == (late_a, ["late-a", "late-b"])  # the late ones together, at once


@pytest.mark.parametrize(
    ("now", "last_analysed_at", "active_since", "boundary"),
    [
        (1015.0, 960.0, 0.0, 990.0),  # 990 passed while no process analysed it: at once, at 990
        (1015.0, None, 0.0, 990.0),  # no analysis recorded yet
        (1015.0, 990.0, 0.0, None),  # 990 analysed already: wait for 1020
        (1015.0, None, 1000.0, None),  # the window opened after 990: nothing to catch up on
        (1020.0, 990.0, 0.0, 1020.0),  # on a boundary: that one
    ],
)
def test_a_resumed_hotfix_catches_up_on_the_boundary_it_missed(
    now: float, last_analysed_at: float | None, active_since: float, boundary: float | None
) -> None:
    assert resume_boundary(now, 30, last_analysed_at, active_since) == boundary


def test_late_callers_of_one_boundary_arriving_over_a_moment_share_one_batch() -> None:
    """Daemons resumed after a restart arrive over a second or two, each late for the boundary they catch up
    on: they are analysed together, not one batch (and one set of queries) each."""

    async def scenario() -> RecordingAnalyzer:
        analyzer = RecordingAnalyzer()
        scheduler = AnalysisScheduler(lambda endpoint: analyzer)
        passed = math.floor(time.time() / 2) * 2

        async def resumed(index: int) -> AnalysisReport:
            await asyncio.sleep(index * LATE_BATCH_GATHER_SECONDS / 10)
            return await scheduler.next_report("default", analysis_request(f"resumed-{index}"), passed)

        await asyncio.gather(*(resumed(index) for index in range(5)))
        return analyzer

    analyzer = asyncio.run(scenario())
    assert [len(keys) for _, keys in analyzer.batches] == [5]


class BlockedAnalyzer(RecordingAnalyzer):
    """An analysis that does not end until the test lets it (a hung Prometheus, or thousands of Hotfixes'
    answers to judge)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def analyze(self, requests: list[AnalysisRequest], now: float | None = None) -> dict[str, AnalysisReport]:
        assert self.release.wait(timeout=10)
        return super().analyze(requests, now)


def test_analyses_in_progress_hold_neither_the_kubernetes_calls_nor_another_endpoints_analyses() -> None:
    """With the event loop's default executor down to one thread, a status write (any blocking call on it)
    still goes through while the analyses of a hung endpoint (two boundaries) are in progress, and so does
    another endpoint's analysis."""

    async def scenario() -> tuple[str, float, list[AnalysisReport]]:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(1))
        hung, healthy = BlockedAnalyzer(), RecordingAnalyzer()
        scheduler = AnalysisScheduler(lambda endpoint: hung if endpoint == "hung" else healthy)
        passed = math.floor(time.time() / 2) * 2
        analyses = asyncio.gather(
            scheduler.next_report("hung", analysis_request("a"), passed),
            scheduler.next_report("hung", analysis_request("b")),  # the next boundary, within 2 s
        )
        await asyncio.sleep(2.5)  # both batches of the hung endpoint have started and are blocked
        written = await asyncio.wait_for(asyncio.to_thread(lambda: "written"), timeout=5)
        other = await asyncio.wait_for(scheduler.next_report("healthy", analysis_request("c"), passed), timeout=5)
        hung.release.set()
        return written, other.at, await analyses

    written, other_at, reports = asyncio.run(scenario())
    assert written == "written"
    assert other_at > 0
    assert [report.result for report in reports] == [AnalysisState.HEALTHY, AnalysisState.HEALTHY]
