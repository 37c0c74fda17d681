"""FaultyProxy: S3 faults injected into real HTTP traffic between aiobotocore and moto."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.retries.standard import ExponentialBackoff

from aioremotion.emulator.s3_server import S3Server
from aioremotion.testing import FaultyProxy

BUCKET = "remotionlambda-useast1-abcdef1234"
KEY = "renders/abc/progress.json"
OTHER_KEY = "renders/abc/out.mp4"
BODY = b'{"done":false}'


def s3_config(*, attempts: int = 1, **kwargs: Any) -> AioConfig:
    return AioConfig(
        s3={"addressing_style": "path"},
        retries={"total_max_attempts": attempts, "mode": "standard"},
        **kwargs,
    )


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture
async def proxy(s3_server: S3Server) -> AsyncIterator[FaultyProxy]:
    await s3_server.areset()
    async with FaultyProxy(s3_server.endpoint_url) as proxy:
        yield proxy


def make_client(proxy: FaultyProxy, config: AioConfig | None = None) -> Any:
    return get_session().create_client(
        "s3",
        endpoint_url=proxy.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config or s3_config(),
    )


@pytest.fixture
async def s3(proxy: FaultyProxy) -> AsyncIterator[Any]:
    async with make_client(proxy) as client:
        await client.create_bucket(Bucket=BUCKET)
        await client.put_object(Bucket=BUCKET, Key=KEY, Body=BODY)
        await client.put_object(Bucket=BUCKET, Key=OTHER_KEY, Body=b"mp4")
        proxy.clear_requests()
        yield client


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard retries without their jittered sleeps."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)


async def get_body(s3: Any, key: str = KEY, **kwargs: Any) -> bytes:
    response = await s3.get_object(Bucket=BUCKET, Key=key, **kwargs)
    async with response["Body"] as body:
        data: bytes = await body.read()
    return data


# -- pass-through -----------------------------------------------------------


def test_the_old_name_still_works() -> None:
    from aioremotion.testing import FaultyS3Proxy
    from aioremotion.testing.proxy import FaultyS3Proxy as deep

    assert FaultyS3Proxy is FaultyProxy is deep


async def test_binds_loopback_on_a_free_port(proxy: FaultyProxy) -> None:
    assert proxy.endpoint_url == f"http://127.0.0.1:{proxy.port}"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        assert probe.connect_ex(("127.0.0.1", proxy.port)) == 0


async def test_put_get_head_list_pass_through(proxy: FaultyProxy) -> None:
    async with make_client(proxy) as s3:
        await s3.create_bucket(Bucket=BUCKET)
        put = await s3.put_object(Bucket=BUCKET, Key=KEY, Body=BODY)
        await s3.put_object(Bucket=BUCKET, Key="renders/abc/empty", Body=b"")

        got = await s3.get_object(Bucket=BUCKET, Key=KEY)
        async with got["Body"] as body:
            assert await body.read() == BODY
        assert got["ETag"] == put["ETag"]
        assert got["ContentLength"] == len(BODY)
        assert await get_body(s3, "renders/abc/empty") == b""

        head = await s3.head_object(Bucket=BUCKET, Key=KEY)
        assert head["ContentLength"] == len(BODY)
        assert head["ETag"] == put["ETag"]

        listed = await s3.list_objects_v2(Bucket=BUCKET, Prefix="renders/abc/")
        assert sorted(item["Key"] for item in listed["Contents"]) == [
            "renders/abc/empty",
            KEY,
        ]

        with pytest.raises(ClientError) as missing:
            await s3.get_object(Bucket=BUCKET, Key="renders/abc/nope.json")
        assert missing.value.response["Error"]["Code"] == "NoSuchKey"

    assert [(r.method, r.status, r.fault) for r in proxy.requests] == [
        ("PUT", 200, None),
        ("PUT", 200, None),
        ("PUT", 200, None),
        ("GET", 200, None),
        ("GET", 200, None),
        ("HEAD", 200, None),
        ("GET", 200, None),
        ("GET", 404, None),
    ]
    listing = proxy.requests[6]
    assert listing.path == f"/{BUCKET}"
    assert "list-type=2" in listing.query
    assert "prefix=renders/abc/" in listing.query


async def test_conditional_get_passes_304_through(s3: Any, proxy: FaultyProxy) -> None:
    head = await s3.head_object(Bucket=BUCKET, Key=KEY)
    with pytest.raises(ClientError) as not_modified:
        await s3.get_object(Bucket=BUCKET, Key=KEY, IfNoneMatch=head["ETag"])
    assert not_modified.value.response["Error"]["Code"] == "304"
    assert not_modified.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304

    conditional = proxy.filter(method="GET", status=304)
    assert len(conditional) == 1
    assert conditional[0].headers["If-None-Match"] == head["ETag"]


async def test_relayed_headers_have_one_server_and_exact_framing(
    s3: Any, proxy: FaultyProxy
) -> None:
    # moto sends werkzeug's Server header and its own: the proxy relays one.
    url = await s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": KEY})
    assert url.startswith(proxy.endpoint_url)
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        assert await response.read() == BODY
        names = [name.lower() for name, _ in response.raw_headers]
    assert names.count(b"server") == 1
    assert names.count(b"content-length") == 1
    assert b"transfer-encoding" not in names
    assert b"connection" not in names or response.headers["Connection"] == "keep-alive"


# -- fail ---------------------------------------------------------------------


async def test_fail_slowdown_surfaces_as_client_error(s3: Any, proxy: FaultyProxy) -> None:
    rule = proxy.fail(status=503, code="SlowDown", times=2, match="progress.json")

    for _ in range(2):
        with pytest.raises(ClientError) as slow_down:
            await s3.get_object(Bucket=BUCKET, Key=KEY)
        error = slow_down.value.response
        assert error["Error"]["Code"] == "SlowDown"
        assert error["Error"]["Message"] == "Please reduce your request rate."
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert error["ResponseMetadata"]["RequestId"]

    # Other keys are untouched while armed; the rule is used up after 2 requests.
    assert await get_body(s3, OTHER_KEY) == b"mp4"
    assert await get_body(s3) == BODY
    assert (rule.remaining, rule.applied) == (0, 2)
    assert proxy.active_rules == []
    assert proxy.count(fault="fail", status=503) == 2
    assert proxy.count(fault=False) == 2


async def test_fail_internal_error_defaults(s3: Any, proxy: FaultyProxy) -> None:
    proxy.fail(500, match="progress.json")
    with pytest.raises(ClientError) as internal:
        await s3.get_object(Bucket=BUCKET, Key=KEY)
    assert internal.value.response["Error"]["Code"] == "InternalError"
    assert internal.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


async def test_fail_head_has_no_body_so_code_is_the_status(s3: Any, proxy: FaultyProxy) -> None:
    proxy.fail(503, "SlowDown", method="HEAD")
    with pytest.raises(ClientError) as slow_down:
        await s3.head_object(Bucket=BUCKET, Key=KEY)
    assert slow_down.value.response["Error"]["Code"] == "503"
    assert slow_down.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


async def test_fail_matches_method_and_regex(s3: Any, proxy: FaultyProxy) -> None:
    proxy.fail(503, "SlowDown", method="put", match=re.compile(r"progress\.json$"))

    assert await get_body(s3) == BODY  # GET: wrong method
    await s3.put_object(Bucket=BUCKET, Key=KEY + ".bak", Body=b"x")  # regex anchored
    with pytest.raises(ClientError) as slow_down:
        await s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"{}")
    assert slow_down.value.response["Error"]["Code"] == "SlowDown"
    assert await get_body(s3) == BODY  # the failed PUT never reached S3


async def test_standard_retries_absorb_two_slowdowns(
    proxy: FaultyProxy, s3: Any, no_backoff: None
) -> None:
    proxy.fail(503, "SlowDown", times=2, match="progress.json")
    async with make_client(proxy, s3_config(attempts=3)) as retrying:
        response = await retrying.get_object(Bucket=BUCKET, Key=KEY)
        async with response["Body"] as body:
            assert await body.read() == BODY
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert [(r.status, r.fault) for r in proxy.requests] == [
        (503, "fail"),
        (503, "fail"),
        (200, None),
    ]


# -- reset_connection -------------------------------------------------------------


async def test_reset_connection_surfaces_as_connection_closed(
    s3: Any, proxy: FaultyProxy
) -> None:
    rule = proxy.reset_connection(match="progress.json")
    with pytest.raises(ConnectionClosedError) as closed:
        await s3.get_object(Bucket=BUCKET, Key=KEY)
    assert isinstance(closed.value.kwargs["error"], aiohttp.ServerDisconnectedError)

    # aiohttp resent the idempotent GET once on a new connection: dropped too,
    # as the same attempt, without using up the rule a second time.
    assert [(r.method, r.status, r.fault) for r in proxy.requests] == [
        ("GET", None, "reset"),
        ("GET", None, "reset"),
    ]
    assert (rule.remaining, rule.applied) == (0, 2)
    assert await get_body(s3) == BODY


async def test_reset_connection_with_rst(s3: Any, proxy: FaultyProxy) -> None:
    proxy.reset_connection(match="progress.json", rst=True)
    with pytest.raises(EndpointConnectionError) as reset:
        await s3.get_object(Bucket=BUCKET, Key=KEY)
    assert isinstance(reset.value.kwargs["error"], aiohttp.ClientOSError)
    assert await get_body(s3) == BODY


async def test_reset_connection_per_request_is_hidden_by_aiohttp_resend(
    s3: Any, proxy: FaultyProxy
) -> None:
    proxy.reset_connection(match="progress.json", per_attempt=False)
    assert await get_body(s3) == BODY
    assert [(r.status, r.fault) for r in proxy.requests] == [(None, "reset"), (200, None)]


async def test_standard_retries_recover_from_reset(
    proxy: FaultyProxy, s3: Any, no_backoff: None
) -> None:
    proxy.reset_connection(match="progress.json")
    async with make_client(proxy, s3_config(attempts=3)) as retrying:
        response = await retrying.get_object(Bucket=BUCKET, Key=KEY)
        async with response["Body"] as body:
            assert await body.read() == BODY
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert proxy.count(fault="reset") == 2
    assert proxy.count(status=200) == 1


# -- delay ---------------------------------------------------------------------


async def test_delay_still_answers(s3: Any, proxy: FaultyProxy) -> None:
    proxy.delay(0.1, match="progress.json")
    assert await get_body(s3) == BODY
    assert [(r.status, r.fault) for r in proxy.requests] == [(200, "delay")]


async def test_delay_past_read_timeout_and_clean_close(proxy: FaultyProxy) -> None:
    tasks_before = asyncio.all_tasks()
    async with make_client(proxy, s3_config(read_timeout=0.2)) as s3:
        await s3.create_bucket(Bucket=BUCKET)
        proxy.delay(30, method="PUT", match="progress.json")
        with pytest.raises(ReadTimeoutError):
            await s3.put_object(Bucket=BUCKET, Key=KEY, Body=BODY)
        # The request was forwarded at once: only the answer is held back.
        assert await get_body(s3) == BODY
    # close() cancels the held response instead of waiting 30 s.
    await asyncio.wait_for(proxy.close(), timeout=5)
    assert proxy.requests[-2].fault == "delay"
    assert asyncio.all_tasks() <= tasks_before
    with pytest.raises(RuntimeError):
        _ = proxy.endpoint_url
    await proxy.close()  # idempotent


# -- corrupt_body ------------------------------------------------------------------


async def test_corrupt_body_returns_garbage(s3: Any, proxy: FaultyProxy) -> None:
    head = await s3.head_object(Bucket=BUCKET, Key=KEY)
    rule = proxy.corrupt_body(match="progress.json", body=b"{not json")

    # Neither HEAD nor a 304 uses the rule up: only a GET answered with 200.
    assert (await s3.head_object(Bucket=BUCKET, Key=KEY))["ETag"] == head["ETag"]
    with pytest.raises(ClientError):
        await s3.get_object(Bucket=BUCKET, Key=KEY, IfNoneMatch=head["ETag"])
    assert rule.remaining == 1

    corrupted = await s3.get_object(Bucket=BUCKET, Key=KEY)
    async with corrupted["Body"] as body:
        assert await body.read() == b"{not json"
    assert corrupted["ContentLength"] == len(b"{not json")
    assert corrupted["ETag"] != head["ETag"]
    assert not any(
        name.startswith("x-amz-checksum-") for name in corrupted["ResponseMetadata"]["HTTPHeaders"]
    )

    assert await get_body(s3) == BODY
    assert [(r.method, r.status, r.fault) for r in proxy.requests] == [
        ("HEAD", 200, None),
        ("HEAD", 200, None),
        ("GET", 304, None),
        ("GET", 200, "corrupt"),
        ("GET", 200, None),
    ]


async def test_corrupt_body_with_a_function(s3: Any, proxy: FaultyProxy) -> None:
    proxy.corrupt_body(match="progress.json", body=lambda original: original[:5])
    assert await get_body(s3) == BODY[:5]


# -- request log ------------------------------------------------------------------------


async def test_request_log_counts(s3: Any, proxy: FaultyProxy) -> None:
    head = await s3.head_object(Bucket=BUCKET, Key=KEY)
    for _ in range(3):
        with pytest.raises(ClientError):
            await s3.get_object(Bucket=BUCKET, Key=KEY, IfNoneMatch=head["ETag"])
    proxy.fail(503, "SlowDown", match="progress.json")
    with pytest.raises(ClientError):
        await s3.get_object(Bucket=BUCKET, Key=KEY)
    assert await get_body(s3, OTHER_KEY) == b"mp4"

    assert len(proxy.requests) == 6
    assert proxy.count(method="GET", match="progress.json", status=304) == 3
    assert proxy.count(method="get", match="progress.json") == 4
    assert proxy.count(match=re.compile(r"\.mp4$")) == 1
    assert proxy.count(fault=True) == 1
    assert proxy.count(fault="fail", status=503) == 1
    assert proxy.count(fault=False) == 5
    assert proxy.count(method="HEAD") == 1
    stamps = [r.timestamp for r in proxy.requests]
    assert stamps == sorted(stamps)
    assert all(r.faulted == (r.fault is not None) for r in proxy.requests)

    proxy.clear_requests()
    assert proxy.requests == []
    assert proxy.count() == 0


async def test_clear_faults_disarms(s3: Any, proxy: FaultyProxy) -> None:
    proxy.fail(503, times=5)
    proxy.reset_connection(times=5)
    proxy.clear_faults()
    assert await get_body(s3) == BODY


async def test_arming_validates(proxy: FaultyProxy) -> None:
    with pytest.raises(ValueError, match="times"):
        proxy.fail(503, times=0)
    with pytest.raises(ValueError, match="status"):
        proxy.fail(200)
    with pytest.raises(ValueError, match="seconds"):
        proxy.delay(-1)
    assert proxy.rules == []


async def test_upstream_down_is_a_502() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    async with (
        FaultyProxy(f"http://127.0.0.1:{dead_port}") as proxy,
        make_client(proxy) as s3,
    ):
        with pytest.raises(ClientError) as bad_gateway:
            await s3.head_bucket(Bucket=BUCKET)
        assert bad_gateway.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502
        assert proxy.requests[0].status == 502
