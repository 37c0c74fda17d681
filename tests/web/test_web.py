"""The web backend against the emulator: the Next.js template's routes and JSON, the
credential guard, input checks, the bucket allow-list and signed webhooks."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import Message, Receive, Scope, Send

from aioremotion import RemotionLambda
from aioremotion.emulator import EmulatorConfig, RemotionEmulator
from aioremotion.errors import InvalidOptionsError
from aioremotion.protocol.webhooks import sign_webhook
from aioremotion.testing import FaultyProxy
from aioremotion.web import (
    MISSING_KEY_MESSAGE,
    MISSING_SECRET_MESSAGE,
    WebConfig,
    WebhookError,
    WebhookSuccess,
    WebhookTimeout,
    create_app,
)
from aioremotion.web.app import BUCKET_UNKNOWN_MESSAGE

from .conftest import asgi_client, bind_socket, serve

JS_RESULT_KEYS = {"renderId", "bucketName", "cloudWatchLogs", "cloudWatchMainLogs",
                  "folderInS3Console", "lambdaInsightsLogs", "progressJsonInConsole"}
SECRET = "webhook-s3cr3t"
UNKNOWN_BUCKET = "remotionlambda-useast1-zzzzzzzzzz"


def web_config(emulator: RemotionEmulator, **changes: Any) -> WebConfig:
    """The app's settings for the emulator (the template's defaults otherwise)."""
    settings: dict[str, Any] = {"region": emulator.region, "serve_url": emulator.serve_url,
                                "function_name": emulator.function_name,
                                "bucket_name": emulator.bucket}
    settings.update(changes)
    return WebConfig(**settings)


class Calls:
    """Counts every AWS call the app's client makes (its transport counts them, lean
    progress reads included) and every invocation the emulator receives."""

    def __init__(self, emulator: RemotionEmulator, remotion: RemotionLambda) -> None:
        self.emulator = emulator
        self.calls = remotion.transport.calls  # type: ignore[attr-defined]

    def snapshot(self) -> tuple[int, int]:
        return sum(self.calls.values()), len(self.emulator.server.invocations)


@asynccontextmanager
async def running_app(
    emulator: RemotionEmulator, config: WebConfig | None = None, **kwargs: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, RemotionLambda]]:
    """The app with an injected emulator client, called over ASGI."""
    async with emulator.client() as remotion:
        app = create_app(config or web_config(emulator), client=remotion, **kwargs)
        async with asgi_client(app) as http:
            yield http, remotion


async def start(http: httpx.AsyncClient, composition: str = "HelloWorld",
                **props: Any) -> dict[str, Any]:
    response = await http.post("/api/lambda/render",
                               json={"id": composition, "inputProps": props})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "success"
    return dict(body["data"])


async def poll_until_finished(
    http: httpx.AsyncClient, data: dict[str, Any], *, interval: float = 0.02,
) -> list[dict[str, Any]]:
    """Every progress reply (``data`` of the envelope) until done or error."""
    seen: list[dict[str, Any]] = []
    with anyio.fail_after(30):
        while True:
            response = await http.post("/api/lambda/progress", json={
                "id": data["renderId"], "bucketName": data["bucketName"]})
            assert response.status_code == 200, response.text
            body = response.json()
            assert set(body) == {"type", "data"} and body["type"] == "success"
            seen.append(body["data"])
            if body["data"]["type"] != "progress":
                return seen
            await asyncio.sleep(interval)


# ---------------------------------------------------------------- the happy path


@pytest.mark.remotion_emulator(frame_cost_ms=8)
async def test_render_then_progress_until_done_with_a_downloadable_url(
    emulator: RemotionEmulator,
) -> None:
    async with running_app(emulator) as (http, _):
        data = await start(http, title="Hello from the web")
        assert set(data) == JS_RESULT_KEYS
        assert data["bucketName"] == emulator.bucket
        assert data["cloudWatchLogs"].startswith("https://")

        # the template's render options reached the function
        (invocation,) = emulator.server.invocations_of("start")
        payload = invocation.payload_json
        assert payload["codec"] == "h264"
        assert payload["framesPerLambda"] == 10
        assert payload["composition"] == "HelloWorld"
        assert payload["downloadBehavior"] == {"type": "download", "fileName": "video.mp4"}
        assert payload["inputProps"]["type"] == "payload"
        assert json.loads(payload["inputProps"]["payload"]) == {"title": "Hello from the web"}

        seen = await poll_until_finished(http, data)
        progresses = [item for item in seen if item["type"] == "progress"]
        assert progresses, seen
        for item in progresses:     # the template's shape exactly, floored at 0.03
            assert set(item) == {"type", "progress"}
            assert 0.03 <= item["progress"] <= 1
        done = seen[-1]
        assert set(done) == {"type", "url", "size"} and done["type"] == "done"
        assert done["size"] > 0


async def test_done_url_downloads_the_reported_size(emulator: RemotionEmulator) -> None:
    async with running_app(emulator) as (http, _):
        data = await start(http, "Square")
        done = (await poll_until_finished(http, data))[-1]
        assert done["type"] == "done"
        async with httpx.AsyncClient() as outside:
            video = await outside.get(done["url"])
        assert video.status_code == 200
        assert len(video.content) == done["size"]
        assert video.headers["content-disposition"].startswith("attachment")


async def test_owned_client_from_env_runs_in_the_lifespan(
    emulator: RemotionEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in emulator.env.items():
        monkeypatch.setenv(name, value)
    config = WebConfig.from_env()
    assert config.bucket_name == emulator.bucket
    assert config.resolved_function_name == emulator.function_name
    app = create_app(config)
    web = app.state.remotion_web
    assert web.credential_guard  # the app's own client: the template's guard is on
    async with asgi_client(app) as http:
        data = await start(http, "Square")
        done = (await poll_until_finished(http, data))[-1]
        assert done["type"] == "done"
        # renders are forced into the configured bucket
        start_payload = emulator.server.invocations_of("start")[0].payload_json
        assert start_payload["bucketName"] == emulator.bucket
    with pytest.raises(RuntimeError, match="lifespan did not run"):
        _ = web.client  # closed with the lifespan


async def test_detailed_progress_adds_the_extras(emulator: RemotionEmulator) -> None:
    async with running_app(emulator, web_config(emulator, detailed_progress=True)) as (http, _):
        data = await start(http, "Square")
        seen = await poll_until_finished(http, data)
    assert seen[-1]["type"] == "done"
    assert seen[-1]["renderId"] == data["renderId"]
    assert "costDisplay" in seen[-1]


# ---------------------------------------------------------------- failures


async def test_failed_render_is_nested_in_a_success_envelope(
    emulator: RemotionEmulator,
) -> None:
    emulator.faults.fail_chunk(0, retryable=False, message="The composition crashed")
    async with running_app(emulator) as (http, _):
        data = await start(http, "Square")
        seen = await poll_until_finished(http, data)
    failed = seen[-1]
    assert failed == {"type": "error", "message": failed["message"]}
    assert "The composition crashed" in failed["message"]


async def test_a_launch_that_died_before_its_metadata_is_an_error(
    emulator: RemotionEmulator,
) -> None:
    """One read per request, by the watch's own rule: past its timeout without metadata,
    the render's main function died (a watcher would say the same)."""
    emulator.faults.crash_launch_before_metadata()
    ahead = 10 * 60 * 1000  # the client's clock runs 10 minutes ahead: past any timeout
    async with emulator.client(wall_clock_ms=lambda: time.time() * 1000 + ahead) as remotion:
        app = create_app(web_config(emulator), client=remotion)
        async with asgi_client(app) as http:
            seen = await poll_until_finished(http, await start(http))
    assert seen == [{"type": "error", "message": seen[-1]["message"]}]
    assert "did not report the render's metadata" in seen[-1]["message"]


