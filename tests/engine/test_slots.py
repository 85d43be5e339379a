"""The bound on steps at work at once: respected, given up while waiting for an analysis, never inflated."""

from __future__ import annotations

import asyncio

from hotfix_operator.engine.slots import StepSlots


def test_at_most_size_steps_work_at_once() -> None:
    async def scenario() -> int:
        slots, busy, most = StepSlots(3), [0], [0]

        async def step() -> None:
            async with slots.slot():
                busy[0] += 1
                most[0] = max(most[0], busy[0])
                await asyncio.sleep(0.01)
                busy[0] -= 1

        await asyncio.gather(*(step() for _ in range(20)))
        return most[0]

    assert asyncio.run(scenario()) == 3


def test_a_step_waiting_for_its_analysis_lets_the_others_work() -> None:
    async def scenario() -> list[str]:
        slots, analysis, order = StepSlots(1), asyncio.Event(), []

        async def monitoring() -> None:
            async with slots.slot() as slot:
                async with slot.given_up():
                    await analysis.wait()
                order.append("analysed")

        async def undo() -> None:
            async with slots.slot():
                order.append("undone")
                analysis.set()

        await asyncio.wait_for(asyncio.gather(monitoring(), undo()), 2)
        return order

    assert asyncio.run(scenario()) == ["undone", "analysed"]


def test_a_step_cancelled_while_taking_its_slot_back_does_not_widen_the_bound() -> None:
    """A deleted Hotfix's daemon is cancelled wherever it is; the bound must stay what it was."""

    async def scenario() -> int:
        slots, release = StepSlots(1), asyncio.Event()

        async def waiting_for_analysis() -> None:
            async with slots.slot() as slot, slot.given_up():
                await asyncio.sleep(0.01)

        async def holder() -> None:
            async with slots.slot():
                await release.wait()

        holding = asyncio.create_task(holder())
        await asyncio.sleep(0)
        cancelled = asyncio.create_task(waiting_for_analysis())
        await asyncio.sleep(0.05)  # its analysis is done; it now waits to take a slot back
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        release.set()
        await holding
        busy, most = [0], [0]

        async def step() -> None:
            async with slots.slot():
                busy[0] += 1
                most[0] = max(most[0], busy[0])
                await asyncio.sleep(0.01)
                busy[0] -= 1

        await asyncio.gather(*(step() for _ in range(5)))
        return most[0]

    assert asyncio.run(scenario()) == 1
