"""Error messages speak Python: each names the setting, variable or command that fixes it.

Library messages name Python keywords in one form (``function_name=``, ``region=``,
``remotion_version=``, ``serve_url=``) so that the command line can map them to its flags,
and the environment variables aioremotion really reads. What Remotion itself said is never
lost: it stays on the error (``message``) and ends the text ("Remotion said: …").
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError, ProfileNotFound

from aioremotion import RemotionLambda, environment
from aioremotion._aws import ensure_credentials
from aioremotion.errors import (
    BucketNotFoundError,
    CredentialsMissingError,
    FunctionNotFoundError,
    InvalidOptionsError,
    RemotionError,
    RequestNotSentError,
    StillRenderNotSupportedError,
    VersionMismatchError,
    WrongRegionError,
)
from aioremotion.protocol.replies import (
    concurrency_limit_message,
    encode_stream_message,
    interpret_still_stream,
    parse_invoke_reply,
    parse_stream_messages,
    stream_error_from_invoke_complete,
)
from aioremotion.transport import AwsFailure, MockTransport
from aioremotion.transport.errors import (
    RequestContext,
    error_from_exception,
    error_from_response,
)

ROOT = Path(__file__).resolve().parent.parent
FN = "remotion-render-4-0-508-mem2048mb-disk2048mb-120sec"
BUCKET = "remotionlambda-useast1-abcdefghij"


def mismatch(api: str = "renderMediaOnLambda", function: str = "4.0.508",
             sent: str = "4.0.527") -> str:
    """Remotion's text when the payload named another version."""
    return (
        f"Version mismatch: When calling {api}(), you passed {FN} as the function, which has "
        f"the version {function}, but the @remotion/lambda package you used to invoke the "
        f"function has version {sent}. Deploy a new function and use it to call "
        "getRenderProgress(). See: https://www.remotion.dev/docs/lambda/upgrading"
    )


MISSING_VERSION = (
    f"Version mismatch: When calling getRenderProgress(), you called the function {FN} which "
    "has the version 4.0.508 but the @remotion/lambda package sent an incompatible payload: "
    '{"type":"status"}. Expected it to contain {version: 4.0.508}'
)


def assert_says_the_fix(error: VersionMismatchError, original: str) -> None:
    text = str(error)
    assert text.startswith(f"The function {FN} runs Remotion 4.0.508 but this client sent "
                           "4.0.527")
    assert 'pass remotion_version="4.0.508" (or set REMOTION_VERSION=4.0.508)' in text
    assert "or deploy a function of Remotion 4.0.527" in text
    assert "`aioremotion info`" in text and "function_version()" in text
    assert text.endswith(f"Remotion said: {original.splitlines()[0]}")
    # The JavaScript advice is only quoted, never given as ours.
    assert text.index("Remotion said:") < text.index("@remotion/lambda package")
    assert error.message.startswith(original.splitlines()[0])
    assert (error.function_version, error.sent_version) == ("4.0.508", "4.0.527")


# ---------------------------------------------------------------- version mismatch


def test_version_mismatch_in_a_start_reply() -> None:
    original = mismatch()
    body = json.dumps({"type": "error", "message": original, "stack": "Error: " + original})
    with pytest.raises(VersionMismatchError) as info:
        parse_invoke_reply(body.encode(), function_error=None, status_code=200,
                           function_name=FN, routine="start")
    assert_says_the_fix(info.value, original)
    assert info.value.call == "render_media()"
    assert "(render_media())" in str(info.value)
    assert info.value.stack == "Error: " + original


def test_version_mismatch_as_an_unhandled_status_error() -> None:
    original = mismatch("getRenderProgress")
    body = {"errorType": "Error", "errorMessage": original, "trace": ["Error: " + original]}
    with pytest.raises(VersionMismatchError) as info:
        parse_invoke_reply(json.dumps(body).encode(), function_error="Unhandled",
                           status_code=200, function_name=FN, routine="status")
    assert_says_the_fix(info.value, original)
    assert info.value.call == 'get_progress(via="lambda")'


@pytest.mark.parametrize("error", [mismatch("renderStillOnLambda"),
                                   "Error: " + mismatch("renderStillOnLambda") + "\n    at x"])
def test_version_mismatch_in_a_still_stream(error: str) -> None:
    stream = (encode_stream_message("render-id-determined", {"renderId": "abcdefghij"})
              + encode_stream_message("error-occurred", {"error": error}))
    with pytest.raises(VersionMismatchError) as info:
        interpret_still_stream(parse_stream_messages(stream), function_name=FN)
    assert_says_the_fix(info.value, error)
    assert info.value.message == error
    assert info.value.call == "render_still()"


def test_version_mismatch_as_an_invoke_complete_error() -> None:
    error = stream_error_from_invoke_complete("Unhandled", mismatch("renderStillOnLambda"), FN)
    assert isinstance(error, VersionMismatchError)
    assert_says_the_fix(error, mismatch("renderStillOnLambda"))


