"""How many Hotfix steps do their work at once, and which goes next.

A step holds its Hotfix parsed (status, spec, the status it writes): about 30 KB. Thousands of Hotfixes share
an analysis boundary and wake together; unbounded, every one of them would be alive at once while the status
writes queue on the thread pool, and the process would keep that peak as its resident size. A step waiting
for an analysis gives its slot up meanwhile, so no step can hold up another for an interval.

Routine steps (an analysed Hotfix recording an analysis that found no breach: the bulk of every boundary) go
after prompt ones (a new Hotfix, a rollout or an undo in flight, a breach, a person's request): at a restart
amid 1,000 Hotfixes the new one's first step waited behind a thousand routine ones. Once a routine step has
waited ``ROUTINE_WAIT_LIMIT_SECONDS``, the two queues are served in order of arrival, so that no Hotfix starves
another and no prompt step waits longer than it would in one queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable

ROUTINE_WAIT_LIMIT_SECONDS = 5.0


class StepSlots:
    def __init__(
        self,
        size: int,
        routine_wait_limit: float = ROUTINE_WAIT_LIMIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._free = size
        self._routine_wait_limit = routine_wait_limit
        self._clock = clock
        # Each waiter with the moment it began waiting.
        self._prompt: deque[tuple[float, asyncio.Future[None]]] = deque()
        self._routine: deque[tuple[float, asyncio.Future[None]]] = deque()

    async def acquire(self, routine: bool) -> None:
        if self._free > 0 and not self._prompt and not self._routine:
            self._free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._routine if routine else self._prompt).append((self._clock(), waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed the slot, cancelled before it could use it: pass it on
            raise

    def release(self) -> None:
        """Hand the slot to the next waiter, or keep it free."""
        while (waiter := self._next_waiter()) is not None:
            # A waiter cancelled a moment ago is still queued until its task runs again: skip it.
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1

    def _next_waiter(self) -> asyncio.Future[None] | None:
        if not self._routine:
            return self._prompt.popleft()[1] if self._prompt else None
        if not self._prompt:
            return self._routine.popleft()[1]
        prompt_since, routine_since = self._prompt[0][0], self._routine[0][0]
        routine_overdue = self._clock() - routine_since >= self._routine_wait_limit
        if routine_overdue and routine_since < prompt_since:
            return self._routine.popleft()[1]
        return self._prompt.popleft()[1]

    @contextlib.asynccontextmanager
    async def slot(self, routine: bool = False) -> AsyncIterator[Slot]:
        slot = Slot(self, routine)
        await slot.take()
        try:
            yield slot
        finally:
            slot.give()


class Slot:
    """One step's share of the bound; given up at most once, whatever cancels the step and when."""

    def __init__(self, slots: StepSlots, routine: bool) -> None:
        self._slots = slots
        self._routine = routine
        self._held = False

    async def take(self) -> None:
        await self._slots.acquire(self._routine)
        self._held = True

    def give(self) -> None:
        if self._held:
            self._held = False
            self._slots.release()

    @contextlib.asynccontextmanager
    async def given_up(self) -> AsyncIterator[None]:
        """Without the slot for the duration (an analysis wait), taken back afterwards."""
        self.give()
        try:
            yield
        finally:
            await self.take()