async def test_unexpected_errors_answer_500_in_the_template_shape(
    emulator: RemotionEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_app(emulator) as (http, remotion):
        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("the network is down")

        monkeypatch.setattr(remotion, "render_media", broken)
        response = await http.post("/api/lambda/render", json={"id": "HelloWorld"})
        assert response.status_code == 500
        assert response.json() == {"type": "error", "message": "the network is down"}

        monkeypatch.setattr(remotion, "get_progress", broken)
        response = await http.post("/api/lambda/progress",
                                   json={"id": "abcdef1234", "bucketName": emulator.bucket})
        assert response.status_code == 500
        assert response.json() == {"type": "error", "message": "the network is down"}


async def test_a_function_error_is_a_500_with_its_message(emulator: RemotionEmulator) -> None:
    # a function of another Remotion version: the function refuses the payload
    old = "remotion-render-4-0-100-mem2048mb-disk2048mb-120sec"
    async with running_app(emulator, web_config(emulator, function_name=old)) as (http, _):
        response = await http.post("/api/lambda/render",
                                   json={"id": "HelloWorld", "inputProps": {}})
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"type", "message"} and body["type"] == "error"
    assert "4.0.100" in body["message"] and "4.0.527" in body["message"]


async def test_unknown_render_is_404(emulator: RemotionEmulator) -> None:
    async with running_app(emulator) as (http, _):
        response = await http.post("/api/lambda/progress",
                                   json={"id": "nosuchrender", "bucketName": emulator.bucket})
    assert response.status_code == 404
    assert response.json()["message"].startswith('No render with ID "nosuchrender" found')


