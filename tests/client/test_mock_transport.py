"""Fast unit tests of the client on a MockTransport (no server, no network), and of the
one retry layer."""

from __future__ import annotations

import json
import random
import socket
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from aioremotion import RemotionLambda, RenderHandle
from aioremotion.errors import (
    BucketNotFoundError,
    ConcurrencyLimitError,
    FunctionNotFoundError,
    RenderNotFoundError,
    RequestNotSentError,
    StartOutcomeUnknownError,
    TransientError,
)
from aioremotion.retry import ThrottleRetry, backoff, retry_throttled
from aioremotion.transport import AiobotocoreTransport, AwsFailure, MockTransport, Transport

from .conftest import BUCKET, FUNCTION, REGION, SleepRecorder, start_reply

MINIMAL = {"serve_url": "my-site", "composition": "MyComp", "codec": "h264"}
PROGRESS = {"framesRendered": 12, "chunks": [0], "lambdasInvoked": 2,
            "cancellationEnabled": True}


def client(mock: MockTransport, sleeps: SleepRecorder | None = None,
           **kwargs: Any) -> RemotionLambda:
    return RemotionLambda(region=REGION, function_name=FUNCTION, transport=mock,
                          sleep=sleeps or SleepRecorder(), wall_clock_ms=lambda: 1_760_000_008_000,
                          **kwargs)


def handle(render_id: str = "k1a2b3c4d5") -> RenderHandle:
    return RenderHandle(render_id=render_id, bucket_name=BUCKET, region=REGION,
                        function_name=FUNCTION)


def test_both_transports_implement_the_interface() -> None:
    assert isinstance(MockTransport(), Transport)
    from aioremotion._aws import AwsSettings

    assert isinstance(AiobotocoreTransport(AwsSettings(region=REGION)), Transport)


async def test_a_start_on_the_mock() -> None:
    mock = MockTransport(region=REGION)
    mock.reply("start", start_reply())
    async with client(mock) as remotion:
        render = await remotion.render_media(**MINIMAL, input_props={"title": "Hi"})
    assert (render.render_id, render.bucket_name) == ("k1a2b3c4d5", BUCKET)
    [sent] = mock.invocations
    assert (sent.function_name, sent.routine, sent.api) == (FUNCTION, "start", "invoke")
    assert sent.payload_json["composition"] == "MyComp"
    assert not mock.is_open  # closed with the client


async def test_throttled_for_good_is_sent_exactly_attempts_times() -> None:
    mock = MockTransport(region=REGION)
    mock.throttle("start", 100)
    sleeps = SleepRecorder()
    async with client(mock, sleeps, throttle_retry=ThrottleRetry(attempts=7)) as remotion:
        with pytest.raises(ConcurrencyLimitError) as info:
            await remotion.render_media(**MINIMAL)
    assert info.value.attempts == 7 and "tried 7 times" in str(info.value)
    assert info.value.reason == "ConcurrentInvocationLimitExceeded"
    assert len(mock.invocations_of("start")) == 7
    assert len(sleeps.delays) == 6
    assert all(0 <= d <= backoff(n, base_s=0.1, cap_s=30)
               for n, d in enumerate(sleeps.delays, start=1))


async def test_a_throttle_then_success_and_a_per_call_budget() -> None:
    mock = MockTransport(region=REGION)
    mock.throttle("start", 2)
    mock.reply("start", start_reply())
    async with client(mock) as remotion:
        assert (await remotion.render_media(**MINIMAL)).render_id == "k1a2b3c4d5"
        mock.throttle("start", 1)
        with pytest.raises(ConcurrencyLimitError) as info:  # one attempt, as Batch asks
            await remotion.render_media(MINIMAL, throttle_retry=ThrottleRetry(attempts=1))
    assert info.value.attempts == 1
    assert len(mock.invocations_of("start")) == 4


async def test_lost_and_unsent_starts_are_never_retried() -> None:
    mock = MockTransport(region=REGION)
    refused = EndpointConnectionError(endpoint_url="https://lambda",
                                      error=socket.gaierror(-2, "Name or service not known"))
    mock.fail("start", refused)
    mock.fail("start", ConnectionResetError(104, "Connection reset by peer"))
    async with client(mock) as remotion:
        with pytest.raises(RequestNotSentError, match="never sent, so nothing was started"):
            await remotion.render_media(**MINIMAL)
        with pytest.raises(StartOutcomeUnknownError, match="not retried") as info:
            await remotion.render_media(**MINIMAL, force_bucket_name=BUCKET)
    assert info.value.bucket_name == BUCKET and info.value.payload_type == "start"
    assert len(mock.invocations_of("start")) == 2


async def test_aws_failures_are_mapped_as_the_real_transport_maps_them() -> None:
    mock = MockTransport(region=REGION)
    mock.fail("info", AwsFailure(404, "ResourceNotFoundException", "Function not found"))
    async with client(mock) as remotion:
        with pytest.raises(FunctionNotFoundError, match="Deploy it"):
            await remotion.function_version()
        with pytest.raises(BucketNotFoundError):
            await remotion.get_progress(handle())
        mock.add_bucket(BUCKET)
        with pytest.raises(RenderNotFoundError):
            await remotion.get_progress(handle())
        mock.put(BUCKET, "renders/k1a2b3c4d5/progress.json", PROGRESS)
        mock.fail_s3("GetObject", AwsFailure(503, "SlowDown"), bucket=BUCKET)
        with pytest.raises(TransientError):
            await remotion.get_progress(handle())
        progress = await remotion.get_progress(handle())
    assert progress.frames_rendered == 12 and not progress.done


