"""Calling a Remotion function: payload in, parsed reply out, throttles retried through
the one retry layer (:mod:`aioremotion.retry`).

A start is not idempotent, so nothing but a throttle (which AWS guarantees never ran) is
sent again; a lost answer is a :class:`~aioremotion.errors.StartOutcomeUnknownError`
(raised by the transport). Secrets in the payload are masked in botocore's logs while the
call runs.

Example::

    invoker = Invoker(transport, retry=ThrottleRetry())
    reply = await invoker.call("remotion-render-…", {"type": "info"}, routine="info")
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from . import _redact
from .errors import (
    AwsError,
    ConcurrencyLimitError,
    InvalidReplyError,
    RemotionError,
    StartOutcomeUnknownError,
)
from .protocol.naming import check_render_id
from .protocol.props import js_json_dumps
from .protocol.replies import (
    StillStreamResult,
    StreamMessageParser,
    is_retryable_stream_error,
    parse_invoke_reply,
    stream_error_from_invoke_complete,
)
from .retry import ThrottleRetry, retry_throttled
from .transport.base import Transport

__all__ = ["Invoker"]


class Invoker:
    """Invokes functions through ``transport``; throttled calls are retried with
    ``retry`` (or a per-call policy), waiting with ``sleep``."""

    def __init__(self, transport: Transport, *, retry: ThrottleRetry,
                 sleep: Callable[[float], Awaitable[None]] | None = None,
                 rng: random.Random | None = None) -> None:
        self.transport = transport
        self.retry = retry
        self.sleep = sleep or anyio.sleep
        self.rng = rng or random.Random()

    async def start(self, function_name: str, payload: dict[str, Any], *,
                    bucket_name: str | None, retry: ThrottleRetry | None = None
                    ) -> tuple[str, str]:
        """Invoke the ``start`` routine; the render id and bucket it replied with."""
        reply = await self.call(function_name, payload, routine="start",
                                bucket_name=bucket_name, retry=retry)
        render_id, bucket = reply.get("renderId"), reply.get("bucketName")
        if not isinstance(render_id, str) or not isinstance(bucket, str):
            raise InvalidReplyError(
                f"{function_name} accepted the render but its reply lacks renderId/bucketName: "
                f"{str(reply)[:200]}")
        return check_render_id(render_id), bucket

    async def compositions(self, function_name: str, payload: dict[str, Any]
                           ) -> list[dict[str, Any]]:
        """Invoke the ``compositions`` routine; the compositions it replied with."""
        reply = await self.call(function_name, payload, routine="compositions")
        compositions = reply.get("compositions")
        if not isinstance(compositions, list):
            raise InvalidReplyError(
                f"{function_name} answered compositions without a list: {str(reply)[:200]}")
        return compositions

    async def call(self, function_name: str, payload: dict[str, Any], *, routine: str,
                   bucket_name: str | None = None,
                   retry: ThrottleRetry | None = None) -> dict[str, Any]:
        """A ``RequestResponse`` invoke; returns the function's reply object."""
        body = js_json_dumps(payload).encode()

        async def send() -> dict[str, Any]:
            reply = await self.transport.invoke(function_name, body, routine=routine,
                                                bucket_name=bucket_name)
            return parse_invoke_reply(reply.payload, function_error=reply.function_error,
                                      status_code=reply.status_code,
                                      function_name=function_name, routine=routine)

        with _redact.payload_secrets(payload):  # out of botocore's DEBUG logs
            return await retry_throttled(send, retry or self.retry, sleep=self.sleep,
                                         rng=self.rng)

    async def still_stream(self, function_name: str, payload: dict[str, Any], *,
                           max_retries: int, bucket_name: str | None,
                           retry: ThrottleRetry | None = None) -> dict[str, Any]:
        """A still over ``InvokeWithResponseStream``. Like the JS client, a still that
        failed with a stream error it deems retryable (a stall, a truncated response) is
        rendered again, up to ``max_retries`` times; a throttle is retried as any invoke."""
        body = js_json_dumps(payload).encode()
        region = self.transport.region

        async def send() -> dict[str, Any]:
            reply = await self.transport.invoke_stream(function_name, body, routine="still",
                                                       bucket_name=bucket_name)
            parser = StreamMessageParser()
            result = StillStreamResult(function_name=function_name)
            for chunk in reply.chunks:
                for message in parser.feed(chunk):
                    result.add(message)
            error = stream_error_from_invoke_complete(reply.error_code, reply.error_details,
                                                      function_name, region=region)
            if error is not None and not result.done:
                raise error
            return result.finish()

        remaining = max_retries
        while True:
            try:
                with _redact.payload_secrets(payload):  # out of botocore's DEBUG logs
                    return await retry_throttled(send, retry or self.retry, sleep=self.sleep,
                                                 rng=self.rng)
            except RemotionError as exc:
                if (remaining > 0
                        and not isinstance(exc, (AwsError, StartOutcomeUnknownError,
                                                 ConcurrencyLimitError))
                        and is_retryable_stream_error(str(exc))):
                    remaining -= 1
                    continue
                raise
