"""HTTP plumbing of the web backend: reading bodies within limits, the template's reply
envelopes, event streams (NDJSON and Server-Sent Events), and quoting user input in error
messages without echoing it whole."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Literal

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ..events import Done, Failed, Progress
from ..handles import RenderHandle
from ..protocol.nesting import MAX_JSON_DEPTH, JsonTooDeepError, parse_json

__all__ = ["NDJSON", "SSE", "ApiError", "EventStreamResponse", "StreamFormat", "clip", "echo",
           "error_response", "event_frame", "json_type", "read_body", "read_json_object",
           "stream_format", "success_response", "template_events", "template_progress"]

logger = logging.getLogger("aioremotion.web")


#: The most characters of a client's input an error message repeats.
ECHO_LIMIT = 64
#: The most characters of an error reply's message.
MESSAGE_LIMIT = 1000


def clip(text: str, limit: int = ECHO_LIMIT, *, quote: bool = False) -> str:
    """``text`` cut to ``limit`` characters (saying how long it was), ``repr``-quoted with
    ``quote``: how error messages repeat what a client sent.

    >>> clip("abc", quote=True)
    "'abc'"
    >>> clip("x" * 100, 4)
    'xxxx… (100 characters)'
    >>> clip("x" * 100, 4, quote=True)
    "'xxxx'… (100 characters)"
    """
    cut = len(text) > limit
    shown = text[:limit] if cut else text
    if quote:
        shown = repr(shown)
    return f"{shown}… ({len(text)} characters)" if cut else shown


def echo(value: str) -> str:
    """A client's ``value`` quoted for an error message: ``clip(value, quote=True)``."""
    return clip(value, quote=True)


class ApiError(Exception):
    """An error answered as ``{"type":"error","message":…}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def error_response(status: int, message: str) -> JSONResponse:
    """The template's error envelope (the message cut to ``MESSAGE_LIMIT`` characters)."""
    return JSONResponse({"type": "error", "message": clip(message, MESSAGE_LIMIT)},
                        status_code=status)


def success_response(data: Any) -> JSONResponse:
    """The template's success envelope."""
    return JSONResponse({"type": "success", "data": data})


async def read_body(request: Request, limit: int) -> bytes:
    """The raw request body, refused with 413 as soon as it exceeds ``limit`` bytes."""
    too_large = ApiError(413, f"The request body is larger than {limit} bytes")
    length = request.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise ApiError(400, f"Invalid Content-Length header: {echo(length)}") from None
        if declared > limit:
            raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                            and media.endswith("+json"))


#: The deepest request body accepted: the body object itself, then ``inputProps`` nested
#: at most :data:`~aioremotion.protocol.nesting.MAX_JSON_DEPTH` levels.
BODY_MAX_DEPTH = MAX_JSON_DEPTH + 1


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    """The request body as a JSON object: 415 when not sent as JSON, 413 when too large,
    400 when not a JSON object or nested deeper than :data:`BODY_MAX_DEPTH` levels."""
    content_type = request.headers.get("content-type", "")
    if not _is_json(content_type):
        raise ApiError(
            415, "Send the request body as JSON with Content-Type: application/json; got "
                 f"{clip(content_type) or 'no Content-Type'}"
        )
    body = await read_body(request, limit)
    try:
        data = parse_json(body, field="request body", limit=BODY_MAX_DEPTH)
    except JsonTooDeepError as exc:
        raise ApiError(400, f"The request body is nested {exc.depth} levels deep; at most "
                            f"{exc.limit} are supported (inputProps may nest at most "
                            f"{MAX_JSON_DEPTH} levels)") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"The request body must be a JSON object; got "
                            f"{json_type(data)}")
    return data


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def template_progress(event: Progress | Done | Failed, *, detailed: bool = False) -> dict[str, Any]:
    """The progress route's ``data``: the template's three shapes.

    With ``detailed``, the event's camelCase extras follow the template's keys.

    >>> template_progress(Progress(progress=0.5, frames_rendered=10))
    {'type': 'progress', 'progress': 0.5}
    >>> template_progress(Done(url="https://x/out.mp4", size=3))
    {'type': 'done', 'url': 'https://x/out.mp4', 'size': 3}
    >>> template_progress(Failed(message="boom"))
    {'type': 'error', 'message': 'boom'}
    """
    if isinstance(event, Progress):
        shape: dict[str, Any] = {"type": "progress", "progress": event.progress}
    elif isinstance(event, Done):
        shape = {"type": "done", "url": event.url, "size": event.size}
    else:
        shape = {"type": "error", "message": event.message}
    if detailed:
        return {**shape, **event.model_dump(mode="json", exclude_none=True)}
    return shape


# ---------------------------------------------------------------- event streams

#: The media type of newline-delimited JSON (template-react-router's render stream).
NDJSON: Literal["application/x-ndjson"] = "application/x-ndjson"
#: The media type of Server-Sent Events (``EventSource``).
SSE: Literal["text/event-stream"] = "text/event-stream"
StreamFormat = Literal["application/x-ndjson", "text/event-stream"]