def test_version_mismatch_of_compositions() -> None:
    error = VersionMismatchError(mismatch("getCompositionsOnLambda"), function_name=FN)
    assert error.call == "get_compositions()"
    assert_says_the_fix(error, mismatch("getCompositionsOnLambda"))


def test_version_mismatch_without_a_version_in_the_payload() -> None:
    error = VersionMismatchError(MISSING_VERSION, function_name=FN)
    assert (error.function_version, error.sent_version) == ("4.0.508", None)
    text = str(error)
    assert text.startswith(f"The function {FN} runs Remotion 4.0.508 but the payload of "
                           'get_progress(via="lambda") carried no version')
    assert 'pass remotion_version="4.0.508"' in text
    assert text.endswith(f"Remotion said: {MISSING_VERSION}")


def test_version_mismatch_that_names_no_versions() -> None:
    error = VersionMismatchError("Error: Version mismatch\n    at check (index.js:1:1)")
    assert (error.function_version, error.sent_version, error.call) == (None, None, None)
    text = str(error)
    assert text.startswith("The function runs another Remotion version than this client sent")
    assert "remotion_version=..." in text and "REMOTION_VERSION" in text
    assert "`aioremotion info`" in text
    assert text.endswith("Remotion said: Error: Version mismatch")


async def test_a_client_on_the_emulator_gets_the_python_fix() -> None:
    pytest.importorskip("moto")
    from aioremotion.emulator import RemotionEmulator

    async with RemotionEmulator() as emulator, emulator.client(
            remotion_version="4.0.400") as remotion:
        with pytest.raises(VersionMismatchError) as info:
            await remotion.render_media(serve_url=emulator.serve_url,
                                        composition="HelloWorld", codec="h264")
    text = str(info.value)
    assert "runs Remotion 4.0.527 but this client sent 4.0.400 (render_media())" in text
    assert 'pass remotion_version="4.0.527"' in text


# ---------------------------------------------------------------- the version setting


def test_remotion_version_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    mock = MockTransport(region="us-east-1")
    monkeypatch.setenv("REMOTION_VERSION", "4.0.508")
    monkeypatch.delenv("REMOTION_FUNCTION_NAME", raising=False)
    client = RemotionLambda(region="us-east-1", transport=mock)
    assert client.remotion_version == "4.0.508"
    assert client.function_name == "remotion-render-4-0-508-mem2048mb-disk2048mb-120sec"
    explicit = RemotionLambda(region="us-east-1", transport=mock, remotion_version="4.0.527")
    assert explicit.remotion_version == "4.0.527"
    monkeypatch.delenv("REMOTION_VERSION")
    assert RemotionLambda(region="us-east-1", transport=mock).remotion_version == "4.0.527"


# ---------------------------------------------------------------- credentials and region


def assert_names_credentials(text: str) -> None:
    for named in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE",
                  "REMOTION_AWS_ACCESS_KEY_ID", "REMOTION_AWS_SECRET_ACCESS_KEY",
                  "REMOTION_AWS_PROFILE", "No AWS account?", "--local",
                  "`aioremotion emulator`", "RemotionEmulator"):
        assert named in text, named


def test_missing_credentials_message() -> None:
    error = CredentialsMissingError()
    assert str(error).startswith("No AWS credentials were found. Set AWS_ACCESS_KEY_ID")
    assert_names_credentials(str(error))
    assert error.detail is None


@pytest.mark.parametrize("exc", [NoCredentialsError(), ProfileNotFound(profile="render")])
def test_missing_credentials_from_botocore(exc: Exception) -> None:
    error = error_from_exception(RequestContext("lambda", "Invoke", "us-east-1"), exc)
    assert isinstance(error, CredentialsMissingError)
    assert error.detail is not None and type(exc).__name__ in error.detail
    assert str(error).startswith(f"No AWS credentials were found ({type(exc).__name__}: ")
    assert_names_credentials(str(error))
    assert (error.service, error.operation) == ("lambda", "Invoke")


async def test_missing_credentials_when_the_client_opens() -> None:
    class NoCredentials:
        async def get_credentials(self) -> None:
            return None

    with pytest.raises(CredentialsMissingError) as info:
        await ensure_credentials(NoCredentials())  # type: ignore[arg-type]
    assert_names_credentials(str(info.value))


