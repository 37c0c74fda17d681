"""The recorded JS payloads again, this time through the whole client: what reaches the
Lambda API server over HTTP must equal what the official client sent, and large props must
land in S3 first."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest

from aioremotion import RemotionLambda
from aioremotion.emulator.lambda_api import LambdaApiServer
from aioremotion.emulator.s3_server import S3Server
from aioremotion.protocol.replies import encode_stream_message
from aioremotion.testing.scripted_lambda import ScriptedLambdaBackend

from ..conformance.loader import decode_js_options, load_cases
from .conftest import start_reply

CASES = load_cases("payload-cases.json")
PROGRESS_CASES = load_cases("progress-cases.json")


def still_stream(render_id: str, bucket: str) -> list[bytes]:
    result = {
        "type": "success",
        "output": f"https://s3.us-east-1.amazonaws.com/{bucket}/renders/{render_id}/out.png",
        "size": 1234,
        "sizeInBytes": 1234,
        "bucketName": bucket,
        "estimatedPrice": {"accruedSoFar": 0.00001, "displayCost": "<$0.001",
                           "currency": "USD", "disclaimer": "x"},
        "renderId": render_id,
        "outKey": f"renders/{render_id}/out.png",
        "receivedArtifacts": [],
    }
    data = (encode_stream_message("render-id-determined", {"renderId": render_id})
            + encode_stream_message("still-rendered", result))
    # split mid-message: the client must reassemble frames across chunks
    return [data[:7], data[7:40], data[40:]]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
async def test_client_sends_js_payload(
    case: dict[str, Any], s3: S3Server, s3_sync: Any, lambda_server: LambdaApiServer,
    backend: ScriptedLambdaBackend,
) -> None:
    options = decode_js_options(case["options"])
    region = options["region"]
    expected = case["payload"]
    bucket = expected.get("bucketName") or "remotionlambda-useast1-abcdefghij"
    if expected.get("bucketName"):
        s3_sync.create_bucket(Bucket=bucket)
    async with RemotionLambda(
        region=region,
        function_name=options["functionName"],
        endpoint_urls={"lambda": lambda_server.endpoint_url, "s3": s3.endpoint_url},
    ) as remotion:
        if case["api"] == "media":
            backend.reply_json("start", start_reply(bucket=bucket))
            handle = await remotion.render_media(options)
            assert handle.render_id == "k1a2b3c4d5"
            assert handle.bucket_name == bucket
        elif case["api"] == "still":
            backend.reply_stream("still", still_stream("s1t2i3l4l5", bucket))
            still = await remotion.render_still(options)
            assert still.size_in_bytes == 1234
            assert still.render_id == "s1t2i3l4l5"
        else:
            backend.reply_json("status", PROGRESS_CASES[1]["expected"])
            progress = await remotion.get_progress(
                options["renderId"], bucket_name=options["bucketName"], via="lambda",
                s3_output_provider=options.get("s3OutputProvider"),
                force_path_style=options.get("forcePathStyle", False),
            )
            assert progress.overall_progress == PROGRESS_CASES[1]["expected"]["overallProgress"]

    [invocation] = lambda_server.invocations
    assert invocation.function_name == options["functionName"]
    assert invocation.api == ("stream" if case["api"] == "still" else "invoke")
    sent = invocation.payload_json
    if case["uploads"]:
        # the random hash differs per call; the object it names must hold the props
        assert re.fullmatch(r"[a-z0-9]{10}", sent["inputProps"]["hash"])
        key = f"input-props/{sent['inputProps']['hash']}.json"
        body = s3_sync.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert len(body) == case["uploads"][0]["bodyLength"]
        assert hashlib.sha256(body).hexdigest() == case["uploads"][0]["bodySha256"]
        sent["inputProps"]["hash"] = expected["inputProps"]["hash"]
    if case["api"] != "status":
        # the wire bytes are compact JSON like JSON.stringify (non-ASCII unescaped)
        assert b": " not in invocation.payload[:50]
    assert sent == expected
    assert json.loads(invocation.payload) == expected | (
        {"inputProps": json.loads(invocation.payload)["inputProps"]} if case["uploads"] else {}
    )
