"""Loopback emulation of the AWS Lambda invoke HTTP API.

:class:`LambdaApiServer` is an aiohttp server bound to ``127.0.0.1`` that
speaks enough of the Lambda REST API for botocore / aiobotocore clients:

* ``POST /2015-03-31/functions/{name}/invocations`` (``Invoke``) with the
  ``X-Amz-Invocation-Type`` header ``RequestResponse`` (default), ``Event``
  or ``DryRun``;
* ``POST /2021-11-15/functions/{name}/response-streaming-invocations``
  (``InvokeWithResponseStream``), answered with an event stream of
  ``PayloadChunk`` events followed by ``InvokeComplete``.

What a function does is delegated to a :class:`LambdaBackend`.  A backend
rejects a call up front by raising :class:`LambdaApiError` (for example
:meth:`LambdaApiError.function_not_found` or
:meth:`LambdaApiError.too_many_requests`), reports a function failure by
returning :meth:`InvokeResult.unhandled` or raising :class:`FunctionError`,
and can simulate a dropped connection by raising :class:`AbortConnection`.

:class:`ScriptedLambdaBackend` is a ready-made backend for tests: replies are
queued per Remotion routine (the ``type`` field of the JSON payload).

Every request that reaches an invoke route is recorded as a
:class:`LambdaInvocation` in :attr:`LambdaApiServer.invocations`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import logging
import os
import socket
import time
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from ._loopback import AsyncLoopbackServer
from .eventstream import (
    CONTENT_TYPE as EVENTSTREAM_CONTENT_TYPE,
)
from .eventstream import (
    MAX_PAYLOAD_LENGTH,
    encode_invoke_complete,
    encode_payload_chunk,
)

__all__ = [
    "ANY_ROUTINE",
    "AbortConnection",
    "ApiErrorReply",
    "ApiName",
    "FunctionError",
    "InvokeResult",
    "JsonReply",
    "LambdaApiError",
    "LambdaApiServer",
    "LambdaBackend",
    "LambdaInvocation",
    "NotFoundReply",
    "RawReply",
    "Reply",
    "ScriptExhaustedError",
    "ScriptedLambdaBackend",
    "StreamReply",
    "StreamResult",
    "ThrottleReply",
    "UnhandledReply",
    "bare_function_name",
]

logger = logging.getLogger(__name__)

INVOKE_PATH: Final = "/2015-03-31/functions/{name}/invocations"
STREAM_PATH: Final = "/2021-11-15/functions/{name}/response-streaming-invocations"

INVOCATION_TYPES: Final = ("RequestResponse", "Event", "DryRun")
LATEST: Final = "$LATEST"

ApiName = Literal["invoke", "stream"]
"""Which invoke API a request used: ``Invoke`` or ``InvokeWithResponseStream``."""


# --------------------------------------------------------------------------
# Request record
# --------------------------------------------------------------------------


def bare_function_name(name: str) -> str:
    """Return the plain function name from a name, partial ARN or full ARN.

    ``"my-fn"``, ``"my-fn:prod"``, ``"123456789012:function:my-fn"`` and
    ``"arn:aws:lambda:us-east-1:123456789012:function:my-fn:7"`` all give
    ``"my-fn"``.
    """
    if ":function:" in name:
        name = name.split(":function:", 1)[1]
    return name.split(":", 1)[0]


@dataclass(frozen=True, eq=False)
class LambdaInvocation:
    """One request received on an invoke route, as recorded by the server.

    It is also what the server hands to the :class:`LambdaBackend`.
    """

    request_id: str
    """Request id, also returned in the ``x-amzn-RequestId`` header."""
    api: ApiName
    """``"invoke"`` (``Invoke``) or ``"stream"`` (``InvokeWithResponseStream``)."""
    function_name: str
    """Function name exactly as sent in the URL (name, partial or full ARN)."""
    function_arn: str
    """Full ARN of the function, built from the server's region and account."""
    qualifier: str | None
    """``Qualifier`` query parameter, if any."""
    invocation_type: str
    """``X-Amz-Invocation-Type`` header value (``RequestResponse`` default)."""
    payload: bytes
    """Raw request body."""
    payload_json: Any
    """Parsed JSON body; ``None`` when the body is empty or not valid JSON."""
    headers: CIMultiDictProxy[str]
    """Request headers (case-insensitive)."""
    received_at: float
    """Arrival time, :func:`time.time` (wall clock)."""
    received_monotonic: float
    """Arrival time, :func:`time.monotonic` (for measuring intervals)."""

    @property
    def bare_name(self) -> str:
        """Plain function name, without ARN prefix or qualifier."""
        return bare_function_name(self.function_name)

    @property
    def routine(self) -> str | None:
        """The ``type`` field of a JSON-object payload (the Remotion routine)."""
        if isinstance(self.payload_json, dict):
            value = self.payload_json.get("type")
            if isinstance(value, str):
                return value
        return None

    @property
    def log_tail(self) -> bool:
        """Whether the caller asked for logs (``X-Amz-Log-Type: Tail``)."""
        return self.headers.get("X-Amz-Log-Type", "None").lower() == "tail"


