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


async def _order_of_turns(slots: StepSlots, arrivals: list[tuple[str, bool]], held_for: float = 0.0) -> list[str]:
    """Which of ``arrivals`` (name, routine), all queued behind one busy slot, get it in which order."""
    order: list[str] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with slots.slot():
            await release.wait()

    async def step(name: str, routine: bool) -> None:
        async with slots.slot(routine):
            order.append(name)

    holding = asyncio.create_task(holder())
    await asyncio.sleep(0)
    steps = [asyncio.create_task(step(name, routine)) for name, routine in arrivals]
    await asyncio.sleep(held_for)
    release.set()
    await asyncio.gather(holding, *steps)
    return order


def test_a_prompt_step_goes_before_routine_ones_queued_earlier() -> None:
    """At a restart a thousand routine steps queue first; the new Hotfix's step is not made to wait behind them."""
    arrivals = [("routine-1", True), ("routine-2", True), ("new-hotfix", False), ("routine-3", True)]
    order = asyncio.run(_order_of_turns(StepSlots(1), arrivals))
    assert order == ["new-hotfix", "routine-1", "routine-2", "routine-3"]


def test_a_routine_step_that_waited_too_long_goes_next_all_the_same() -> None:
    """No Hotfix starves another: prompt steps cannot keep a routine one waiting past the limit."""
    arrivals = [("routine", True), ("prompt-1", False), ("prompt-2", False)]
    order = asyncio.run(_order_of_turns(StepSlots(1, routine_wait_limit=0.05), arrivals, held_for=0.1))
    assert order == ["routine", "prompt-1", "prompt-2"]


def test_an_overdue_routine_step_does_not_overtake_a_prompt_one_that_came_before_it() -> None:
    """Once routine steps are overdue the queues go in order of arrival: a prompt step never waits longer than
    it would in a single queue."""
    arrivals = [("routine-1", True), ("prompt", False), ("routine-2", True)]
    order = asyncio.run(_order_of_turns(StepSlots(1, routine_wait_limit=0.05), arrivals, held_for=0.1))
    assert order == ["routine-1", "prompt", "routine-2"]


def test_a_waiter_cancelled_in_the_queue_is_passed_over() -> None:
    async def scenario() -> bool:
        slots, release = StepSlots(1), asyncio.Event()

        async def holder() -> None:
            async with slots.slot():
                await release.wait()

        async def step() -> None:
            async with slots.slot(routine=True):
                pass

        holding = asyncio.create_task(holder())
        await asyncio.sleep(0)
        cancelled = asyncio.create_task(step())
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        release.set()
        await holding
        await asyncio.wait_for(step(), 1)  # the slot is free: no wait on a waiter that is gone
        return True

    assert asyncio.run(scenario())
