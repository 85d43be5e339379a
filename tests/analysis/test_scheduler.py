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
    MAX_BOUNDARY_GROUPS,
    AnalysisScheduler,
    boundary_offset,
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
    ("interval", "offsets"),
    [
        (2, {0.0}),  # the tests' short intervals: one group, boundaries on the multiples
        (19, {0.0}),
        (30, {0.0, 10.0, 20.0}),
        (60, {0.0, 10.0, 20.0, 30.0, 40.0, 50.0}),
        (300, {0.0, 50.0, 100.0, 150.0, 200.0, 250.0}),  # at most six groups
    ],
)
def test_hotfixes_of_one_interval_fall_into_groups_of_boundaries_spread_over_it(
    interval: float, offsets: set[float]
) -> None:
    keys = [f"team-{index % 7}/fix-{index}" for index in range(3000)]
    seen = [boundary_offset(key, interval) for key in keys]
    assert set(seen) == offsets
    # Each group holds about its share, so each boundary's steps are about that share of all of them.
    assert max(seen.count(offset) for offset in offsets) < 1.25 * len(keys) / len(offsets)
    assert len(offsets) <= MAX_BOUNDARY_GROUPS
    # A Hotfix's group is its own: the same in another process (no per-process salt).
    assert [boundary_offset(key, interval) for key in keys] == seen


def test_the_boundaries_of_a_group_are_its_offset_after_each_multiple() -> None:
    assert next_boundary(1000.0, 30, 10.0) == 1030.0
    assert next_boundary(1030.0, 30, 10.0) == 1060.0  # on its boundary: the next one
    assert next_boundary(1005.0, 30, 20.0) == 1010.0
    assert until_just_before_boundary(1000.0, 30, 20.0) == pytest.approx(9.0)
    assert until_due(1000.0, None, 30, 20.0) == pytest.approx(9.0)
    assert catch_up_boundary(1075.0, 1010.0, 30, 20.0) == 1070.0
    assert resume_boundary(1015.0, 30, 960.0, 0.0, 20.0) == 1010.0
    assert resume_boundary(1015.0, 30, 1010.0, 0.0, 20.0) is None


def test_hotfixes_of_different_groups_are_analysed_in_batches_of_their_own_boundaries() -> None:
    """A group's Hotfixes are batched at its boundaries, never with another group's."""
    interval = 30.0
    keys = [f"shop/fix-{index}" for index in range(12)]
    groups = {key: boundary_offset(key, interval) for key in keys}
    assert len(set(groups.values())) == 3

    async def scenario() -> RecordingAnalyzer:
        analyzer = RecordingAnalyzer()
        scheduler = AnalysisScheduler(lambda endpoint: analyzer)
        now = time.time()
        await asyncio.gather(
            *(
                scheduler.next_report(
                    "default", analysis_request(key, "30s"), catch_up_boundary(now, now - 60, 30, offset)
                )
                for key, offset in groups.items()
            )
        )
        return analyzer

    analyzer = asyncio.run(scenario())
    assert len(analyzer.batches) == 3
    for at, batch in analyzer.batches:
        assert {(at - groups[key]) % interval for key in batch} == {0.0}
    assert sorted(key for _, batch in analyzer.batches for key in batch) == sorted(keys)


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


def analysis_request(key: str, interval: str = "2s") -> AnalysisRequest:
    return build_request(QuerySettings(), key, (("shop", key),), Analysis.model_validate({"interval": interval}), 0.0)


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
        # Recorded as it begins: the order the batches took the workers in, not the order the released threads
        # happened to finish in (a batch taken later could finish first, and the test asserts the former).
        reports = super().analyze(requests, now)
        assert self.release.wait(timeout=10)
        return reports


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


def test_callers_late_for_a_boundary_while_the_workers_are_busy_join_its_waiting_batch() -> None:
    """Both workers busy (two boundaries of a slow Prometheus): Hotfixes arriving late for a boundary one after
    another, each after the batch's gathering time, are analysed in one batch once a worker is free, not in
    a batch each."""

    async def scenario() -> BlockedAnalyzer:
        analyzer = BlockedAnalyzer()
        scheduler = AnalysisScheduler(lambda endpoint: analyzer)
        passed = math.floor(time.time() / 2) * 2
        # Two boundaries of a 10 s interval that passed a few seconds ago: two batches, analysed at once.
        busy = [
            asyncio.ensure_future(
                scheduler.next_report("default", analysis_request(f"busy-{index}", "10s"), passed - 4 - 2 * index)
            )
            for index in range(2)
        ]
        await asyncio.sleep(3 * LATE_BATCH_GATHER_SECONDS)  # a batch each, both taken by the two workers

        async def late(index: int) -> AnalysisReport:
            await asyncio.sleep(index * 2 * LATE_BATCH_GATHER_SECONDS)
            return await scheduler.next_report("default", analysis_request(f"late-{index}"), passed)

        lates = asyncio.gather(*(late(index) for index in range(4)))
        await asyncio.sleep(8 * LATE_BATCH_GATHER_SECONDS)
        analyzer.release.set()
        await asyncio.gather(*busy)
        await lates
        return analyzer

    analyzer = asyncio.run(scenario())
    assert [keys for _, keys in analyzer.batches][:2] in (
        [["busy-0"], ["busy-1"]],
        [["busy-1"], ["busy-0"]],
    )  # the two workers held by a batch each
    late_batches = [keys for _, keys in analyzer.batches if any(key.startswith("late") for key in keys)]
    assert late_batches == [["late-0", "late-1", "late-2", "late-3"]]
