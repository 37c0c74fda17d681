"""renderFramesOnLambda (4.0.535+): the options, the start payload it sends for each
version, the version gate, and the key rules of a sequence's frames."""

from __future__ import annotations

from typing import Any

import pytest

from aioremotion.errors import InvalidOptionsError
from aioremotion.protocol.events import Done, event_from_progress
from aioremotion.protocol.options import RenderFramesOptions, RenderMediaOptions
from aioremotion.protocol.payloads import build_frames_payload, build_start_payload
from aioremotion.protocol.progress import ProgressContext, RenderProgress, compute_render_progress
from aioremotion.protocol.props import plan_input_props
from aioremotion.protocol.sequences import (
    DEFAULT_IMAGE_SEQUENCE_PATTERN,
    OutputSequence,
    frame_key,
    frame_padding,
    sequence_location,
)

SITE = {"serve_url": "my-site", "composition": "MyComp"}
SEQUENCE_VERSIONS = ["4.0.535", "4.0.539", "4.0.542"]


def frames(version: str, **options: Any) -> dict[str, Any]:
    opts = RenderFramesOptions(**SITE, **options)
    props = plan_input_props(opts.input_props_json, kind="media",
                             env_variables=opts.env_variables)
    return build_frames_payload(opts, version=version, props=props, bucket_name=None)


def media(version: str, **options: Any) -> dict[str, Any]:
    opts = RenderMediaOptions(**SITE, codec="h264", **options)
    props = plan_input_props(opts.input_props_json, kind="media",
                             env_variables=opts.env_variables)
    return build_start_payload(opts, version=version, props=props, bucket_name=None)


@pytest.mark.parametrize("version", SEQUENCE_VERSIONS)
def test_the_payload_is_the_media_payload_with_the_sequence_values(version: str) -> None:
    payload, reference = frames(version), media(version)
    # the same keys in the same order as renderMediaOnLambda of that version sends
    assert list(payload) == list(reference)
    assert payload["type"] == "start" and payload["version"] == version
    assert payload["output"] == {"type": "sequence", "outputPrefix": None,
                                 "imageSequencePattern": None}
    assert (payload["codec"], payload["muted"], payload["imageFormat"]) == (None, True, "png")
    assert (payload["outName"], payload["numberOfGifLoops"]) == (None, None)
    assert payload["jpegQuality"] == 80  # renderMediaOnLambda's default fills it
    differing = {key for key in payload if payload[key] != reference[key]}
    assert differing == {"codec", "muted", "imageFormat", "output"}


def test_the_payload_carries_the_sequence_options() -> None:
    payload = frames("4.0.539", image_format="jpeg", jpeg_quality=55, frame_range=[0, 29],
                     output_prefix={"bucketName": "my-frames", "keyPrefix": "exports/a"},
                     image_sequence_pattern="frame_[frame].[ext]", every_nth_frame=2,
                     frames_per_lambda=10)
    assert payload["imageFormat"] == "jpeg" and payload["jpegQuality"] == 55
    assert payload["frameRange"] == [0, 29] and payload["everyNthFrame"] == 2
    assert payload["output"] == {
        "type": "sequence",
        "outputPrefix": {"bucketName": "my-frames", "keyPrefix": "exports/a"},
        "imageSequencePattern": "frame_[frame].[ext]",
    }
    assert frames("4.0.539", output_prefix="exports/b")["output"]["outputPrefix"] == "exports/b"


@pytest.mark.parametrize("version", ["4.0.403", "4.0.508", "4.0.527"])
def test_functions_before_4_0_535_are_refused(version: str) -> None:
    with pytest.raises(InvalidOptionsError) as info:
        frames(version)
    assert str(info.value).endswith(
        f"render_frames: needs Remotion 4.0.535 or later; the function is {version}")


def test_jpeg_quality_needs_jpeg() -> None:
    with pytest.raises(InvalidOptionsError) as info:
        RenderFramesOptions(**SITE, jpeg_quality=90)
    assert info.value.fields == ["jpeg_quality"]
    assert "image_format='jpeg'" in str(info.value)
    assert RenderFramesOptions(**SITE, image_format="jpeg", jpeg_quality=90).jpeg_quality == 90


