"""Every recorded payload case: our payload must equal what the official JS client sent."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from aioremotion.protocol.naming import is_streaming_region
from aioremotion.protocol.options import ProgressOptions, RenderMediaOptions, RenderStillOptions
from aioremotion.protocol.payloads import (
    build_start_payload,
    build_status_payload,
    build_still_payload,
)
from aioremotion.protocol.props import UploadedProps, plan_input_props

from .loader import decode_js_options, load_cases

CASES = load_cases("payload-cases.json")
HASH = re.compile(r"[a-z0-9]{10}")


def build(
    case: dict[str, Any], version: str = "4.0.527"
) -> tuple[dict[str, Any], UploadedProps | None]:
    """Our payload (and props upload, if any) for a recorded case, built for ``version``."""
    options = decode_js_options(case["options"])
    api = case["api"]
    if api == "status":
        status = ProgressOptions.model_validate(options)
        return build_status_payload(status, version=version), None
    if api == "media":
        media = RenderMediaOptions.model_validate(options)
        props = plan_input_props(
            media.input_props_json, kind="media", env_variables=media.env_variables
        )
        payload = build_start_payload(
            media, version=version, props=props, bucket_name=media.force_bucket_name
        )
    elif api == "still":
        still = RenderStillOptions.model_validate(options)
        props = plan_input_props(
            still.input_props_json, kind="still", env_variables=still.env_variables
        )
        payload = build_still_payload(
            still,
            version=version,
            props=props,
            bucket_name=still.force_bucket_name,
            streamed=is_streaming_region(still.region or "us-east-1"),
        )
    else:  # pragma: no cover - a new api in the data must be handled here
        raise AssertionError(f"unknown api {api!r} in conformance data")
    return payload, props if isinstance(props, UploadedProps) else None


def normalise_random_hash(payload: dict[str, Any], expected: dict[str, Any]) -> None:
    """The uploaded-props hash is random on both sides: check its shape, then align it."""
    ours, theirs = payload.get("inputProps"), expected.get("inputProps")
    if isinstance(ours, dict) and ours.get("type") == "bucket-url":
        assert HASH.fullmatch(ours["hash"]), ours["hash"]
        assert isinstance(theirs, dict) and HASH.fullmatch(theirs["hash"])
        ours["hash"] = theirs["hash"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_payload_matches_js_client(case: dict[str, Any]) -> None:
    payload, upload = build(case)
    expected = case["payload"]
    normalise_random_hash(payload, expected)
    assert payload == expected
    check_uploads(case, upload)


def check_uploads(case: dict[str, Any], upload: UploadedProps | None) -> None:
    """The recorded props upload (if any) is byte for byte ours, at a key of the same form."""
    recorded = case["uploads"]
    if upload is None:
        assert recorded == []
        return
    assert len(recorded) == 1
    body = upload.text.encode()
    assert len(body) == recorded[0]["bodyLength"]
    assert hashlib.sha256(body).hexdigest() == recorded[0]["bodySha256"]
    bucket = case["payload"]["bucketName"]
    assert re.fullmatch(rf"/{re.escape(bucket)}/input-props/[a-z0-9]{{10}}\.json",
                        recorded[0]["path"])
    assert re.fullmatch(r"input-props/[a-z0-9]{10}\.json", upload.key)


def test_every_api_is_covered() -> None:
    assert {case["api"] for case in CASES} >= {"media", "still", "status"}
