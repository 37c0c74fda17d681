"""watch / wait / render on the emulator."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import anyio
import pytest

from aioremotion import RemotionLambda
from aioremotion.emulator import EmulatorConfig, RemotionEmulator
from aioremotion.errors import InvalidOptionsError
from aioremotion.events import Done, Failed, Progress, RenderEvent, RenderFailed
from aioremotion.protocol.naming import speculate_function_name
from aioremotion.schedule import PollPolicy
from aioremotion.shortcuts import render
from aioremotion.watching import WatchOptions, wait, watch

FAST = WatchOptions(policy=PollPolicy(first_delay_s=0.01, floor_s=0.01, base_s=0.02,
                                      cap_s=0.1, near_finish_s=0.01))
HELLO = {"composition": "HelloWorld", "codec": "h264"}


async def collect(remotion: RemotionLambda, render_handle: Any,
                  options: WatchOptions = FAST) -> list[Progress | Done | Failed]:
    with anyio.fail_after(60):
        return [event async for event in watch(remotion, render_handle, options)]


async def test_events_are_monotonic_and_end_in_done(emulator: RemotionEmulator) -> None:
    async with emulator.client() as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO,
                                             frames_per_lambda=15)
        events = await collect(remotion, handle)
    *progress, last = events
    assert isinstance(last, Done)
    assert all(isinstance(e, Progress) for e in progress)
    values = [e.progress for e in progress]
    assert values == sorted(values)
    assert len(set(values)) == len(values) or len(values) == len(
        {(e.progress, e.frames_rendered, e.chunks, e.lambdas_invoked) for e in progress})
    dumped = json.loads(last.model_dump_json())
    assert dumped["type"] == "done"
    assert dumped["url"].endswith("/out.mp4")
    assert dumped["size"] > 0
    if progress:
        first = json.loads(progress[0].model_dump_json())
        assert first["type"] == "progress"
        assert 0 <= first["progress"] <= 1
    assert RenderEvent.validate_json(last.model_dump_json()) == last


async def test_a_render_id_and_bucket_name_are_enough(emulator: RemotionEmulator) -> None:
    """Another process knows a render by its id and bucket: the client fills in the rest."""
    async with emulator.client() as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO)
        with anyio.fail_after(60):
            events = [e async for e in watch(remotion, handle.render_id, FAST,
                                             bucket_name=handle.bucket_name)]
            done = await wait(remotion, handle.render_id, FAST, bucket_name=emulator.bucket)
            again = await remotion.wait(handle.render_id, FAST, bucket_name=emulator.bucket)
            method_events = [e async for e in remotion.watch(
                handle.render_id, FAST, bucket_name=emulator.bucket)]
        with pytest.raises(InvalidOptionsError, match="bucket_name"):
            await wait(remotion, handle.render_id, FAST)
    assert isinstance(events[-1], Done) and events[-1].render_id == handle.render_id
    assert done == again == events[-1] == method_events[-1]


async def test_via_lambda_names_the_status_routine(emulator: RemotionEmulator) -> None:
    async with emulator.client() as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO)
        events = await collect(remotion, handle, WatchOptions(policy=FAST.policy, via="lambda"))
    assert isinstance(events[-1], Done)
    assert emulator.server.invocations_of("status")


async def test_progress_floor_like_the_template(emulator: RemotionEmulator) -> None:
    emulator.faults.slow_renders(50)
    async with emulator.client() as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO)
        options = WatchOptions(policy=FAST.policy, progress_floor=0.03)
        events = await collect(remotion, handle, options)
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress
    assert min(e.progress for e in progress) >= 0.03


async def test_wait_returns_done_and_render_is_one_await(emulator: RemotionEmulator) -> None:
    async with emulator.client() as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO)
        done = await wait(remotion, handle, FAST)
        assert done.render_id == handle.render_id
        again = await render(client=remotion, serve_url=emulator.serve_url, **HELLO,
                             watch_options=FAST)
        assert again.url.endswith("out.mp4")
        via_method = await remotion.render(serve_url=emulator.serve_url, **HELLO,
                                           watch_options=FAST)
        assert via_method.size > 0


async def test_fatal_error_carries_the_explanation(emulator: RemotionEmulator) -> None:
    emulator.faults.fail_chunk(0, retryable=False,
                               message="Protocol error: Target closed. Session closed")
    async with emulator.client() as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO)
        with pytest.raises(RenderFailed) as info:
            await wait(remotion, handle, FAST)
    failed = info.value.event
    assert "Target closed" in failed.message
    assert failed.explanation is not None
    assert "browser crashed" in failed.explanation
    assert json.loads(failed.model_dump_json())["type"] == "error"


async def test_missing_progress_json_fails_after_the_grace_period(
    emulator: RemotionEmulator,
) -> None:
    async with emulator.client() as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO)
        ghost = handle.model_copy(update={"render_id": "ghost12345"})
        options = WatchOptions(policy=FAST.policy, not_found_grace_s=0.2)
        events = await collect(remotion, ghost, options)
    assert len(events) == 1
    assert isinstance(events[0], Failed)
    assert 'No render with ID "ghost12345"' in events[0].message


async def test_launch_that_dies_before_metadata_is_a_timeout(
    emulator: RemotionEmulator,
) -> None:
    emulator.faults.crash_launch_before_metadata()
    ahead = 10 * 60 * 1000  # the client's clock runs 10 minutes ahead: past any timeout
    async with emulator.client(wall_clock_ms=lambda: time.time() * 1000 + ahead) as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO)
        with anyio.fail_after(30):
            await emulator.wait_for_stall(handle.render_id)
        events = await collect(remotion, handle)
    assert isinstance(events[-1], Failed)
    assert events[-1].timed_out
    assert "did not report the render's metadata" in events[-1].message


async def test_stitch_timeout_is_reported(emulator: RemotionEmulator) -> None:
    emulator.faults.stall_launch()
    ahead = 10 * 60 * 1000
    async with emulator.client(wall_clock_ms=lambda: time.time() * 1000 + ahead) as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO)
        with anyio.fail_after(30):
            while (await remotion.get_progress(handle)).render_metadata is None:
                await anyio.sleep(0.01)
        events = await collect(remotion, handle)
    assert isinstance(events[-1], Failed)
    assert events[-1].message.startswith("The main function timed out after 120000ms.")


async def test_heartbeat_resends_the_last_progress(emulator: RemotionEmulator) -> None:
    emulator.faults.stall_launch()
    async with emulator.client() as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO)
        options = WatchOptions(policy=FAST.policy, heartbeat_s=0.05)
        beats = 0
        with anyio.fail_after(30):
            async for event in watch(remotion, handle, options):
                if isinstance(event, Progress) and event.heartbeat:
                    beats += 1
                    if beats == 3:
                        break
    assert beats == 3


async def test_watch_uses_conditional_gets(emulator: RemotionEmulator) -> None:
    """While nothing changes, a poll is a 304 without a body."""
    emulator.faults.stall_launch()
    async with emulator.client() as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO)
        first = await remotion.progress_reader.read(handle)
        with anyio.fail_after(10):
            while True:
                again = await remotion.progress_reader.read(handle, if_none_match=first.etag)
                if again.not_modified:
                    break
                first = again
                await anyio.sleep(0.01)


SECOND_PROCESS = """
import asyncio, json, sys
from aioremotion import RemotionLambda, RenderHandle
from aioremotion.watching import wait

