"""Permanent errors end a watch at once, typed; nobody retries them (on the emulator)."""

from __future__ import annotations

import anyio
import pytest

from aioremotion.emulator import RemotionEmulator
from aioremotion.errors import (
    AccessDeniedError,
    BucketNotFoundError,
    CredentialsExpiredError,
    RemotionError,
)
from aioremotion.fanout import Batch
from aioremotion.handles import RenderHandle
from aioremotion.testing import FaultyS3Proxy
from aioremotion.watching import watch

from .test_watch import FAST, HELLO


def ghost(emulator: RemotionEmulator, bucket: str) -> RenderHandle:
    return RenderHandle(render_id="abcdef1234", bucket_name=bucket, region=emulator.region,
                        function_name=emulator.function_name)


async def test_get_progress_on_a_missing_bucket_is_typed_within_5_s(
    emulator: RemotionEmulator,
) -> None:
    async with emulator.client() as remotion:
        with anyio.fail_after(5), pytest.raises(BucketNotFoundError) as info:
            await remotion.get_progress("abcdef1234", bucket_name="remotionlambda-gone")
    assert "remotionlambda-gone" in str(info.value)


@pytest.mark.parametrize("fast", [True, False])
async def test_watch_on_a_missing_bucket_ends_within_5_s(emulator: RemotionEmulator,
                                                         fast: bool) -> None:
    async with emulator.client(fast_progress_reads=fast) as remotion:
        events = []
        with anyio.fail_after(5), pytest.raises(BucketNotFoundError):
            async for event in watch(remotion, ghost(emulator, "remotionlambda-gone"), FAST):
                events.append(event)
    assert events == []


async def test_watch_by_render_id_on_a_missing_bucket_ends_within_5_s(
    emulator: RemotionEmulator,
) -> None:
    """The form a web worker has: a render id and a bucket name from a request."""
    async with emulator.client() as remotion:
        with anyio.fail_after(5), pytest.raises(BucketNotFoundError):
            async for _ in watch(remotion, "abcdef1234", FAST,
                                 bucket_name="remotionlambda-gone"):
                pass
        with anyio.fail_after(5), pytest.raises(BucketNotFoundError):
            await remotion.wait("abcdef1234", FAST, bucket_name="remotionlambda-gone")


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [(403, "AccessDenied", AccessDeniedError), (400, "ExpiredToken", CredentialsExpiredError)],
)
async def test_watch_is_not_retried_on_permanent_s3_errors(
    emulator: RemotionEmulator, status: int, code: str, expected: type[RemotionError],
) -> None:
    async with FaultyS3Proxy(emulator.s3_endpoint) as proxy, emulator.client(
        endpoint_urls={"lambda": emulator.lambda_endpoint, "s3": proxy.endpoint_url},
    ) as remotion:
        handle = await remotion.render_media(serve_url=emulator.serve_url, **HELLO)
        proxy.fail(status, code, times=1000, match="progress.json")
        with anyio.fail_after(5), pytest.raises(expected):
            async for _ in watch(remotion, handle, FAST):
                pass
        assert proxy.count(match="progress.json", fault=True) == 1  # read once, not retried
        proxy.clear_faults()
        await emulator.wait_for_renders()


async def test_a_batch_job_watching_a_missing_bucket_ends_typed(
    emulator: RemotionEmulator,
) -> None:
    from aioremotion.fanout import Job

    async with emulator.client() as remotion:
        with anyio.fail_after(5):
            async with Batch(remotion, watch_options=FAST) as batch:
                batch.submit(Job({}, key="gone", render=ghost(emulator, "remotionlambda-gone")))
    [result] = batch.results
    assert result.status == "error" and isinstance(result.error, BucketNotFoundError)
