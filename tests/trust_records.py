"""What the trust tests tried and how it went, printed at the end of the run (`make trust`, `make test`).

A fault or hostile input is recorded as tried when its test starts and as survived only when every
assertion of the test held; figures (seconds to resume, inputs refused) go with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Trial:
    kind: str  # "fault", "hostile-input", "edit"
    name: str
    survived: bool = False
    figures: dict[str, Any] = field(default_factory=dict)


TRIALS: list[Trial] = []


@contextmanager
def trial(kind: str, name: str) -> Iterator[Trial]:
    """Record one trial; it counts as survived only when the block ends without an exception."""
    tried = Trial(kind, name)
    TRIALS.append(tried)
    yield tried
    tried.survived = True


def as_json() -> list[dict[str, Any]]:
    """The trials of this process, for pytest-xdist to carry from a worker to the controller."""
    return [asdict(tried) for tried in TRIALS]


def add_from_json(trials: list[dict[str, Any]]) -> None:
    TRIALS.extend(Trial(**tried) for tried in trials)


def summary_lines() -> list[str]:
    if not TRIALS:
        return []
    lines = []
    for kind in sorted({t.kind for t in TRIALS}):
        of_kind = [t for t in TRIALS if t.kind == kind]
        survived = sum(t.survived for t in of_kind)
        lines.append(f"{kind}: {len(of_kind)} tried, {survived} survived")
        for tried in of_kind:
            figures = ", ".join(f"{key} {value}" for key, value in tried.figures.items())
            lines.append(f"  {'ok  ' if tried.survived else 'FAIL'} {tried.name}{': ' + figures if figures else ''}")
    totals: dict[str, int] = {}
    for tried in TRIALS:
        for key in ("crashes", "double_actions"):
            totals[key] = totals.get(key, 0) + int(tried.figures.get(key, 0))
    lines.append(f"operator crashes: {totals['crashes']}; double actions (second rollout or undo): "
                 f"{totals['double_actions']}")  # fmt: skip
    return lines
