"""Loopback emulation of the AWS Lambda invoke HTTP API.

:class:`LambdaApiServer` is an aiohttp server bound to ``127.0.0.1`` that
speaks enough of the Lambda REST API for botocore / aiobotocore clients:

* ``POST /2015-03-31/functions/{name}/invocations`` (``Invoke``) with the
  ``X-Amz-Invocation-Type`` header ``RequestResponse`` (default), ``Event``
  or ``DryRun``;
* ``POST /2021-11-15/functions/{name}/response-streaming-invocations``
  (``InvokeWithResponseStream``), answered with an event stream of
  ``PayloadChunk`` events followed by ``InvokeComplete``.

What a function does is delegated to a
:class:`~aioremotion.emulator.backend.LambdaBackend` (see that module for the interface,
its results and its errors): the emulator's Remotion functions, or in tests
:class:`~aioremotion.testing.scripted_lambda.ScriptedLambdaBackend`, whose replies are
queued per Remotion routine.

Every request that reaches an invoke route is recorded as a
:class:`~aioremotion.emulator.backend.LambdaInvocation` in
:attr:`LambdaApiServer.invocations`.
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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Final

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from ._loopback import AsyncLoopbackServer
from .backend import (
    AbortConnection,
    ApiName,
    FunctionError,
    LambdaApiError,
    LambdaBackend,
    LambdaInvocation,
    StreamResult,
    iterate_chunks,
)
from .eventstream import CONTENT_TYPE as EVENTSTREAM_CONTENT_TYPE
from .eventstream import (
    MAX_PAYLOAD_LENGTH,
    encode_invoke_complete,
    encode_payload_chunk,
)

__all__ = [
    "INVOKE_PATH",
    "STREAM_PATH",
    "LambdaApiServer",
]

logger = logging.getLogger(__name__)

INVOKE_PATH: Final = "/2015-03-31/functions/{name}/invocations"
STREAM_PATH: Final = "/2021-11-15/functions/{name}/response-streaming-invocations"

INVOCATION_TYPES: Final = ("RequestResponse", "Event", "DryRun")


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

    async def wait_idle(self) -> None:
        """Wait until nothing is going on: no client connection open, no request being
        handled, no ``Event`` invocation running.

        aiohttp counts a connection until the handling of its last request has ended, so
        once a client is gone (its process killed, say) this returns when everything it
        sent has been handled.  A live client's idle keep-alive connections count too:
        close the client first.
        """
        while True:
            server = self._runner.server if self._runner is not None else None
            connections = server.connections if server is not None else []
            if not (connections or self._in_flight or self._background):
                return
            await asyncio.sleep(0.005)

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
                result = StreamResult(iterate_chunks(()))
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


