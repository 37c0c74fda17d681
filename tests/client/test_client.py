"""RemotionLambda against real loopback servers: moto's S3 and a scripted Lambda API."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from aioremotion import (
    ConcurrencyLimitError,
    CredentialsMissingError,
    FunctionInvocationError,
    InvalidOptionsError,
    InvalidReplyError,
    RemotionError,
    RemotionFunctionError,
    RemotionLambda,
    RenderHandle,
    RenderNotFoundError,
    StartOutcomeUnknownError,
    VersionMismatchError,
)
from aioremotion.emulator.lambda_api import LambdaApiServer
from aioremotion.emulator.s3_server import S3Server
from aioremotion.protocol.replies import encode_stream_message
from aioremotion.testing.scripted_lambda import JsonReply, ScriptedLambdaBackend

from ..conformance.loader import load_cases
from .conftest import BUCKET, FUNCTION, REGION, SleepRecorder, start_reply

PROGRESS_CASES = {case["name"]: case for case in load_cases("progress-cases.json")}
MINIMAL = {"serve_url": "my-site", "composition": "MyComp", "codec": "h264"}


def endpoints(s3: S3Server, lam: LambdaApiServer) -> dict[str, str]:
    return {"lambda": lam.endpoint_url, "s3": s3.endpoint_url}


# ---------------------------------------------------------------- starting renders


async def test_render_media_returns_a_handle(
    remotion: RemotionLambda, backend: ScriptedLambdaBackend
) -> None:
    backend.reply_json("start", start_reply())
    handle = await remotion.render_media(**MINIMAL, input_props={"title": "Hi"})
    assert handle.render_id == "k1a2b3c4d5"
    assert handle.bucket_name == BUCKET
    assert handle.out_key == "renders/k1a2b3c4d5/out.mp4"
    assert handle.timeout_ms == 120_000
    assert handle.js_result()["cloudWatchLogs"].startswith(
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:"
    )
    # a handle is a small value another process can resume from
    assert RenderHandle.model_validate_json(handle.model_dump_json()) == handle


async def test_options_are_checked_before_any_call(
    remotion: RemotionLambda, lambda_server: LambdaApiServer
) -> None:
    with pytest.raises(InvalidOptionsError) as info:
        await remotion.render_media(serve_url="src/index.ts", composition="C", codec="h264")
    assert info.value.fields == ["serve_url"]
    assert lambda_server.invocations == []


async def test_throttled_start_is_retried_with_backoff(
    remotion: RemotionLambda, backend: ScriptedLambdaBackend, lambda_server: LambdaApiServer,
    sleeps: SleepRecorder,
) -> None:
    backend.throttle("start", 2)
    backend.reply_json("start", start_reply())
    handle = await remotion.render_media(**MINIMAL)
    assert handle.render_id == "k1a2b3c4d5"
    assert len(lambda_server.invocations_of("start")) == 3
    assert len(sleeps.delays) == 2
    # full jitter: attempt n waits at most base * 2**(n-1)
    assert 0 <= sleeps.delays[0] <= 0.5 and 0 <= sleeps.delays[1] <= 1.0


async def test_throttling_that_never_ends_is_a_typed_error(
    remotion: RemotionLambda, backend: ScriptedLambdaBackend, lambda_server: LambdaApiServer
) -> None:
    backend.throttle("start", 10)
    with pytest.raises(ConcurrencyLimitError) as info:
        await remotion.render_media(**MINIMAL)
    assert info.value.attempts == 4
    assert "concurrency limit" in str(info.value).lower()
    assert "nothing was started" in str(info.value)
    assert len(lambda_server.invocations_of("start")) == 4


async def test_read_timeout_after_sending_is_never_retried(
    s3: S3Server, lambda_server: LambdaApiServer, backend: ScriptedLambdaBackend
) -> None:
    never = asyncio.Event()
    backend.enqueue("start", JsonReply(start_reply(), gate=never))
    async with RemotionLambda(
        region=REGION, function_name=FUNCTION, endpoint_urls=endpoints(s3, lambda_server),
        lambda_read_timeout_s=0.3,
    ) as remotion:
        with pytest.raises(StartOutcomeUnknownError) as info:
            await remotion.render_media(**MINIMAL)
    assert info.value.function_name == FUNCTION
    assert info.value.payload_type == "start"
    assert "not retried" in str(info.value)
    assert len(lambda_server.invocations_of("start")) == 1


@pytest.mark.parametrize(
    ("script", "error", "text"),
    [
        ({"type": "error", "message": "Version mismatch: When calling renderMediaOnLambda()…",
          "stack": "Error: Version mismatch"}, VersionMismatchError, "Version mismatch"),
        ({"type": "error", "message": "Bucket not found", "stack": "Error: Bucket not found"},
         RemotionFunctionError, "Bucket not found"),
    ],
)
async def test_function_errors_are_typed(
    remotion: RemotionLambda, backend: ScriptedLambdaBackend, script: dict[str, Any],
    error: type[Exception], text: str,
) -> None:
    backend.reply_json("start", script)
    with pytest.raises(error, match=text):
        await remotion.render_media(**MINIMAL)


async def test_unhandled_and_empty_replies(
    remotion: RemotionLambda, backend: ScriptedLambdaBackend
) -> None:
    backend.reply_unhandled("status", "Error", "No render with ID k1a2b3c4d5")
    with pytest.raises(FunctionInvocationError, match="No render with ID"):
        await remotion.get_progress("k1a2b3c4d5", bucket_name=BUCKET, via="lambda")
    backend.reply_raw("info", b"")
    with pytest.raises(InvalidReplyError, match="no payload"):
        await remotion.function_version()


async def test_unknown_function_says_how_to_fix_it(
    remotion: RemotionLambda, backend: ScriptedLambdaBackend
) -> None:
    backend.not_found("start")
    with pytest.raises(RemotionError, match=r"was not found.*Deploy it"):
        await remotion.render_media(**MINIMAL)


async def test_large_props_create_the_bucket_and_travel_through_s3(
    remotion: RemotionLambda, backend: ScriptedLambdaBackend, lambda_server: LambdaApiServer,
    s3_sync: Any,
) -> None:
    backend.reply_json("start", start_reply(bucket="remotionlambda-useast1-zzzzzzzzzz"))
    big = {"rows": ["x" * 1000] * 250}
    await remotion.render_media(**MINIMAL, input_props=big)
    [bucket] = [b["Name"] for b in s3_sync.list_buckets()["Buckets"]]
    assert bucket.startswith("remotionlambda-useast1-")
    payload = lambda_server.invocations[0].payload_json
    assert payload["inputProps"]["type"] == "bucket-url"
    assert payload["inputProps"]["bucketName"] == bucket == payload["bucketName"]
    key = f"input-props/{payload['inputProps']['hash']}.json"
    stored = s3_sync.get_object(Bucket=bucket, Key=key)
    assert json.loads(stored["Body"].read()) == big
    assert stored["ContentType"] == "application/json"
    # the bucket was set up like Remotion's: a public-read policy for objects
    policy = json.loads(s3_sync.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Sid"] == "PublicReadGetObject"


async def test_bucket_discovery(remotion: RemotionLambda, s3_sync: Any) -> None:
    assert await remotion.find_bucket() is None
    s3_sync.create_bucket(Bucket="remotionlambda-useast1-aaaaaaaaaa")
    s3_sync.create_bucket(Bucket="unrelated-bucket")
    s3_sync.create_bucket(Bucket="remotionlambda-euwest1-bbbbbbbbbb",
                          CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert await remotion.find_bucket() == "remotionlambda-useast1-aaaaaaaaaa"
    assert await remotion.get_or_create_bucket() == "remotionlambda-useast1-aaaaaaaaaa"
    s3_sync.create_bucket(Bucket="remotionlambda-useast1-cccccccccc")
    with pytest.raises(RemotionError, match="multiple buckets"):
        await remotion.find_bucket()


# ---------------------------------------------------------------- stills


async def test_still_stream_error_is_raised(
    remotion: RemotionLambda, backend: ScriptedLambdaBackend
) -> None:
    frames = (encode_stream_message("render-id-determined", {"renderId": "abcdefghij"})
              + encode_stream_message("error-occurred", {
                  "error": "Error: Could not find composition with ID Thumb",
                  "shouldRetry": False, "errorInfo": {}}))
    backend.reply_stream("still", [frames])
    with pytest.raises(RemotionFunctionError, match="Could not find composition"):
        await remotion.render_still(serve_url="my-site", composition="Thumb")


async def test_still_unhandled_stream_error(
    remotion: RemotionLambda, backend: ScriptedLambdaBackend
) -> None:
    backend.reply_stream("still", [b""], error_code="Unhandled", error_details="boom")
    with pytest.raises(FunctionInvocationError, match="unhandled error: boom"):
        await remotion.render_still(serve_url="my-site", composition="Thumb")


async def test_still_without_streaming(
    remotion: RemotionLambda, backend: ScriptedLambdaBackend, lambda_server: LambdaApiServer
) -> None:
    backend.reply_json("still", {
        "type": "success", "output": "https://s3.us-east-1.amazonaws.com/b/renders/x/out.png",
        "size": 10, "sizeInBytes": 10, "bucketName": BUCKET,
        "estimatedPrice": {"accruedSoFar": 0, "displayCost": "<$0.001", "currency": "USD",
                           "disclaimer": "d"},
        "renderId": "abcdefghij", "outKey": "renders/abcdefghij/out.png",
        "receivedArtifacts": []})
    still = await remotion.render_still(serve_url="my-site", composition="Thumb",
                                        streamed=False)
    assert still.url.endswith("out.png")
    [call] = lambda_server.invocations
    assert call.api == "invoke" and call.payload_json["streamed"] is False


# ---------------------------------------------------------------- progress from S3


def put_progress(s3_sync: Any, case: dict[str, Any], bucket: str | None = None) -> None:
    bucket = bucket or case["bucketName"]
    existing = [b["Name"] for b in s3_sync.list_buckets()["Buckets"]]
    if bucket not in existing:
        s3_sync.create_bucket(Bucket=bucket)
    s3_sync.put_object(Bucket=bucket, Key=f"renders/{case['renderId']}/progress.json",
                       Body=json.dumps(case["progressJson"]).encode())


async def progress_client(
    s3: S3Server, lam: LambdaApiServer, now: int
) -> RemotionLambda:
    return RemotionLambda(region=REGION, function_name=FUNCTION,
                          endpoint_urls=endpoints(s3, lam), wall_clock_ms=lambda: now)


async def test_progress_from_s3_matches_the_status_lambda(
    s3: S3Server, s3_sync: Any, lambda_server: LambdaApiServer
) -> None:
    case = PROGRESS_CASES["02-mid-render"]
    put_progress(s3_sync, case)
    async with await progress_client(s3, lambda_server, case["now"]) as remotion:
        progress = await remotion.get_progress(case["renderId"], bucket_name=case["bucketName"])
    assert progress.to_json_dict() == case["expected"]
    assert lambda_server.invocations == []  # no Lambda concurrency used


async def test_done_detected_through_the_output_head(
    s3: S3Server, s3_sync: Any, lambda_server: LambdaApiServer
) -> None:
    case = PROGRESS_CASES["07-done-via-head"]
    put_progress(s3_sync, case)
    async with await progress_client(s3, lambda_server, case["now"]) as remotion:
        progress = await remotion.get_progress(case["renderId"], bucket_name=case["bucketName"])
        assert not progress.done  # the output is not there yet
        s3_sync.put_object(Bucket=case["bucketName"], Key=f"renders/{case['renderId']}/out.mp4",
                           Body=b"\0" * case["headResult"]["ContentLength"])
        progress = await remotion.get_progress(case["renderId"], bucket_name=case["bucketName"])
    assert progress.done
    assert progress.to_json_dict() == case["expected"]


async def test_missing_progress_is_render_not_found(remotion: RemotionLambda,
                                                     s3_sync: Any) -> None:
    s3_sync.create_bucket(Bucket=BUCKET)
    with pytest.raises(RenderNotFoundError, match='No render with ID "k1a2b3c4d5"'):
        await remotion.get_progress("k1a2b3c4d5", bucket_name=BUCKET)


async def test_unsafe_render_id_never_reaches_s3(remotion: RemotionLambda) -> None:
    with pytest.raises(InvalidOptionsError) as info:
        await remotion.get_progress("../../secrets", bucket_name=BUCKET)
    assert info.value.fields == ["render_id"]


async def test_conditional_read_costs_a_304(remotion: RemotionLambda, s3_sync: Any) -> None:
    case = PROGRESS_CASES["02-mid-render"]
    put_progress(s3_sync, case)
    handle = RenderHandle(render_id=case["renderId"], bucket_name=BUCKET, region=REGION,
                          function_name=FUNCTION)
    first = await remotion.progress_reader.read(handle)
    assert first.file is not None and first.etag
    second = await remotion.progress_reader.read(handle, if_none_match=first.etag)
    assert second.not_modified and second.file is None
    put_progress(s3_sync, {**case, "progressJson": {**case["progressJson"], "framesRendered": 30}})
    third = await remotion.progress_reader.read(handle, if_none_match=first.etag)
    assert third.file is not None and third.file.frames_rendered == 30


# ---------------------------------------------------------------- cancel, delete, presign


async def test_cancel_writes_cancel_json(remotion: RemotionLambda, s3_sync: Any) -> None:
    case = PROGRESS_CASES["02-mid-render"]
    put_progress(s3_sync, {**case, "progressJson": {**case["progressJson"],
                                                    "cancellationEnabled": True}})
    await remotion.cancel(case["renderId"], bucket_name=BUCKET)
    body = s3_sync.get_object(Bucket=BUCKET, Key=f"renders/{case['renderId']}/cancel.json")
    assert json.loads(body["Body"].read()) == {"cancelledAt": 1_760_000_008_000}


async def test_cancel_requires_enable_cancellation(remotion: RemotionLambda,
                                                   s3_sync: Any) -> None:
    case = PROGRESS_CASES["02-mid-render"]
    put_progress(s3_sync, case)
    with pytest.raises(RemotionError, match="not started with enableCancellation: true"):
        await remotion.cancel(case["renderId"], bucket_name=BUCKET)


async def test_delete_render_frees_its_objects_only(remotion: RemotionLambda,
                                                    s3_sync: Any) -> None:
    case = PROGRESS_CASES["07-done-via-head"]
    put_progress(s3_sync, case)
    render = case["renderId"]
    s3_sync.put_object(Bucket=BUCKET, Key=f"renders/{render}/out.mp4", Body=b"v" * 1000)
    s3_sync.put_object(Bucket=BUCKET, Key=f"renders/{render}/artifacts/a.txt", Body=b"a" * 10)
    s3_sync.put_object(Bucket=BUCKET, Key=f"renders/{render}x/progress.json", Body=b"{}")
    freed = await remotion.delete_render(render, bucket_name=BUCKET)
    progress_size = len(json.dumps(case["progressJson"]).encode())
    assert freed == 1000 + 10 + progress_size
    left = [o["Key"] for o in s3_sync.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert left == [f"renders/{render}x/progress.json"]


async def test_presigned_url_downloads(remotion: RemotionLambda, s3_sync: Any) -> None:
    s3_sync.create_bucket(Bucket=BUCKET)
    s3_sync.put_object(Bucket=BUCKET, Key="renders/k1a2b3c4d5/out.mp4", Body=b"video")
    url = await remotion.presign_url(BUCKET, "renders/k1a2b3c4d5/out.mp4", expires_in=60)
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        assert await response.read() == b"video"
    with pytest.raises(InvalidOptionsError, match="expires_in"):
        await remotion.presign_url(BUCKET, "k", expires_in=0)


# ---------------------------------------------------------------- info and compositions


async def test_function_version_and_compositions(
    remotion: RemotionLambda, backend: ScriptedLambdaBackend, lambda_server: LambdaApiServer
) -> None:
    backend.reply_json("info", {"version": "4.0.527", "type": "success"})
    assert await remotion.function_version() == "4.0.527"
    backend.reply_json("compositions", {"type": "success", "compositions": [{"id": "MyComp"}]})
    assert await remotion.get_compositions(serve_url="my-site") == [{"id": "MyComp"}]
    info, comps = lambda_server.invocations
    assert info.payload_json == {"type": "info", "logLevel": "info"}
    assert comps.payload_json["type"] == "compositions"
    assert comps.payload_json["version"] == "4.0.527"


# ---------------------------------------------------------------- credentials


async def test_no_credentials_names_the_settings_and_the_emulator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(CredentialsMissingError, match=r"^No AWS credentials were found") as info:
        async with RemotionLambda(region=REGION, function_name=FUNCTION,
                                  endpoint_urls={"lambda": "http://127.0.0.1:9",
                                                 "s3": "http://127.0.0.1:9"}):
            pass
    for named in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE",
                  "REMOTION_AWS_ACCESS_KEY_ID", "REMOTION_AWS_SECRET_ACCESS_KEY",
                  "--local", "aioremotion emulator", "RemotionEmulator"):
        assert named in str(info.value), named


async def test_remotion_credentials_take_precedence(
    monkeypatch: pytest.MonkeyPatch, remotion: RemotionLambda, s3: S3Server,
    lambda_server: LambdaApiServer, backend: ScriptedLambdaBackend,
) -> None:
    monkeypatch.setenv("REMOTION_AWS_ACCESS_KEY_ID", "AKIAREMOTIONKEY")
    monkeypatch.setenv("REMOTION_AWS_SECRET_ACCESS_KEY", "remotion-secret")
    backend.reply_json("info", {"version": "4.0.527", "type": "success"})
    async with RemotionLambda(region=REGION, function_name=FUNCTION,
                              endpoint_urls=endpoints(s3, lambda_server)) as client:
        await client.function_version()
    authorization = lambda_server.invocations[-1].headers["Authorization"]
    assert "Credential=AKIAREMOTIONKEY/" in authorization


def test_protocol_core_does_not_import_io_libraries() -> None:
    import subprocess
    import sys

    code = (
        "import sys, aioremotion.protocol.options, aioremotion.protocol.payloads, "
        "aioremotion.protocol.progress, aioremotion.protocol.replies, "
        "aioremotion.protocol.pricing, aioremotion.protocol.naming, aioremotion.protocol.props, "
        "aioremotion.protocol.option_kwargs\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('aiobotocore', 'anyio', "
        "'botocore', 'aiohttp', 'asyncio')]\n"
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, f"the protocol core imported {done.stdout}"


async def test_options_the_function_version_lacks_fail_before_any_call(
    s3: S3Server, lambda_server: LambdaApiServer, s3_sync: Any
) -> None:
    name = "remotion-render-4-0-491-mem2048mb-disk2048mb-120sec"
    async with RemotionLambda(region="us-east-1", function_name=name,
                              remotion_version="4.0.491",
                              endpoint_urls=endpoints(s3, lambda_server)) as client:
        with pytest.raises(InvalidOptionsError) as info:
            await client.render_media(**MINIMAL, enable_cancellation=True,
                                      input_props={"big": "x" * 300_000})
    assert info.value.problems == [
        ("enable_cancellation", "needs Remotion 4.0.515 or later; the function is 4.0.491")]
    assert lambda_server.invocations == []
    assert s3_sync.list_buckets()["Buckets"] == []  # no props upload, no bucket


async def test_payloads_carry_the_keys_of_the_function_version(
    s3: S3Server, lambda_server: LambdaApiServer, backend: ScriptedLambdaBackend
) -> None:
    name = "remotion-render-4-0-403-mem2048mb-disk2048mb-120sec"
    backend.reply_json("start", start_reply())
    async with RemotionLambda(region="us-east-1", function_name=name,
                              remotion_version="4.0.403",
                              endpoint_urls=endpoints(s3, lambda_server)) as client:
        await client.render_media(**MINIMAL)
    payload = lambda_server.invocations_of("start")[0].payload_json
    assert payload["version"] == "4.0.403" and payload["apiKey"] is None
    assert not {"gopSize", "sampleRate", "enableCancellation", "output"} & set(payload)