@pytest.mark.parametrize(("options", "field", "words"), [
    ({"image_sequence_pattern": "frame.[ext]"}, "image_sequence_pattern", "must contain [frame]"),
    ({"image_format": "webp"}, "image_format", "png"),
    ({"frame_range": [[0, 9], [20, 29]]}, "frame_range", "multiple frame ranges"),
    ({"frames_per_lambda": 4}, "frames_per_lambda", "at least 5"),
    ({"codec": "h264"}, "codec", ""),  # a media option: not accepted for sequences
    ({"out_name": "x.png"}, "out_name", ""),
])
def test_options_outside_the_subset_are_refused(options: dict[str, Any], field: str,
                                                words: str) -> None:
    with pytest.raises(InvalidOptionsError) as info:
        RenderFramesOptions(**SITE, **options)
    assert field in info.value.fields
    assert words in str(info.value)


def test_camel_case_mappings_validate() -> None:
    opts = RenderFramesOptions.model_validate(
        {"serveUrl": "s", "composition": "C", "imageFormat": "jpeg", "jpegQuality": 70,
         "outputPrefix": "exports/x/", "imageSequencePattern": "[frame].[ext]"})
    assert (opts.image_format, opts.output_prefix, opts.image_sequence_pattern) == (
        "jpeg", "exports/x/", "[frame].[ext]")


def test_frame_keys() -> None:
    assert frame_padding(9) == 1 and frame_padding(10) == 2 and frame_padding(1200) == 4
    key = frame_key(frame=42, key_prefix="p/", pattern="f-[frame]-[frame].[ext]",
                    image_format="jpeg", padding=4)
    assert key == "p/f-0042-0042.jpeg"
    assert DEFAULT_IMAGE_SEQUENCE_PATTERN == "element-[frame].[ext]"
    assert sequence_location({"bucketName": "o", "keyPrefix": "x"}, render_id="r",
                             render_bucket="b") == ("o", "x/")
    assert sequence_location("a/b/", render_id="r", render_bucket="b") == ("b", "a/b/")


def test_a_finished_sequence_is_done_with_its_manifest() -> None:
    sequence = {"bucketName": "b", "keyPrefix": "p/", "manifestKey": "p/manifest.json",
                "manifestUrl": "https://b.s3.us-east-1.amazonaws.com/p/manifest.json",
                "imageFormat": "png", "frameCount": 3}
    metadata = {"type": "sequence", "codec": None, "muted": True, "startedDate": 1000,
                "totalChunks": 1, "frameRange": [0, 2], "everyNthFrame": 1,
                "estimatedRenderLambdaInvokations": 1, "outputSequence": sequence}
    ctx = ProgressContext.for_function(
        "remotion-render-4-0-539-mem2048mb-disk2048mb-120sec", region="us-east-1",
        render_id="k1a2b3c4d5", bucket_name="b")
    running = {"renderMetadata": metadata, "chunks": [0], "framesRendered": 3,
               "framesUploaded": 3, "outputSequence": None, "timeoutTimestamp": 9e12}
    progress = compute_render_progress(running, ctx, now_ms=2000)
    assert isinstance(progress, RenderProgress)  # no HEAD: a sequence has no one output
    assert not progress.done and progress.frames_uploaded == 3
    post = {"cost": {"estimatedCost": 0.001, "estimatedDisplayCost": "$0.001",
                     "currency": "USD", "disclaimer": ""},
            "outputFile": None, "outputSequence": sequence, "separateAudio": None,
            "outputSize": 300, "renderSize": 300, "timeToFinish": 900}
    done = compute_render_progress({**running, "postRenderData": post,
                                    "outputSequence": sequence}, ctx, now_ms=2000)
    assert isinstance(done, RenderProgress) and done.done
    assert done.output_sequence == OutputSequence.model_validate(sequence)
    assert (done.output_file, done.out_key, done.out_bucket) == (None, "p/manifest.json", "b")
    event = event_from_progress(done)
    assert isinstance(event, Done)
    assert event.url == sequence["manifestUrl"] and event.size == 300
    assert event.output_sequence is not None and event.output_sequence.frame_count == 3
    assert event.output_sequence.model_dump() == sequence  # camelCase on the wire
