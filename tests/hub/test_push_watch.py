"""watch/wait with an outcome hub, on the emulator: finishing on its signed webhooks."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from aioremotion.emulator import RemotionEmulator
from aioremotion.events import Done, Failed, Progress, RenderFailed
from aioremotion.hub import LocalHub
from aioremotion.protocol.naming import speculate_function_name
from aioremotion.schedule import PollPolicy
from aioremotion.testing import FaultyProxy
from aioremotion.watching import WatchOptions, wait, watch

from .conftest import SECRET, webhook_server

HELLO = {"composition": "HelloWorld", "codec": "h264"}
FAST = PollPolicy(first_delay_s=0.01, floor_s=0.01, base_s=0.02, cap_s=0.1,
                  near_finish_s=0.01)


def s3_requests(proxy: FaultyProxy, render_id: str) -> int:
    return proxy.count(match=f"renders/{render_id}/")


async def test_wait_finishes_on_the_webhook_with_at_most_two_s3_requests(
    emulator: RemotionEmulator,
) -> None:
    hub = LocalHub()
    async with webhook_server(hub) as url, FaultyProxy(emulator.s3_endpoint) as proxy, \
            emulator.client(endpoint_urls={"lambda": emulator.lambda_endpoint,
                                           "s3": proxy.endpoint_url}) as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO,
                                             webhook={"url": url, "secret": SECRET})
        # the fast poll policy would read many times; with a hub it only matters after
        # the webhook (and the 60 s safety poll never comes)
        with anyio.fail_after(60):
            done = await wait(remotion, handle, WatchOptions(policy=FAST), hub=hub)
        requests = s3_requests(proxy, handle.render_id)
        # the same render watched by polling ends in the very same Done
        polled = [e async for e in watch(remotion, handle, WatchOptions(policy=FAST))]
    assert isinstance(done, Done) and done.size > 0 and done.url.endswith("/out.mp4")
    assert done == polled[-1]
    assert 1 <= requests <= 2


async def test_watch_with_a_display_still_polls_progress_and_ends_on_the_webhook(
    emulator: RemotionEmulator,
) -> None:
    emulator.faults.slow_renders(5)
    hub = LocalHub()
    async with webhook_server(hub) as url, emulator.client() as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO,
                                             frames_per_lambda=15,
                                             webhook={"url": url, "secret": SECRET})
        seen: list[Progress] = []
        with anyio.fail_after(60):
            done = await wait(remotion, handle, WatchOptions(policy=FAST), hub=hub,
                              on_progress=seen.append)
    assert isinstance(done, Done)
    assert len(seen) >= 2  # progress polled on the policy, for the display
    assert [e.progress for e in seen] == sorted(e.progress for e in seen)


async def test_the_safety_poll_finishes_when_no_webhook_arrives(
    emulator: RemotionEmulator,
) -> None:
    hub = LocalHub()  # never fed: the render has no webhook
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await anyio.sleep(seconds)

    async with emulator.client() as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO)
        options = WatchOptions(policy=FAST, safety_poll_s=0.05)
        with anyio.fail_after(60):
            events = [e async for e in watch(remotion, handle, options, hub=hub,
                                             sleep=sleep)]
    assert isinstance(events[-1], Done)
    # the first sleep is the policy's first_delay_s (before any read); every sleep after a
    # good read is the safety one
    assert slept[0] == FAST.first_delay_s
    assert len(slept) > 1 and min(slept[1:]) >= 0.05


async def test_error_and_timeout_webhooks_give_failed(emulator: RemotionEmulator) -> None:
    hub = LocalHub()
    short = speculate_function_name(version=emulator.remotion_version, memory_mb=2048,
                                    disk_mb=2048, timeout_s=2)
    async with webhook_server(hub) as url:
        emulator.faults.fail_chunk(0, retryable=False, message="the chunk broke")
        async with emulator.client() as remotion:
            failing = await remotion.render_media(serve_url=emulator.serve_url, **HELLO,
                                                  webhook={"url": url, "secret": SECRET})
            with anyio.fail_after(60), pytest.raises(RenderFailed) as info:
                await wait(remotion, failing, hub=hub)
        emulator.faults.stall_launch()
        async with emulator.client(function_name=short) as remotion:
            stalled = await remotion.render_media(serve_url=emulator.serve_url, **HELLO,
                                                  webhook={"url": url, "secret": SECRET})
            with anyio.fail_after(60):
                events = [e async for e in watch(remotion, stalled, hub=hub)]
    failed = info.value.event
    assert "the chunk broke" in failed.message and not failed.timed_out
    assert failed.errors and failed.errors[0].message.endswith("the chunk broke")
    assert hub.kept(failing.render_id) is not None
    last = events[-1]
    assert isinstance(last, Failed) and last.timed_out
    assert hub.kept(stalled.render_id).kind == "timeout"  # type: ignore[union-attr]


async def test_a_late_subscriber_sees_the_kept_outcome(emulator: RemotionEmulator) -> None:
    hub = LocalHub()
    async with webhook_server(hub) as url, FaultyProxy(emulator.s3_endpoint) as proxy, \
            emulator.client(endpoint_urls={"lambda": emulator.lambda_endpoint,
                                           "s3": proxy.endpoint_url}) as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO,
                                             webhook={"url": url, "secret": SECRET})
        await emulator.wait_for_renders()  # the webhook came before anyone watched
        assert hub.kept(handle.render_id) is not None
        with anyio.fail_after(60):
            done = await wait(remotion, handle, hub=hub)
        requests = s3_requests(proxy, handle.render_id)
    assert done.size > 0 and requests <= 2


async def test_a_webhook_for_an_unknown_render_is_kept_then_expires(
    emulator: RemotionEmulator,
) -> None:
    now = [0.0]
    hub = LocalHub(keep_s=600, clock=lambda: now[0])
    async with webhook_server(hub) as url, emulator.client() as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO,
                                             webhook={"url": url, "secret": SECRET})
        await emulator.wait_for_renders()
    kept = hub.kept(handle.render_id)
    assert kept is not None and kept.kind == "success" and hub.waiting == 0
    assert kept.payload["outputUrl"].endswith("/out.mp4")
    now[0] = 600.0
    assert hub.kept(handle.render_id) is None and len(hub) == 0


async def test_a_cancelled_watch_leaves_no_waiter(emulator: RemotionEmulator) -> None:
    hub = LocalHub()
    emulator.faults.stall_launch()
    async with emulator.client() as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO)
        seen: list[Any] = []
        async with anyio.create_task_group() as tg:
            async def consume() -> None:
                async for event in watch(remotion, handle, hub=hub):
                    seen.append(event)

            tg.start_soon(consume)
            await emulator.wait_for_stall(handle.render_id)
            while hub.waiting == 0:   # the watch is now sleeping on the hub
                await anyio.wait_all_tasks_blocked()
            tg.cancel_scope.cancel()
    assert hub.waiting == 0
