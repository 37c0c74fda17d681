"""Every AWS failure a user can meet reaches them as a typed error that says what to do,
never as a botocore or aiohttp exception: checked on real loopback servers (moto's S3,
a fault-injecting proxy in front of it, a scripted Lambda API, a scripted S3 that
answers with redirects), and the mapping table itself as a pure function."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from aiohttp import web
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from aioremotion import RemotionLambda, RenderHandle
from aioremotion.emulator.backend import LambdaApiError
from aioremotion.emulator.lambda_api import LambdaApiServer
from aioremotion.emulator.s3_server import S3Server
from aioremotion.errors import (
    AccessDeniedError,
    AwsError,
    BucketNotFoundError,
    ConcurrencyLimitError,
    CredentialsError,
    CredentialsExpiredError,
    CredentialsInvalidError,
    CredentialsMissingError,
    FunctionNotFoundError,
    ObjectNotFoundError,
    RemotionError,
    RenderNotFoundError,
    RequestNotSentError,
    RequestTimeoutError,
    StartOutcomeUnknownError,
    TransientError,
    WrongRegionError,
    is_transient,
)
from aioremotion.testing import FaultyS3Proxy
from aioremotion.testing.scripted_lambda import (
    ApiErrorReply,
    JsonReply,
    ScriptedLambdaBackend,
)
from aioremotion.transport.errors import (
    RequestContext,
    error_from_exception,
    error_from_response,
)

from .conftest import BUCKET, FUNCTION, REGION, start_reply

MINIMAL = {"serve_url": "my-site", "composition": "MyComp", "codec": "h264"}
GET = RequestContext("s3", "GetObject", REGION, bucket=BUCKET, key="renders/x/progress.json")
INVOKE = RequestContext("lambda", "Invoke", REGION, function_name=FUNCTION, routine="info")
START = RequestContext("lambda", "Invoke", REGION, function_name=FUNCTION, routine="start")


def handle(render_id: str = "k1a2b3c4d5", bucket: str = BUCKET) -> RenderHandle:
    return RenderHandle(render_id=render_id, bucket_name=bucket, region=REGION,
                        function_name=FUNCTION)


def ours(exc: BaseException) -> None:
    """A typed aioremotion error, not one of botocore's or aiohttp's."""
    assert isinstance(exc, RemotionError), type(exc)
    assert type(exc).__module__.startswith("aioremotion."), type(exc)


# ---------------------------------------------------------------- the table, pure


@pytest.mark.parametrize(
    ("context", "status", "code", "expected"),
    [
        (GET, 404, "NoSuchBucket", BucketNotFoundError),
        (GET, 404, "NoSuchKey", ObjectNotFoundError),
        (GET, 403, "AccessDenied", AccessDeniedError),
        (GET, 400, "ExpiredToken", CredentialsExpiredError),
        (GET, 403, "InvalidAccessKeyId", CredentialsInvalidError),
        (GET, 403, "SignatureDoesNotMatch", CredentialsInvalidError),
        (GET, 301, "PermanentRedirect", WrongRegionError),
        (GET, 400, "AuthorizationHeaderMalformed", WrongRegionError),
        (GET, 503, "SlowDown", TransientError),
        (GET, 500, "InternalError", TransientError),
        (GET, 400, "RequestTimeout", TransientError),
        (GET, 400, "InvalidArgument", AwsError),
        (INVOKE, 429, "TooManyRequestsException", ConcurrencyLimitError),
        (INVOKE, 404, "ResourceNotFoundException", FunctionNotFoundError),
        (INVOKE, 403, "UnrecognizedClientException", CredentialsInvalidError),
        (INVOKE, 403, "AccessDeniedException", AccessDeniedError),
        (INVOKE, 403, "ExpiredTokenException", CredentialsExpiredError),
        (INVOKE, 500, "ServiceException", TransientError),
        (START, 500, "ServiceException", StartOutcomeUnknownError),
        (INVOKE, 413, "RequestTooLargeException", AwsError),
    ],
)
def test_the_mapping_table(context: RequestContext, status: int, code: str,
                           expected: type[Exception]) -> None:
    error = error_from_response(context, status=status, code=code, message="m")
    assert type(error) is expected
    if isinstance(error, AwsError):
        assert (error.code, error.status_code) == (code, status)


def test_what_the_messages_say() -> None:
    region = error_from_response(GET, status=400, code="AuthorizationHeaderMalformed",
                                 message="the region 'us-east-1' is wrong; expecting "
                                         "'eu-west-1'")
    assert isinstance(region, WrongRegionError) and region.bucket_region == "eu-west-1"
    assert "region='eu-west-1'" in str(region)
    bucket = error_from_response(GET, status=404, code="NoSuchBucket")
    assert BUCKET in str(bucket) and "bucketName" in str(bucket)
    denied = error_from_response(GET, status=403, code="AccessDenied", message="Access Denied")
    assert "policies" in str(denied)
    throttled = error_from_response(START, status=429, code="TooManyRequestsException",
                                    message="Rate Exceeded.", reason="ConcurrentInvocation")
    assert isinstance(throttled, ConcurrencyLimitError)
    assert throttled.reason == "ConcurrentInvocation" and "nothing was started" in str(throttled)
    assert not is_transient(bucket) and is_transient(error_from_response(GET, status=503))


def test_network_failures_by_the_one_rule() -> None:
    refused = EndpointConnectionError(endpoint_url="http://x",
                                      error=socket.gaierror(-2, "Name or service not known"))
    reset = EndpointConnectionError(endpoint_url="http://x",
                                    error=ConnectionResetError(104, "reset"))
    assert isinstance(error_from_exception(START, refused), RequestNotSentError)
    assert isinstance(error_from_exception(GET, refused), RequestNotSentError)
    assert isinstance(error_from_exception(START, reset), StartOutcomeUnknownError)
    assert isinstance(error_from_exception(GET, reset), TransientError)
    timeout = ReadTimeoutError(endpoint_url="http://x")
    assert isinstance(error_from_exception(START, timeout), StartOutcomeUnknownError)
    assert isinstance(error_from_exception(INVOKE, timeout), RequestTimeoutError)
    assert isinstance(error_from_exception(GET, asyncio.TimeoutError()), RequestTimeoutError)


# ---------------------------------------------------------------- S3, on moto


async def test_missing_bucket_is_typed_and_fast(s3: S3Server,
                                                lambda_server: LambdaApiServer) -> None:
    for fast in (True, False):
        async with RemotionLambda(region=REGION, function_name=FUNCTION,
                                  fast_progress_reads=fast,
                                  endpoint_urls={"s3": s3.endpoint_url,
                                                 "lambda": lambda_server.endpoint_url},
                                  ) as remotion:
            with anyio.fail_after(5), pytest.raises(BucketNotFoundError) as info:
                await remotion.get_progress("k1a2b3c4d5", bucket_name="no-such-bucket-here")
            ours(info.value)
            assert info.value.bucket_name == "no-such-bucket-here"
            with anyio.fail_after(5), pytest.raises(BucketNotFoundError):
                await remotion.delete_render("k1a2b3c4d5", bucket_name="no-such-bucket-here")
            with anyio.fail_after(5), pytest.raises(BucketNotFoundError):
                await remotion.cancel("k1a2b3c4d5", bucket_name="no-such-bucket-here")


@pytest.fixture
async def proxied(s3: S3Server, lambda_server: LambdaApiServer,
                  s3_sync: Any) -> AsyncIterator[tuple[RemotionLambda, FaultyS3Proxy]]:
    s3_sync.create_bucket(Bucket=BUCKET)
    s3_sync.put_object(Bucket=BUCKET, Key="renders/k1a2b3c4d5/progress.json",
                       Body=json.dumps({"framesRendered": 1}).encode())
    async with FaultyS3Proxy(s3.endpoint_url) as proxy, RemotionLambda(
        region=REGION, function_name=FUNCTION, s3_max_attempts=1,
        endpoint_urls={"s3": proxy.endpoint_url, "lambda": lambda_server.endpoint_url},
    ) as remotion:
        yield remotion, proxy


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (403, "AccessDenied", AccessDeniedError),
        (400, "ExpiredToken", CredentialsExpiredError),
        (403, "InvalidAccessKeyId", CredentialsInvalidError),
        (503, "SlowDown", TransientError),
        (500, "InternalError", TransientError),
    ],
)
async def test_s3_error_answers_are_typed(
    proxied: tuple[RemotionLambda, FaultyS3Proxy], status: int, code: str,
    expected: type[Exception],
) -> None:
    remotion, proxy = proxied
    proxy.fail(status, code, times=2, match="progress.json")
    with pytest.raises(expected) as info:
        await remotion.get_progress(handle())
    ours(info.value)
    assert isinstance(info.value, AwsError) and info.value.code == code
    proxy.fail(status, code, times=1, method="PUT")
    with pytest.raises(expected):  # a PUT through aiobotocore maps the same way
        await remotion.transport.put_object(BUCKET, "renders/k1a2b3c4d5/x.json", b"{}")


async def test_a_dropped_connection_while_reading_is_transient(
    proxied: tuple[RemotionLambda, FaultyS3Proxy],
) -> None:
    remotion, proxy = proxied
    proxy.reset_connection(times=1, match="progress.json")
    with pytest.raises(TransientError) as info:
        await remotion.get_progress(handle())
    ours(info.value)
    assert not isinstance(info.value, RequestNotSentError)  # it was sent


async def test_an_s3_that_refuses_connections_was_never_sent(
    lambda_server: LambdaApiServer, s3: S3Server,
) -> None:
    async with FaultyS3Proxy(s3.endpoint_url) as closed:
        endpoint = closed.endpoint_url  # nobody listens there once closed
    async with RemotionLambda(region=REGION, function_name=FUNCTION,
                              endpoint_urls={"s3": endpoint,
                                             "lambda": lambda_server.endpoint_url}) as remotion:
        with anyio.fail_after(5), pytest.raises(RequestNotSentError) as info:
            await remotion.get_progress(handle())
    ours(info.value)
    assert is_transient(info.value)


async def test_missing_object_and_render(s3_sync: Any, proxied: tuple[RemotionLambda,
                                                                       FaultyS3Proxy]) -> None:
    remotion, _ = proxied
    with pytest.raises(RenderNotFoundError) as info:
        await remotion.get_progress(handle("nothere123"))
    assert isinstance(info.value, ObjectNotFoundError)
    with pytest.raises(ObjectNotFoundError):
        await remotion.transport.get_object(BUCKET, "no/such/key")
    assert await remotion.transport.head_object(BUCKET, "no/such/key") is None


# ---------------------------------------------------------------- a bucket in another region


@pytest.fixture
async def redirecting_s3() -> AsyncIterator[str]:
    """An S3 that answers every request as S3 does for a bucket of another region."""
    body = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>PermanentRedirect</Code>'
            b"<Message>The bucket you are attempting to access must be addressed using the "
            b"specified endpoint.</Message><Endpoint>x.s3.eu-west-1.amazonaws.com</Endpoint>"
            b"</Error>")

    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=301, body=body, content_type="application/xml",
                            headers={"x-amz-bucket-region": "eu-west-1"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_a_bucket_in_another_region(redirecting_s3: str,
                                          lambda_server: LambdaApiServer) -> None:
    for fast in (True, False):
        async with RemotionLambda(region=REGION, function_name=FUNCTION, s3_max_attempts=1,
                                  fast_progress_reads=fast,
                                  endpoint_urls={"s3": redirecting_s3,
                                                 "lambda": lambda_server.endpoint_url},
                                  ) as remotion:
            with anyio.fail_after(5), pytest.raises(WrongRegionError) as info:
                await remotion.get_progress(handle())
            ours(info.value)
            assert info.value.bucket_region == "eu-west-1"
            assert "RemotionLambda(region='eu-west-1')" in str(info.value)


# ---------------------------------------------------------------- Lambda, on a scripted API


@pytest.mark.parametrize(
    ("error", "expected", "text"),
    [
        (LambdaApiError(403, "UnrecognizedClientException",
                        "The security token included in the request is invalid."),
         CredentialsInvalidError, "probably mixed up"),
        (LambdaApiError(403, "AccessDeniedException", "User is not authorized to perform: "
                                                      "lambda:InvokeFunction"),
         AccessDeniedError, "lambda:InvokeFunction"),
        (LambdaApiError(403, "ExpiredTokenException", "The security token included in the "
                                                      "request is expired"),
         CredentialsExpiredError, "expired"),
        (LambdaApiError(404, "ResourceNotFoundException", "Function not found: x",
                        message_key="Message"),
         FunctionNotFoundError, "npx remotion lambda functions deploy"),
        (LambdaApiError(500, "ServiceException", "Internal error", fault="Server"),
         TransientError, "try again"),
        (LambdaApiError(409, "ResourceConflictException", "The function is being updated"),
         AwsError, "ResourceConflictException"),
    ],
)
async def test_lambda_error_answers_are_typed(
    remotion: RemotionLambda, backend: ScriptedLambdaBackend, error: LambdaApiError,
    expected: type[Exception], text: str,
) -> None:
    backend.enqueue("info", ApiErrorReply(error))
    with pytest.raises(expected, match=text) as info:
        await remotion.function_version()
    assert type(info.value) is expected
    ours(info.value)


async def test_a_start_answered_with_a_server_error_is_an_unknown_outcome(
    remotion: RemotionLambda, backend: ScriptedLambdaBackend, lambda_server: LambdaApiServer,
) -> None:
    backend.enqueue("start", ApiErrorReply(LambdaApiError(500, "ServiceException", "boom",
                                                          fault="Server")))
    with pytest.raises(StartOutcomeUnknownError):
        await remotion.render_media(**MINIMAL)
    assert len(lambda_server.invocations_of("start")) == 1  # never sent again


async def test_no_answer_to_a_call_that_changes_nothing_is_a_timeout(
    s3: S3Server, lambda_server: LambdaApiServer, backend: ScriptedLambdaBackend,
) -> None:
    never = asyncio.Event()
    backend.enqueue("info", JsonReply({"type": "success", "version": "4.0.527"}, gate=never))
    async with RemotionLambda(region=REGION, function_name=FUNCTION, lambda_read_timeout_s=0.3,
                              endpoint_urls={"s3": s3.endpoint_url,
                                             "lambda": lambda_server.endpoint_url}) as remotion:
        with pytest.raises(RequestTimeoutError) as info:
            await remotion.function_version()
    ours(info.value)
    never.set()


async def test_credentials_errors_share_a_base(remotion: RemotionLambda,
                                               backend: ScriptedLambdaBackend) -> None:
    backend.enqueue("start", ApiErrorReply(LambdaApiError(403, "UnrecognizedClientException",
                                                          "invalid")))
    with pytest.raises(CredentialsError):
        await remotion.render_media(**MINIMAL)
    backend.reply_json("start", start_reply())
    assert (await remotion.render_media(**MINIMAL)).render_id  # the client still works
    assert issubclass(CredentialsMissingError, CredentialsError)