async def main():
    handle = RenderHandle.model_validate_json(sys.argv[1])
    async with RemotionLambda() as remotion:
        done = await wait(remotion, handle)
    print(done.model_dump_json())

asyncio.run(main())
"""


async def test_a_second_process_resumes_from_a_serialised_handle(
    emulator: RemotionEmulator,
) -> None:
    emulator.faults.slow_renders(20)
    async with emulator.client() as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO)
    env = {**os.environ, **emulator.env}
    for name in ("AWS_PROFILE", "REMOTION_AWS_ACCESS_KEY_ID", "REMOTION_AWS_SECRET_ACCESS_KEY"):
        env.pop(name, None)
    done = await anyio.run_process(
        [sys.executable, "-c", SECOND_PROCESS, handle.model_dump_json()], env=env,
        check=False)
    assert done.returncode == 0, done.stderr.decode()
    event = RenderEvent.validate_json(done.stdout.decode().strip().splitlines()[-1])
    assert isinstance(event, Done)
    assert event.render_id == handle.render_id


async def test_status_lambda_source(emulator: RemotionEmulator) -> None:
    async with emulator.client() as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO)
        events = await collect(remotion, handle, WatchOptions(policy=FAST.policy,
                                                              source="lambda"))
    assert isinstance(events[-1], Done)
    assert emulator.server.invocations_of("status")


def test_function_timeout_comes_from_the_handle() -> None:
    from aioremotion.handles import RenderHandle

    name = speculate_function_name(version="4.0.527", memory_mb=2048, disk_mb=2048,
                                   timeout_s=300)
    handle = RenderHandle(render_id="abcdefghij", bucket_name="b-b-b", region="us-east-1",
                          function_name=name)
    assert handle.timeout_ms == 300_000


async def test_s3_errors_and_garbage_mid_watch_are_survived(emulator: RemotionEmulator) -> None:
    from aioremotion.testing import FaultyProxy

    emulator.faults.slow_renders(20)
    async with FaultyProxy(emulator.s3_endpoint) as proxy:
        async with emulator.client(endpoint_urls={"lambda": emulator.lambda_endpoint,
                                                  "s3": proxy.endpoint_url},
                                   s3_max_attempts=1) as remotion:
            handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO)
            # every failure reaches the watcher (botocore's own retries are off here)
            proxy.fail(status=503, code="SlowDown", times=7, method="GET",
                       match="progress.json")
            proxy.fail(status=500, code="InternalError", times=4, method="GET",
                       match="progress.json")
            proxy.reset_connection(times=4, match="progress.json")
            proxy.corrupt_body(times=2, match="progress.json")
            events = await collect(remotion, handle)
        faulted = proxy.count(match="progress.json", fault=True)
    assert isinstance(events[-1], Done)
    assert faulted >= 7 + 4 + 4 + 1
    values = [e.progress for e in events if isinstance(e, Progress)]
    assert values == sorted(values)


async def test_persistent_errors_end_in_a_watch_error(emulator: RemotionEmulator) -> None:
    from aioremotion.testing import FaultyProxy
    from aioremotion.watching import WatchError

    emulator.faults.stall_launch()
    async with FaultyProxy(emulator.s3_endpoint) as proxy:
        async with emulator.client(endpoint_urls={"lambda": emulator.lambda_endpoint,
                                                  "s3": proxy.endpoint_url},
                                   s3_max_attempts=1) as remotion:
            handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO)
            proxy.fail(status=503, code="SlowDown", times=10_000, match="progress.json")
            options = WatchOptions(policy=FAST.policy, max_consecutive_errors=3)
            with pytest.raises(WatchError, match="3 consecutive errors") as info:
                await collect(remotion, handle, options)
    assert info.value.render == handle  # the handle to resume with is kept


def test_top_level_names_are_the_functions_not_modules() -> None:
    import aioremotion
    from aioremotion import WatchOptions, render, wait, watch

    assert callable(watch) and callable(wait) and callable(render)
    assert WatchOptions is aioremotion.WatchOptions
    assert aioremotion.watch is watch


async def test_a_long_render_costs_a_few_reads_in_simulated_time() -> None:
    """A 60 s render (the emulator and the watcher both run 20x faster) is watched with
    far fewer reads than a once-a-second loop would make, and ends in one Done."""
    speed = 20.0
    config = EmulatorConfig(speed=speed, frame_cost_ms=300, invoke_latency_ms=800,
                            combine_cost_ms=3000, progress_write_interval_s=0.25 / speed)
    reads = 0

    def clock() -> float:
        return time.monotonic() * speed

    async def nap(seconds: float) -> None:
        await anyio.sleep(seconds / speed)

    async with RemotionEmulator(config=config) as emulator, emulator.client() as remotion:
        reader = remotion.progress_reader
        original = reader.read

        async def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal reads
            reads += 1
            return await original(*args, **kwargs)

        reader.read = counted  # type: ignore[method-assign]
        # 4 chunks of 185 frames at 300 ms: about 60 s of Lambda time
        handle = await remotion.render_media(serve_url=emulator.serve_url, frames_per_lambda=185,
                                             force_duration_in_frames=740, **HELLO)
        started = clock()
        with anyio.fail_after(60):
            events = [e async for e in watch(remotion, handle,
                                             WatchOptions(policy=PollPolicy.cheap()),
                                             clock=clock, sleep=nap)]
        simulated = clock() - started
    assert [e.type for e in events].count("done") == 1 and events[-1].type == "done"
    assert simulated > 55  # it really was a minute-long render
    print(f"{reads} reads over {simulated:.0f} simulated seconds")
    assert reads <= 20, reads  # a 1 s loop: about 60