# ---------------------------------------------------------------- the credential guard


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, MISSING_KEY_MESSAGE),
        ({"AWS_SECRET_ACCESS_KEY": "s"}, MISSING_KEY_MESSAGE),
        ({"AWS_ACCESS_KEY_ID": "k"}, MISSING_SECRET_MESSAGE),
        ({"REMOTION_AWS_ACCESS_KEY_ID": "k"}, MISSING_SECRET_MESSAGE),
    ],
)
async def test_credential_guard_messages(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "REMOTION_AWS_ACCESS_KEY_ID", "REMOTION_AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # nowhere to send anything: any AWS call would fail differently
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    app = create_app(WebConfig(bucket_name="remotionlambda-useast1-abcdefghij"))
    async with asgi_client(app) as http:
        render = await http.post("/api/lambda/render",
                                 json={"id": "MyComp", "inputProps": {"title": "x"}})
        progress = await http.post("/api/lambda/progress", json={
            "id": "abcdef1234", "bucketName": "remotionlambda-useast1-abcdefghij"})
    for response in (render, progress):
        assert response.status_code == 500
        assert response.json() == {"type": "error", "message": message}


async def test_credential_guard_is_off_for_an_injected_client_unless_asked(
    emulator: RemotionEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    async with running_app(emulator) as (http, _):     # an IAM role, say
        data = await start(http, "Square")
        assert (await poll_until_finished(http, data))[-1]["type"] == "done"
    async with running_app(emulator, web_config(emulator, credential_guard=True)) as (http, _):
        response = await http.post("/api/lambda/render", json={"id": "Square"})
        assert response.json() == {"type": "error", "message": MISSING_KEY_MESSAGE}


# ---------------------------------------------------------------- safety


async def refuse_unknown_bucket(emulator: RemotionEmulator, config: WebConfig) -> None:
    async with running_app(emulator, config) as (http, remotion):
        calls = Calls(emulator, remotion)
        before = calls.snapshot()
        response = await http.post("/api/lambda/progress",
                                   json={"id": "abcdef1234", "bucketName": UNKNOWN_BUCKET})
        assert response.status_code == 400
        assert response.json() == {
            "type": "error",
            "message": f'bucketName "{UNKNOWN_BUCKET}" is not a bucket this app renders '
                       "into: pass the bucketName that /api/lambda/render returned",
        }
        assert calls.snapshot() == before
        # the configured (or discovered) bucket is accepted
        data = await start(http, "Square")
        assert data["bucketName"] == emulator.bucket
        assert (await poll_until_finished(http, data))[-1]["type"] == "done"


async def test_unknown_bucket_is_refused_without_any_aws_call(
    emulator: RemotionEmulator,
) -> None:
    await refuse_unknown_bucket(emulator, web_config(emulator))


async def test_the_bucket_is_discovered_at_startup_when_not_configured(
    remotion_emulator_config: EmulatorConfig,
) -> None:
    # a region of its own: moto's S3 keeps the buckets of earlier emulators of this process
    async with RemotionEmulator(region="ap-southeast-2",
                                config=remotion_emulator_config) as emulator:
        # (no ListBuckets call when the unknown bucket comes: it was done at startup)
        await refuse_unknown_bucket(emulator, web_config(emulator, bucket_name=None))


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class LogRecords(logging.Handler):
    """Keeps every record it is given."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def at_least(self, level: int) -> list[logging.LogRecord]:
        return [record for record in self.records if record.levelno >= level]


@contextmanager
def captured_logs() -> Iterator[LogRecords]:
    """The records of the root logger and of uvicorn's (which do not propagate to it)."""
    handler = LogRecords()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


LIST_BUCKETS = re.compile(r"^/$")


async def made_up_progress(http: httpx.AsyncClient, count: int = 20) -> list[httpx.Response]:
    """``count`` anonymous progress requests for buckets that are not the app's."""
    return [await http.post("/api/lambda/progress", json={
        "id": "abcdefghij", "bucketName": f"made-up-bucket-{i}"}) for i in range(count)]


def assert_refused_as_misconfigured(replies: list[httpx.Response], secrets: list[str]) -> None:
    for reply in replies:
        assert reply.status_code == 500, reply.text
        assert reply.json() == {"type": "error", "message": BUCKET_UNKNOWN_MESSAGE}
        assert "REMOTION_BUCKET" in reply.json()["message"]
        for secret in secrets:      # no bucket name of the account, no botocore text
            assert secret not in reply.text
        assert "ListBuckets" not in reply.text and "SlowDown" not in reply.text


def discovery_warnings(logs: LogRecords) -> list[logging.LogRecord]:
    return [record for record in logs.records if record.levelno == logging.WARNING
            and record.getMessage().startswith("Could not find the render bucket")]


async def test_failed_discovery_two_buckets_is_retried_once_per_interval_and_not_leaked(
    remotion_emulator_config: EmulatorConfig,
) -> None:
    # a region of its own: moto's S3 keeps the buckets of earlier emulators of this process
    region, extra = "eu-north-1", "remotionlambda-eunorth1-secretname"
    clock = FakeClock()
    async with RemotionEmulator(region=region, config=remotion_emulator_config) as emulator, \
            FaultyProxy(emulator.s3_endpoint) as proxy:
        await emulator.s3.create_bucket(
            Bucket=extra, CreateBucketConfiguration={"LocationConstraint": region})
        secrets = [emulator.bucket, extra, "secretname"]
        endpoints = {"lambda": emulator.lambda_endpoint, "s3": proxy.endpoint_url}
        async with emulator.client(endpoint_urls=endpoints) as remotion:
            calls = Calls(emulator, remotion)
            app = create_app(web_config(emulator, bucket_name=None), client=remotion,
                             clock=clock)
            with captured_logs() as logs:
                async with asgi_client(app) as http:
                    # the startup attempt: one ListBuckets, nothing else
                    assert proxy.count(match=LIST_BUCKETS) == len(proxy.requests) == 1
                    before = calls.snapshot()
                    assert_refused_as_misconfigured(await made_up_progress(http), secrets)
                    clock.advance(29.9)     # within the retry interval: still nothing
                    assert_refused_as_misconfigured(await made_up_progress(http), secrets)
                    assert len(proxy.requests) == 1 and calls.snapshot() == before

                    clock.advance(0.1)      # 30 s: the next request retries once
                    assert_refused_as_misconfigured(await made_up_progress(http), secrets)
                    assert proxy.count(match=LIST_BUCKETS) == len(proxy.requests) == 2

                    # the operator deletes the extra bucket: found at the next attempt
                    await emulator.s3.delete_bucket(Bucket=extra)
                    clock.advance(30)
                    refused = await http.post("/api/lambda/progress", json={
                        "id": "abcdefghij", "bucketName": "made-up-bucket"})
                    assert refused.status_code == 400, refused.text
                    assert "is not a bucket this app renders into" in refused.text
                    assert proxy.count(match=LIST_BUCKETS) == 3
                    clock.advance(3600)     # found: never listed again
                    await made_up_progress(http, 3)
                    assert proxy.count(match=LIST_BUCKETS) == 3
                    data = await start(http, "Square")
                    assert data["bucketName"] == emulator.bucket
                    assert (await poll_until_finished(http, data))[-1]["type"] == "done"
    assert logs.at_least(logging.ERROR) == []
    warnings = discovery_warnings(logs)
    assert len(warnings) == 2           # once per failed attempt, with the details
    assert all(extra in record.getMessage() for record in warnings)


async def test_failed_discovery_list_buckets_503_is_retried_once_per_interval(
    remotion_emulator_config: EmulatorConfig,
) -> None:
    clock = FakeClock()
    async with RemotionEmulator(region="ca-central-1",
                                config=remotion_emulator_config) as emulator, \
            FaultyProxy(emulator.s3_endpoint) as proxy:
        proxy.fail(503, "SlowDown", times=10_000, method="GET", match=LIST_BUCKETS)
        endpoints = {"lambda": emulator.lambda_endpoint, "s3": proxy.endpoint_url}
        async with emulator.client(endpoint_urls=endpoints) as remotion:
            calls = Calls(emulator, remotion)
            app = create_app(web_config(emulator, bucket_name=None), client=remotion,
                             clock=clock)
            with captured_logs() as logs:
                async with asgi_client(app) as http:
                    # the startup attempt (botocore retries the 503 itself)
                    per_attempt = proxy.count(match=LIST_BUCKETS)
                    assert per_attempt >= 1 and len(proxy.requests) == per_attempt
                    before = calls.snapshot()
                    assert_refused_as_misconfigured(await made_up_progress(http),
                                                    [emulator.bucket])
                    assert len(proxy.requests) == per_attempt and calls.snapshot() == before

                    clock.advance(30)       # one more attempt for all 20 requests
                    assert_refused_as_misconfigured(await made_up_progress(http),
                                                    [emulator.bucket])
                    assert proxy.count(match=LIST_BUCKETS) == len(proxy.requests) \
                        == 2 * per_attempt

                    # S3 recovers: found at the next attempt, and a render goes through
                    proxy.clear_faults()
                    clock.advance(30)
                    refused = await http.post("/api/lambda/progress", json={
                        "id": "abcdefghij", "bucketName": "made-up-bucket"})
                    assert refused.status_code == 400, refused.text
                    assert proxy.count(match=LIST_BUCKETS) == 2 * per_attempt + 1
                    data = await start(http, "Square")
                    assert (await poll_until_finished(http, data))[-1]["type"] == "done"
            assert logs.at_least(logging.ERROR) == []
            assert len(discovery_warnings(logs)) == 2
            assert all("SlowDown" in record.getMessage() for record in discovery_warnings(logs))

            # with REMOTION_BUCKET set, a failing ListBuckets does not matter: never called
            proxy.fail(503, "SlowDown", times=10_000, method="GET", match=LIST_BUCKETS)
            listed = proxy.count(match=LIST_BUCKETS)
            configured = create_app(web_config(emulator), client=remotion, clock=clock)
            async with asgi_client(configured) as http:
                data = await start(http, "Square")
                assert (await poll_until_finished(http, data))[-1]["type"] == "done"
            assert proxy.count(match=LIST_BUCKETS) == listed


async def test_a_client_disconnecting_mid_body_is_not_an_error(
    emulator: RemotionEmulator,
) -> None:
    handled: list[str] = []
    done = asyncio.Event()

    async with emulator.client() as remotion:
        app = create_app(web_config(emulator, webhook_secret=SECRET), client=remotion)

        async def signalling(scope: Scope, receive: Receive, send: Send) -> None:
            try:
                await app(scope, receive, send)
            finally:
                if scope["type"] == "http":
                    handled.append(scope["path"])
                    done.set()

        sock, port = bind_socket()
        async with serve(signalling, sock):
            with captured_logs() as logs:
                for route in ("render", "progress", "webhook"):
                    done.clear()
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    # promises 1000 bytes, sends 7, hangs up
                    writer.write(b"POST /api/lambda/" + route.encode() + b" HTTP/1.1\r\n"
                                 b"Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: 1000\r\n\r\n{\"id\": ")
                    await writer.drain()
                    writer.close()
                    await writer.wait_closed()
                    with anyio.fail_after(10):  # the app has finished with the request
                        await done.wait()
    assert handled == ["/api/lambda/render", "/api/lambda/progress", "/api/lambda/webhook"]
    assert logs.at_least(logging.ERROR) == [], [r.getMessage() for r in logs.records]
    assert emulator.server.invocations == []


async def test_long_user_input_is_cut_in_error_messages(emulator: RemotionEmulator) -> None:
    long = "x" * 10_000
    config = web_config(emulator, allowed_compositions={"Square"})
    async with running_app(emulator, config) as (http, _):
        replies = [
            await http.post("/api/lambda/progress",
                            json={"id": long, "bucketName": emulator.bucket}),
            await http.post("/api/lambda/progress",
                            json={"id": "abcdefghij", "bucketName": long}),
            await http.post("/api/lambda/render", json={"id": long}),
            await http.post("/api/lambda/render", content=b"{}",
                            headers={"content-type": "text/" + long}),
            await http.post("/api/lambda/render", content=b"{}",
                            headers={"content-type": "application/json",
                                     "content-length": "9" * 50 + "x" * 10_000}),
        ]
    for reply in replies:
        assert reply.status_code in (400, 415), reply.text[:300]
        assert len(reply.content) < 400, reply.text[:300]
        assert re.search(r"… \(100[0-9][0-9] characters\)", reply.json()["message"])
    assert "is not a Remotion render id" in replies[0].json()["message"]
    assert "is not a valid S3 bucket name" in replies[1].json()["message"]
    assert "is not a composition this app renders" in replies[2].json()["message"]


async def test_allowed_buckets_extend_the_configured_one(emulator: RemotionEmulator) -> None:
    other = "my-archive-bucket"
    await emulator.s3.create_bucket(Bucket=other)
    config = web_config(emulator, bucket_name=emulator.bucket, allowed_buckets={other})
    async with running_app(emulator, config) as (http, _):
        response = await http.post("/api/lambda/progress",
                                   json={"id": "abcdef1234", "bucketName": other})
    assert response.status_code == 404  # allowed, read, and not there


async def test_oversize_body_is_413(emulator: RemotionEmulator) -> None:
    big = {"id": "HelloWorld", "inputProps": {"title": "x" * (256 * 1024)}}
    async with running_app(emulator) as (http, remotion):
        calls = Calls(emulator, remotion)
        before = calls.snapshot()
        response = await http.post("/api/lambda/render", json=big)
        assert response.status_code == 413
        assert response.json() == {"type": "error",
                                   "message": "The request body is larger than 262144 bytes"}

        async def chunks() -> AsyncIterator[bytes]:   # no Content-Length: counted as read
            text = json.dumps(big).encode()
            for offset in range(0, len(text), 65536):
                yield text[offset:offset + 65536]

        response = await http.post("/api/lambda/render", content=chunks(),
                                   headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert calls.snapshot() == before
    small = web_config(emulator, max_body_bytes=100)
    async with running_app(emulator, small) as (http, _):
        response = await http.post("/api/lambda/progress", json={
            "id": "abcdef1234", "bucketName": emulator.bucket, "pad": "y" * 100})
        assert response.status_code == 413


BAD_REQUESTS: list[tuple[str, Any, str]] = [
    ("render", {"id": 5}, '"id" must be a non-empty string, the id of the composition to '
                          "render; got a number"),
    ("render", {"id": ""}, '"id" must be a non-empty string'),
    ("render", {"id": "   "}, '"id" must be a non-empty string'),
    ("render", {"id": None, "inputProps": {}}, '"id" is required'),
    ("render", {"inputProps": {}}, '"id" is required'),
    ("render", {"id": "HelloWorld", "inputProps": []},
     '"inputProps" must be a JSON object; got an array'),
    ("render", {"id": "HelloWorld", "inputProps": "title"},
     '"inputProps" must be a JSON object; got a string'),
    ("render", ["HelloWorld"], "The request body must be a JSON object; got an array"),
    ("render", "[1, 2", "The request body is not valid JSON"),
    ("progress", {"id": 12, "bucketName": "b"}, '"id" must be the renderId'),
    ("progress", {"id": "abcdef1234"}, '"bucketName" must be the bucketName'),
    ("progress", {"id": "abcdef1234", "bucketName": "Not_A_Bucket"},
     "bucketName: 'Not_A_Bucket' is not a valid S3 bucket name"),
    ("progress", "null", "The request body must be a JSON object; got null"),
    ("progress", {"id": "abcdef1234", "bucketName": "remotionlambda-useast1-abcdefghij\n"},
     "is not a valid S3 bucket name"),
    # render ids are checked before they reach an S3 key
    *[("progress", {"id": render_id, "bucketName": "remotionlambda-useast1-abcdefghij"},
       "is not a Remotion render id")
      for render_id in ("../../etc/passwd", "a/b", "", "x" * 200, "id with space",
                        "-leading", "ok\n")],
]


async def test_wrong_types_and_invalid_render_ids_are_400_before_any_aws_call(
    emulator: RemotionEmulator,
) -> None:
    async with running_app(emulator) as (http, remotion):
        calls = Calls(emulator, remotion)
        before = calls.snapshot()
        for route, body, message in BAD_REQUESTS:
            if isinstance(body, str):   # raw JSON text
                response = await http.post(f"/api/lambda/{route}", content=body,
                                           headers={"content-type": "application/json"})
            else:
                response = await http.post(f"/api/lambda/{route}", json=body)
            case = f"{route} {body!r}: {response.text}"
            assert response.status_code == 400, case
            assert set(response.json()) == {"type", "message"}, case
            assert response.json()["type"] == "error", case
            assert message in response.json()["message"], case
        assert calls.snapshot() == before


async def test_json_only(emulator: RemotionEmulator) -> None:
    async with running_app(emulator) as (http, _):
        form = await http.post("/api/lambda/render", data={"id": "HelloWorld"})
        assert form.status_code == 415
        assert form.json()["type"] == "error"
        assert "Content-Type: application/json" in form.json()["message"]
        broken = await http.post("/api/lambda/render", content=b'{"id": ',
                                 headers={"content-type": "application/json; charset=utf-8"})
        assert broken.status_code == 400
        assert broken.json()["message"].startswith("The request body is not valid JSON")
        wrong_method = await http.get("/api/lambda/render")
        assert wrong_method.status_code == 405
        assert wrong_method.json() == {"type": "error", "message": "Method Not Allowed"}


async def test_allowed_compositions_and_the_default_one(emulator: RemotionEmulator) -> None:
    config = web_config(emulator, composition="Square", allowed_compositions={"Square"})
    async with running_app(emulator, config) as (http, _):
        refused = await http.post("/api/lambda/render", json={"id": "HelloWorld"})
        assert refused.status_code == 400
        assert "not a composition this app renders" in refused.json()["message"]
        data = await start(http, "Square")
        default = await http.post("/api/lambda/render", json={"inputProps": {}})
        assert default.status_code == 200
        compositions = [i.payload_json["composition"]
                        for i in emulator.server.invocations_of("start")]
        assert compositions == ["Square", "Square"]
        assert (await poll_until_finished(http, data))[-1]["type"] == "done"


# ---------------------------------------------------------------- webhooks


def signed(payload: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {"content-type": "application/json",
                  "x-remotion-signature": sign_webhook(body, secret)}


SUCCESS = {
    "type": "success", "renderId": "abcdef1234", "expectedBucketOwner": "123456789012",
    "bucketName": "remotionlambda-useast1-abcdefghij", "customData": {"user": 7},
    "outputUrl": "https://example.com/out.mp4", "outputFile": "https://example.com/out.mp4",
    "lambdaErrors": [], "timeToFinish": 1234,
    "costs": {"estimatedCost": 0.01, "estimatedDisplayCost": "$0.01", "currency": "USD",
              "disclaimer": "estimate"},
}


async def test_webhook_signature_replay_and_typed_payload(emulator: RemotionEmulator) -> None:
    received: list[Any] = []

    async def on_webhook(payload: Any) -> None:
        received.append(payload)

    config = web_config(emulator, webhook_secret=SECRET)
    async with running_app(emulator, config, on_webhook=on_webhook) as (http, _):
        body, headers = signed(SUCCESS)
        ok = await http.post("/api/lambda/webhook", content=body, headers=headers)
        assert ok.status_code == 200 and ok.json() == {"success": True}
        (payload,) = received
        assert isinstance(payload, WebhookSuccess)
        assert payload.output_url == "https://example.com/out.mp4"
        assert payload.custom_data == {"user": 7}
        assert payload.costs is not None and payload.costs.estimated_display_cost == "$0.01"

        replay = await http.post("/api/lambda/webhook", content=body, headers=headers)
        assert replay.status_code == 409
        assert "already received" in replay.json()["message"]
        # the same render may still report another outcome type once
        body, headers = signed({**SUCCESS, "type": "timeout"})
        assert (await http.post("/api/lambda/webhook", content=body,
                                headers=headers)).status_code == 200
        assert isinstance(received[-1], WebhookTimeout)

        missing = await http.post("/api/lambda/webhook", content=body,
                                  headers={"content-type": "application/json"})
        assert missing.status_code == 401
        assert "X-Remotion-Signature header is missing" in missing.json()["message"]
        _, wrong_headers = signed({**SUCCESS, "type": "error"}, secret="not-the-secret")
        wrong = await http.post("/api/lambda/webhook", content=body, headers=wrong_headers)
        assert wrong.status_code == 401
        tampered_body = body.replace(b"abcdef1234", b"abcdef9999")
        tampered = await http.post("/api/lambda/webhook", content=tampered_body,
                                   headers=headers)
        assert tampered.status_code == 401
        unsigned = await http.post("/api/lambda/webhook", content=body, headers={
            "content-type": "application/json", "x-remotion-signature": "NO_SECRET_PROVIDED"})
        assert unsigned.status_code == 401
        assert "without a webhook secret" in unsigned.json()["message"]

        body, headers = signed({"type": "progress", "renderId": "x"})
        invalid = await http.post("/api/lambda/webhook", content=body, headers=headers)
        assert invalid.status_code == 400
        assert "not a Remotion webhook payload" in invalid.json()["message"]
    assert len(received) == 2


async def test_webhook_callback_failure_is_500_and_the_retry_is_accepted(
    emulator: RemotionEmulator,
) -> None:
    attempts: list[str] = []

    def on_webhook(payload: Any) -> None:   # a sync callback works too
        attempts.append(payload.type)
        if len(attempts) == 1:
            raise RuntimeError("database unavailable")

    config = web_config(emulator, webhook_secret=SECRET)
    async with running_app(emulator, config, on_webhook=on_webhook) as (http, _):
        body, headers = signed({**SUCCESS, "type": "error",
                                "errors": [{"message": "boom", "name": "Error", "stack": ""}]})
        first = await http.post("/api/lambda/webhook", content=body, headers=headers)
        assert first.status_code == 500
        assert first.json() == {"type": "error", "message": "database unavailable"}
        second = await http.post("/api/lambda/webhook", content=body, headers=headers)
        assert second.status_code == 200
        third = await http.post("/api/lambda/webhook", content=body, headers=headers)
        assert third.status_code == 409
    assert attempts == ["error", "error"]


async def test_webhook_route_needs_a_secret(emulator: RemotionEmulator) -> None:
    with pytest.raises(InvalidOptionsError, match="webhook_secret"):
        create_app(web_config(emulator), on_webhook=lambda payload: None)
    async with running_app(emulator) as (http, _):   # no secret: no webhook route
        body, headers = signed(SUCCESS)
        response = await http.post("/api/lambda/webhook", content=body, headers=headers)
        assert response.status_code == 404


class RecordWebhooks:
    """ASGI middleware keeping the raw body and headers of each webhook request."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[bytes, list[tuple[bytes, bytes]]]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/webhook"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        self.requests.append((b"".join(chunks), list(scope["headers"])))

        async def replay() -> Message:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        await self.app(scope, replay, send)


async def wait_for(condition: Callable[[], bool]) -> None:
    with anyio.fail_after(20):
        while not condition():
            await asyncio.sleep(0.02)


async def test_real_signed_webhooks_from_the_emulator(emulator: RemotionEmulator) -> None:
    received: list[Any] = []
    sock, port = bind_socket()
    config = web_config(emulator, webhook_secret=SECRET,
                        webhook_url=f"http://127.0.0.1:{port}/api/lambda/webhook")
    async with emulator.client() as remotion:
        app = RecordWebhooks(create_app(config, client=remotion, on_webhook=received.append))
        async with serve(app, sock) as base_url, httpx.AsyncClient(base_url=base_url) as http:
            data = await start(http, "Square")
            hook = emulator.server.invocations_of("start")[0].payload_json["webhook"]
            assert hook == {"url": config.webhook_url, "secret": SECRET}
            done = (await poll_until_finished(http, data))[-1]
            await wait_for(lambda: len(received) == 1)
            success = received[0]
            assert isinstance(success, WebhookSuccess)
            assert success.render_id == data["renderId"]
            assert success.bucket_name == data["bucketName"]
            assert success.output_url == done["url"]
            assert success.costs is not None and success.costs.currency == "USD"

            emulator.faults.fail_chunk(0, retryable=False, message="Chunk exploded")
            failed_render = await start(http, "Square")
            await wait_for(lambda: len(received) == 2)
            failure = received[1]
            assert isinstance(failure, WebhookError)
            assert failure.render_id == failed_render["renderId"]
            assert "Chunk exploded" in failure.errors[0].message

            # replaying the emulator's exact signed request is refused
            body, headers = app.requests[0]
            replay = await http.post("/api/lambda/webhook", content=body, headers={
                key.decode(): value.decode() for key, value in headers
                if key.lower() in (b"content-type", b"x-remotion-signature")})
            assert replay.status_code == 409
            signature = dict(headers)[b"x-remotion-signature"].decode()
            forged = await http.post("/api/lambda/webhook",
                                     content=body.replace(b"success", b"timeout"),
                                     headers={"content-type": "application/json",
                                              "x-remotion-signature": signature})
            assert forged.status_code == 401
        await emulator.wait_for_renders()
        # the launches saw 2xx replies: no webhook errors were recorded
        for item in (data, failed_render):
            progress = await remotion.get_progress(item["renderId"],
                                                   bucket_name=item["bucketName"])
            assert [e for e in progress.errors if e.type == "webhook"] == []
    assert len(received) == 2


# ---------------------------------------------------------------- page and mounting


async def test_demo_page(emulator: RemotionEmulator) -> None:
    async with running_app(emulator, web_config(emulator, composition="Square")) as (http, _):
        page = await http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for element in ('id="title"', 'id="render"', 'id="progress"', 'id="video"',
                    'id="download"', 'id="error"'):
        assert element in page.text
    settings = json.loads(page.text.split('<script id="settings" type="application/json">')[1]
                          .split("</script>")[0])
    # the page streams the render's events (NDJSON) instead of polling
    assert settings == {"composition": "Square", "renderUrl": "/api/lambda/render",
                        "progressUrl": "/api/lambda/progress"}
    assert "application/x-ndjson" in page.text and "getReader()" in page.text


async def test_mounted_under_a_prefix_with_the_parent_running_its_lifespan(
    emulator: RemotionEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in emulator.env.items():
        monkeypatch.setenv(name, value)
    remotion_app = create_app()

    @asynccontextmanager
    async def lifespan(parent: Starlette) -> AsyncIterator[None]:
        async with remotion_app.router.lifespan_context(remotion_app):
            yield

    parent = Starlette(routes=[Mount("/remotion", remotion_app)], lifespan=lifespan)
    async with asgi_client(parent) as http:
        page = await http.get("/remotion/")
        assert '"renderUrl": "/remotion/api/lambda/render"' in page.text
        response = await http.post("/remotion/api/lambda/render", json={"id": "Square"})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        progress = await http.post("/remotion/api/lambda/progress", json={
            "id": data["renderId"], "bucketName": data["bucketName"]})
        assert progress.json()["type"] == "success"


# ---------------------------------------------------------------- configuration


def test_config_from_env() -> None:
    config = WebConfig.from_env({
        "REMOTION_AWS_REGION": "eu-west-1", "AWS_REGION": "us-east-1",
        "SITE_NAME": "my-site", "REMOTION_RAM": "2048", "REMOTION_DISK": "2048",
        "REMOTION_TIMEOUT": "120", "REMOTION_COMPOSITION": "MyComp",
        "REMOTION_COMPOSITIONS": "MyComp, Other", "REMOTION_FRAMES_PER_LAMBDA": "20",
        "REMOTION_ALLOWED_BUCKETS": "a-bucket,b-bucket", "REMOTION_WEBHOOK_SECRET": "s",
        "REMOTION_WEBHOOK_URL": "https://example.com/api/lambda/webhook",
        "REMOTION_CREDENTIAL_GUARD": "0",
    })
    assert config.region == "eu-west-1"
    assert config.resolved_serve_url == "my-site"
    assert config.resolved_function_name == (
        "remotion-render-4-0-527-mem2048mb-disk2048mb-120sec")
    assert config.allowed_compositions == {"MyComp", "Other"}
    assert config.allowed_buckets == {"a-bucket", "b-bucket"}
    assert config.frames_per_lambda == 20 and config.credential_guard is False
    assert "webhook_secret" not in repr(config)
    template = WebConfig.from_env({})
    assert template.resolved_function_name == (
        "remotion-render-4-0-527-mem3009mb-disk10240mb-240sec")
    assert (template.region, template.site_name, template.frames_per_lambda) == (
        "us-east-1", "my-next-app", 10)
    served = WebConfig.from_env({"REMOTION_SERVE_URL": "https://x.example/index.html",
                                 "SITE_NAME": "ignored"})
    assert served.resolved_serve_url == "https://x.example/index.html"


def test_config_problems_name_the_setting() -> None:
    with pytest.raises(InvalidOptionsError) as info:
        WebConfig.from_env({"REMOTION_RAM": "lots", "REMOTION_CREDENTIAL_GUARD": "maybe"})
    assert info.value.fields == ["REMOTION_RAM", "REMOTION_CREDENTIAL_GUARD"]
    with pytest.raises(InvalidOptionsError) as info:
        WebConfig(frames_per_lambda=3, region="mars-1", webhook_url="ftp://x",
                  serve_url="./src/index.ts")
    assert set(info.value.fields) == {"frames_per_lambda", "region", "webhook_url",
                                      "webhook_secret", "serve_url"}


# ---------------------------------------------------------------- deeply nested bodies


def props_text(levels: int) -> str:
    """Input props ``levels`` deep (the props object is the first level), as JSON text."""
    return '{"a":' * (levels - 1) + "[]" + "}" * (levels - 1)


def deep_render_body(levels: int, *, in_props: bool) -> str:
    """A render body nested ``levels + 1`` deep: in ``inputProps`` or beside it."""
    if in_props:
        return '{"id":"HelloWorld","inputProps":' + props_text(levels) + "}"
    return '{"id":"HelloWorld","inputProps":{},"x":' + "[" * levels + "]" * levels + "}"


def too_deep(depth: int) -> str:
    return (f"The request body is nested {depth} levels deep; at most 501 are supported "
            "(inputProps may nest at most 500 levels)")


def error_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.levelname in ("ERROR", "CRITICAL")]


async def test_deeply_nested_bodies_are_400_without_an_error_log(
    emulator: RemotionEmulator, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    progress = f'{{"id":"abcdef1234","bucketName":"{emulator.bucket}","x":'
    cases = [
        ("render", deep_render_body(501, in_props=True), too_deep(502)),
        ("render", deep_render_body(990, in_props=True), too_deep(991)),
        ("render", deep_render_body(990, in_props=False), too_deep(991)),
        ("render", "[" * 100_000 + "]" * 100_000, too_deep(100_000)),
        ("progress", progress + "[" * 990 + "]" * 990 + "}", too_deep(991)),
        ("progress", '{"a":' * 5000 + "1" + "}" * 5000, too_deep(5000)),
    ]
    async with running_app(emulator) as (http, remotion):
        calls = Calls(emulator, remotion)
        before = calls.snapshot()
        for route, body, message in cases:
            response = await http.post(f"/api/lambda/{route}", content=body,
                                       headers={"content-type": "application/json"})
            assert response.status_code == 400, (route, response.text[:300])
            assert response.json() == {"type": "error", "message": message}
        assert calls.snapshot() == before
    assert error_records(caplog) == []


async def test_input_props_at_the_depth_limit_render(
    emulator: RemotionEmulator, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    async with running_app(emulator) as (http, _):
        response = await http.post("/api/lambda/render",
                                   content=deep_render_body(500, in_props=True),
                                   headers={"content-type": "application/json"})
        assert response.status_code == 200, response.text[:300]
        data = response.json()["data"]
        (invocation,) = emulator.server.invocations_of("start")
        # exactly the text JSON.stringify gives for these props
        assert invocation.payload_json["inputProps"] == {"type": "payload",
                                                         "payload": props_text(500)}
        assert (await poll_until_finished(http, data))[-1]["type"] == "done"
    assert error_records(caplog) == []


async def test_nesting_limits_hold_under_uvicorn(
    emulator: RemotionEmulator, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    async with emulator.client() as remotion:
        app = create_app(web_config(emulator), client=remotion)
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
            headers = {"content-type": "application/json"}
            accepted = await http.post("/api/lambda/render", headers=headers,
                                       content=deep_render_body(500, in_props=True))
            assert accepted.status_code == 200, accepted.text[:300]
            for route, body, depth in [
                ("render", deep_render_body(501, in_props=True), 502),
                ("render", deep_render_body(995, in_props=False), 996),
                ("progress", "[" * 995 + "]" * 995, 995),
            ]:
                refused = await http.post(f"/api/lambda/{route}", headers=headers,
                                          content=body)
                assert refused.status_code == 400, refused.text[:300]
                assert refused.json() == {"type": "error", "message": too_deep(depth)}
    assert error_records(caplog) == []
