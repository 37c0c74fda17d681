"""render_many / Batch on the emulator: throttling storms, failures, cancellation."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import pytest

from aioremotion import RemotionLambda, ThrottleRetry
from aioremotion.emulator import EmulatorConfig, RemotionEmulator
from aioremotion.fanout import Batch, BatchFailed, Job, Started, StartPacer, render_many

from ..faults.helpers import client_side_tasks
from .test_watch import FAST

HELLO = {"composition": "HelloWorld", "codec": "h264"}


def jobs(emulator: RemotionEmulator, count: int, **extra: Any) -> list[Job]:
    return [Job({"serve_url": emulator.serve_url, **HELLO,
                 "input_props": {"title": f"#{i}"}, **extra}, key=f"job-{i}")
            for i in range(count)]


async def no_wait(seconds: float) -> None:
    await anyio.lowlevel.checkpoint()


async def test_throttling_storm_during_a_200_render_batch() -> None:
    config = EmulatorConfig(progress_write_interval_s=0.05, account_concurrency=40,
                            frame_cost_ms=0.2)
    async with RemotionEmulator(config=config) as emulator:
        emulator.faults.throttle_next(60, routines={"start"})
        async with emulator.client(throttle_retry=ThrottleRetry(attempts=50, base_s=0.01,
                                                                cap_s=0.2)) as remotion:
            with anyio.fail_after(240):
                results = await render_many(remotion, jobs(emulator, 200), max_in_flight=60,
                                            max_concurrent_starts=20, watch_options=FAST)
        assert emulator.functions is not None
        started = emulator.functions.renders_started
        throttled = emulator.functions.throttled
    assert [r.index for r in results] == list(range(200))
    assert [r.key for r in results] == [f"job-{i}" for i in range(200)]
    assert {r.status for r in results} == {"done"}, [r.error for r in results if not r.ok]
    assert started == 200  # nothing started twice
    assert len({r.render.render_id for r in results if r.render}) == 200
    assert throttled >= 60


async def test_one_failure_among_successes_is_collected(emulator: RemotionEmulator) -> None:
    emulator.faults.fail_chunk(0, retryable=False)
    async with emulator.client() as remotion:
        results = await render_many(remotion, jobs(emulator, 6), max_concurrent_starts=1,
                                    watch_options=FAST)
    statuses = [r.status for r in results]
    assert statuses.count("failed") == 1
    assert statuses.count("done") == 5
    failed = next(r for r in results if r.status == "failed")
    assert failed.render is not None  # a started render is never forgotten


async def test_fail_fast_cancels_the_rest(emulator: RemotionEmulator) -> None:
    emulator.faults.fail_chunk(0, retryable=False)
    emulator.faults.slow_renders(200)
    async with emulator.client() as remotion:
        with pytest.raises(BatchFailed) as info:
            await render_many(remotion, jobs(emulator, 5, enable_cancellation=True),
                              fail_fast=True, max_concurrent_starts=1,
                              cancel_remote_on_exit=True, watch_options=FAST)
    results = info.value.results
    assert info.value.first.status == "failed"
    assert len(results) == 5
    unfinished = [r for r in results if r.render is not None and r.outcome is None]
    assert all(r.remote_cancelled for r in unfinished)


async def test_cancelling_mid_batch_stops_everything_and_cancels_remotely_once(
    emulator: RemotionEmulator,
) -> None:
    emulator.faults.slow_renders(400)  # renders take ~ seconds: still running when cancelled
    cancels: list[str] = []
    async with emulator.client() as remotion:
        original = remotion.cancel

        async def counting_cancel(render: Any, **kwargs: Any) -> None:
            cancels.append(render.render_id)
            await original(render, **kwargs)

        remotion.cancel = counting_cancel  # type: ignore[method-assign]
        started: list[str] = []
        with anyio.fail_after(60), pytest.raises(_Stop):
            async with Batch(remotion, cancel_remote_on_exit=True, watch_options=FAST) as batch:
                for job in jobs(emulator, 8, enable_cancellation=True):
                    batch.submit(job)
                async for tagged in batch.events():
                    if isinstance(tagged.event, Started):
                        started.append(tagged.event.render.render_id)
                        if len(started) == 8:
                            raise _Stop
        await anyio.lowlevel.checkpoint()
        leaked = client_side_tasks()
        assert not leaked, leaked
        assert sorted(cancels) == sorted(started)  # exactly once each
        for render_id in started:
            obj = await emulator.s3.head_object(Bucket=emulator.bucket,
                                                Key=f"renders/{render_id}/cancel.json")
            assert obj["ContentLength"] > 0
        await emulator.wait_for_renders()
        for render_id in started:
            progress = await remotion.get_progress(render_id, bucket_name=emulator.bucket)
            assert progress.fatal_error_encountered


class _Stop(Exception):
    pass




def test_start_pacer_halves_on_throttles_and_recovers_slowly() -> None:
    now = [0.0]
    pacer = StartPacer(initial=16, maximum=32, cooldown_s=1.0, clock=lambda: now[0])
    pacer.on_throttle()
    pacer.on_throttle()  # within the cooldown: one cut only
    assert pacer.window == 8
    now[0] = 2.0
    pacer.on_throttle()
    assert pacer.window == 4


async def test_start_pacer_slow_starts_until_the_first_throttle() -> None:
    pacer = StartPacer(initial=2, maximum=64, clock=lambda: 0.0)
    for _ in range(6):  # one per success: 2 -> 8
        async with pacer:
            pass
    assert pacer.window == 8 and pacer.slow_start
    for _ in range(100):
        async with pacer:
            pass
    assert pacer.window == 64  # capped at maximum
    pacer.on_throttle()
    assert pacer.window == 32 and not pacer.slow_start


async def test_start_pacer_grows_additively_after_a_throttle() -> None:
    pacer = StartPacer(initial=4, maximum=4, clock=lambda: 0.0)
    pacer.on_throttle()  # 4 -> 2, congestion avoidance from now on
    for _ in range(4):
        async with pacer:
            pass
    assert 2 < pacer.window < 4


async def test_start_pacer_failed_starts_do_not_grow_the_window() -> None:
    pacer = StartPacer(initial=2, maximum=8)
    with pytest.raises(RuntimeError):
        async with pacer:
            raise RuntimeError("start failed")
    assert pacer.window == 2 and pacer.in_flight == 0


async def test_remotion_lambda_fan_out_events_are_tagged(emulator: RemotionEmulator) -> None:
    async with emulator.client() as remotion, Batch(remotion, watch_options=FAST) as batch:
        for job in jobs(emulator, 3):
            batch.submit(job)
        seen: dict[str, list[str]] = {}
        async for tagged in batch.events():
            seen.setdefault(tagged.key or "", []).append(tagged.event.type)
    assert set(seen) == {"job-0", "job-1", "job-2"}
    for types in seen.values():
        assert types[0] == "started"
        assert types[-1] == "done"
    assert [r.status for r in batch.results] == ["done"] * 3


async def test_batch_requires_async_with() -> None:
    with pytest.raises(RuntimeError):
        Batch(RemotionLambda.__new__(RemotionLambda)).submit({})


async def test_a_batch_retries_starts_that_aws_kept_throttling() -> None:
    """At an account limit the batch sends each throttled start again (one retry layer,
    the batch's), because a throttled start never ran. Nothing is lost and nothing
    starts twice."""
    config = EmulatorConfig(progress_write_interval_s=0.02, account_concurrency=3,
                            frame_cost_ms=1)
    async with RemotionEmulator(config=config) as emulator:
        budget = ThrottleRetry(attempts=40, base_s=0.01, cap_s=0.2)
        async with emulator.client(throttle_retry=budget) as remotion:
            with anyio.fail_after(120):
                results = await render_many(remotion, jobs(emulator, 6),
                                            max_concurrent_starts=6, watch_options=FAST)
        assert emulator.functions is not None
        assert emulator.functions.throttled > 0
        assert emulator.functions.renders_started == 6
    assert [r.status for r in results] == ["done"] * 6


async def test_fail_fast_with_a_consuming_body_raises_batch_failed(
    emulator: RemotionEmulator,
) -> None:
    """The README's pattern: the body awaits ``batch.events()``. The first failure cancels
    the body with the jobs, and the block raises BatchFailed, not a bare cancellation."""
    emulator.faults.fail_chunk(0, retryable=False)
    emulator.faults.slow_renders(200)
    seen: list[str] = []
    async with emulator.client() as remotion:
        with anyio.fail_after(60), pytest.raises(BatchFailed) as info:
            async with Batch(remotion, fail_fast=True, watch_options=FAST) as batch:
                for job in jobs(emulator, 4):
                    batch.submit(job)
                async for tagged in batch.events():
                    seen.append(tagged.event.type)
        # the host task is not left cancelled: it goes on awaiting
        await anyio.lowlevel.checkpoint()
    assert info.value.first.status == "failed"
    assert "started" in seen
    assert len(info.value.results) == 4


async def test_an_outer_cancellation_is_not_turned_into_batch_failed(
    emulator: RemotionEmulator,
) -> None:
    """A cancellation from outside the batch stays a cancellation, fail_fast or not."""
    emulator.faults.slow_renders(400)
    async with emulator.client() as remotion:
        with anyio.move_on_after(0.5) as scope:
            async with Batch(remotion, fail_fast=True, watch_options=FAST) as batch:
                for job in jobs(emulator, 2):
                    batch.submit(job)
                async for _ in batch.events():
                    pass
        assert scope.cancelled_caught
        await emulator.wait_for_renders()
    assert all(r.render is not None for r in batch.results)


async def test_a_batch_closes_its_event_streams(emulator: RemotionEmulator) -> None:
    """No ResourceWarning: the batch's receive stream is closed on exit (it used to be
    left for the garbage collector)."""
    import gc
    import warnings

    async with emulator.client() as remotion:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            results = await render_many(remotion, jobs(emulator, 2), watch_options=FAST)
            async with Batch(remotion, watch_options=FAST) as batch:
                batch.submit(jobs(emulator, 1)[0])
                async for _ in batch.events():
                    break  # leave the events early, too
            del batch
            gc.collect()
    assert [r.status for r in results] == ["done", "done"]
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)], \
        [str(w.message) for w in caught]


async def test_on_started_hands_over_every_render_of_a_cancelled_render_many(
    emulator: RemotionEmulator,
) -> None:
    emulator.faults.slow_renders(400)
    handed: list[str] = []
    async with emulator.client() as remotion:
        with anyio.move_on_after(1.0):
            await render_many(remotion, jobs(emulator, 6), watch_options=FAST,
                              on_started=lambda result: handed.append(
                                  result.render.render_id if result.render else "?"))
        await emulator.wait_for_renders()
        assert emulator.functions is not None
        started = [r.render_id for r in emulator.functions.started_renders]
    assert handed and sorted(handed) == sorted(started)
