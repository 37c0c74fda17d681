"""S3Server: moto's server over real HTTP, driven by aiobotocore."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError

from aioremotion.emulator.s3_server import S3Server

S3_CONFIG = Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"})
BUCKET = "remotionlambda-useast1-abcdef1234"


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture
async def s3(s3_server: S3Server) -> AsyncIterator[Any]:
    await s3_server.areset()
    async with get_session().create_client(
        "s3", config=S3_CONFIG, **s3_server.client_kwargs()
    ) as client:
        yield client


def is_listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_binds_loopback_on_a_free_port(s3_server: S3Server) -> None:
    assert s3_server.endpoint_url == f"http://127.0.0.1:{s3_server.port}"
    assert s3_server.port > 0
    assert is_listening(s3_server.port)


async def test_put_get_head(s3: Any) -> None:
    await s3.create_bucket(Bucket=BUCKET)
    put = await s3.put_object(
        Bucket=BUCKET, Key="renders/abc/progress.json", Body=b'{"done":false}'
    )

    got = await s3.get_object(Bucket=BUCKET, Key="renders/abc/progress.json")
    async with got["Body"] as body:
        assert await body.read() == b'{"done":false}'
    assert got["ETag"] == put["ETag"]

    head = await s3.head_object(Bucket=BUCKET, Key="renders/abc/progress.json")
    assert head["ContentLength"] == len(b'{"done":false}')


async def test_conditional_get(s3: Any) -> None:
    await s3.create_bucket(Bucket=BUCKET)
    etag = (await s3.put_object(Bucket=BUCKET, Key="k", Body=b"v1"))["ETag"]

    with pytest.raises(ClientError) as exc_info:
        await s3.get_object(Bucket=BUCKET, Key="k", IfNoneMatch=etag)
    assert exc_info.value.response["Error"]["Code"] == "304"
    assert exc_info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304

    await s3.put_object(Bucket=BUCKET, Key="k", Body=b"v2")
    got = await s3.get_object(Bucket=BUCKET, Key="k", IfNoneMatch=etag)
    async with got["Body"] as body:
        assert await body.read() == b"v2"

    with pytest.raises(ClientError) as exc_info:
        await s3.get_object(Bucket=BUCKET, Key="k", IfMatch=etag)
    assert exc_info.value.response["Error"]["Code"] == "PreconditionFailed"


async def test_missing_key(s3: Any) -> None:
    await s3.create_bucket(Bucket=BUCKET)
    with pytest.raises(ClientError) as exc_info:
        await s3.get_object(Bucket=BUCKET, Key="nope")
    assert exc_info.value.response["Error"]["Code"] == "NoSuchKey"


async def test_reset_wipes_state(s3_server: S3Server, s3: Any) -> None:
    await s3.create_bucket(Bucket=BUCKET)
    assert [b["Name"] for b in (await s3.list_buckets())["Buckets"]] == [BUCKET]
    s3_server.reset()
    assert (await s3.list_buckets())["Buckets"] == []


async def test_async_context_manager_stops_the_server() -> None:
    server = S3Server()
    async with server:
        port = server.port
        assert is_listening(port)
        await server.areset()
    assert not is_listening(port)
    with pytest.raises(RuntimeError):
        _ = server.endpoint_url
    await server.astop()  # idempotent


def test_sync_lifecycle_and_fixed_port_conflict() -> None:
    server = S3Server()
    server.start()
    try:
        server.start()  # idempotent
        with pytest.raises(OSError, match="in use"):
            S3Server(port=server.port).start()
    finally:
        server.stop()
    server.stop()  # idempotent
