"""The emulator impersonates the version its function name says, strictly: every captured
payload of that version is accepted, a payload missing a key the version reads or carrying
one only a later version reads is refused, naming the keys (issue 14)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.session import get_session
from botocore.config import Config

from aioremotion.emulator import EmulatorConfig, RemotionEmulator
from aioremotion.emulator.payload_check import expected_keys, payload_problem
from aioremotion.protocol.naming import speculate_function_name
from aioremotion.protocol.replies import parse_stream_messages

RECORDS = Path(__file__).parents[1] / "conformance" / "records"
RECORD_FILES = [RECORDS / "payload-cases.json",
                *sorted((RECORDS / "versions").glob("*/payload-cases.json"))]
COMPOSITIONS_FILES = sorted((RECORDS / "versions").glob("*/compositions-cases.json"))
NO_RETRIES = Config(retries={"total_max_attempts": 1})


def captured(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """A record file's version and its payloads (records without one are skipped)."""
    payloads = [case["payload"] for case in json.loads(path.read_text())
                if case["payload"] is not None]
    versions = {p["version"] for p in payloads}
    assert len(versions) == 1, versions
    return versions.pop(), payloads


def function_of(version: str) -> str:
    return speculate_function_name(version=version, memory_mb=2048, disk_mb=2048,
                                   timeout_s=120)


@pytest.fixture
async def lambda_client(emulator: RemotionEmulator) -> AsyncIterator[Any]:
    async with get_session().create_client(
            "lambda", config=NO_RETRIES, **emulator.server.client_kwargs()) as client:
        yield client


async def invoke(client: Any, function: str, payload: dict[str, Any]) -> tuple[Any, Any]:
    """(FunctionError or None, the reply's JSON) of a plain Invoke."""
    response = await client.invoke(FunctionName=function, Payload=json.dumps(payload))
    body = await response["Payload"].read()
    return response.get("FunctionError"), json.loads(body)


def for_this_emulator(payload: dict[str, Any], emulator: RemotionEmulator,
                      render_id: str | None) -> dict[str, Any]:
    """The same keys, with values that reach the emulator's bucket and site."""
    out = dict(payload)
    if out.get("bucketName") is not None:
        out["bucketName"] = emulator.bucket
    if out["type"] == "start":
        out["webhook"] = None
        if out["inputProps"]["type"] == "bucket-url":
            out["inputProps"] = {"type": "payload", "payload": "{}"}
    if out["type"] == "still":
        out.update(serveUrl=emulator.serve_url, composition="HelloWorld", frame=0)
    if out["type"] == "status":
        out.update(bucketName=emulator.bucket, renderId=render_id)
    if out["type"] == "compositions":
        out.update(serveUrl=emulator.serve_url)
    return out


@pytest.mark.parametrize("path", RECORD_FILES, ids=lambda p: p.parent.name)
async def test_every_captured_payload_is_accepted_by_its_versions_function(
    path: Path, emulator: RemotionEmulator, lambda_client: Any
) -> None:
    version, payloads = captured(path)
    function = function_of(version)
    _, minimal = await invoke(lambda_client, function,
                              for_this_emulator(payloads[0], emulator, None))
    assert minimal["type"] == "success", minimal
    for payload in payloads:
        assert payload_problem(payload, version) is None
        error, reply = await invoke(lambda_client, function,
                                    for_this_emulator(payload, emulator, minimal["renderId"]))
        assert error is None, (payload["type"], reply)
        assert reply["type"] != "error", (payload["type"], reply)
    await emulator.wait_for_renders()


@pytest.mark.parametrize("path", RECORD_FILES, ids=lambda p: p.parent.name)
async def test_info_answers_the_version_in_the_name(
    path: Path, emulator: RemotionEmulator, lambda_client: Any
) -> None:
    version, _ = captured(path)
    error, reply = await invoke(lambda_client, function_of(version), {"type": "info"})
    assert (error, reply) == (None, {"version": version, "type": "success"})


