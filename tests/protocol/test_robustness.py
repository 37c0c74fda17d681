"""Property tests: hostile input gets typed errors, never a crash."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aioremotion.errors import (
    InvalidOptionsError,
    ProgressFileError,
    StillRenderNotSupportedError,
)
from aioremotion.protocol.nesting import (
    MAX_JSON_DEPTH,
    JsonTooDeepError,
    check_json_depth,
    json_depth,
    parse_json,
)
from aioremotion.protocol.options import RenderMediaOptions
from aioremotion.protocol.progress import (
    OutputHead,
    OutputHeadRequest,
    ProgressContext,
    compute_render_progress,
)
from aioremotion.protocol.props import js_json_dumps

from ..conformance.loader import load_cases

CTX = ProgressContext.for_function(
    "remotion-render-4-0-527-mem2048mb-disk2048mb-120sec", region="us-east-1",
    render_id="k1a2b3c4d5", bucket_name="remotionlambda-useast1-abcdefghij")
TYPED = (ProgressFileError, StillRenderNotSupportedError)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
KEYS = ["chunks", "framesRendered", "framesEncoded", "combinedFrames", "lambdasInvoked",
        "renderMetadata", "postRenderData", "errors", "timings", "retries", "timeToCombine",
        "fatalErrorTimestamp", "serveUrlOpened", "compositionValidated", "timeoutTimestamp"]
BASES = [case["progressJson"] for case in load_cases("progress-cases.json")]


def run(document: Any) -> None:
    try:
        result = compute_render_progress(document, CTX, now_ms=1_760_000_010_000)
        if isinstance(result, OutputHeadRequest):
            compute_render_progress(document, CTX, now_ms=1_760_000_010_000,
                                    output_head=OutputHead(10))
    except TYPED:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_gives_typed_errors_only(value: Any) -> None:
    run(json.dumps(value).encode())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(BASES), st.sampled_from(KEYS), json_values)
def test_mutated_real_progress_files_give_typed_errors_only(
    base: dict[str, Any], key: str, value: Any
) -> None:
    run({**base, key: value})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(BASES), st.sampled_from(
    ["totalChunks", "frameRange", "everyNthFrame", "codec", "startedDate", "type", "outName",
     "rendererFunctionName", "estimatedRenderLambdaInvokations", "framesPerLambda"]),
    json_values)
def test_mutated_metadata_gives_typed_errors_only(
    base: dict[str, Any], key: str, value: Any
) -> None:
    metadata = base.get("renderMetadata") or BASES[1]["renderMetadata"]
    run({**base, "renderMetadata": {**metadata, key: value}})


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(
    ["serveUrl", "composition", "codec", "framesPerLambda", "concurrency", "frameRange",
     "everyNthFrame", "scale", "jpegQuality", "crf", "outName", "webhook", "inputProps",
     "privacy", "audioCodec", "imageFormat", "downloadBehavior", "chromiumOptions"]),
    json_values, max_size=8))
def test_media_options_validate_or_raise_one_typed_error(options: dict[str, Any]) -> None:
    problems: list[tuple[str, str]] = []
    try:
        RenderMediaOptions.model_validate(options)
    except InvalidOptionsError as exc:  # the one allowed failure: typed, naming fields
        problems = exc.problems or [("", "")]
    assert all(field and message for field, message in problems)


# ---------------------------------------------------------------- deeply nested JSON


def nested(depth: int, kind: str) -> tuple[Any, str]:
    """A value ``depth`` levels deep (``json_depth``) and the text ``JSON.stringify`` gives:
    objects ``{"a":{"a":…1}}`` or arrays ``[[…[]]]``. Built without recursion."""
    value: Any = 1 if kind == "dict" else []
    for _ in range(depth - (kind != "dict")):
        value = {"a": value} if kind == "dict" else [value]
    if kind == "dict":
        return value, '{"a":' * depth + "1" + "}" * depth
    return value, "[" * depth + "]" * depth


def deep_props(depth: int, kind: str) -> tuple[dict[str, Any], str]:
    """Input props ``depth`` levels deep in all (the props object is the first level)."""
    inner, text = nested(depth - 1, kind)
    return {"a": inner}, '{"a":' + text + "}"


def media_options(**extra: Any) -> RenderMediaOptions:
    return RenderMediaOptions(serve_url="my-site", composition="MyComp", codec="h264", **extra)


@pytest.mark.parametrize("kind", ["dict", "list"])
def test_input_props_at_the_depth_limit_serialise_as_json_stringify(kind: str) -> None:
    props, text = deep_props(MAX_JSON_DEPTH, kind)
    assert json_depth(props) == MAX_JSON_DEPTH == 500
    assert media_options(input_props=props).input_props_json == text
    camel = RenderMediaOptions.model_validate(
        {"serveUrl": "my-site", "composition": "MyComp", "codec": "h264", "inputProps": props})
    assert camel.input_props_json == text
    # a model rebuilt from another one (the client does this for overrides) works too
    assert RenderMediaOptions.model_validate(
        {**camel.model_dump(exclude_unset=True), "frames_per_lambda": 20}
    ).input_props_json == text


@pytest.mark.parametrize("kind", ["dict", "list"])
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 990, 5000, 100_000])
def test_input_props_over_the_limit_are_refused_naming_the_field(kind: str, depth: int) -> None:
    props, _ = deep_props(depth, kind)
    with pytest.raises(InvalidOptionsError) as caught:
        media_options(input_props=props)
    assert caught.value.problems == [
        ("input_props", f"is nested {depth} levels deep; at most 500 are supported (deeper "
                        "JSON cannot be processed safely): flatten it")]


def test_deep_dataclasses_and_models_are_converted_without_recursion() -> None:
    @dataclasses.dataclass
    class Node:
        child: Any = None

    chain: Any = None
    for _ in range(MAX_JSON_DEPTH - 1):
        chain = Node(chain)
    expected = '{"child":' * MAX_JSON_DEPTH + "null" + "}" * MAX_JSON_DEPTH
    assert media_options(input_props={"child": chain}).input_props_json == expected
    with pytest.raises(InvalidOptionsError, match="input_props: is nested 501 levels deep"):
        media_options(input_props={"child": Node(chain)})
    circular = Node()
    circular.child = [circular]
    with pytest.raises(InvalidOptionsError, match=r"input_props.child.child\[0\]: contains itself"):
        media_options(input_props={"child": circular})


def test_webhook_custom_data_depth_is_limited_too() -> None:
    at_limit, text = nested(MAX_JSON_DEPTH - 1, "list")
    webhook = {"url": "https://example.com/hook", "custom_data": {"a": at_limit}}
    options = media_options(webhook=webhook)
    assert options.webhook is not None
    assert options.webhook.custom_data == {"a": at_limit}
    assert js_json_dumps(options.webhook.to_payload()["customData"]) == '{"a":' + text + "}"
    over, _ = nested(MAX_JSON_DEPTH, "list")
    with pytest.raises(InvalidOptionsError) as caught:
        media_options(webhook={**webhook, "custom_data": {"a": over}})
    assert caught.value.fields == ["webhook.custom_data"]
    assert "is nested 501 levels deep; at most 500 are supported" in str(caught.value)


@pytest.mark.parametrize("kind", ["dict", "list"])
def test_parse_json_refuses_deep_text_with_a_clear_error(kind: str) -> None:
    for depth in (1, 2, MAX_JSON_DEPTH):
        value, text = nested(depth, kind)
        assert parse_json(text) == value
        assert parse_json(text.encode("utf-16")) == value
        check_json_depth(value, "x")
    for depth in (MAX_JSON_DEPTH + 1, 990, 5000, 100_000):
        _, text = nested(depth, kind)
        for raw in (text, text.encode(), bytearray(text.encode("utf-16"))):
            with pytest.raises(JsonTooDeepError) as caught:
                parse_json(raw, field="--props")
            assert (caught.value.field, caught.value.depth, caught.value.limit) == (
                "--props", depth, MAX_JSON_DEPTH)
            assert isinstance(caught.value, InvalidOptionsError)
            assert caught.value.problems[0][1].startswith(
                f"is nested {depth} levels deep; at most 500 are supported")


def test_parse_json_counts_brackets_in_strings_as_text() -> None:
    text = '{"s": "' + "[{" * 5000 + '\\"' + "]}" * 3 + '", "t": [[1]]}'
    assert json_depth(parse_json(text)) == 3
    deep = '{"s": "[[[\\"]]", "t": ' + "[" * 700 + "]" * 700 + "}"
    with pytest.raises(JsonTooDeepError) as caught:
        parse_json(deep)
    assert caught.value.depth == 701
    with pytest.raises(json.JSONDecodeError):
        parse_json('{"a": [1, 2}')


def test_json_depth_is_iterative_and_refuses_cycles() -> None:
    value, _ = nested(200_000, "list")
    assert json_depth(value) == 200_000
    assert json_depth({"a": (1, {"b": "x"}), "c": []}) == 3
    loop: list[Any] = [1]
    loop.append({"again": loop})
    with pytest.raises(ValueError, match="contains itself"):
        json_depth(loop)


@pytest.mark.parametrize("depth", [2_000, 100_000])
def test_deep_json_from_aws_gives_typed_errors_only(depth: int) -> None:
    """progress.json, a function's reply and a webhook body come from outside too: nesting
    beyond what they can hold is a typed error, never RecursionError."""
    from aioremotion.errors import RemotionError
    from aioremotion.protocol.progress import parse_progress_file
    from aioremotion.protocol.replies import parse_invoke_reply
    from aioremotion.web.webhooks import WebhookRejected, parse_webhook_payload

    text = '{"a":' * depth + "1" + "}" * depth
    with pytest.raises(ProgressFileError, match=f"nested {depth} levels deep"):
        parse_progress_file(text)
    with pytest.raises(WebhookRejected, match=f"nested {depth} levels deep"):
        parse_webhook_payload(text.encode())
    with pytest.raises(RemotionError):
        parse_invoke_reply(text.encode(), function_error=None, status_code=200,
                           function_name="remotion-render-x", routine="start")


def test_refusing_very_deep_props_takes_memory_linear_in_the_depth() -> None:
    """Paths of nested values are joined only for an error: a 100,000-level value used to
    hold one path string per level (quadratic, ~11 GB); now a few dozen MB."""
    import tracemalloc

    props, _ = deep_props(100_000, "list")
    tracemalloc.start()
    try:
        with pytest.raises(InvalidOptionsError):
            media_options(input_props=props)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2**20, f"{peak / 2**20:.0f} MB"