def test_missing_region_names_the_keyword_and_the_variables(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in environment.VARIABLES["region"]:
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(InvalidOptionsError) as info:
        RemotionLambda()
    assert info.value.fields == ["region"]
    message = info.value.problems[0][1]
    assert 'region="us-east-1"' in message
    assert "AWS_REGION" in message and "REMOTION_AWS_REGION" in message


def test_invalid_credentials_name_the_profile_variables() -> None:
    error = error_from_response(RequestContext("s3", "GetObject", "us-east-1", BUCKET, "k"),
                                status=403, code="InvalidAccessKeyId", message="no such key")
    for named in ("AWS_ACCESS_KEY_ID", "REMOTION_AWS_ACCESS_KEY_ID", "AWS_PROFILE",
                  "REMOTION_AWS_PROFILE"):
        assert named in str(error), named


def test_wrong_region_names_the_keyword_and_the_variables() -> None:
    text = str(WrongRegionError(BUCKET, region="us-east-1", bucket_region="eu-west-1"))
    assert "RemotionLambda(region='eu-west-1')" in text
    assert "AWS_REGION" in text and "REMOTION_AWS_REGION" in text


def test_function_not_found_names_the_keywords() -> None:
    text = str(FunctionNotFoundError(FN, region="us-east-1"))
    assert "function_name=..." in text and "REMOTION_FUNCTION_NAME" in text
    assert "region=..." in text and "npx remotion lambda functions deploy" in text
    assert "No AWS account?" in text


def test_bucket_not_found_names_the_keyword() -> None:
    text = str(BucketNotFoundError(BUCKET, region="us-east-1"))
    assert "bucket_name=..." in text and "get_or_create_bucket()" in text


def test_request_not_sent_names_the_endpoint_settings() -> None:
    unknown_host = EndpointConnectionError(
        endpoint_url="http://x", error=socket.gaierror(-2, "Name or service not known"))
    error = error_from_exception(RequestContext("s3", "GetObject", "us-east-1", BUCKET, "k"),
                                 unknown_host)
    assert isinstance(error, RequestNotSentError)
    text = str(error)
    assert "endpoint_urls=..." in text and "AWS_ENDPOINT_URL_S3" in text
    assert "region=..." in text


# ---------------------------------------------------------------- the rest


def test_still_progress_says_what_to_do_in_python() -> None:
    text = str(StillRenderNotSupportedError())
    assert text.startswith("A still render has no progress to follow: render_still() returns")
    assert "Remotion said: You don't need to call getRenderProgress() on a still render" in text


def test_throttling_names_the_python_knobs() -> None:
    text = concurrency_limit_message("Rate Exceeded.", 3)
    assert "Batch(max_concurrent_starts=...)" in text
    assert "throttle_retry=ThrottleRetry(attempts=...)" in text


async def test_cancel_names_enable_cancellation() -> None:
    mock = MockTransport(region="us-east-1")
    mock.add_bucket(BUCKET)
    mock.put(BUCKET, "renders/abcdefghij/progress.json",
             {"cancellationEnabled": False, "timeoutTimestamp": 1, "functionLaunched": 0})
    async with RemotionLambda(region="us-east-1", function_name=FN, transport=mock) as client:
        with pytest.raises(RemotionError) as info:
            await client.cancel("abcdefghij", bucket_name=BUCKET)
    text = str(info.value)
    assert "not started with enableCancellation: true" in text  # Remotion's words, kept
    assert "enable_cancellation=True" in text


async def test_throttled_start_names_the_python_knobs() -> None:
    from aioremotion.errors import ConcurrencyLimitError
    from aioremotion.retry import ThrottleRetry

    mock = MockTransport(region="us-east-1")
    mock.fail("start", AwsFailure(429, "TooManyRequestsException", "Rate Exceeded."), times=2)
    async with RemotionLambda(region="us-east-1", function_name=FN, transport=mock,
                              throttle_retry=ThrottleRetry(attempts=2, base_s=0)) as client:
        with pytest.raises(ConcurrencyLimitError) as info:
            await client.render_media(serve_url="site", composition="C", codec="h264")
    assert "Batch(max_concurrent_starts=...)" in str(info.value)


# ---------------------------------------------------------------- one vocabulary


#: The modules whose messages this issue rewrote.
MESSAGE_MODULES = ("aioremotion/errors.py", "aioremotion/protocol/replies.py",
                   "aioremotion/client.py", "aioremotion/_aws.py",
                   "aioremotion/transport/errors.py", "aioremotion/transport/_s3_get.py")
#: Variables botocore reads itself (aioremotion's own are in environment.VARIABLES).
BOTOCORE_VARIABLES = {"AWS_PROFILE", "AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL_S3",
                      "AWS_ENDPOINT_URL"}


def test_every_variable_a_message_names_is_read() -> None:
    known = {name for names in environment.VARIABLES.values() for name in names}
    known |= BOTOCORE_VARIABLES
    named = set()
    for module in MESSAGE_MODULES:
        named |= set(re.findall(r"\b(?:AWS|REMOTION|AIOREMOTION)_[A-Z0-9_]*[A-Z0-9]\b",
                                (ROOT / module).read_text(encoding="utf-8")))
    assert named, "the pattern found no variable at all"
    assert named <= known, sorted(named - known)


def test_keywords_are_named_in_one_form() -> None:
    """The CLI maps ``keyword=`` to its flags: no message spells a keyword another way."""
    other_forms = re.compile(r"\b(?:functionName|remotionVersion|serveUrl)=|"
                             r"\b(?:function|remotion|serve)[ -](?:name|version|url)=")
    for module in MESSAGE_MODULES:
        text = (ROOT / module).read_text(encoding="utf-8")
        assert not other_forms.search(text), module
