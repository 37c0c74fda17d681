"""render_frames end to end on the emulator (real Lambda API and S3 servers on loopback):
every frame the manifest lists is in S3 and decodes at the composition's size, progress
counts the uploads, the options reach the keys, and old functions are refused first."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from aiobotocore.session import get_session
from botocore.config import Config
from PIL import Image

from aioremotion import Done, RemotionLambda, RenderHandle, SequenceManifest
from aioremotion.emulator import EmulatorConfig, RemotionEmulator
from aioremotion.errors import InvalidOptionsError
from aioremotion.protocol.options import RenderFramesOptions
from aioremotion.protocol.payloads import build_frames_payload
from aioremotion.protocol.props import InlineProps
from aioremotion.protocol.sequences import OutputSequence

FAST = EmulatorConfig(progress_write_interval_s=0.02)
FUNCTION = "remotion-render-4-0-539-mem2048mb-disk2048mb-120sec"
SQUARE = (160, 90)  # the emulator's "Square" composition


async def frames_in_s3(remotion: RemotionLambda, done: Done) -> tuple[SequenceManifest,
                                                                       list[Image.Image]]:
    manifest = await remotion.read_manifest(done)
    assert done.output_sequence is not None
    images = []
    for frame in manifest.frames:
        read = await remotion.transport.get_object(done.output_sequence.bucket_name, frame.key)
        assert read.body is not None
        image = Image.open(io.BytesIO(read.body))
        image.load()
        images.append(image)
    return manifest, images


async def follow(remotion: RemotionLambda, render: RenderHandle) -> list[int]:
    """frames_uploaded of every progress read until done (each read is a real S3 GET)."""
    seen: list[int] = []
    while True:
        progress = await remotion.get_progress(render)
        assert not progress.fatal_error_encountered, progress.errors
        if progress.frames_uploaded is not None:
            seen.append(progress.frames_uploaded)
        if progress.done:
            return seen


async def test_every_frame_of_the_manifest_is_in_s3() -> None:
    async with RemotionEmulator(remotion_version="4.0.539", config=FAST) as emulator, \
            emulator.client() as remotion:
        render = await remotion.render_frames(serve_url=emulator.serve_url,
                                              composition="Square", frame_range=(0, 11),
                                              frames_per_lambda=5)
        assert render.function_name == FUNCTION
        assert render.out_key == f"renders/{render.render_id}/frames/manifest.json"
        uploaded = await follow(remotion, render)
        done = await remotion.wait(render)
        manifest, images = await frames_in_s3(remotion, done)
    assert uploaded == sorted(uploaded) and uploaded[-1] == 12  # never decreases
    sequence = done.output_sequence
    assert sequence is not None
    assert (sequence.frame_count, sequence.image_format) == (12, "png")
    assert sequence.key_prefix == f"renders/{render.render_id}/frames/"
    assert done.url == sequence.manifest_url and done.out_key == sequence.manifest_key
    assert done.size > 0 and done.frames_rendered == 12
    assert [f.frame for f in manifest.frames] == list(range(12))
    assert manifest.frames[3].key == f"{sequence.key_prefix}element-03.png"
    assert (manifest.render_id, manifest.width, manifest.height) == (render.render_id,
                                                                    *SQUARE)
    assert manifest.frame_range == (0, 11) and manifest.image_format == "png"
    assert all(image.format == "PNG" and image.size == SQUARE for image in images)


async def test_output_prefix_pattern_and_jpeg() -> None:
    async with RemotionEmulator(remotion_version="4.0.542", config=FAST) as emulator, \
            emulator.client() as remotion:
        render = await remotion.render_frames(
            serve_url=emulator.serve_url, composition="Square", frame_range=(5, 9),
            image_format="jpeg", jpeg_quality=60, output_prefix="exports/intro",
            image_sequence_pattern="shot_[frame]_of_set.[ext]")
        done = await remotion.wait(render)
        manifest, images = await frames_in_s3(remotion, done)
    assert render.out_key == "exports/intro/manifest.json"
    assert [f.key for f in manifest.frames] == [
        f"exports/intro/shot_{n}_of_set.jpeg" for n in range(5, 10)]
    assert done.output_sequence is not None and done.output_sequence.image_format == "jpeg"
    assert all(image.format == "JPEG" and image.size == SQUARE for image in images)


async def test_a_prefix_in_another_bucket() -> None:
    async with RemotionEmulator(remotion_version="4.0.539", config=FAST) as emulator, \
            emulator.client() as remotion:
        await emulator.s3.create_bucket(Bucket="my-frames")
        render = await remotion.render_frames(
            serve_url=emulator.serve_url, composition="Square", frame_range=(0, 1),
            output_prefix={"bucketName": "my-frames", "keyPrefix": "seq"})
        done = await remotion.wait(render)
        manifest, images = await frames_in_s3(remotion, done)
    assert (render.out_bucket, render.out_key) == ("my-frames", "seq/manifest.json")
    assert done.output_sequence is not None
    assert (done.output_sequence.bucket_name, done.output_sequence.key_prefix) == (
        "my-frames", "seq/")
    assert [f.key for f in manifest.frames] == ["seq/element-0.png", "seq/element-1.png"]
    assert len(images) == 2


async def test_an_old_function_is_refused_before_any_aws_call() -> None:
    async with RemotionEmulator(remotion_version="4.0.508", config=FAST) as emulator, \
            emulator.client() as remotion:
        with pytest.raises(InvalidOptionsError) as info:
            await remotion.render_frames(serve_url=emulator.serve_url, composition="Square",
                                         input_props={"big": "x" * 300_000})
        invocations = list(emulator.server.invocations)
        started = emulator.functions.renders_started
        props = await remotion.transport.list_objects(emulator.bucket, "input-props/")
    assert str(info.value).endswith(
        "render_frames: needs Remotion 4.0.535 or later; the function is 4.0.508")
    assert invocations == [] and started == 0
    assert not props.objects  # the large props were not uploaded either


async def test_jpeg_quality_with_png_is_refused_before_any_aws_call() -> None:
    async with RemotionEmulator(remotion_version="4.0.539", config=FAST) as emulator, \
            emulator.client() as remotion:
        with pytest.raises(InvalidOptionsError, match="jpeg_quality"):
            await remotion.render_frames(serve_url=emulator.serve_url, composition="Square",
                                         jpeg_quality=90)
        assert list(emulator.server.invocations) == []


@pytest.mark.parametrize(("version", "works"), [("4.0.539", True), ("4.0.508", False)])
async def test_auto_version(version: str, works: bool) -> None:
    async with RemotionEmulator(remotion_version=version, config=FAST) as emulator, \
            emulator.client(remotion_version="auto") as remotion:
        options = RenderFramesOptions(serve_url=emulator.serve_url, composition="Square",
                                      frame_range=(0, 2))
        if works:
            done = await remotion.wait(await remotion.render_frames(options))
            assert done.output_sequence is not None
            assert done.output_sequence.frame_count == 3
        else:
            with pytest.raises(InvalidOptionsError, match=r"needs Remotion 4\.0\.535"):
                await remotion.render_frames(options)
        routines = [inv.routine for inv in emulator.server.invocations]
    assert routines[0] == "info" and routines.count("info") == 1
    assert ("start" in routines) is works


async def test_the_webhook_reports_the_sequence_like_a_media_render() -> None:
    from tests.emulator.test_emulator import WebhookSink

    hook = WebhookSink()
    async with RemotionEmulator(remotion_version="4.0.539", config=FAST) as emulator, \
            hook.serve() as url, emulator.client() as remotion:
        render = await remotion.render_frames(serve_url=emulator.serve_url,
                                              composition="Square", frame_range=(0, 1),
                                              webhook={"url": url, "secret": None})
        await emulator.wait_for_renders()
    [request] = hook.received
    assert request["headers"]["X-Remotion-Status"] == "success"
    payload = json.loads(request["body"])
    assert payload["renderId"] == render.render_id
    assert payload["outputUrl"] is None  # postRenderData.outputFile: a sequence has none


async def test_an_old_function_fails_a_sequence_on_codec_null() -> None:
    """What a real 4.0.508 function does with the payload (it ignores ``output``), with
    the strict key check off: the render fails on ``codec: null``, no frame is uploaded."""
    opts = RenderFramesOptions(serve_url="site", composition="Square")
    payload = build_frames_payload(opts, version="4.0.539", props=InlineProps("{}"),
                                   bucket_name=None)
    config = EmulatorConfig(progress_write_interval_s=0.02, strict_payloads=False)
    async with RemotionEmulator(remotion_version="4.0.508", config=config) as emulator, \
            get_session().create_client(
                "lambda", config=Config(retries={"total_max_attempts": 1}),
                **emulator.server.client_kwargs()) as client, \
            emulator.client() as remotion:
        payload = {**payload, "version": "4.0.508", "serveUrl": emulator.serve_url}
        response = await client.invoke(FunctionName=emulator.function_name,
                                        Payload=json.dumps(payload))
        reply: dict[str, Any] = json.loads(await response["Payload"].read())
        await emulator.wait_for_renders()
        progress = await remotion.get_progress(reply["renderId"],
                                               bucket_name=reply["bucketName"])
        listed = await remotion.transport.list_objects(
            reply["bucketName"], f"renders/{reply['renderId']}/frames/")
    assert progress.fatal_error_encountered and not progress.done
    assert "got null" in progress.errors[0].message
    assert progress.output_sequence is None and not listed.objects


def test_output_sequence_is_exported_for_typing() -> None:
    assert OutputSequence.model_fields.keys() >= {"manifest_url", "frame_count"}


@pytest.mark.parametrize(("version", "newer"), [("4.0.539", True), ("4.0.527", False)])
async def test_media_post_render_data_of_newer_functions_has_the_sequence_keys(
        version: str, newer: bool) -> None:
    async with RemotionEmulator(remotion_version=version, config=FAST) as emulator, \
            emulator.client() as remotion:
        render = await remotion.render_media(serve_url=emulator.serve_url,
                                             composition="Square", codec="h264")
        await emulator.wait_for_renders()
        read = await remotion.transport.get_object(
            render.bucket_name, f"renders/{render.render_id}/progress.json")
    post = json.loads(read.body or b"{}")["postRenderData"]
    assert post["outputFile"].endswith("/out.mp4")
    if newer:
        assert (post["outputSequence"], post["separateAudio"]) == (None, None)
    else:
        assert not {"outputSequence", "separateAudio"} & post.keys()


@pytest.mark.parametrize("version", ["4.0.535", "4.0.539", "4.0.542"])
def test_the_payload_fits_the_strict_check_of_its_version(version: str) -> None:
    from aioremotion.emulator.payload_check import payload_problem

    opts = RenderFramesOptions(serve_url="site", composition="Square")
    payload = build_frames_payload(opts, version=version, props=InlineProps("{}"),
                                   bucket_name=None)
    assert payload_problem(payload, version) is None
    sent_to_old = {**payload, "version": "4.0.508"}
    assert "output (sent from 4.0.535 on)" in (payload_problem(sent_to_old, "4.0.508") or "")
