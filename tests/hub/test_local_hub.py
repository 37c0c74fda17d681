"""LocalHub: kept outcomes, many waiters on one event, cancellation, expiry and bounds."""

from __future__ import annotations

import anyio
import pytest

from aioremotion.hub import HubClosedError, LocalHub, OutcomeHub, RenderOutcome


def outcome(render_id: str, kind: str = "success") -> RenderOutcome:
    return RenderOutcome.from_webhook(
        {"type": kind, "renderId": render_id, "bucketName": "remotionlambda-b"},
        received_at=0.0)


async def test_waiters_of_one_render_share_one_slot_and_all_wake() -> None:
    hub = LocalHub()
    assert isinstance(hub, OutcomeHub)
    got: list[RenderOutcome] = []

    async def waiter() -> None:
        got.append(await hub.wait_outcome("r1"))

    async with anyio.create_task_group() as tg:
        for _ in range(1000):
            tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        assert hub.waiting == 1          # one event for 1000 waiters
        await hub.publish(outcome("r1"))
    assert len(got) == 1000 and {o.render_id for o in got} == {"r1"}
    assert hub.waiting == 0


async def test_a_late_subscriber_sees_the_kept_outcome_and_the_first_wins() -> None:
    hub = LocalHub()
    await hub.publish(outcome("r1", "error"))
    await hub.publish(outcome("r1", "success"))  # a retried/other delivery changes nothing
    assert (await hub.wait_outcome("r1")).kind == "error"


async def test_an_unknown_render_is_kept_for_keep_s_then_expires() -> None:
    now = [0.0]
    hub = LocalHub(keep_s=600, clock=lambda: now[0])
    await hub.publish(outcome("nobody-waits"))
    now[0] = 599.0
    assert hub.kept("nobody-waits") is not None and len(hub) == 1
    now[0] = 600.0
    assert hub.kept("nobody-waits") is None and len(hub) == 0
    async with anyio.create_task_group() as tg:   # no longer kept: waits for a new one
        tg.start_soon(hub.wait_outcome, "nobody-waits")
        await anyio.wait_all_tasks_blocked()
        assert hub.waiting == 1
        tg.cancel_scope.cancel()
    assert hub.waiting == 0


async def test_max_kept_drops_the_oldest_but_woken_waiters_still_get_theirs() -> None:
    hub = LocalHub(max_kept=2)
    got: list[RenderOutcome] = []

    async def waiter() -> None:
        got.append(await hub.wait_outcome("a"))

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        for render_id in ("a", "b", "c"):    # "a" is dropped before its waiter runs
            await hub.publish(outcome(render_id))
    assert [o.render_id for o in got] == ["a"]
    assert hub.kept("a") is None and hub.kept("b") is not None and len(hub) == 2


async def test_a_cancelled_waiter_leaves_nothing_behind() -> None:
    hub = LocalHub()
    async with anyio.create_task_group() as tg:
        tg.start_soon(hub.wait_outcome, "r1")
        tg.start_soon(hub.wait_outcome, "r1")
        await anyio.wait_all_tasks_blocked()
        assert hub.waiting == 1
        tg.cancel_scope.cancel()
    assert hub.waiting == 0


async def test_close_wakes_waiters_with_an_error() -> None:
    hub = LocalHub()
    errors: list[BaseException] = []

    async def waiter() -> None:
        try:
            await hub.wait_outcome("r1")
        except HubClosedError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        await hub.aclose()
    assert len(errors) == 1
    with pytest.raises(HubClosedError):
        await hub.publish(outcome("r2"))


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="keep_s must be positive"):
        LocalHub(keep_s=0)
