"""Secrets never leak: render with sentinel secrets, capture everything, scan it.

The sentinels: the AWS secret key and session token of the client's credentials, a
webhook secret, a license key, and the access key id and secret key of an
``s3OutputProvider``. They must appear in no repr, no log record (aioremotion's at DEBUG,
every library's at INFO), no exception message, no event or handle JSON and no CLI or
web output. (They are, by necessity, in the payload sent to the function.)

Not covered, on purpose: botocore's own DEBUG logging prints request headers, which include
the access key *id* in ``Authorization``; do not run botocore at DEBUG in production.
"""

from __future__ import annotations

import itertools
import json
import logging
from typing import Any

import anyio
import httpx
import pytest
from aiobotocore.session import AioSession

from aioremotion import RemotionLambda
from aioremotion.errors import InvalidOptionsError, StartOutcomeUnknownError
from aioremotion.events import Failed
from aioremotion.fanout import Batch
from aioremotion.protocol.options import RenderMediaOptions
from aioremotion.testing.emulator import RemotionEmulator
from aioremotion.testing.s3_faults import FaultyS3Proxy
from aioremotion.watching import watch

from .test_fault_matrix import FAST

AWS_SECRET = "SENTINELawsSecretKey0000000000000000000000"
AWS_TOKEN = "SENTINELsessionToken000000000000000000"
WEBHOOK_SECRET = "SENTINELwebhookSecret0000"
LICENSE_KEY = "SENTINELlicenseKey0000"
S3P_KEY_ID = "SENTINELs3pAccessKeyId00"
S3P_SECRET = "SENTINELs3pSecretKey0000"
_OUTPUTS = itertools.count()
SENTINELS = (AWS_SECRET, AWS_TOKEN, WEBHOOK_SECRET, LICENSE_KEY, S3P_KEY_ID, S3P_SECRET)


def secret_options(emulator: RemotionEmulator, **extra: Any) -> dict[str, Any]:
    key = f"out/secret-{next(_OUTPUTS)}.mp4"  # each render its own output (no overwrite)
    return {
        "serve_url": emulator.serve_url, "composition": "HelloWorld", "codec": "h264",
        "webhook": {"url": "http://127.0.0.1:9/hook", "secret": WEBHOOK_SECRET},
        "license_key": LICENSE_KEY,
        "out_name": {"bucket_name": emulator.bucket, "key": key,
                     "s3_output_provider": {"endpoint": emulator.s3_endpoint,
                                            "access_key_id": S3P_KEY_ID,
                                            "secret_access_key": S3P_SECRET}},
        **extra,
    }


def leaks(text: str) -> list[str]:
    return [s for s in SENTINELS if s in text]


def leaking(texts: list[str]) -> list[str]:
    """The captured texts holding a sentinel (shortened), for a readable failure."""
    return [text[:300] for text in texts if leaks(text)]


def sentinel_client(emulator: RemotionEmulator, **kwargs: Any) -> RemotionLambda:
    session = AioSession()
    session.set_credentials("AKIASENTINELKEYID000", AWS_SECRET, AWS_TOKEN)
    return emulator.client(session=session, **kwargs)


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="aioremotion")
    return caplog