def stream_format(accept: str | None) -> StreamFormat | None:
    """Which event stream an ``Accept`` header asks for: NDJSON, SSE, or ``None`` (a plain
    JSON answer). NDJSON wins when both are accepted; ``q=0`` refuses a type.

    >>> stream_format("application/x-ndjson")
    'application/x-ndjson'
    >>> stream_format("text/event-stream, application/json;q=0.5")
    'text/event-stream'
    >>> stream_format("*/*") is None, stream_format(None) is None
    (True, True)
    >>> stream_format("application/x-ndjson;q=0, text/event-stream")
    'text/event-stream'
    """
    wanted: set[str] = set()
    for item in (accept or "").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        refused = any(p.replace(" ", "").lower() in ("q=0", "q=0.0", "q=0.00", "q=0.000")
                      for p in params)
        if media and not refused:
            wanted.add(media.lower())
    if NDJSON in wanted:
        return NDJSON
    if SSE in wanted:
        return SSE
    return None


def event_frame(shape: Mapping[str, Any], fmt: StreamFormat) -> bytes:
    """One event on the wire: a JSON line (NDJSON), or an SSE event named by its
    ``type`` whose ``data`` is the same JSON.

    >>> event_frame({"type": "progress", "progress": 0.5}, NDJSON)
    b'{"type":"progress","progress":0.5}\\n'
    >>> event_frame({"type": "progress", "progress": 0.5}, SSE)
    b'event: progress\\ndata: {"type":"progress","progress":0.5}\\n\\n'
    """
    data = json.dumps(shape, separators=(",", ":"), ensure_ascii=False)
    if fmt == NDJSON:
        return (data + "\n").encode()
    return f"event: {shape['type']}\ndata: {data}\n\n".encode()


class EventStreamResponse(Response):
    """A streamed answer of events that stops producing them the moment the client goes
    away: the body and a listener for ``http.disconnect`` run side by side and the first
    to end cancels the other, whatever the server's ASGI version (Starlette's
    StreamingResponse only notices a disconnect at the next write on ASGI 2.4 servers,
    which may be many seconds later). Never buffered by proxies (``X-Accel-Buffering``).

    Example::

        async def events():
            yield {"type": "progress", "progress": 0.5}
        return EventStreamResponse(events(), NDJSON)
    """

    def __init__(self, events: AsyncIterator[Mapping[str, Any]], fmt: StreamFormat) -> None:
        # not Response.__init__: it would declare a Content-Length of the (empty) body
        self.status_code = 200
        self.media_type = fmt
        self.background = None
        self.init_headers({"Cache-Control": "no-cache, no-transform",
                           "X-Accel-Buffering": "no"})
        self.events = events
        self.format: StreamFormat = fmt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def write() -> None:
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})
            try:
                async for shape in self.events:
                    await send({"type": "http.response.body",
                                "body": event_frame(shape, self.format), "more_body": True})
            finally:
                aclose = getattr(self.events, "aclose", None)
                if aclose is not None:
                    with anyio.CancelScope(shield=True):
                        await aclose()
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def listen() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        async with anyio.create_task_group() as tg:
            async def run(job: Any) -> None:
                with contextlib.suppress(OSError):  # the client went away mid-write
                    await job()
                tg.cancel_scope.cancel()

            tg.start_soon(run, write)
            tg.start_soon(run, listen)


async def template_events(render: RenderHandle,
                          events: AsyncIterator[Progress | Done | Failed], *,
                          detailed: bool = False) -> AsyncIterator[dict[str, Any]]:
    """A render's stream in template-react-router's shapes: ``started`` (render id and
    bucket), ``progress`` (never decreasing, whatever ``events`` say), then ``done`` or
    ``error``; a watch that raises (say, gives up) ends with an ``error`` line. Closes
    ``events`` when closed itself.

    Example::

        async for shape in template_events(handle, watch(remotion, handle)):
            print(json.dumps(shape))   # {"type":"started","renderId":…,"bucketName":…} …
    """
    yield {"type": "started", "renderId": render.render_id, "bucketName": render.bucket_name}
    shown = 0.0
    try:
        async for event in events:
            shape = template_progress(event, detailed=detailed)
            if isinstance(event, Progress):
                shown = max(shown, event.progress)
                shape["progress"] = shown
            yield shape
    except Exception as exc:  # the render may go on; this stream cannot tell
        logger.warning("Watching render %s for a stream failed: %s: %s",
                       render.render_id, type(exc).__name__, exc)
        yield {"type": "error", "message": clip(str(exc) or type(exc).__name__, MESSAGE_LIMIT)}
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


@functools.cache
def demo_page() -> str:
    """The demo page (``demo.html`` beside this module; the app fills in its settings)."""
    return (Path(__file__).with_name("demo.html")).read_text(encoding="utf-8")