# --------------------------------------------------------------------------
# Results and errors a backend produces
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class InvokeResult:
    """Outcome of a buffered (``Invoke``) invocation."""

    payload: bytes = b""
    """Response body: what the function returned (or its error document)."""
    function_error: str | None = None
    """``X-Amz-Function-Error`` header value, e.g. ``"Unhandled"``."""
    executed_version: str = LATEST
    """``X-Amz-Executed-Version`` header value."""
    log_result: str | None = None
    """Plain-text log tail; sent base64-encoded when the caller asked for it."""

    @classmethod
    def from_json(cls, value: Any, *, executed_version: str = LATEST) -> InvokeResult:
        """A successful result whose body is ``value`` serialized as JSON."""
        return cls(json.dumps(value).encode("utf-8"), executed_version=executed_version)

    @classmethod
    def unhandled(
        cls,
        error_type: str,
        error_message: str,
        trace: Sequence[str] = (),
        *,
        executed_version: str = LATEST,
    ) -> InvokeResult:
        """A result for a function that threw: ``X-Amz-Function-Error: Unhandled``."""
        return FunctionError(error_type, error_message, trace).to_invoke_result(
            executed_version=executed_version
        )


@dataclass(frozen=True)
class StreamResult:
    """Outcome of a streamed (``InvokeWithResponseStream``) invocation.

    ``chunks`` is iterated after the 200 response headers have been sent;
    each non-empty item becomes one or more ``PayloadChunk`` events.  If the
    iterator raises :class:`FunctionError`, the stream ends with an
    ``InvokeComplete`` event carrying ``ErrorCode`` / ``ErrorDetails``; if it
    raises :class:`AbortConnection`, the connection is dropped mid-stream.
    If it has an ``aclose`` method, it is called when streaming stops.
    """

    chunks: AsyncIterable[bytes]
    executed_version: str = LATEST
    log_result: str | None = None
    """Plain-text log tail; sent base64-encoded in ``InvokeComplete.LogResult``
    when the caller asked for it."""


class FunctionError(Exception):
    """The function itself failed (an error thrown inside the handler).

    Raised by a backend from ``invoke``, from ``invoke_stream`` or from a
    stream's chunk iterator.  ``Invoke`` answers 200 with
    ``X-Amz-Function-Error: <error_code>`` and the body
    ``{"errorType": ..., "errorMessage": ..., "trace": [...]}``; a stream ends
    with ``InvokeComplete`` carrying ``ErrorCode=<error_code>`` and
    ``ErrorDetails=<error_message>``.
    """

    def __init__(
        self,
        error_type: str,
        error_message: str,
        trace: Sequence[str] = (),
        *,
        error_code: str = "Unhandled",
    ) -> None:
        super().__init__(f"{error_type}: {error_message}")
        self.error_type = error_type
        self.error_message = error_message
        self.trace = list(trace)
        self.error_code = error_code

    def to_document(self) -> dict[str, Any]:
        """The JSON error document Lambda returns as the response body."""
        return {
            "errorType": self.error_type,
            "errorMessage": self.error_message,
            "trace": list(self.trace),
        }

    def to_invoke_result(self, *, executed_version: str = LATEST) -> InvokeResult:
        """This error as an :class:`InvokeResult`."""
        return InvokeResult(
            json.dumps(self.to_document()).encode("utf-8"),
            function_error=self.error_code,
            executed_version=executed_version,
        )


class AbortConnection(Exception):
    """Raised by a backend to drop the client connection without a reply.

    From ``invoke``/``invoke_stream`` nothing is sent at all; from a stream's
    chunk iterator the chunks already sent are flushed and the connection is
    closed without the final ``InvokeComplete`` or the chunked-encoding
    terminator.
    """


