"""Giving freed memory back to the system.

A thousand Hotfixes starting at once, or analysed at the same boundary, decode and build a burst of JSON
objects that are freed a moment later; glibc keeps the freed heap (and one arena per thread that touched
it) for reuse, so the resident size stays at the burst's peak for good. Two standard glibc settings keep
it near what is live: at most two malloc arenas (the adapters run in a small thread pool), and a periodic
``malloc_trim`` after a garbage collection. Without glibc (musl, macOS) both are skipped.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import gc
import logging

# mallopt's parameter number for the arena limit (glibc's malloc.h).
GLIBC = "libc.so.6"
M_ARENA_MAX = -8
ARENAS = 2
TRIM_EVERY_SECONDS = 30.0
YOUNG_COLLECTION_ALLOCATIONS = 10_000
log = logging.getLogger("hotfix_operator")


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    try:
        # glibc's soname, loaded directly: ctypes.util.find_library runs ldconfig, slow at start-up.
        libc = ctypes.CDLL(GLIBC)
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def limit_arenas() -> bool:
    """At most ``ARENAS`` malloc arenas; call before the thread pool starts. True when applied."""
    libc = _glibc()
    return libc is not None and bool(libc.mallopt(M_ARENA_MAX, ARENAS))


def pause_collections_until_frozen() -> None:
    """No garbage collection until ``freeze_start_up_objects``: the imports alone make some 170,000 objects,
    all alive for good, and the collections they set off walked them again and again (a twentieth of the
    imports' time, on the way to a restart's first reconcile)."""
    gc.disable()


def freeze_start_up_objects() -> None:
    """Exempt everything alive after start-up (the modules, the configuration) from garbage collection, and
    collect again from here on (if ``pause_collections_until_frozen`` paused it).

    A full collection walks every tracked object; the imported libraries alone are some 170,000 of them, and
    the first seconds amid 1,000 Hotfixes (the initial list decoded, every object met) run several full
    collections: most of a second, at a restart, went to walking objects that live as long as the process.
    One full collection first (0.08 s): the start-up's own garbage cycles (some 2,000 objects after the
    imports, with collections paused) would otherwise be frozen with the rest, for good.
    """
    gc.collect()
    gc.freeze()
    # Collections of the youngest objects every 10,000 allocations rather than 700: a decoded list of Hotfixes
    # is tens of thousands of containers and no cycle. Cycles still go within a minute: trim() collects fully.
    gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS, *gc.get_threshold()[1:])
    gc.enable()


def trim() -> bool:
    """Collect garbage, then hand the heap's free pages back to the system. True when glibc did."""
    gc.collect()
    libc = _glibc()
    return libc is not None and bool(libc.malloc_trim(0))


async def trim_periodically(every: float = TRIM_EVERY_SECONDS) -> None:
    if _glibc() is None:
        log.info("not glibc: freed memory stays with the process")
        return
    while True:
        await asyncio.sleep(every)
        await asyncio.to_thread(trim)
