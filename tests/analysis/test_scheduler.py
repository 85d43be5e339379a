"""When a step should wake so that its analysis joins the next aligned batch."""

from __future__ import annotations

import pytest

from hotfix_operator.analysis.scheduler import next_boundary, until_just_before_boundary


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
