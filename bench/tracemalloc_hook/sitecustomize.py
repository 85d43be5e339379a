"""Loaded by Python at start-up when this folder is on PYTHONPATH (bench/profile_memory.py puts it there for
the operator's process only): SIGUSR2 starts tracing, so the start-up's imports are neither slowed nor
counted; SIGUSR1 writes where the memory allocated since then went to HOTFIX_TRACEMALLOC_OUT."""

from __future__ import annotations

import gc
import os
import signal
import tracemalloc
from types import FrameType

TOP = 40
FRAMES = int(os.environ.get("HOTFIX_TRACEMALLOC_FRAMES", "8"))


def _start(signum: int, frame: FrameType | None) -> None:
    tracemalloc.start(FRAMES)


def _holders(obj: object, depth: int) -> str:
    """What refers to ``obj``, ``depth`` levels up, by type (a frame by its function's name)."""
    if depth == 0:
        return ""
    names = []
    for referrer in gc.get_referrers(obj)[:4]:
        if isinstance(referrer, FrameType):
            names.append(f"frame {referrer.f_code.co_name}")
        elif isinstance(referrer, list) and any(r is obj for r in referrer) and len(referrer) > 100:
            continue  # gc.get_objects()' own list
        else:
            names.append(f"{type(referrer).__name__}{_holders(referrer, depth - 1)}")
    return f" <- [{', '.join(names)}]"


def _hotfix_copies() -> list[str]:
    """Every whole Hotfix object alive (a decoded dict of kind Hotfix), grouped by what holds it."""
    by_holder: dict[str, int] = {}
    for obj in gc.get_objects():
        if isinstance(obj, dict) and obj.get("kind") == "Hotfix" and "status" in obj and "metadata" in obj:
            holder = _holders(obj, 3)
            by_holder[holder] = by_holder.get(holder, 0) + 1
    ranked = sorted(by_holder.items(), key=lambda item: -item[1])
    return [f"{count} Hotfix objects held by{holder}" for holder, count in ranked[:TOP]]


def _dump(signum: int, frame: FrameType | None) -> None:
    gc.collect()  # count what is still referenced, not what a collection would free
    copies = _hotfix_copies()
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>")]
    )
    current, peak = tracemalloc.get_traced_memory()
    lines = [f"traced now {current / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB", "", "by file:"]
    lines += [str(stat) for stat in snapshot.statistics("filename")[:TOP]]
    lines += ["", "by line:"]
    lines += [str(stat) for stat in snapshot.statistics("lineno")[:TOP]]
    lines += ["", "whole Hotfix objects alive:", *copies]
    lines += ["", "largest by traceback:"]
    for stat in snapshot.statistics("traceback")[:8]:
        lines.append(f"{stat.size / 2**20:.1f} MiB in {stat.count} blocks")
        lines += [f"    {line}" for line in stat.traceback.format()[-2 * FRAMES :]]
    out = os.environ["HOTFIX_TRACEMALLOC_OUT"]
    with open(f"{out}.partial", "w") as partial:
        partial.write("\n".join(lines) + "\n")
    os.replace(f"{out}.partial", out)  # whoever waits for the report never reads half of it


if os.environ.get("HOTFIX_TRACEMALLOC_OUT"):
    signal.signal(signal.SIGUSR2, _start)
    signal.signal(signal.SIGUSR1, _dump)
