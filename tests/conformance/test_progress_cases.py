"""Every recorded progress case: our RenderProgress must equal the JS client's field for field
(floats to 1e-9), with the same HEAD calls."""

from __future__ import annotations

import math
from typing import Any

import pytest

from aioremotion.protocol.progress import (
    OutputHead,
    OutputHeadRequest,
    ProgressContext,
    compute_render_progress,
)

from .loader import load_cases, strip_js_stack_frames

CASES = load_cases("progress-cases.json")


def differences(ours: Any, theirs: Any, path: str = "") -> list[str]:
    if isinstance(theirs, dict):
        if not isinstance(ours, dict):
            return [f"{path}: {ours!r} != {theirs!r}"]
        out = [f"{path}.{k}: missing on one side" for k in set(ours) ^ set(theirs)]
        for key in set(ours) & set(theirs):
            if key == "stack" and isinstance(theirs[key], str):
                if strip_js_stack_frames(ours[key]) != strip_js_stack_frames(theirs[key]):
                    out.append(f"{path}.stack differs")
                continue
            out += differences(ours[key], theirs[key], f"{path}.{key}")
        return out
    if isinstance(theirs, list):
        if not isinstance(ours, list) or len(ours) != len(theirs):
            return [f"{path}: {ours!r} != {theirs!r}"]
        return [d for i, (a, b) in enumerate(zip(ours, theirs)) for d in
                differences(a, b, f"{path}[{i}]")]
    numbers = (int, float)
    if (isinstance(theirs, numbers) and not isinstance(theirs, bool)
            and isinstance(ours, numbers) and not isinstance(ours, bool)):
        return [] if math.isclose(ours, theirs, rel_tol=0, abs_tol=1e-9) else [
            f"{path}: {ours!r} != {theirs!r}"]
    return [] if ours == theirs and type(ours) is type(theirs) else [
        f"{path}: {ours!r} != {theirs!r}"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_progress_matches_js_client(case: dict[str, Any]) -> None:
    ctx = ProgressContext.for_function(
        case["functionName"],
        region=case["region"],
        render_id=case["renderId"],
        bucket_name=case["bucketName"],
    )
    head_calls = []
    result = compute_render_progress(case["progressJson"], ctx, now_ms=case["now"])
    if isinstance(result, OutputHeadRequest):
        head_calls.append({"bucketName": result.bucket_name, "key": result.key})
        head = case["headResult"]
        result = compute_render_progress(
            case["progressJson"],
            ctx,
            now_ms=case["now"],
            output_head=OutputHead(head.get("ContentLength")) if head is not None else None,
        )
    assert not isinstance(result, OutputHeadRequest), "asked for a second HEAD"
    assert head_calls == case["headCalls"]
    assert differences(result.to_json_dict(), case["expected"]) == []


def test_differences_catches_a_changed_field() -> None:
    """The comparison itself must notice a wrong value (guards against a vacuous test)."""
    assert differences({"a": 1, "b": [0.5]}, {"a": 1, "b": [0.6]}) == [".b[0]: 0.5 != 0.6"]
    assert differences({"a": 1}, {"a": 1.0}) == []
    assert differences({"a": None}, {"a": 0}) != []
