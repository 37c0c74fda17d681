"""When the client reads progress.json with its lean GET, and that both paths agree."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aioremotion import RemotionLambda, RenderHandle
from aioremotion.emulator.lambda_api import LambdaApiServer
from aioremotion.emulator.s3_server import S3Server
from aioremotion.errors import RenderNotFoundError

from .conftest import BUCKET, FUNCTION, REGION


def handle(render_id: str) -> RenderHandle:
    return RenderHandle(render_id=render_id, bucket_name=BUCKET, region=REGION,
                        function_name=FUNCTION)


def client(s3: S3Server, lambda_server: LambdaApiServer, **kwargs: Any) -> RemotionLambda:
    return RemotionLambda(region=REGION, function_name=FUNCTION,
                          endpoint_urls={"lambda": lambda_server.endpoint_url,
                                         "s3": s3.endpoint_url}, **kwargs)


async def test_on_by_default_off_by_argument_or_environment(
    s3: S3Server, lambda_server: LambdaApiServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy", "AIOREMOTION_FAST_S3"):
        monkeypatch.delenv(name, raising=False)
    async with client(s3, lambda_server) as remotion:
        assert remotion.transport.fast_reads  # type: ignore[attr-defined]
    async with client(s3, lambda_server, fast_progress_reads=False) as remotion:
        assert not remotion.transport.fast_reads  # type: ignore[attr-defined]
    monkeypatch.setenv("AIOREMOTION_FAST_S3", "0")
    async with client(s3, lambda_server) as remotion:
        assert not remotion.transport.fast_reads  # type: ignore[attr-defined]
    monkeypatch.delenv("AIOREMOTION_FAST_S3")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # only botocore honours proxies
    async with client(s3, lambda_server) as remotion:
        assert not remotion.transport.fast_reads  # type: ignore[attr-defined]


async def test_both_paths_read_the_same_file_and_errors(
    s3: S3Server, lambda_server: LambdaApiServer, s3_sync: Any,
) -> None:
    s3_sync.create_bucket(Bucket=BUCKET)
    body = json.dumps({"framesRendered": 7, "chunks": [0], "lambdasInvoked": 2}).encode()
    s3_sync.put_object(Bucket=BUCKET, Key="renders/fast12345/progress.json", Body=body)
    reads = []
    for fast in (True, False):
        async with client(s3, lambda_server, fast_progress_reads=fast) as remotion:
            assert remotion.transport.fast_reads is fast  # type: ignore[attr-defined]
            reader = remotion.progress_reader
            first = await reader.read(handle("fast12345"))
            again = await reader.read(handle("fast12345"), if_none_match=first.etag)
            with pytest.raises(RenderNotFoundError):
                await reader.read(handle("missing123"))
            reads.append((first.file, first.etag, first.raw, again.not_modified, again.file))
    assert reads[0] == reads[1]
    assert reads[0][2] == body and reads[0][3] is True and reads[0][4] is None