class LambdaApiError(Exception):
    """An AWS-shaped error response from the Lambda API itself.

    The response carries ``x-amzn-ErrorType: <error_type>`` and a JSON body
    ``{"Type": <fault>, <message_key>: <message>, **fields}``, which
    botocore's rest-json parser turns into a ``ClientError`` whose
    ``Error.Code`` is ``error_type``.  Use the class-method constructors for
    the common cases.
    """

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        message_key: str = "message",
        fault: str = "User",
        fields: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {error_type}: {message}")
        self.status = status
        self.error_type = error_type
        self.message = message
        self.message_key = message_key
        self.fault = fault
        self.fields: dict[str, Any] = dict(fields or {})
        self.headers: dict[str, str] = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        return {"Type": self.fault, self.message_key: self.message, **self.fields}

    @classmethod
    def function_not_found(cls, function_arn: str) -> LambdaApiError:
        """404 ``ResourceNotFoundException`` for a missing function."""
        return cls(
            404,
            "ResourceNotFoundException",
            f"Function not found: {function_arn}",
            message_key="Message",
        )

    @classmethod
    def too_many_requests(
        cls,
        reason: str = "ReservedFunctionConcurrentInvocationLimitExceeded",
        *,
        retry_after_seconds: int | None = 1,
        message: str = "Rate Exceeded.",
    ) -> LambdaApiError:
        """429 ``TooManyRequestsException`` (throttling).

        ``reason`` is e.g. ``ReservedFunctionConcurrentInvocationLimitExceeded``
        or ``ConcurrentInvocationLimitExceeded``.  ``retry_after_seconds`` is
        sent as the ``Retry-After`` header, which botocore exposes as
        ``retryAfterSeconds``.
        """
        headers = {}
        if retry_after_seconds is not None:
            headers["Retry-After"] = str(retry_after_seconds)
        return cls(
            429,
            "TooManyRequestsException",
            message,
            fields={"Reason": reason},
            headers=headers,
        )

    @classmethod
    def request_too_large(cls, limit: int) -> LambdaApiError:
        """413 ``RequestTooLargeException`` for an oversized request payload."""
        return cls(
            413,
            "RequestTooLargeException",
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
        )

    @classmethod
    def invalid_request_content(cls, message: str) -> LambdaApiError:
        """400 ``InvalidRequestContentException`` (e.g. a non-JSON payload)."""
        return cls(400, "InvalidRequestContentException", message)

    @classmethod
    def invalid_parameter_value(cls, message: str) -> LambdaApiError:
        """400 ``InvalidParameterValueException``."""
        return cls(400, "InvalidParameterValueException", message)

    @classmethod
    def service_exception(cls, message: str) -> LambdaApiError:
        """500 ``ServiceException`` (an internal Lambda failure)."""
        return cls(500, "ServiceException", message, message_key="Message", fault="Service")


# --------------------------------------------------------------------------
# Backend interface
# --------------------------------------------------------------------------


class LambdaBackend(ABC):
    """What the functions behind a :class:`LambdaApiServer` do.

    For every invocation the server first awaits :meth:`admit` (also for
    ``Event`` and ``DryRun`` calls), then :meth:`invoke` or
    :meth:`invoke_stream`.  ``Event`` invocations call :meth:`invoke` in a
    background task after the 202 response, so checks whose failure the
    caller must see synchronously (function existence, throttling) belong in
    :meth:`admit`.
    """

    async def admit(self, invocation: LambdaInvocation) -> None:  # noqa: B027
        """Accept or reject an invocation before it runs.

        Raise :class:`LambdaApiError` to answer with an error response.
        The default accepts everything.
        """

    @abstractmethod
    async def invoke(self, invocation: LambdaInvocation) -> InvokeResult:
        """Run a ``RequestResponse`` or ``Event`` invocation.

        May raise :class:`FunctionError`, :class:`LambdaApiError` (ignored
        for ``Event``) or :class:`AbortConnection`.
        """

    @abstractmethod
    async def invoke_stream(self, invocation: LambdaInvocation) -> StreamResult:
        """Start a response-streaming invocation.

        May raise :class:`LambdaApiError` or :class:`AbortConnection` before
        anything is sent, or :class:`FunctionError` (the stream then consists
        only of the failing ``InvokeComplete``).
        """


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


def _split(data: bytes, size: int) -> Iterable[bytes]:
    """Split ``data`` into pieces of at most ``size`` bytes."""
    if len(data) <= size:
        yield data
        return
    view = memoryview(data)
    for start in range(0, len(data), size):
        yield bytes(view[start : start + size])


