"""One chart per threshold and target: the series, its threshold line, breach periods shaded, and the
rollout, decision, undo and checkpoints marked. Drawn with matplotlib, written as self-contained SVG.

What was drawn is read back from the figure (the line's points, the shaded spans, the marker lines), so a
test can check the plot's data, not its pixels.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")  # no display: files only

import matplotlib.dates as mdates
from matplotlib import pyplot
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hotfix_operator.api.history import Marker, MetricSeries
from hotfix_operator.report.facts import breach_periods

TITLES = {"errorRate": "error rate", "latencyP95": "p95 latency (ms)", "crashFreeSessions": "crash-free sessions"}
# Ratios are shown as percentages: that is how the thresholds are written and read.
PERCENT = {"errorRate", "crashFreeSessions"}
# Marker labels: the space kept between two on a row, and the height of a row.
GAP_PIXELS = 4.0
ROW_POINTS = 9


@dataclass(frozen=True)
class Chart:
    target: str
    metric: str
    svg: str
    # Read back from the figure: (unix seconds, value as drawn) of the series line.
    plotted: tuple[tuple[float, float], ...]
    threshold_drawn: float
    shaded: tuple[tuple[float, float], ...]
    marked: tuple[tuple[float, str], ...]
    missing: str = ""
    # Each marker label's box as drawn (display pixels x0, y0, x1, y1): a test checks that none overlap.
    label_boxes: tuple[tuple[float, float, float, float], ...] = ()

    @property
    def inline_svg(self) -> str:
        """The SVG without its XML prolog, to sit inside an HTML page."""
        return self.svg[self.svg.index("<svg") :]

    @property
    def file_name(self) -> str:
        return f"{self.target.replace('/', '_')}-{self.metric}.svg"


def _when(unix_seconds: float) -> datetime:
    return datetime.fromtimestamp(unix_seconds, UTC)


def _unix(matplotlib_date: float) -> float:
    return mdates.num2date(matplotlib_date).timestamp()


def render_chart(series: MetricSeries, markers: tuple[Marker, ...], start: float, end: float) -> Chart:
    scale = 100.0 if series.metric in PERCENT else 1.0
    figure: Figure = pyplot.figure(figsize=(8, 2.6), dpi=100)
    try:
        axes = figure.add_subplot()
        axes.set_title(f"{series.target}: {TITLES.get(series.metric, series.metric)}", fontsize=10, loc="left")
        axes.set_xlim(_when(start), _when(end))
        if series.points:
            axes.plot(
                [_when(at) for at, _ in series.points],
                [value * scale for _, value in series.points],
                color="#1f5fa8",
                linewidth=1.4,
                label="observed",
            )
        else:
            axes.text(0.5, 0.5, series.missing or "no data", transform=axes.transAxes, ha="center", va="center")
        axes.axhline(series.threshold * scale, color="#c0392b", linestyle="--", linewidth=1, label="threshold")
        for period_start, period_end in breach_periods(series):
            axes.axvspan(_when(period_start), _when(period_end), color="#c0392b", alpha=0.15, linewidth=0)
        axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S", tz=UTC))
        axes.set_ylabel("%" if scale == 100.0 else "ms", fontsize=8)
        axes.tick_params(labelsize=7)
        axes.legend(fontsize=7, loc="upper left")
        figure.tight_layout()
        labels = _mark(figure, axes, [m for m in markers if start <= m.at <= end])
        svg = io.StringIO()
        figure.savefig(svg, format="svg")
        return _read_back(series, axes, svg.getvalue(), scale, labels)
    finally:
        pyplot.close(figure)


def _mark(figure: Figure, axes: Axes, markers: list[Marker]) -> tuple[tuple[float, float, float, float], ...]:
    """A dotted line at each action and its label inside the top of the plot, on the first row where it
    overlaps no label before it (rows go down from the top), so that close actions stay readable."""
    renderer = figure.canvas.get_renderer()
    rows: list[float] = []  # the right edge (display pixels) of the last label on each row
    boxes = []
    for marker in sorted(markers, key=lambda one: one.at):
        axes.axvline(_when(marker.at), color="#555555", linewidth=0.8, linestyle=":", gid=marker.label)
        text = axes.annotate(marker.label, (_when(marker.at), 1.0), xycoords=("data", "axes fraction"),
                             xytext=(2, -2), textcoords="offset points", fontsize=7, ha="left", va="top")  # fmt: skip
        box = text.get_window_extent(renderer)
        row = next((index for index, right in enumerate(rows) if box.x0 > right + GAP_PIXELS), len(rows))
        if row == len(rows):
            rows.append(0.0)
        text.set_position((2, -2 - row * ROW_POINTS))
        box = text.get_window_extent(renderer)
        rows[row] = box.x1
        boxes.append((box.x0, box.y0, box.x1, box.y1))
    return tuple(boxes)


def _read_back(
    series: MetricSeries, axes: Axes, svg: str, scale: float, labels: tuple[tuple[float, float, float, float], ...]
) -> Chart:
    lines = [line for line in axes.get_lines() if line.get_label() == "observed"]
    plotted = tuple(
        (_unix(mdates.date2num(x)), float(y) / scale) for x, y in zip(*lines[0].get_data(), strict=True)
    ) if lines else ()  # fmt: skip
    threshold_line = next(line for line in axes.get_lines() if line.get_label() == "threshold")
    shaded = tuple((_unix(patch.get_x()), _unix(patch.get_x() + patch.get_width())) for patch in axes.patches)
    return Chart(
        target=series.target,
        metric=series.metric,
        svg=svg,
        plotted=plotted,
        threshold_drawn=float(threshold_line.get_ydata()[0]) / scale,
        shaded=shaded,
        marked=tuple(
            (_unix(mdates.date2num(line.get_xdata()[0])), line.get_gid()) for line in axes.get_lines() if line.get_gid()
        ),
        missing=series.missing,
        label_boxes=labels,
    )
