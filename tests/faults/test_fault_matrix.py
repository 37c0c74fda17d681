"""The fault matrix (docs/FAULTS.md): one test per fault.

Every case runs on the emulator, with the client reaching S3 and the Lambda API through
fault-injecting proxies, and checks the same three things:

* it ends in exactly one terminal event (``Done``/``Failed``) or one typed error;
* it leaves nothing behind: no task running client code, no connection still in use;
* the client stays usable: the next S3 read and Lambda invoke succeed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import pytest

from aioremotion import RemotionLambda, ThrottleRetry
from aioremotion.emulator import RemotionEmulator
from aioremotion.errors import (
    ConcurrencyLimitError,
    RequestNotSentError,
    StartOutcomeUnknownError,
)
from aioremotion.events import Done, Failed, Progress
from aioremotion.fanout import Batch, render_many
from aioremotion.handles import RenderHandle
from aioremotion.schedule import PollPolicy
from aioremotion.testing import FaultyProxy
from aioremotion.watching import WatchOptions, watch

from .helpers import client_side_tasks, connections_in_use

FAST = WatchOptions(policy=PollPolicy(first_delay_s=0.01, floor_s=0.01, base_s=0.02,
                                      cap_s=0.1, near_finish_s=0.01))
HELLO = {"composition": "HelloWorld", "codec": "h264"}
AHEAD_MS = 10 * 60 * 1000  # a client clock 10 minutes ahead: past any function timeout


@dataclass
class Case:
    remotion: RemotionLambda
    s3: FaultyProxy
    aws_lambda: FaultyProxy
    emulator: RemotionEmulator

    async def start(self, **options: Any) -> RenderHandle:
        return await self.remotion.render_media(serve_url=self.emulator.serve_url,
                                                **{**HELLO, **options})

    async def events(self, handle: RenderHandle,
                     options: WatchOptions = FAST) -> list[Progress | Done | Failed]:
        with anyio.fail_after(60):
            return [event async for event in watch(self.remotion, handle, options)]


@asynccontextmanager
async def case(emulator: RemotionEmulator, *, clock: Callable[[], float] | None = None,
               **client_options: Any) -> AsyncIterator[Case]:
    """A client behind two fault proxies; on exit, the three checks of every case."""
    async with FaultyProxy(emulator.s3_endpoint) as s3, \
            FaultyProxy(emulator.lambda_endpoint) as aws_lambda:
        options: dict[str, Any] = {"s3_max_attempts": 1, **client_options}
        if clock is not None:
            options["wall_clock_ms"] = clock
        async with emulator.client(endpoint_urls={"lambda": aws_lambda.endpoint_url,
                                                  "s3": s3.endpoint_url},
                                   **options) as remotion:
            current = Case(remotion, s3, aws_lambda, emulator)
            yield current
            s3.clear_faults()
            aws_lambda.clear_faults()
            await anyio.lowlevel.checkpoint()
            assert not client_side_tasks(), client_side_tasks()
            assert connections_in_use(remotion) == 0
            # still usable: an S3 read and a Lambda invoke
            with anyio.fail_after(30):
                assert await remotion.function_version()
                await remotion.transport.list_objects(emulator.bucket, "sites/")


def one_terminal(events: list[Progress | Done | Failed]) -> Done | Failed:
    terminal = [e for e in events if isinstance(e, (Done, Failed))]
    assert len(terminal) == 1, terminal
    assert events[-1] is terminal[0]
    return terminal[0]


# ---------------------------------------------------------------- starting


async def test_start_throttled_is_retried_and_starts_once(emulator: RemotionEmulator) -> None:
    emulator.faults.throttle_next(2, routines={"start"})
    async with case(emulator) as c:
        handle = await c.start()
        assert isinstance(one_terminal(await c.events(handle)), Done)
        assert c.aws_lambda.count(method="POST", status=429) == 2
    assert emulator.functions is not None and emulator.functions.renders_started == 1


async def test_start_throttled_for_good_is_a_typed_error(emulator: RemotionEmulator) -> None:
    emulator.faults.throttle_next(50, routines={"start"})
    budget = ThrottleRetry(attempts=6, base_s=0.01, cap_s=0.05)
    async with case(emulator, throttle_retry=budget) as c:
        with pytest.raises(ConcurrencyLimitError, match="nothing was started"):
            await c.start()
        assert c.aws_lambda.count(method="POST", status=429) == 6  # one retry layer
        emulator.faults.throttles = 0
    assert emulator.functions is not None and emulator.functions.renders_started == 0


async def test_start_read_timeout_is_not_retried_and_says_what_is_known(
    emulator: RemotionEmulator,
) -> None:
    async with case(emulator, lambda_read_timeout_s=0.3) as c:
        c.aws_lambda.delay(2.0, match="/invocations")  # forwarded at once: it does start
        with pytest.raises(StartOutcomeUnknownError) as info:
            await c.start()
        assert c.aws_lambda.count(method="POST", match="/invocations") == 1
        error = info.value  # what is known: which function, which call, which bucket
        assert error.function_name == c.remotion.function_name
        assert error.payload_type == "start"
        assert error.bucket_name is None  # none was forced: the function picks its own
        assert "not retried" in str(error) and "progress.json" in str(error)
        await emulator.wait_for_renders()
    assert emulator.functions is not None and emulator.functions.renders_started == 1


START = b'"type":"start"'


async def test_start_reset_after_it_was_sent_is_an_unknown_outcome(
    emulator: RemotionEmulator,
) -> None:
    """The request reached the function, then the connection was reset (TCP RST):
    aiobotocore reports it as it reports a refused connection, but it proves nothing."""
    async with case(emulator) as c:
        c.aws_lambda.reset_after_forward(body_match=START)
        with pytest.raises(StartOutcomeUnknownError) as info:
            await c.start()
        assert "nothing was started" not in str(info.value)
        assert "not retried" in str(info.value)
        assert c.aws_lambda.count(method="POST", match="/invocations") == 1
        await emulator.wait_for_renders()
    assert emulator.functions is not None and emulator.functions.renders_started == 1


async def test_start_that_cannot_connect_was_never_sent(emulator: RemotionEmulator) -> None:
    """Only a failure to connect proves that nothing was sent."""
    async with FaultyProxy(emulator.lambda_endpoint) as closed:
        endpoint = closed.endpoint_url  # a port nobody listens on once closed
    async with emulator.client(endpoint_urls={"lambda": endpoint,
                                              "s3": emulator.s3_endpoint}) as remotion:
        with pytest.raises(RequestNotSentError, match="never sent, so nothing was started"):
            await remotion.render_media(serve_url=emulator.serve_url, **HELLO)
    assert emulator.functions is not None and emulator.functions.renders_started == 0


@pytest.mark.parametrize("api", ["Batch", "render_many"])
async def test_a_batch_finds_the_render_of_a_start_reset_after_sending(
    emulator: RemotionEmulator, api: str,
) -> None:
    """The batch looks for the render by the tag its start carried, and watches it:
    nothing forgotten, nothing started twice."""
    async with case(emulator) as c:
        c.aws_lambda.reset_after_forward(times=2, body_match=START)
        jobs = [{"serve_url": emulator.serve_url, **HELLO, "input_props": {"n": i}}
                for i in range(3)]
        with anyio.fail_after(60):
            if api == "Batch":
                async with Batch(c.remotion, watch_options=FAST) as batch:
                    for job in jobs:
                        batch.submit(job)
                results = batch.results
            else:
                results = await render_many(c.remotion, jobs, watch_options=FAST)
        assert [r.status for r in results] == ["done"] * 3, [r.error for r in results]
        assert c.aws_lambda.count(fault="reset-after-forward") == 2
    assert emulator.functions is not None
    started = emulator.functions.started_renders
    assert len(started) == 3
    assert sorted(r.render_id for r in started) == sorted(
        r.render.render_id for r in results if r.render is not None)
    assert sorted(r.metadata["aioremotion-job"] for r in started) == sorted(
        r.tag for r in results if r.tag is not None)


async def test_a_lost_start_whose_render_never_shows_up_is_unknown_never_resent(
    emulator: RemotionEmulator,
) -> None:
    """The start was throttled (it never ran) but the 429 was lost on the way back: the
    batch cannot tell, searches for the tag until start_shield_s, then reports the job
    as an unknown outcome, with its tag, and does not send it again."""
    emulator.faults.throttle_next(1, routines={"start"})
    async with case(emulator) as c:
        c.aws_lambda.reset_after_forward(body_match=START)
        async with Batch(c.remotion, watch_options=FAST, start_shield_s=1.0) as batch:
            batch.submit({"serve_url": emulator.serve_url, **HELLO})
        [result] = batch.results
        assert result.status == "error" and result.start_outcome_unknown
        assert isinstance(result.error, StartOutcomeUnknownError)
        assert result.tag and result.render is None
        assert c.aws_lambda.count(method="POST", match="/invocations") == 1
    assert emulator.functions is not None and emulator.functions.renders_started == 0


async def test_cancellation_mid_start(emulator: RemotionEmulator) -> None:
    async with case(emulator) as c:
        c.aws_lambda.delay(1.0, match="/invocations")
        with anyio.move_on_after(0.3) as scope:
            await c.start()
        assert scope.cancelled_caught
        await emulator.wait_for_renders()


async def test_cancellation_mid_start_in_a_batch_keeps_the_render(
    emulator: RemotionEmulator,
) -> None:
    """The batch waits for the start it had sent, so the render is recorded, not lost."""
    async with case(emulator) as c:
        c.aws_lambda.delay(1.0, match="/invocations")
        with anyio.move_on_after(0.3) as scope:
            async with Batch(c.remotion, watch_options=FAST) as batch:
                batch.submit({"serve_url": emulator.serve_url, **HELLO})
        assert scope.cancelled_caught
        [result] = batch.results
        assert result.render is not None  # the started render is known ...
        assert result.outcome is None  # ... and was not watched to its end
        done = one_terminal(await c.events(result.render))  # so it can be resumed
        assert isinstance(done, Done)
    assert emulator.functions is not None and emulator.functions.renders_started == 1


# ---------------------------------------------------------------- watching: S3 faults


@pytest.mark.parametrize(
    ("arm", "label"),
    [
        (lambda p: p.fail(503, "SlowDown", times=6, method="GET", match="progress.json"),
         "503 SlowDown"),
        (lambda p: p.fail(500, "InternalError", times=6, method="GET", match="progress.json"),
         "500 InternalError"),
        (lambda p: p.reset_connection(times=4, match="progress.json"), "connection reset"),
        (lambda p: p.corrupt_body(times=3, match="progress.json"), "malformed progress.json"),
        (lambda p: p.corrupt_body(times=2, match="progress.json", body=b""), "empty body"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
async def test_s3_faults_while_watching_are_survived(
    emulator: RemotionEmulator, arm: Callable[[FaultyProxy], Any], label: str,
) -> None:
    emulator.faults.slow_renders(20)
    async with case(emulator) as c:
        handle = await c.start()
        arm(c.s3)
        events = await c.events(handle)
        assert isinstance(one_terminal(events), Done), label
        assert c.s3.count(match="progress.json", fault=True) >= 1
        values = [e.progress for e in events if isinstance(e, Progress)]
        assert values == sorted(values)


async def test_progress_json_missing_past_the_grace_period(emulator: RemotionEmulator) -> None:
    async with case(emulator) as c:
        handle = await c.start()
        ghost = handle.model_copy(update={"render_id": "ghost12345"})
        options = WatchOptions(policy=FAST.policy, not_found_grace_s=0.2)
        failed = one_terminal(await c.events(ghost, options))
        assert isinstance(failed, Failed)
        assert 'No render with ID "ghost12345"' in failed.message
        await c.events(handle)


async def test_lost_progress_writes_still_end_in_done(emulator: RemotionEmulator) -> None:
    emulator.faults.slow_renders(20)
    emulator.faults.drop_progress_writes(4)  # lost uploads; later writes carry the state
    async with case(emulator) as c:
        handle = await c.start()
        assert isinstance(one_terminal(await c.events(handle)), Done)


# ---------------------------------------------------------------- watching: render faults


async def test_fatal_render_error_surfaces_its_explanation(emulator: RemotionEmulator) -> None:
    emulator.faults.fail_chunk(0, retryable=False,
                               message="Protocol error: Target closed. Session closed")
    async with case(emulator) as c:
        failed = one_terminal(await c.events(await c.start()))
        assert isinstance(failed, Failed)
        assert "Target closed" in failed.message
        assert failed.explanation is not None and "browser crashed" in failed.explanation


async def test_launch_crashing_before_metadata_is_a_timeout(emulator: RemotionEmulator) -> None:
    emulator.faults.crash_launch_before_metadata()
    async with case(emulator, clock=lambda: time.time() * 1000 + AHEAD_MS) as c:
        failed = one_terminal(await c.events(await c.start()))
        assert isinstance(failed, Failed) and failed.timed_out
        assert "did not report the render's metadata" in failed.message


async def _after_metadata(c: Case, handle: RenderHandle) -> None:
    with anyio.fail_after(30):
        while (await c.remotion.get_progress(handle)).render_metadata is None:
            await anyio.sleep(0.01)


async def test_chunk_timeout_names_the_missing_chunks(emulator: RemotionEmulator) -> None:
    emulator.faults.stall_launch()
    async with case(emulator, clock=lambda: time.time() * 1000 + AHEAD_MS) as c:
        handle = await c.start()
        await _after_metadata(c, handle)
        failed = one_terminal(await c.events(handle))
        assert isinstance(failed, Failed)
        assert failed.message.startswith("The main function timed out after 120000ms.")
        assert "The following chunks are missing" in failed.message


async def test_stitch_timeout_says_the_chunks_were_rendered(emulator: RemotionEmulator) -> None:
    emulator.faults.stall_launch(after_chunks=True)
    async with case(emulator, clock=lambda: time.time() * 1000 + AHEAD_MS) as c:
        handle = await c.start()
        with anyio.fail_after(30):  # until every chunk is reported rendered
            while True:
                progress = await c.remotion.get_progress(handle)
                meta = progress.render_metadata
                if meta is not None and progress.chunks >= (meta.total_chunks or 1):
                    break
                await anyio.sleep(0.01)
        failed = one_terminal(await c.events(handle))
        assert isinstance(failed, Failed)
        assert "All chunks have been successfully rendered" in failed.message


# ---------------------------------------------------------------- cancellation


async def test_cancellation_mid_watch_then_resume(emulator: RemotionEmulator) -> None:
    emulator.faults.slow_renders(20)
    async with case(emulator) as c:
        handle = await c.start()
        seen: list[Progress | Done | Failed] = []
        with anyio.move_on_after(30) as scope:
            async for event in watch(c.remotion, handle, FAST):
                seen.append(event)
                if isinstance(event, Progress):
                    scope.cancel()  # the consumer goes away mid-watch
        assert seen and not any(isinstance(e, (Done, Failed)) for e in seen)
        await anyio.lowlevel.checkpoint()
        assert not client_side_tasks()
        # watching is passive: the render went on, and a new watch ends it exactly once
        assert isinstance(one_terminal(await c.events(handle)), Done)
