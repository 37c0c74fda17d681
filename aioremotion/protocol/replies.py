"""Reading what a Remotion Lambda function answers (docs/PROTOCOL.md sections 3.4 and 7).

Pure code: bytes in, dicts or exceptions out. No I/O and no event loop, so the transport
layer, the emulator and the tests all share it.

- :func:`parse_invoke_reply` reads the payload of a ``RequestResponse`` Invoke.
- :class:`StreamMessageParser` splits a still's response stream into framed messages,
  :func:`encode_stream_message` writes them (for the emulator).
- :class:`StillStreamResult` / :func:`interpret_still_stream` turn those messages into the
  still result, :func:`stream_error_from_invoke_complete` turns an ``InvokeComplete`` error
  into an exception, and :func:`is_retryable_stream_error` applies the JS client's retry rules.
- :func:`is_throttle_error` and :func:`concurrency_limit_message` deal with HTTP 429.

Example:
    >>> parse_invoke_reply(
    ...     b'{"type":"success","bucketName":"remotionlambda-useast1-abcdefghij",'
    ...     b'"renderId":"k1a2b3c4d5"}',
    ...     function_error=None, status_code=200, function_name="fn", routine="start",
    ... )["renderId"]
    'k1a2b3c4d5'
    >>> parser = StreamMessageParser()
    >>> [m.json() for m in parser.feed(b'remotion_buffer:3:25:0:{"renderId":"abcdefghij"}')]
    [{'renderId': 'abcdefghij'}]
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from ..errors import (
    FunctionInvocationError,
    InvalidReplyError,
    RemotionFunctionError,
    VersionMismatchError,
)
from .naming import cloudwatch_log_filter_url
from .nesting import MAX_JSON_DEPTH, JsonTooDeepError, parse_json

__all__ = [
    "BINARY_STREAM_MESSAGE_TYPES",
    "RATE_LIMIT_DOCS_URL",
    "STREAM_MAGIC",
    "STREAM_MESSAGE_TYPES",
    "STREAM_STALL_TIMEOUT_MS",
    "StillStreamResult",
    "StreamMessage",
    "StreamMessageParser",
    "concurrency_limit_message",
    "encode_stream_message",
    "interpret_still_stream",
    "is_retryable_stream_error",
    "is_throttle_error",
    "parse_invoke_reply",
    "parse_stream_messages",
    "stream_error_from_invoke_complete",
]

#: Every framed message of a response stream starts with these bytes.
STREAM_MAGIC: Final = b"remotion_buffer:"

#: Message type id → name (docs/PROTOCOL.md section 7.3).
STREAM_MESSAGE_TYPES: Final[dict[int, str]] = {
    1: "frames-rendered",
    2: "error-occurred",
    3: "render-id-determined",
    4: "video-chunk-rendered",
    5: "audio-chunk-rendered",
    6: "still-rendered",
    7: "chunk-complete",
    8: "lambda-invoked",
    9: "artifact-emitted",
}
_TYPE_IDS: Final[dict[str, int]] = {name: id_ for id_, name in STREAM_MESSAGE_TYPES.items()}

#: The message types whose body is raw bytes; all others carry UTF-8 JSON.
BINARY_STREAM_MESSAGE_TYPES: Final = frozenset({"video-chunk-rendered", "audio-chunk-rendered"})

#: The JS client gives up on a response stream whose headers take longer than this.
STREAM_STALL_TIMEOUT_MS: Final = 30_000

RATE_LIMIT_DOCS_URL: Final = "https://www.remotion.dev/docs/lambda/troubleshooting/rate-limit"

#: How many characters of an unreadable reply go into an error message.
_EXCERPT_CHARS: Final = 200
#: Header fields longer than this are not numbers a sane function writes.
_MAX_FIELD_DIGITS: Final = 20
#: Failed decode attempts may read this many times the reply's length (plus a minimum).
_SCAN_BUDGET_PASSES: Final = 8
_SCAN_BUDGET_MIN: Final = 10_000_000
#: Where an object may start: ``{`` then a key or ``}`` (JSON whitespace between).
_OBJECT_START_RE: Final = re.compile(r'\{[ \t\n\r]*["}]')
_FIRST_WINDOW: Final = 1024
#: A decode error this close to a window's end may be caused by the cut.
_CUT_MARGIN: Final = 8
#: The scan for an object gives up after this many failed attempts.
_MAX_FAILED_ATTEMPTS: Final = 10_000
_ZERO: Final = ord("0")
_NINE: Final = ord("9")
_COLON: Final = ord(":")


# ---------------------------------------------------------------- helpers


def _excerpt(text: str, limit: int = _EXCERPT_CHARS) -> str:
    return text[:limit]


def _logs_hint(function_name: str, region: str | None = None) -> str:
    if region:
        url = cloudwatch_log_filter_url(region, function_name, "")
        return f"See the function's CloudWatch logs: {url}"
    return f"See the function's CloudWatch logs (log group /aws/lambda/{function_name})."


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0]


def _mentions_version_mismatch(text: str) -> bool:
    """True for ``Version mismatch: …`` and for stacks like ``Error: Version mismatch: …``."""
    return "Version mismatch" in _first_line(text)


def _function_error(
    message: str, *, stack: str | None, function_name: str
) -> RemotionFunctionError:
    cls = VersionMismatchError if _mentions_version_mismatch(message) else RemotionFunctionError
    return cls(message, stack=stack, function_name=function_name)


def _trace_text(trace: Any) -> str | None:
    if isinstance(trace, list):
        return "\n".join(str(line) for line in trace)
    if isinstance(trace, str):
        return trace
    return None


def _unhandled_error(
    body: Any, raw: str, *, function_error: str, function_name: str, routine: str
) -> RemotionFunctionError | FunctionInvocationError:
    """The exception for a reply with ``FunctionError`` set, or with an ``errorMessage`` body."""
    if isinstance(body, dict) and "errorMessage" in body:
        error_message = str(body.get("errorMessage"))
        error_type = body.get("errorType")
        error_type = str(error_type) if error_type is not None else function_error
        if "Version mismatch" in error_message:
            return VersionMismatchError(
                error_message, stack=_trace_text(body.get("trace")), function_name=function_name
            )
        detail = f"{error_type}: {error_message}" if error_type else error_message
        return FunctionInvocationError(
            f"Lambda function {function_name} failed with an unhandled error during the "
            f"{routine} call: {detail}",
            error_type=error_type,
            function_name=function_name,
            details=body,
        )
    shown = _excerpt(raw) if raw.strip() else "(no error details in the reply)"
    return FunctionInvocationError(
        f"Lambda function {function_name} returned error {function_error} during the {routine} "
        f"call: {shown}. {_logs_hint(function_name)}",
        error_type=function_error,
        function_name=function_name,
        details=body if body is not None else raw,
    )


def _last_json_object(text: str) -> dict[str, Any] | None:
    """The last top-level JSON object in ``text`` (objects nested in it do not count).

    Every ``{`` that could start an object (and is not inside one already found) is tried
    with a real JSON decoder, so braces inside strings do not confuse it. Failed attempts
    are limited (in number, and in characters read to a few passes over the text) so that
    hostile input cannot take quadratic time; past the limit, the last object found so far
    is used.
    """
    decoder = json.JSONDecoder()
    last: dict[str, Any] | None = None
    budget = _SCAN_BUDGET_PASSES * len(text) + _SCAN_BUDGET_MIN
    attempts_left = _MAX_FAILED_ATTEMPTS
    match = _OBJECT_START_RE.search(text)
    while match is not None:
        pos = match.start()
        value, end, cost = _decode_object_at(decoder, text, pos)
        if value is not None:
            last = value
            match = _OBJECT_START_RE.search(text, end)
            continue
        budget -= cost
        attempts_left -= 1
        if budget < 0 or attempts_left <= 0:
            break
        match = _OBJECT_START_RE.search(text, pos + 1)
    return last


def _decode_object_at(
    decoder: json.JSONDecoder, text: str, pos: int
) -> tuple[dict[str, Any] | None, int, int]:
    """Decode the object starting at ``text[pos]``: ``(object or None, end, work done)``.

    The decoder runs on a growing window of the text rather than on all of it, because a
    ``JSONDecodeError`` costs time proportional to its position in the string it was given
    (it counts lines). A failure near the window's end, or in a string the window cut off,
    may be the cut's fault, so the window grows until the failure is real.
    """
    window = _FIRST_WINDOW
    cost = 0
    while True:
        chunk = text[pos : pos + window]
        whole = pos + window >= len(text)
        try:
            value, end = decoder.raw_decode(chunk)
        except json.JSONDecodeError as exc:
            cut_off = exc.pos >= len(chunk) - _CUT_MARGIN or exc.msg.startswith("Unterminated")
            if whole or not cut_off:
                return None, pos, cost + exc.pos + 1
            cost += len(chunk)
        except RecursionError:
            return None, pos, cost + len(chunk)
        else:
            return (value if isinstance(value, dict) else None), pos + end, cost
        window *= 4


def _loads(text: str) -> Any:
    """``json.loads`` that reports nesting deeper than a reply can hold (props at the
    limit, inside the reply's envelope) as invalid JSON too."""
    try:
        return parse_json(text, field="reply", limit=MAX_JSON_DEPTH + 8)
    except JsonTooDeepError as exc:
        raise json.JSONDecodeError(str(exc.problems[0][1]), text, 0) from None


def _check_reply_object(
    reply: dict[str, Any], *, function_name: str, routine: str
) -> dict[str, Any]:
    if reply.get("type") == "error":
        message = reply.get("message")
        if not isinstance(message, str) or not message:
            message = f"The function reported an error without a message: {json.dumps(reply)}"
        stack = reply.get("stack")
        raise _function_error(
            message, stack=stack if isinstance(stack, str) else None, function_name=function_name
        )
    if "errorMessage" in reply:
        raise _unhandled_error(
            reply,
            json.dumps(reply),
            function_error=str(reply.get("errorType") or "Error"),
            function_name=function_name,
            routine=routine,
        )
    return reply


# ---------------------------------------------------------------- RequestResponse replies


def parse_invoke_reply(
    payload: bytes,
    *,
    function_error: str | None,
    status_code: int,
    function_name: str,
    routine: str,
) -> dict[str, Any]:
    """Read the payload of a ``RequestResponse`` Invoke and return the reply object.

    ``function_error`` and ``status_code`` are the Invoke response's ``FunctionError`` and
    ``StatusCode``; ``routine`` is the payload type (``"start"``, ``"status"``, ``"info"``,
    ``"compositions"``, ``"still"``), used in messages.

    Raises:
        FunctionInvocationError: ``FunctionError`` was set, or the body is Lambda's
            ``{"errorType", "errorMessage", "trace"}`` error object.
        RemotionFunctionError: the body is ``{"type": "error", "message", "stack"}``.
        VersionMismatchError: either of the above, about a version mismatch.
        InvalidReplyError: the payload is empty, not JSON, or not a JSON object.

    A body that is not one JSON document is read leniently: first as framed stream
    messages (a still's ``still-rendered`` or ``error-occurred``), then by taking the last
    top-level JSON object in the text.

    >>> parse_invoke_reply(b'{"type":"success","version":"4.0.527"}', function_error=None,
    ...                    status_code=200, function_name="fn", routine="info")
    {'type': 'success', 'version': '4.0.527'}
    >>> parse_invoke_reply(b'log line\\n{"type":"success","n":1}\\n', function_error=None,
    ...                    status_code=200, function_name="fn", routine="info")
    {'type': 'success', 'n': 1}
    >>> parse_invoke_reply(b'{"type":"error","message":"Boom","stack":"Error: Boom"}',
    ...                    function_error=None, status_code=200, function_name="fn",
    ...                    routine="start")
    Traceback (most recent call last):
    ...
    aioremotion.errors.RemotionFunctionError: Boom
    >>> parse_invoke_reply(b"", function_error=None, status_code=200, function_name="fn",
    ...                    routine="status")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    aioremotion.errors.InvalidReplyError: Lambda function returned no payload (status 200)...
    """
    text = payload.decode("utf-8", errors="replace")

    if function_error:
        try:
            body: Any = _loads(text) if text.strip() else None
        except json.JSONDecodeError:
            body = _last_json_object(text)
        raise _unhandled_error(
            body,
            text,
            function_error=function_error,
            function_name=function_name,
            routine=routine,
        )

    if not text.strip():
        raise InvalidReplyError(
            f"Lambda function returned no payload (status {status_code}). The function "
            f"{function_name} answered the {routine} call with an empty body; it may have "
            f"crashed, run out of memory or timed out before replying. {_logs_hint(function_name)}"
        )

    try:
        value: Any = _loads(text)
    except json.JSONDecodeError:
        value = _lenient_reply(payload, text, function_name=function_name, routine=routine)

    if not isinstance(value, dict):
        raise InvalidReplyError(
            f"Lambda function {function_name} answered the {routine} call with JSON that is "
            f"not an object: {_excerpt(text)}"
        )
    return _check_reply_object(value, function_name=function_name, routine=routine)


def _lenient_reply(payload: bytes, text: str, *, function_name: str, routine: str) -> Any:
    """Salvage a reply that is not one JSON document (raises if nothing usable is found)."""
    if STREAM_MAGIC in payload:
        try:
            # A cut-off tail does not spoil the complete messages before it.
            messages = StreamMessageParser().feed(payload)
        except InvalidReplyError:
            messages = []
        if messages:
            return interpret_still_stream(messages, function_name=function_name)
    found = _last_json_object(text)
    if found is not None:
        return found
    more = f" ({len(text)} characters in all)" if len(text) > _EXCERPT_CHARS else ""
    raise InvalidReplyError(
        f'Invalid JSON: "{_excerpt(text)}"{more}. Lambda function {function_name} answered '
        f"the {routine} call with something that is not JSON. {_logs_hint(function_name)}"
    )


# ---------------------------------------------------------------- response-stream framing


@dataclass(frozen=True)
class StreamMessage:
    """One framed message of a response stream.

    >>> message = StreamMessage(3, "render-id-determined", 0, b'{"renderId":"abc"}')
    >>> message.is_json, message.json()
    (True, {'renderId': 'abc'})
    """

    type_id: int
    type: str
    status: int
    body: bytes

    @property
    def is_json(self) -> bool:
        """Whether the body is JSON (all types but the video and audio chunks)."""
        return self.type not in BINARY_STREAM_MESSAGE_TYPES

    def json(self) -> Any:
        """The body parsed as JSON; :class:`InvalidReplyError` for binary types or bad JSON."""
        if not self.is_json:
            raise InvalidReplyError(f"A {self.type} message has a binary body, not JSON")
        text = self.body.decode("utf-8", errors="replace")
        try:
            return _loads(text)
        except json.JSONDecodeError:
            raise InvalidReplyError(
                f'Invalid JSON in a {self.type} message: "{_excerpt(text)}"'
            ) from None


def encode_stream_message(type: str, body: bytes | dict[str, Any], *, status: int = 0) -> bytes:
    """Frame one message: ``remotion_buffer:<id>:<byte length>:<status>:<body>``.

    A dict body is written as compact JSON (like ``JSON.stringify``).

    >>> encode_stream_message("render-id-determined", {"renderId": "abcdefghij"})
    b'remotion_buffer:3:25:0:{"renderId":"abcdefghij"}'
    """
    type_id = _TYPE_IDS.get(type)
    if type_id is None:
        raise ValueError(f"Unknown stream message type {type!r}; use one of {', '.join(_TYPE_IDS)}")
    if isinstance(body, dict):
        if type in BINARY_STREAM_MESSAGE_TYPES:
            raise ValueError(f"A {type} message takes a bytes body, not a dict")
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    else:
        data = bytes(body)
    if status < 0:
        raise ValueError(f"status must not be negative; got {status}")
    return b"%s%d:%d:%d:%s" % (STREAM_MAGIC, type_id, len(data), status, data)


@dataclass(frozen=True)
class _Header:
    type_id: int
    length: int
    status: int


class StreamMessageParser:
    """Incremental parser of the framed messages of a response stream.

    Feed it the byte chunks as they arrive; each :meth:`feed` returns the messages that
    became complete. A message may be split at any byte, a chunk may hold several
    messages, and bytes before a magic (garbage) are skipped and counted in
    :attr:`skipped_bytes`. The body length in the header always wins: a body may contain
    the magic itself. An unknown type id or a malformed header raises
    :class:`InvalidReplyError`.

    >>> parser = StreamMessageParser()
    >>> parser.feed(b'remotion_buffer:3:25:0:{"renderId"')
    []
    >>> parser.has_partial_message
    True
    >>> [m.type for m in parser.feed(b':"abcdefghij"}')]
    ['render-id-determined']
    >>> parser.close()
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._header: _Header | None = None
        self._closed = False
        self._failed: InvalidReplyError | None = None
        self.skipped_bytes = 0
        """How many bytes outside any message were skipped so far."""

    @property
    def has_partial_message(self) -> bool:
        """Whether a message has begun (its magic was seen) but is not complete yet."""
        return self._header is not None or self._buffer.startswith(STREAM_MAGIC)

    @property
    def buffered_bytes(self) -> int:
        """How many bytes are held back waiting for more data."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[StreamMessage]:
        """Add a chunk of the stream; return every message it completed, in order."""
        if self._closed:
            raise RuntimeError("StreamMessageParser.feed() called after close()")
        if self._failed is not None:
            raise self._failed
        self._buffer += data
        messages: list[StreamMessage] = []
        try:
            while True:
                message = self._next_message()
                if message is None:
                    return messages
                messages.append(message)
        except InvalidReplyError as exc:
            self._failed = exc
            raise

    def close(self) -> None:
        """End the stream: raise :class:`InvalidReplyError` if a message was cut off.

        Trailing bytes that never formed a magic count as skipped garbage.
        """
        if self._closed:
            return
        self._closed = True
        if self._failed is not None:
            raise self._failed
        if self._header is not None:
            header = self._header
            raise InvalidReplyError(
                f"The response stream ended inside a "
                f"{STREAM_MESSAGE_TYPES[header.type_id]} message: got {len(self._buffer)} of "
                f"{header.length} body bytes"
            )
        if self._buffer.startswith(STREAM_MAGIC):
            raise InvalidReplyError(
                f"The response stream ended inside a message header: {bytes(self._buffer[:60])!r}"
            )
        self.skipped_bytes += len(self._buffer)
        self._buffer.clear()

    # -- internals

    def _next_message(self) -> StreamMessage | None:
        if self._header is None:
            self._header = self._read_header()
            if self._header is None:
                return None
        header = self._header
        if len(self._buffer) < header.length:
            return None
        body = bytes(self._buffer[: header.length])
        del self._buffer[: header.length]
        self._header = None
        return StreamMessage(
            header.type_id, STREAM_MESSAGE_TYPES[header.type_id], header.status, body
        )

    def _read_header(self) -> _Header | None:
        """Consume a complete header from the buffer, or return None to wait for more."""
        buffer = self._buffer
        start = buffer.find(STREAM_MAGIC)
        if start == -1:
            # Keep only what could be the beginning of a magic split across chunks.
            keep = len(STREAM_MAGIC) - 1
            drop = max(0, len(buffer) - keep)
            if drop:
                self.skipped_bytes += drop
                del buffer[:drop]
            return None
        if start:
            self.skipped_bytes += start
            del buffer[:start]
        fields: list[int] = []
        pos = len(STREAM_MAGIC)
        while len(fields) < 3:
            end = pos
            while end < len(buffer) and _ZERO <= buffer[end] <= _NINE:
                end += 1
            if end - pos > _MAX_FIELD_DIGITS:
                raise InvalidReplyError(
                    f"Malformed response-stream header: a field is longer than "
                    f"{_MAX_FIELD_DIGITS} digits: {bytes(buffer[:60])!r}"
                )
            if end == len(buffer):
                return None  # the field is not complete yet
            if buffer[end] != _COLON or end == pos:
                raise InvalidReplyError(
                    f"Malformed response-stream header: expected a number and ':' after "
                    f"{bytes(buffer[:end])!r}, got {bytes(buffer[end : end + 20])!r}"
                )
            value = int(buffer[pos:end])
            if not fields and value not in STREAM_MESSAGE_TYPES:
                raise InvalidReplyError(
                    f"Unknown response-stream message type id {value} (known: 1-9); "
                    "the function may be a newer Remotion version than aioremotion understands"
                )
            fields.append(value)
            pos = end + 1
        del buffer[:pos]
        return _Header(type_id=fields[0], length=fields[1], status=fields[2])


def parse_stream_messages(data: bytes) -> list[StreamMessage]:
    """Parse a whole, finished stream (raises :class:`InvalidReplyError` if cut off).

    >>> [m.type for m in parse_stream_messages(
    ...     encode_stream_message("lambda-invoked", {"attempt": 1})
    ...     + encode_stream_message("video-chunk-rendered", b"\\x00remotion_buffer:"))]
    ['lambda-invoked', 'video-chunk-rendered']
    """
    parser = StreamMessageParser()
    messages = parser.feed(data)
    parser.close()
    return messages


# ---------------------------------------------------------------- still streams


class StillStreamResult:
    """Collects the messages of a still render's stream into its result.

    Call :meth:`add` for each message as it arrives (it raises at once on
    ``error-occurred``), then :meth:`finish` once the stream has ended.
    :attr:`render_id` is known as soon as ``render-id-determined`` arrived.

    >>> result = StillStreamResult(function_name="fn")
    >>> result.add(StreamMessage(3, "render-id-determined", 0, b'{"renderId":"abc"}'))
    >>> result.render_id, result.done
    ('abc', False)
    >>> result.add(StreamMessage(6, "still-rendered", 0, b'{"type":"success","size":3}'))
    >>> result.finish()
    {'type': 'success', 'size': 3}
    """

    def __init__(self, *, function_name: str) -> None:
        self.function_name = function_name
        self.render_id: str | None = None
        self.result: dict[str, Any] | None = None
        self.seen_types: list[str] = []

    @property
    def done(self) -> bool:
        """Whether ``still-rendered`` arrived (the rest of the stream can be ignored)."""
        return self.result is not None

    def add(self, message: StreamMessage) -> None:
        """Take one message into account; raise if it reports the render's failure."""
        self.seen_types.append(message.type)
        if message.type == "render-id-determined":
            body = message.json()
            if isinstance(body, dict) and isinstance(body.get("renderId"), str):
                self.render_id = body["renderId"]
        elif message.type == "error-occurred":
            raise self._error(message)
        elif message.type == "still-rendered" and self.result is None:
            body = message.json()
            if not isinstance(body, dict):
                raise InvalidReplyError(
                    f"Lambda function {self.function_name} streamed a still-rendered message "
                    f"that is not a JSON object: {_excerpt(message.body.decode(errors='replace'))}"
                )
            self.result = body
            if self.render_id is None and isinstance(body.get("renderId"), str):
                self.render_id = body["renderId"]

    def finish(self) -> dict[str, Any]:
        """The still result; :class:`InvalidReplyError` if ``still-rendered`` never came."""
        if self.result is None:
            seen = ", ".join(self.seen_types) or "no messages"
            render = f" (render {self.render_id})" if self.render_id else ""
            raise InvalidReplyError(
                f"Expected response to be streamed, but the stream of Lambda function "
                f"{self.function_name}{render} ended without a still-rendered message "
                f"(got: {seen}). The function may have timed out or crashed. "
                f"{_logs_hint(self.function_name)}"
            )
        return _check_reply_object(self.result, function_name=self.function_name, routine="still")

    def _error(self, message: StreamMessage) -> RemotionFunctionError:
        text = message.body.decode("utf-8", errors="replace")
        try:
            body: Any = _loads(text)
        except json.JSONDecodeError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, str) or not error:
            error = text or "The function reported an error without details"
        return _function_error(error, stack=error, function_name=self.function_name)


def interpret_still_stream(
    messages: Iterable[StreamMessage], *, function_name: str
) -> dict[str, Any]:
    """The still result from a finished stream's messages (see :class:`StillStreamResult`).

    >>> messages = parse_stream_messages(
    ...     encode_stream_message("render-id-determined", {"renderId": "abc"})
    ...     + encode_stream_message("error-occurred", {"error": "Error: Version mismatch: …"}))
    >>> interpret_still_stream(messages, function_name="fn")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    aioremotion.errors.VersionMismatchError: The function fn runs another Remotion version ...
    """
    result = StillStreamResult(function_name=function_name)
    for message in messages:
        result.add(message)
        if result.done:
            break
    return result.finish()


def stream_error_from_invoke_complete(
    error_code: str | None,
    error_details: str | None,
    function_name: str,
    *,
    region: str | None = None,
) -> Exception | None:
    """The exception for an ``InvokeComplete`` event, or None when it reports no error.

    Pass ``region`` to get a console link to the function's logs in the message.

    >>> stream_error_from_invoke_complete(None, None, "fn") is None
    True
    >>> print(stream_error_from_invoke_complete("Runtime.TruncatedResponse", "too big", "fn"))
    ... # doctest: +ELLIPSIS
    Lambda function fn failed with error code Runtime.TruncatedResponse: too big. See ...
    """
    if not error_code:
        return None
    details = error_details or "(no details)"
    logs = _logs_hint(function_name, region)
    if error_code == "Unhandled":
        if "Version mismatch" in details:
            return VersionMismatchError(details, function_name=function_name)
        message = f"Lambda function {function_name} failed with an unhandled error: {details}"
    else:
        message = f"Lambda function {function_name} failed with error code {error_code}: {details}"
    return FunctionInvocationError(
        f"{message}. {logs}",
        error_type=error_code,
        function_name=function_name,
        details=error_details,
    )


def is_retryable_stream_error(message: str) -> bool:
    """Whether the JS client retries a streaming still call that failed with ``message``.

    Retried: a stream stall (``AWS did not invoke Lambda in 30000ms``),
    ``Runtime.TruncatedResponse``, anything containing ``aborted``, and the legacy
    ``Cannot parse Lambda response as JSON``. Throttling is never retried here.

    >>> is_retryable_stream_error("AWS did not invoke Lambda in 30000ms")
    True
    >>> is_retryable_stream_error("Error: Version mismatch: …")
    False
    """
    if is_throttle_error(None, message):
        return False
    return (
        "AWS did not invoke Lambda in" in message
        or "Runtime.TruncatedResponse" in message
        or "aborted" in message
        or "Cannot parse Lambda response as JSON" in message
    )


# ---------------------------------------------------------------- throttling

_THROTTLE_MARKERS: Final = (
    "toomanyrequestsexception",
    "concurrentinvocationlimitexceeded",
    "rate exceeded",
)


def is_throttle_error(code: str | None, message: str | None) -> bool:
    """Whether an AWS error is Lambda throttling (HTTP 429): the function never ran.

    Looks (case-insensitively) for ``TooManyRequestsException``,
    ``ConcurrentInvocationLimitExceeded`` and ``Rate Exceeded`` in the code and the message.

    >>> is_throttle_error("TooManyRequestsException", "Rate Exceeded.")
    True
    >>> is_throttle_error("ResourceNotFoundException", "Function not found")
    False
    """
    for text in (code, message):
        if text:
            lowered = text.lower()
            if any(marker in lowered for marker in _THROTTLE_MARKERS):
                return True
    return False


def concurrency_limit_message(original: str, attempts: int) -> str:
    """Explain a throttled invocation after ``attempts`` tries.

    >>> print(concurrency_limit_message("Rate Exceeded.", 3))  # doctest: +NORMALIZE_WHITESPACE
    AWS Concurrency limit reached (Original Error: Rate Exceeded.). See
    https://www.remotion.dev/docs/lambda/troubleshooting/rate-limit for tips to fix this.
    aioremotion tried 3 times and AWS throttled every attempt, so the function never ran
    and nothing was started. Start fewer renders at a time
    (Batch(max_concurrent_starts=...)), let aioremotion retry longer
    (throttle_retry=ThrottleRetry(attempts=...)), or ask AWS for a higher Lambda
    concurrency limit.
    """
    tries = "once" if attempts == 1 else f"{attempts} times"
    every = "the attempt" if attempts == 1 else "every attempt"
    return (
        f"AWS Concurrency limit reached (Original Error: {original}). See "
        f"{RATE_LIMIT_DOCS_URL} for tips to fix this. aioremotion tried {tries} and AWS "
        f"throttled {every}, so the function never ran and nothing was started. Start fewer "
        "renders at a time (Batch(max_concurrent_starts=...)), let aioremotion retry longer "
        "(throttle_retry=ThrottleRetry(attempts=...)), or ask AWS for a higher Lambda "
        "concurrency limit."
    )
