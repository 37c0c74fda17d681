"""render_and_stream / render_frames_and_stream on the emulator: one call that starts a
render and yields Started, Progress…, Done/Failed; leaving the loop stops reading and
never cancels unless asked."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from aioremotion import RemotionLambda
from aioremotion.emulator import EmulatorConfig, RemotionEmulator
from aioremotion.errors import InvalidOptionsError, ObjectNotFoundError
from aioremotion.events import Done, Failed, Progress, Started
from aioremotion.fanout import Started as FanoutStarted
from aioremotion.schedule import PollPolicy
from aioremotion.streaming import RenderStream
from aioremotion.watching import WatchOptions

FAST = WatchOptions(policy=PollPolicy(first_delay_s=0.01, floor_s=0.01, base_s=0.02,
                                      cap_s=0.1, near_finish_s=0.01))
HELLO = {"composition": "HelloWorld", "codec": "h264"}


def reads(remotion: RemotionLambda) -> int:
    """Every S3 read the client made (progress.json GETs and output HEADs)."""
    calls = remotion.transport.calls  # type: ignore[attr-defined]
    return int(calls["GetObject"] + calls["HeadObject"])


async def cancel_requested(emulator: RemotionEmulator, render_id: str) -> bool:
    try:
        await emulator.s3.head_object(Bucket=emulator.bucket,
                                      Key=f"renders/{render_id}/cancel.json")
    except Exception as exc:
        if "404" in str(exc) or "Not Found" in str(exc) or isinstance(exc,
                                                                      ObjectNotFoundError):
            return False
        raise
    return True


def test_one_started_class_for_batches_and_streams() -> None:
    assert FanoutStarted is Started


async def test_events_in_order_started_progress_then_done(emulator: RemotionEmulator) -> None:
    emulator.faults.slow_renders(20)
    async with emulator.client() as remotion:
        with anyio.fail_after(60):
            stream = remotion.render_and_stream(serve_url=emulator.serve_url, **HELLO,
                                                watch_options=FAST)
            events = [event async for event in stream]
    first, *progress, last = events
    assert isinstance(first, Started) and first.type == "started"
    assert first.render == stream.render
    assert first.render_id == stream.render.render_id
    assert first.bucket_name == emulator.bucket
    assert progress and all(isinstance(e, Progress) for e in progress)
    values = [e.progress for e in progress]
    assert values == sorted(values)
    assert isinstance(last, Done) and last.render_id == first.render_id
    assert last.size > 0 and stream.outcome == last
    (start,) = emulator.server.invocations_of("start")
    assert start.payload_json["composition"] == "HelloWorld"


async def test_options_are_checked_at_the_call_before_any_aws_call(
    emulator: RemotionEmulator,
) -> None:
    async with emulator.client() as remotion:
        with pytest.raises(InvalidOptionsError):
            remotion.render_and_stream(serve_url=emulator.serve_url,
                                       composition="HelloWorld", codec="nope")  # type: ignore[typeddict-item]
    assert not emulator.server.invocations


async def test_a_failed_render_ends_in_failed_without_raising(emulator: RemotionEmulator) -> None:
    emulator.faults.fail_chunk(0, retryable=False, message="The composition crashed")
    async with emulator.client() as remotion:
        with anyio.fail_after(60):
            events = [e async for e in remotion.render_and_stream(
                serve_url=emulator.serve_url, **HELLO, watch_options=FAST)]
    assert isinstance(events[0], Started)
    assert isinstance(events[-1], Failed)
    assert "The composition crashed" in events[-1].message


@pytest.mark.parametrize("how", ["break", "aclose", "exception", "cancelled"])
async def test_leaving_the_loop_stops_reading_and_never_cancels(
    emulator: RemotionEmulator, how: str,
) -> None:
    emulator.faults.slow_renders(100)
    async with emulator.client() as remotion:
        stream = remotion.render_and_stream(serve_url=emulator.serve_url, **HELLO,
                                            enable_cancellation=True, watch_options=FAST)
        with anyio.fail_after(60):
            if how == "break":
                async for event in stream:
                    if isinstance(event, Progress):
                        break
            elif how == "aclose":
                async for event in stream:
                    if isinstance(event, Progress):
                        await stream.aclose()
            elif how == "exception":
                with pytest.raises(KeyError):
                    async with stream:
                        async for event in stream:
                            if isinstance(event, Progress):
                                raise KeyError("the caller's loop body failed")
            else:
                with anyio.CancelScope() as scope:
                    async for event in stream:
                        if isinstance(event, Progress):
                            scope.cancel()  # lands inside the stream's next read/sleep
                assert scope.cancelled_caught
            assert stream.render is not None
            before = reads(remotion)
            await emulator.wait_for_renders()   # the render runs to its end meanwhile
        assert reads(remotion) == before, "the stream went on reading after the loop ended"
        assert stream.outcome is None and not stream.cancelled
        assert not await cancel_requested(emulator, stream.render.render_id)
        progress = await remotion.get_progress(stream.render)
        assert progress.done and not progress.fatal_error_encountered
        rest = [e async for e in stream]
        if how == "break":  # a bare break only pauses: iterating again picks up the outcome
            assert [type(e) for e in rest] == [Done]
        else:               # closed (aclose, async with, an error): nothing more
            assert rest == []


async def test_cancel_on_exit_cancels_the_render(emulator: RemotionEmulator) -> None:
    emulator.faults.slow_renders(400)
    async with emulator.client() as remotion:
        with anyio.fail_after(60):
            async with remotion.render_and_stream(
                    serve_url=emulator.serve_url, **HELLO, enable_cancellation=True,
                    cancel_on_exit=True, watch_options=FAST) as stream:
                async for event in stream:
                    if isinstance(event, Progress):
                        break
            assert stream.cancelled and stream.cancel_error is None
            assert stream.render is not None
            assert await cancel_requested(emulator, stream.render.render_id)
            await emulator.wait_for_renders()
        progress = await remotion.get_progress(stream.render)
        assert progress.fatal_error_encountered


async def test_cancel_on_exit_leaves_a_finished_render_alone(emulator: RemotionEmulator) -> None:
    async with emulator.client() as remotion:
        with anyio.fail_after(60):
            async with remotion.render_and_stream(
                    serve_url=emulator.serve_url, **HELLO, enable_cancellation=True,
                    cancel_on_exit=True, watch_options=FAST) as stream:
                events = [e async for e in stream]
    assert isinstance(events[-1], Done)
    assert not stream.cancelled
    assert stream.render is not None
    assert not await cancel_requested(emulator, stream.render.render_id)


async def test_a_cancellation_during_the_start_keeps_the_handle(
    emulator: RemotionEmulator,
) -> None:
    """Cancelled while the start call is in flight: the call is shielded, so the render it
    started is known (``stream.render``) instead of running unknown."""
    async with emulator.client() as remotion:
        stream = remotion.render_and_stream(serve_url=emulator.serve_url, **HELLO,
                                            watch_options=FAST)
        got: list[Any] = []
        with anyio.fail_after(60), anyio.CancelScope() as scope:
            scope.cancel()               # already cancelled when the start is sent
            got.append(await stream.__anext__())
            await anyio.sleep(1)         # the cancellation lands at the next checkpoint
        assert scope.cancelled_caught
        assert stream.render is not None
        assert [type(e) for e in got] == [Started] and got[0].render == stream.render
        assert len(emulator.server.invocations_of("start")) == 1
        # the render can be resumed from the kept handle
        with anyio.fail_after(60):
            done = await remotion.wait(stream.render, FAST)
        assert done.render_id == stream.render.render_id
        await stream.aclose()


async def test_image_sequence_variant(remotion_emulator_config: EmulatorConfig) -> None:
    async with RemotionEmulator(remotion_version="4.0.542",
                                config=remotion_emulator_config) as emulator, \
            emulator.client() as remotion:
        with anyio.fail_after(60):
            stream = remotion.render_frames_and_stream(
                serve_url=emulator.serve_url, composition="HelloWorld", image_format="jpeg",
                frame_range=(0, 9), watch_options=FAST)
            assert isinstance(stream, RenderStream)
            events = [e async for e in stream]
            first, last = events[0], events[-1]
            assert isinstance(first, Started)
            assert isinstance(last, Done) and last.output_sequence is not None
            assert first.render.out_key == last.output_sequence.manifest_key
            manifest = await remotion.read_manifest(last)
    assert [frame.frame for frame in manifest.frames] == list(range(10))
    assert last.output_sequence.image_format == "jpeg"


async def test_watch_options_and_hub_are_passed_to_watch(
    emulator: RemotionEmulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``watch_options`` reach watch(); ``hub`` is passed only when given."""
    import aioremotion.streaming as streaming

    seen: list[tuple[Any, dict[str, Any]]] = []
    real_watch = streaming.watch

    def spy(client: Any, render: Any, options: Any = None, **kwargs: Any) -> Any:
        seen.append((options, dict(kwargs)))
        kwargs.pop("hub", None)
        return real_watch(client, render, options, **kwargs)

    monkeypatch.setattr(streaming, "watch", spy)
    hub = object()
    async with emulator.client() as remotion:
        with anyio.fail_after(60):
            [e async for e in remotion.render_and_stream(serve_url=emulator.serve_url,
                                                         **HELLO, watch_options=FAST)]
            [e async for e in remotion.render_and_stream(serve_url=emulator.serve_url,
                                                         **HELLO, watch_options=FAST,
                                                         hub=hub)]
    assert seen == [(FAST, {}), (FAST, {"hub": hub})]