async def test_progress_reads_are_conditional() -> None:
    mock = MockTransport(region=REGION)
    mock.put(BUCKET, "renders/k1a2b3c4d5/progress.json", PROGRESS)
    async with client(mock) as remotion:
        reader = remotion.progress_reader
        first = await reader.read(handle())
        again = await reader.read(handle(), if_none_match=first.etag)
    assert first.file is not None and first.file.frames_rendered == 12
    assert again.not_modified and again.file is None


async def test_large_props_create_the_bucket_cancel_and_delete() -> None:
    mock = MockTransport(region=REGION)
    mock.reply("start", start_reply(bucket="remotionlambda-useast1-zzzzzzzzzz"))
    async with client(mock) as remotion:
        await remotion.render_media(**MINIMAL, input_props={"rows": ["x" * 1000] * 250})
        [bucket] = list(mock.buckets)
        assert bucket.startswith("remotionlambda-useast1-")
        [key] = mock.objects(bucket)
        assert key.startswith("input-props/")
        assert json.loads(mock.bucket_policies[bucket])["Statement"][0]["Sid"] == \
            "PublicReadGetObject"
        payload = mock.invocations[0].payload_json
        assert payload["inputProps"]["type"] == "bucket-url"

        mock.put(BUCKET, "renders/k1a2b3c4d5/progress.json", PROGRESS)
        mock.put(BUCKET, "renders/k1a2b3c4d5x/progress.json", PROGRESS)
        await remotion.cancel("k1a2b3c4d5", bucket_name=BUCKET)
        cancel = mock.objects(BUCKET)["renders/k1a2b3c4d5/cancel.json"]
        assert json.loads(cancel.body) == {"cancelledAt": 1_760_000_008_000}
        assert await remotion.delete_render(handle()) == 0  # no metadata yet: untouched
        url = await remotion.presign_url(BUCKET, "renders/k1a2b3c4d5/out.mp4", expires_in=60)
    assert "X-Amz-Expires=60" in url
    assert "renders/k1a2b3c4d5x/progress.json" in mock.objects(BUCKET)


async def test_a_still_over_the_stream() -> None:
    from aioremotion.protocol.replies import encode_stream_message

    mock = MockTransport(region="eu-central-1")
    result = {"type": "success", "output": "https://x/out.png", "size": 10,
              "bucketName": BUCKET, "renderId": "abcdefghij", "outKey": "renders/a/out.png",
              "estimatedPrice": {"accruedSoFar": 0, "displayCost": "<$0.001",
                                 "currency": "USD", "disclaimer": "d"},
              "receivedArtifacts": []}
    mock.reply_stream("still", [encode_stream_message("render-id-determined",
                                                      {"renderId": "abcdefghij"}),
                                encode_stream_message("still-rendered", result)])
    async with RemotionLambda(region="eu-central-1", function_name=FUNCTION,
                              transport=mock) as remotion:
        still = await remotion.render_still(serve_url="my-site", composition="Thumb")
    assert still.url == "https://x/out.png" and mock.invocations[0].api == "stream"


# ---------------------------------------------------------------- the retry layer itself


def test_backoff_is_capped_full_jitter() -> None:
    assert [backoff(n, base_s=0.1, cap_s=30) for n in range(1, 12)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30, 30])
    assert backoff(1000, base_s=0.1, cap_s=30) == 30
    assert backoff(3, base_s=1, cap_s=30, jitter=0.25) == 1.0
    with pytest.raises(ValueError, match="from 1"):
        backoff(0, base_s=1, cap_s=2)
    with pytest.raises(ValueError, match="at least 1"):
        ThrottleRetry(attempts=0)
    default = ThrottleRetry()
    worst = sum(backoff(n, base_s=default.base_s, cap_s=default.cap_s)
                for n in range(1, default.attempts))
    assert default.attempts == 10 and worst == pytest.approx(51.1)  # as documented


async def test_retry_throttled_only_retries_throttles() -> None:
    calls = 0
    throttles = 0
    sleeps = SleepRecorder()

    async def throttled() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConcurrencyLimitError("429", original="TooManyRequestsException: Rate")
        return "ok"

    def counted() -> None:
        nonlocal throttles
        throttles += 1

    assert await retry_throttled(throttled, ThrottleRetry(attempts=3), sleep=sleeps,
                                 rng=random.Random(1), on_throttle=counted) == "ok"
    assert (calls, throttles, len(sleeps.delays)) == (3, 2, 2)

    async def other() -> str:
        raise TransientError("503")

    with pytest.raises(TransientError):
        await retry_throttled(other, ThrottleRetry(attempts=5), sleep=sleeps)
    assert len(sleeps.delays) == 2  # no wait, no second attempt
