"""Real loopback servers for the client tests: moto's S3 server and a scripted Lambda API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from aioremotion import RemotionLambda, ThrottleRetry
from aioremotion.emulator.lambda_api import LambdaApiServer
from aioremotion.emulator.s3_server import S3Server
from aioremotion.testing.scripted_lambda import ScriptedLambdaBackend

FUNCTION = "remotion-render-4-0-527-mem2048mb-disk2048mb-120sec"
REGION = "us-east-1"
BUCKET = "remotionlambda-useast1-abcdefghij"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    with S3Server(region=REGION) as server:
        yield server


@pytest.fixture
def s3(s3_server: S3Server) -> Iterator[S3Server]:
    s3_server.reset()
    yield s3_server
    s3_server.reset()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials; nothing in the developer's environment leaks into a test."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "REMOTION_AWS_ACCESS_KEY_ID",
                 "REMOTION_AWS_SECRET_ACCESS_KEY", "REMOTION_AWS_PROFILE",
                 "REMOTION_AWS_SESSION_TOKEN", "REMOTION_FUNCTION_NAME",
                 "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_LAMBDA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aioremotion-test-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aioremotion-test-creds")


@pytest.fixture
def backend() -> ScriptedLambdaBackend:
    return ScriptedLambdaBackend()


@pytest.fixture
async def lambda_server(backend: ScriptedLambdaBackend) -> AsyncIterator[LambdaApiServer]:
    async with LambdaApiServer(backend, region=REGION) as server:
        yield server


class SleepRecorder:
    """Stands in for anyio.sleep: records the delays, never waits."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
async def remotion(
    s3: S3Server, lambda_server: LambdaApiServer, sleeps: SleepRecorder
) -> AsyncIterator[RemotionLambda]:
    async with RemotionLambda(
        region=REGION,
        function_name=FUNCTION,
        endpoint_urls={"lambda": lambda_server.endpoint_url, "s3": s3.endpoint_url},
        throttle_retry=ThrottleRetry(attempts=4),
        sleep=sleeps,
        wall_clock_ms=lambda: 1_760_000_008_000,
    ) as client:
        yield client


def start_reply(render_id: str = "k1a2b3c4d5", bucket: str = BUCKET) -> dict[str, Any]:
    return {"type": "success", "bucketName": bucket, "renderId": render_id}


@pytest.fixture
def s3_sync(s3: S3Server) -> Any:
    """A plain boto3 client on the same moto server, to arrange and inspect S3 in tests."""
    import boto3

    return boto3.client("s3", **s3.client_kwargs())
