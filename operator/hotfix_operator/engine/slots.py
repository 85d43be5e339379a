"""How many Hotfix steps do their work at once.

A step holds its Hotfix parsed (status, spec, the status it writes): about 30 KB. Thousands of Hotfixes share
an analysis boundary and wake together; unbounded, every one of them would be alive at once while the status
writes queue on the thread pool, and the process would keep that peak as its resident size. A step waiting
for an analysis gives its slot up meanwhile, so no step can hold up another for an interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class Slot:
    """One step's share of the bound; given up at most once, whatever cancels the step and when."""

    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        self._semaphore = semaphore
        self._held = False

    async def take(self) -> None:
        await self._semaphore.acquire()
        self._held = True

    def give(self) -> None:
        if self._held:
            self._held = False
            self._semaphore.release()

    @contextlib.asynccontextmanager
    async def given_up(self) -> AsyncIterator[None]:
        """Without the slot for the duration (an analysis wait), taken back afterwards."""
        self.give()
        try:
            yield
        finally:
            await self.take()


class StepSlots:
    def __init__(self, size: int) -> None:
        self._semaphore = asyncio.Semaphore(size)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        slot = Slot(self._semaphore)
        await slot.take()
        try:
            yield slot
        finally:
            slot.give()
