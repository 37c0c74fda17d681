"""An emulated function refuses a payload of another version (or of none) with the text of
its own Remotion version, routine by routine, and aioremotion's client raises its typed
VersionMismatchError for it (issue 14).

The expected texts are written out here from the published packages (see docs/PROTOCOL.md
4.2), not derived from the emulator's table: up to 4.0.244 each routine names its own API
in both texts; 4.0.248 … 4.0.314 say "is an older version" for a payload without a
version, 4.0.320 … 4.0.527 quote the payload instead; from 4.0.248 on the other-version
text names getRenderProgress() for every routine.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiobotocore.session import get_session
from botocore.config import Config

from aioremotion import VersionMismatchError
from aioremotion.emulator import RemotionEmulator
from aioremotion.protocol.naming import speculate_function_name
from aioremotion.protocol.replies import parse_invoke_reply, parse_stream_messages

NO_RETRIES = Config(retries={"total_max_attempts": 1})
API = {"start": "renderMediaOnLambda()", "still": "renderStillOnLambda()",
       "status": "getRenderProgress()", "compositions": "getCompositionsOnLambda()"}
ROUTINES = list(API)
PER_ROUTINE, OLD, NEW = "4.0.244", "4.0.314", "4.0.527"
VERSIONS = [PER_ROUTINE, OLD, "4.0.403", NEW]
LINK = "See: https://www.remotion.dev/docs/lambda/upgrading"


def function_of(version: str) -> str:
    return speculate_function_name(version=version, memory_mb=2048, disk_mb=2048,
                                   timeout_s=120)


def other_version_text(routine: str, function: str, version: str, sent: str) -> str:
    return (f"Version mismatch: When calling {API[routine]}, you passed {function} as the "
            f"function, which has the version {version}, but the @remotion/lambda package "
            f"you used to invoke the function has version {sent}. Deploy a new function and "
            f"use it to call {API[routine] if version == PER_ROUTINE else 'getRenderProgress()'}"
            f". {LINK}")


def without_version_text(routine: str, function: str, version: str, payload: str) -> str:
    head = (f"Version mismatch: When calling {API[routine]}, you called the function "
            f"{function} which has the version {version} but the @remotion/lambda package ")
    if version in (PER_ROUTINE, OLD):
        return (f"{head}is an older version. Deploy a new function and use it to call "
                f"{API[routine]}. {LINK}")
    return (f"{head}sent an incompatible payload: {payload}. Expected it to contain "
            f"{{version: {version}}}")


@pytest.fixture
async def lambda_client(emulator: RemotionEmulator) -> AsyncIterator[Any]:
    async with get_session().create_client(
            "lambda", config=NO_RETRIES, **emulator.server.client_kwargs()) as client:
        yield client


async def refusal(client: Any, function: str, payload: dict[str, Any]) -> tuple[str, Any]:
    """The function's error text for ``payload``, and what aioremotion parses the reply into."""
    response = await client.invoke(FunctionName=function, Payload=json.dumps(payload))
    raw = await response["Payload"].read()
    reply = json.loads(raw)
    text = reply["errorMessage"] if response.get("FunctionError") else reply["message"]
    try:
        parse_invoke_reply(raw, function_error=response.get("FunctionError"),
                           status_code=response["StatusCode"], function_name=function,
                           routine=payload["type"])
    except Exception as exc:  # the test inspects whichever error it is
        return text, exc
    return text, None


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("routine", ROUTINES)
async def test_a_payload_of_another_version_gets_the_functions_own_text(
    routine: str, version: str, emulator: RemotionEmulator, lambda_client: Any
) -> None:
    function = function_of(version)
    payload = {"type": routine, "version": "4.0.491", "logLevel": "info"}
    text, error = await refusal(lambda_client, function, payload)
    assert text == other_version_text(routine, function, version, "4.0.491")
    assert isinstance(error, VersionMismatchError)
    assert (error.function_version, error.sent_version) == (version, "4.0.491")
    assert error.message == text


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("routine", ROUTINES)
async def test_a_payload_without_version_gets_the_functions_own_text(
    routine: str, version: str, emulator: RemotionEmulator, lambda_client: Any
) -> None:
    function = function_of(version)
    payload = {"type": routine, "serveUrl": "https://x/{a}", "scale": 1.0, "logLevel": "info"}
    text, error = await refusal(lambda_client, function, payload)
    quoted = '{"type":"' + routine + '","serveUrl":"https://x/{a}","scale":1,"logLevel":"info"}'
    assert text == without_version_text(routine, function, version, quoted)
    assert isinstance(error, VersionMismatchError)
    assert (error.function_version, error.sent_version) == (version, None)
    assert "carried no version" in str(error)


@pytest.mark.parametrize("version", [OLD, NEW])
async def test_a_streamed_still_gets_the_text_in_its_error_message(
    version: str, emulator: RemotionEmulator, lambda_client: Any
) -> None:
    function = function_of(version)
    response = await lambda_client.invoke_with_response_stream(
        FunctionName=function,
        Payload=json.dumps({"type": "still", "version": "4.0.491", "streamed": True}))
    chunks = [event["PayloadChunk"]["Payload"] async for event in response["EventStream"]
              if "PayloadChunk" in event]
    [message] = parse_stream_messages(b"".join(chunks))
    assert message.type == "error-occurred"
    first_line = message.json()["error"].split("\n", 1)[0]
    assert first_line == "Error: " + other_version_text("still", function, version, "4.0.491")


@pytest.mark.parametrize("version", [PER_ROUTINE, OLD, NEW])
@pytest.mark.parametrize("routine", ROUTINES)
async def test_the_client_raises_version_mismatch_error_with_the_functions_text(
    routine: str, version: str, emulator: RemotionEmulator
) -> None:
    sent = "4.0.491" if version == NEW else "4.0.527"
    function = function_of(version)
    async with emulator.client(function_name=function, remotion_version=sent) as remotion:
        with pytest.raises(VersionMismatchError) as caught:
            if routine == "start":
                await remotion.render_media(serve_url=emulator.serve_url,
                                            composition="HelloWorld", codec="h264")
            elif routine == "still":
                await remotion.render_still(serve_url=emulator.serve_url,
                                            composition="HelloWorld")
            elif routine == "status":
                await remotion.get_progress("abcdef1234", bucket_name=emulator.bucket,
                                            via="lambda")
            else:
                await remotion.get_compositions(serve_url=emulator.serve_url)
    error = caught.value
    expected = other_version_text(routine, function, version, sent)
    assert error.message.strip().split("\n", 1)[0].removeprefix("Error: ") == expected
    assert (error.function_version, error.sent_version) == (version, sent)
