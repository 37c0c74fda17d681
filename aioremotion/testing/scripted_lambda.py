"""A Lambda backend whose replies a test scripts: :class:`ScriptedLambdaBackend`.

Put it behind :class:`~aioremotion.emulator.lambda_api.LambdaApiServer` to test a client
one call at a time::

    backend = ScriptedLambdaBackend()
    backend.reply_json("start", {"type": "success", "renderId": "abc", "bucketName": "b"})
    backend.throttle("status", times=2)
    async with LambdaApiServer(backend) as server:
        ...  # point the client at server.endpoint_url
    assert backend.pending() == {}

Replies are queued per Remotion routine (the ``type`` field of the JSON payload).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ..emulator.backend import (
    AbortConnection,
    FunctionError,
    InvokeResult,
    LambdaApiError,
    LambdaBackend,
    LambdaInvocation,
    StreamResult,
    iterate_chunks,
)

__all__ = [
    "ANY_ROUTINE",
    "ApiErrorReply",
    "JsonReply",
    "NotFoundReply",
    "RawReply",
    "Reply",
    "ScriptExhaustedError",
    "ScriptedLambdaBackend",
    "StreamReply",
    "ThrottleReply",
    "UnhandledReply",
]

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

    The server records it in
    :attr:`~aioremotion.emulator.lambda_api.LambdaApiServer.errors` and answers
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
            parts = [chunk async for chunk in iterate_chunks(reply.chunks)]
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
            return StreamResult(iterate_chunks([json.dumps(reply.value).encode("utf-8")]))
        if isinstance(reply, RawReply):
            return StreamResult(iterate_chunks([reply.data]))
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


async def _stream_reply_chunks(reply: StreamReply) -> AsyncIterator[bytes]:
    """The chunks of a :class:`StreamReply`, then its error or abort."""
    async for chunk in iterate_chunks(reply.chunks):
        yield chunk
    if reply.abort:
        raise AbortConnection
    if reply.error_code is not None:
        raise FunctionError("Error", reply.error_details, error_code=reply.error_code)
