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