@pytest.mark.parametrize("path", [RECORD_FILES[0], RECORDS / "versions/4.0.403/payload-cases.json"],
                         ids=lambda p: p.parent.name)
@pytest.mark.parametrize("routine", ["start", "still", "status"])
async def test_a_payload_missing_a_key_is_refused_naming_it(
    path: Path, routine: str, emulator: RemotionEmulator, lambda_client: Any
) -> None:
    version, payloads = captured(path)
    payload = next(p for p in payloads if p["type"] == routine)
    for key in ("logLevel", "bucketName") if routine == "status" else ("scale", "forceWidth"):
        broken = {k: v for k, v in payload.items() if k != key}
        error, reply = await invoke(lambda_client, function_of(version), broken)
        message = reply["errorMessage"] if routine == "status" else reply["message"]
        assert error == ("Unhandled" if routine == "status" else None)
        assert reply.get("type") == (None if routine == "status" else "error")
        assert f"lacks {key}, which that version reads" in message
        assert f"a Remotion {version} function" in message


async def test_a_newer_key_sent_to_an_older_function_is_refused_naming_it(
    emulator: RemotionEmulator, lambda_client: Any
) -> None:
    _, payloads = captured(RECORD_FILES[0])
    start = {**payloads[0], "version": "4.0.491"}
    _, reply = await invoke(lambda_client, function_of("4.0.491"), start)
    assert reply["type"] == "error"
    assert "it has enableCancellation (sent from 4.0.515 on), which that version does not " \
           "read" in reply["message"]
    assert "renderMediaOnLambda() payload does not fit a Remotion 4.0.491 function" \
           in reply["message"]


async def test_a_payload_of_another_version_gets_the_version_mismatch_text(
    emulator: RemotionEmulator, lambda_client: Any
) -> None:
    _, payloads = captured(RECORD_FILES[0])
    function = function_of("4.0.491")
    _, reply = await invoke(lambda_client, function, payloads[0])
    assert reply["type"] == "error"
    assert reply["message"] == (
        f"Version mismatch: When calling renderMediaOnLambda(), you passed {function} as the "
        "function, which has the version 4.0.491, but the @remotion/lambda package you used "
        "to invoke the function has version 4.0.527. Deploy a new function and use it to call "
        "getRenderProgress(). See: https://www.remotion.dev/docs/lambda/upgrading")


async def test_a_streamed_still_missing_a_key_gets_an_error_message(
    emulator: RemotionEmulator, lambda_client: Any
) -> None:
    _, payloads = captured(RECORD_FILES[0])
    still = next(p for p in payloads if p["type"] == "still")
    broken = {k: v for k, v in still.items() if k != "scale"}
    response = await lambda_client.invoke_with_response_stream(
        FunctionName=function_of("4.0.527"), Payload=json.dumps(broken))
    chunks = [event["PayloadChunk"]["Payload"] async for event in response["EventStream"]
              if "PayloadChunk" in event]
    [message] = parse_stream_messages(b"".join(chunks))
    assert message.type == "error-occurred"
    assert "lacks scale, which that version reads" in message.json()["error"]


async def test_strict_payloads_off_accepts_a_missing_key() -> None:
    async with RemotionEmulator(config=EmulatorConfig(strict_payloads=False)) as emulator, \
            get_session().create_client("lambda", config=NO_RETRIES,
                                        **emulator.server.client_kwargs()) as client:
        _, payloads = captured(RECORD_FILES[0])
        start = {k: v for k, v in payloads[0].items() if k != "scale"}
        _, reply = await invoke(client, function_of("4.0.527"), start)
        assert reply["type"] == "success", reply
        await emulator.wait_for_renders()


@pytest.mark.parametrize("path", COMPOSITIONS_FILES, ids=lambda p: p.parent.name)
async def test_every_captured_compositions_payload_is_accepted_by_its_versions_function(
    path: Path, emulator: RemotionEmulator, lambda_client: Any
) -> None:
    version, payloads = captured(path)
    assert len(payloads) == 2
    for payload in payloads:
        assert payload_problem(payload, version) is None
        error, reply = await invoke(lambda_client, function_of(version),
                                    for_this_emulator(payload, emulator, None))
        assert (error, reply["type"]) == (None, "success"), reply
        assert reply["compositions"], reply


