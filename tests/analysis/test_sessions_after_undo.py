"""Crash-free sessions right after an undo, against a real Prometheus (backfilled history): only data from
after the undo may judge the recovery, however the counting steps fall."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from hotfix_operator.analysis.queries import QuerySettings
from hotfix_operator.api.status import AnalysisState
from prometheus_history import (
    BackfilledPrometheus,
    SessionSeries,
    backfilled,
    crash_free_of,
    history_now,
    sessions_history,
)

pytestmark = pytest.mark.real

NAMESPACE = "undo"
HISTORY_SECONDS = 3600
SESSIONS_PER_SCRAPE = 150.0
# The bad revision crashed 20% of its sessions until the undo, 90 seconds before `now`; the one rolled back
# to crashes 0.1%. At the default 1-minute rate window, sessions are counted in steps of a minute.
UNDO_AGE = 90


def crash_ratio(age: float) -> float:
    return 0.2 if age > UNDO_AGE else 0.001


def history(now: int) -> str:
    labels = f'namespace="{NAMESPACE}",deployment="web"'
    return sessions_history(now, [SessionSeries(labels, crash_ratio)], SESSIONS_PER_SCRAPE, HISTORY_SECONDS)


@pytest.fixture(scope="module")
def undone_prometheus() -> Iterator[BackfilledPrometheus]:
    now = history_now()
    with backfilled(history(now), now, "hotfix-undo-") as server:
        yield server


@pytest.mark.parametrize(
    ("seconds_since", "expected", "said"),
    [
        # Only the step that straddles the undo has ended: before, its crashes read as "did not recover".
        (45, AnalysisState.PENDING, "none has ended"),
        # One whole step after the undo: before, the straddling one was counted too (95% crash-free).
        (UNDO_AGE, AnalysisState.HEALTHY, "over 1m"),
        # The bad revision's own window: the history does breach when the window opens before the undo.
        (HISTORY_SECONDS, AnalysisState.BREACHED, "over 30m"),
    ],
)
def test_only_steps_after_the_undo_judge_the_recovery(
    undone_prometheus: BackfilledPrometheus, seconds_since: int, expected: AnalysisState, said: str
) -> None:
    result = crash_free_of(undone_prometheus, NAMESPACE, "web", undone_prometheus.now - seconds_since)
    assert result.state == expected, result.reason
    assert said in result.reason


def test_steps_of_fractional_seconds_are_read_where_they_were_planned(
    undone_prometheus: BackfilledPrometheus,
) -> None:
    """A 200 s window at a 70 s interval is read in thirds of it. Sent as 66.667 s from a start rounded to the
    second, the points fell off the planned ones: the step that straddles the undo was counted (93% crash-free,
    "did not recover") and the freshest step of the window was left out (1,333 of its 2,000 sessions)."""
    now, settings = undone_prometheus.now, QuerySettings(min_rate_window=timedelta(seconds=30))
    thirds = {"interval": "70s", "crashFreeSessions": {"over": "200s"}}
    after_undo = crash_free_of(undone_prometheus, NAMESPACE, "web", now - UNDO_AGE, settings, **thirds)
    assert after_undo.state == AnalysisState.HEALTHY, after_undo.reason
    whole_window = crash_free_of(undone_prometheus, NAMESPACE, "web", now - HISTORY_SECONDS, settings, **thirds)
    assert "(2000 sessions)" in whole_window.reason
