"""LambdaApiServer + ScriptedLambdaBackend, driven through real aiobotocore clients."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from aioremotion.emulator.backend import (
    FunctionError,
    InvokeResult,
    LambdaApiError,
    LambdaBackend,
    LambdaInvocation,
    StreamResult,
    bare_function_name,
)
from aioremotion.emulator.lambda_api import LambdaApiServer
from aioremotion.testing.scripted_lambda import (
    ApiErrorReply,
    JsonReply,
    ScriptedLambdaBackend,
    ScriptExhaustedError,
)

FUNCTION = "remotion-render-4-0-0-mem2048mb-disk2048mb-120sec"
NO_RETRIES = Config(retries={"total_max_attempts": 1})


def payload(routine: str, **fields: Any) -> str:
    return json.dumps({"type": routine, **fields})


@pytest.fixture
def backend() -> ScriptedLambdaBackend:
    return ScriptedLambdaBackend(function_names=[FUNCTION])


@pytest.fixture
async def server(backend: ScriptedLambdaBackend) -> AsyncIterator[LambdaApiServer]:
    async with LambdaApiServer(backend) as srv:
        yield srv
        # Every test must leave the backend without surprises.
        assert srv.errors == []


@pytest.fixture
async def lambda_client(server: LambdaApiServer) -> AsyncIterator[Any]:
    session = get_session()
    async with session.create_client("lambda", config=NO_RETRIES, **server.client_kwargs()) as c:
        yield c


async def read_events(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [event async for event in response["EventStream"]]


# -- Invoke -----------------------------------------------------------------


async def test_wait_idle_returns_once_the_clients_requests_are_handled(
    server: LambdaApiServer, backend: ScriptedLambdaBackend
) -> None:
    gate = asyncio.Event()
    backend.reply_json("info", {"version": "4.0.0"}, gate=gate)
    async with get_session().create_client("lambda", config=NO_RETRIES,
                                           **server.client_kwargs()) as client:
        call = asyncio.ensure_future(client.invoke(FunctionName=FUNCTION,
                                                   Payload=payload("info")))
        with anyio.fail_after(10):
            while not server.invocations:
                await asyncio.sleep(0.01)
        idle = asyncio.ensure_future(server.wait_idle())
        await asyncio.sleep(0.05)
        assert not idle.done()  # the request is parked on its gate
        gate.set()
        response = await call
        assert json.loads(await response["Payload"].read()) == {"version": "4.0.0"}
        assert not idle.done()  # the client keeps its connection open
    with anyio.fail_after(10):
        await idle  # closed: nothing is left


async def test_request_response_returns_the_reply(
    server: LambdaApiServer, backend: ScriptedLambdaBackend, lambda_client: Any
) -> None:
    backend.reply_json("status", {"type": "success", "overallProgress": 0.5})

    response = await lambda_client.invoke(
        FunctionName=FUNCTION, Payload=payload("status", renderId="abc")
    )

    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert json.loads(await response["Payload"].read()) == {
        "type": "success",
        "overallProgress": 0.5,
    }
    (invocation,) = server.invocations
    assert invocation.api == "invoke"
    assert invocation.invocation_type == "RequestResponse"
    assert invocation.function_name == FUNCTION
    assert invocation.function_arn == (f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}")
    assert invocation.payload_json == {"type": "status", "renderId": "abc"}
    assert invocation.routine == "status"
    assert "aws4-hmac-sha256" in invocation.headers["authorization"].lower()
    assert response["ResponseMetadata"]["RequestId"] == invocation.request_id
    assert backend.pending() == {}


async def test_raw_reply_bytes_are_returned_verbatim(
    backend: ScriptedLambdaBackend, lambda_client: Any
) -> None:
    backend.reply_raw("info", b"not json at all")
    response = await lambda_client.invoke(FunctionName=FUNCTION, Payload=payload("info"))
    assert await response["Payload"].read() == b"not json at all"


async def test_unhandled_error_sets_function_error(
    backend: ScriptedLambdaBackend, lambda_client: Any
) -> None:
    backend.reply_unhandled("start", "TypeError", "x is undefined")

    response = await lambda_client.invoke(FunctionName=FUNCTION, Payload=payload("start"))

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(await response["Payload"].read()) == {
        "errorType": "TypeError",
        "errorMessage": "x is undefined",
        "trace": [],
    }


async def test_event_invocation_runs_in_the_background(
    server: LambdaApiServer, backend: ScriptedLambdaBackend, lambda_client: Any
) -> None:
    gate = asyncio.Event()
    backend.reply_json("launch", {"ok": True}, gate=gate)

    response = await lambda_client.invoke(
        FunctionName=FUNCTION, InvocationType="Event", Payload=payload("launch")
    )

    assert response["StatusCode"] == 202
    assert await response["Payload"].read() == b""
    # The handler is still parked on its gate: the 202 did not wait for it.
    assert len(server._background) == 1
    gate.set()
    await server.wait_background()
    assert not server._background
    assert server.invocations[0].invocation_type == "Event"


async def test_dry_run_returns_204_and_consumes_nothing(
    server: LambdaApiServer, backend: ScriptedLambdaBackend, lambda_client: Any
) -> None:
    backend.reply_json("start", {})
    response = await lambda_client.invoke(
        FunctionName=FUNCTION, InvocationType="DryRun", Payload=payload("start")
    )
    assert response["StatusCode"] == 204
    assert backend.pending() == {"start": 1}
    assert server.invocations[0].invocation_type == "DryRun"


async def test_unknown_function_is_resource_not_found(
    server: LambdaApiServer, lambda_client: Any
) -> None:
    with pytest.raises(ClientError) as exc_info:
        await lambda_client.invoke(FunctionName="does-not-exist", Payload=payload("status"))

    error = exc_info.value.response
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Message"] == (
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:does-not-exist"
    )
    assert error["Type"] == "User"
    # Rejected requests are recorded too.
    assert server.invocations[0].function_name == "does-not-exist"


async def test_function_arn_and_qualifier(
    server: LambdaApiServer, backend: ScriptedLambdaBackend, lambda_client: Any
) -> None:
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}"
    backend.reply_json("info", {})
    backend.not_found("info")
    await lambda_client.invoke(FunctionName=arn, Payload=payload("info"))
    with pytest.raises(ClientError) as exc_info:
        await lambda_client.invoke(FunctionName=FUNCTION, Qualifier="7", Payload=payload("info"))

    assert server.invocations[0].function_arn == arn
    assert server.invocations[0].bare_name == FUNCTION
    assert server.invocations[1].qualifier == "7"
    assert exc_info.value.response["Error"]["Message"] == f"Function not found: {arn}:7"


@pytest.mark.parametrize(
    "reason",
    ["ReservedFunctionConcurrentInvocationLimitExceeded", "ConcurrentInvocationLimitExceeded"],
)
async def test_throttle_then_success(
    backend: ScriptedLambdaBackend, lambda_client: Any, reason: str
) -> None:
    backend.throttle("start", times=2, reason=reason, retry_after_seconds=3)
    backend.reply_json("start", {"renderId": "r1"})

    for _ in range(2):
        with pytest.raises(ClientError) as exc_info:
            await lambda_client.invoke(FunctionName=FUNCTION, Payload=payload("start"))
        error = exc_info.value.response
        assert error["Error"]["Code"] == "TooManyRequestsException"
        assert error["Error"]["Message"] == "Rate Exceeded."
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert error["Reason"] == reason
        assert error["retryAfterSeconds"] == "3"

    response = await lambda_client.invoke(FunctionName=FUNCTION, Payload=payload("start"))
    assert json.loads(await response["Payload"].read()) == {"renderId": "r1"}


async def test_event_invocation_is_throttled_synchronously(
    server: LambdaApiServer, backend: ScriptedLambdaBackend, lambda_client: Any
) -> None:
    backend.throttle("launch")
    with pytest.raises(ClientError) as exc_info:
        await lambda_client.invoke(
            FunctionName=FUNCTION, InvocationType="Event", Payload=payload("launch")
        )
    assert exc_info.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert not server._background


async def test_routine_queues_are_independent_with_fallback(
    server: LambdaApiServer, backend: ScriptedLambdaBackend, lambda_client: Any
) -> None:
    backend.reply_json("status", {"n": 1})
    backend.reply_json("*", {"any": True})
    backend.set_default("info", JsonReply({"version": "4.0.0"}))

    async def call(routine: str) -> Any:
        response = await lambda_client.invoke(FunctionName=FUNCTION, Payload=payload(routine))
        return json.loads(await response["Payload"].read())

    assert await call("info") == {"version": "4.0.0"}
    assert await call("compositions") == {"any": True}
    assert await call("status") == {"n": 1}
    assert await call("info") == {"version": "4.0.0"}
    assert [inv.routine for inv in server.invocations] == ["info", "compositions", "status", "info"]
    assert len(server.invocations_of("info")) == 2


async def test_unscripted_call_is_a_service_exception(
    server: LambdaApiServer, lambda_client: Any
) -> None:
    with pytest.raises(ClientError) as exc_info:
        await lambda_client.invoke(FunctionName=FUNCTION, Payload=payload("status"))
    assert exc_info.value.response["Error"]["Code"] == "ServiceException"
    assert exc_info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    (error,) = server.errors
    assert isinstance(error, ScriptExhaustedError)
    server.errors.clear()


async def test_invalid_json_payload_is_rejected(
    server: LambdaApiServer, lambda_client: Any
) -> None:
    with pytest.raises(ClientError) as exc_info:
        await lambda_client.invoke(FunctionName=FUNCTION, Payload=b"{not json")
    assert exc_info.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert server.invocations[0].payload == b"{not json"
    assert server.invocations[0].payload_json is None


async def test_payload_size_limits() -> None:
    backend = ScriptedLambdaBackend()
    backend.set_default("*", JsonReply({}))
    async with (
        LambdaApiServer(backend, max_request_payload=100, max_event_payload=50) as server,
        get_session().create_client("lambda", config=NO_RETRIES, **server.client_kwargs()) as c,
    ):
        small = payload("x", pad="a" * 40)  # 57 bytes
        big = payload("x", pad="a" * 100)

        await c.invoke(FunctionName="f", Payload=small)
        for kwargs in ({"Payload": big}, {"Payload": small, "InvocationType": "Event"}):
            with pytest.raises(ClientError) as exc_info:
                await c.invoke(FunctionName="f", **kwargs)
            assert exc_info.value.response["Error"]["Code"] == "RequestTooLargeException"
            assert exc_info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
        await server.wait_background()


async def test_payload_above_aiohttp_default_limit_is_accepted(
    server: LambdaApiServer, backend: ScriptedLambdaBackend, lambda_client: Any
) -> None:
    backend.reply_json("start", {"ok": True})
    big = payload("start", inputProps={"blob": "x" * (2 * 1024 * 1024)})
    # A file object: aiohttp warns in debug mode when given >1 MiB of raw bytes.
    response = await lambda_client.invoke(FunctionName=FUNCTION, Payload=io.BytesIO(big.encode()))
    assert json.loads(await response["Payload"].read()) == {"ok": True}
    assert len(server.invocations[0].payload) == len(big)


async def test_oversized_response_becomes_a_function_error() -> None:
    backend = ScriptedLambdaBackend()
    backend.reply_raw("x", b"y" * 101)
    async with (
        LambdaApiServer(backend, max_response_payload=100) as server,
        get_session().create_client("lambda", config=NO_RETRIES, **server.client_kwargs()) as c,
    ):
        response = await c.invoke(FunctionName="f", Payload=payload("x"))
        assert response["FunctionError"] == "Unhandled"
        body = json.loads(await response["Payload"].read())
        assert body["errorType"] == "Function.ResponseSizeTooLarge"


async def test_dropped_connection_surfaces_as_connection_error(
    backend: ScriptedLambdaBackend, lambda_client: Any
) -> None:
    backend.reply_stream("status", [b"partial"], abort=True)
    with pytest.raises(ConnectionClosedError):
        await lambda_client.invoke(FunctionName=FUNCTION, Payload=payload("status"))


async def test_concurrent_calls_are_not_serialized(
    server: LambdaApiServer, backend: ScriptedLambdaBackend, lambda_client: Any
) -> None:
    gate = asyncio.Event()
    backend.reply_json("status", {"n": "slow"}, gate=gate)
    backend.reply_json("info", {"n": "fast"})

    slow = asyncio.ensure_future(
        lambda_client.invoke(FunctionName=FUNCTION, Payload=payload("status"))
    )
    fast = await lambda_client.invoke(FunctionName=FUNCTION, Payload=payload("info"))
    assert json.loads(await fast["Payload"].read()) == {"n": "fast"}
    assert not slow.done()
    gate.set()
    assert json.loads(await (await slow)["Payload"].read()) == {"n": "slow"}
    assert sorted(inv.routine or "" for inv in server.invocations) == ["info", "status"]


async def test_arbitrary_api_error(backend: ScriptedLambdaBackend, lambda_client: Any) -> None:
    conflict = LambdaApiError(409, "ResourceConflictException", "The function is being updated")
    backend.enqueue("start", ApiErrorReply(conflict))
    with pytest.raises(ClientError) as exc_info:
        await lambda_client.invoke(FunctionName=FUNCTION, Payload=payload("start"))
    assert exc_info.value.response["Error"] == {
        "Code": "ResourceConflictException",
        "Message": "The function is being updated",
    }


@pytest.mark.parametrize(
    "name",
    [
        "my-fn",
        "my-fn:prod",
        "123456789012:function:my-fn",
        "arn:aws:lambda:us-east-1:123456789012:function:my-fn:7",
    ],
)
def test_bare_function_name(name: str) -> None:
    assert bare_function_name(name) == "my-fn"


# -- InvokeWithResponseStream ------------------------------------------------


async def test_stream_yields_chunks_then_invoke_complete(
    server: LambdaApiServer, backend: ScriptedLambdaBackend, lambda_client: Any
) -> None:
    backend.reply_stream("still", [b"frame-1", b"", b"frame-2"])

    response = await lambda_client.invoke_with_response_stream(
        FunctionName=FUNCTION, Payload=payload("still")
    )

    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert response["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    assert await read_events(response) == [
        {"PayloadChunk": {"Payload": b"frame-1"}},
        {"PayloadChunk": {"Payload": b"frame-2"}},
        {"InvokeComplete": {}},
    ]
    (invocation,) = server.invocations
    assert invocation.api == "stream"
    assert invocation.routine == "still"


async def test_stream_of_json_reply(backend: ScriptedLambdaBackend, lambda_client: Any) -> None:
    backend.reply_json("compositions", [{"id": "Main"}])
    response = await lambda_client.invoke_with_response_stream(
        FunctionName=FUNCTION, Payload=payload("compositions")
    )
    events = await read_events(response)
    assert json.loads(events[0]["PayloadChunk"]["Payload"]) == [{"id": "Main"}]
    assert events[1] == {"InvokeComplete": {}}


async def test_stream_unhandled_error_in_invoke_complete(
    backend: ScriptedLambdaBackend, lambda_client: Any
) -> None:
    backend.reply_unhandled("still", "Error", "Chrome crashed")
    backend.reply_stream(
        "still", [b"frame"], error_code="Runtime.TruncatedResponse", error_details="cut"
    )

    response = await lambda_client.invoke_with_response_stream(
        FunctionName=FUNCTION, Payload=payload("still")
    )
    assert await read_events(response) == [
        {"InvokeComplete": {"ErrorCode": "Unhandled", "ErrorDetails": "Chrome crashed"}}
    ]

    response = await lambda_client.invoke_with_response_stream(
        FunctionName=FUNCTION, Payload=payload("still")
    )
    assert await read_events(response) == [
        {"PayloadChunk": {"Payload": b"frame"}},
        {"InvokeComplete": {"ErrorCode": "Runtime.TruncatedResponse", "ErrorDetails": "cut"}},
    ]


async def test_stream_errors_are_client_errors(
    backend: ScriptedLambdaBackend, lambda_client: Any
) -> None:
    backend.throttle("still", reason="ConcurrentInvocationLimitExceeded")
    with pytest.raises(ClientError) as exc_info:
        await lambda_client.invoke_with_response_stream(
            FunctionName=FUNCTION, Payload=payload("still")
        )
    assert exc_info.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert exc_info.value.response["Reason"] == "ConcurrentInvocationLimitExceeded"

    with pytest.raises(ClientError) as exc_info:
        await lambda_client.invoke_with_response_stream(
            FunctionName="other", Payload=payload("still")
        )
    assert exc_info.value.response["Error"]["Code"] == "ResourceNotFoundException"


async def test_stream_paced_by_the_test_and_split_into_small_chunks() -> None:
    backend = ScriptedLambdaBackend()
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def frames() -> AsyncIterator[bytes]:
        while (item := await queue.get()) is not None:
            yield item

    backend.reply_stream("still", frames())
    async with (
        LambdaApiServer(backend, max_chunk_size=4) as server,
        get_session().create_client("lambda", config=NO_RETRIES, **server.client_kwargs()) as c,
    ):
        response = await c.invoke_with_response_stream(FunctionName="f", Payload=payload("still"))
        events = response["EventStream"].__aiter__()
        await queue.put(b"0123456789")
        assert [await events.__anext__() for _ in range(3)] == [
            {"PayloadChunk": {"Payload": b"0123"}},
            {"PayloadChunk": {"Payload": b"4567"}},
            {"PayloadChunk": {"Payload": b"89"}},
        ]
        await queue.put(None)
        assert [event async for event in events] == [{"InvokeComplete": {}}]


async def test_stream_dropped_mid_way(backend: ScriptedLambdaBackend, lambda_client: Any) -> None:
    backend.reply_stream("still", [b"a", b"b"], abort=True)
    response = await lambda_client.invoke_with_response_stream(
        FunctionName=FUNCTION, Payload=payload("still")
    )
    received = []

    async def consume() -> None:
        async for event in response["EventStream"]:
            received.append(event)

    with pytest.raises(aiohttp.ClientPayloadError):
        await consume()
    response["EventStream"].close()  # release the broken client connection
    assert received == [
        {"PayloadChunk": {"Payload": b"a"}},
        {"PayloadChunk": {"Payload": b"b"}},
    ]


async def test_stream_dry_run(server: LambdaApiServer, lambda_client: Any) -> None:
    response = await lambda_client.invoke_with_response_stream(
        FunctionName=FUNCTION, InvocationType="DryRun", Payload=payload("still")
    )
    assert response["StatusCode"] == 204
    assert server.invocations[0].invocation_type == "DryRun"


# -- Custom backends, logs, shutdown ------------------------------------------


class RecordingBackend(LambdaBackend):
    """A hand-written backend: parks until released and records its fate."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.cancelled: list[str] = []
        self.stream_closed = False

    async def invoke(self, invocation: LambdaInvocation) -> InvokeResult:
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.append(invocation.invocation_type)
            raise
        if invocation.routine == "fail":
            raise FunctionError("Error", "requested failure")
        return InvokeResult(b'{"ok":true}', executed_version="7", log_result="START\nEND\n")

    async def invoke_stream(self, invocation: LambdaInvocation) -> StreamResult:
        async def chunks() -> AsyncIterator[bytes]:
            try:
                yield b"first"
                self.started.set()
                await self.release.wait()
                yield b"second"
            finally:
                self.stream_closed = True

        return StreamResult(chunks(), executed_version="7", log_result="stream log")