@pytest.mark.parametrize("path", [COMPOSITIONS_FILES[0], COMPOSITIONS_FILES[-1]],
                         ids=lambda p: p.parent.name)
@pytest.mark.parametrize("key", ["chromiumOptions", "mediaCacheSizeInBytes", "envVariables"])
async def test_a_compositions_payload_missing_a_key_is_refused_naming_it(
    path: Path, key: str, emulator: RemotionEmulator, lambda_client: Any
) -> None:
    version, payloads = captured(path)
    payload = for_this_emulator(payloads[0], emulator, None)
    del payload[key]
    error, reply = await invoke(lambda_client, function_of(version), payload)
    assert (error, reply["type"]) == (None, "error")
    assert (f"The getCompositionsOnLambda() payload does not fit a Remotion {version} "
            f"function: it lacks {key}, which that version reads") in reply["message"]


def test_versions_outside_the_table_and_other_routines_are_not_checked() -> None:
    assert expected_keys("start", "4.0.300") is None
    assert expected_keys("compositions", "4.0.300") is None
    assert expected_keys("info", "4.0.527") is None
    assert payload_problem({"type": "start", "version": "4.0.999"}, "4.0.999") is None


@pytest.mark.parametrize(("version", "newer"), [("4.0.527", False), ("4.0.535", True),
                                                ("4.0.539", True)])
async def test_progress_json_has_the_sequence_fields_from_4_0_535_on(
    version: str, newer: bool, emulator: RemotionEmulator, lambda_client: Any
) -> None:
    source = captured(RECORDS / "versions/python-sdk-4.0.539/payload-cases.json")[1][0]
    start = {**source, "version": version, "serveUrl": emulator.serve_url,
             "composition": "HelloWorld"}
    if not newer:
        for key in ("output", "disableSharedMemoryCapture", "separateAudioTo"):
            del start[key]
    _, reply = await invoke(lambda_client, function_of(version), start)
    assert reply["type"] == "success", reply
    await emulator.wait_for_renders()
    body = await emulator.s3.get_object(Bucket=reply["bucketName"],
                                        Key=f"renders/{reply['renderId']}/progress.json")
    async with body["Body"] as stream:
        progress = json.loads(await stream.read())
    assert progress["postRenderData"] is not None, progress["errors"]
    fields = {"framesUploaded": 0, "outputSequence": None, "separateAudio": None}
    if newer:
        assert {key: progress[key] for key in fields} == fields
    else:
        assert not fields.keys() & progress.keys()


@pytest.mark.parametrize("path", RECORD_FILES, ids=lambda p: p.parent.name)
def test_the_expected_keys_are_exactly_the_captured_ones(path: Path) -> None:
    version, payloads = captured(path)
    for payload in payloads:
        assert expected_keys(payload["type"], version) == set(payload), payload["type"]


@pytest.mark.parametrize("version", [
    "4.0.403", "4.0.409", "4.0.410", "4.0.424", "4.0.425", "4.0.431", "4.0.447", "4.0.448",
    "4.0.451", "4.0.465", "4.0.466", "4.0.491", "4.0.508", "4.0.514", "4.0.515", "4.0.520",
    "4.0.527", "4.0.534", "4.0.535", "4.0.539", "4.0.542"])
async def test_aioremotion_renders_on_a_function_of_each_version(
    version: str, emulator: RemotionEmulator
) -> None:
    async with emulator.client(function_name=function_of(version),
                               remotion_version=version) as remotion:
        render = await remotion.render_media(serve_url=emulator.serve_url,
                                             composition="HelloWorld", codec="h264")
        await emulator.wait_for_renders()
        assert (await remotion.get_progress(render, via="lambda")).done
        still = await remotion.render_still(serve_url=emulator.serve_url,
                                            composition="HelloWorld")
    assert still.render_id