_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LambdaApiServer(AsyncLoopbackServer):
    """An aiohttp server emulating the Lambda invoke API on ``127.0.0.1``.

    Usage::

        async with LambdaApiServer(backend) as server:
            client = session.create_client("lambda", endpoint_url=server.endpoint_url, ...)

    Args:
        backend: what the functions do.
        port: TCP port; 0 (default) picks a free one, see :attr:`port`.
        region: region used in generated ARNs.
        account_id: account id used in generated ARNs.
        max_request_payload: request size limit for ``RequestResponse``,
            ``DryRun`` and streaming calls (413 above it); ``None`` disables.
        max_event_payload: request size limit for ``Event`` calls.
        max_response_payload: size limit of a buffered response; a larger
            one is replaced with a ``Function.ResponseSizeTooLarge`` error, as
            Lambda does.  ``None`` disables.
        max_chunk_size: largest payload of one ``PayloadChunk`` event;
            larger chunks from the backend are split.
        require_json: answer 400 ``InvalidRequestContentException`` when a
            non-empty payload is not valid JSON, as Lambda does.
        shutdown_timeout: seconds aiohttp waits for connections on close
            (in-flight handlers are cancelled first, so this rarely matters).
    """

    def __init__(
        self,
        backend: LambdaBackend,
        *,
        port: int = 0,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        max_request_payload: int | None = 6 * 1024 * 1024,
        max_event_payload: int | None = 256 * 1024,
        max_response_payload: int | None = 6 * 1024 * 1024,
        max_chunk_size: int = MAX_PAYLOAD_LENGTH,
        require_json: bool = True,
        shutdown_timeout: float = 5.0,
    ) -> None:
        if not 0 < max_chunk_size <= MAX_PAYLOAD_LENGTH:
            raise ValueError(f"max_chunk_size must be in 1..{MAX_PAYLOAD_LENGTH}")
        self.backend = backend
        self.region = region
        self.account_id = account_id
        self.max_request_payload = max_request_payload
        self.max_event_payload = max_event_payload
        self.max_response_payload = max_response_payload
        self.max_chunk_size = max_chunk_size
        self.require_json = require_json
        self.invocations: list[LambdaInvocation] = []
        """Every request received on an invoke route, in arrival order."""
        self.errors: list[Exception] = []
        """Unexpected exceptions raised by the backend (answered with 500)."""
        self._requested_port = port
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._closing = False

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Bind ``127.0.0.1`` and start serving.  Idempotent."""
        if self._runner is not None:
            return
        # aiohttp's default 1 MiB body limit is below Lambda's 6 MB: lift it so
        # oversized payloads get Lambda's own 413 from _validate().
        app = web.Application(middlewares=[self._track_middleware], client_max_size=1 << 30)
        app.router.add_post(INVOKE_PATH, self._handle_invoke)
        app.router.add_post(STREAM_PATH, self._handle_stream)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=self._shutdown_timeout,
        )
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if os.name == "posix":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self._requested_port))
            sock.listen(128)
            sock.setblocking(False)
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._port = int(sock.getsockname()[1])
        self._runner = runner
        self._closing = False

    async def close(self) -> None:
        """Stop serving: cancel background and in-flight work, close sockets.

        Idempotent.  Pending ``Event`` invocations are cancelled; call
        :meth:`wait_background` first to let them finish.
        """
        runner = self._runner
        if runner is None:
            return
        self._closing = True
        for site in list(runner.sites):
            await site.stop()  # stop accepting connections
        tasks = list(self._background) + list(self._in_flight)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await runner.cleanup()  # closes the remaining (idle) connections
        self._runner = None
        self._port = None

    async def wait_background(self) -> None:
        """Wait until all pending ``Event`` invocations have finished."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    def invocations_of(self, routine: str) -> list[LambdaInvocation]:
        """Recorded invocations whose payload ``type`` is ``routine``."""
        return [inv for inv in self.invocations if inv.routine == routine]

    # -- helpers -----------------------------------------------------------

    @web.middleware
    async def _track_middleware(
        self, request: web.Request, handler: _Handler
    ) -> web.StreamResponse:
        """Track handler tasks so :meth:`close` can cancel them."""
        if self._closing:
            error = LambdaApiError.service_exception("The server is shutting down")
            return self._error_response(error, str(uuid.uuid4()))
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            return await handler(request)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    def _function_arn(self, name: str, qualifier: str | None) -> str:
        """Full ARN for a function name, partial ARN or full ARN."""
        if name.startswith("arn:"):
            arn = name
        elif ":function:" in name:
            arn = f"arn:aws:lambda:{self.region}:{name}"
        else:
            arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
        # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
        if qualifier and arn.count(":") == 6:
            arn = f"{arn}:{qualifier}"
        return arn

    async def _record(self, request: web.Request, api: ApiName) -> LambdaInvocation:
        """Read the request and append it to :attr:`invocations`."""
        received_at = time.time()
        received_monotonic = time.monotonic()
        payload = await request.read()
        try:
            payload_json: Any = json.loads(payload) if payload else None
        except ValueError:
            payload_json = None
        name = request.match_info["name"]
        qualifier = request.query.get("Qualifier")
        invocation = LambdaInvocation(
            request_id=str(uuid.uuid4()),
            api=api,
            function_name=name,
            function_arn=self._function_arn(name, qualifier),
            qualifier=qualifier,
            invocation_type=request.headers.get("X-Amz-Invocation-Type", "RequestResponse"),
            payload=payload,
            payload_json=payload_json,
            headers=CIMultiDictProxy(CIMultiDict(request.headers)),
            received_at=received_at,
            received_monotonic=received_monotonic,
        )
        self.invocations.append(invocation)
        return invocation

    def _validate(self, invocation: LambdaInvocation) -> None:
        """Check invocation type, payload size and JSON-ness."""
        allowed: tuple[str, ...] = INVOCATION_TYPES
        if invocation.api == "stream":
            allowed = ("RequestResponse", "DryRun")
        if invocation.invocation_type not in allowed:
            raise LambdaApiError.invalid_parameter_value(
                f"Unsupported invocation type: {invocation.invocation_type}"
            )
        limit = (
            self.max_event_payload
            if invocation.invocation_type == "Event"
            else self.max_request_payload
        )
        if limit is not None and len(invocation.payload) > limit:
            raise LambdaApiError.request_too_large(limit)
        if self.require_json and invocation.payload:
            try:
                json.loads(invocation.payload)
            except ValueError as exc:
                raise LambdaApiError.invalid_request_content(
                    f"Could not parse request body into json: {exc}"
                ) from None

    @staticmethod
    def _base_headers(invocation: LambdaInvocation) -> dict[str, str]:
        return {"x-amzn-RequestId": invocation.request_id}

    @staticmethod
    def _error_response(error: LambdaApiError, request_id: str) -> web.Response:
        headers = {
            "x-amzn-ErrorType": error.error_type,
            "x-amzn-RequestId": request_id,
            **error.headers,
        }
        return web.Response(
            status=error.status,
            body=json.dumps(error.body()).encode("utf-8"),
            content_type="application/json",
            headers=headers,
        )

    def _unexpected(self, exc: Exception) -> LambdaApiError:
        """Record a backend bug and turn it into a 500 ServiceException."""
        logger.error("Lambda backend raised an unexpected exception", exc_info=exc)
        self.errors.append(exc)
        return LambdaApiError.service_exception(f"Backend error: {type(exc).__name__}: {exc}")

    @staticmethod
    def _abort(request: web.Request) -> web.StreamResponse:
        """Close the connection; aiohttp then fails to write and gives up."""
        if request.transport is not None:
            request.transport.close()
        return web.StreamResponse()

    # -- handlers ----------------------------------------------------------

    async def _handle_unknown(self, request: web.Request) -> web.StreamResponse:
        error = LambdaApiError(
            404,
            "UnknownOperationException",
            f"Unknown operation: {request.method} {request.path}",
        )
        return self._error_response(error, str(uuid.uuid4()))

    async def _handle_invoke(self, request: web.Request) -> web.StreamResponse:
        invocation = await self._record(request, "invoke")
        try:
            self._validate(invocation)
            await self.backend.admit(invocation)
            if invocation.invocation_type == "DryRun":
                return web.Response(status=204, headers=self._base_headers(invocation))
            if invocation.invocation_type == "Event":
                self._spawn_event(invocation)
                return web.Response(status=202, headers=self._base_headers(invocation))
            try:
                result = await self.backend.invoke(invocation)
            except FunctionError as exc:
                result = exc.to_invoke_result()
        except LambdaApiError as exc:
            return self._error_response(exc, invocation.request_id)
        except AbortConnection:
            return self._abort(request)
        except Exception as exc:
            return self._error_response(self._unexpected(exc), invocation.request_id)

        if (
            self.max_response_payload is not None
            and len(result.payload) > self.max_response_payload
        ):
            result = dataclasses.replace(
                result,
                payload=json.dumps(
                    {
                        "errorMessage": "Response payload size exceeded maximum "
                        f"allowed payload size ({self.max_response_payload} bytes).",
                        "errorType": "Function.ResponseSizeTooLarge",
                    }
                ).encode("utf-8"),
                function_error="Unhandled",
            )
        headers = self._base_headers(invocation)
        headers["X-Amz-Executed-Version"] = result.executed_version
        if result.function_error is not None:
            headers["X-Amz-Function-Error"] = result.function_error
        if invocation.log_tail and result.log_result is not None:
            headers["X-Amz-Log-Result"] = base64.b64encode(
                result.log_result.encode("utf-8")
            ).decode("ascii")
        return web.Response(
            status=200,
            body=result.payload,
            content_type="application/json",
            headers=headers,
        )

    def _spawn_event(self, invocation: LambdaInvocation) -> None:
        """Run an ``Event`` invocation in a tracked background task."""
        if self._closing:
            return
        task = asyncio.get_running_loop().create_task(self._run_event(invocation))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _run_event(self, invocation: LambdaInvocation) -> None:
        try:
            await self.backend.invoke(invocation)
        except (FunctionError, AbortConnection):
            pass  # the function failed; nobody is waiting for the result
        except LambdaApiError as exc:
            logger.info("Event invocation %s failed: %s", invocation.request_id, exc)
        except Exception as exc:
            self._unexpected(exc)

    async def _handle_stream(self, request: web.Request) -> web.StreamResponse:
        invocation = await self._record(request, "stream")
        pending_error: FunctionError | None = None
        try:
            self._validate(invocation)
            await self.backend.admit(invocation)
            if invocation.invocation_type == "DryRun":
                return web.Response(status=204, headers=self._base_headers(invocation))
            try:
                result = await self.backend.invoke_stream(invocation)
            except FunctionError as exc:
                pending_error = exc
                result = StreamResult(_iterate(()))
        except LambdaApiError as exc:
            return self._error_response(exc, invocation.request_id)
        except AbortConnection:
            return self._abort(request)
        except Exception as exc:
            return self._error_response(self._unexpected(exc), invocation.request_id)

        headers = self._base_headers(invocation)
        headers["X-Amz-Executed-Version"] = result.executed_version
        headers["Content-Type"] = EVENTSTREAM_CONTENT_TYPE
        response = web.StreamResponse(status=200, headers=headers)
        iterator = aiter(result.chunks)
        error_code: str | None = None
        error_details: str | None = None
        try:
            await response.prepare(request)
            while pending_error is None:
                try:
                    chunk = await anext(iterator)
                except StopAsyncIteration:
                    break
                except FunctionError as exc:
                    pending_error = exc
                    break
                except AbortConnection:
                    self._abort(request)
                    return response
                except Exception as exc:
                    self._unexpected(exc)
                    error_code = "Unhandled"
                    error_details = f"Backend error: {type(exc).__name__}: {exc}"
                    break
                for piece in _split(chunk, self.max_chunk_size):
                    if piece:
                        await response.write(encode_payload_chunk(piece))
            if pending_error is not None:
                error_code = pending_error.error_code
                error_details = pending_error.error_message
            log_result = None
            if invocation.log_tail and result.log_result is not None:
                log_result = base64.b64encode(result.log_result.encode("utf-8")).decode("ascii")
            await response.write(
                encode_invoke_complete(
                    error_code=error_code,
                    error_details=error_details,
                    log_result=log_result,
                )
            )
            await response.write_eof()
        except ConnectionError:
            # The client went away; aiohttp notices on its own.
            pass
        finally:
            await _aclose(iterator)
        return response


