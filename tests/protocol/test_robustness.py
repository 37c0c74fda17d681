"""Property tests: hostile input gets typed errors, never a crash."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aioremotion.errors import (
    InvalidOptionsError,
    ProgressFileError,
    StillRenderNotSupportedError,
)
from aioremotion.protocol.options import RenderMediaOptions
from aioremotion.protocol.progress import (
    OutputHead,
    OutputHeadRequest,
    ProgressContext,
    compute_render_progress,
)

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