async def test_reprs_events_logs_and_errors_of_a_render_hold_no_secret(
    emulator: RemotionEmulator, captured: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []
    emulator.faults.fail_chunk(0, retryable=False, message="Protocol error: Target closed.")
    async with sentinel_client(emulator) as remotion:
        seen += [repr(remotion), str(remotion)]
        options = RenderMediaOptions.model_validate(secret_options(emulator))
        seen += [repr(options), str(options), repr(options.webhook), repr(options.out_name)]
        ok = await remotion.render_media(secret_options(emulator, license_key=None))
        failing = await remotion.render_media(secret_options(emulator))
        for handle in (ok, failing):
            seen += [repr(handle), handle.model_dump_json()]
            async for event in watch(remotion, handle, FAST):
                seen += [repr(event), event.model_dump_json(), json.dumps(event.model_dump())]
                if isinstance(event, Failed):
                    seen += [str(event.message), repr(event.errors)]
            progress = await remotion.get_progress(handle)
            seen += [repr(progress), progress.model_dump_json()]
        # a batch: its events, results and errors
        async with Batch(remotion, watch_options=FAST) as batch:
            batch.submit(secret_options(emulator))
            batch.submit(secret_options(emulator, codec="not-a-codec"))
        for result in batch.results:
            seen += [repr(result), repr(result.error), str(result.error)]
    seen += [record.getMessage() for record in captured.records]
    seen += [repr(record.args) for record in captured.records]
    seen += [captured.text]
    assert not leaking(seen)
    assert [r.status for r in batch.results] == ["done", "error"], [
        (r.status, r.error, r.outcome) for r in batch.results]


@pytest.mark.parametrize(
    "bad",
    [
        {"codec": "not-a-codec"},  # another field is wrong
        {"license_key": {"nested": LICENSE_KEY}},  # the secret itself is malformed
        {"webhook": {"url": "ftp://nope", "secret": WEBHOOK_SECRET}},
        {"webhook": {"url": "http://127.0.0.1:9/h", "secret": [WEBHOOK_SECRET]}},
        {"out_name": {"bucket_name": "b", "key": "k", "s3_output_provider": {
            "endpoint": "not a url", "access_key_id": S3P_KEY_ID,
            "secret_access_key": S3P_SECRET}}},
        {"out_name": {"bucket_name": "b", "key": "k", "s3_output_provider": {
            "endpoint": "https://r2", "access_key_id": S3P_KEY_ID,
            "secret_access_key": {"x": S3P_SECRET}}}},
    ],
    ids=["other-field", "license-key", "webhook-url", "webhook-secret", "s3p-endpoint",
         "s3p-secret"],
)
def test_validation_errors_never_echo_a_secret(bad: dict[str, Any]) -> None:
    options = {"serve_url": "https://x.s3.amazonaws.com/sites/a/index.html",
               "composition": "C", "codec": "h264",
               "webhook": {"url": "http://127.0.0.1:9/h", "secret": WEBHOOK_SECRET},
               "license_key": LICENSE_KEY, **bad}
    with pytest.raises(InvalidOptionsError) as info:
        RenderMediaOptions.model_validate(options)
    error = info.value
    assert not leaks("\n".join([str(error), repr(error), repr(error.args),
                                json.dumps(getattr(error, "problems", []), default=str)]))


async def test_start_outcome_unknown_error_holds_no_secret(
    emulator: RemotionEmulator, captured: pytest.LogCaptureFixture,
) -> None:
    async with FaultyS3Proxy(emulator.lambda_endpoint) as aws_lambda:
        aws_lambda.delay(2.0, match="/invocations")
        async with sentinel_client(emulator, lambda_read_timeout_s=0.3,
                                   endpoint_urls={"lambda": aws_lambda.endpoint_url,
                                                  "s3": emulator.s3_endpoint}) as remotion:
            with pytest.raises(StartOutcomeUnknownError) as info:
                await remotion.render_media(secret_options(emulator))
        await emulator.wait_for_renders()
    error = info.value
    assert not leaks("\n".join([str(error), repr(error), repr(vars(error)), captured.text]))


async def test_web_routes_hold_no_secret(
    emulator: RemotionEmulator, captured: pytest.LogCaptureFixture,
) -> None:
    from aioremotion.protocol.webhooks import sign_webhook
    from aioremotion.web import WebConfig, create_app

    config = WebConfig(region=emulator.region, serve_url=emulator.serve_url,
                       function_name=emulator.function_name, bucket_name=emulator.bucket,
                       webhook_secret=WEBHOOK_SECRET,
                       webhook_url="http://127.0.0.1:9/api/lambda/webhook")
    texts = [repr(config), str(config)]
    async with sentinel_client(emulator) as remotion:
        app = create_app(config, client=remotion)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
            render = await http.post("/api/lambda/render",
                                     json={"id": "HelloWorld", "inputProps": {}})
            texts.append(render.text)
            data = render.json()["data"]
            with anyio.fail_after(30):
                while True:
                    progress = await http.post("/api/lambda/progress", json={
                        "id": data["renderId"], "bucketName": data["bucketName"]})
                    texts.append(progress.text)
                    if progress.json()["data"]["type"] != "progress":
                        break
                    await anyio.sleep(0.02)
            body = json.dumps({"type": "success", "renderId": "abcdef1234"}).encode()
            for headers in ({"x-remotion-signature": sign_webhook(body, "wrong")},
                            {"x-remotion-signature": sign_webhook(body, WEBHOOK_SECRET)},
                            {}):
                texts.append((await http.post("/api/lambda/webhook", content=body,
                                              headers={"content-type": "application/json",
                                                       **headers})).text)
            for payload in ({"id": 1}, {"inputProps": "x"}, {"id": "HelloWorld",
                                                             "inputProps": {"a": 1},
                                                             "extra": LICENSE_KEY * 0}):
                texts.append((await http.post("/api/lambda/render", json=payload)).text)
    assert not leaks("\n".join([*texts, captured.text]))