async def _aclose(iterator: AsyncIterator[bytes]) -> None:
    """Close an async iterator if it supports ``aclose``."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


# --------------------------------------------------------------------------
# Scripted backend for tests
# --------------------------------------------------------------------------

ANY_ROUTINE: Final = "*"
"""Routine key of the fallback replies, for routines with no reply of their own."""


@dataclass(frozen=True)
class _ReplyBase:
    gate: asyncio.Event | None = field(default=None, kw_only=True)
    """If set, the reply waits for this event before it is produced."""


@dataclass(frozen=True)
class JsonReply(_ReplyBase):
    """Return ``value`` serialized as JSON (a single chunk when streamed)."""

    value: Any


@dataclass(frozen=True)
class RawReply(_ReplyBase):
    """Return these exact bytes (a single chunk when streamed)."""

    data: bytes


@dataclass(frozen=True)
class UnhandledReply(_ReplyBase):
    """The function throws: ``FunctionError: Unhandled`` / ``ErrorCode``."""

    error_type: str = "Error"
    error_message: str = "Unhandled error"
    trace: tuple[str, ...] = ()


@dataclass(frozen=True)
class ThrottleReply(_ReplyBase):
    """Reject the call with 429 ``TooManyRequestsException``."""

    reason: str = "ReservedFunctionConcurrentInvocationLimitExceeded"
    retry_after_seconds: int | None = 1


@dataclass(frozen=True)
class NotFoundReply(_ReplyBase):
    """Reject the call with 404 ``ResourceNotFoundException``."""


@dataclass(frozen=True)
class ApiErrorReply(_ReplyBase):
    """Reject the call with an arbitrary :class:`LambdaApiError`."""

    error: LambdaApiError


@dataclass(frozen=True)
class StreamReply(_ReplyBase):
    """Stream ``chunks``, then optionally fail or drop the connection.

    ``chunks`` may be a sequence or an async iterable (single use: lets a
    test pace the stream).  With ``error_code`` set, ``InvokeComplete``
    carries ``ErrorCode=error_code`` and ``ErrorDetails=error_details``.
    With ``abort``, the connection is dropped after the chunks.  Through the
    buffered ``Invoke`` API the chunks are concatenated and an error becomes
    an unhandled function error.
    """

    chunks: Sequence[bytes] | AsyncIterable[bytes] = ()
    error_code: str | None = None
    error_details: str = "Unhandled error"
    abort: bool = False


Reply = (
    JsonReply
    | RawReply
    | UnhandledReply
    | ThrottleReply
    | NotFoundReply
    | ApiErrorReply
    | StreamReply
)
"""Any reply :class:`ScriptedLambdaBackend` can be scripted with."""


class ScriptExhaustedError(LookupError):
    """:class:`ScriptedLambdaBackend` received a call nobody scripted.

    The server records it in :attr:`LambdaApiServer.errors` and answers
    500 ``ServiceException``.
    """


class ScriptedLambdaBackend(LambdaBackend):
    """A backend whose replies are queued by the test, per Remotion routine.

    The routine of an invocation is the ``type`` field of its JSON payload
    (``start``, ``status``, ``info``, ``still``, ``compositions``...).  Each
    call takes the next reply from that routine's queue, else the routine's
    default (see :meth:`set_default`), else the next reply from the
    :data:`ANY_ROUTINE` queue, else the :data:`ANY_ROUTINE` default; with
    none, the call fails with :class:`ScriptExhaustedError`.  ``DryRun`` calls
    consume nothing.

    Throttles and 404s are applied in :meth:`admit`, so they are seen
    synchronously even by ``Event`` invocations.

    Args:
        function_names: if given, calls to other functions (compared by bare
            name) get 404 without consuming a reply.
    """

    def __init__(self, function_names: Iterable[str] | None = None) -> None:
        self.function_names: set[str] | None = (
            None if function_names is None else set(function_names)
        )
        self._queues: dict[str | None, deque[Reply]] = {}
        self._defaults: dict[str | None, Reply] = {}
        self._assigned: dict[str, Reply] = {}

    # -- scripting ---------------------------------------------------------

    def enqueue(self, routine: str | None, *replies: Reply) -> None:
        """Queue replies for ``routine`` (``None``: payloads without a type)."""
        self._queues.setdefault(routine, deque()).extend(replies)

    def set_default(self, routine: str | None, reply: Reply | None) -> None:
        """Reply used whenever ``routine``'s queue is empty (``None`` unsets)."""
        if reply is None:
            self._defaults.pop(routine, None)
        else:
            self._defaults[routine] = reply

    def reply_json(
        self, routine: str | None, value: Any, *, gate: asyncio.Event | None = None
    ) -> None:
        """Queue a JSON reply."""
        self.enqueue(routine, JsonReply(value, gate=gate))

    def reply_raw(
        self, routine: str | None, data: bytes, *, gate: asyncio.Event | None = None
    ) -> None:
        """Queue a raw-bytes reply."""
        self.enqueue(routine, RawReply(data, gate=gate))

    def reply_unhandled(
        self,
        routine: str | None,
        error_type: str = "Error",
        error_message: str = "Unhandled error",
        trace: Sequence[str] = (),
        *,
        gate: asyncio.Event | None = None,
    ) -> None:
        """Queue an unhandled function error."""
        self.enqueue(routine, UnhandledReply(error_type, error_message, tuple(trace), gate=gate))

    def throttle(
        self,
        routine: str | None,
        times: int = 1,
        *,
        reason: str = "ReservedFunctionConcurrentInvocationLimitExceeded",
        retry_after_seconds: int | None = 1,
    ) -> None:
        """Queue ``times`` 429 ``TooManyRequestsException`` rejections."""
        for _ in range(times):
            self.enqueue(routine, ThrottleReply(reason, retry_after_seconds))

    def not_found(self, routine: str | None, times: int = 1) -> None:
        """Queue ``times`` 404 ``ResourceNotFoundException`` rejections."""
        for _ in range(times):
            self.enqueue(routine, NotFoundReply())

    def reply_stream(
        self,
        routine: str | None,
        chunks: Sequence[bytes] | AsyncIterable[bytes],
        *,
        error_code: str | None = None,
        error_details: str = "Unhandled error",
        abort: bool = False,
        gate: asyncio.Event | None = None,
    ) -> None:
        """Queue a streamed reply (see :class:`StreamReply`)."""
        self.enqueue(
            routine,
            StreamReply(
                chunks,
                error_code=error_code,
                error_details=error_details,
                abort=abort,
                gate=gate,
            ),
        )

    def pending(self) -> dict[str | None, int]:
        """Unconsumed queued replies per routine (non-empty queues only).

        ``assert backend.pending() == {}`` checks a test used its whole script.
        """
        return {routine: len(queue) for routine, queue in self._queues.items() if queue}

    # -- LambdaBackend -----------------------------------------------------

    def _next_reply(self, routine: str | None) -> Reply:
        for key in (routine, ANY_ROUTINE):
            queue = self._queues.get(key)
            if queue:
                return queue.popleft()
            if key in self._defaults:
                return self._defaults[key]
        raise ScriptExhaustedError(f"no reply scripted for routine {routine!r}")

    async def admit(self, invocation: LambdaInvocation) -> None:
        """Apply 404s and throttles; reserve the reply for the invocation."""
        if self.function_names is not None and invocation.bare_name not in self.function_names:
            raise LambdaApiError.function_not_found(invocation.function_arn)
        if invocation.invocation_type == "DryRun":
            return
        reply = self._next_reply(invocation.routine)
        if isinstance(reply, ThrottleReply | NotFoundReply | ApiErrorReply):
            if reply.gate is not None:
                await reply.gate.wait()
            if isinstance(reply, ThrottleReply):
                raise LambdaApiError.too_many_requests(
                    reply.reason, retry_after_seconds=reply.retry_after_seconds
                )
            if isinstance(reply, NotFoundReply):
                raise LambdaApiError.function_not_found(invocation.function_arn)
            raise reply.error
        self._assigned[invocation.request_id] = reply

    def _take(self, invocation: LambdaInvocation) -> Reply:
        reply = self._assigned.pop(invocation.request_id, None)
        return reply if reply is not None else self._next_reply(invocation.routine)

    async def invoke(self, invocation: LambdaInvocation) -> InvokeResult:
        """Produce the reserved reply as a buffered result."""
        reply = self._take(invocation)
        if reply.gate is not None:
            await reply.gate.wait()
        if isinstance(reply, JsonReply):
            return InvokeResult.from_json(reply.value)
        if isinstance(reply, RawReply):
            return InvokeResult(reply.data)
        if isinstance(reply, UnhandledReply):
            raise FunctionError(reply.error_type, reply.error_message, reply.trace)
        if isinstance(reply, StreamReply):
            parts = [chunk async for chunk in _iterate(reply.chunks)]
            if reply.abort:
                raise AbortConnection
            if reply.error_code is not None:
                raise FunctionError("Error", reply.error_details, error_code=reply.error_code)
            return InvokeResult(b"".join(parts))
        raise _admission_reply_error(reply, invocation)

    async def invoke_stream(self, invocation: LambdaInvocation) -> StreamResult:
        """Produce the reserved reply as a stream."""
        reply = self._take(invocation)
        if reply.gate is not None:
            await reply.gate.wait()
        if isinstance(reply, JsonReply):
            return StreamResult(_iterate([json.dumps(reply.value).encode("utf-8")]))
        if isinstance(reply, RawReply):
            return StreamResult(_iterate([reply.data]))
        if isinstance(reply, UnhandledReply):
            raise FunctionError(reply.error_type, reply.error_message, reply.trace)
        if isinstance(reply, StreamReply):
            return StreamResult(_stream_reply_chunks(reply))
        raise _admission_reply_error(reply, invocation)


def _admission_reply_error(reply: Reply, invocation: LambdaInvocation) -> LambdaApiError:
    """Error for a throttle/404/API-error reply reached outside of ``admit``."""
    if isinstance(reply, NotFoundReply):
        return LambdaApiError.function_not_found(invocation.function_arn)
    if isinstance(reply, ThrottleReply):
        return LambdaApiError.too_many_requests(
            reply.reason, retry_after_seconds=reply.retry_after_seconds
        )
    if isinstance(reply, ApiErrorReply):
        return reply.error
    return LambdaApiError.service_exception(f"unexpected scripted reply {reply!r}")


async def _iterate(chunks: Sequence[bytes] | AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Iterate a sequence or async iterable of chunks asynchronously."""
    if isinstance(chunks, AsyncIterable):
        async for chunk in chunks:
            yield chunk
    else:
        for chunk in chunks:
            yield chunk


async def _stream_reply_chunks(reply: StreamReply) -> AsyncIterator[bytes]:
    """The chunks of a :class:`StreamReply`, then its error or abort."""
    async for chunk in _iterate(reply.chunks):
        yield chunk
    if reply.abort:
        raise AbortConnection
    if reply.error_code is not None:
        raise FunctionError("Error", reply.error_details, error_code=reply.error_code)
