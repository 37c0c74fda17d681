"""Secrets never leak: render with sentinel secrets, capture everything, scan it.

The sentinels: the AWS secret key and session token of the client's credentials, a
webhook secret, a license key, and the access key id and secret key of an
``s3OutputProvider``. They must appear in no repr, no log record (aioremotion's,
botocore's and aiobotocore's at DEBUG, every other library's at INFO; message, arguments
and exception text), no exception message, no event or handle JSON and no CLI or web
output. (They are, by necessity, in the payload sent to the function.)

Each sentinel is a unique alphanumeric core followed by characters that JSON, ``repr`` or
URL encoding escape, and a leak is any occurrence of the core: a secret that reaches a log
in an escaped form not redacted as a whole still shows its core.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from typing import Any

import anyio
import httpx
import pytest
from aiobotocore.session import AioSession

from aioremotion import RemotionLambda, _redact
from aioremotion.emulator import RemotionEmulator
from aioremotion.errors import InvalidOptionsError, StartOutcomeUnknownError
from aioremotion.events import Failed
from aioremotion.fanout import Batch
from aioremotion.protocol.options import RenderMediaOptions
from aioremotion.testing import FaultyProxy
from aioremotion.watching import watch

from .test_fault_matrix import FAST

AWS_KEY_ID = "AKIASENTINELKEYID000"
AWS_SECRET = "SENTINELawsSecretKey000000000000000/+abc"
AWS_TOKEN = "SENTINELsessionToken0000/+xYz/+=="  # base64 like a real one: URL-encoded in queries
WEBHOOK_SECRET = "SENTINELwebhookSecret0000\"\\'é\u2603"  # escaped by JSON and by repr
LICENSE_KEY = "SENTINELlicenseKey0000'ü"
S3P_KEY_ID = "SENTINELs3pAccessKeyId00"
S3P_SECRET = "SENTINELs3pSecretKey0000/+\\x"
_OUTPUTS = itertools.count()
SENTINELS = (AWS_KEY_ID, AWS_SECRET, AWS_TOKEN, WEBHOOK_SECRET, LICENSE_KEY, S3P_KEY_ID,
             S3P_SECRET)
#: What betrays each sentinel in any encoding: its alphanumeric start.
CORES = tuple(re.sub(r"[^A-Za-z0-9].*", "", s, flags=re.DOTALL) for s in SENTINELS)


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
    return [core for core in CORES if core in text]


def leaking(texts: list[str]) -> list[str]:
    """The captured texts holding a sentinel (shortened), for a readable failure."""
    return [text[:300] for text in texts if leaks(text)]


def sentinel_client(emulator: RemotionEmulator, **kwargs: Any) -> RemotionLambda:
    session = AioSession()
    session.set_credentials(AWS_KEY_ID, AWS_SECRET, AWS_TOKEN)
    return emulator.client(session=session, **kwargs)


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    for name in ("aioremotion", "botocore", "aiobotocore"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def record_texts(records: list[logging.LogRecord]) -> list[str]:
    """All a handler could show of each record: message, arguments, exception, stack."""
    texts = []
    for record in records:
        texts += [record.getMessage(), repr(record.args), logging.Formatter().format(record)]
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
        texts += [record.exc_text or "", record.stack_info or ""]
    return texts


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
    seen += record_texts(captured.records)
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
    async with FaultyProxy(emulator.lambda_endpoint) as aws_lambda:
        aws_lambda.delay(2.0, match="/invocations")
        async with sentinel_client(emulator, lambda_read_timeout_s=0.3,
                                   endpoint_urls={"lambda": aws_lambda.endpoint_url,
                                                  "s3": emulator.s3_endpoint}) as remotion:
            with pytest.raises(StartOutcomeUnknownError) as info:
                await remotion.render_media(secret_options(emulator))
        await emulator.wait_for_renders()
    error = info.value
    assert not leaks("\n".join([str(error), repr(error), repr(vars(error)), captured.text,
                                *record_texts(captured.records)]))


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
    assert not leaks("\n".join([*texts, captured.text, *record_texts(captured.records)]))


async def test_botocore_debug_logs_hold_no_secret(
    emulator: RemotionEmulator, captured: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every kind of call, with credentials from ``REMOTION_AWS_*`` (a session token
    included) and botocore at DEBUG: botocore logs the Invoke bodies, the signed headers and
    the canonical requests, all redacted."""
    monkeypatch.setenv("REMOTION_AWS_ACCESS_KEY_ID", AWS_KEY_ID)
    monkeypatch.setenv("REMOTION_AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("REMOTION_AWS_SESSION_TOKEN", AWS_TOKEN)
    registered = len(_redact._registry)
    provider = secret_options(emulator)["out_name"]["s3_output_provider"]
    async with emulator.client(session=None, fast_progress_reads=False) as remotion:
        assert len(_redact._registry) > registered  # the credentials, while open
        handle = await remotion.render_media(secret_options(emulator))  # Invoke
        await remotion.get_progress(handle)  # botocore's S3 GetObject
        await remotion.get_progress(handle, via="lambda", s3_output_provider=provider)
        await remotion.render_still(serve_url=emulator.serve_url, composition="HelloWorld",
                                    license_key=LICENSE_KEY)  # InvokeWithResponseStream
        await remotion.presign_url(emulator.bucket, "renders/x/out.mp4")  # token in a query
        async for _event in watch(remotion, handle, FAST):
            pass
    await emulator.wait_for_renders()
    async with emulator.client(session=None, endpoint_urls={
            "lambda": "http://127.0.0.1:9", "s3": "http://127.0.0.1:9"}) as unreachable:
        with pytest.raises(Exception, match="Could not"):  # botocore logs it with exc_info
            await unreachable.render_media(secret_options(emulator))
    assert len(_redact._registry) == registered  # released when closed / sent
    botocore = [r for r in captured.records if r.name.startswith(("botocore", "aiobotocore"))]
    shown = "\n".join(record_texts(botocore))
    # the test saw what it must hide: bodies, signed headers, canonical requests, errors
    assert "OperationModel(name=Invoke)" in shown
    assert "OperationModel(name=InvokeWithResponseStream)" in shown
    assert "X-Amz-Security-Token" in shown and "x-amz-security-token:" in shown
    assert "X-Amz-Security-Token=" in shown  # the presigned URL's canonical query
    assert any(r.exc_info or r.exc_text for r in botocore)
    assert not leaking([*record_texts(captured.records), captured.text])


def test_redacting_filter_masks_every_form_and_replaces_the_message() -> None:
    _redact.install()
    log = logging.getLogger("botocore.endpoint")
    assert any(isinstance(f, _redact.RedactingFilter) for f in log.filters)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep, level = Keep(), log.level
    log.addHandler(keep)
    log.setLevel(logging.DEBUG)
    payload = {"licenseKey": LICENSE_KEY, "webhook": {"secret": WEBHOOK_SECRET},
               "outName": {"s3OutputProvider": {"accessKeyId": S3P_KEY_ID,
                                                "secretAccessKey": S3P_SECRET}}}
    body = json.dumps(payload, ensure_ascii=False).encode()
    try:
        with _redact.payload_secrets(payload):
            log.debug("params: %s", {"body": body})  # bytes repr of JSON
            log.debug("ascii JSON %s", json.dumps(payload))
            log.debug("repr %r", payload)
            try:
                raise RuntimeError(f"failed with {S3P_SECRET}")
            except RuntimeError:
                log.debug("failed", exc_info=True)
        # a token refreshed after the client opened is not registered, but still masked
        log.debug("CanonicalRequest:\nx-amz-security-token:%s\n", AWS_TOKEN)
        log.debug("X-Amz-Security-Token=%s&X-Amz-Date=1", "SENTINELsessionToken0000%2F%2B")
        log.debug("headers: %r", {"X-Amz-Security-Token": AWS_TOKEN.encode()})
        log.debug("unrelated: %s", LICENSE_KEY)  # released: no longer a known secret
    finally:
        log.removeHandler(keep)
        log.setLevel(level)
    *redacted, unrelated = records
    failed = redacted.pop(3)
    assert all(r.args == () and "***" in r.msg for r in redacted), [r.msg for r in redacted]
    assert not leaking(record_texts([*redacted, failed]))
    assert failed.exc_info is None and "RuntimeError: failed with ***" in (failed.exc_text or "")
    assert unrelated.getMessage() == f"unrelated: {LICENSE_KEY}"


def test_json_of_options_hides_the_s3_output_provider_key_id() -> None:
    options = RenderMediaOptions.model_validate(secret_options(_FakeEmulator()))
    assert not leaks(options.model_dump_json())
    assert not leaks(json.dumps(options.model_dump(mode="json")))
    provider = options.out_name_payload()["s3OutputProvider"]
    assert (provider["accessKeyId"], provider["secretAccessKey"]) == (S3P_KEY_ID, S3P_SECRET)
    # model_dump() (Python mode) still round-trips
    assert RenderMediaOptions.model_validate(options.model_dump()).out_name_payload() == (
        options.out_name_payload())


class _FakeEmulator:
    serve_url = "https://x.s3.amazonaws.com/sites/a/index.html"
    bucket = "remotionlambda-useast1-abcdefghij"
    s3_endpoint = "https://r2.example.com"
