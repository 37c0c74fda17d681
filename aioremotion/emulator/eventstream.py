"""Encoder for the AWS binary event-stream framing.

``application/vnd.amazon.eventstream`` is the framing AWS uses for streamed
responses such as Lambda's ``InvokeWithResponseStream``.  Every message is::

    +----------------------+----------------------+----------------------+
    | total length (u32BE) | headers length (u32) | prelude CRC32 (u32)  |   prelude
    +----------------------+----------------------+----------------------+
    | headers ...                                                        |
    +--------------------------------------------------------------------+
    | payload ...                                                        |
    +--------------------------------------------------------------------+
    | message CRC32 (u32BE), over every preceding byte of the message    |
    +--------------------------------------------------------------------+

Each header is ``name length (u8) | name (UTF-8) | value type (u8) | value``.
String (type 7) and byte-array (type 6) values carry a u16 big-endian length
prefix.  Booleans are encoded in the type byte alone (0 = true, 1 = false) and
integers as int32 (type 4) or, when they do not fit, int64 (type 5).

Only encoding is implemented here: the test servers produce event streams,
and tests decode them with botocore's own decoder.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from typing import Final

__all__ = [
    "CONTENT_TYPE",
    "MAX_HEADERS_LENGTH",
    "MAX_HEADER_VALUE_LENGTH",
    "MAX_PAYLOAD_LENGTH",
    "HeaderValue",
    "encode_error_event",
    "encode_event",
    "encode_exception_event",
    "encode_headers",
    "encode_invoke_complete",
    "encode_message",
    "encode_payload_chunk",
]

CONTENT_TYPE: Final = "application/vnd.amazon.eventstream"
"""Media type of an event-stream HTTP body."""

MAX_HEADERS_LENGTH: Final = 128 * 1024
"""Largest encoded header block allowed in one message (128 KiB)."""

MAX_PAYLOAD_LENGTH: Final = 16 * 1024 * 1024
"""Largest payload this encoder puts into one message (16 MiB)."""

MAX_HEADER_VALUE_LENGTH: Final = 32767
"""Largest string / byte-array header value, in bytes."""

_PRELUDE = struct.Struct(">II")
_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")

_TYPE_TRUE: Final = 0
_TYPE_FALSE: Final = 1
_TYPE_INT32: Final = 4
_TYPE_INT64: Final = 5
_TYPE_BYTES: Final = 6
_TYPE_STRING: Final = 7

_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1

HeaderValue = str | bytes | bool | int
"""Header value types the encoder supports."""


def _encode_header_value(name: str, value: HeaderValue) -> bytes:
    """Encode the type byte and value of one header."""
    # bool is a subclass of int, so it must be tested first.
    if isinstance(value, bool):
        return bytes((_TYPE_TRUE if value else _TYPE_FALSE,))
    if isinstance(value, int):
        if _INT32_MIN <= value <= _INT32_MAX:
            return bytes((_TYPE_INT32,)) + _I32.pack(value)
        if _INT64_MIN <= value <= _INT64_MAX:
            return bytes((_TYPE_INT64,)) + _I64.pack(value)
        raise ValueError(f"header {name!r}: integer {value} does not fit in int64")
    if isinstance(value, str):
        type_byte, raw = _TYPE_STRING, value.encode("utf-8")
    elif isinstance(value, bytes | bytearray | memoryview):
        type_byte, raw = _TYPE_BYTES, bytes(value)
    else:
        raise TypeError(f"header {name!r}: unsupported value type {type(value).__name__}")
    if len(raw) > MAX_HEADER_VALUE_LENGTH:
        raise ValueError(
            f"header {name!r}: value is {len(raw)} bytes, the maximum is {MAX_HEADER_VALUE_LENGTH}"
        )
    return bytes((type_byte,)) + _U16.pack(len(raw)) + raw


def encode_headers(headers: Mapping[str, HeaderValue]) -> bytes:
    """Encode an ordered mapping of headers into an event-stream header block.

    Raises:
        ValueError: a name is empty or longer than 255 UTF-8 bytes, a value is
            too long, or the whole block exceeds :data:`MAX_HEADERS_LENGTH`.
        TypeError: a value has an unsupported type.
    """
    parts: list[bytes] = []
    for name, value in headers.items():
        raw_name = name.encode("utf-8")
        if not 0 < len(raw_name) <= 255:
            raise ValueError(f"header name {name!r} must be 1..255 UTF-8 bytes")
        parts.append(bytes((len(raw_name),)))
        parts.append(raw_name)
        parts.append(_encode_header_value(name, value))
    block = b"".join(parts)
    if len(block) > MAX_HEADERS_LENGTH:
        raise ValueError(f"header block is {len(block)} bytes, the maximum is {MAX_HEADERS_LENGTH}")
    return block


def encode_message(headers: Mapping[str, HeaderValue], payload: bytes = b"") -> bytes:
    """Encode one complete event-stream message (prelude, headers, payload, CRC).

    Raises:
        ValueError: the payload exceeds :data:`MAX_PAYLOAD_LENGTH` or the
            headers are invalid (see :func:`encode_headers`).
    """
    if len(payload) > MAX_PAYLOAD_LENGTH:
        raise ValueError(f"payload is {len(payload)} bytes, the maximum is {MAX_PAYLOAD_LENGTH}")
    header_block = encode_headers(headers)
    total_length = _PRELUDE.size + _U32.size + len(header_block) + len(payload)
    total_length += _U32.size  # trailing message CRC
    prelude = _PRELUDE.pack(total_length, len(header_block))
    prelude += _U32.pack(zlib.crc32(prelude))
    crc = zlib.crc32(payload, zlib.crc32(header_block, zlib.crc32(prelude)))
    return b"".join((prelude, header_block, payload, _U32.pack(crc)))


def encode_event(event_type: str, payload: bytes, content_type: str) -> bytes:
    """Encode an ``event`` message with the given ``:event-type``."""
    return encode_message(
        {
            ":event-type": event_type,
            ":content-type": content_type,
            ":message-type": "event",
        },
        payload,
    )


def encode_payload_chunk(payload: bytes) -> bytes:
    """Encode a Lambda ``PayloadChunk`` event carrying raw response bytes."""
    return encode_event("PayloadChunk", payload, "application/octet-stream")


def encode_invoke_complete(
    *,
    error_code: str | None = None,
    error_details: str | None = None,
    log_result: str | None = None,
) -> bytes:
    """Encode the ``InvokeComplete`` event that ends a Lambda response stream.

    The JSON payload holds ``ErrorCode``, ``ErrorDetails`` and ``LogResult``;
    arguments left as ``None`` are omitted, so a successful invocation
    produces ``{}``.  ``log_result`` must already be base64-encoded, as Lambda
    sends it.
    """
    body: dict[str, str] = {}
    if error_code is not None:
        body["ErrorCode"] = error_code
    if error_details is not None:
        body["ErrorDetails"] = error_details
    if log_result is not None:
        body["LogResult"] = log_result
    payload = json.dumps(body, separators=(",", ":")).encode("utf-8")
    return encode_event("InvokeComplete", payload, "application/json")


def encode_exception_event(exception_type: str, message: str) -> bytes:
    """Encode an ``exception`` message (a modeled error inside the stream).

    botocore raises ``EventStreamError`` for it; the error code is
    ``exception_type`` when the service's stream shape models that exception
    (Lambda's models none, so an ``error`` message suits it better).
    """
    payload = json.dumps({"message": message}, separators=(",", ":")).encode()
    return encode_message(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        payload,
    )


def encode_error_event(error_code: str, error_message: str) -> bytes:
    """Encode an ``error`` message (an unmodeled error inside the stream).

    botocore surfaces it as ``EventStreamError`` whose code is ``error_code``.
    """
    return encode_message(
        {
            ":error-code": error_code,
            ":error-message": error_message,
            ":message-type": "error",
        }
    )
