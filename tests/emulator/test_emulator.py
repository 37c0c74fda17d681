"""The emulator behind the real AWS APIs, driven by aioremotion."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import threading
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web

from aioremotion import RemotionLambda, RenderHandle, RenderProgress, VersionMismatchError
from aioremotion.emulator import Composition, EmulatorConfig, RemotionEmulator
from aioremotion.errors import ConcurrencyLimitError, RemotionError, TransientError
from aioremotion.protocol.naming import speculate_function_name


async def poll_until_done(remotion: RemotionLambda, render: RenderHandle,
                          *, limit_s: float = 30) -> list[RenderProgress]:
    """Poll progress until done or failed; returns every progress seen."""
    seen: list[RenderProgress] = []
    with anyio.fail_after(limit_s):
        while True:
            try:
                progress = await remotion.get_progress(render)
            except TransientError:  # moto can answer 500 to a read racing a write
                await anyio.sleep(0.01)
                continue
            seen.append(progress)
            if progress.done or progress.fatal_error_encountered:
                return seen
            await anyio.sleep(0.01)


async def test_render_ends_in_a_downloadable_output_with_monotonic_progress(
    emulator: RemotionEmulator,
) -> None:
    async with emulator.client() as remotion:
        render = await remotion.render_media(serve_url=emulator.serve_url,
                                             composition="HelloWorld", codec="h264",
                                             input_props={"title": "Hi"},
                                             frames_per_lambda=30)
        # progress.json exists as soon as start replied (no RenderNotFoundError)
        await remotion.progress_reader.read(render)
        seen = await poll_until_done(remotion, render)
    final = seen[-1]
    assert final.done, final.errors
    values = [p.overall_progress for p in seen]
    assert values == sorted(values), values
    assert final.chunks == 5
    assert final.output_file is not None
    assert final.output_file.startswith(emulator.s3_endpoint)
    async with aiohttp.ClientSession() as http, http.get(final.output_file) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "video/mp4"
        assert len(await response.read()) == final.output_size_in_bytes
    meta = final.render_metadata
    assert meta is not None
    assert (meta.total_chunks, meta.frames_per_lambda, meta.frame_range) == (5, 30, [0, 149])


async def test_status_lambda_and_s3_agree(emulator: RemotionEmulator) -> None:
    async with emulator.client() as remotion:
        render = await remotion.render_media(serve_url="aioremotion-demo",
                                             composition="HelloWorld", codec="h264")
        await emulator.wait_for_renders()
        via_s3 = await remotion.get_progress(render)
        via_lambda = await remotion.get_progress(render, via="lambda")
    assert via_s3.done and via_lambda.done
    a, b = via_s3.to_json_dict(), via_lambda.to_json_dict()
    a.pop("currentTime")
    b.pop("currentTime")
    assert a == b


async def test_unknown_composition_is_a_fatal_error(emulator: RemotionEmulator) -> None:
    async with emulator.client() as remotion:
        render = await remotion.render_media(serve_url=emulator.serve_url,
                                             composition="Nope", codec="h264")
        await emulator.wait_for_renders()
        progress = await remotion.get_progress(render)
    assert progress.fatal_error_encountered
    assert "Could not find composition with ID Nope" in progress.errors[0].message
    assert progress.render_metadata is None


async def test_version_mismatch_has_the_real_text(emulator: RemotionEmulator) -> None:
    async with emulator.client(remotion_version="4.0.400") as remotion:
        with pytest.raises(VersionMismatchError,
                           match=r"has the version 4\.0\.527, but the @remotion/lambda package"):
            await remotion.render_media(serve_url=emulator.serve_url, composition="HelloWorld",
                                        codec="h264")


async def test_any_well_formed_function_name_is_deployed(emulator: RemotionEmulator) -> None:
    name = speculate_function_name(version="4.0.539", memory_mb=3009, disk_mb=10240,
                                   timeout_s=300)
    async with emulator.client(function_name=name, remotion_version="4.0.539") as remotion:
        assert await remotion.function_version() == "4.0.539"
    async with emulator.client(function_name="not-remotion") as remotion:
        with pytest.raises(RemotionError, match="was not found"):
            await remotion.function_version()


async def test_throttle_fault(emulator: RemotionEmulator) -> None:
    emulator.faults.throttle_next(2)
    async with emulator.client(sleep=_instant) as remotion:
        render = await remotion.render_media(serve_url=emulator.serve_url,
                                             composition="HelloWorld", codec="h264")
    assert render.render_id
    assert emulator.functions is not None
    assert emulator.functions.throttled == 2
    assert len(emulator.server.invocations_of("start")) == 3


async def _instant(seconds: float) -> None:
    return None


async def test_account_concurrency_limit_throttles() -> None:
    limited = EmulatorConfig(account_concurrency=1, frame_cost_ms=2,
                             progress_write_interval_s=0.02)
    async with RemotionEmulator(config=limited) as small, \
            small.client(sleep=_instant) as remotion:
        await remotion.render_media(serve_url=small.serve_url, composition="HelloWorld",
                                    codec="h264")
        with pytest.raises(ConcurrencyLimitError):
            await remotion.render_media(serve_url=small.serve_url, composition="HelloWorld",
                                        codec="h264")


async def test_retryable_chunk_failure_is_retried(emulator: RemotionEmulator) -> None:
    emulator.faults.fail_chunk(1, retryable=True)
    async with emulator.client() as remotion:
        render = await remotion.render_media(serve_url=emulator.serve_url,
                                             composition="HelloWorld", codec="h264",
                                             frames_per_lambda=50)
        await emulator.wait_for_renders()
        progress = await remotion.get_progress(render)
    assert progress.done
    assert progress.retries_info and progress.retries_info[0]["chunk"] == 1
    assert progress.errors[0].will_retry is True
    assert progress.errors[0].is_fatal is False


async def test_fatal_chunk_failure_fails_the_render(emulator: RemotionEmulator) -> None:
    emulator.faults.fail_chunk(2, retryable=False, message="Could not render frame 120")
    async with emulator.client() as remotion:
        render = await remotion.render_media(serve_url=emulator.serve_url,
                                             composition="HelloWorld", codec="h264",
                                             frames_per_lambda=50)
        await emulator.wait_for_renders()
        progress = await remotion.get_progress(render)
    assert not progress.done
    assert progress.fatal_error_encountered
    assert any("Could not render frame 120" in e.message for e in progress.fatal_errors)


async def test_crash_before_metadata_leaves_metadata_null(emulator: RemotionEmulator) -> None:
    emulator.faults.crash_launch_before_metadata()
    async with emulator.client() as remotion:
        render = await remotion.render_media(serve_url=emulator.serve_url,
                                             composition="HelloWorld", codec="h264")
        with anyio.fail_after(30):
            await emulator.wait_for_stall(render.render_id)
        progress = await remotion.get_progress(render)
    assert progress.render_metadata is None
    assert progress.serve_url_opened is not None
    assert not progress.done
    assert not progress.fatal_error_encountered  # only a reader's timeout can tell


@pytest.mark.remotion_emulator(frame_cost_ms=5)
async def test_wait_for_stall_needs_a_launch_that_hangs(emulator: RemotionEmulator) -> None:
    with pytest.raises(LookupError, match="no launch of render 'nosuchrender'"):
        await emulator.wait_for_stall("nosuchrender")
    async with emulator.client() as remotion:
        render = await remotion.render_media(serve_url=emulator.serve_url,
                                             composition="HelloWorld", codec="h264")
        with anyio.fail_after(30), pytest.raises(RuntimeError, match="ended without hanging"):
            await emulator.wait_for_stall(render.render_id)
        assert (await remotion.get_progress(render)).done


async def test_stall_stops_progress_writes_until_the_timeout(
    emulator: RemotionEmulator,
) -> None:
    short = speculate_function_name(version="4.0.527", memory_mb=2048, disk_mb=2048,
                                    timeout_s=2)
    hook = WebhookSink()
    async with hook.serve() as url:
        emulator.faults.stall_launch()
        async with emulator.client(function_name=short) as remotion:
            render = await remotion.render_media(
                serve_url=emulator.serve_url, composition="HelloWorld", codec="h264",
                enable_cancellation=True, webhook={"url": url, "secret": "s3cr3t"})
            await emulator.wait_for_renders()
            progress = await remotion.get_progress(render)
            cancel = await emulator.s3.get_object(Bucket=render.bucket_name,
                                                  Key=f"renders/{render.render_id}/cancel.json")
    assert progress.render_metadata is not None
    assert progress.chunks == 0 and not progress.done
    assert "cancelledAt" in json.loads(await cancel["Body"].read())
    assert [r["headers"]["X-Remotion-Status"] for r in hook.received] == ["timeout"]


async def test_dropped_progress_write_is_recovered_later(emulator: RemotionEmulator) -> None:
    emulator.faults.drop_progress_writes(1)
    async with emulator.client() as remotion:
        render = await remotion.render_media(serve_url=emulator.serve_url,
                                             composition="HelloWorld", codec="h264")
        await emulator.wait_for_renders()
        progress = await remotion.get_progress(render)
    assert progress.done


async def test_the_start_write_is_never_dropped(emulator: RemotionEmulator) -> None:
    """Remotion's start awaits its first progress.json write before it replies: dropped
    writes (a fault) apply to the later updates only, so the file exists at once."""
    emulator.faults.drop_progress_writes(3)
    emulator.faults.slow_renders(200)  # later writes are seconds away
    async with emulator.client() as remotion:
        render = await remotion.render_media(serve_url=emulator.serve_url,
                                             composition="HelloWorld", codec="h264")
        progress = await remotion.get_progress(render)  # no RenderNotFoundError
        assert not progress.done
        await emulator.wait_for_renders()
        assert (await remotion.get_progress(render)).done


async def test_slow_renders(emulator: RemotionEmulator) -> None:
    emulator.faults.slow_renders(1000)  # 0 ms per frame stays 0: set a frame cost
    async with RemotionEmulator(config=EmulatorConfig(
            frame_cost_ms=0.1, progress_write_interval_s=0.02)) as slow:
        slow.faults.slow_renders(20)
        async with slow.client() as remotion:
            render = await remotion.render_media(serve_url=slow.serve_url,
                                                 composition="HelloWorld", codec="h264",
                                                 frames_per_lambda=150)
            await asyncio.sleep(0.3)
            mid = await remotion.get_progress(render)
            await slow.wait_for_renders()
            end = await remotion.get_progress(render)
    assert not mid.done
    assert end.done


async def test_cancellation_through_cancel_json(emulator: RemotionEmulator) -> None:
    async with RemotionEmulator(config=EmulatorConfig(
            frame_cost_ms=250, cancel_poll_interval_s=0.05,
            progress_write_interval_s=0.02)) as slow, slow.client() as remotion:
        render = await remotion.render_media(serve_url=slow.serve_url,
                                             composition="HelloWorld", codec="h264",
                                             enable_cancellation=True)
        # A chunk takes 20 frames x 250 ms = 5 s, so the render cannot end before the
        # cancel lands, however loaded the machine (at 20 ms a frame it sometimes did).
        with anyio.fail_after(30):  # until the renderers run (and cancel.json is watched)
            while (await remotion.get_progress(render)).frames_rendered == 0:
                await anyio.sleep(0.01)
        await remotion.cancel(render)
        await slow.wait_for_renders()
        progress = await remotion.get_progress(render)
    assert progress.fatal_error_encountered
    assert any("got cancelled" in e.message for e in progress.errors)


class WebhookSink:
    """A loopback HTTP server recording webhook requests."""

    def __init__(self, fail_times: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_times = fail_times

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append({"headers": dict(request.headers), "body": body})
        if self.fail_times > 0:
            self.fail_times -= 1
            return web.Response(status=500)
        return web.json_response({"success": True})

    def serve(self) -> Any:
        sink = self

        class _Serve:
            async def __aenter__(self) -> str:
                app = web.Application()
                app.router.add_post("/hook", sink._handle)
                self.runner = web.AppRunner(app)
                await self.runner.setup()
                site = web.TCPSite(self.runner, "127.0.0.1", 0)
                await site.start()
                port = self.runner.addresses[0][1]
                return f"http://127.0.0.1:{port}/hook"

            async def __aexit__(self, *args: Any) -> None:
                await self.runner.cleanup()

        return _Serve()


async def test_webhook_is_signed_and_retried(emulator: RemotionEmulator) -> None:
    hook = WebhookSink(fail_times=1)
    async with hook.serve() as url, emulator.client() as remotion:
        render = await remotion.render_media(
            serve_url=emulator.serve_url, composition="HelloWorld", codec="h264",
            webhook={"url": url, "secret": "s3cr3t", "customData": {"orderId": "A-17"}})
        await emulator.wait_for_renders()
    assert len(hook.received) == 2  # one failure, one retry
    request = hook.received[-1]
    body = request["body"]
    expected = "sha512=" + hmac.new(b"s3cr3t", body, hashlib.sha512).hexdigest()
    assert request["headers"]["X-Remotion-Signature"] == expected
    assert request["headers"]["X-Remotion-Status"] == "success"
    payload = json.loads(body)
    assert payload["renderId"] == render.render_id
    assert payload["customData"] == {"orderId": "A-17"}
    assert payload["outputUrl"].endswith("/out.mp4")


async def test_out_name_privacy_download_and_delete_after(emulator: RemotionEmulator) -> None:
    async with emulator.client() as remotion:
        render = await remotion.render_media(
            serve_url=emulator.serve_url, composition="HelloWorld", codec="h264",
            out_name="final/cut.mp4", privacy="private", delete_after="1-day",
            download_behavior={"type": "download", "file_name": "my video.mp4"})
        await emulator.wait_for_renders()
        progress = await remotion.get_progress(render)
        head = await emulator.s3.head_object(Bucket=render.bucket_name,
                                             Key=f"renders/{render.render_id}/final/cut.mp4")
        acl = await emulator.s3.get_object_acl(Bucket=render.bucket_name,
                                               Key=f"renders/{render.render_id}/final/cut.mp4")
    assert render.render_id.startswith("1-day-")
    assert progress.done
    assert progress.out_key == f"renders/{render.render_id}/final/cut.mp4"
    assert head["ContentDisposition"] == 'attachment; filename="my%20video.mp4"'
    grants = {g["Permission"] for g in acl["Grants"]}
    assert "READ" not in grants or all("AllUsers" not in str(g) for g in acl["Grants"])


async def test_still_streamed_and_not(emulator: RemotionEmulator) -> None:
    async with emulator.client() as remotion:
        streamed = await remotion.render_still(serve_url=emulator.serve_url,
                                               composition="HelloWorld", image_format="png",
                                               frame=10)
        plain = await remotion.render_still(serve_url=emulator.serve_url,
                                            composition="HelloWorld", image_format="jpeg",
                                            streamed=False)
    assert streamed.out_key.endswith("/out.png")
    assert plain.out_key.endswith("/out.jpeg")
    async with aiohttp.ClientSession() as http, http.get(streamed.url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/png"


async def test_compositions(emulator: RemotionEmulator) -> None:
    async with emulator.client() as remotion:
        compositions = await remotion.get_compositions(serve_url=emulator.serve_url)
    hello = next(c for c in compositions if c["id"] == "HelloWorld")
    assert (hello["width"], hello["height"], hello["fps"]) == (1280, 720, 30)


async def test_export_lines_point_a_client_here(emulator: RemotionEmulator,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for line in emulator.export_lines():
        key, _, value = line.removeprefix("export ").partition("=")
        monkeypatch.setenv(key, value.strip("'"))
    async with RemotionLambda() as remotion:  # everything from the environment
        assert await remotion.function_version() == "4.0.527"


async def test_real_encoding_gives_a_playable_h264_mp4(tmp_path: Any) -> None:
    media = pytest.importorskip("aioremotion.emulator.media")
    if not media.encoder_available():
        pytest.skip("the emulator extra (Pillow, av) is not installed")
    config = EmulatorConfig(real_encoding=True, progress_write_interval_s=0.02)
    async with RemotionEmulator(config=config) as real, real.client() as remotion:
        render = await remotion.render_media(serve_url=real.serve_url, composition="Square",
                                             codec="h264", frames_per_lambda=10)
        seen = await poll_until_done(remotion, render, limit_s=120)
        final = seen[-1]
        assert final.done, final.errors
        assert final.output_file is not None
        async with aiohttp.ClientSession() as http, http.get(final.output_file) as response:
            video = await response.read()
    path = tmp_path / "out.mp4"
    path.write_bytes(video)
    probe = media.ffprobe_like(path)
    assert probe["video_codec"] == "h264", probe
    assert probe["frames"] == 30, probe
    assert not probe["errors"], probe
    values = [p.overall_progress for p in seen]
    assert values == sorted(values)


# ---------------------------------------------------------------- real encoding: progress


def gated_composition(gate_at: set[int], reached: threading.Semaphore,
                      release: threading.Event) -> Composition:
    """A small composition whose worker blocks while drawing each frame of ``gate_at``
    (each arrival is counted on ``reached``) until ``release`` is set."""
    from aioremotion.emulator.media import default_registry

    square = default_registry().get("Square")
    assert square.draw is not None
    draw = square.draw

    def gated_draw(frame: int, props: dict[str, Any], size: tuple[int, int]) -> Any:
        if frame in gate_at:
            reached.release()
            release.wait(60)
        return draw(frame, props, size)

    return Composition("Gated", 64, 36, 30, 20, dict(square.default_props), gated_draw)


def real_emulator(*compositions: Composition, **config: Any) -> RemotionEmulator:
    media = pytest.importorskip("aioremotion.emulator.media")
    if not media.encoder_available():
        pytest.skip("the emulator extra (Pillow, av) is not installed")
    registry = media.default_registry()
    for comp in compositions:
        registry.register(comp)
    return RemotionEmulator(config=EmulatorConfig(real_encoding=True,
                                                  progress_write_interval_s=0.02, **config),
                            registry=registry)


async def test_real_encoding_progress_moves_with_the_encoder(tmp_path: Any) -> None:
    """framesRendered/framesEncoded count the frames the real encoder has taken, while the
    render is going on: with both chunks' workers held at their sixth frame, progress.json
    says 5 + 5 frames, no chunk done, and the render is not done."""
    reached, release = threading.Semaphore(0), threading.Event()
    gated = gated_composition({5, 15}, reached, release)
    try:
        async with real_emulator(gated) as real, real.client() as remotion:
            render = await remotion.render_media(serve_url=real.serve_url, composition="Gated",
                                                 codec="h264", frames_per_lambda=10)
            for _ in range(2):  # both renderers are held (max_parallel_encoders is 2)
                assert await anyio.to_thread.run_sync(reached.acquire, True, 60)
            held: list[RenderProgress] = []
            with anyio.fail_after(60):  # the progress writer catches up with the encoders
                while not held or held[-1].encoding_status.frames_encoded < 10:
                    with contextlib.suppress(TransientError):  # see poll_until_done
                        held.append(await remotion.get_progress(render))
                    await anyio.sleep(0.01)
            mid = held[-1]
            assert mid.frames_rendered == mid.encoding_status.frames_encoded == 10
            assert mid.chunks == 0 and not mid.done and mid.time_to_render_frames is None
            assert mid.combined_frames == 0
            counts = [p.encoding_status.frames_encoded for p in held]
            assert counts == sorted(counts)
            assert 0.1 < mid.overall_progress < 0.9
            release.set()
            seen = held + await poll_until_done(remotion, render, limit_s=120)
            final = seen[-1]
            assert final.done, final.errors
            assert final.output_file is not None
            async with aiohttp.ClientSession() as http, http.get(final.output_file) as response:
                path = tmp_path / "gated.mp4"
                path.write_bytes(await response.read())
    finally:
        release.set()
    assert final.frames_rendered == final.encoding_status.frames_encoded == 20
    assert final.chunks == 2 and final.combined_frames == 20
    assert final.time_to_render_frames is not None and final.time_to_combine is not None
    values = [p.overall_progress for p in seen]
    assert values == sorted(values) and values[-1] == 1
    from aioremotion.emulator.media import ffprobe_like

    probe = ffprobe_like(path)
    assert (probe["video_codec"], probe["frames"], probe["errors"]) == ("h264", 20, [])


async def test_real_encoding_chunk_faults_fire_mid_chunk() -> None:
    """An armed chunk fault stops the real encoder at the chunk's middle frame: retried
    when retryable, fatal otherwise, as in synthetic mode."""
    async with real_emulator() as real, real.client() as remotion:
        real.faults.fail_chunk(1, retryable=True)
        render = await remotion.render_media(serve_url=real.serve_url, composition="Square",
                                             codec="h264", frames_per_lambda=10)
        retried = (await poll_until_done(remotion, render, limit_s=120))[-1]
        real.faults.fail_chunk(2, retryable=False)
        render = await remotion.render_media(serve_url=real.serve_url, composition="Square",
                                             codec="vp8", frames_per_lambda=10)
        failed = (await poll_until_done(remotion, render, limit_s=120))[-1]
    assert retried.done and retried.retries_info[0]["chunk"] == 1
    assert retried.errors[0].will_retry and retried.errors[0].message == "Target closed"
    assert retried.encoding_status.frames_encoded == 30 and retried.chunks == 3
    assert not failed.done and failed.fatal_error_encountered
    assert any(e.message == "Could not render frame 25" for e in failed.fatal_errors)


async def test_real_encoding_adds_the_frame_cost_to_each_frame() -> None:
    """``frame_cost_ms`` (and slow renders) still shape real renders: the cost is slept in
    the encoder's worker for each frame, so timings include it."""
    async with real_emulator(frame_cost_ms=20) as real, real.client() as remotion:
        render = await remotion.render_media(serve_url=real.serve_url, composition="Square",
                                             codec="h264", frames_per_lambda=30)
        final = (await poll_until_done(remotion, render, limit_s=120))[-1]
    assert final.done
    assert final.time_to_render_frames is not None
    assert final.time_to_render_frames >= 30 * 20  # 30 frames of one chunk, 20 ms each
