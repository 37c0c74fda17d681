"""Option models: JS names accepted, JS defaults, and one clear error per bad field."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from aioremotion.errors import InvalidOptionsError
from aioremotion.protocol.options import (
    ProgressOptions,
    RenderMediaOptions,
    RenderStillOptions,
    Webhook,
)

BASE = {"serveUrl": "my-site", "composition": "C"}

INVALID_MEDIA: list[tuple[str, dict[str, Any], str, str]] = [
    ("codec", {"codec": "avi"}, "codec", "must be one of h264, h265"),
    ("local-serve-url", {"codec": "h264", "serveUrl": "src/index.ts"}, "serve_url",
     "looks like a local file"),
    ("fpl-too-small", {"codec": "h264", "framesPerLambda": 3}, "frames_per_lambda",
     "must be at least 5"),
    ("fpl-and-concurrency", {"codec": "h264", "framesPerLambda": 10, "concurrency": 5},
     "frames_per_lambda", "cannot be set together with concurrency"),
    ("typo", {"codec": "h264", "concurency": 5}, "concurency", "did you mean 'concurrency'"),
    ("jpeg-quality", {"codec": "h264", "jpegQuality": 101}, "jpeg_quality", "at most 100"),
    ("crf-range", {"codec": "h264", "crf": 60}, "crf", "between 1 and 51"),
    ("crf-h264-zero", {"codec": "h264", "crf": 0}, "crf", "not supported with h264"),
    ("crf-prores", {"codec": "prores", "crf": 10}, "crf", "takes no crf"),
    ("crf-and-bitrate", {"codec": "h264", "crf": 20, "videoBitrate": "5M"}, "crf",
     "video_bitrate"),
    ("audio-codec", {"codec": "gif", "audioCodec": "aac"}, "audio_codec", "not allowed"),
    ("image-format", {"codec": "h264", "imageFormat": "webp"}, "image_format",
     "png, jpeg, none"),
    ("frame-ranges", {"codec": "h264", "frameRange": [[1, 2]]}, "frame_range",
     "multiple frame ranges"),
    ("frame-range-order", {"codec": "h264", "frameRange": [5, 2]}, "frame_range",
     "0 <= first <= last"),
    ("frame-range-text", {"codec": "h264", "frameRange": "1-2"}, "frame_range",
     "frame number or"),
    ("scale", {"codec": "h264", "scale": 0}, "scale", "greater than 0"),
    ("scale-max", {"codec": "h264", "scale": 17}, "scale", "at most 16"),
    ("privacy", {"codec": "h264", "privacy": "secret"}, "privacy", "public, private, no-acl"),
    ("delete-after", {"codec": "h264", "deleteAfter": "2-days"}, "delete_after", "1-day"),
    ("log-level", {"codec": "h264", "logLevel": "debug"}, "log_level", "verbose"),
    ("custom-data", {"codec": "h264", "webhook": {"url": "https://x", "secret": None,
                                                   "customData": {"a": "x" * 2000}}},
     "webhook.custom_data", "at most 1024"),
    ("webhook-url", {"codec": "h264", "webhook": {"url": "x"}}, "webhook.url", "http(s)"),
    ("outname-extension", {"codec": "h264", "outName": "a.webm"}, "out_name", "end in .mp4"),
    ("outname-key", {"codec": "h264", "outName": "\\bad.mp4"}, "out_name", "S3 key"),
    ("outname-bucket", {"codec": "h264", "outName": {"bucketName": "Bad_Bucket",
                                                     "key": "k.mp4"}},
     "out_name.bucket_name", "not a valid S3 bucket name"),
    ("outname-provider", {"codec": "h264", "outName": {
        "bucketName": "ok-bucket", "key": "k.mp4",
        "s3OutputProvider": {"endpoint": "ftp://x", "accessKeyId": "a",
                             "secretAccessKey": "s"}}},
     "out_name.s3_output_provider.endpoint", "http(s)"),
    ("region", {"codec": "h264", "region": "mars-1"}, "region", "not a region"),
    ("function-name", {"codec": "h264", "functionName": "bad name!"}, "function_name",
     "not a Lambda function name"),
    ("props-object", {"codec": "h264", "inputProps": {"x": [1, object()]}},
     "input_props.x[1]", "cannot be sent"),
    ("props-nan", {"codec": "h264", "inputProps": {"x": float("nan")}}, "input_props.x",
     "NaN"),
    ("props-key", {"codec": "h264", "inputProps": {1: "a"}}, "input_props[1]",
     "keys of input props must be strings"),
    ("quality", {"codec": "h264", "quality": 50}, "quality", "renamed to jpeg_quality"),
    ("every-nth", {"codec": "h264", "everyNthFrame": 0}, "every_nth_frame", "at least 1"),
    ("concurrency", {"codec": "h264", "concurrency": 500}, "concurrency",
     "between 1 and 200"),
    ("chromium-type", {"codec": "h264", "chromiumOptions": {"ignore_certificate_errors": "?"}},
     "chromium_options.ignore_certificate_errors", "true or false"),
    ("chromium-typo", {"codec": "h264", "chromiumOptions": {"ignoreCertificateError": True}},
     "chromium_options.ignoreCertificateError", "did you mean 'ignoreCertificateErrors'"),
    ("download-behavior", {"codec": "h264", "downloadBehavior": {"type": "save"}},
     "download_behavior.type", "play-in-browser, download"),
    ("audio-bitrate", {"codec": "h264", "audioBitrate": "128"}, "audio_bitrate",
     "end in 'K', 'k' or 'M'"),
    ("gif-loops", {"codec": "h264", "numberOfGifLoops": 2}, "number_of_gif_loops",
     "only applies to codec 'gif'"),
    ("transparency", {"codec": "h264", "pixelFormat": "yuva420p", "imageFormat": "png"},
     "pixel_format", "needs codec 'vp8' or 'vp9'"),
    ("prores-profile", {"codec": "h264", "proResProfile": "hq"}, "prores_profile",
     "only applies to codec 'prores'"),
    ("x264-preset", {"codec": "vp9", "x264Preset": "slow"}, "x264_preset", "codec 'h264'"),
    ("max-rate", {"codec": "h264", "encodingMaxRate": "5M"}, "encoding_max_rate",
     "encoding_buffer_size"),
    ("empty-composition", {"codec": "h264", "composition": ""}, "composition",
     "id of a composition"),
    ("missing-codec", {}, "codec", "is required"),
    ("env-variables", {"codec": "h264", "envVariables": {"A": 1}}, "env_variables.A",
     "must be a string"),
    ("too-many-chunks", {"codec": "h264", "frameRange": [0, 2000], "framesPerLambda": 5},
     "frames_per_lambda", "at most 200"),
]


@pytest.mark.parametrize(("fields", "field", "text"),
                         [case[1:] for case in INVALID_MEDIA],
                         ids=[case[0] for case in INVALID_MEDIA])
def test_invalid_media_options_name_the_field(fields: dict[str, Any], field: str,
                                              text: str) -> None:
    with pytest.raises(InvalidOptionsError) as info:
        RenderMediaOptions.model_validate({**BASE, **fields})
    assert field in info.value.fields, info.value.problems
    assert any(text in message for name, message in info.value.problems if name == field), (
        info.value.problems)


def test_invalid_options_raise_the_same_error_from_the_constructor() -> None:
    with pytest.raises(InvalidOptionsError) as info:
        RenderMediaOptions(serve_url="x", composition="c", codec="h264", frames_per_lambda=2)
    assert info.value.fields == ["frames_per_lambda"]
    with pytest.raises(InvalidOptionsError) as info:
        Webhook(url="x")
    assert info.value.fields == ["url"]


def test_several_problems_are_reported_together() -> None:
    with pytest.raises(InvalidOptionsError) as info:
        RenderMediaOptions.model_validate({**BASE, "codec": "h264", "jpegQuality": 101,
                                           "privacy": "x"})
    assert sorted(info.value.fields) == ["jpeg_quality", "privacy"]


def test_js_defaults_and_camel_or_snake_names() -> None:
    camel = RenderMediaOptions.model_validate({**BASE, "codec": "h264", "framesPerLambda": 20})
    snake = RenderMediaOptions(serve_url="my-site", composition="C", codec="h264",
                               frames_per_lambda=20)
    assert camel == snake
    assert (camel.image_format, camel.jpeg_quality, camel.privacy, camel.every_nth_frame,
            camel.max_retries, camel.timeout_in_milliseconds, camel.scale) == (
        "jpeg", 80, "public", 1, 1, 30000, 1)


def test_valid_edge_cases_are_accepted() -> None:
    small = RenderMediaOptions.model_validate(
        {**BASE, "codec": "h264", "frameRange": [0, 2], "framesPerLambda": 3})
    assert small.frame_count == 3
    open_ended = RenderMediaOptions.model_validate({**BASE, "codec": "gif",
                                                    "frameRange": [10, None]})
    assert open_ended.frame_range == (10, None)
    assert RenderMediaOptions.model_validate(
        {**BASE, "codec": "h264", "audioCodec": "aac", "outName": "x/final.mov"}
    ).allowed_out_name_extensions == ("mp4", "mkv", "mov")
    assert RenderMediaOptions.model_validate(
        {**BASE, "codec": "vp9", "pixelFormat": "yuva420p", "imageFormat": "png"}
    ).pixel_format == "yuva420p"


def test_secrets_do_not_show_in_reprs() -> None:
    options = RenderMediaOptions.model_validate({
        **BASE, "codec": "h264", "licenseKey": "rm_secret_license",
        "webhook": {"url": "https://x", "secret": "hook-secret"},
        "outName": {"bucketName": "out-bucket", "key": "k.mp4", "s3OutputProvider": {
            "endpoint": "https://r2", "accessKeyId": "AK", "secretAccessKey": "SK-secret"}},
    })
    text = repr(options) + str(options)
    for secret in ("rm_secret_license", "hook-secret", "SK-secret"):
        assert secret not in text


def test_still_options() -> None:
    still = RenderStillOptions.model_validate({**BASE, "quality": 40, "imageFormat": "jpeg"})
    assert still.jpeg_quality == 40  # renderStillOnLambda still reads the old name
    with pytest.raises(InvalidOptionsError) as info:
        RenderStillOptions.model_validate({**BASE, "imageFormat": "gif"})
    assert info.value.fields == ["image_format"]
    with pytest.raises(InvalidOptionsError) as info:
        RenderStillOptions.model_validate({**BASE, "outName": "thumbnail"})
    assert info.value.fields == ["out_name"]


def test_progress_options_validate_the_render_id() -> None:
    with pytest.raises(InvalidOptionsError) as info:
        ProgressOptions(render_id="../x", bucket_name="remotionlambda-useast1-abcdefghij")
    assert info.value.fields == ["render_id"]


def test_props_serialise_like_json_stringify() -> None:
    moment = datetime(2026, 1, 2, 4, 4, 5, 678901, tzinfo=timezone(timedelta(hours=1)))
    options = RenderMediaOptions.model_validate({**BASE, "codec": "h264", "inputProps": {
        "at": moment, "day": date(2026, 1, 2), "n": 1.0, "small": 1e-7, "big": 1e21,
        "name": "Zoë", "nested": [True, None, (1, 2)]}})
    assert options.input_props_json == (
        '{"at":"remotion-date:2026-01-02T03:04:05.678Z",'
        '"day":"remotion-date:2026-01-02T00:00:00.000Z","n":1,"small":1e-7,"big":1e+21,'
        '"name":"Zoë","nested":[true,null,[1,2]]}')
