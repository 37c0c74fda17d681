"""What runs behind :class:`~aioremotion.emulator.lambda_api.LambdaApiServer`: the
:class:`LambdaBackend` interface, the :class:`LambdaInvocation` it is handed, and the
results and errors it produces.

A backend rejects a call up front by raising :class:`LambdaApiError` (for example
:meth:`LambdaApiError.function_not_found` or :meth:`LambdaApiError.too_many_requests`),
reports a function failure by returning :meth:`InvokeResult.unhandled` or raising
:class:`FunctionError`, and can simulate a dropped connection by raising
:class:`AbortConnection`.  The emulator's backend is
:class:`~aioremotion.emulator.functions.RemotionFunctions`; tests script one with
:class:`~aioremotion.testing.scripted_lambda.ScriptedLambdaBackend`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from multidict import CIMultiDictProxy

__all__ = [
    "LATEST",
    "AbortConnection",
    "ApiName",
    "FunctionError",
    "InvokeResult",
    "LambdaApiError",
    "LambdaBackend",
    "LambdaInvocation",
    "StreamResult",
    "bare_function_name",
    "iterate_chunks",
]

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
    """What the functions behind a :class:`~aioremotion.emulator.lambda_api.LambdaApiServer` do.

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


async def iterate_chunks(chunks: Sequence[bytes] | AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Iterate a sequence or async iterable of chunks asynchronously."""
    if isinstance(chunks, AsyncIterable):
        async for chunk in chunks:
            yield chunk
    else:
        for chunk in chunks:
            yield chunk