async def test_custom_backend_log_tail_and_version() -> None:
    backend = RecordingBackend()
    backend.release.set()
    async with (
        LambdaApiServer(backend) as server,
        get_session().create_client("lambda", config=NO_RETRIES, **server.client_kwargs()) as c,
    ):
        response = await c.invoke(FunctionName="f", LogType="Tail", Payload=b"{}")
        assert response["ExecutedVersion"] == "7"
        assert base64.b64decode(response["LogResult"]) == b"START\nEND\n"

        response = await c.invoke(FunctionName="f", Payload=b"{}")
        assert "LogResult" not in response

        response = await c.invoke(FunctionName="f", Payload=payload("fail"))
        assert response["FunctionError"] == "Unhandled"

        response = await c.invoke_with_response_stream(
            FunctionName="f", LogType="Tail", Payload=b""
        )
        assert response["ExecutedVersion"] == "7"
        events = await read_events(response)
        assert base64.b64decode(events[-1]["InvokeComplete"]["LogResult"]) == b"stream log"
        assert server.invocations[-1].payload_json is None
        assert server.errors == []


async def test_close_cancels_background_and_in_flight_work() -> None:
    backend = RecordingBackend()
    server = LambdaApiServer(backend)
    await server.start()
    try:
        async with get_session().create_client(
            "lambda", config=NO_RETRIES, **server.client_kwargs()
        ) as c:
            # A parked Event invocation ...
            await c.invoke(FunctionName="f", InvocationType="Event", Payload=b"{}")
            await backend.started.wait()
            backend.started.clear()
            # ... and a stream stuck after its first chunk.
            response = await c.invoke_with_response_stream(FunctionName="f", Payload=b"{}")
            events = response["EventStream"].__aiter__()
            assert await events.__anext__() == {"PayloadChunk": {"Payload": b"first"}}
            await backend.started.wait()

            await asyncio.wait_for(server.close(), timeout=10)

            assert backend.cancelled == ["Event"]
            assert backend.stream_closed
            assert not server._background
            assert not server._in_flight
            with pytest.raises(aiohttp.ClientPayloadError):
                await events.__anext__()
            response["EventStream"].close()  # release the broken client connection
    finally:
        await server.close()

    with pytest.raises(RuntimeError):
        _ = server.endpoint_url


async def test_unknown_route_is_an_aws_error(server: LambdaApiServer) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.endpoint_url}/2015-03-31/functions/") as response,
    ):
        assert response.status == 404
        assert response.headers["x-amzn-ErrorType"] == "UnknownOperationException"
        assert (await response.json())["Type"] == "User"
