"""Charts drawn with matplotlib, checked on the data read back from the figure."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest

from hotfix_operator.api.history import Marker, MetricSeries
from hotfix_operator.report.charts import render_chart


def test_the_chart_draws_the_series_its_threshold_breaches_and_markers() -> None:
    values = [0.002] * 10 + [0.05] * 5 + [0.002] * 10
    points = tuple((1000.0 + 10 * index, value) for index, value in enumerate(values))
    series = MetricSeries("prod/auth", "errorRate", 0.01, True, "q", 10, points)
    chart = render_chart(series, (Marker(1090, "rollout"), Marker(1150, "undo")), 900, 1300)
    assert [(round(at, 3), round(value, 9)) for at, value in chart.plotted] == list(points)
    assert chart.threshold_drawn == pytest.approx(0.01)
    assert [(round(start, 3), round(end, 3)) for start, end in chart.shaded] == [(1100.0, 1150.0)]
    assert chart.marked == ((1090.0, "rollout"), (1150.0, "undo"))
    root = ElementTree.fromstring(chart.svg)
    assert root.tag.endswith("svg")
    assert chart.file_name == "prod_auth-errorRate.svg"


def test_a_series_without_data_still_renders_and_says_why() -> None:
    series = MetricSeries("prod/auth", "latencyP95", 1200, True, "q", 10, (), missing="gone with retention")
    chart = render_chart(series, (), 900, 1300)
    assert chart.plotted == () and chart.shaded == ()
    assert "gone with retention" in chart.svg


def overlap(first: tuple[float, float, float, float], second: tuple[float, float, float, float]) -> bool:
    return first[0] < second[2] and second[0] < first[2] and first[1] < second[3] and second[1] < first[3]


def test_close_markers_never_overlap_and_the_chart_is_written_for_viewing() -> None:
    points = tuple((1000.0 + index, 0.002) for index in range(30))
    series = MetricSeries("prod/auth", "errorRate", 0.01, True, "q", 1, points)
    # A 29 s incident: rollout, decision, undo and rolled back within seconds of each other.
    marked = (Marker(1002, "rollout"), Marker(1008, "decision"), Marker(1008.2, "undo"), Marker(1009.5, "rolled back"),
              Marker(1020, "checkpoint"))  # fmt: skip
    chart = render_chart(series, marked, 995, 1035)
    assert len(chart.label_boxes) == 5
    for index, box in enumerate(chart.label_boxes):
        assert not any(overlap(box, other) for other in chart.label_boxes[index + 1 :]), chart.label_boxes
    # Two labels far apart share the top row.
    spaced = render_chart(series, (Marker(1000, "rollout"), Marker(1030, "undo")), 995, 1035)
    assert spaced.label_boxes[0][1] == pytest.approx(spaced.label_boxes[1][1])
    # A marker outside the window is not drawn.
    assert render_chart(series, (Marker(10, "rollout"),), 995, 1035).marked == ()
