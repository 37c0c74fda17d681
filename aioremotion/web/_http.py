"""HTTP plumbing of the web backend: reading bodies within limits, the template's reply
envelopes, and quoting user input in error messages without echoing it whole."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from ..events import Done, Failed, Progress
from ..protocol.nesting import MAX_JSON_DEPTH, JsonTooDeepError, parse_json

__all__ = ["ApiError", "clip", "echo", "error_response", "json_type", "read_body",
           "read_json_object", "success_response", "template_progress"]


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
