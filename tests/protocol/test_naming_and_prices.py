"""Names, keys, URLs and prices."""

from __future__ import annotations

import pytest

from aioremotion.errors import InvalidOptionsError
from aioremotion.protocol.naming import (
    check_render_id,
    check_serve_url,
    content_disposition,
    content_type_for_key,
    expected_output,
    file_extension,
    make_bucket_name,
    parse_function_name,
    region_of_bucket_name,
    site_url,
    site_version_from_index_html,
    speculate_function_name,
)
from aioremotion.protocol.pricing import (
    estimate_price,
    format_accrued_cost,
    format_final_cost,
)
from aioremotion.protocol.props import plan_input_props


def test_function_names_round_trip() -> None:
    name = speculate_function_name(version="4.0.527", memory_mb=3009, disk_mb=10240,
                                   timeout_s=240)
    assert name == "remotion-render-4-0-527-mem3009mb-disk10240mb-240sec"
    spec = parse_function_name(name)
    assert spec is not None
    assert (spec.version, spec.memory_mb, spec.disk_mb, spec.timeout_ms) == (
        "4.0.527", 3009, 10240, 240_000)
    assert parse_function_name(f"arn:aws:lambda:us-east-1:1:function:{name}") == spec
    assert parse_function_name("my-own-function") is None
    with pytest.raises(InvalidOptionsError):
        speculate_function_name(version="4.0.527", memory_mb=0, disk_mb=1, timeout_s=1)


def test_buckets_and_sites() -> None:
    bucket = make_bucket_name("eu-central-1", "abcdefghij")
    assert bucket == "remotionlambda-eucentral1-abcdefghij"
    assert region_of_bucket_name(bucket) == "eu-central-1"
    assert region_of_bucket_name("remotionlambda-nowhere-abc") is None
    assert site_url(bucket, "cn-north-1", "s") == (
        f"https://{bucket}.s3.cn-north-1.amazonaws.com.cn/sites/s/index.html")
    assert site_version_from_index_html("<script>window.remotion_version = '4.0.527';") == (
        "4.0.527")


@pytest.mark.parametrize("value", ["src/index.ts", "./out", "/home/me/site", "C:\\site",
                                   "file:///x", "with space"])
def test_serve_url_refuses_local_paths(value: str) -> None:
    with pytest.raises(InvalidOptionsError):
        check_serve_url(value)


@pytest.mark.parametrize("value", ["", "a/b", "..", "k1 a2", "x" * 200, "-lead", "k1a2b3c4d5\n"])
def test_render_ids_that_could_escape_a_key_are_refused(value: str) -> None:
    with pytest.raises(InvalidOptionsError):
        check_render_id(value)


def test_bucket_and_site_names_are_matched_whole() -> None:
    from aioremotion.protocol.naming import check_bucket_name

    with pytest.raises(InvalidOptionsError):
        check_bucket_name("remotionlambda-useast1-abcdefghij\n")
    with pytest.raises(InvalidOptionsError):
        check_serve_url("my-site\n")


def test_outputs() -> None:
    assert file_extension("prores", "aac") == "mov"
    assert file_extension("vp9", "opus") == "webm"
    assert content_type_for_key("renders/x/out.mp4") == "video/mp4"
    assert content_type_for_key("renders/x/out.aac") == "audio/x-aac"
    assert content_type_for_key("renders/x/out") == "application/octet-stream"
    assert content_disposition({"type": "play-in-browser"}) is None
    assert content_disposition({"type": "download", "fileName": None}) == "attachment"
    assert content_disposition({"type": "download", "fileName": "a%2Fb.mp4"}) == (
        'attachment; filename="a%2Fb.mp4"')
    custom = expected_output(render_id="r", bucket_name="b", render_type="video",
                             out_name={"bucketName": "o", "key": "k.mp4"}, codec="h264",
                             audio_codec=None, image_format="jpeg")
    assert (custom.bucket_name, custom.key) == ("o", "k.mp4")
    still = expected_output(render_id="r", bucket_name="b", render_type="still",
                            out_name=None, codec=None, audio_codec=None, image_format="jpeg")
    assert still.key == "renders/r/out.jpeg"


def test_prices_match_the_js_numbers() -> None:
    assert estimate_price(region="us-east-1", memory_mb=2048, disk_mb=10240,
                          lambdas_invoked=10, duration_ms=60_000) == 0.00162
    assert format_accrued_cost(0.0009, "USD") == "<$0.001"
    assert format_accrued_cost(1234.5678, "USD") == "$1,234.568"
    assert format_accrued_cost(1.0625, "CNY") == "¥1.063"  # half away from zero, like Intl
    assert format_final_cost(0.00031, "USD") == "$0"
    assert format_final_cost(0.012, "USD") == "$0.012"
    with pytest.raises(InvalidOptionsError):
        estimate_price(region="us-east-1", memory_mb=100, disk_mb=10240, lambdas_invoked=1,
                       duration_ms=1)


def test_props_threshold() -> None:
    assert plan_input_props("x" * 193_974, kind="media", env_variables={}).__class__.__name__ == (
        "InlineProps")  # 193,974 + len("{}") == the limit
    assert plan_input_props("x" * 193_975, kind="media", env_variables={}).__class__.__name__ == (
        "UploadedProps")
    assert plan_input_props("x" * 193_975, kind="still", env_variables={}).__class__.__name__ == (
        "InlineProps")
